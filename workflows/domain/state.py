"""The case state: one serialisable object, rebuilt from events by :func:`evolve`."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum

from pydantic import BaseModel, Field

from events.base import Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    ClosureType,
    Location,
    Rating,
    ResidentContact,
    ReturnReason,
    Urgency,
)
from workflows.sla.calendar import WorkCalendar
from workflows.sla.clocks import Clock
from workflows.sla.policy import SlaPolicy
from workflows.sla.timescale import compress

HOTLINE = UnitRef(kind=UnitKind.HOTLINE, id="12345")

#: The role whose actors act for each kind of handling unit (a street's street users, a grid's
#: grid workers, a department's department users), and the other way round.
UNIT_ROLE: dict[UnitKind, Role] = {
    UnitKind.GRID: Role.GRID_WORKER,
    UnitKind.STREET: Role.STREET,
    UnitKind.DEPARTMENT: Role.DEPARTMENT,
    UnitKind.PROPERTY: Role.PROPERTY,
    UnitKind.VOLUNTEER_TEAM: Role.VOLUNTEER,
}
ROLE_UNIT: dict[Role, UnitKind] = {role: kind for kind, role in UNIT_ROLE.items()}


class CaseStatus(StrEnum):
    NEW = "new"  # no event yet
    RECEIVED = "received"  # 受理
    REJECTED = "rejected"  # 不予受理 (terminal)
    REGISTERED = "registered"  # 立案
    DISPATCHED = "dispatched"  # 派单, awaiting 签收
    RETURNED = "returned"  # 退单, awaiting review
    HANDLING = "handling"  # accepted, being handled (incl. whistles and rework)
    RESOLVED = "resolved"  # 办结, awaiting 核查
    VERIFIED = "verified"  # 核查 passed, awaiting 回访
    CALLED_BACK = "called_back"  # 回访 done, awaiting 结案
    SHELVED = "shelved"  # 挂账
    CLOSED = "closed"  # 结案 (terminal)
    MERGED = "merged"  # merged into another case (terminal)


TERMINAL = frozenset({CaseStatus.REJECTED, CaseStatus.CLOSED, CaseStatus.MERGED})


class SlaContext(BaseModel):
    """Policy and calendar fixed when the case starts, so deadlines stay deterministic.

    ``time_scale`` (wall-clock seconds per policy hour) is set when the case runs on compressed
    time: ``policy`` is then already compressed onto continuous time (see
    :mod:`workflows.sla.timescale`), and durations given in policy time, such as an extension,
    go through :meth:`wall`.
    """

    policy: SlaPolicy
    calendar: WorkCalendar
    time_scale: float | None = None
    #: The city registry's departments when the case started (sorted): a dispatch, a re-dispatch or
    #: a whistle naming another department is refused (``registry.unknown_unit``), so no case waits
    #: for a unit that does not exist, whoever sends the command. ``None``: not checked (cases
    #: started before the registry was carried, and tests without a city).
    departments: tuple[str, ...] | None = None
    #: The sections (科室) of each unit in the city registry when the case started, by unit key
    #: (``department:housing`` → its section ids): assigning to another section is refused
    #: (``registry.unknown_section``). ``None``: not checked (cases started before sections were carried).
    sections: dict[str, tuple[str, ...]] | None = None
    #: The city catalogue's category codes when the case started (sorted): reclassifying to another
    #: code is refused (``registry.unknown_category``). ``None``: not checked.
    categories: tuple[str, ...] | None = None
    #: The work inside the unit the case runs with (internal review, interim replies, the recompute
    #: rule of corrections): the policy's, for cases started since the ``unit-work-v1`` patch;
    #: ``False`` for older cases (the workflow clears it on their replay), which keep the lifecycle
    #: they started with.
    unit_work: bool = True
    #: The city registry's property companies (物业) when the case started: id → the communities it
    #: serves (sorted). A street or community passes a case down (``delegate``), and a whistle
    #: summons, only a company serving the case's community. ``None``: not checked.
    properties: dict[str, tuple[str, ...]] | None = None
    #: The city registry's volunteer teams: id → the communities it serves. A grid calls in only a
    #: team serving the case's community. ``None``: not checked.
    volunteer_teams: dict[str, tuple[str, ...]] | None = None

    def wall(self, duration: timedelta) -> timedelta:
        """``duration`` of policy time as the clocks count it (compressed under a time scale)."""
        return compress(duration, self.time_scale)


class PendingReturn(BaseModel):
    unit: UnitRef
    reason_code: ReturnReason
    reason: str


class WhistleTaskState(BaseModel):
    department_id: str  # the summoned unit's id (a department's, or a property company's)
    task: str
    unit_kind: UnitKind = UnitKind.DEPARTMENT
    reported_in_at: datetime | None = None
    completed_at: datetime | None = None
    result: str | None = None


class WhistleRound(BaseModel):
    round: int
    street_id: str
    blown_at: datetime
    tasks: dict[str, WhistleTaskState]

    @property
    def open(self) -> bool:
        return any(t.completed_at is None for t in self.tasks.values())


class PendingReply(BaseModel):
    """A handler's reply waiting for the unit's reviewer (审核签发)."""

    unit: UnitRef
    notes: str
    evidence: list[str] = []
    submitted_by: str
    submitted_at: datetime
    round: int


class VolunteerCall(BaseModel):
    """A volunteer team the grid called in (志愿者协助), open until it reports or is released."""

    team_id: str
    task: str
    called_at: datetime
    reported_at: datetime | None = None
    released_at: datetime | None = None
    result: str | None = None

    @property
    def open(self) -> bool:
        return self.reported_at is None and self.released_at is None


class PendingExtension(BaseModel):
    unit: UnitRef
    extra: timedelta
    reason: str


class CaseState(BaseModel):
    """Everything the domain knows about one case."""

    case_id: str = ""
    status: CaseStatus = CaseStatus.NEW
    seq: int = 0
    sla: SlaContext | None = None

    # details (受理)
    channel: Channel | None = None
    category: str = ""
    urgency: Urgency = Urgency.ORDINARY
    title: str = ""
    description: str = ""
    location: Location | None = None
    contact: ResidentContact = ResidentContact()
    attachments: list[str] = []
    opened_at: datetime | None = None
    idempotency_key: str | None = None

    # assignment
    unit: UnitRef | None = None
    accepted: bool = False
    final_ruling: bool = False
    dispatch_count: int = 0
    return_count: int = 0
    units_involved: list[str] = []  # unit keys ever dispatched or summoned
    pending_return: PendingReturn | None = None
    #: The street or community that passed the case down to the property company holding it (下派):
    #: the company's return goes back to it. ``None`` when the hotline dispatched the case.
    delegated_by: UnitRef | None = None
    # inside the unit (分派 / 认领): cleared when the case is dispatched to another unit
    handler_id: str | None = None  # the member handling it (承办人)
    handler_name: str | None = None
    section_id: str | None = None  # the section (科室) whose queue it is in
    assign_count: int = 0  # assignments, reassignments and takes
    # internal review (审核签发)
    pending_reply: PendingReply | None = None
    reply_rounds: int = 0  # replies submitted for review
    sent_back_count: int = 0
    approved_by: str | None = None
    # interim replies (阶段性答复)
    interim_replies: int = 0
    last_interim_reply: str | None = None
    # corrections
    corrections: int = 0

    # handling
    contacted_at: datetime | None = None
    whistles: list[WhistleRound] = []
    volunteer_calls: list[VolunteerCall] = []
    resolved_at: datetime | None = None
    resolved_by_grid: bool = False
    rework_count: int = 0
    reopen_count: int = 0
    verified_at: datetime | None = None
    rating: Rating | None = None
    callback_resolved: bool | None = None
    pending_extension: PendingExtension | None = None
    extensions_granted: list[timedelta] = []
    paused_for_resident: bool = False
    shelved_from: CaseStatus | None = None
    terminated: bool = False
    appeal_pending: bool = False
    excluded_from_evaluation: bool = False
    merged_into: str | None = None
    duplicates: list[str] = []
    closure_type: ClosureType | None = None
    closed_at: datetime | None = None

    # SLA
    clocks: dict[str, Clock] = Field(default_factory=dict)
    clock_counter: int = 0
    breached: bool = False
    escalations: int = 0

    # --- derived views ----------------------------------------------------------------------
    @property
    def has_resident(self) -> bool:
        """Hotline and web cases have a resident to contact and call back."""
        return self.channel in (Channel.HOTLINE, Channel.WEB)

    @property
    def open_whistle(self) -> WhistleRound | None:
        for w in reversed(self.whistles):
            if w.open:
                return w
        return None

    @property
    def open_volunteer_call(self) -> VolunteerCall | None:
        return next((v for v in reversed(self.volunteer_calls) if v.open), None)

    def running_clocks(self) -> list[Clock]:
        return [c for c in self.clocks.values() if c.stopped_at is None]

    def running_clock(self, kind: str, unit_key: str | None = None) -> Clock | None:
        for c in self.clocks.values():
            if c.stopped_at is None and c.kind == kind and (unit_key is None or c.unit_key == unit_key):
                return c
        return None

    def hierarchy(self) -> dict[str, str]:
        """Recipients up the chain for this case's location (grid → … → city)."""
        loc = self.location
        h: dict[str, str] = {"city": "city", "hotline": HOTLINE.key()}
        if loc is not None:
            h.update(grid=loc.grid_id, community=loc.community_id, street=loc.street_id, district=loc.district_id)
        return h


_IMMUTABLE = (str, int, float, bool, type(None), datetime, date, timedelta, Enum)


def _copy_value(v: object) -> object:
    """A copy of ``v`` deep enough that mutating the copy in place never changes ``v``.

    Immutable values and frozen models are shared (evolve replaces them, never mutates them);
    lists, dicts and unfrozen models are copied, recursively.
    """
    if isinstance(v, _IMMUTABLE):
        return v
    if isinstance(v, BaseModel):
        if v.model_config.get("frozen"):
            return v
        return v.model_copy(update={k: _copy_value(getattr(v, k)) for k in type(v).model_fields})
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return tuple(_copy_value(x) for x in v)
    return copy.deepcopy(v)


def clone(state: CaseState) -> CaseState:
    """A copy for evolving in place: shares the (never mutated) SLA context, the frozen clocks and
    every other immutable value; copies lists, dicts and mutable models."""
    update = {k: _copy_value(getattr(state, k)) for k in type(state).model_fields if k != "sla"}
    return state.model_copy(update=update)
