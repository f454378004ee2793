"""API users and their tokens, in the SQL database (``Settings.resolved_database_url``).

The tables belong to the API alone and are created when missing (:meth:`UserStore.create_tables`);
they sit next to the read model's tables without sharing its migrations.

* ``api_users`` — one row per person: id, display name, role and the unit whose authority they act
  with (grid, community, street, department, district or ``city``; none for a dispatcher or a
  resident).
* ``api_tokens`` — API tokens. A token reads ``gct_<token id>_<secret>``; only a salted HMAC-SHA256
  of the secret is stored (``hash = HMAC(salt, secret)``), so the token is shown once, when it is
  issued, and can never be read back. A revoked token stays listed with its revocation time.
* ``api_intakes`` — who opened which case through the API (a resident sees their own cases).
* ``api_intake_keys`` — the fingerprint of the request body each intake ``Idempotency-Key`` was
  first used with (a reused key with another body is refused). A table of its own, so databases
  created before it keep working: it is created when missing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    MetaData,
    RowMapping,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from events.base import Duty, Role, UnitRef
from events.times import as_utc
from workflows.domain.commands import Member
from workflows.domain.state import ROLE_UNIT

metadata = MetaData()
TS = DateTime(timezone=True)

users = Table(
    "api_users",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("unit_id", String(128)),
    Column("created_at", TS, nullable=False),
    Column("disabled_at", TS),
)

tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("user_id", String(128), ForeignKey("api_users.user_id"), nullable=False),
    Column("label", String(128)),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS),
    Index("ix_api_tokens_user", "user_id"),
)

intakes = Table(
    "api_intakes",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_api_intakes_user", "user_id"),
)

intake_keys = Table(
    "api_intake_keys",
    metadata,
    Column("scoped_key", String(300), primary_key=True),  # <person id>:<Idempotency-Key>
    Column("case_id", String(64), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
)

user_duties = Table(
    "api_user_duties",
    metadata,
    Column("user_id", String(128), ForeignKey("api_users.user_id"), primary_key=True),
    Column("duty", String(32), primary_key=True),  # a Duty: coordinator | reviewer
)

#: Roles whose members handle cases inside a unit and may hold its duties (分派, 审核签发).
DUTY_ROLES = frozenset(ROLE_UNIT) - {Role.VOLUNTEER}

TOKEN_RE = re.compile(r"^gct_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")
USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
UNIT_ROLES = {
    Role.GRID_WORKER: "grid id",
    Role.COMMUNITY: "community id",
    Role.STREET: "street id",
    Role.DEPARTMENT: "department id",
    Role.PROPERTY: "property company id",
    Role.VOLUNTEER: "volunteer team id",
    Role.SUPERVISOR: "district id or 'city'",
}


#: Rules a :class:`UserError` names (the API answers with them; the CLI prints the message).
USER_INVALID = "user.invalid"
USER_EXISTS = "user.exists"
USER_UNKNOWN = "user.unknown"
USER_DISABLED = "user.disabled"
TOKEN_UNKNOWN = "token.unknown"


class UserError(ValueError):
    """Bad input for a user or token; the message names the field and the rule.

    The message starts with the field (``unit: ...``, ``user_id: ...``); :attr:`rule` names the rule
    (:data:`USER_INVALID` unless a more precise one applies, e.g. ``registry.unknown_unit``).
    """

    def __init__(self, message: str, rule: str = USER_INVALID) -> None:
        super().__init__(message)
        self.rule = rule

    @property
    def field(self) -> str:
        """The field the message names (``user_id``, ``role``, ``unit``, ``name``, ``user``, ``token``)."""
        head, sep, _ = str(self).partition(": ")
        return head if sep and head.isidentifier() else "user"


@dataclass(frozen=True)
class User:
    """A person allowed to call the API."""

    user_id: str
    name: str
    role: Role
    unit_id: str | None
    created_at: datetime
    disabled_at: datetime | None = None


def member_of(user: User) -> Member:
    """``user`` as a command names a unit's member: their unit comes from their role and unit."""
    kind = ROLE_UNIT.get(user.role)  # other roles belong to no handling unit
    unit = UnitRef(kind=kind, id=user.unit_id) if kind is not None and user.unit_id else None
    return Member(person_id=user.user_id, unit=unit, name=user.name)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the secret)."""

    token_id: str
    user_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_secret(salt: str, secret: str) -> str:
    """The stored form of a token secret: HMAC-SHA256 keyed by the token's own salt."""
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


#: Whether the city registry has the unit a user of this role acts for: ``(role, unit_id) -> bool``.
#: Passed in by whoever holds the registry (``gridcase users add``), so this module needs none.
UnitChecker = Callable[[Role, str], bool]
UNKNOWN_UNIT = "registry.unknown_unit"


def check_user_fields(user_id: str, role: Role, unit_id: str | None, unit_exists: UnitChecker | None = None) -> None:
    """Raise :class:`UserError` when the user id or the role's unit is not acceptable.

    With ``unit_exists``, the unit must also resolve in the city registry (rule ``registry.unknown_unit``).
    """
    if not USER_ID_RE.match(user_id):
        raise UserError("user_id: 1-128 characters, letters, digits and _ . @ - (starting with a letter or digit)")
    if role == Role.SYSTEM:
        raise UserError("role: 'system' is reserved for the SLA clock")
    if role in UNIT_ROLES and not unit_id:
        raise UserError(f"unit: a {role.value} acts for a unit; give its {UNIT_ROLES[role]}")
    if role not in UNIT_ROLES and unit_id:
        raise UserError(f"unit: a {role.value} has no unit")
    if unit_id is not None and not (1 <= len(unit_id) <= 128):
        raise UserError("unit: 1-128 characters")
    if unit_exists is not None and unit_id is not None and not unit_exists(role, unit_id):
        raise UserError(
            f"unit: {unit_id!r} is not a {UNIT_ROLES[role]} of the city registry "
            f"(rule {UNKNOWN_UNIT}; see `gridcase city show`)",
            UNKNOWN_UNIT,
        )


def check_duties(role: Role, duties: Iterable[Duty | str]) -> tuple[Duty, ...]:
    """The duties named (sorted, once each), which a user of ``role`` may hold; raises
    :class:`UserError` naming ``duties`` for an unknown duty or a role that holds none."""
    wanted: set[Duty] = set()
    for d in duties:
        try:
            wanted.add(Duty(d))
        except ValueError:
            known = ", ".join(x.value for x in Duty)
            raise UserError(f"duties: unknown duty {d!r} (one of {known})", "user.duty") from None
    if wanted and role not in DUTY_ROLES:
        raise UserError(
            f"duties: a {role.value} holds no duty inside a unit (only members of a grid, street, "
            "department or property company do)",
            "user.duty",
        )
    return tuple(sorted(wanted))


class UserStore:
    """Users, tokens and intake records on one SQLAlchemy engine."""

    def __init__(self, engine: Engine, *, unit_exists: UnitChecker | None = None) -> None:
        """``unit_exists``, when given, checks a new user's unit against the city registry."""
        self.engine = engine
        self.unit_exists = unit_exists

    def create_tables(self) -> None:
        """Create the API's tables when they are missing (idempotent)."""
        metadata.create_all(self.engine, checkfirst=True)

    # --- users --------------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, role: Role, unit_id: str | None = None) -> User:
        """Create a user; raises :class:`UserError` when the id is taken or a field is wrong."""
        check_user_fields(user_id, role, unit_id, self.unit_exists)
        if not name or len(name) > 128:
            raise UserError("name: 1-128 characters")
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(users).values(user_id=user_id, name=name, role=role.value, unit_id=unit_id, created_at=now)
                )
        except IntegrityError:
            raise UserError(f"user_id: {user_id!r} already exists", USER_EXISTS) from None
        return User(user_id, name, role, unit_id, now)

    def ensure_user(self, user_id: str, name: str, role: Role, unit_id: str | None = None) -> User:
        """The user ``user_id``, created when missing (for scripts such as the demo); an existing user
        must have the same role and unit."""
        existing = self.get_user(user_id)
        if existing is None:
            try:
                return self.add_user(user_id, name, role, unit_id)
            except UserError:
                existing = self.get_user(user_id)  # created meanwhile by another process
                if existing is None:
                    raise
        if (existing.role, existing.unit_id) != (role, unit_id):
            raise UserError(f"user_id: {user_id!r} exists as {existing.role.value} {existing.unit_id or ''}".strip())
        return existing

    # --- duties inside a unit (分派, 审核签发) -------------------------------------------------------
    def set_duties(self, user_id: str, duties: Iterable[Duty | str]) -> tuple[Duty, ...]:
        """Designate ``user_id`` to exactly these duties of its unit (none: a plain member); raises
        :class:`UserError` naming ``duties`` for an unknown duty or a role that holds none."""
        user = self.get_user(user_id)
        if user is None:
            raise UserError(f"user: no user {user_id!r}", USER_UNKNOWN)
        wanted = check_duties(user.role, duties)
        with self.engine.begin() as conn:
            conn.execute(delete(user_duties).where(user_duties.c.user_id == user_id))
            for d in sorted(wanted):
                conn.execute(insert(user_duties).values(user_id=user_id, duty=d.value))
        return wanted

    def all_duties(self) -> dict[str, tuple[Duty, ...]]:
        """Every designated user's duties, by user id."""
        out: dict[str, list[Duty]] = {}
        with self.engine.connect() as conn:
            for user_id, duty in conn.execute(select(user_duties.c.user_id, user_duties.c.duty)).all():
                out.setdefault(user_id, []).append(Duty(duty))
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def duties_of(self, user_id: str) -> tuple[Duty, ...]:
        """The duties ``user_id`` is designated to (none: a plain member)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(user_duties.c.duty).where(user_duties.c.user_id == user_id)).all()
        return tuple(sorted(Duty(r[0]) for r in rows))

    def effective_duties(
        self, role: Role, unit_id: str | None, designated: Iterable[Duty | str] = ()
    ) -> tuple[Duty, ...] | None:
        """The duties a member of ``(role, unit_id)`` holds: those it is designated to, and every duty
        no enabled member of the unit is designated to (a unit that designates nobody works as one
        where every member coordinates and reviews). ``None`` for roles without duties."""
        if role not in DUTY_ROLES or not unit_id:
            return None
        with self.engine.connect() as conn:
            taken = {
                r[0]
                for r in conn.execute(
                    select(user_duties.c.duty)
                    .join(users, users.c.user_id == user_duties.c.user_id)
                    .where(users.c.role == role.value, users.c.unit_id == unit_id, users.c.disabled_at.is_(None))
                ).all()
            }
        own = {Duty(d) for d in designated}
        return tuple(sorted(d for d in Duty if d in own or d.value not in taken))

    def get_user(self, user_id: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).mappings().first()
        return self._user(row) if row else None

    def members(self, role: Role, unit_id: str) -> list[User]:
        """The enabled users acting for one unit (``role`` and ``unit_id``), by name then id."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(users)
                    .where(users.c.role == role.value, users.c.unit_id == unit_id, users.c.disabled_at.is_(None))
                    .order_by(users.c.name, users.c.user_id)
                )
                .mappings()
                .all()
            )
        return [self._user(r) for r in rows]

    def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names of these users (people the directory does not have are left out), 500 per query."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                q = select(users.c.user_id, users.c.name).where(users.c.user_id.in_(wanted[start : start + 500]))
                out.update({str(i): str(n) for i, n in conn.execute(q)})
        return out

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.user_id)).mappings().all()
        return [self._user(r) for r in rows]

    @staticmethod
    def _user(r: RowMapping) -> User:
        return User(
            r["user_id"], r["name"], Role(r["role"]), r["unit_id"], as_utc(r["created_at"]), as_utc(r["disabled_at"])
        )

    def disable_user(self, user_id: str) -> int:
        """Disable a user and revoke every token of theirs; returns the number of tokens revoked."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            found = conn.execute(update(users).where(users.c.user_id == user_id).values(disabled_at=now)).rowcount
            if not found:
                raise UserError(f"user: no user {user_id!r}", USER_UNKNOWN)
            return int(
                conn.execute(
                    update(tokens)
                    .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                ).rowcount
            )

    # --- tokens -------------------------------------------------------------------------------
    def issue_token(self, user_id: str, label: str | None = None) -> tuple[str, TokenInfo]:
        """A new token for ``user_id``: ``(the token, shown this once; its listing)``."""
        user = self.get_user(user_id)
        if user is None:
            raise UserError(f"user: no user {user_id!r}", USER_UNKNOWN)
        if user.disabled_at is not None:
            raise UserError(f"user: {user_id!r} is disabled", USER_DISABLED)
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    token_id=token_id,
                    user_id=user_id,
                    label=label,
                    salt=salt,
                    secret_hash=hash_secret(salt, secret),
                    created_at=now,
                )
            )
        return f"gct_{token_id}_{secret}", TokenInfo(token_id, user_id, label, now, None)

    def list_tokens(self, user_id: str | None = None) -> list[TokenInfo]:
        q = select(tokens).order_by(tokens.c.user_id, tokens.c.created_at)
        if user_id is not None:
            q = q.where(tokens.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            TokenInfo(r["token_id"], r["user_id"], r["label"], as_utc(r["created_at"]), as_utc(r["revoked_at"]))
            for r in rows
        ]

    def revoke_token(self, token_id: str) -> None:
        """Revoke one token (idempotent for a token already revoked)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(tokens.c.revoked_at).where(tokens.c.token_id == token_id)).first()
            if row is None:
                raise UserError(f"token: no token {token_id!r}", TOKEN_UNKNOWN)
            if row[0] is None:
                conn.execute(update(tokens).where(tokens.c.token_id == token_id).values(revoked_at=datetime.now(UTC)))

    def authenticate(self, token: str) -> User | None:
        """The user a token belongs to, or ``None`` (malformed, unknown, revoked, user disabled)."""
        m = TOKEN_RE.match(token)
        if m is None:
            return None
        token_id, secret = m.groups()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(
                        tokens,
                        users.c.name,
                        users.c.role,
                        users.c.unit_id,
                        users.c.disabled_at,
                        users.c.created_at.label("user_created_at"),
                    )
                    .join(users, users.c.user_id == tokens.c.user_id)
                    .where(tokens.c.token_id == token_id)
                )
                .mappings()
                .first()
            )
        if row is None or row["revoked_at"] is not None or row["disabled_at"] is not None:
            return None
        if not hmac.compare_digest(hash_secret(row["salt"], secret), row["secret_hash"]):
            return None
        return User(row["user_id"], row["name"], Role(row["role"]), row["unit_id"], as_utc(row["user_created_at"]))

    # --- intakes ------------------------------------------------------------------------------
    def record_intake(self, case_id: str, user_id: str, role: Role, idempotency_key: str) -> None:
        """Remember who opened ``case_id`` (kept when the same intake is retried)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(intakes).values(
                        case_id=case_id,
                        user_id=user_id,
                        role=role.value,
                        idempotency_key=idempotency_key,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            pass  # a retried intake: the first record stands

    def opened_by(self, case_id: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(intakes.c.user_id).where(intakes.c.case_id == case_id)).first()
        return str(row[0]) if row else None

    def cases_opened_by(self, user_id: str, limit: int = 1000) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(intakes.c.case_id)
                .where(intakes.c.user_id == user_id)
                .order_by(intakes.c.created_at.desc())
                .limit(limit)
            ).all()
        return [str(r[0]) for r in rows]

    def bind_intake_key(self, scoped_key: str, case_id: str, fingerprint: str) -> str:
        """Bind an intake key to the fingerprint of its request body, unless it is bound already;
        returns the fingerprint the key is bound to (the first request's, for a retry)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(intake_keys).values(
                        scoped_key=scoped_key, case_id=case_id, fingerprint=fingerprint, created_at=datetime.now(UTC)
                    )
                )
            return fingerprint
        except IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(intake_keys.c.fingerprint).where(intake_keys.c.scoped_key == scoped_key)
                ).first()
            return str(row[0]) if row else fingerprint
