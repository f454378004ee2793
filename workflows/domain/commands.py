"""Commands: what an actor asks of a case. Each carries the acting :class:`Actor`.

Commands are validated pydantic models; a command that parses may still be refused by
:func:`workflows.domain.decide.decide` with a :class:`DomainError` naming the rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from events.base import Actor, UnitRef
from events.schemas import (
    Channel,
    ClosureType,
    EscalationLevel,
    Location,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    WhistleTask,
)
from workflows.domain.contact import check_phone

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Refs = Annotated[list[Annotated[str, Field(min_length=1, max_length=512)]], Field(max_length=50)]


class Command(BaseModel):
    """Base of every command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Actor


def command_name_of(cls: type[Command]) -> str:
    """A command class's ``type`` discriminator, e.g. ``dispatch`` (its catalogue name)."""
    return str(cls.model_fields["type"].default)


def command_name(cmd: Command) -> str:
    """The command's ``type`` discriminator, e.g. ``dispatch``."""
    return command_name_of(type(cmd))


class ContactDetails(ResidentContact):
    """The resident's contact as a command carries it: the event's fields, with the phone rule
    (:mod:`workflows.domain.contact`) checked. :meth:`to_event` gives the published form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return check_phone(v)

    def to_event(self) -> ResidentContact:
        return ResidentContact(resident_id=self.resident_id, name=self.name, phone=self.phone)

    def __eq__(self, other: object) -> bool:
        """Equal to the published contact with the same details (it is the same contact)."""
        if isinstance(other, ResidentContact) and not isinstance(other, ContactDetails):
            return self.to_event() == other
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.to_event())


def _contact_input(v: object) -> object:
    """An event-side :class:`ResidentContact` given to a command is checked like any other input."""
    if isinstance(v, ResidentContact) and not isinstance(v, ContactDetails):
        return v.model_dump()
    return v


class WhistleTaskInput(WhistleTask):
    """One department summoned by a whistle and its task, as a command carries it: like the event's
    :class:`~events.schemas.WhistleTask`, but unknown fields are refused. :meth:`to_event` gives the
    published form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_event(self) -> WhistleTask:
        return WhistleTask(department_id=self.department_id, task=self.task, unit_kind=self.unit_kind)

    def __eq__(self, other: object) -> bool:
        """Equal to the published task with the same department and text (it is the same task)."""
        if isinstance(other, WhistleTask) and not isinstance(other, WhistleTaskInput):
            return self.to_event() == other
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.to_event())


def _task_input(v: object) -> object:
    if isinstance(v, WhistleTask) and not isinstance(v, WhistleTaskInput):
        return v.model_dump()
    return v


class OpenCase(Command):
    """受理: open a case from a complaint (hotline, web, grid patrol or proactive)."""

    type: Literal["open"] = "open"
    case_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    channel: Channel
    category: str = Field(min_length=1, max_length=64)
    urgency: Urgency = Urgency.ORDINARY
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    location: Location
    contact: Annotated[ContactDetails, BeforeValidator(_contact_input)] = ContactDetails()
    attachments: Refs = []
    idempotency_key: str | None = Field(default=None, max_length=200)
    self_handle: bool = False  # a grid worker's patrol report handled on the spot (小事不出网格)


class RejectCase(Command):
    type: Literal["reject"] = "reject"
    reason: Text


class RegisterCase(Command):
    type: Literal["register"] = "register"
    note: str | None = None


class DispatchCase(Command):
    type: Literal["dispatch"] = "dispatch"
    unit: UnitRef
    note: str | None = None


class AcceptCase(Command):
    type: Literal["accept"] = "accept"


class ReturnCase(Command):
    type: Literal["return"] = "return"
    reason_code: ReturnReason
    reason: Text
    evidence: Refs = []


class ReviewReturn(Command):
    type: Literal["review_return"] = "review_return"
    decision: ReviewDecision
    ruling: Text
    redispatch_to: UnitRef | None = None


class Member(BaseModel):
    """A member of a unit, as a command names them: the person and the unit they belong to.

    The edges (the API, the CLI) fill ``unit`` and ``name`` from their user directory, whatever the
    caller sent, so a member of another unit cannot be passed off as one of the case's; the domain
    then refuses a member whose unit is not the case's (``assign.outside_unit``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    person_id: str = Field(min_length=1, max_length=128)
    unit: UnitRef | None = None
    name: str | None = Field(default=None, max_length=128)


SectionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Assignment(Command):
    handler: Member | None = None
    section_id: SectionId | None = None

    @model_validator(mode="after")
    def _someone(self) -> _Assignment:
        if self.handler is None and self.section_id is None:
            raise ValueError("name a handler (a member of the unit), a section (科室), or both")
        return self


class AssignCase(_Assignment):
    """分派: the unit gives the case to one of its members (承办人) or sections (科室)."""

    type: Literal["assign"] = "assign"
    note: str | None = None


class ReassignCase(_Assignment):
    """改派: the unit moves the case to another member or section."""

    type: Literal["reassign"] = "reassign"
    reason: Text


class TakeCase(Command):
    """认领: a member of the unit takes the case from the unit's (or their section's) inbox."""

    type: Literal["take"] = "take"
    note: str | None = None


class SubmitReply(Command):
    """报审: the handler submits the reply (what was done) to the unit's reviewer (审核签发)."""

    type: Literal["submit_reply"] = "submit_reply"
    notes: Text
    evidence: Refs = []


class ApproveReply(Command):
    """签发: a reviewer of the unit signs the reply off; the case is resolved with it."""

    type: Literal["approve_reply"] = "approve_reply"
    note: str | None = None


class SendBack(Command):
    """退回重办: a reviewer of the unit sends the reply back to the handler."""

    type: Literal["send_back"] = "send_back"
    reason: Text


class InterimReply(Command):
    """阶段性答复: the handler tells the resident how far the case has got."""

    type: Literal["interim_reply"] = "interim_reply"
    text: Text


CategoryCode = Annotated[str, Field(min_length=1, max_length=64)]


class Reclassify(Command):
    """改类: the hotline corrects the case's category."""

    type: Literal["reclassify"] = "reclassify"
    category: CategoryCode
    reason: Text


class SetUrgency(Command):
    """加急 / 降级: the hotline raises or lowers the case's urgency."""

    type: Literal["set_urgency"] = "set_urgency"
    urgency: Urgency
    reason: Text


class Relocate(Command):
    """改址: the hotline corrects where the matter is (the edges resolve the place in the registry)."""

    type: Literal["relocate"] = "relocate"
    location: Location
    reason: Text


class ContactResident(Command):
    type: Literal["contact"] = "contact"
    note: str | None = None


class BlowWhistle(Command):
    type: Literal["whistle"] = "whistle"
    tasks: list[Annotated[WhistleTaskInput, BeforeValidator(_task_input)]] = Field(min_length=1, max_length=50)
    reason: str | None = None

    @field_validator("tasks")
    @classmethod
    def _distinct_departments(cls, tasks: list[WhistleTaskInput]) -> list[WhistleTaskInput]:
        ids = [t.department_id for t in tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("each department may be summoned once per whistle")
        return tasks


class DelegateCase(Command):
    """下派: the street (or community) handling a case passes it down to a property company."""

    type: Literal["delegate"] = "delegate"
    unit: UnitRef
    note: str | None = None


class CallVolunteers(Command):
    """The grid handling a case on the spot calls a community volunteer team in to help."""

    type: Literal["call_volunteers"] = "call_volunteers"
    team_id: str = Field(min_length=1, max_length=128)
    task: Text


class ReportVolunteerHelp(Command):
    """The called volunteer team reports its help done."""

    type: Literal["volunteer_report"] = "volunteer_report"
    result: Text
    evidence: Refs = []


class ReleaseVolunteers(Command):
    """The grid ends a volunteer call without the team's report."""

    type: Literal["release_volunteers"] = "release_volunteers"
    reason: Text


class ReportIn(Command):
    type: Literal["report_in"] = "report_in"
    note: str | None = None


class CompleteTask(Command):
    type: Literal["complete_task"] = "complete_task"
    result: Text
    evidence: Refs = []


class ResolveCase(Command):
    type: Literal["resolve"] = "resolve"
    notes: Text
    evidence: Refs = []


class VerifyCase(Command):
    type: Literal["verify"] = "verify"
    passed: bool
    note: str | None = None
    evidence: Refs = []


class RecordCallback(Command):
    type: Literal["callback"] = "callback"
    rating: Rating
    resolved: bool = True
    comment: str | None = None


class CloseCase(Command):
    type: Literal["close"] = "close"
    closure_type: ClosureType | None = None  # default: normal, or overdue if any clock breached
    note: str | None = None


class RequestExtension(Command):
    type: Literal["request_extension"] = "request_extension"
    extra: timedelta
    reason: Text

    @field_validator("extra")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0) or v > timedelta(days=90):
            raise ValueError("an extension must be longer than zero and at most 90 days")
        return v


class DecideExtension(Command):
    type: Literal["decide_extension"] = "decide_extension"
    approved: bool
    note: str | None = None


class PauseForResident(Command):
    """Waiting for the resident (for information or access): the handling clocks pause."""

    type: Literal["pause"] = "pause"
    reason: Text


class ResumeFromResident(Command):
    type: Literal["resume"] = "resume"
    note: str | None = None


class ShelveCase(Command):
    type: Literal["shelve"] = "shelve"
    reason: Text


class UnshelveCase(Command):
    type: Literal["unshelve"] = "unshelve"
    note: str | None = None


class TerminateCase(Command):
    type: Literal["terminate"] = "terminate"
    reason: Text


class FileAppeal(Command):
    type: Literal["appeal"] = "appeal"
    reason: Text


class DecideAppeal(Command):
    type: Literal["decide_appeal"] = "decide_appeal"
    granted: bool
    note: str | None = None


class MergeInto(Command):
    type: Literal["merge"] = "merge"
    into_case_id: str = Field(min_length=1, max_length=64)


class AttachDuplicate(Command):
    type: Literal["attach_duplicate"] = "attach_duplicate"
    duplicate_case_id: str = Field(min_length=1, max_length=64)


class Supervise(Command):
    """A supervisor (or the hotline) escalates by hand: reminder, supervision order, public notice."""

    type: Literal["supervise"] = "supervise"
    level: EscalationLevel = EscalationLevel.SUPERVISION
    note: Text


class Tick(Command):
    """The SLA clock: fire every warning, breach and escalation rung due by now."""

    type: Literal["tick"] = "tick"


CaseCommand = Annotated[
    OpenCase
    | RejectCase
    | RegisterCase
    | DispatchCase
    | AcceptCase
    | ReturnCase
    | ReviewReturn
    | AssignCase
    | ReassignCase
    | TakeCase
    | SubmitReply
    | ApproveReply
    | SendBack
    | InterimReply
    | Reclassify
    | SetUrgency
    | Relocate
    | ContactResident
    | BlowWhistle
    | DelegateCase
    | CallVolunteers
    | ReportVolunteerHelp
    | ReleaseVolunteers
    | ReportIn
    | CompleteTask
    | ResolveCase
    | VerifyCase
    | RecordCallback
    | CloseCase
    | RequestExtension
    | DecideExtension
    | PauseForResident
    | ResumeFromResident
    | ShelveCase
    | UnshelveCase
    | TerminateCase
    | FileAppeal
    | DecideAppeal
    | MergeInto
    | AttachDuplicate
    | Supervise
    | Tick,
    Field(discriminator="type"),
]
