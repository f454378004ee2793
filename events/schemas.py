"""Every case event gridcase publishes: pydantic v2 models in one discriminated union on ``type``.

Names are past tense. Each event's ``type`` is stable; its CloudEvents type on the wire is
``gridcase.<type>.v<schema_version>``. Rules for evolving a published event: add fields with
defaults only; never remove, rename or retype one (``events/schemas/*.json`` is the record and
a test compares against it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from events.base import CaseEventBase, UnitKind, UnitRef


class Channel(StrEnum):
    HOTLINE = "hotline"  # 12345 call
    WEB = "web"  # web or app submission
    GRID_PATROL = "grid_patrol"  # a grid worker's patrol report (巡查上报)
    PROACTIVE = "proactive"  # 未诉先办: handled before anyone complains


class Urgency(StrEnum):
    URGENT = "urgent"
    ORDINARY = "ordinary"


class Location(BaseModel):
    """Where the matter is, resolved through the registry to grid → community → street → district."""

    model_config = ConfigDict(frozen=True)

    grid_id: str = Field(min_length=1)
    community_id: str = Field(min_length=1)
    street_id: str = Field(min_length=1)
    district_id: str = Field(min_length=1)
    address: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ResidentContact(BaseModel):
    """Personal data of the resident. Never shown on department-facing outputs."""

    model_config = ConfigDict(frozen=True)

    resident_id: str | None = None
    name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)


class ReturnReason(StrEnum):
    TERRITORY_MISMATCH = "territory_mismatch"  # 属地不符
    UNCLEAR_OWNERSHIP = "unclear_ownership"  # 权属不清
    OVERLAPPING_DUTIES = "overlapping_duties"  # 职能交叉
    OTHER = "other"


class ReviewDecision(StrEnum):
    REDISPATCH = "redispatch"  # send it elsewhere
    INSIST = "insist"  # final ruling (审定): the unit must handle it


class AssignMode(StrEnum):
    """How a case reached its handler inside the unit."""

    ASSIGNED = "assigned"  # 分派: the unit gave it to a member (承办人) or a section (科室)
    REASSIGNED = "reassigned"  # 改派: moved to another member or section of the same unit
    TAKEN = "taken"  # 认领: a member took it from the unit's inbox


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意
    UNREACHABLE = "unreachable"  # resident could not be reached: not a valid callback


class ClosureType(StrEnum):
    NORMAL = "normal"  # 正常
    OVERDUE = "overdue"  # 超时
    ERROR = "error"  # 差错
    SPECIAL = "special"  # 特殊 (terminated, merged, shelved)


class ClockKind(StrEnum):
    ACCEPT = "accept"  # 签收
    CONTACT = "contact"  # 响应
    REPORT_IN = "report_in"  # 报到
    RESOLVE = "resolve"  # 办结
    VERIFY = "verify"  # 核查
    CALLBACK = "callback"  # 回访
    RETURN_REVIEW = "return_review"  # 退单审核
    REPLY_REVIEW = "reply_review"  # 审核签发: the unit's reviewer signs the handler's reply off
    INTERIM_REPLY = "interim_reply"  # 阶段性答复: the next progress report to the resident is due


class RecomputeMode(StrEnum):
    """How a running clock is recomputed when a correction changes its rule (ServiceNow's terms)."""

    RETROACTIVE = "retroactive"  # as if the new rule had held since the clock started
    FROM_NOW = "from_now"  # the new rule's full budget, counted from the correction


class ClockOutcome(StrEnum):
    MET = "met"  # stopped before its due time
    LATE = "late"  # stopped after its due time
    CANCELLED = "cancelled"  # no longer relevant (case returned, merged, terminated...)


class EscalationLevel(StrEnum):
    REMINDER = "reminder"  # 催办
    SUPERVISION = "supervision"  # 督办
    PUBLIC_NOTICE = "public_notice"  # 通报


#: The kinds of unit a street's whistle may summon.
SUMMONABLE_KINDS = (UnitKind.DEPARTMENT, UnitKind.PROPERTY)


class WhistleTask(BaseModel):
    """One unit summoned by a whistle and its task. ``department_id`` is the summoned unit's id; for
    a property company (``unit_kind`` ``property``) it is the company's id."""

    model_config = ConfigDict(frozen=True)

    department_id: str = Field(min_length=1)
    task: str = Field(min_length=1, max_length=2000)
    unit_kind: UnitKind = UnitKind.DEPARTMENT

    @field_validator("unit_kind")
    @classmethod
    def _summonable(cls, v: UnitKind) -> UnitKind:
        if v not in SUMMONABLE_KINDS:
            raise ValueError(f"a whistle summons a department or a property company, not a {v.value}")
        return v

    def unit(self) -> UnitRef:
        return UnitRef(kind=self.unit_kind, id=self.department_id)


# --- intake --------------------------------------------------------------------------------------


class CaseReceived(CaseEventBase):
    """受理: a complaint was received and a case opened."""

    type: Literal["case.received"] = "case.received"
    channel: Channel
    category: str
    urgency: Urgency
    title: str
    description: str
    location: Location
    contact: ResidentContact = ResidentContact()
    attachments: list[str] = []
    idempotency_key: str | None = None


class CaseRejected(CaseEventBase):
    """不予受理: the complaint is not a valid case (reason given)."""

    type: Literal["case.rejected"] = "case.rejected"
    reason: str


class CaseRegistered(CaseEventBase):
    """立案: the case is registered for handling."""

    type: Literal["case.registered"] = "case.registered"
    note: str | None = None


# --- dispatch, accept, return -------------------------------------------------------------------


class CaseDispatched(CaseEventBase):
    """派单: the case was sent to a street, a grid or a department."""

    type: Literal["case.dispatched"] = "case.dispatched"
    unit: UnitRef
    note: str | None = None
    final_ruling: bool = False  # after an insisted review: no further return allowed
    #: Set when the street or community handling the case passed it down to a property company
    #: (下派物业), not the hotline: a return then goes back to this unit, not to the hotline's review.
    by: UnitRef | None = None


class CaseAccepted(CaseEventBase):
    """签收: the handling unit accepted the case."""

    type: Literal["case.accepted"] = "case.accepted"
    unit: UnitRef


class CaseReturned(CaseEventBase):
    """退单: the unit says it is not responsible, with reason and evidence."""

    type: Literal["case.returned"] = "case.returned"
    unit: UnitRef
    reason_code: ReturnReason
    reason: str
    evidence: list[str] = []
    #: A case a street or community passed down (``CaseDispatched.by``) goes straight back to that
    #: unit, which handles it again; ``None``: to the hotline's review (退单审核).
    to: UnitRef | None = None


class ReturnReviewed(CaseEventBase):
    """The dispatcher reviewed a return: re-dispatch elsewhere or insist (final ruling)."""

    type: Literal["case.return_reviewed"] = "case.return_reviewed"
    decision: ReviewDecision
    ruling: str
    returned_by: UnitRef


class CaseAssigned(CaseEventBase):
    """分派 / 改派 / 认领: inside the unit handling the case, it went to a member (承办人), a section
    (科室), or both. Dispatching the case to another unit clears both."""

    type: Literal["case.assigned"] = "case.assigned"
    unit: UnitRef
    mode: AssignMode
    handler_id: str | None = None  # the member handling it now (None: the section's queue)
    handler_name: str | None = None
    section_id: str | None = None
    previous_handler_id: str | None = None
    previous_section_id: str | None = None
    note: str | None = None


# --- handling -----------------------------------------------------------------------------------


class ResidentContacted(CaseEventBase):
    """响应: first contact with the resident, or arrival on site."""

    type: Literal["case.resident_contacted"] = "case.resident_contacted"
    unit: UnitRef
    note: str | None = None


class WhistleBlown(CaseEventBase):
    """吹哨: the street summoned departments, each with a task."""

    type: Literal["case.whistle_blown"] = "case.whistle_blown"
    round: int = Field(ge=1)
    street_id: str
    tasks: list[WhistleTask]
    reason: str | None = None


class DepartmentReportedIn(CaseEventBase):
    """报到: a summoned department reported in."""

    type: Literal["case.department_reported_in"] = "case.department_reported_in"
    round: int
    department_id: str
    unit_kind: UnitKind = UnitKind.DEPARTMENT  # or property: a property company summoned
    note: str | None = None


class DepartmentTaskCompleted(CaseEventBase):
    """A summoned department finished its part."""

    type: Literal["case.department_task_completed"] = "case.department_task_completed"
    round: int
    department_id: str
    unit_kind: UnitKind = UnitKind.DEPARTMENT  # or property: a property company summoned
    result: str
    evidence: list[str] = []


class CaseResolved(CaseEventBase):
    """办结: the handler declares the matter resolved."""

    type: Literal["case.resolved"] = "case.resolved"
    unit: UnitRef
    notes: str
    evidence: list[str] = []
    by_grid: bool = False  # resolved by the grid itself (小事不出网格)


class CaseVerified(CaseEventBase):
    """核查: the grid worker checked the fix on site."""

    type: Literal["case.verified"] = "case.verified"
    passed: bool
    note: str | None = None
    evidence: list[str] = []


class ReworkOrdered(CaseEventBase):
    """返工: the fix failed verification, or the resident was unsatisfied; handling starts again."""

    type: Literal["case.rework_ordered"] = "case.rework_ordered"
    unit: UnitRef
    reason: str
    rework_count: int


class CallbackRecorded(CaseEventBase):
    """回访: the resident was called back and rated the handling."""

    type: Literal["case.callback_recorded"] = "case.callback_recorded"
    rating: Rating
    resolved: bool  # the resident says the problem is solved
    comment: str | None = None


class CaseReopened(CaseEventBase):
    """Reopened after an unsatisfied callback (counted as rework)."""

    type: Literal["case.reopened"] = "case.reopened"
    unit: UnitRef
    reason: str
    reopen_count: int


class CaseClosed(CaseEventBase):
    """结案: the loop is closed."""

    type: Literal["case.closed"] = "case.closed"
    closure_type: ClosureType
    note: str | None = None


# --- side paths ---------------------------------------------------------------------------------


class ExtensionRequested(CaseEventBase):
    """延期 requested by the handling unit before the resolution deadline."""

    type: Literal["case.extension_requested"] = "case.extension_requested"
    unit: UnitRef
    extra: timedelta
    reason: str


class ExtensionDecided(CaseEventBase):
    """The dispatcher approved or refused an extension."""

    type: Literal["case.extension_decided"] = "case.extension_decided"
    approved: bool
    extra: timedelta
    note: str | None = None


class CaseShelved(CaseEventBase):
    """挂账: logged as not resolvable now and kept in the register; its clocks stop."""

    type: Literal["case.shelved"] = "case.shelved"
    reason: str


class CaseUnshelved(CaseEventBase):
    """Taken out of the register and handled again."""

    type: Literal["case.unshelved"] = "case.unshelved"
    note: str | None = None


class CaseTerminated(CaseEventBase):
    """终止: handling stopped after review."""

    type: Literal["case.terminated"] = "case.terminated"
    reason: str


class AppealFiled(CaseEventBase):
    """申诉: the handling unit asks to exclude the case from its evaluation."""

    type: Literal["case.appeal_filed"] = "case.appeal_filed"
    unit: UnitRef
    reason: str


class AppealDecided(CaseEventBase):
    type: Literal["case.appeal_decided"] = "case.appeal_decided"
    granted: bool
    note: str | None = None


class CaseMerged(CaseEventBase):
    """This case duplicates another and was merged into it."""

    type: Literal["case.merged"] = "case.merged"
    into_case_id: str


class DuplicateAttached(CaseEventBase):
    """A duplicate report was merged into this case."""

    type: Literal["case.duplicate_attached"] = "case.duplicate_attached"
    duplicate_case_id: str


class ReplySubmitted(CaseEventBase):
    """报审: the handler's reply (what was done) goes to the unit's reviewer before it is sent back."""

    type: Literal["case.reply_submitted"] = "case.reply_submitted"
    unit: UnitRef
    notes: str
    evidence: list[str] = []
    submitted_by: str  # person id of the handler
    round: int = Field(ge=1)  # 1 for the first submission, +1 after each send-back


class ReplyApproved(CaseEventBase):
    """审核签发: the unit's reviewer signed the reply off; a ``case.resolved`` follows."""

    type: Literal["case.reply_approved"] = "case.reply_approved"
    unit: UnitRef
    approved_by: str
    submitted_by: str
    round: int = Field(ge=1)
    note: str | None = None


class ReplySentBack(CaseEventBase):
    """退回重办: the reviewer sent the reply back to the handler, with a reason."""

    type: Literal["case.reply_sent_back"] = "case.reply_sent_back"
    unit: UnitRef
    sent_back_by: str
    submitted_by: str
    round: int = Field(ge=1)
    reason: str
    sent_back_count: int = Field(ge=1)


class InterimReplied(CaseEventBase):
    """阶段性答复: the handling unit told the resident how far the case has got (public on the progress page)."""

    type: Literal["case.interim_replied"] = "case.interim_replied"
    unit: UnitRef
    text: str
    number: int = Field(ge=1)  # the case's 1st, 2nd... interim reply
    due_at: datetime | None = None  # when this reply was due
    on_time: bool = True


# --- corrections (the hotline fixes the case's details mid-case) ----------------------------------


class CaseReclassified(CaseEventBase):
    """改类: the hotline corrected the case's category; running clocks follow (``sla.clock_recomputed``)."""

    type: Literal["case.reclassified"] = "case.reclassified"
    previous_category: str
    category: str
    reason: str
    unit: UnitRef | None = None  # the unit handling the case at the time (for counts per unit)


class UrgencyChanged(CaseEventBase):
    """加急 / 降级: the hotline raised or lowered the case's urgency; running clocks follow."""

    type: Literal["case.urgency_changed"] = "case.urgency_changed"
    previous_urgency: Urgency
    urgency: Urgency
    reason: str
    unit: UnitRef | None = None


class CaseRelocated(CaseEventBase):
    """改址: the hotline corrected where the matter is. When the grid or street handling the case is no
    longer the place's, the case is recalled (``recalled``): back to the hotline for dispatch."""

    type: Literal["case.relocated"] = "case.relocated"
    previous_location: Location
    location: Location
    reason: str
    unit: UnitRef | None = None
    recalled: bool = False


# --- volunteer teams (志愿服务) --------------------------------------------------------------------


class VolunteersCalled(CaseEventBase):
    """The grid handling a case on the spot called a community volunteer team in to help."""

    type: Literal["case.volunteers_called"] = "case.volunteers_called"
    team_id: str
    task: str
    grid_id: str


class VolunteersReported(CaseEventBase):
    """The volunteer team reported its help done (the grid still resolves the case)."""

    type: Literal["case.volunteers_reported"] = "case.volunteers_reported"
    team_id: str
    result: str
    evidence: list[str] = []


class VolunteersReleased(CaseEventBase):
    """The grid ended a volunteer call without the team's report (not needed any more, no-show)."""

    type: Literal["case.volunteers_released"] = "case.volunteers_released"
    team_id: str
    reason: str


# --- SLA clocks and escalation ------------------------------------------------------------------

TIME_SCALE_DOC = (
    "Set when the case runs on compressed time: wall-clock seconds per policy hour. Due times and budgets "
    "are then compressed wall-clock values on continuous time (no working calendar); null means real time."
)


class ClockStarted(CaseEventBase):
    type: Literal["sla.clock_started"] = "sla.clock_started"
    clock_id: str
    kind: ClockKind
    unit: UnitRef
    due_at: datetime
    budget: timedelta
    working_time: bool
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class ClockPaused(CaseEventBase):
    type: Literal["sla.clock_paused"] = "sla.clock_paused"
    clock_id: str
    kind: ClockKind
    reason: str


class ClockResumed(CaseEventBase):
    type: Literal["sla.clock_resumed"] = "sla.clock_resumed"
    clock_id: str
    kind: ClockKind
    due_at: datetime
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class ClockExtended(CaseEventBase):
    type: Literal["sla.clock_extended"] = "sla.clock_extended"
    clock_id: str
    kind: ClockKind
    extra: timedelta
    due_at: datetime
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class ClockRecomputed(CaseEventBase):
    """A correction changed the rule of a running clock: its budget and due time were recomputed."""

    type: Literal["sla.clock_recomputed"] = "sla.clock_recomputed"
    clock_id: str
    kind: ClockKind
    unit: UnitRef
    mode: RecomputeMode
    previous_due_at: datetime
    due_at: datetime
    budget: timedelta
    working_time: bool
    cause: str  # the event type of the correction: case.reclassified, case.urgency_changed
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class ClockStopped(CaseEventBase):
    type: Literal["sla.clock_stopped"] = "sla.clock_stopped"
    clock_id: str
    kind: ClockKind
    unit: UnitRef
    outcome: ClockOutcome


class SlaWarningRaised(CaseEventBase):
    type: Literal["sla.warning_raised"] = "sla.warning_raised"
    clock_id: str
    kind: ClockKind
    unit: UnitRef
    threshold: float
    due_at: datetime
    recipients: list[str] = []
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class SlaBreached(CaseEventBase):
    type: Literal["sla.breached"] = "sla.breached"
    clock_id: str
    kind: ClockKind
    unit: UnitRef
    due_at: datetime
    recipients: list[str] = []
    time_scale: float | None = Field(default=None, description=TIME_SCALE_DOC)


class EscalationRaised(CaseEventBase):
    """催办 / 督办 / 通报: a rung of the escalation ladder (automatic, or ordered by a supervisor)."""

    type: Literal["sla.escalation_raised"] = "sla.escalation_raised"
    clock_id: str | None = None
    kind: ClockKind | None = None
    level: EscalationLevel
    unit: UnitRef
    recipients: list[str] = []
    note: str | None = None


CaseEvent = Annotated[
    CaseReceived
    | CaseRejected
    | CaseRegistered
    | CaseDispatched
    | CaseAccepted
    | CaseReturned
    | ReturnReviewed
    | CaseAssigned
    | ResidentContacted
    | WhistleBlown
    | DepartmentReportedIn
    | DepartmentTaskCompleted
    | CaseResolved
    | CaseVerified
    | ReworkOrdered
    | CallbackRecorded
    | CaseReopened
    | CaseClosed
    | ExtensionRequested
    | ExtensionDecided
    | CaseShelved
    | CaseUnshelved
    | CaseTerminated
    | AppealFiled
    | AppealDecided
    | CaseMerged
    | DuplicateAttached
    | ReplySubmitted
    | ReplyApproved
    | ReplySentBack
    | InterimReplied
    | CaseReclassified
    | UrgencyChanged
    | CaseRelocated
    | VolunteersCalled
    | VolunteersReported
    | VolunteersReleased
    | ClockStarted
    | ClockPaused
    | ClockResumed
    | ClockExtended
    | ClockRecomputed
    | ClockStopped
    | SlaWarningRaised
    | SlaBreached
    | EscalationRaised,
    Field(discriminator="type"),
]

CASE_EVENT_ADAPTER: TypeAdapter[CaseEvent] = TypeAdapter(CaseEvent)

EVENT_CLASSES: tuple[type[CaseEventBase], ...] = tuple(
    t
    for t in CaseEventBase.__subclasses__()  # direct subclasses, in definition order
)

SLA_EVENT_TYPES = frozenset(
    c.model_fields["type"].default for c in EVENT_CLASSES if str(c.model_fields["type"].default).startswith("sla.")
)


def parse_event(data: dict[str, object] | str | bytes) -> CaseEvent:
    """Validate one event from a dict or JSON text; raises ``pydantic.ValidationError``."""
    if isinstance(data, str | bytes):
        return CASE_EVENT_ADAPTER.validate_json(data)
    return CASE_EVENT_ADAPTER.validate_python(data)


def event_type(event: CaseEventBase) -> str:
    """The event's ``type`` discriminator, e.g. ``case.dispatched``."""
    return str(event.model_dump(include={"type"})["type"])
