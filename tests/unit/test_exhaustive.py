"""Exhaustiveness, checked: every event has its evolve arm, projection arm and schema; every command
its catalogue row, its decide handler and a form matching its fields.

Each checker takes what it checks as arguments, so the tests below also show it failing on a fake
event or command: a check that cannot fail would be a defect.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel

import readmodel.projection as projection
from events.base import Role
from events.export_schemas import SCHEMA_DIR
from events.schemas import EVENT_CLASSES, CaseClosed, CaseEvent
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, Catalogue, FormField
from workflows.domain.decide import HANDLERS
from workflows.domain.evolve import apply_event as evolve_apply


def union_members(annotated: Any) -> tuple[type, ...]:
    """The classes of a discriminated union ``Annotated[A | B | ..., Field(discriminator=...)]``."""
    union, *_ = get_args(annotated)
    return tuple(get_args(union))


def type_of(cls: type[BaseModel]) -> str:
    return str(cls.model_fields["type"].default)


def match_arms(func: Callable[..., Any]) -> set[str]:
    """Names of the classes that ``func``'s ``match`` statements have a ``case Cls():`` arm for.

    A bare ``case _:`` names no class, so a silent fall-through never counts as an arm.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    names: set[str] = set()

    def visit(p: ast.pattern) -> None:
        if isinstance(p, ast.MatchClass):
            names.add(p.cls.id if isinstance(p.cls, ast.Name) else ast.unparse(p.cls).rsplit(".", 1)[-1])
        elif isinstance(p, ast.MatchOr):
            for q in p.patterns:
                visit(q)
        elif isinstance(p, ast.MatchAs) and p.pattern is not None:
            visit(p.pattern)

    for node in ast.walk(tree):
        if isinstance(node, ast.match_case):
            visit(node.pattern)
    return names


def event_problems(
    events: Collection[type[BaseModel]],
    *,
    evolve: Callable[..., Any],
    project: Callable[..., Any],
    timeline_only: Collection[type],
    schema_dir: Path,
) -> list[str]:
    """What is missing for each event class: an evolve arm, a projection arm (or an explicit
    timeline-only entry), a checked-in JSON schema."""
    evolve_arms, project_arms = match_arms(evolve), match_arms(project)
    problems = []
    for cls in events:
        name = cls.__name__
        if name not in evolve_arms:
            problems.append(f"{name}: no evolve arm")
        if name not in project_arms and cls not in timeline_only:
            problems.append(f"{name}: no projection arm and not in projection.TIMELINE_ONLY")
        if name in project_arms and cls in timeline_only:
            problems.append(f"{name}: has a projection arm and is listed as timeline only")
        if not (schema_dir / f"{type_of(cls)}.json").is_file():
            problems.append(f"{name}: no JSON schema {type_of(cls)}.json under {schema_dir.name}/")
    return problems


def command_problems(
    commands: Collection[type[c.Command]], *, catalogue: Catalogue, handlers: Mapping[type, object]
) -> list[str]:
    """What is missing for each command class: a catalogue row, a decide handler, a form whose
    fields are exactly the command's fields but ``actor`` and ``type``."""
    problems = []
    for cls in commands:
        name = cls.__name__
        row = catalogue.by_command.get(cls)
        if row is None:
            problems.append(f"{name}: no catalogue row")
        else:
            expected = set(cls.model_fields) - {"actor", "type"}
            form = [f.name for f in row.fields]
            if len(form) != len(set(form)):
                problems.append(f"{name}: a form field is listed twice")
            if set(form) != expected:
                problems.append(f"{name}: form fields {sorted(form)} != command fields {sorted(expected)}")
        if cls not in handlers:
            problems.append(f"{name}: no decide handler")
    return problems


# --- the real thing ---------------------------------------------------------------------------


def test_the_event_union_is_every_event_class() -> None:
    assert set(union_members(CaseEvent)) == set(EVENT_CLASSES)


def test_every_event_has_its_evolve_arm_projection_arm_and_schema() -> None:
    problems = event_problems(
        union_members(CaseEvent),
        evolve=evolve_apply,
        project=projection.apply_event,
        timeline_only=projection.TIMELINE_ONLY,
        schema_dir=SCHEMA_DIR,
    )
    assert problems == []


def test_every_command_has_its_row_handler_and_form() -> None:
    commands = union_members(c.CaseCommand)
    assert command_problems(commands, catalogue=CATALOGUE, handlers=HANDLERS) == []
    assert {r.command for r in CATALOGUE} == set(commands), "a catalogue row whose command is not a CaseCommand"
    assert set(HANDLERS) == set(commands), "a handler for a command that is not a CaseCommand"


def test_the_projection_raises_on_an_event_it_has_no_arm_for() -> None:
    import pytest

    class Unheard(BaseModel):
        seq: int = 1
        occurred_at: datetime = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    view = projection.CaseView.empty("C1")
    with pytest.raises(ValueError, match="no projection arm for Unheard"):
        projection.apply_event(view, Unheard())  # type: ignore[arg-type]


# --- each check can fail ----------------------------------------------------------------------


class CaseFrobbed(BaseModel):
    """A fake event: in no arm, no schema (a plain model, so no registry of real events sees it)."""

    type: Literal["case.frobbed"] = "case.frobbed"


def test_the_event_check_reports_a_fake_event_everywhere() -> None:
    problems = event_problems(
        [CaseFrobbed],
        evolve=evolve_apply,
        project=projection.apply_event,
        timeline_only=projection.TIMELINE_ONLY,
        schema_dir=SCHEMA_DIR,
    )
    assert problems == [
        "CaseFrobbed: no evolve arm",
        "CaseFrobbed: no projection arm and not in projection.TIMELINE_ONLY",
        "CaseFrobbed: no JSON schema case.frobbed.json under schemas/",
    ]


def test_a_fall_through_is_not_an_arm() -> None:
    def silent(e: object) -> None:
        match e:
            case CaseClosed():
                pass
            case _:
                pass

    assert match_arms(silent) == {"CaseClosed"}
    assert event_problems([CaseClosed], evolve=silent, project=silent, timeline_only=(), schema_dir=SCHEMA_DIR) == []

    def none(e: object) -> None:
        match e:
            case _:
                pass

    assert event_problems([CaseClosed], evolve=none, project=none, timeline_only=(), schema_dir=SCHEMA_DIR) == [
        "CaseClosed: no evolve arm",
        "CaseClosed: no projection arm and not in projection.TIMELINE_ONLY",
    ]
    assert event_problems(
        [CaseClosed], evolve=silent, project=silent, timeline_only={CaseClosed}, schema_dir=SCHEMA_DIR
    ) == ["CaseClosed: has a projection arm and is listed as timeline only"]


def test_a_timeline_only_event_needs_its_entry(tmp_path: Path) -> None:
    [timeline_only, *_] = sorted(projection.TIMELINE_ONLY, key=lambda k: k.__name__)
    assert event_problems(
        [timeline_only], evolve=evolve_apply, project=projection.apply_event, timeline_only=(), schema_dir=SCHEMA_DIR
    ) == [f"{timeline_only.__name__}: no projection arm and not in projection.TIMELINE_ONLY"]
    assert event_problems(
        [timeline_only],
        evolve=evolve_apply,
        project=projection.apply_event,
        timeline_only=projection.TIMELINE_ONLY,
        schema_dir=tmp_path,
    ) == [f"{timeline_only.__name__}: no JSON schema {type_of(timeline_only)}.json under {tmp_path.name}/"]


class FrobCase(c.Command):
    """A fake command: no row, no handler."""

    type: Literal["frob"] = "frob"
    how: str


def test_the_command_check_reports_a_fake_command() -> None:
    assert command_problems([FrobCase], catalogue=CATALOGUE, handlers=HANDLERS) == [
        "FrobCase: no catalogue row",
        "FrobCase: no decide handler",
    ]


def test_the_command_check_reports_a_form_that_does_not_match() -> None:
    wrong = Action("frob", FrobCase, (Role.DISPATCHER,), "弄", "frob", (FormField("why", "为何", "Why"),))
    assert command_problems([FrobCase], catalogue=Catalogue([wrong]), handlers={FrobCase: object()}) == [
        "FrobCase: form fields ['why'] != command fields ['how']"
    ]
    twice = Action(
        "frob",
        FrobCase,
        (Role.DISPATCHER,),
        "弄",
        "frob",
        (FormField("how", "怎样", "How"), FormField("how", "怎样", "How")),
    )
    assert command_problems([FrobCase], catalogue=Catalogue([twice]), handlers={FrobCase: object()}) == [
        "FrobCase: a form field is listed twice"
    ]
    right = Action("frob", FrobCase, (Role.DISPATCHER,), "弄", "frob", (FormField("how", "怎样", "How"),))
    assert command_problems([FrobCase], catalogue=Catalogue([right]), handlers={FrobCase: object()}) == []
