"""The action catalogue: one canonical name per action, complete rows and forms, and decide's role check."""

from __future__ import annotations

import pytest

from events.base import Actor, Role
from tests.unit.domain_helpers import Case
from workflows.domain import CaseState, DomainError, decide
from workflows.domain.actions import CATALOGUE, Action, Catalogue, Widget, form_schema
from workflows.domain.available import probe_command

ROWS = list(CATALOGUE)


def test_names_and_paths_are_unique_and_one_word() -> None:
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names))
    assert len({r.path for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert r.path == r.name.replace("_", "-")
        assert CATALOGUE.by_path[r.path] is r and CATALOGUE[r.name] is r and CATALOGUE.for_command(r.command) is r


def test_a_catalogue_refuses_a_row_twice_or_a_name_that_is_not_its_commands() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        Catalogue([ROWS[0], ROWS[0]])
    with pytest.raises(ValueError, match="its command's type"):
        Catalogue([Action("other_name", ROWS[0].command, ROWS[0].roles, "甲", "a")])


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_every_row_is_complete(row: Action) -> None:
    assert row.roles and len(set(row.roles)) == len(row.roles)
    assert row.summary_zh.strip() and row.summary_en.strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in row.summary_zh), "the Chinese term"
    assert row.summary == f"{row.summary_zh}: {row.summary_en}"
    for f in row.fields:
        assert f.label_zh.strip() and f.label_en.strip() and isinstance(f.widget, Widget)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_form_schema_labels_every_field(row: Action) -> None:
    schema = form_schema(row)
    props = schema.get("properties", {})
    assert "actor" not in props and "type" not in props
    assert "actor" not in schema["required"] and "type" not in schema["required"]
    assert set(props) == {f.name for f in row.fields}
    for name, prop in props.items():
        f = row.form_field(name)
        assert f is not None
        assert prop["title"] == f.label_zh and prop["x-label-en"] == f.label_en and prop["x-widget"] == f.widget.value
    assert schema["title"] == row.summary_zh and schema["description"] == row.summary_en


def test_only_the_tick_is_not_manual() -> None:
    assert [r.name for r in ROWS if not r.manual] == ["tick"]
    assert "open" not in {r.name for r in CATALOGUE.after_intake()}
    assert {r.name for r in CATALOGUE.manual()} - {r.name for r in CATALOGUE.after_intake()} == {"open"}


def _actor(role: Role) -> Actor:
    return Actor(
        role=role,
        person_id=f"{role.value}-1",
        unit_id=None
        if role in (Role.DISPATCHER, Role.RESIDENT)
        else {
            "grid_worker": "G-101",
            "street": "S-1",
            "community": "C-10",
            "department": "environment",
            "property": "P-1",
            "volunteer": "V-10",
            "supervisor": "D-1",
            "system": None,
        }[role.value],
    )


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_decide_refuses_every_role_the_row_does_not_list(row: Action) -> None:
    handling = Case().open_hotline().to_street_handling()
    for state in (CaseState(case_id="N1", sla=handling.state.sla), handling.state):
        for role in set(Role) - set(row.roles):
            cmd = probe_command(row, state, _actor(role))
            with pytest.raises(DomainError) as e:
                decide(state, cmd, handling.now)  # type: ignore[arg-type]
            assert e.value.rule == "role.not_allowed", (row.name, role)
            assert row.name in e.value.message and role.value in e.value.message
