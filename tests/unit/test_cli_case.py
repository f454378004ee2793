"""``gridcase case <action>``: one command per catalogue row, its options derived from the row's form.

Every action is driven through the command line against a recording client (no Temporal): the
command it builds must be the row's command with every option parsed into its field. Unknown units
are refused before anything is sent; refusals and Temporal errors print one line.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from temporalio.service import RPCError, RPCStatusCode
from typer.testing import CliRunner

from city.files import write_city
from events.base import Role, UnitKind, UnitRef
from events.schemas import EscalationLevel, Location, WhistleTask
from tests.unit.test_city_files import GRID_LAYOUT, box, tiny_city
from tests.unit.test_city_units import city_with_units
from workers import cli_case
from workers.case_client import ActionRefused, category_problems
from workers.cli import app
from workers.cli_case import build_case_app
from workers.settings import get_settings
from workflows.case_models import ActionResult
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, FormField, Widget
from workflows.domain.state import CaseStatus

ACTIONS = CATALOGUE.after_intake()


@pytest.fixture(autouse=True)
def tiny_city_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A city of its own (S-1, S-2, water, environment ...) and a Temporal nobody listens on."""
    write_city(city_with_units(), tmp_path / "city")
    monkeypatch.setenv("GRIDCASE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GRIDCASE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GRIDCASE_CITY_DATA_DIR", str(tmp_path / "city"))
    monkeypatch.setenv("GRIDCASE_TEMPORAL_ADDRESS", "localhost:1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class Recorder:
    """Stands in for :class:`CaseClient`: records each action, or raises what it is told to."""

    def __init__(self, raises: Exception | None = None) -> None:
        self.sent: list[tuple[str, c.Command, str | None]] = []
        self.raises = raises
        self.references: list[tuple[str, str, str]] = []  # what reference_problems answers
        self.categories: Any = None  # the catalogue's codes the CLI passed

    async def reference_problems(
        self, action: Action, case_id: str, command: c.Command, sections: object = None, categories: Any = None
    ) -> list[tuple[str, str, str]]:
        self.categories = categories
        known = category_problems(action, command, categories) if categories is not None else []
        return [*self.references, *known]

    async def act(self, case_id: str, command: c.Command, request_id: str | None = None) -> ActionResult:
        if self.raises is not None:
            raise self.raises
        self.sent.append((case_id, command, request_id))
        return ActionResult(case_id=case_id, status=CaseStatus.HANDLING, seq=7, events=[f"{case_id}:7"])


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()

    def run(fn: Callable[[Any], Any]) -> Any:
        return asyncio.run(fn(rec))

    monkeypatch.setattr(cli_case, "_run", run)
    return rec


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _widget(action: Action, name: str) -> Widget:
    form = action.form_field(name)
    assert form is not None, f"{action.name}.{name} has no form field"
    return form.widget


def _unit_kinds(action: Action, name: str) -> tuple[str, ...]:
    form = action.form_field(name)
    assert form is not None
    return tuple(form.unit_kinds or ("grid", "street", "department"))


def _fields(action: Action) -> list[str]:
    return [n for n in action.command.model_fields if n not in ("actor", "type")]


def _enum_or_none(action: Action, name: str) -> type[enum.Enum] | None:
    annotation = action.command.model_fields[name].annotation
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return candidate
    return None


def _enum_of(action: Action, name: str) -> type[enum.Enum]:
    found = _enum_or_none(action, name)
    assert found is not None, f"{action.name}.{name}: not an enumeration"
    return found


#: The tiny city's grids: id → (community, street), as its files spell them.
STREET_OF = {"C-10": "S-1", "C-11": "S-1", "C-20": "S-2"}
GRIDS = {g: (community, STREET_OF[community], name, box(col, row)) for g, community, name, col, row in GRID_LAYOUT}


def _place(grid_id: str, **given: Any) -> Location:
    """The tiny city's place of ``grid_id`` (from its files, not from the registry under test)."""
    community, street, _, _ = GRIDS[grid_id]
    return Location(grid_id=grid_id, community_id=community, street_id=street, district_id="D-1", **given)


def _inside(grid_id: str) -> tuple[float, float]:
    """(lat, lon) of the middle of the grid."""
    corners = GRIDS[grid_id][3]
    (w, s), (e, n) = corners[0], corners[2]
    return round((s + n) / 2, 6), round((w + e) / 2, 6)


def _add_user(user_id: str, role: Role, unit_id: str | None, name: str, *, disabled: bool = False) -> None:
    """A user in the directory the CLI reads (the test's own database)."""
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    store = UserStore(create_engine_for(get_settings()))
    store.create_tables()
    store.ensure_user(user_id, name, role, unit_id)
    if disabled:
        store.disable_user(user_id)


def args_and_expected(action: Action) -> tuple[list[str], dict[str, Any]]:
    """Options for every field of the action (optional ones too) and the field values they must give."""
    args: list[str] = []
    expected: dict[str, Any] = {}
    for name in _fields(action):
        w = _widget(action, name)
        if w == Widget.MEMBER:
            _add_user("m-1", Role.STREET, "S-1", "李承办")
            args += [_flag(name), "m-1"]
            expected[name] = c.Member(person_id="m-1", unit=UnitRef(kind=UnitKind.STREET, id="S-1"), name="李承办")
        elif w == Widget.SECTION:
            args += [_flag(name), "urban"]
            expected[name] = "urban"
        elif w == Widget.UNIT and "street" in _unit_kinds(action, name):
            args += [_flag(name), "street:S-1"]
            expected[name] = UnitRef(kind=UnitKind.STREET, id="S-1")
        elif w == Widget.UNIT:  # a property company (下派物业)
            assert _unit_kinds(action, name) == ("property",)
            args += [_flag(name), "property:P-1"]
            expected[name] = UnitRef(kind=UnitKind.PROPERTY, id="P-1")
        elif w == Widget.TEAM:
            args += [_flag(name), "V-C-10"]
            expected[name] = "V-C-10"
        elif w == Widget.TASKS:
            args += ["--task", "water=fix the main", "--task", "environment=measure the noise"]
            expected[name] = [
                WhistleTask(department_id="water", task="fix the main"),
                WhistleTask(department_id="environment", task="measure the noise"),
            ]
        elif w == Widget.DURATION:
            args += [_flag(name), "1d12h"]
            expected[name] = timedelta(days=1, hours=12)
        elif w == Widget.BOOL:
            args += [_flag(name)]
            expected[name] = True
        elif w == Widget.CHOICE and _enum_or_none(action, name) is None:  # the city catalogue's codes
            args += [_flag(name), "garbage"]
            expected[name] = "garbage"
        elif w == Widget.CHOICE:
            member = list(_enum_of(action, name))[-1]
            args += [_flag(name), str(member.value)]
            expected[name] = member
        elif w == Widget.LOCATION:
            args += [_place_flag(name, "grid_id"), "G-202"]
            expected[name] = _place("G-202")
        elif w == Widget.REFS:
            args += [_flag(name), "photo-1", _flag(name), "photo-2"]
            expected[name] = ["photo-1", "photo-2"]
        elif w == Widget.CASE:
            args += [_flag(name), "C-OTHER"]
            expected[name] = "C-OTHER"
        else:
            args += [_flag(name), f"{name} text 文字"]
            expected[name] = f"{name} text 文字"
    return args, expected


def _place_flag(name: str, part: str) -> str:
    prefix = "" if name == "location" else name.replace("_", "-") + "-"
    return f"--{prefix}{part.replace('_', '-')}"


def _required_flag(action: Action, name: str) -> str:
    """The option a test drops to leave field ``name`` out."""
    w = _widget(action, name)
    return "--task" if w == Widget.TASKS else _place_flag(name, "grid_id") if w == Widget.LOCATION else _flag(name)


def _as(action: Action) -> list[str]:
    if Role.DISPATCHER in action.roles:
        return []
    role = action.roles[0]
    unit = {Role.STREET: "S-1", Role.DEPARTMENT: "water", Role.GRID_WORKER: "G-101", Role.SUPERVISOR: "city"}
    return ["--as", f"{role.value}:{unit.get(role, 'x')}/tester"]


def test_one_command_per_action_named_by_its_path() -> None:
    names = {cmd.name for cmd in build_case_app().registered_commands}
    assert {a.path for a in ACTIONS} | {"new", "show", "timeline"} == names
    assert {"report-in", "review-return", "complete-task", "request-extension"} <= names
    assert not {"report", "review", "complete", "extend"} & names, "the old names are gone"


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.path)
def test_help_lists_every_field_with_its_widget(action: Action) -> None:
    result = CliRunner().invoke(app, ["case", action.path, "--help"], prog_name="gridcase")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert action.summary_zh in out and ", ".join(r.value for r in action.roles) in out
    for name in _fields(action):
        w = _widget(action, name)
        flag = _required_flag(action, name)
        assert flag in out, f"{action.path}: {flag} missing"
        if w == Widget.BOOL:
            assert f"{flag} / --no-{flag[2:]}" in out
        if w == Widget.CHOICE and _enum_or_none(action, name) is None:
            assert f"{flag} CODE" in out and "gridcase city show --categories" in out
        elif w == Widget.CHOICE:
            assert all(str(m.value) in out for m in _enum_of(action, name))
        if w == Widget.LOCATION:
            for part, metavar in (("grid_id", "ID"), ("lat", "X"), ("lon", "Y"), ("address", "TEXT")):
                assert f"{_place_flag(name, part)} {metavar}" in out, (action.path, part)
        if w == Widget.UNIT:
            assert f"{flag} KIND:ID" in out
        if w == Widget.TASKS:
            assert "--task DEPT=TEXT" in out
        if w == Widget.DURATION:
            assert f"{flag} 3d|12h|90m|1d12h" in out
    assert "--request-id" in out and "--as ROLE[:UNIT][/PERSON]" in out
    assert ("[default: dispatcher]" in out) == (Role.DISPATCHER in action.roles)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.path)
def test_every_action_sends_its_command_with_every_option_parsed(action: Action, recorder: Recorder) -> None:
    args, expected = args_and_expected(action)
    result = CliRunner().invoke(app, ["case", action.path, "C-1", *args, *_as(action), "--request-id", "r-1"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "C-1: handling (seq 7) events C-1:7"
    [(case_id, command, request_id)] = recorder.sent
    assert (case_id, request_id, type(command)) == ("C-1", "r-1", action.command)
    assert {k: getattr(command, k) for k in expected} == expected
    role = Role.DISPATCHER if Role.DISPATCHER in action.roles else action.roles[0]
    assert command.actor.role == role


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.path)
def test_required_fields_are_required(action: Action, recorder: Recorder) -> None:
    required = [n for n in _fields(action) if action.command.model_fields[n].is_required()]
    for missing in required:
        args, _ = args_and_expected(action)
        flag = _required_flag(action, missing)
        kept = _drop(args, flag, _widget(action, missing) == Widget.BOOL)
        result = CliRunner().invoke(app, ["case", action.path, "C-1", *kept, *_as(action)])
        assert result.exit_code == 2 and flag in result.output, (action.path, missing, result.output)
    assert not recorder.sent


def _drop(args: list[str], flag: str, is_flag: bool) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == flag:
            skip = not is_flag
            continue
        out.append(a)
    return out


UNIT_ACTIONS = [a for a in ACTIONS if any(f.widget in (Widget.UNIT, Widget.TASKS) for f in a.fields)]


@pytest.mark.parametrize("action", UNIT_ACTIONS, ids=lambda a: a.path)
@pytest.mark.parametrize("bad", ["street:S-404", "grid:G-404", "department:nowhere", "property:P-404"])
def test_unknown_units_are_refused_before_sending(action: Action, bad: str, recorder: Recorder) -> None:
    args, _ = args_and_expected(action)
    kind, _, unit_id = bad.partition(":")
    flags = []
    for name in _fields(action):
        w = _widget(action, name)
        if w == Widget.UNIT and kind in _unit_kinds(action, name):
            args[args.index(_flag(name)) + 1] = bad
            flags.append((_flag(name), bad))
        elif w == Widget.TASKS and kind in ("department", "property"):
            task = f"{unit_id}=a task" if kind == "department" else f"{bad}=a task"
            args[args.index("--task") + 1] = task
            flags.append(("--task", bad))
    if not flags:
        pytest.skip(f"no unit field of {action.name} takes a {kind}")
    flag, value = flags[0]
    result = CliRunner().invoke(app, ["case", action.path, "C-1", *args, *_as(action)])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"refused by rule registry.unknown_unit: {flag} {value}")
    assert not recorder.sent


def test_a_whistle_summons_a_property_company_and_units_of_the_wrong_kind_are_refused(recorder: Recorder) -> None:
    street = ["--as", "street:S-1"]
    result = CliRunner().invoke(
        app, ["case", "whistle", "C-1", "--task", "water=查管", "--task", "property:P-1=看护现场", *street]
    )
    assert result.exit_code == 0, result.output
    (_, sent, _), *_ = recorder.sent
    assert isinstance(sent, c.BlowWhistle)
    assert [(t.department_id, t.unit_kind) for t in sent.tasks] == [
        ("water", UnitKind.DEPARTMENT),
        ("P-1", UnitKind.PROPERTY),
    ]
    cases = [
        (
            ["delegate", "C-1", "--unit", "department:water", *street],
            "--unit 'department:water': expected KIND:ID with KIND one of property",
        ),
        (["dispatch", "C-1", "--unit", "property:P-1"], "expected KIND:ID with KIND one of grid, street, department"),
        (["whistle", "C-1", "--task", "grid:G-101=x", *street], "--task 'grid:G-101=x': expected DEPARTMENT=task text"),
        (["whistle", "C-1", "--task", "property:=x", *street], "--task 'property:=x': expected DEPARTMENT=task text"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["case", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    unknown_team = CliRunner().invoke(
        app, ["case", "call-volunteers", "C-1", "--team-id", "V-404", "--task", "x", "--as", "grid_worker:G-101"]
    )
    assert unknown_team.exit_code == 2
    assert unknown_team.output.startswith("refused by rule registry.unknown_unit: --team-id volunteer_team:V-404")
    assert len(recorder.sent) == 1


def test_malformed_values_are_refused_naming_the_option(recorder: Recorder) -> None:
    cases = [
        (["dispatch", "C-1", "--unit", "planet:X"], "--unit 'planet:X': expected KIND:ID"),
        (
            ["request-extension", "C-1", "--extra", "3 weeks", "--reason", "r", "--as", "street:S-1"],
            "--extra '3 weeks': use forms like 3d",
        ),
        (["whistle", "C-1", "--task", "water"], "--task 'water': expected DEPARTMENT=task text"),
        (["accept", "C-1", "--as", "mayor"], "--as: unknown role 'mayor'"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["case", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not recorder.sent


@pytest.mark.parametrize(
    "error, code, line",
    [
        (
            ActionRefused("case.finished", "case C-1 is closed: 'register' cannot change it any more"),
            2,
            "refused by rule case.finished: case C-1 is closed: 'register' cannot change it any more",
        ),
        (
            ActionRefused("jurisdiction.not_assigned", "only the assigned unit\nmay do it"),
            2,
            "refused by rule jurisdiction.not_assigned: only the assigned unit may do it",
        ),
        (
            RPCError("workflow not found for ID: case-C-1", RPCStatusCode.NOT_FOUND, b""),
            1,
            "case C-1: no such case (Temporal: workflow not found for ID: case-C-1)",
        ),
        (
            RPCError("namespace\nrate limited", RPCStatusCode.RESOURCE_EXHAUSTED, b""),
            1,
            "case C-1: Temporal refused the call (RPCError RESOURCE_EXHAUSTED): namespace rate limited",
        ),
    ],
)
def test_refusals_and_temporal_errors_are_one_line(error: Exception, code: int, line: str, recorder: Recorder) -> None:
    recorder.raises = error
    for action in ACTIONS:
        args, _ = args_and_expected(action)
        result = CliRunner().invoke(app, ["case", action.path, "C-1", *args, *_as(action)])
        assert (result.exit_code, result.output) == (code, line + "\n"), action.path


def test_temporal_down_is_one_line_for_every_action() -> None:
    for action in ACTIONS:
        args, _ = args_and_expected(action)
        result = CliRunner().invoke(app, ["case", action.path, "C-1", *args, *_as(action)])
        assert result.exit_code == 1, (action.path, result.output)
        assert result.output.count("\n") == 1
        assert result.output.startswith("Temporal is not reachable at localhost:1"), result.output


class ToyLevel(enum.StrEnum):
    LOW = "low"
    HIGH = "high"


class PolishBadge(c.Command):
    """A plug-in's action, with a field of every widget."""

    type: Literal["polish_badge"] = "polish_badge"
    unit: UnitRef
    shiny: bool
    level: ToyLevel = ToyLevel.LOW
    extra: timedelta
    tasks: list[WhistleTask]
    note: str | None = None
    evidence: list[str] = []
    other_case_id: str
    escalation: EscalationLevel | None = None


TOY = Action(
    "polish_badge",
    PolishBadge,
    (Role.STREET, Role.SUPERVISOR),
    "擦徽章",
    "polish the street's badge",
    (
        FormField("unit", "单位", "Unit", Widget.UNIT),
        FormField("shiny", "锃亮", "Shiny", Widget.BOOL),
        FormField("level", "级别", "Level", Widget.CHOICE),
        FormField("extra", "时长", "Extra", Widget.DURATION),
        FormField("tasks", "任务", "Tasks", Widget.TASKS),
        FormField("note", "备注", "Note", Widget.TEXTAREA),
        FormField("evidence", "材料", "Evidence", Widget.REFS),
        FormField("other_case_id", "另案", "Other case", Widget.CASE),
    ),
)


def test_a_catalogue_with_a_toy_action_gets_its_command(recorder: Recorder) -> None:
    toy_app = build_case_app(CATALOGUE.extended(TOY))
    listing = CliRunner().invoke(toy_app, ["--help"])
    assert listing.exit_code == 0 and "polish-badge" in listing.output and "擦徽章" in listing.output
    assert "polish-badge" not in CliRunner().invoke(build_case_app(), ["--help"]).output

    help_ = CliRunner().invoke(toy_app, ["polish-badge", "--help"])
    assert help_.exit_code == 0, help_.output
    flat = " ".join(help_.output.split())
    for text in (
        "--unit KIND:ID",
        "--shiny / --no-shiny",
        "<low|high>",
        "--extra 3d|12h|90m|1d12h",
        "--task DEPT=TEXT",
        "--note TEXT",
        "--evidence REF",
        "--other-case-id CASE_ID",
        "--escalation",
        "street, supervisor",
    ):
        assert text in flat, text
    assert "[default: dispatcher]" not in flat, "the hotline may not take this action"

    missing_as = CliRunner().invoke(
        toy_app,
        [
            "polish-badge",
            "C-9",
            "--unit",
            "street:S-2",
            "--shiny",
            "--extra",
            "90m",
            "--task",
            "water=polish",
            "--other-case-id",
            "C-8",
        ],
    )
    assert missing_as.exit_code == 2 and "--as" in missing_as.output
    ok = CliRunner().invoke(
        toy_app,
        [
            "polish-badge",
            "C-9",
            "--unit",
            "street:S-2",
            "--no-shiny",
            "--level",
            "high",
            "--extra",
            "90m",
            "--task",
            "water=polish",
            "--other-case-id",
            "C-8",
            "--as",
            "street:S-2",
        ],
    )
    assert ok.exit_code == 0, ok.output
    [(_, command, _)] = recorder.sent
    assert command == PolishBadge(
        actor=command.actor,
        unit=UnitRef(kind=UnitKind.STREET, id="S-2"),
        shiny=False,
        level=ToyLevel.HIGH,
        extra=timedelta(minutes=90),
        tasks=[WhistleTask(department_id="water", task="polish")],
        other_case_id="C-8",
    )


def test_a_toy_action_colliding_with_a_hand_written_command_is_refused() -> None:
    class Show(c.Command):
        type: Literal["show"] = "show"

    with pytest.raises(ValueError, match="collides"):
        build_case_app(CATALOGUE.extended(Action("show", Show, (Role.DISPATCHER,), "看", "look")))


@pytest.mark.parametrize(
    ("action", "flag", "rule"),
    [
        ("merge", "--into-case-id", "case.unknown_reference"),
        ("merge", "--into-case-id", "case.reference_finished"),
        ("attach-duplicate", "--duplicate-case-id", "case.unknown_reference"),
    ],
)
def test_a_case_reference_the_client_refuses_is_one_line_and_nothing_is_sent(
    recorder: Recorder, action: str, flag: str, rule: str
) -> None:
    field = flag.removeprefix("--").replace("-", "_")
    recorder.references = [(field, rule, "there is no case 'CX'")]
    result = CliRunner().invoke(app, ["case", action, "C1", flag, "CX"])
    assert result.exit_code == 2, result.output
    assert f"refused by rule {rule}: {flag}: there is no case 'CX'" in result.output
    assert recorder.sent == []


@pytest.mark.parametrize(("person", "disabled"), [("nobody", False), ("gone", True)], ids=["unknown", "disabled"])
@pytest.mark.parametrize("action", [a for a in ACTIONS if any(f.widget == Widget.MEMBER for f in a.fields)], ids=str)
def test_a_member_the_directory_lacks_is_refused_before_anything_is_sent(
    action: Action, person: str, disabled: bool, recorder: Recorder
) -> None:
    if disabled:
        _add_user(person, Role.STREET, "S-1", "离职人员", disabled=True)
    extra = ["--reason", "workload"] if action.name == "reassign" else []
    result = CliRunner().invoke(app, ["case", action.path, "C-1", "--handler", person, *extra, *_as(action)])
    assert result.exit_code == 2, result.output
    assert "refused by rule registry.unknown_person: --handler" in result.output
    assert person in result.output
    assert recorder.sent == []


# --- the corrections: a place and a category of the city registry ---------------------------------

CORRECTIONS = ["relocate", "reclassify", "set-urgency", "submit-reply", "approve-reply", "send-back", "interim-reply"]


def test_the_review_and_correction_actions_have_their_commands() -> None:
    names = {cmd.name for cmd in build_case_app().registered_commands}
    assert set(CORRECTIONS) <= names


@pytest.mark.parametrize("grid_id", sorted(GRIDS))
def test_relocate_takes_a_grid_a_point_or_an_address(grid_id: str, recorder: Recorder) -> None:
    lat, lon = _inside(grid_id)
    name = GRIDS[grid_id][2]
    ways: list[tuple[list[str], Location]] = [
        (["--grid-id", grid_id], _place(grid_id)),
        (["--lat", str(lat), "--lon", str(lon)], _place(grid_id, lat=lat, lon=lon)),
        (["--address", f"{name}5号楼"], _place(grid_id, address=f"{name}5号楼")),
        (["--grid-id", grid_id, "--address", "门口"], _place(grid_id, address="门口")),
    ]
    for options, expected in ways:
        result = CliRunner().invoke(app, ["case", "relocate", "C-1", *options, "--reason", "地址有误"])
        assert result.exit_code == 0, (options, result.output)
        _, command, _ = recorder.sent[-1]
        assert isinstance(command, c.Relocate)
        assert (command.location, command.reason) == (expected, "地址有误"), options
    assert len(recorder.sent) == len(ways)


@pytest.mark.parametrize(
    ("options", "rule", "flag"),
    [
        (["--grid-id", "G-404"], "registry.unknown_location", "--grid-id"),
        (["--grid-id", "g-101"], "registry.unknown_location", "--grid-id"),
        (["--lat", "40.70", "--lon", "111.60"], "registry.unknown_location", "--lat/--lon"),
        (["--lat", "40.805", "--lon", "111.70"], "registry.unknown_location", "--lat/--lon"),
        (["--address", "火星大道1号"], "registry.unknown_location", "--address"),
        (["--lat", "40.805"], "location.coordinates", "--lat/--lon"),
        (["--lon", "111.605"], "location.coordinates", "--lat/--lon"),
    ],
)
def test_relocate_to_a_place_the_registry_lacks_is_one_line_and_nothing_is_sent(
    options: list[str], rule: str, flag: str, recorder: Recorder
) -> None:
    result = CliRunner().invoke(app, ["case", "relocate", "C-1", *options, "--reason", "地址有误"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"refused by rule {rule}: {flag}: "), result.output
    assert recorder.sent == []


def test_relocate_without_a_place_names_its_options(recorder: Recorder) -> None:
    result = CliRunner().invoke(app, ["case", "relocate", "C-1", "--reason", "地址有误"])
    assert result.exit_code == 2
    assert all(flag in result.output for flag in ("--grid-id", "--lat", "--lon", "--address")), result.output
    assert recorder.sent == []


def test_reclassify_takes_the_codes_of_the_city_catalogue(recorder: Recorder) -> None:
    codes = sorted(e.code for e in tiny_city().categories)
    for code in codes:
        result = CliRunner().invoke(app, ["case", "reclassify", "C-1", "--category", code, "--reason", "类别有误"])
        assert result.exit_code == 0, (code, result.output)
        _, command, _ = recorder.sent[-1]
        assert isinstance(command, c.Reclassify) and command.category == code
    assert all(code in recorder.categories for code in codes)
    for code in ("nosie", "NOISE", "food-safety", "停水"):  # not in this city's catalogue
        assert code not in recorder.categories
        result = CliRunner().invoke(app, ["case", "reclassify", "C-1", "--category", code, "--reason", "类别有误"])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1
        assert result.output.startswith("refused by rule registry.unknown_category: --category: "), result.output
        assert repr(code) in result.output
    assert len(recorder.sent) == len(codes)


def test_actions_without_a_category_do_not_read_the_catalogue(recorder: Recorder) -> None:
    result = CliRunner().invoke(app, ["case", "set-urgency", "C-1", "--urgency", "urgent", "--reason", "涉及安全"])
    assert result.exit_code == 0, result.output
    [(_, command, _)] = recorder.sent
    assert isinstance(command, c.SetUrgency) and command.urgency.value == "urgent"
    assert recorder.categories is None
    bad = CliRunner().invoke(app, ["case", "set-urgency", "C-1", "--urgency", "asap", "--reason", "x"])
    assert bad.exit_code == 2 and "--urgency" in bad.output
