"""SLA policy: the built-in defaults, the file format, and refusals that name field and rule."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from events.schemas import ClockKind, EscalationLevel, Urgency
from workers.cli_policy import app as policy_app
from workflows.sla.policy import (
    DEFAULT_POLICY_FILE,
    LADDER_RULE,
    WARNINGS_RULE,
    Basis,
    ClockRule,
    DurationSpec,
    HierarchyLevel,
    PolicyError,
    SlaPolicy,
    default_policy,
    load_policy,
    policy_from_mapping,
)

H = timedelta(hours=1)


def base_doc() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: Any, name: str = "policy.yaml") -> Path:
    f = tmp_path / name
    f.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return f


# --- defaults -----------------------------------------------------------------------------------


def test_default_policy_loads_every_clock() -> None:
    p = default_policy()
    assert set(p.clocks) == set(ClockKind)
    assert p.version and p.working_day == 7 * H


@pytest.mark.parametrize(
    "kind, category, urgency, duration, working",
    [
        (ClockKind.ACCEPT, "noise", Urgency.URGENT, 1 * H, True),
        (ClockKind.CONTACT, "noise", Urgency.URGENT, 2 * H, False),
        (ClockKind.CONTACT, "noise", Urgency.ORDINARY, 24 * H, False),
        (ClockKind.REPORT_IN, "noise", Urgency.ORDINARY, timedelta(minutes=30), False),
        (ClockKind.RESOLVE, "noise", Urgency.URGENT, 24 * H, False),
        (ClockKind.RESOLVE, "noise", Urgency.ORDINARY, timedelta(days=7), False),
        (ClockKind.RESOLVE, "water", Urgency.ORDINARY, 24 * H, False),
        (ClockKind.RESOLVE, "heating", Urgency.ORDINARY, 24 * H, False),
        (ClockKind.RESOLVE, "complex", Urgency.ORDINARY, 15 * 7 * H, True),
        (ClockKind.RESOLVE, "complex", Urgency.URGENT, 24 * H, False),  # no urgent override: default
        (ClockKind.VERIFY, "noise", Urgency.URGENT, 2 * H, False),
        (ClockKind.VERIFY, "noise", Urgency.ORDINARY, 7 * H, True),
        (ClockKind.CALLBACK, "noise", Urgency.ORDINARY, 7 * H, True),
        (ClockKind.RETURN_REVIEW, "noise", Urgency.URGENT, 1 * H, True),
        (ClockKind.RETURN_REVIEW, "noise", Urgency.ORDINARY, 7 * H, True),
    ],
)
def test_default_rules(kind: ClockKind, category: str, urgency: Urgency, duration: timedelta, working: bool) -> None:
    rule = default_policy().rule_for(kind, category, urgency)
    assert (rule.duration, rule.working_time) == (duration, working)


def test_default_warnings_and_ladder() -> None:
    rule = default_policy().rule_for(ClockKind.RESOLVE, "noise", Urgency.ORDINARY)
    assert rule.warnings == [0.5, 0.75]
    assert [r.level for r in rule.ladder] == [
        EscalationLevel.REMINDER,
        EscalationLevel.SUPERVISION,
        EscalationLevel.PUBLIC_NOTICE,
    ]
    assert [r.delay for r in rule.ladder] == [timedelta(0), 7 * H, 6 * 7 * H]
    assert all(r.working_time for r in rule.ladder)
    assert rule.ladder[0].recipients == [HierarchyLevel.UNIT]
    complex_rule = default_policy().rule_for(ClockKind.RESOLVE, "complex", Urgency.ORDINARY)
    assert complex_rule.warnings == [0.5, 0.75, 0.9]


def test_policy_round_trips_through_json() -> None:
    p = default_policy()
    again = SlaPolicy.model_validate_json(p.model_dump_json())
    assert again == p and again.version == p.version


def test_version_is_a_content_hash_unless_given(tmp_path: Path) -> None:
    doc = base_doc()
    v1 = policy_from_mapping(doc).version
    assert policy_from_mapping(copy.deepcopy(doc)).version == v1
    doc["clocks"]["accept"]["urgent"] = "2h working"
    assert policy_from_mapping(doc).version != v1
    doc["version"] = "city-2026-03"
    assert load_policy(write(tmp_path, doc)).version == "city-2026-03"


def test_file_forms() -> None:
    doc = base_doc()
    doc["working_day"] = "8h"
    doc["clocks"]["accept"] = "1h working"  # one rule for both urgencies
    doc["clocks"]["verify"] = {
        "urgent": {"duration": "2h", "basis": "calendar"},
        "ordinary": {"duration": "2d working", "warnings": [0.9], "ladder": []},
    }
    p = policy_from_mapping(doc)
    assert p.rule_for(ClockKind.ACCEPT, "x", Urgency.ORDINARY).duration == H
    assert p.rule_for(ClockKind.VERIFY, "x", Urgency.URGENT).working_time is False
    verify = p.rule_for(ClockKind.VERIFY, "x", Urgency.ORDINARY)
    assert verify.duration == 16 * H and verify.warnings == [0.9] and verify.ladder == []
    # "1d working" in the defaults' ladder follows working_day too
    assert p.rule_for(ClockKind.ACCEPT, "x", Urgency.URGENT).ladder[1].delay == 8 * H


@pytest.mark.parametrize(
    "text, basis, amount",
    [
        ("1h working", Basis.WORKING, H),
        ("30m calendar", Basis.CALENDAR, timedelta(minutes=30)),
        ("2h30m working", Basis.WORKING, timedelta(hours=2, minutes=30)),
        ("2h 30m calendar", Basis.CALENDAR, timedelta(hours=2, minutes=30)),
        ("7d calendar", Basis.CALENDAR, timedelta(days=7)),
        ("15d working", Basis.WORKING, 15 * 7 * H),
        ("1d2h working", Basis.WORKING, 9 * H),
        ("90s calendar", Basis.CALENDAR, timedelta(seconds=90)),
    ],
)
def test_duration_spec(text: str, basis: Basis, amount: timedelta) -> None:
    spec = DurationSpec.parse(text)
    assert (spec.basis, spec.amount) == (basis, amount)
    assert DurationSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("text", ["1h", "h working", "1x working", "1.5h working", "", "working", "1h weekly"])
def test_bad_duration_spec(text: str) -> None:
    with pytest.raises(ValueError):
        DurationSpec.parse(text)


def test_rules_built_in_python_keep_the_defaults() -> None:
    rule = ClockRule(duration=2 * H, working_time=False)
    assert rule.warnings == [0.5, 0.75] and len(rule.ladder) == 3


# --- refusals -----------------------------------------------------------------------------------


def _set(path: str, value: Any):
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _pop(path: str):
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[p]
        del node[last]

    return mutate


BAD_CASES = [
    pytest.param(
        _set("clocks.resolve.ordinary", {"duration": "7d calendar", "warnings": [0.5, 0.4]}),
        "clocks.resolve.ordinary.warnings[1]",
        WARNINGS_RULE,
        id="warnings-not-increasing",
    ),
    pytest.param(
        _set("clocks.resolve.ordinary", {"duration": "7d calendar", "warnings": [0.5, 1.0]}),
        "clocks.resolve.ordinary.warnings[1]",
        WARNINGS_RULE,
        id="warning-at-100%",
    ),
    pytest.param(_set("defaults.warnings", [0]), "defaults.warnings[0]", WARNINGS_RULE, id="default-warning-0"),
    pytest.param(_set("clocks.fixup", "1h working"), "clocks.fixup", "unknown clock kind 'fixup'", id="unknown-kind"),
    pytest.param(_pop("clocks.verify"), "clocks", "missing clock kind(s) verify", id="missing-kind"),
    pytest.param(
        _set("clocks.accept.urgent", "1 hour working"),
        "clocks.accept.urgent.duration",
        "bad duration '1 hour'",
        id="bad-duration",
    ),
    pytest.param(
        _set("clocks.accept.urgent", "1h"), "clocks.accept.urgent.duration", "needs a basis", id="no-basis"
    ),
    pytest.param(
        _set("clocks.accept.urgent", {"duration": "1h", "basis": "weekly"}),
        "clocks.accept.urgent.basis",
        "unknown basis 'weekly'",
        id="bad-basis",
    ),
    pytest.param(
        _set("clocks.accept.urgent", "0m working"),
        "clocks.accept.urgent.duration",
        "must be positive",
        id="zero-duration",
    ),
    pytest.param(
        _set("clocks.accept.urgent", {"duration": "-PT1H", "working_time": True}),
        "clocks.accept.urgent.duration",
        "must be positive",
        id="negative-duration",
    ),
    pytest.param(
        _set("clocks.accept.urgent", 60), "clocks.accept.urgent", "a rule is a duration", id="bare-number"
    ),
    pytest.param(
        _set(
            "defaults.ladder",
            [{"level": "supervision", "delay": "1d working"}, {"level": "reminder", "delay": "2d working"}],
        ),
        "defaults.ladder[1].level",
        LADDER_RULE,
        id="ladder-out-of-order",
    ),
    pytest.param(
        _set(
            "clocks.verify.ordinary",
            {
                "duration": "1d working",
                "ladder": [
                    {"level": "reminder", "delay": "1d working"},
                    {"level": "supervision", "delay": "2h working"},
                ],
            },
        ),
        "clocks.verify.ordinary.ladder[1].delay",
        LADDER_RULE,
        id="ladder-delay-decreasing",
    ),
    pytest.param(
        _set("defaults.ladder.1.recipients", ["unit", "mayor"]),
        "defaults.ladder[1].recipients[1]",
        "unknown recipient level 'mayor'",
        id="unknown-recipient",
    ),
    pytest.param(
        _set("defaults.ladder.0.level", "scolding"),
        "defaults.ladder[0].level",
        "unknown value 'scolding'",
        id="unknown-level",
    ),
    pytest.param(_set("clocks.accept.urgnt", "1h working"), "clocks.accept.urgnt", "unknown key", id="extra-key"),
    pytest.param(_set("clock", {}), "clock", "unknown key", id="extra-top-key"),
    pytest.param(
        _set("clocks.resolve.by_category.water", {"urgent": "1h working", "normal": "2h working"}),
        "clocks.resolve.by_category.water.normal",
        "unknown key",
        id="extra-key-in-override",
    ),
    pytest.param(
        _set("clocks.resolve.by_category.noise", {}),
        "clocks.resolve.by_category.noise",
        "needs an 'urgent' or an 'ordinary' rule",
        id="empty-override",
    ),
    pytest.param(_pop("clocks.accept.ordinary"), "clocks.accept.ordinary", "required but missing", id="no-ordinary"),
    pytest.param(_set("working_day", "25h"), "working_day", "at most 24h", id="working-day"),
]


@pytest.mark.parametrize("mutate, field, rule", BAD_CASES)
def test_bad_files_are_refused_naming_file_field_and_rule(tmp_path: Path, mutate, field: str, rule: str) -> None:
    doc = base_doc()
    mutate(doc)
    f = write(tmp_path, doc)
    with pytest.raises(PolicyError) as info:
        load_policy(f)
    message = str(info.value)
    assert str(f) in message
    assert f"{field}: " in message, message
    assert rule in message, message


def test_not_yaml(tmp_path: Path) -> None:
    f = write(tmp_path, "clocks: {accept: [1h working\n")
    with pytest.raises(PolicyError, match="not valid YAML") as info:
        load_policy(f)
    assert str(f) in str(info.value)


@pytest.mark.parametrize("text", ["- accept\n- resolve\n", "just a string\n", ""])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(PolicyError, match="must be a mapping") as info:
        load_policy(f)
    assert str(f) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    doc = base_doc()
    doc["clocks"]["accept"] = {"urgent": "1h", "ordinary": "1x working"}
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, doc))
    assert len(info.value.issues) == 2
    assert "clocks.accept.urgent.duration" in str(info.value)
    assert "clocks.accept.ordinary.duration" in str(info.value)


# --- gridcase policy ----------------------------------------------------------------------------


def test_cli_show_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDCASE_POLICY_FILE", raising=False)
    from workers.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(policy_app, ["show"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("return_review", "complex", "15d", "working", "calendar", "50%, 75%", "supervision"):
        assert text in result.output
    assert default_policy().version in result.output


def test_cli_show_file_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = base_doc()
    doc["version"] = "city-special"
    f = write(tmp_path, doc)
    from workers.settings import get_settings

    monkeypatch.setenv("GRIDCASE_POLICY_FILE", str(f))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(policy_app, ["show"], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and "city-special" in result.output
    result = CliRunner().invoke(policy_app, ["show", "--file", str(f), "--json"])
    assert result.exit_code == 0 and SlaPolicy.model_validate_json(result.output).version == "city-special"


def test_cli_check(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(policy_app, ["check", str(DEFAULT_POLICY_FILE)])
    assert ok.exit_code == 0 and ok.output.startswith("OK")
    doc = base_doc()
    doc["clocks"]["resolve"]["ordinary"] = {"duration": "7d calendar", "warnings": [0.75, 0.5]}
    bad = write(tmp_path, doc)
    result = runner.invoke(policy_app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "clocks.resolve.ordinary.warnings[1]" in result.output and WARNINGS_RULE in result.output
