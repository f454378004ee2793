"""The action catalogue: one row per thing an actor can do to a case.

Everything that names, offers or checks an action is derived from :data:`CATALOGUE`:

* the domain's role check (:func:`workflows.domain.decide.decide` refuses a role the row does not
  list, rule ``role.not_allowed``, before any handler runs);
* the API's role check, its ``POST /cases/{id}/<path>`` routes and their OpenAPI summaries;
* the CLI's ``gridcase case <path>`` commands and their help;
* ``GET /cases/{id}/actions`` and the forms the workspace renders.

Each action has **one** canonical name (the command's ``type``, e.g. ``review_return``); URLs and
CLI commands spell it with hyphens (:attr:`Action.path`, ``review-return``) — the same word, never
another one.

Adding an action: its command class (:mod:`workflows.domain.commands`), its ``decide`` handler, its
``evolve`` arm and projection arm for any new event, and one row here. Tests fail when a command
has no row, a row's form does not match its command's fields, or a handler is missing
(``tests/unit/test_exhaustive.py``, ``tests/unit/test_catalogue.py``). A plug-in adds its row and
handler at run time with :func:`workflows.domain.decide.register_action`; which actions an actor
may take now is :func:`workflows.domain.available.available_actions`.

The catalogue is pure data: no framework is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from events.base import Role
from workflows.domain import commands as c


class Widget(StrEnum):
    """How a form field is filled in (the workspace picks its control from this)."""

    TEXT = "text"  # one line
    TEXTAREA = "textarea"  # free text, several lines
    CHOICE = "choice"  # one value of an enumeration (the schema lists them)
    BOOL = "bool"
    UNIT = "unit"  # a unit picker: grid / street / department of the registry
    TASKS = "tasks"  # whistle task builder: departments of the registry, each with its task
    DURATION = "duration"  # a span of time (ISO 8601 duration in JSON, e.g. P3D)
    CASE = "case"  # another case's id
    REFS = "refs"  # references to attached files
    MEMBER = "member"  # a member of the unit handling the case (the API's user directory)
    SECTION = "section"  # a section (科室) of the unit handling the case (the city registry)
    TEAM = "team"  # a volunteer team of the registry serving the case's community
    LOCATION = "location"  # a place of the registry: a grid, coordinates or an address, resolved by the edges


@dataclass(frozen=True)
class FormField:
    """One field of an action's form: the command field it fills, its labels and its control."""

    name: str
    label_zh: str
    label_en: str
    widget: Widget = Widget.TEXT
    #: For a ``unit`` widget: the unit kinds the field accepts (served as ``x-unit-kinds``), when the
    #: domain's rules narrow them; ``None`` leaves every kind of the schema to the picker.
    unit_kinds: tuple[str, ...] | None = None


_ROUTABLE = ("grid", "street", "department")


@dataclass(frozen=True)
class Action:
    """A catalogue row."""

    name: str
    command: type[c.Command]
    roles: tuple[Role, ...]
    summary_zh: str
    summary_en: str
    fields: tuple[FormField, ...] = ()
    #: ``False`` for steps no person takes by hand (the SLA clock's tick): no route, no CLI command.
    manual: bool = True
    #: Where the case must be for the action to make sense; used only to order and group actions
    #: on screens. The domain's ``decide`` is the authority on what is allowed.
    group: str = "handling"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The name as URLs and CLI commands spell it: ``review_return`` → ``review-return``."""
        return self.name.replace("_", "-")

    @property
    def summary(self) -> str:
        """``派单: send the case to a street, a grid or a department`` (Chinese term, then English)."""
        return f"{self.summary_zh}: {self.summary_en}"

    def form_field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)


_UNIT_HANDLERS = (Role.GRID_WORKER, Role.STREET, Role.DEPARTMENT, Role.PROPERTY)
_SUMMONED = (Role.DEPARTMENT, Role.PROPERTY)
_HOTLINE = (Role.DISPATCHER,)

_REASON = FormField("reason", "理由", "Reason", Widget.TEXTAREA)
_NOTE = FormField("note", "备注", "Note", Widget.TEXTAREA)
_EVIDENCE = FormField("evidence", "佐证材料", "Evidence", Widget.REFS)
_SECTION = FormField("section_id", "科室", "Section", Widget.SECTION)

_ROWS: tuple[Action, ...] = (
    Action(
        "open",
        c.OpenCase,
        (Role.DISPATCHER, Role.RESIDENT, Role.GRID_WORKER, Role.COMMUNITY, Role.STREET),
        "受理",
        "open a case from a complaint",
        (
            FormField("case_id", "案件编号", "Case id"),
            FormField("channel", "渠道", "Channel", Widget.CHOICE),
            FormField("category", "类别", "Category", Widget.CHOICE),
            FormField("urgency", "紧急程度", "Urgency", Widget.CHOICE),
            FormField("title", "标题", "Title"),
            FormField("description", "诉求内容", "Description", Widget.TEXTAREA),
            FormField("location", "位置", "Location"),
            FormField("contact", "联系人", "Contact"),
            FormField("attachments", "附件", "Attachments", Widget.REFS),
            FormField("idempotency_key", "幂等键", "Idempotency key"),
            FormField("self_handle", "就地处置", "Handled on the spot", Widget.BOOL),
        ),
        group="intake",
    ),
    Action("reject", c.RejectCase, _HOTLINE, "不予受理", "reject an invalid complaint", (_REASON,), group="intake"),
    Action("register", c.RegisterCase, _HOTLINE, "立案", "register a received case", (_NOTE,), group="intake"),
    Action(
        "dispatch",
        c.DispatchCase,
        _HOTLINE,
        "派单",
        "send the case to a street, a grid or a department",
        (FormField("unit", "承办单位", "Unit", Widget.UNIT, _ROUTABLE), _NOTE),
        group="intake",
    ),
    Action("accept", c.AcceptCase, _UNIT_HANDLERS, "签收", "the assigned unit accepts the case", group="dispatch"),
    Action(
        "return",
        c.ReturnCase,
        _UNIT_HANDLERS,
        "退单",
        "the assigned unit returns a wrongly dispatched case",
        (FormField("reason_code", "退单原因", "Reason code", Widget.CHOICE), _REASON, _EVIDENCE),
        group="dispatch",
    ),
    Action(
        "review_return",
        c.ReviewReturn,
        _HOTLINE,
        "退单审核",
        "re-dispatch a returned case elsewhere, or insist (final ruling)",
        (
            FormField("decision", "审核结论", "Decision", Widget.CHOICE),
            FormField("ruling", "审核意见", "Ruling", Widget.TEXTAREA),
            FormField("redispatch_to", "改派单位", "Re-dispatch to", Widget.UNIT, _ROUTABLE),
        ),
        group="dispatch",
    ),
    Action(
        "assign",
        c.AssignCase,
        _UNIT_HANDLERS,
        "分派",
        "the unit gives the case to one of its members (承办人) or sections (科室)",
        (FormField("handler", "承办人", "Handler", Widget.MEMBER), _SECTION, _NOTE),
        group="unit",
    ),
    Action(
        "reassign",
        c.ReassignCase,
        _UNIT_HANDLERS,
        "改派",
        "the unit moves the case to another member or section",
        (FormField("handler", "承办人", "Handler", Widget.MEMBER), _SECTION, _REASON),
        group="unit",
    ),
    Action(
        "take",
        c.TakeCase,
        _UNIT_HANDLERS,
        "认领",
        "a member of the unit takes the case from its inbox",
        (_NOTE,),
        group="unit",
    ),
    Action(
        "submit_reply",
        c.SubmitReply,
        _UNIT_HANDLERS,
        "报审",
        "the handler submits the reply to the unit's reviewer (where the policy asks for a sign-off)",
        (FormField("notes", "办理结果", "Notes", Widget.TEXTAREA), _EVIDENCE),
    ),
    Action(
        "approve_reply",
        c.ApproveReply,
        _UNIT_HANDLERS,
        "审核签发",
        "a reviewer of the unit signs the reply off: the case is resolved",
        (_NOTE,),
        group="unit",
    ),
    Action(
        "send_back",
        c.SendBack,
        _UNIT_HANDLERS,
        "退回重办",
        "a reviewer of the unit sends the reply back to the handler",
        (_REASON,),
        group="unit",
    ),
    Action(
        "interim_reply",
        c.InterimReply,
        _UNIT_HANDLERS,
        "阶段性答复",
        "the handler tells the resident how far a long case has got",
        (FormField("text", "答复内容", "Reply", Widget.TEXTAREA),),
    ),
    Action(
        "reclassify",
        c.Reclassify,
        _HOTLINE,
        "改类",
        "correct the case's category (running clocks are recomputed)",
        (FormField("category", "类别", "Category", Widget.CHOICE), _REASON),
        group="correction",
    ),
    Action(
        "set_urgency",
        c.SetUrgency,
        _HOTLINE,
        "加急 / 降级",
        "raise or lower the case's urgency (running clocks are recomputed)",
        (FormField("urgency", "紧急程度", "Urgency", Widget.CHOICE), _REASON),
        group="correction",
    ),
    Action(
        "relocate",
        c.Relocate,
        _HOTLINE,
        "改址",
        "correct where the matter is (a grid or street that no longer matches gives the case back for dispatch)",
        (FormField("location", "位置", "Location", Widget.LOCATION), _REASON),
        group="correction",
    ),
    Action("contact", c.ContactResident, _UNIT_HANDLERS, "响应", "first contact with the resident", (_NOTE,)),
    Action(
        "whistle",
        c.BlowWhistle,
        (Role.STREET, Role.DISPATCHER),
        "吹哨",
        "the street (or the hotline on its behalf) summons departments and property companies, each with a task",
        (FormField("tasks", "召集单位及任务", "Units and tasks", Widget.TASKS), _REASON),
    ),
    Action(
        "delegate",
        c.DelegateCase,
        (Role.STREET, Role.COMMUNITY),
        "下派物业",
        "the street or community handling the case passes it down to a property company serving the community",
        (FormField("unit", "物业企业", "Property company", Widget.UNIT, ("property",)), _NOTE),
        group="dispatch",
    ),
    Action(
        "call_volunteers",
        c.CallVolunteers,
        (Role.GRID_WORKER,),
        "召集志愿者",
        "the grid handling the case on the spot calls a community volunteer team in to help",
        (
            FormField("team_id", "志愿者队伍", "Volunteer team", Widget.TEAM),
            FormField("task", "协助任务", "Task", Widget.TEXTAREA),
        ),
    ),
    Action(
        "volunteer_report",
        c.ReportVolunteerHelp,
        (Role.VOLUNTEER,),
        "志愿者反馈",
        "the called volunteer team reports its help done",
        (FormField("result", "协助结果", "Result", Widget.TEXTAREA), _EVIDENCE),
    ),
    Action(
        "release_volunteers",
        c.ReleaseVolunteers,
        (Role.GRID_WORKER,),
        "结束志愿者协助",
        "the grid ends the volunteer call without the team's report",
        (_REASON,),
    ),
    Action(
        "report_in", c.ReportIn, _SUMMONED, "报到", "a summoned department or property company reports in", (_NOTE,)
    ),
    Action(
        "complete_task",
        c.CompleteTask,
        _SUMMONED,
        "部门完成任务",
        "a summoned department or property company finishes its task",
        (FormField("result", "处置结果", "Result", Widget.TEXTAREA), _EVIDENCE),
    ),
    Action(
        "resolve",
        c.ResolveCase,
        _UNIT_HANDLERS,
        "办结",
        "the handler declares the matter resolved",
        (FormField("notes", "办理结果", "Notes", Widget.TEXTAREA), _EVIDENCE),
    ),
    Action(
        "verify",
        c.VerifyCase,
        (Role.GRID_WORKER,),
        "核查",
        "the grid worker checks the fix (failed: rework)",
        (FormField("passed", "核查通过", "Passed", Widget.BOOL), _NOTE, _EVIDENCE),
        group="closing",
    ),
    Action(
        "callback",
        c.RecordCallback,
        # the hotline records the rating it collected by phone; the resident may give it online,
        # on their own case only (decide checks that the actor is the case's contact)
        (Role.DISPATCHER, Role.RESIDENT),
        "回访",
        "record the resident's rating, by the hotline or by the resident online (unsatisfied: reopen)",
        (
            FormField("rating", "满意度", "Rating", Widget.CHOICE),
            FormField("resolved", "问题已解决", "Resolved", Widget.BOOL),
            FormField("comment", "回访意见", "Comment", Widget.TEXTAREA),
        ),
        group="closing",
    ),
    Action(
        "close",
        c.CloseCase,
        _HOTLINE,
        "结案",
        "close the case",
        (FormField("closure_type", "结案类型", "Closure type", Widget.CHOICE), _NOTE),
        group="closing",
    ),
    Action(
        "request_extension",
        c.RequestExtension,
        _UNIT_HANDLERS,
        "延期申请",
        "the handler asks for more time",
        (FormField("extra", "延长时长", "Extra time", Widget.DURATION), _REASON),
    ),
    Action(
        "decide_extension",
        c.DecideExtension,
        (Role.DISPATCHER, Role.SUPERVISOR),
        "延期审批",
        "approve or refuse an extension request",
        (FormField("approved", "批准", "Approved", Widget.BOOL), _NOTE),
        group="oversight",
    ),
    Action(
        "pause",
        c.PauseForResident,
        _UNIT_HANDLERS,
        "暂停计时",
        "waiting for the resident: pause the handling clocks",
        (_REASON,),
    ),
    Action(
        "resume",
        c.ResumeFromResident,
        _UNIT_HANDLERS,
        "恢复计时",
        "the resident answered: resume the handling clocks",
        (_NOTE,),
    ),
    Action(
        "shelve",
        c.ShelveCase,
        _HOTLINE,
        "挂账",
        "keep the case in the register as not resolvable now",
        (_REASON,),
        group="oversight",
    ),
    Action(
        "unshelve", c.UnshelveCase, _HOTLINE, "解除挂账", "take a shelved case up again", (_NOTE,), group="oversight"
    ),
    Action(
        "terminate",
        c.TerminateCase,
        _HOTLINE,
        "终止",
        "stop handling after review (closes the case as special)",
        (_REASON,),
        group="oversight",
    ),
    Action(
        "appeal",
        c.FileAppeal,
        _UNIT_HANDLERS,
        "申诉",
        "the handling unit asks to exclude the case from its evaluation",
        (_REASON,),
        group="oversight",
    ),
    Action(
        "decide_appeal",
        c.DecideAppeal,
        (Role.SUPERVISOR,),
        "申诉审核",
        "a supervisor decides an appeal",
        (FormField("granted", "申诉成立", "Granted", Widget.BOOL), _NOTE),
        group="oversight",
    ),
    Action(
        "merge",
        c.MergeInto,
        _HOTLINE,
        "合并",
        "merge a duplicate report into an existing case",
        (FormField("into_case_id", "并入案件", "Into case", Widget.CASE),),
        group="intake",
    ),
    Action(
        "attach_duplicate",
        c.AttachDuplicate,
        (Role.DISPATCHER, Role.SYSTEM),
        "关联重复件",
        "attach a duplicate report to this case",
        (FormField("duplicate_case_id", "重复件编号", "Duplicate case", Widget.CASE),),
        group="intake",
    ),
    Action(
        "supervise",
        c.Supervise,
        (Role.SUPERVISOR, Role.DISPATCHER),
        "催办 / 督办 / 通报",
        "escalate by hand",
        (
            FormField("level", "督办级别", "Level", Widget.CHOICE),
            FormField("note", "督办意见", "Note", Widget.TEXTAREA),
        ),
        group="oversight",
    ),
    Action(
        "tick",
        c.Tick,
        (Role.SYSTEM,),
        "计时",
        "the SLA clock fires the alarms that are due",
        manual=False,
        group="system",
    ),
)


class Catalogue:
    """The rows, looked up by name, path or command class."""

    def __init__(self, rows: Iterable[Action]) -> None:
        self.rows: tuple[Action, ...] = ()
        self.by_name: dict[str, Action] = {}
        self.by_command: dict[type[c.Command], Action] = {}
        self.by_path: dict[str, Action] = {}
        self._index(tuple(rows))

    def _index(self, rows: tuple[Action, ...]) -> None:
        by_name: dict[str, Action] = {}
        by_command: dict[type[c.Command], Action] = {}
        for row in rows:
            declared = c.command_name_of(row.command)
            if declared != row.name:
                raise ValueError(f"catalogue row {row.name!r}: its command's type is {declared!r}")
            if row.name in by_name or row.command in by_command:
                raise ValueError(f"catalogue row {row.name!r} is listed twice")
            by_name[row.name] = row
            by_command[row.command] = row
        self.rows = rows
        self.by_name = by_name
        self.by_command = by_command
        self.by_path = {row.path: row for row in rows}

    def add(self, row: Action) -> None:
        """Add a row in place (a plug-in's action; see :func:`workflows.domain.decide.register_action`).

        The module-level :data:`CATALOGUE` is the object ``decide`` consults, so a row added to it is
        seen by the domain's role check at once. Raises ``ValueError`` when the name or command is
        already listed.
        """
        self._index((*self.rows, row))

    def remove(self, name: str) -> Action:
        """Take the row ``name`` out again (the inverse of :meth:`add`); returns it."""
        row = self.by_name[name]
        self._index(tuple(r for r in self.rows if r.name != name))
        return row

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, name: str) -> Action:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def manual(self) -> tuple[Action, ...]:
        """The actions a person takes (everything but the clock's tick)."""
        return tuple(r for r in self.rows if r.manual)

    def after_intake(self) -> tuple[Action, ...]:
        """The actions on an existing case (``POST /cases/{id}/<path>``, ``gridcase case <path> ID``)."""
        return tuple(r for r in self.rows if r.manual and r.name != "open")

    def for_command(self, cmd: c.Command | type[c.Command]) -> Action:
        cls = cmd if isinstance(cmd, type) else type(cmd)
        return self.by_command[cls]

    def roles(self, name: str) -> tuple[Role, ...]:
        return self.by_name[name].roles

    def extended(self, *rows: Action) -> Catalogue:
        """A catalogue with more rows (plug-ins and tests add actions this way)."""
        return Catalogue((*self.rows, *rows))


CATALOGUE = Catalogue(_ROWS)


def role_allowed(action: Action, role: Role) -> bool:
    return role in action.roles


def form_schema(action: Action) -> dict[str, Any]:
    """The JSON schema of the action's form: the command's fields without ``actor`` and ``type``,
    each property carrying its ``title`` (Chinese), ``x-label-en`` and ``x-widget``.

    This is what ``GET /cases/{id}/actions`` returns per action and what the API accepts as the body.
    """
    schema = action.command.model_json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    for drop in ("actor", "type"):
        props.pop(drop, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in ("actor", "type")]
    for name, prop in props.items():
        f = action.form_field(name)
        if f is not None:
            prop["title"] = f.label_zh
            prop["x-label-en"] = f.label_en
            prop["x-widget"] = f.widget.value
            if f.unit_kinds is not None:
                prop["x-unit-kinds"] = list(f.unit_kinds)
    schema["title"] = action.summary_zh
    schema["description"] = action.summary_en
    return schema
