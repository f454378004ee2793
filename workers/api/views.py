"""What a case looks like through the API: clocks with their SLA state, the timeline, and personal
data removed for everyone but the hotline and the resident who opened the case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from events.base import Role, UnitRef
from events.envelope import mask_event
from events.schemas import (
    CaseEvent,
    CaseReceived,
    Channel,
    ClosureType,
    Location,
    Rating,
    ResidentContact,
    Urgency,
)
from workers.api.auth import Principal
from workers.api.timeline_words import Tone, Words, timeline_words, unit_keys
from workflows.domain.state import CaseState, CaseStatus
from workflows.sla.clocks import Clock, ClockStatus

if TYPE_CHECKING:
    from workflows.domain.registry import CityRegistry


class SlaState(StrEnum):
    """How a clock (or a case, by its worst running clock) stands against its deadline."""

    ON_TIME = "on_time"
    WARNED = "warned"
    BREACHED = "breached"
    PAUSED = "paused"
    STOPPED = "stopped"
    NONE = "none"  # a case with no running clock


_RANK = {SlaState.BREACHED: 3, SlaState.WARNED: 2, SlaState.ON_TIME: 1, SlaState.PAUSED: 0}


def clock_state(clock: Clock, now: datetime) -> SlaState:
    """A clock's SLA state at ``now``: the alarms it has fired, or its due time already passed."""
    if clock.is_stopped:
        return SlaState.STOPPED
    if clock.is_paused:
        return SlaState.PAUSED
    if clock.status == ClockStatus.BREACHED or clock.breached_at is not None or now >= clock.due_at:
        return SlaState.BREACHED
    if clock.status == ClockStatus.WARNED or clock.warnings_fired:
        return SlaState.WARNED
    return SlaState.ON_TIME


class ClockView(BaseModel):
    clock_id: str
    kind: str
    unit: str = Field(description="The unit the clock runs against, e.g. street:S-1")
    started_at: datetime
    due_at: datetime
    status: str = Field(description="The clock's own status: running, paused, warned, breached, met, late, cancelled")
    sla_state: SlaState
    remaining_seconds: float | None = Field(description="Seconds left until due (negative: overdue); None if stopped")
    warnings_fired: list[float] = []
    stopped_at: datetime | None = None


class ContactView(BaseModel):
    """The resident's contact details (hotline and the resident only)."""

    resident_id: str | None = None
    name: str | None = None
    phone: str | None = None


class WhistleTaskView(BaseModel):
    department_id: str
    task: str
    reported_in_at: datetime | None = None
    completed_at: datetime | None = None
    result: str | None = None


class WhistleView(BaseModel):
    round: int
    street_id: str
    blown_at: datetime
    tasks: list[WhistleTaskView]


class TimelineEntry(BaseModel):
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    actor: str = Field(description="role:person@unit")
    details: dict[str, Any] = Field(default_factory=dict, description="The event's own fields")
    text_zh: str = Field(default="", description="The event in words, e.g. 生态环境分局 报到 — 超时 12 分钟")
    text_en: str = Field(default="", description="The event in words, e.g. 生态环境分局 reported in — 12 min late")
    tone: Tone = Field(default=Tone.INFO, description="How the entry stood against its clock")
    minor: bool = Field(default=False, description="Clock bookkeeping that an action's own words already tell")


class PendingReplyView(BaseModel):
    """A handler's reply waiting for a reviewer of the unit (审核签发)."""

    unit: UnitRef
    submitted_by: str = Field(description="The person id of the handler who submitted it")
    round: int = Field(description="1 for the first submission, +1 after each send-back")
    submitted_at: datetime
    notes: str | None = Field(default=None, description="What was done (staff only: absent for a resident)")
    evidence: list[str] = Field(default=[], description="References to the attached files (staff only)")


class PlaceView(BaseModel):
    """Where the case is, with the registry's names beside the ids."""

    district_id: str
    district_name: str | None = None
    street_id: str
    street_name: str | None = None
    community_id: str
    community_name: str | None = None
    grid_id: str
    grid_name: str | None = None


class NamedUnit(BaseModel):
    kind: str
    id: str
    name: str | None = None


class CaseView(BaseModel):
    """One case as its workflow knows it right now."""

    case_id: str
    status: CaseStatus
    channel: Channel | None = None
    category: str
    urgency: Urgency
    title: str
    description: str
    location: Location | None = None
    contact: ContactView | None = Field(default=None, description="Absent unless the caller may see personal data")
    unit: UnitRef | None = None
    units_involved: list[str] = Field(
        default=[], description="Every unit ever dispatched or summoned, e.g. department:water"
    )
    accepted: bool
    handler_id: str | None = Field(default=None, description="The member of the unit handling the case (承办人)")
    handler_name: str | None = None
    section_id: str | None = Field(default=None, description="The section (科室) whose queue the case is in")
    breached: bool
    sla_state: SlaState
    next_due_at: datetime | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    closure_type: ClosureType | None = None
    rating: Rating | None = None
    dispatch_count: int
    return_count: int
    rework_count: int
    reopen_count: int
    escalations: int
    pending_return: dict[str, Any] | None = None
    pending_extension: dict[str, Any] | None = None
    appeal_pending: bool
    pending_reply: PendingReplyView | None = Field(
        default=None, description="The reply waiting for the unit's reviewer (审核签发), if any"
    )
    reply_rounds: int = Field(default=0, description="Replies submitted for review (报审)")
    sent_back_count: int = Field(default=0, description="Replies the reviewer sent back (退回重办)")
    approved_by: str | None = Field(default=None, description="The person id of the reviewer who signed the reply off")
    interim_replies: int = Field(default=0, description="Interim replies (阶段性答复) given to the resident")
    last_interim_reply: str | None = Field(default=None, description="The text of the latest interim reply")
    corrections: int = Field(default=0, description="Corrections by the hotline: 改类, 加急 / 降级, 改址")
    merged_into: str | None = None
    duplicates: list[str] = []
    whistles: list[WhistleView] = []
    time_scale: float | None = Field(default=None, description="Wall-clock seconds per policy hour when compressed")
    clocks: list[ClockView] = []
    timeline: list[TimelineEntry] = []
    temporal_ui: str = Field(description="The case workflow in Temporal's Web UI")
    seq: int
    category_name: str | None = Field(default=None, description="The category's name in the catalogue (Chinese)")
    place: PlaceView | None = Field(default=None, description="The location's district, street, community, grid")
    unit_name: str | None = Field(default=None, description="The name of the unit handling the case")
    departments: list[NamedUnit] = Field(default=[], description="The departments summoned by whistles, in order")
    names: dict[str, str] = Field(
        default={}, description="Display names by unit key (street:S-0101, department:water, grid:G-...)"
    )


def case_sla_state(clocks: list[ClockView]) -> SlaState:
    running = [c.sla_state for c in clocks if c.sla_state != SlaState.STOPPED]
    if not running:
        return SlaState.NONE
    return max(running, key=lambda s: _RANK.get(s, 0))


def may_see_contact(p: Principal, case: CaseState) -> bool:
    return p.sees_personal_data or (case.contact.resident_id is not None and case.contact.resident_id == p.person_id)


def redact_event(event: CaseEvent, show_personal_data: bool) -> CaseEvent:
    """The event as the caller may see it: personal data removed unless they may see it."""
    if show_personal_data:
        return event
    masked = mask_event(event)
    if isinstance(masked, CaseReceived):
        masked = masked.model_copy(update={"contact": ResidentContact()})
    return masked


def timeline_entry(event: CaseEvent, words: Words | None = None) -> TimelineEntry:
    d = event.model_dump(mode="json")
    a = event.actor
    who = f"{a.role.value}:{a.person_id}" + (f"@{a.unit_id}" if a.unit_id else "")
    details = {
        k: v
        for k, v in d.items()
        if k not in ("schema_version", "event_id", "case_id", "seq", "occurred_at", "actor", "type")
    }
    return TimelineEntry(
        seq=event.seq,
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        actor=who,
        details=details,
        text_zh=words.zh if words else "",
        text_en=words.en if words else "",
        tone=words.tone if words else Tone.INFO,
        minor=words.minor if words else False,
    )


def temporal_ui_url(ui_port: int, namespace: str, case_id: str) -> str:
    return f"http://localhost:{ui_port}/namespaces/{namespace}/workflows/case-{case_id}"


def case_view(
    case: CaseState,
    timeline: list[CaseEvent],
    p: Principal,
    *,
    now: datetime | None = None,
    ui_port: int = 8233,
    namespace: str = "default",
    names: Mapping[str, str] | None = None,
) -> CaseView:
    """The case as ``p`` may see it (personal data only for the hotline and the resident), with the
    display ``names`` (by unit key, see :func:`case_names`) beside its ids and its timeline in words."""
    now = now or datetime.now(UTC)
    names = dict(names or {})
    show_pd = may_see_contact(p, case)
    shown = [redact_event(e, show_pd) for e in timeline]
    words = timeline_words(shown, names)
    clocks = []
    for c in sorted(case.clocks.values(), key=lambda c: c.started_at):
        state = clock_state(c, now)
        clocks.append(
            ClockView(
                clock_id=c.clock_id,
                kind=c.kind.value,
                unit=c.unit_key,
                started_at=c.started_at,
                due_at=c.due_at,
                status=c.status.value,
                sla_state=state,
                warnings_fired=list(c.warnings_fired),
                stopped_at=c.stopped_at,
                remaining_seconds=None if c.is_stopped else (c.due_at - now).total_seconds(),
            )
        )
    running_due = [c.due_at for c in case.running_clocks() if c.paused_at is None]
    pr = case.pending_return
    pe = case.pending_extension
    return CaseView(
        case_id=case.case_id,
        status=case.status,
        channel=case.channel,
        category=case.category,
        urgency=case.urgency,
        title=case.title,
        description=case.description,
        location=case.location,
        contact=ContactView(**case.contact.model_dump()) if show_pd else None,
        unit=case.unit,
        units_involved=list(case.units_involved),
        accepted=case.accepted,
        handler_id=case.handler_id,
        handler_name=case.handler_name,
        section_id=case.section_id,
        breached=case.breached,
        sla_state=case_sla_state(clocks),
        next_due_at=min(running_due) if running_due else None,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        closure_type=case.closure_type,
        rating=case.rating,
        dispatch_count=case.dispatch_count,
        return_count=case.return_count,
        rework_count=case.rework_count,
        reopen_count=case.reopen_count,
        escalations=case.escalations,
        pending_return=pr.model_dump(mode="json") if pr else None,
        pending_extension=pe.model_dump(mode="json") if pe else None,
        appeal_pending=case.appeal_pending,
        pending_reply=_pending_reply(case, p),
        reply_rounds=case.reply_rounds,
        sent_back_count=case.sent_back_count,
        approved_by=case.approved_by,
        interim_replies=case.interim_replies,
        last_interim_reply=case.last_interim_reply,
        corrections=case.corrections,
        merged_into=case.merged_into,
        duplicates=list(case.duplicates),
        whistles=[
            WhistleView(
                round=w.round,
                street_id=w.street_id,
                blown_at=w.blown_at,
                tasks=[WhistleTaskView(**t.model_dump()) for t in w.tasks.values()],
            )
            for w in case.whistles
        ],
        time_scale=case.sla.time_scale if case.sla else None,
        clocks=clocks,
        timeline=[timeline_entry(e, w) for e, w in zip(shown, words, strict=True)],
        temporal_ui=temporal_ui_url(ui_port, namespace, case.case_id),
        seq=case.seq,
        category_name=names.get(f"category:{case.category}"),
        place=_place(case.location, names),
        unit_name=names.get(case.unit.key()) if case.unit else None,
        departments=_summoned(case, names),
        names={k: v for k, v in names.items() if not k.startswith("category:")},
    )


def _pending_reply(case: CaseState, p: Principal) -> PendingReplyView | None:
    """The reply waiting for review; its notes and evidence for the staff, not for a resident."""
    pending = case.pending_reply
    if pending is None:
        return None
    staff = p.role != Role.RESIDENT
    return PendingReplyView(
        unit=pending.unit,
        submitted_by=pending.submitted_by,
        round=pending.round,
        submitted_at=pending.submitted_at,
        notes=pending.notes if staff else None,
        evidence=list(pending.evidence) if staff else [],
    )


def _place(loc: Location | None, names: Mapping[str, str]) -> PlaceView | None:
    if loc is None:
        return None
    return PlaceView(
        district_id=loc.district_id,
        district_name=names.get(f"district:{loc.district_id}"),
        street_id=loc.street_id,
        street_name=names.get(f"street:{loc.street_id}"),
        community_id=loc.community_id,
        community_name=names.get(f"community:{loc.community_id}"),
        grid_id=loc.grid_id,
        grid_name=names.get(f"grid:{loc.grid_id}"),
    )


def _summoned(case: CaseState, names: Mapping[str, str]) -> list[NamedUnit]:
    seen: dict[str, NamedUnit] = {}
    for w in case.whistles:
        for dept in w.tasks:
            key = f"department:{dept}"
            seen.setdefault(key, NamedUnit(kind="department", id=dept, name=names.get(key)))
    return list(seen.values())


# --- names -------------------------------------------------------------------------------------


def name_keys(case: CaseState, timeline: Iterable[CaseEvent]) -> set[str]:
    """Every unit key (``kind:id``) the case's view names: its place, its unit, the units involved,
    the departments summoned, and whatever its timeline names (plus ``category:<code>``)."""
    keys = unit_keys(list(timeline))
    keys.add(f"category:{case.category}")
    loc = case.location
    if loc is not None:
        keys |= {
            f"district:{loc.district_id}",
            f"street:{loc.street_id}",
            f"community:{loc.community_id}",
            f"grid:{loc.grid_id}",
        }
    if case.unit is not None:
        keys.add(case.unit.key())
    keys.update(case.units_involved)
    for w in case.whistles:
        keys.add(f"street:{w.street_id}")
        keys.update(f"department:{d}" for d in w.tasks)
    return keys


def case_names(registry: CityRegistry, keys: Iterable[str]) -> dict[str, str]:
    """The registry's display names of ``keys`` (``street:S-0101`` → ``泰结街道``); keys it does not
    know are left out. A registry without names (a test double) gives the categories' names only."""
    from city.registry import SqlCityRegistry

    out: dict[str, str] = {}
    for key in keys:
        kind, _, ident = key.partition(":")
        name: str | None = None
        try:
            if kind == "category":
                name = registry.category(ident).name_zh
            elif isinstance(registry, SqlCityRegistry):
                name = _registry_name(registry, kind, ident)
        except Exception:  # a name is decoration: an unknown id shows as itself
            name = None
        if name and name != ident:
            out[key] = name
    return out


def _registry_name(registry: Any, kind: str, ident: str) -> str | None:
    match kind:
        case "grid":
            return str(registry.grid(ident).name)
        case "street" | "department" | "community" | "district":
            table = {"street": "streets", "department": "departments", "community": "communities"}
            found = getattr(registry, table.get(kind, "districts")).get(ident)
            return str(found.name) if found is not None else None
        case "hotline":
            return "12345热线"
    return None
