"""Closed-loop KPIs of case handling (response, resolution, satisfaction ...), computed from the read model.

(Prometheus instruments are another thing: :mod:`activities.instruments`, :mod:`workers.observability`.)

Two steps, so every formula can be checked by hand:

1. :func:`load_facts` reads plain per-case facts (:class:`CaseFacts`) and per-assignment facts
   (:class:`AssignmentFacts`) from the read-model tables;
2. pure functions compute each metric from those facts (no SQL, no clock: ``as_of`` is a
   parameter), and :func:`compute` bundles them into a :class:`MetricSet`. :func:`slice_metrics`
   groups by district, street, community, grid, department, category or period (month), and
   :func:`ranking` ranks streets or departments for a month.

The work inside the handling units has facts of its own: :func:`load_work_facts` reads one
:class:`WorkFacts` per internal-review event, interim reply and correction from the cases'
timelines; :func:`work_by_unit` gives each unit's sent-back and interim-reply on-time rates and
its corrections (:class:`UnitWork`), :func:`corrections_by_category` the corrections per
category, and :func:`person_load` each handler's (承办人) open and closed cases.

The formulas are documented in ``docs/metrics.md``. A rate whose denominator is zero is ``None``
(shown as "-"), never 0.

Durations are in *policy hours*: a case that ran on compressed SLA time (``time_scale`` = wall-clock
seconds per policy hour) counts ``wall seconds / time_scale``; a real-time case counts its wall-clock
hours. :attr:`MetricSet.compressed_cases` says how many cases of a slice ran compressed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, select

from events.times import as_utc, city_time
from readmodel import tables as t
from readmodel.projection import TERMINAL_STATUSES, detail_value

SliceBy = Literal["district", "street", "community", "grid", "department", "category", "period"]
SLICES: tuple[str, ...] = ("district", "street", "community", "grid", "department", "category", "period")
#: Closure types that count for the on-time closure rate (``special`` ones do not).
EVALUATED_CLOSURES = frozenset({"normal", "overdue", "error"})


@dataclass(frozen=True)
class CaseFacts:
    """What the metrics need to know about one case."""

    case_id: str
    status: str
    opened_at: datetime
    category: str | None = None
    channel: str | None = None
    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None
    departments: frozenset[str] = frozenset()  # ever dispatched to, or summoned by a whistle
    street_handled: bool = False  # ever dispatched to a street
    responded_on_time: bool | None = None  # contact clock: met True, late/breached False, none/pending None
    resolved_on_time: bool | None = None  # resolve clocks: see :func:`resolve_outcome`
    first_resolved_at: datetime | None = None
    resolved_at: datetime | None = None  # the final resolution (cleared by rework/reopening until re-resolved)
    closed_at: datetime | None = None
    closure_type: str | None = None
    rating: str | None = None  # rating of the last valid callback (resident reached)
    callback_resolved: bool | None = None  # the resident said solved, at the last valid callback
    reworked: bool = False  # any rework (failed verification) or reopening (unsatisfied callback)
    whistled: bool = False
    self_handled: bool = False  # resolved by the grid itself
    breached: bool = False
    next_due_at: datetime | None = None
    excluded: bool = False  # appeal granted: out of the evaluation
    time_scale: float | None = None  # wall-clock seconds per policy hour on compressed time; None = real time
    unit_kind: str | None = None  # the unit handling the case now (None: with the hotline)
    unit_id: str | None = None
    handler_id: str | None = None  # the member of that unit it is with (承办人), or was when it finished

    @property
    def period(self) -> str:
        """Month the case was opened, local time (``YYYY-MM``)."""
        return month_of(self.opened_at)

    @property
    def open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    @property
    def compressed(self) -> bool:
        """The case ran on compressed SLA time."""
        return self.time_scale is not None


@dataclass(frozen=True)
class AssignmentFacts:
    """One dispatch or whistle summons of a unit."""

    case_id: str
    kind: str  # dispatch | whistle
    unit_kind: str
    unit_id: str
    returned: bool = False
    first_on_time: bool | None = None  # accepted (dispatch) / reported in (whistle) before the deadline


@dataclass
class MetricSet:
    """Every metric for one slice of cases. Rates are fractions in [0, 1], or ``None``."""

    cases: int = 0
    response_rate: float | None = None
    resolution_rate: float | None = None
    satisfaction_rate: float | None = None
    composite: float | None = None
    on_time_resolution_rate: float | None = None
    on_time_closure_rate: float | None = None
    rework_rate: float | None = None
    return_rate: float | None = None
    whistle_rate: float | None = None
    on_time_report_in_rate: float | None = None
    grid_self_handled_share: float | None = None
    mean_handling_hours: float | None = None
    p90_handling_hours: float | None = None
    overdue_open: int = 0
    open: int = 0
    closed: int = 0
    valid_callbacks: int = 0
    compressed_cases: int = 0  # evaluated cases that ran on compressed time (their durations are policy hours)
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}


RATE_FIELDS: tuple[str, ...] = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "composite",
    "on_time_resolution_rate",
    "on_time_closure_rate",
    "rework_rate",
    "return_rate",
    "whistle_rate",
    "on_time_report_in_rate",
    "grid_self_handled_share",
)


def month_of(when: datetime) -> str:
    """``YYYY-MM`` of ``when`` in local (Asia/Shanghai) time."""
    return city_time(when, "%Y-%m")


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


# --- the formulas -------------------------------------------------------------------------------


def evaluated(cases: Iterable[CaseFacts]) -> list[CaseFacts]:
    """The cases that count: not rejected, not merged into another, no granted appeal."""
    return [c for c in cases if c.status not in ("rejected", "merged") and not c.excluded]


def response_rate(cases: Sequence[CaseFacts]) -> float | None:
    """响应率 = cases whose resident was contacted before the contact deadline / cases with a known outcome."""
    known = [c for c in cases if c.responded_on_time is not None]
    return _ratio(sum(1 for c in known if c.responded_on_time), len(known))


def valid_callbacks(cases: Sequence[CaseFacts]) -> list[CaseFacts]:
    """Cases whose last callback reached the resident."""
    return [c for c in cases if c.rating is not None and c.rating != "unreachable"]


def resolution_rate(cases: Sequence[CaseFacts]) -> float | None:
    """解决率 = valid callbacks where the resident says the problem is solved / valid callbacks."""
    valid = valid_callbacks(cases)
    return _ratio(sum(1 for c in valid if c.callback_resolved), len(valid))


def satisfaction_rate(cases: Sequence[CaseFacts], basic_weight: float = 0.9) -> float | None:
    """满意率 = (满意 + basic_weight × 基本满意) / valid callbacks."""
    valid = valid_callbacks(cases)
    if not valid:
        return None
    satisfied = sum(1 for c in valid if c.rating == "satisfied")
    basic = sum(1 for c in valid if c.rating == "basically_satisfied")
    return (satisfied + basic_weight * basic) / len(valid)


def composite_score(
    response: float | None,
    resolution: float | None,
    satisfaction: float | None,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> float | None:
    """综合 = w₁ × response + w₂ × resolution + w₃ × satisfaction; ``None`` if any part is unknown."""
    if response is None or resolution is None or satisfaction is None:
        return None
    return weights[0] * response + weights[1] * resolution + weights[2] * satisfaction


def on_time_resolution_rate(cases: Sequence[CaseFacts]) -> float | None:
    """按时办结率 = cases resolved within every resolve deadline / cases with a known resolve outcome."""
    known = [c for c in cases if c.resolved_on_time is not None]
    return _ratio(sum(1 for c in known if c.resolved_on_time), len(known))


def on_time_closure_rate(cases: Sequence[CaseFacts]) -> float | None:
    """按时结案率 = closed with closure type ``normal`` / closed as normal, overdue or error."""
    closed = [c for c in cases if c.status == "closed" and c.closure_type in EVALUATED_CLOSURES]
    return _ratio(sum(1 for c in closed if c.closure_type == "normal"), len(closed))


def rework_rate(cases: Sequence[CaseFacts]) -> float | None:
    """返工率 = cases reworked or reopened / cases resolved at least once."""
    resolved = [c for c in cases if c.first_resolved_at is not None]
    return _ratio(sum(1 for c in resolved if c.reworked), len(resolved))


def return_rate(assignments: Sequence[AssignmentFacts]) -> float | None:
    """退单率 = dispatches returned by the unit / dispatches."""
    dispatches = [a for a in assignments if a.kind == "dispatch"]
    return _ratio(sum(1 for a in dispatches if a.returned), len(dispatches))


def whistle_rate(cases: Sequence[CaseFacts]) -> float | None:
    """吹哨率 = cases where the street blew the whistle / cases handled by a street."""
    street = [c for c in cases if c.street_handled]
    return _ratio(sum(1 for c in street if c.whistled), len(street))


def on_time_report_in_rate(assignments: Sequence[AssignmentFacts]) -> float | None:
    """按时报到率 = whistle summons reported in before the deadline / summons with a known outcome."""
    known = [a for a in assignments if a.kind == "whistle" and a.first_on_time is not None]
    return _ratio(sum(1 for a in known if a.first_on_time), len(known))


def grid_self_handled_share(cases: Sequence[CaseFacts]) -> float | None:
    """网格自办率 = cases resolved by the grid itself / cases resolved at least once."""
    resolved = [c for c in cases if c.first_resolved_at is not None]
    return _ratio(sum(1 for c in resolved if c.self_handled), len(resolved))


def policy_hours(wall_seconds: float, time_scale: float | None) -> float:
    """Policy hours that ``wall_seconds`` of wall-clock time stand for: ``seconds / time_scale`` on
    compressed time, ``seconds / 3600`` in real time (``time_scale`` ``None``)."""
    return wall_seconds / (time_scale if time_scale is not None else 3600.0)


def handling_hours(cases: Sequence[CaseFacts]) -> list[float]:
    """Policy hours from opening to the final resolution, for resolved cases.

    A compressed case counts its wall-clock seconds divided by its time scale; a real-time case its
    wall-clock hours.
    """
    return [
        policy_hours((c.resolved_at - c.opened_at).total_seconds(), c.time_scale)
        for c in cases
        if c.resolved_at is not None
    ]


def mean(values: Sequence[float]) -> float | None:
    return None if not values else sum(values) / len(values)


def p90(values: Sequence[float]) -> float | None:
    """90th percentile, nearest rank: the smallest value with at least 90 % of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def is_overdue(case: CaseFacts, as_of: datetime) -> bool:
    """Open, and a clock breached or a running clock past its due time at ``as_of``."""
    if not case.open:
        return False
    return case.breached or (case.next_due_at is not None and case.next_due_at < as_of)


def overdue_open(cases: Sequence[CaseFacts], as_of: datetime) -> int:
    """超期未办结 = open cases with a breached clock or a running clock past due at ``as_of``."""
    return sum(1 for c in cases if is_overdue(c, as_of))


def compute(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> MetricSet:
    """Every metric over ``cases`` (evaluated ones only) and their ``assignments``."""
    ev = evaluated(cases)
    ids = {c.case_id for c in ev}
    asg = [a for a in assignments if a.case_id in ids]
    hours = handling_hours(ev)
    resp = response_rate(ev)
    resol = resolution_rate(ev)
    sat = satisfaction_rate(ev, basic_weight)
    return MetricSet(
        cases=len(ev),
        response_rate=resp,
        resolution_rate=resol,
        satisfaction_rate=sat,
        composite=composite_score(resp, resol, sat, weights),
        on_time_resolution_rate=on_time_resolution_rate(ev),
        on_time_closure_rate=on_time_closure_rate(ev),
        rework_rate=rework_rate(ev),
        return_rate=return_rate(asg),
        whistle_rate=whistle_rate(ev),
        on_time_report_in_rate=on_time_report_in_rate(asg),
        grid_self_handled_share=grid_self_handled_share(ev),
        mean_handling_hours=mean(hours),
        p90_handling_hours=p90(hours),
        overdue_open=overdue_open(ev, as_of),
        open=sum(1 for c in ev if c.open),
        closed=sum(1 for c in ev if c.status == "closed"),
        valid_callbacks=len(valid_callbacks(ev)),
        compressed_cases=sum(1 for c in ev if c.compressed),
    )


# --- slicing and ranking -------------------------------------------------------------------------

_CASE_KEYS: dict[str, Callable[[CaseFacts], str | None]] = {
    "district": lambda c: c.district_id,
    "street": lambda c: c.street_id,
    "community": lambda c: c.community_id,
    "grid": lambda c: c.grid_id,
    "category": lambda c: c.category,
    "period": lambda c: c.period,
}


def slice_metrics(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    by: str,
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> dict[str, MetricSet]:
    """Metrics per value of ``by`` (sorted by key).

    ``department``: a case counts for every department it was dispatched to or summoned by a
    whistle; the assignment metrics (return, report-in) use only that department's assignments.
    The other slices group cases by their location, category or opening month.

    Raises:
        ValueError: ``by`` is not one of :data:`SLICES`.
    """
    if by not in SLICES:
        raise ValueError(f"by: must be one of {', '.join(SLICES)}, got {by!r}")
    groups: dict[str, list[CaseFacts]] = defaultdict(list)
    if by == "department":
        for c in cases:
            for d in c.departments:
                groups[d].append(c)
    else:
        key = _CASE_KEYS[by]
        for c in cases:
            k = key(c)
            if k is not None:
                groups[k].append(c)
    out: dict[str, MetricSet] = {}
    for k in sorted(groups):
        if by == "department":
            asg = [a for a in assignments if a.unit_kind == "department" and a.unit_id == k]
        else:
            asg = list(assignments)
        out[k] = compute(groups[k], asg, as_of=as_of, basic_weight=basic_weight, weights=weights)
    return out


@dataclass(frozen=True)
class RankRow:
    rank: int
    key: str
    metrics: MetricSet


def _rank_key(item: tuple[str, MetricSet]) -> tuple[float, float, float, int, str]:
    key, m = item
    # Composite first; a unit without a composite sorts after every unit with one.
    return (
        -(m.composite if m.composite is not None else -1.0),
        -(m.on_time_resolution_rate if m.on_time_resolution_rate is not None else -1.0),
        -(m.satisfaction_rate if m.satisfaction_rate is not None else -1.0),
        m.overdue_open,
        key,
    )


def ranking(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    by: str,
    period: str,
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> list[RankRow]:
    """Monthly ranking of ``by`` (street, department, grid...) among cases opened in ``period``.

    Ordered by composite (highest first), then on-time resolution, satisfaction, fewer overdue open
    cases and the key; equal sort keys share a rank.
    """
    in_period = [c for c in cases if c.period == period]
    sliced = slice_metrics(in_period, assignments, by, as_of=as_of, basic_weight=basic_weight, weights=weights)
    ordered = sorted(sliced.items(), key=_rank_key)
    rows: list[RankRow] = []
    for i, (k, m) in enumerate(ordered):
        rank = i + 1
        if rows and _rank_key((k, m))[:4] == _rank_key((rows[-1].key, rows[-1].metrics))[:4]:
            rank = rows[-1].rank
        rows.append(RankRow(rank=rank, key=k, metrics=m))
    return rows


# --- the work inside the units: internal review, interim replies, corrections, each person's load ---

#: Timeline event types of the internal review (审核签发).
REVIEW_TYPES: tuple[str, ...] = ("case.reply_submitted", "case.reply_sent_back", "case.reply_approved")
#: The timeline event type of an interim reply (阶段性答复).
INTERIM_TYPE = "case.interim_replied"
#: Timeline event types of the hotline's corrections, and the kind each counts as.
CORRECTION_KINDS: dict[str, str] = {
    "case.reclassified": "reclassified",
    "case.urgency_changed": "urgency_changed",
    "case.relocated": "relocated",
}
WORK_TYPES: tuple[str, ...] = (*REVIEW_TYPES, INTERIM_TYPE, *CORRECTION_KINDS)
#: The key of :func:`work_by_unit` for corrections made while no unit had the case (before dispatch).
NO_UNIT = "-"


@dataclass(frozen=True)
class WorkFacts:
    """One event of the work inside a unit (a reply submitted, sent back or approved; an interim reply)
    or one correction by the hotline, as the case's timeline has it."""

    case_id: str
    seq: int
    type: str  # one of :data:`WORK_TYPES`
    occurred_at: datetime
    unit_kind: str | None = None  # the unit the event is about: the handling unit at the time
    unit_id: str | None = None
    on_time: bool | None = None  # an interim reply given by its due time (None for other events)

    @property
    def unit(self) -> str:
        """``kind:id`` of the unit, or :data:`NO_UNIT`."""
        return f"{self.unit_kind}:{self.unit_id}" if self.unit_kind and self.unit_id else NO_UNIT


@dataclass(frozen=True)
class CorrectionCounts:
    """Corrections by the hotline, by kind."""

    reclassified: int = 0  # 改类
    urgency_changed: int = 0  # 加急 / 降级
    relocated: int = 0  # 改址

    @property
    def total(self) -> int:
        return self.reclassified + self.urgency_changed + self.relocated


@dataclass(frozen=True)
class UnitWork:
    """The work inside one unit (or over every unit): its internal review, interim replies and the
    corrections made to its cases."""

    replies_submitted: int = 0
    replies_sent_back: int = 0
    replies_approved: int = 0
    sent_back_rate: float | None = None  # 退回重办率
    interim_replies: int = 0
    interim_on_time: int = 0
    interim_on_time_rate: float | None = None  # 阶段性答复按时率
    corrections: CorrectionCounts = CorrectionCounts()


@dataclass(frozen=True)
class PersonLoad:
    """One handler's (承办人) cases in one unit: open ones now, and those closed in the period."""

    handler_id: str
    unit_kind: str | None
    unit_id: str | None
    open: int = 0
    overdue: int = 0  # of the open ones, overdue at ``as_of``
    closed: int = 0  # closed (结案) in the period


def sent_back_rate(events: Iterable[WorkFacts]) -> float | None:
    """退回重办率 = replies the reviewer sent back ÷ replies submitted for review."""
    events = list(events)
    submitted = sum(1 for e in events if e.type == "case.reply_submitted")
    return _ratio(sum(1 for e in events if e.type == "case.reply_sent_back"), submitted)


def interim_on_time_rate(events: Iterable[WorkFacts]) -> float | None:
    """阶段性答复按时率 = interim replies given by their due time ÷ interim replies."""
    replies = [e for e in events if e.type == INTERIM_TYPE]
    return _ratio(sum(1 for e in replies if e.on_time), len(replies))


def correction_counts(events: Iterable[WorkFacts]) -> CorrectionCounts:
    """The corrections among ``events``, by kind."""
    kinds = [CORRECTION_KINDS[e.type] for e in events if e.type in CORRECTION_KINDS]
    return CorrectionCounts(
        reclassified=kinds.count("reclassified"),
        urgency_changed=kinds.count("urgency_changed"),
        relocated=kinds.count("relocated"),
    )


def unit_work(events: Sequence[WorkFacts]) -> UnitWork:
    """Every figure of the work inside the units over ``events``."""
    return UnitWork(
        replies_submitted=sum(1 for e in events if e.type == "case.reply_submitted"),
        replies_sent_back=sum(1 for e in events if e.type == "case.reply_sent_back"),
        replies_approved=sum(1 for e in events if e.type == "case.reply_approved"),
        sent_back_rate=sent_back_rate(events),
        interim_replies=sum(1 for e in events if e.type == INTERIM_TYPE),
        interim_on_time=sum(1 for e in events if e.type == INTERIM_TYPE and e.on_time),
        interim_on_time_rate=interim_on_time_rate(events),
        corrections=correction_counts(events),
    )


def _evaluated_events(cases: Sequence[CaseFacts], events: Iterable[WorkFacts]) -> list[WorkFacts]:
    ids = {c.case_id for c in evaluated(cases)}
    return [e for e in events if e.case_id in ids]


def work_by_unit(cases: Sequence[CaseFacts], events: Iterable[WorkFacts]) -> dict[str, UnitWork]:
    """:class:`UnitWork` per unit (``kind:id``, sorted) over the events of the evaluated ``cases``.

    A reply or interim reply counts for the unit that gave it, a correction for the unit handling
    the case when it was made (:data:`NO_UNIT` when none was: before dispatch, or after a recall).
    """
    groups: dict[str, list[WorkFacts]] = defaultdict(list)
    for e in _evaluated_events(cases, events):
        groups[e.unit].append(e)
    return {k: unit_work(groups[k]) for k in sorted(groups)}


def corrections_by_category(cases: Sequence[CaseFacts], events: Iterable[WorkFacts]) -> dict[str, CorrectionCounts]:
    """Corrections per category (sorted) of the evaluated ``cases``: each case's corrections count for
    its category as it stands (after any reclassification, the corrected one). Categories whose
    cases had no correction are left out."""
    category = {c.case_id: c.category or NO_UNIT for c in evaluated(cases)}
    groups: dict[str, list[WorkFacts]] = defaultdict(list)
    for e in _evaluated_events(cases, events):
        if e.type in CORRECTION_KINDS:
            groups[category[e.case_id]].append(e)
    return {k: correction_counts(groups[k]) for k in sorted(groups)}


def person_load(cases: Sequence[CaseFacts], period: str, *, as_of: datetime) -> list[PersonLoad]:
    """Each handler's cases per unit: open now (and of them overdue at ``as_of``), and closed in
    ``period`` (local month of ``closed_at``), over the evaluated ``cases`` that have a handler.

    A case counts for the handler it is with now (or was with when it finished); a case dispatched
    to another unit or recalled by the hotline has none until the next unit assigns it. Most open
    cases first, then by unit and handler id.
    """
    rows: dict[tuple[str | None, str | None, str], list[CaseFacts]] = defaultdict(list)
    for c in evaluated(cases):
        if c.handler_id is not None:
            rows[(c.unit_kind, c.unit_id, c.handler_id)].append(c)
    out = [
        PersonLoad(
            handler_id=handler,
            unit_kind=kind,
            unit_id=ident,
            open=sum(1 for c in held if c.open),
            overdue=sum(1 for c in held if is_overdue(c, as_of)),
            closed=sum(
                1 for c in held if c.status == "closed" and c.closed_at is not None and month_of(c.closed_at) == period
            ),
        )
        for (kind, ident, handler), held in rows.items()
    ]
    out = [p for p in out if p.open or p.closed]
    out.sort(key=lambda p: (-p.open, p.unit_kind or "", p.unit_id or "", p.handler_id))
    return out


# --- loading facts from the read model -----------------------------------------------------------


def resolve_outcome(clock_rows: Sequence[tuple[str | None, datetime | None]], resolved: bool) -> bool | None:
    """On-time resolution from a case's resolve clocks, as ``(outcome, breached_at)`` pairs.

    ``False`` if any resolve clock breached or stopped late; ``True`` if the case was resolved and at
    least one resolve clock stopped in time; otherwise ``None`` (no clock, or still running).
    """
    if any(outcome == "late" or breached is not None for outcome, breached in clock_rows):
        return False
    if resolved and any(outcome == "met" for outcome, _ in clock_rows):
        return True
    return None


def response_outcome(clock_rows: Sequence[tuple[str | None, datetime | None]]) -> bool | None:
    """On-time response from a case's contact clocks: met → True; late or breached → False; else None."""
    if any(outcome == "late" or breached is not None for outcome, breached in clock_rows):
        return False
    if any(outcome == "met" for outcome, _ in clock_rows):
        return True
    return None


def load_facts(engine: Engine) -> tuple[list[CaseFacts], list[AssignmentFacts]]:
    """Per-case and per-assignment facts of every case in the read model that has been opened."""
    c, a, k, cb = t.cases.c, t.assignments.c, t.clocks.c, t.callbacks.c
    u = as_utc
    with engine.connect() as conn:
        assignment_rows = conn.execute(
            select(a.case_id, a.kind, a.unit_kind, a.unit_id, a.returned_at, a.first_on_time)
        ).all()
        clock_rows = conn.execute(
            select(k.case_id, k.kind, k.outcome, k.breached_at).where(k.kind.in_(("contact", "resolve")))
        ).all()
        callback_rows = conn.execute(
            select(cb.case_id, cb.seq, cb.rating, cb.resolved).where(cb.valid.is_(True)).order_by(cb.case_id, cb.seq)
        ).all()
        case_rows = conn.execute(select(t.cases).where(c.opened_at.is_not(None))).all()

    assignments: list[AssignmentFacts] = []
    departments: dict[str, set[str]] = defaultdict(set)
    street_handled: set[str] = set()
    for r in assignment_rows:
        assignments.append(
            AssignmentFacts(
                case_id=r.case_id,
                kind=r.kind,
                unit_kind=r.unit_kind,
                unit_id=r.unit_id,
                returned=r.returned_at is not None,
                first_on_time=r.first_on_time,
            )
        )
        if r.unit_kind == "department":
            departments[r.case_id].add(r.unit_id)
        if r.kind == "dispatch" and r.unit_kind == "street":
            street_handled.add(r.case_id)
    contact: dict[str, list[tuple[str | None, datetime | None]]] = defaultdict(list)
    resolve: dict[str, list[tuple[str | None, datetime | None]]] = defaultdict(list)
    for kr in clock_rows:
        (contact if kr.kind == "contact" else resolve)[kr.case_id].append((kr.outcome, kr.breached_at))
    last_callback: dict[str, tuple[str, bool]] = {}
    for cr in callback_rows:
        last_callback[cr.case_id] = (cr.rating, bool(cr.resolved))

    cases: list[CaseFacts] = []
    for r in case_rows:
        cid = r.case_id
        resolved = r.first_resolved_at is not None
        rating, cb_resolved = last_callback.get(cid, (None, None))
        cases.append(
            CaseFacts(
                case_id=cid,
                status=r.status,
                opened_at=u(r.opened_at),
                category=r.category,
                channel=r.channel,
                district_id=r.district_id,
                street_id=r.street_id,
                community_id=r.community_id,
                grid_id=r.grid_id,
                departments=frozenset(departments.get(cid, ())),
                street_handled=cid in street_handled,
                responded_on_time=response_outcome(contact.get(cid, [])),
                resolved_on_time=resolve_outcome(resolve.get(cid, []), resolved),
                first_resolved_at=u(r.first_resolved_at),
                resolved_at=u(r.resolved_at),
                closed_at=u(r.closed_at),
                closure_type=r.closure_type,
                rating=rating,
                callback_resolved=cb_resolved,
                reworked=(r.rework_count or 0) + (r.reopen_count or 0) > 0,
                whistled=(r.whistle_count or 0) > 0,
                self_handled=bool(r.self_handled),
                breached=bool(r.breached),
                next_due_at=u(r.next_due_at),
                excluded=bool(r.excluded_from_evaluation),
                time_scale=r.time_scale,
                unit_kind=r.unit_kind,
                unit_id=r.unit_id,
                handler_id=r.handler_id,
            )
        )
    return cases, assignments


def load_work_facts(engine: Engine) -> list[WorkFacts]:
    """One :class:`WorkFacts` per internal-review event, interim reply and correction in the read model's
    timelines, in case and seq order (an interim reply's punctuality is its event's ``on_time``)."""
    tl = t.timeline.c
    q = (
        select(tl.case_id, tl.seq, tl.type, tl.occurred_at, tl.unit_kind, tl.unit_id, tl.detail)
        .where(tl.type.in_(WORK_TYPES))
        .order_by(tl.case_id, tl.seq)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        WorkFacts(
            case_id=r.case_id,
            seq=r.seq,
            type=r.type,
            occurred_at=as_utc(r.occurred_at),
            unit_kind=r.unit_kind,
            unit_id=r.unit_id,
            on_time=detail_value(r.detail, "on_time") != "False" if r.type == INTERIM_TYPE else None,
        )
        for r in rows
    ]
