"""Webhooks for units without Kafka: subscriptions, the outbox of deliveries, and their SQL tables.

A **subscription** belongs to a unit (``department:D``, ``street:S``...), names an ``http(s)`` URL
and a secret (``whsec_<base64>``, shown once, when it is created) and may keep only some event
types or one case (:mod:`notify.webhook_filter`). The dispatcher (:mod:`notify.webhook_dispatcher`,
``gridcase webhooks run``) reads the department-safe case-events topic and writes one **delivery**
per event and matching subscription into the outbox, before it commits the topic's offsets; its
senders POST them, signed (:mod:`notify.webhook_signing`), one case at a time per subscription,
and retry them by the rules of :mod:`notify.webhook_policy`.

Tables (SQLAlchemy Core, created when missing by :meth:`WebhookStore.create_tables`, like the API's
own; SQLite and PostgreSQL):

* ``webhook_subscriptions`` — the subscriptions, with their failure record (``consecutive_failures``,
  ``failing_since``) and, once disabled, ``disabled_reason``;
* ``webhook_deliveries`` — the outbox and the delivery log: the subscription, the event id (the
  ``webhook-id``; unique per subscription, so an event read twice is queued once), case and seq,
  the CloudEvent bytes, ``status`` (pending, delivered, failed = waiting for a retry, dead),
  ``attempts``, ``next_attempt_at``, the last status code and error, and a lease while a sender has it;
* ``webhook_cases`` — per case, the last seq the dispatcher queued and the units whose scope the
  case is in (so a restarted dispatcher knows the involvements it learned before);
* ``webhook_case_events`` — each case's latest events (up to the dispatcher's backlog per case), for
  the subscriptions a case comes into the scope of later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from events.base import UnitKind, UnitRef
from events.times import as_utc
from notify.webhook_filter import EventRef, WebhookFilter, deliveries_for, scope_keys
from notify.webhook_policy import OPEN_STATUSES, Answer, Decision, DeliveryPolicy, decide, disable_reason
from notify.webhook_signing import new_secret

metadata = MetaData()
TS = DateTime(timezone=True)
ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements an INTEGER primary key only

subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("unit_kind", String(32), nullable=False),
    Column("unit_id", String(128), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("event_types", Text, nullable=False, default="[]"),  # JSON list of prefixes; [] = every type
    Column("case_id", String(64)),
    Column("description", String(200)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_reason", String(300)),
    Column("disabled_at", TS),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(128)),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("failing_since", TS),
    Column("last_success_at", TS),
    Column("last_failure_at", TS),
    Index("ix_webhook_subscriptions_unit", "unit_kind", "unit_id"),
)

deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("subscription_id", ID, nullable=False),
    Column("webhook_id", String(200), nullable=False),  # the event id "<case_id>:<seq>", or test_<hex>
    Column("event_type", String(64), nullable=False),
    Column("case_id", String(64), nullable=False),  # "" for a test ping
    Column("seq", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    Column("lease_until", TS),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("occurred_at", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("delivered_at", TS),
    UniqueConstraint("subscription_id", "webhook_id", name="uq_webhook_deliveries_subscription_event"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_case", "subscription_id", "case_id", "seq"),
)

cases = Table(
    "webhook_cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("units", Text, nullable=False),  # JSON list of scope keys, sorted
    Column("updated_at", TS, nullable=False),
)

case_events = Table(
    "webhook_case_events",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

UNIT_KINDS = tuple(k.value for k in UnitKind)
TEST_EVENT_TYPE = "webhook.test"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Subscription:
    """One subscription (its secret is never printed: see :meth:`WebhookStore.add`)."""

    id: int
    unit_kind: UnitKind
    unit_id: str
    url: str
    event_types: tuple[str, ...]
    case_id: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    created_by: str | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    secret: str = field(repr=False)

    @property
    def unit(self) -> str:
        return f"{self.unit_kind.value}:{self.unit_id}"

    @property
    def filter(self) -> WebhookFilter:
        return WebhookFilter(self.unit_kind, self.unit_id, self.event_types, self.case_id)


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox / delivery log."""

    id: int
    subscription_id: int
    webhook_id: str
    event_type: str
    case_id: str
    seq: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    occurred_at: datetime
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    payload: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class Outcome:
    """What :meth:`WebhookStore.record` did with an attempt."""

    delivery_id: int
    status: str
    attempts: int
    disabled: str | None = None  # the subscription was disabled now, for this reason
    retry_at: datetime | None = None


@dataclass
class IngestResult:
    """What :meth:`WebhookStore.ingest` did with a batch of case events."""

    queued: int = 0
    skipped: int = 0  # read before (at or below the case's last seq)
    by_unit_kind: dict[str, int] = field(default_factory=dict)


class WebhookError(ValueError):
    """A subscription that breaks a rule: ``field`` (``url``, ``unit``, ``event_types``...) and ``rule``."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


URL_RULE = "webhook.url"
UNIT_RULE = "webhook.unit"
EVENT_TYPES_RULE = "webhook.event_types"


def check_url(url: str) -> str:
    """``url`` when it is an absolute ``http``/``https`` URL with a host, else :class:`WebhookError`."""
    import httpx

    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except Exception:
        raise WebhookError("url", URL_RULE, f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https"):
        raise WebhookError("url", URL_RULE, f"the URL must be http or https, not {parsed.scheme or 'none'!r}")
    if not parsed.host:
        raise WebhookError("url", URL_RULE, "the URL has no host")
    if parsed.userinfo:
        raise WebhookError("url", URL_RULE, "the URL may not carry a user name or password")
    if len(text) > 2000:
        raise WebhookError("url", URL_RULE, "the URL is longer than 2000 characters")
    return text


def parse_unit(text: str) -> UnitRef:
    """``kind:id`` as a unit, else :class:`WebhookError` naming the kinds."""
    kind, sep, unit_id = text.partition(":")
    if not sep or kind not in UNIT_KINDS or not unit_id or len(unit_id) > 128:
        raise WebhookError("unit", UNIT_RULE, f"{text!r} is not <kind>:<id> with kind one of {', '.join(UNIT_KINDS)}")
    return UnitRef(kind=UnitKind(kind), id=unit_id)


def check_event_types(prefixes: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for p in prefixes:
        p = p.strip()
        if not p or len(p) > 64 or any(ch.isspace() for ch in p):
            raise WebhookError("event_types", EVENT_TYPES_RULE, f"{p!r} is not an event type prefix (e.g. case.)")
        if p not in out:
            out.append(p)
    return tuple(out)


def _clip(text: str | None, n: int = 500) -> str | None:
    return None if text is None else text[:n]


class WebhookStore:
    """The webhook tables of one database."""

    def __init__(self, engine: Engine, *, max_backlog_per_case: int = 50) -> None:
        self.engine = engine
        self.max_backlog_per_case = max_backlog_per_case

    def create_tables(self) -> None:
        """Create the webhook tables when missing (idempotent)."""
        metadata.create_all(self.engine, checkfirst=True)

    # --- subscriptions --------------------------------------------------------------------------

    def add(
        self,
        unit: UnitRef,
        url: str,
        *,
        event_types: Sequence[str] = (),
        case_id: str | None = None,
        description: str | None = None,
        created_by: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Subscription, str]:
        """A new enabled subscription and its secret (the only time the secret is handed out)."""
        url = check_url(url)
        types = check_event_types(event_types)
        secret = new_secret()
        at = now or utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(subscriptions).values(
                    unit_kind=unit.kind.value,
                    unit_id=unit.id,
                    url=url,
                    secret=secret,
                    event_types=json.dumps(list(types)),
                    case_id=case_id,
                    description=description,
                    enabled=True,
                    created_at=at,
                    created_by=created_by,
                    consecutive_failures=0,
                )
            )
            sub_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        sub = self.get(sub_id)
        assert sub is not None
        return sub, secret

    @staticmethod
    def _sub(r: RowMapping) -> Subscription:
        return Subscription(
            id=int(r["id"]),
            unit_kind=UnitKind(r["unit_kind"]),
            unit_id=r["unit_id"],
            url=r["url"],
            event_types=tuple(json.loads(r["event_types"] or "[]")),
            case_id=r["case_id"],
            description=r["description"],
            enabled=bool(r["enabled"]),
            disabled_reason=r["disabled_reason"],
            disabled_at=as_utc(r["disabled_at"]),
            created_at=as_utc(r["created_at"]),
            created_by=r["created_by"],
            consecutive_failures=int(r["consecutive_failures"] or 0),
            failing_since=as_utc(r["failing_since"]),
            last_success_at=as_utc(r["last_success_at"]),
            last_failure_at=as_utc(r["last_failure_at"]),
            secret=r["secret"],
        )

    def get(self, sub_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).mappings().first()
        return None if r is None else self._sub(r)

    def list_subscriptions(self, unit: UnitRef | None = None) -> list[Subscription]:
        q = select(subscriptions).order_by(subscriptions.c.id)
        if unit is not None:
            q = q.where(subscriptions.c.unit_kind == unit.kind.value, subscriptions.c.unit_id == unit.id)
        with self.engine.connect() as conn:
            return [self._sub(r) for r in conn.execute(q).mappings()]

    def enabled(self, conn: Connection | None = None) -> list[Subscription]:
        q = select(subscriptions).where(subscriptions.c.enabled.is_(True)).order_by(subscriptions.c.id)
        if conn is not None:
            return [self._sub(r) for r in conn.execute(q).mappings()]
        with self.engine.connect() as c:
            return [self._sub(r) for r in c.execute(q).mappings()]

    def remove(self, sub_id: int) -> bool:
        """Delete a subscription and its delivery log; False when there is none."""
        with self.engine.begin() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.subscription_id == sub_id))
            return conn.execute(delete(subscriptions).where(subscriptions.c.id == sub_id)).rowcount > 0

    def set_enabled(self, sub_id: int, enabled: bool, reason: str | None = None, now: datetime | None = None) -> bool:
        """Enable (the failure record starts afresh) or disable a subscription; False when there is none."""
        at = now or utcnow()
        values: dict[str, Any] = (
            {
                "enabled": True,
                "disabled_reason": None,
                "disabled_at": None,
                "consecutive_failures": 0,
                "failing_since": None,
            }
            if enabled
            else {"enabled": False, "disabled_reason": _clip(reason or "disabled", 300), "disabled_at": at}
        )
        with self.engine.begin() as conn:
            return conn.execute(update(subscriptions).where(subscriptions.c.id == sub_id).values(**values)).rowcount > 0

    # --- the dispatcher's side: events into the outbox ---------------------------------------------

    def ingest(self, events: Sequence[tuple[bytes, Any]], now: datetime | None = None) -> IngestResult:
        """Queue the deliveries of a batch of case events (``(masked CloudEvent bytes, event)``, in the
        topic's order) for every enabled subscription that wants them, in one transaction.

        Each case's scope keys and last seq are kept with the deliveries, so an event read again (a
        restart before the offsets were committed) queues nothing twice, and the unique
        ``(subscription, event id)`` holds even so.
        """
        from events.schemas import event_type

        at = now or utcnow()
        result = IngestResult()
        with self.engine.begin() as conn:
            subs = self.enabled(conn)
            known: dict[str, tuple[int, set[str], bool]] = {}  # case -> (last seq, units, row exists)
            for payload, event in events:
                cid = event.case_id
                if cid not in known:
                    row = conn.execute(select(cases).where(cases.c.case_id == cid)).mappings().first()
                    known[cid] = (
                        (int(row["last_seq"]), set(json.loads(row["units"])), True) if row else (0, set(), False)
                    )
                last_seq, before, exists_ = known[cid]
                if event.seq <= last_seq:
                    result.skipped += 1
                    continue
                after = before | scope_keys(event)
                ref = EventRef(event.event_id, cid, event.seq, event_type(event), as_utc(event.occurred_at), payload)
                backlog: list[EventRef] | None = None
                rows: list[dict[str, Any]] = []
                for sub in subs:
                    flt = sub.filter
                    if not flt.wants_case(cid) or not flt.in_scope(after) or ref.occurred_at < sub.created_at:
                        continue
                    if backlog is None and not flt.in_scope(before):
                        backlog = self._backlog(conn, cid, event.seq)
                    for e in deliveries_for(flt, sub.created_at, before, after, ref, backlog or ()):
                        rows.append(self._delivery_row(sub.id, e, at))
                        result.by_unit_kind[sub.unit_kind.value] = result.by_unit_kind.get(sub.unit_kind.value, 0) + 1
                result.queued += _insert_ignore(conn, deliveries, rows, ("subscription_id", "webhook_id"))
                _insert_ignore(
                    conn,
                    case_events,
                    [
                        {
                            "case_id": cid,
                            "seq": event.seq,
                            "event_id": event.event_id,
                            "event_type": ref.event_type,
                            "occurred_at": ref.occurred_at,
                            "payload": payload,
                        }
                    ],
                    ("case_id", "seq"),
                )
                conn.execute(
                    delete(case_events).where(
                        case_events.c.case_id == cid, case_events.c.seq <= event.seq - self.max_backlog_per_case
                    )
                )
                values = {"last_seq": event.seq, "units": json.dumps(sorted(after)), "updated_at": at}
                if exists_:
                    conn.execute(update(cases).where(cases.c.case_id == cid).values(**values))
                else:
                    conn.execute(insert(cases).values(case_id=cid, **values))
                known[cid] = (event.seq, after, True)
        return result

    @staticmethod
    def _backlog(conn: Connection, case_id: str, below: int) -> list[EventRef]:
        q = select(case_events).where(case_events.c.case_id == case_id, case_events.c.seq < below)
        return [
            EventRef(r["event_id"], case_id, int(r["seq"]), r["event_type"], as_utc(r["occurred_at"]), r["payload"])
            for r in conn.execute(q.order_by(case_events.c.seq)).mappings()
        ]

    @staticmethod
    def _delivery_row(sub_id: int, e: EventRef, at: datetime) -> dict[str, Any]:
        return {
            "subscription_id": sub_id,
            "webhook_id": e.event_id,
            "event_type": e.event_type,
            "case_id": e.case_id,
            "seq": e.seq,
            "payload": e.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "occurred_at": e.occurred_at,
            "created_at": at,
            "updated_at": at,
        }

    def prune_case_events(self, older_than: datetime) -> int:
        """Forget the kept events that occurred before ``older_than`` (the backlog of old cases)."""
        with self.engine.begin() as conn:
            return conn.execute(delete(case_events).where(case_events.c.occurred_at < older_than)).rowcount

    # --- the senders' side ----------------------------------------------------------------------

    def subscriptions_due(self, now: datetime) -> list[int]:
        """Enabled subscriptions with a delivery waiting to be sent now."""
        d, s = deliveries.c, subscriptions.c
        q = (
            select(d.subscription_id)
            .join(subscriptions, s.id == d.subscription_id)
            .where(
                s.enabled.is_(True),
                d.status.in_(OPEN_STATUSES),
                d.next_attempt_at <= now,
                or_(d.lease_until.is_(None), d.lease_until <= now),
            )
            .distinct()
        )
        with self.engine.connect() as conn:
            return sorted(int(r[0]) for r in conn.execute(q))

    def due(self, sub_id: int, now: datetime, limit: int) -> list[Delivery]:
        """The subscription's deliveries that may be sent now: due, not leased, and each the first
        open one of its case (a case's next delivery waits until the one before is delivered or dead)."""
        d = deliveries.c
        earlier = deliveries.alias("earlier")
        e = earlier.c
        blocked = exists().where(
            e.subscription_id == d.subscription_id,
            e.case_id == d.case_id,
            e.status.in_(OPEN_STATUSES),
            e.seq < d.seq,
        )
        q = (
            select(deliveries)
            .where(
                d.subscription_id == sub_id,
                d.status.in_(OPEN_STATUSES),
                d.next_attempt_at <= now,
                or_(d.lease_until.is_(None), d.lease_until <= now),
                ~blocked,
            )
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._delivery(r) for r in conn.execute(q).mappings()]

    def claim(self, delivery_id: int, now: datetime, lease_s: float) -> bool:
        """Take a delivery for one attempt (a lease of ``lease_s``); False when another sender has it."""
        d = deliveries.c
        q = (
            update(deliveries)
            .where(
                d.id == delivery_id,
                d.status.in_(OPEN_STATUSES),
                or_(d.lease_until.is_(None), d.lease_until <= now),
            )
            .values(lease_until=now + timedelta(seconds=lease_s))
        )
        with self.engine.begin() as conn:
            return conn.execute(q).rowcount == 1

    def release(self, delivery_id: int) -> None:
        """Give a claimed delivery back unsent (its subscription was disabled meanwhile)."""
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(lease_until=None))

    def record(
        self,
        delivery: Delivery,
        answer: Answer,
        policy: DeliveryPolicy,
        now: datetime | None = None,
    ) -> Outcome:
        """Write an attempt's answer: the delivery's new status and the subscription's failure record
        (disabling it by the policy's rules), in one transaction."""
        at = now or utcnow()
        attempt = delivery.attempts + 1
        decision: Decision = decide(attempt, answer, policy, key=f"{delivery.subscription_id}:{delivery.webhook_id}")
        retry_at = at + timedelta(seconds=decision.retry_in_s) if decision.retry_in_s is not None else None
        values: dict[str, Any] = {
            "status": decision.status,
            "attempts": attempt,
            "lease_until": None,
            "last_status_code": answer.status_code,
            "last_error": _clip(answer.error),
            "updated_at": at,
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        if decision.status == "delivered":
            values["delivered_at"] = at
        disabled: str | None = None
        s = subscriptions.c
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery.id).values(**values))
            if not decision.failed:
                conn.execute(
                    update(subscriptions)
                    .where(s.id == delivery.subscription_id)
                    .values(consecutive_failures=0, failing_since=None, last_success_at=at)
                )
            else:
                row = conn.execute(
                    select(s.consecutive_failures, s.failing_since, s.enabled).where(s.id == delivery.subscription_id)
                ).first()
                if row is not None:
                    failures = int(row[0] or 0) + 1
                    since = as_utc(row[1]) or at
                    sub_values: dict[str, Any] = {
                        "consecutive_failures": failures,
                        "failing_since": since,
                        "last_failure_at": at,
                    }
                    if row[2]:
                        disabled = decision.disable or disable_reason(failures, since, at, policy)
                        if disabled:
                            sub_values.update(enabled=False, disabled_reason=_clip(disabled, 300), disabled_at=at)
                    conn.execute(update(subscriptions).where(s.id == delivery.subscription_id).values(**sub_values))
        return Outcome(delivery.id, decision.status, attempt, disabled, retry_at)

    def record_test(self, sub: Subscription, webhook_id: str, payload: bytes, answer: Answer, at: datetime) -> Delivery:
        """Log a test ping (one attempt, never retried, not counted against the subscription)."""
        code = answer.status_code
        ok = code is not None and 200 <= code < 300
        row = {
            "subscription_id": sub.id,
            "webhook_id": webhook_id,
            "event_type": TEST_EVENT_TYPE,
            "case_id": "",
            "seq": 0,
            "payload": payload,
            "status": "delivered" if ok else "dead",
            "attempts": 1,
            "next_attempt_at": at,
            "last_status_code": code,
            "last_error": _clip(answer.error),
            "occurred_at": at,
            "created_at": at,
            "updated_at": at,
            "delivered_at": at if ok else None,
        }
        with self.engine.begin() as conn:
            new_id = int(conn.execute(insert(deliveries).values(**row)).inserted_primary_key[0])  # type: ignore[index]
        return self._delivery({**row, "id": new_id})

    # --- the delivery log -----------------------------------------------------------------------

    @staticmethod
    def _delivery(r: Any) -> Delivery:
        return Delivery(
            id=int(r["id"]),
            subscription_id=int(r["subscription_id"]),
            webhook_id=r["webhook_id"],
            event_type=r["event_type"],
            case_id=r["case_id"],
            seq=int(r["seq"]),
            status=r["status"],
            attempts=int(r["attempts"]),
            next_attempt_at=as_utc(r["next_attempt_at"]),
            last_status_code=r["last_status_code"],
            last_error=r["last_error"],
            occurred_at=as_utc(r["occurred_at"]),
            created_at=as_utc(r["created_at"]),
            updated_at=as_utc(r["updated_at"]),
            delivered_at=as_utc(r["delivered_at"]),
            payload=r["payload"],
        )

    def deliveries(
        self, sub_id: int, *, status: str | None = None, case_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Delivery]:
        """The subscription's delivery log, newest first."""
        d = deliveries.c
        q = select(deliveries).where(d.subscription_id == sub_id)
        if status is not None:
            q = q.where(d.status == status)
        if case_id is not None:
            q = q.where(d.case_id == case_id)
        q = q.order_by(d.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [self._delivery(r) for r in conn.execute(q).mappings()]

    def counts(self, sub_id: int | None = None) -> dict[str, int]:
        """Deliveries by status (of one subscription, or all)."""
        d = deliveries.c
        q = select(d.status, func.count()).group_by(d.status)
        if sub_id is not None:
            q = q.where(d.subscription_id == sub_id)
        with self.engine.connect() as conn:
            return {str(k): int(n) for k, n in conn.execute(q)}

    def backlog(self) -> int:
        """Deliveries of enabled subscriptions still to be sent."""
        d, s = deliveries.c, subscriptions.c
        q = (
            select(func.count())
            .select_from(deliveries.join(subscriptions, s.id == d.subscription_id))
            .where(s.enabled.is_(True), d.status.in_(OPEN_STATUSES))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())


def new_test_id() -> str:
    """The ``webhook-id`` of a test ping."""
    return f"test_{uuid.uuid4().hex}"


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]) -> int:
    """Insert ``rows``, skipping those whose ``key`` exists already; returns how many were new."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        make = sqlite.insert if dialect == "sqlite" else postgresql.insert
        n = 0
        for row in rows:
            stmt = make(table).values(**row).on_conflict_do_nothing(index_elements=list(key))
            n += conn.execute(stmt).rowcount
        return n
    n = 0
    for row in rows:
        cond = and_(*(table.c[k] == row[k] for k in key))
        if conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one() == 0:
            conn.execute(insert(table).values(**row))
            n += 1
    return n
