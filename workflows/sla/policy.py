"""SLA policy: how long each clock runs, when it warns, and how a breach escalates.

A policy is a serialisable pydantic model: the case workflow carries it in its state, so the
models and :meth:`SlaPolicy.rule_for` are pure. Loading a YAML file (:func:`load_policy`,
:func:`default_policy`) does I/O and runs outside the workflow; ``yaml`` is imported lazily so the
workflow sandbox never imports it.

Policy file format (see ``default_policy.yaml`` for a documented example)::

    version: "2026-01"            # optional; default is a hash of the content
    working_day: 7h               # working time in one working day: what "1d working" means
    defaults:                     # optional: warnings and ladder for rules that do not set them
      warnings: [0.5, 0.75]
      ladder:
        - {level: reminder, delay: 0h working, recipients: [unit]}
    clocks:                       # every clock kind must be present
      accept: 1h working          # one rule for both urgencies...
      resolve:                    # ...or one per urgency
        urgent: 24h calendar
        ordinary: {duration: 7d, basis: calendar, warnings: [0.5, 0.75, 0.9]}
        by_category:              # optional overrides by case category (a code of the city catalogue)
          water: 24h calendar
          illegal-construction: {ordinary: 15d working}

Durations are written ``<amount> <basis>``: the amount is made of ``<n>d``, ``<n>h``, ``<n>m``,
``<n>s`` parts (``2h30m``), the basis is ``working`` (office hours of the working calendar only)
or ``calendar`` (wall-clock time). ``1d working`` is one ``working_day`` of working time (7 h by
default: 09:00–12:00 and 13:30–17:30), so a one-working-day clock started at 10:00 is due at
10:00 on the next working day; ``1d calendar`` is 24 hours.

Category overrides must name categories of the city's catalogue: the loaders take the known codes
as ``categories`` (the composition root and the CLI read them from the city registry) and refuse
an unknown one with rule ``policy.unknown_category``. Unknown urgencies, recipient levels and clock
kinds are refused with ``policy.unknown_urgency``, ``policy.unknown_recipient`` and
``policy.unknown_clock_kind``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Collection, Iterable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from events.base import UnitKind
from events.schemas import ClockKind, EscalationLevel, RecomputeMode, Urgency

DEFAULT_WORKING_DAY = timedelta(hours=7)
"""Working time in one working day with the default work periods (09:00–12:00, 13:30–17:30)."""

WARNINGS_RULE = "warning thresholds must be strictly increasing, each between 0 and 1"
LADDER_RULE = "ladder levels must go in order reminder → supervision → public_notice and delays must not decrease"

RULE_UNKNOWN_CATEGORY = "policy.unknown_category"
RULE_UNKNOWN_URGENCY = "policy.unknown_urgency"
RULE_UNKNOWN_RECIPIENT = "policy.unknown_recipient"
RULE_UNKNOWN_CLOCK_KIND = "policy.unknown_clock_kind"

_LADDER_ORDER = {
    EscalationLevel.REMINDER: 0,
    EscalationLevel.SUPERVISION: 1,
    EscalationLevel.PUBLIC_NOTICE: 2,
}


class PolicyError(ValueError):
    """An SLA policy file is invalid. The message names the file, the field path and the rule."""

    def __init__(self, source: str, issues: list[tuple[str, str]]) -> None:
        self.source = source
        self.issues = issues
        lines = [f"{path}: {rule}" if path else rule for path, rule in issues]
        if len(lines) == 1:
            message = f"{source}: {lines[0]}"
        else:
            message = f"{source}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in lines)
        super().__init__(message)


class Basis(StrEnum):
    """How a duration is counted."""

    WORKING = "working"  # only the working periods of working days
    CALENDAR = "calendar"  # wall-clock time


class HierarchyLevel(StrEnum):
    """Who an escalation rung goes to, relative to the case (see ``clocks.resolve_recipients``)."""

    UNIT = "unit"  # the handling unit at fault
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    CITY = "city"
    DEPARTMENT_HEAD = "department_head"


class _FieldIssue(ValueError):
    """A validation error that belongs to a sub-field (index or key) of the validated field."""

    def __init__(self, message: str, *sub: str | int) -> None:
        super().__init__(message)
        self.sub = sub


# --- durations ----------------------------------------------------------------------------------

_AMOUNT_RE = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_amount(text: str, *, working: bool, working_day: timedelta = DEFAULT_WORKING_DAY) -> timedelta:
    """``"2h30m"`` → 2.5 h. ``d`` is ``working_day`` when ``working``, 24 h otherwise."""
    compact = "".join(text.split()).lower()
    if compact == "0":
        return timedelta(0)
    m = _AMOUNT_RE.match(compact)
    if not compact or m is None or not any(m.groupdict().values()):
        raise ValueError(f"bad duration {text!r}: write e.g. '30m', '2h30m', '1d' followed by 'working' or 'calendar'")
    days, hours, minutes, seconds = (int(m.group(k) or 0) for k in "dhms")
    day = working_day if working else timedelta(days=1)
    return days * day + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def format_amount(amount: timedelta, *, working: bool, working_day: timedelta = DEFAULT_WORKING_DAY) -> str:
    """The inverse of :func:`parse_amount`: 105 h working → ``"15d"``, 2.5 h → ``"2h30m"``."""
    if amount == timedelta(0):
        return "0"
    sign = "-" if amount < timedelta(0) else ""
    rest = abs(amount)
    day = working_day if working else timedelta(days=1)
    days, rest = divmod(rest, day)
    if not working and days < 2:  # "24h calendar" reads better than "1d calendar"
        days, rest = 0, abs(amount)
    seconds = int(rest.total_seconds())
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return sign + "".join(parts)


class DurationSpec(BaseModel):
    """A duration with its basis, parsed from a human string like ``"2h30m working"``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: timedelta
    basis: Basis

    @property
    def working_time(self) -> bool:
        return self.basis == Basis.WORKING

    @classmethod
    def parse(
        cls, text: str, *, working_day: timedelta = DEFAULT_WORKING_DAY, default_basis: Basis | None = None
    ) -> DurationSpec:
        """Parse ``"<amount> [working|calendar]"``; the basis may only be left out with a default."""
        words = text.split()
        basis: Basis | None = default_basis
        if words and words[-1].lower() in (Basis.WORKING.value, Basis.CALENDAR.value):
            word_basis = Basis(words[-1].lower())
            if default_basis is not None and word_basis != default_basis:
                raise ValueError(f"duration {text!r} says {word_basis} but basis is {default_basis}")
            basis = word_basis
            words = words[:-1]
        if basis is None:
            raise ValueError(f"duration {text!r} needs a basis: write e.g. '24h calendar' or '1h working'")
        amount = parse_amount(" ".join(words), working=basis == Basis.WORKING, working_day=working_day)
        return cls(amount=amount, basis=basis)

    def __str__(self) -> str:
        return f"{format_amount(self.amount, working=self.working_time)} {self.basis.value}"


def _working_day(info: ValidationInfo) -> timedelta:
    ctx = info.context if isinstance(info.context, dict) else {}
    wd = ctx.get("working_day")
    return wd if isinstance(wd, timedelta) else DEFAULT_WORKING_DAY


def _is_human(value: object) -> bool:
    """A human duration string (ISO 8601 ``P...`` strings from JSON are left to pydantic)."""
    return isinstance(value, str) and not value.strip().upper().startswith(("P", "-P"))


def _split_duration(
    data: dict[str, Any], field: str, info: ValidationInfo, *, zero_needs_basis: bool
) -> dict[str, Any]:
    """Turn ``{field: "7d", basis: "calendar"}`` or ``{field: "7d calendar"}`` into model fields."""
    data = dict(data)
    basis_raw = data.pop("basis", None)
    basis: Basis | None = None
    if basis_raw is not None:
        try:
            basis = Basis(str(basis_raw).lower())
        except ValueError:
            message = f"unknown basis {basis_raw!r}; expected 'working' or 'calendar'"
            raise _FieldIssue(message, "basis") from None
        if "working_time" in data and bool(data["working_time"]) != (basis == Basis.WORKING):
            raise _FieldIssue("basis and working_time disagree", "basis")
    elif "working_time" in data and isinstance(data["working_time"], bool):
        basis = Basis.WORKING if data["working_time"] else Basis.CALENDAR
    raw = data.get(field)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw == 0:
        raw = "0"
    if _is_human(raw):
        assert isinstance(raw, str)
        text = raw
        if basis is None and not zero_needs_basis and text.strip() in ("0", "0h", "0m", "0s", "0d"):
            basis = Basis.WORKING
        try:
            spec = DurationSpec.parse(text, working_day=_working_day(info), default_basis=basis)
        except ValueError as exc:
            raise _FieldIssue(str(exc), field) from None
        data[field] = spec.amount
        data["working_time"] = spec.working_time
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        raise _FieldIssue(f"write {field} as a duration like '2h30m working', not a bare number", field)
    elif basis is not None:
        data["working_time"] = basis == Basis.WORKING
    return data


# --- rules --------------------------------------------------------------------------------------


class Rung(BaseModel):
    """One rung of the escalation ladder: ``delay`` after the breach, to ``recipients``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: EscalationLevel
    delay: timedelta = timedelta(0)
    working_time: bool = True  # basis of ``delay``
    recipients: list[HierarchyLevel] = Field(default_factory=lambda: [HierarchyLevel.UNIT], min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict):
            return _split_duration(data, "delay", info, zero_needs_basis=False)
        return data

    @field_validator("delay")
    @classmethod
    def _non_negative(cls, v: timedelta) -> timedelta:
        if v < timedelta(0):
            raise ValueError("an escalation delay must not be negative")
        return v


def default_ladder(working_day: timedelta = DEFAULT_WORKING_DAY) -> list[Rung]:
    """催办 at the breach, 督办 the next working day, 通报 after five more working days."""
    return [
        Rung(level=EscalationLevel.REMINDER, delay=timedelta(0), recipients=[HierarchyLevel.UNIT]),
        Rung(
            level=EscalationLevel.SUPERVISION,
            delay=working_day,
            recipients=[HierarchyLevel.UNIT, HierarchyLevel.STREET, HierarchyLevel.DEPARTMENT_HEAD],
        ),
        Rung(
            level=EscalationLevel.PUBLIC_NOTICE,
            delay=6 * working_day,
            recipients=[
                HierarchyLevel.UNIT,
                HierarchyLevel.STREET,
                HierarchyLevel.DISTRICT,
                HierarchyLevel.CITY,
                HierarchyLevel.DEPARTMENT_HEAD,
            ],
        ),
    ]


DEFAULT_WARNINGS: tuple[float, ...] = (0.5, 0.75)


def _check_warnings(v: list[float]) -> list[float]:
    previous = 0.0
    for i, t in enumerate(v):
        if not (0 < t < 1) or t <= previous:
            raise _FieldIssue(WARNINGS_RULE, i)
        previous = t
    return v


def _check_ladder(v: list[Rung]) -> list[Rung]:
    for i in range(1, len(v)):
        a, b = v[i - 1], v[i]
        if _LADDER_ORDER[b.level] < _LADDER_ORDER[a.level]:
            raise _FieldIssue(LADDER_RULE, i, "level")
        if a.working_time == b.working_time and b.delay < a.delay:
            raise _FieldIssue(LADDER_RULE, i, "delay")
    return v


class ClockRule(BaseModel):
    """How one clock runs: its duration and basis, warning thresholds and escalation ladder.

    YAML forms: ``"7d calendar"``, or a mapping ``{duration: 7d, basis: calendar, warnings: [...],
    ladder: [...]}`` (``duration: 7d calendar`` also works).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration: timedelta
    working_time: bool = True
    warnings: list[float] = Field(default_factory=lambda: list(DEFAULT_WARNINGS))
    ladder: list[Rung] = Field(default_factory=default_ladder)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, str):
            data = {"duration": data}
        if isinstance(data, ClockRule):
            return data
        if not isinstance(data, dict):
            raise ValueError("a rule is a duration like '1h working' or a mapping with a 'duration' key")
        data = _split_duration(data, "duration", info, zero_needs_basis=True)
        ctx = info.context if isinstance(info.context, dict) else {}
        for key in ("warnings", "ladder"):
            if key not in data and ctx.get(key) is not None:
                data[key] = ctx[key]
        return data

    @field_validator("duration")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("a clock duration must be positive")
        return v

    @field_validator("warnings")
    @classmethod
    def _warnings(cls, v: list[float]) -> list[float]:
        return _check_warnings(v)

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, v: list[Rung]) -> list[Rung]:
        return _check_ladder(v)

    @property
    def basis(self) -> Basis:
        return Basis.WORKING if self.working_time else Basis.CALENDAR


def _per_urgency(data: Any) -> Any:
    """A single rule (string, or mapping with ``duration``) applies to both urgencies."""
    if isinstance(data, str) or (isinstance(data, dict) and "duration" in data):
        return {Urgency.URGENT.value: data, Urgency.ORDINARY.value: data}
    return data


class CategoryRules(BaseModel):
    """Overrides for one case category; an urgency left out uses the clock's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urgent: ClockRule | None = None
    ordinary: ClockRule | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _per_urgency(data)

    @model_validator(mode="after")
    def _not_empty(self) -> CategoryRules:
        if self.urgent is None and self.ordinary is None:
            raise ValueError("a category override needs an 'urgent' or an 'ordinary' rule")
        return self

    def get(self, urgency: Urgency) -> ClockRule | None:
        return self.urgent if urgency == Urgency.URGENT else self.ordinary


class ClockPolicy(BaseModel):
    """The rules of one clock kind: a default per urgency, plus category overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urgent: ClockRule
    ordinary: ClockRule
    by_category: dict[str, CategoryRules] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _per_urgency(data)

    def rule(self, urgency: Urgency, category: str | None = None) -> ClockRule:
        """The category override for ``urgency`` when there is one, else the default."""
        if category is not None:
            override = self.by_category.get(category)
            if override is not None:
                rule = override.get(urgency)
                if rule is not None:
                    return rule
        return self.urgent if urgency == Urgency.URGENT else self.ordinary


#: Clock kinds a policy may leave out: the steps they time exist only when the policy has them (a
#: policy without ``reply_review`` has no internal review; without ``interim_reply``, no interim
#: replies). Policies written before these steps existed keep validating, and so do the SLA contexts
#: recorded in the histories of cases started under them.
OPTIONAL_CLOCK_KINDS = frozenset({ClockKind.REPLY_REVIEW, ClockKind.INTERIM_REPLY})


class ReviewRule(BaseModel):
    """Internal review (审核签发) for one kind of handling unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The handler's reply needs a reviewer's sign-off before the case counts as resolved.
    required: bool = True
    #: May the member who submitted the reply approve it themselves? (A one-person unit needs it.)
    self_approval: bool = False


class InterimRule(BaseModel):
    """Interim replies (阶段性答复): which cases need them. How often is the ``interim_reply`` clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Cases whose resolution budget is longer than this need interim replies (``5d working``: more
    #: than five working days; a calendar budget counts five working days per seven calendar days).
    threshold: timedelta
    working_time: bool = True
    #: Set on a compressed policy (:func:`workflows.sla.timescale.compress_policy`), whose rules have
    #: lost their basis: the ``category:urgency`` pairs (``*`` for the default rule) whose real-time
    #: resolution budget needs interim replies, decided before compression.
    decided: tuple[str, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, str):
            data = {"threshold": data}
        if isinstance(data, dict):
            return _split_duration(data, "threshold", info, zero_needs_basis=True)
        return data

    def needed_for(self, budget: timedelta, working_time: bool, working_day: timedelta) -> bool:
        """Does a resolution clock of ``budget`` (in its basis) need interim replies?"""
        return _working_days(budget, working_time, working_day) > _working_days(
            self.threshold, self.working_time, working_day
        )


def _working_days(amount: timedelta, working_time: bool, working_day: timedelta) -> float:
    if working_time:
        return amount / working_day
    return amount / timedelta(days=1) * 5 / 7


class UnitWorkPolicy(BaseModel):
    """Work inside the unit: internal review per unit kind, clock recomputation after a correction,
    interim replies. Absent from a policy (and from cases started before it existed): no review, no
    interim replies, corrections recompute retroactively."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review: dict[UnitKind, ReviewRule] = Field(default_factory=dict)
    #: Per clock kind, how a running clock follows a correction (reclassify, set_urgency): a kind not
    #: listed is recomputed ``retroactive``.
    recompute: dict[ClockKind, RecomputeMode] = Field(default_factory=dict)
    interim: InterimRule | None = None

    def review_rule(self, kind: UnitKind) -> ReviewRule | None:
        rule = self.review.get(kind)
        return rule if rule is not None and rule.required else None

    def recompute_mode(self, kind: ClockKind) -> RecomputeMode:
        return self.recompute.get(kind, RecomputeMode.RETROACTIVE)


class SlaPolicy(BaseModel):
    """The whole SLA policy: one :class:`ClockPolicy` per :class:`ClockKind` (the kinds in
    :data:`OPTIONAL_CLOCK_KINDS` may be left out), and the work inside the unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = ""
    description: str | None = None
    working_day: timedelta = DEFAULT_WORKING_DAY
    clocks: dict[ClockKind, ClockPolicy]
    unit_work: UnitWorkPolicy | None = None

    @field_validator("working_day", mode="before")
    @classmethod
    def _parse_working_day(cls, v: Any) -> Any:
        return _parse_working_day(v) if _is_human(v) else v

    @field_validator("working_day")
    @classmethod
    def _check_working_day(cls, v: timedelta) -> timedelta:
        return _parse_working_day(v)

    @field_validator("clocks")
    @classmethod
    def _all_kinds(cls, v: dict[ClockKind, ClockPolicy]) -> dict[ClockKind, ClockPolicy]:
        missing = [k.value for k in ClockKind if k not in v and k not in OPTIONAL_CLOCK_KINDS]
        if missing:
            required = ", ".join(k.value for k in ClockKind if k not in OPTIONAL_CLOCK_KINDS)
            raise ValueError(f"missing clock kind(s) {', '.join(missing)}; every kind ({required}) must be defined")
        return {k: v[k] for k in ClockKind if k in v}

    @model_validator(mode="after")
    def _unit_work_clocks(self) -> SlaPolicy:
        uw = self.unit_work
        if uw is None:
            return self
        if any(r.required for r in uw.review.values()) and ClockKind.REPLY_REVIEW not in self.clocks:
            raise ValueError(
                "unit_work.review requires a review: define clocks.reply_review (how long a review may take)"
            )
        if uw.interim is not None and ClockKind.INTERIM_REPLY not in self.clocks:
            raise ValueError("unit_work.interim needs clocks.interim_reply (how often an interim reply is due)")
        return self

    def has_clock(self, kind: ClockKind) -> bool:
        return kind in self.clocks

    def review_rule(self, kind: UnitKind) -> ReviewRule | None:
        """The internal review a unit of ``kind`` must pass before its reply resolves the case, or None."""
        return self.unit_work.review_rule(kind) if self.unit_work is not None else None

    def recompute_mode(self, kind: ClockKind) -> RecomputeMode:
        return self.unit_work.recompute_mode(kind) if self.unit_work is not None else RecomputeMode.RETROACTIVE

    def interim_needed(self, category: str | None, urgency: Urgency) -> bool:
        """Does a case of ``category`` and ``urgency`` need interim replies (its resolution budget is
        longer than the policy's threshold)?"""
        uw = self.unit_work
        if uw is None or uw.interim is None or ClockKind.INTERIM_REPLY not in self.clocks:
            return False
        if uw.interim.decided is not None:
            cp = self.clocks[ClockKind.RESOLVE]
            key = category if category is not None and category in cp.by_category else "*"
            return f"{key}:{urgency.value}" in uw.interim.decided
        rule = self.rule_for(ClockKind.RESOLVE, category, urgency)
        return uw.interim.needed_for(rule.duration, rule.working_time, self.working_day)

    def interim_decisions(self) -> tuple[str, ...]:
        """Every ``category:urgency`` pair (``*`` for the default) that needs interim replies."""
        cp = self.clocks[ClockKind.RESOLVE]
        keys: list[str | None] = [None, *cp.by_category]
        return tuple(f"{k or '*'}:{u.value}" for k in keys for u in Urgency if self.interim_needed(k, u))

    @model_validator(mode="after")
    def _version(self) -> SlaPolicy:
        if not self.version:
            content = self.model_dump(mode="json", exclude={"version"})
            text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            object.__setattr__(self, "version", hashlib.sha256(text.encode("utf-8")).hexdigest()[:12])
        return self

    def rule_for(self, kind: ClockKind, category: str | None, urgency: Urgency) -> ClockRule:
        """The rule a clock of ``kind`` runs on for a case of ``category`` and ``urgency``."""
        return self.clocks[kind].rule(urgency, category)

    def rows(self) -> list[tuple[ClockKind, Urgency, str | None, ClockRule]]:
        """Every rule, for display: (kind, urgency, category or None, rule)."""
        out: list[tuple[ClockKind, Urgency, str | None, ClockRule]] = []
        for kind, cp in self.clocks.items():
            for urgency in Urgency:
                out.append((kind, urgency, None, cp.rule(urgency)))
            for category, rules in cp.by_category.items():
                for urgency in Urgency:
                    rule = rules.get(urgency)
                    if rule is not None:
                        out.append((kind, urgency, category, rule))
        return out


# --- loading (outside the workflow) -------------------------------------------------------------


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warnings: list[float] | None = None
    ladder: list[Rung] | None = None

    @field_validator("warnings")
    @classmethod
    def _warnings(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else _check_warnings(v)

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, v: list[Rung] | None) -> list[Rung] | None:
        return None if v is None else _check_ladder(v)


def policy_from_mapping(
    data: object, source: str = "<policy>", *, categories: Collection[str] | None = None
) -> SlaPolicy:
    """Validate a parsed policy document; raises :class:`PolicyError` naming ``source``.

    With ``categories`` (the codes of the city's catalogue), every category override must name one.
    """
    if not isinstance(data, dict):
        got = "an empty document" if data is None else f"a {type(data).__name__}"
        raise PolicyError(source, [("", f"an SLA policy must be a mapping with a 'clocks' key, got {got}")])
    doc = dict(data)
    try:
        working_day = _parse_working_day(doc.get("working_day"))
    except ValueError as exc:
        raise PolicyError(source, [("working_day", str(exc))]) from None
    try:
        raw_defaults = doc.pop("defaults", None) or {}
        defaults = _Defaults.model_validate(raw_defaults, context={"working_day": working_day})
    except ValidationError as exc:
        raise PolicyError(source, _issues(exc, prefix=("defaults",))) from None
    context = {
        "working_day": working_day,
        "warnings": defaults.warnings,
        "ladder": defaults.ladder if defaults.ladder is not None else default_ladder(working_day),
    }
    unknown = [] if categories is None else _raw_category_issues(doc, categories)
    try:
        policy = SlaPolicy.model_validate(doc, context=context)
    except ValidationError as exc:
        raise PolicyError(source, _issues(exc) + unknown) from None
    if unknown:
        raise PolicyError(source, unknown)
    return policy


def category_issues(policy: SlaPolicy, categories: Collection[str]) -> list[tuple[str, str]]:
    """(path, message) for every category override of ``policy`` that is not in ``categories``."""
    return _category_issues(((k.value, cp.by_category) for k, cp in policy.clocks.items()), categories)


def check_categories(policy: SlaPolicy, categories: Collection[str], source: str = "<policy>") -> SlaPolicy:
    """``policy`` itself when every override names a known category; else :class:`PolicyError`."""
    issues = category_issues(policy, categories)
    if issues:
        raise PolicyError(source, issues)
    return policy


def _raw_category_issues(doc: dict[str, Any], categories: Collection[str]) -> list[tuple[str, str]]:
    clocks = doc.get("clocks")
    if not isinstance(clocks, dict):
        return []
    pairs = []
    for kind, cp in clocks.items():
        if isinstance(cp, dict) and isinstance(cp.get("by_category"), dict):
            pairs.append((str(kind), cp["by_category"]))
    return _category_issues(pairs, categories)


def _category_issues(
    by_kind: Iterable[tuple[str, Iterable[object]]], categories: Collection[str]
) -> list[tuple[str, str]]:
    known = sorted(set(categories))
    out: list[tuple[str, str]] = []
    for kind, codes in by_kind:
        for code in codes:
            if str(code) in known:
                continue
            close = _close_categories(str(code), known)
            maybe = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            listed = ", ".join(known) if known else "none"
            out.append(
                (
                    f"clocks.{kind}.by_category.{code}",
                    f"{RULE_UNKNOWN_CATEGORY}: {str(code)!r} is not a category of the city catalogue, so no case "
                    f"would ever get this budget{maybe} (known categories: {listed})",
                )
            )
    return out


def _close_categories(code: str, known: list[str]) -> list[str]:
    """Known codes the unknown ``code`` may have meant: same words first (``power`` → ``power-outage``)."""
    words = set(re.split(r"[-_\s]+", code.lower()))
    same_words = sorted(
        (k for k in known if words & set(k.split("-"))),
        key=lambda k: -difflib.SequenceMatcher(None, code.lower(), k).ratio(),
    )
    spelled = difflib.get_close_matches(code.lower(), known, n=3, cutoff=0.6)
    return list(dict.fromkeys([*same_words, *spelled]))[:3]


def horizon_days(policy: SlaPolicy, *, longest_holiday_days: int = 9) -> int:
    """How many calendar days ahead a clock started today can reach, at most.

    The longest rule plus its last escalation rung; working time is stretched to calendar days
    (five working days a week) plus ``longest_holiday_days`` (the Spring Festival break).
    """
    longest = 0.0
    for cp in policy.clocks.values():
        rules = [cp.urgent, cp.ordinary]
        for cr in cp.by_category.values():
            rules.extend(r for r in (cr.urgent, cr.ordinary) if r is not None)
        for rule in rules:
            days = _calendar_days(rule.duration, rule.working_time, policy.working_day)
            if rule.ladder:
                last = max(rule.ladder, key=lambda r: _calendar_days(r.delay, r.working_time, policy.working_day))
                days += _calendar_days(last.delay, last.working_time, policy.working_day)
            longest = max(longest, days)
    return math.ceil(longest) + longest_holiday_days


def _calendar_days(amount: timedelta, working: bool, working_day: timedelta) -> float:
    if working:
        return amount / working_day * 7 / 5
    return amount / timedelta(days=1)


def _parse_working_day(raw: object) -> timedelta:
    if raw is None:
        return DEFAULT_WORKING_DAY
    if isinstance(raw, timedelta):
        value = raw
    elif isinstance(raw, str):
        value = parse_amount(raw, working=False)
    else:
        raise ValueError(f"write working_day as a duration like '7h', got {raw!r}")
    if not timedelta(0) < value <= timedelta(days=1):
        raise ValueError("working_day must be more than 0 and at most 24h")
    return value


def load_policy(path: Path, *, categories: Collection[str] | None = None) -> SlaPolicy:
    """Load and validate a policy YAML file; raises :class:`PolicyError` when it is invalid.

    With ``categories`` (the codes of the city's catalogue), category overrides must name one.
    """
    import yaml

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(source, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(source, [("", f"not valid YAML: {exc}")]) from None
    return policy_from_mapping(data, source, categories=categories)


DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")


def default_policy() -> SlaPolicy:
    """The built-in policy (``workflows/sla/default_policy.yaml``)."""
    return load_policy(DEFAULT_POLICY_FILE)


def active_policy(policy_file: Path | None, *, categories: Collection[str] | None = None) -> SlaPolicy:
    """``policy_file`` when given (``Settings.policy_file``), else the built-in policy.

    With ``categories``, category overrides must name categories of the city's catalogue.
    """
    return load_policy(policy_file or DEFAULT_POLICY_FILE, categories=categories)


# --- error messages -----------------------------------------------------------------------------


def _issues(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc: list[str | int] = [*prefix, *err["loc"]]
        message = err["msg"]
        etype = err["type"]
        ctx = err.get("ctx") or {}
        error = ctx.get("error")
        if isinstance(error, _FieldIssue):
            loc.extend(error.sub)
            message = str(error)
        elif etype == "value_error":
            message = message.removeprefix("Value error, ")
        elif etype == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            if _is_urgency_slot(loc):
                known = ", ".join(u.value for u in Urgency)
                extra = " or by_category" if len(loc) == 3 else ""
                message = f"{RULE_UNKNOWN_URGENCY}: unknown key {loc[-1]!r}: expected an urgency ({known}){extra}"
        elif etype == "missing":
            message = "required but missing"
        elif etype == "enum":
            expected = ctx.get("expected", "")
            if loc and loc[-1] == "[key]":
                loc = loc[:-1]
                if len(loc) == 2 and loc[0] == "clocks":
                    message = f"{RULE_UNKNOWN_CLOCK_KIND}: unknown clock kind {err['input']!r}; expected {expected}"
                else:
                    message = f"unknown key {err['input']!r}; expected {expected}"
            elif "recipients" in loc:
                message = f"{RULE_UNKNOWN_RECIPIENT}: unknown recipient level {err['input']!r}; expected {expected}"
            else:
                message = f"unknown value {err['input']!r}; expected {expected}"
        elif etype in ("time_delta_parsing", "time_delta_type"):
            message = f"bad duration {err['input']!r}: write e.g. '30m', '2h30m working', '7d calendar'"
        out.append((_format_loc(loc), message))
    return out


def _is_urgency_slot(loc: list[str | int]) -> bool:
    """``clocks.<kind>.<urgency>`` or ``clocks.<kind>.by_category.<code>.<urgency>``."""
    if not loc or loc[0] != "clocks":
        return False
    return len(loc) == 3 or (len(loc) == 5 and loc[2] == "by_category")


def _format_loc(loc: list[str | int]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
