"""Schema evolution: the current models against the checked-in JSON Schemas, and the checker itself."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from events.compat import check_compatible
from events.export_schemas import SCHEMA_DIR, breaking_changes, current_schemas, load_checked_in, stale_files


def test_every_event_type_has_a_checked_in_schema() -> None:
    missing = set(current_schemas()) - set(load_checked_in())
    assert not missing, f"no schema in {SCHEMA_DIR} for {sorted(missing)}: run python -m events.export_schemas"


def test_current_models_do_not_break_the_checked_in_schemas() -> None:
    broken = breaking_changes()
    assert not broken, "breaking changes to published events (add fields with defaults only):\n" + "\n".join(
        f"  {etype}: {p}" for etype, problems in broken.items() for p in problems
    )


def test_checked_in_schemas_are_up_to_date() -> None:
    stale = stale_files()
    assert not stale, f"schemas out of date for {stale}: run .venv/bin/python -m events.export_schemas"


def _received() -> dict[str, Any]:
    return copy.deepcopy(load_checked_in()["case.received"])


def _dispatched() -> dict[str, Any]:
    return copy.deepcopy(load_checked_in()["case.dispatched"])


def test_identical_is_compatible() -> None:
    for schema in load_checked_in().values():
        assert check_compatible(schema, copy.deepcopy(schema)) == []


def test_removed_field_is_caught() -> None:
    old, new = _received(), _received()
    del new["properties"]["title"]
    new["required"].remove("title")
    assert check_compatible(old, new) == ["field 'title' removed"]


def test_removed_nested_field_is_caught() -> None:
    old, new = _received(), _received()
    del new["$defs"]["ResidentContact"]["properties"]["phone"]
    assert check_compatible(old, new) == ["field 'contact.phone' removed"]


def test_retyped_field_is_caught() -> None:
    old, new = _received(), _received()
    new["properties"]["seq"] = {"type": "string", "title": "Seq"}
    problems = check_compatible(old, new)
    assert problems == ["field 'seq' retyped: integer -> string"]


def test_retyped_nested_field_is_caught() -> None:
    old, new = _dispatched(), _dispatched()
    new["$defs"]["UnitRef"]["properties"]["id"] = {"type": "integer", "title": "Id"}
    # UnitRef is shared by `unit` and `by` (the unit that passed a case down): both are caught
    assert check_compatible(old, new) == [
        "field 'unit.id' retyped: string -> integer",
        "field 'by.id' retyped: string -> integer",
    ]


def test_made_non_nullable_is_caught() -> None:
    old, new = _dispatched(), _dispatched()
    new["properties"]["note"] = {"type": "string", "title": "Note"}
    problems = check_compatible(old, new)
    assert len(problems) == 1 and "made non-nullable" in problems[0]


def test_optional_made_required_is_caught() -> None:
    old, new = _dispatched(), _dispatched()
    new["required"].append("final_ruling")
    assert check_compatible(old, new) == ["field 'final_ruling' made required (was optional)"]


def test_optional_made_required_in_a_nested_model_is_caught() -> None:
    old, new = _received(), _received()
    new["$defs"]["Location"]["required"].append("address")
    assert check_compatible(old, new) == ["field 'location.address' made required (was optional)"]


def test_new_required_field_is_caught_but_a_defaulted_one_is_fine() -> None:
    old, new = _dispatched(), _dispatched()
    new["properties"]["priority"] = {"type": "integer", "default": 0}
    assert check_compatible(old, new) == []
    new["required"].append("priority")
    assert check_compatible(old, new) == ["field 'priority' added as required (new fields need a default)"]


def test_enum_value_removed_is_caught_added_is_not() -> None:
    old, new = _dispatched(), _dispatched()
    new["$defs"]["UnitKind"]["enum"] = [v for v in new["$defs"]["UnitKind"]["enum"] if v != "street"]
    problems = check_compatible(old, new)
    assert len(problems) == 2 and all("enum values removed ['street']" in x for x in problems)
    assert check_compatible(new, old) == []


def test_constraint_tightened_is_caught() -> None:
    old, new = _received(), _received()
    new["$defs"]["ResidentContact"]["properties"]["name"]["anyOf"][0]["maxLength"] = 16
    assert check_compatible(old, new) == ["field 'contact.name' constraint tightened: maxLength 64 -> 16"]


def test_widening_is_compatible() -> None:
    old, new = _dispatched(), _dispatched()
    new["properties"]["seq"] = {"type": "number"}  # integer -> number, constraint dropped
    new["properties"]["event_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}  # made nullable
    assert check_compatible(old, new) == []


@pytest.mark.parametrize("etype", sorted(load_checked_in()))
def test_checked_in_schema_is_self_contained(etype: str) -> None:
    schema = load_checked_in()[etype]
    assert schema["properties"]["type"]["const"] == etype
    assert schema["$id"].startswith(f"urn:gridcase:schema:{etype}:v")
