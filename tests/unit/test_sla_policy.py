"""SLA policy: the built-in defaults, the file format, and refusals that name field and rule."""

from __future__ import annotations

import copy
from datetime import timedelta
from functools import lru_cache
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
    RULE_UNKNOWN_CATEGORY,
    RULE_UNKNOWN_RECIPIENT,
    RULE_UNKNOWN_URGENCY,
    WARNINGS_RULE,
    Basis,
    ClockRule,
    DurationSpec,
    HierarchyLevel,
    PolicyError,
    SlaPolicy,
    category_issues,
    check_categories,
    default_policy,
    horizon_days,
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
        (ClockKind.RESOLVE, "power-outage", Urgency.ORDINARY, 24 * H, False),
        (ClockKind.RESOLVE, "gas-leak", Urgency.ORDINARY, 24 * H, False),
        (ClockKind.RESOLVE, "illegal-construction", Urgency.ORDINARY, 15 * 7 * H, True),
        (ClockKind.RESOLVE, "illegal-construction", Urgency.URGENT, 24 * H, False),  # no urgent override
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
    complex_rule = default_policy().rule_for(ClockKind.RESOLVE, "illegal-construction", Urgency.ORDINARY)
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
    pytest.param(
        _set("clocks.fixup", "1h working"),
        "clocks.fixup",
        "policy.unknown_clock_kind: unknown clock kind 'fixup'",
        id="unknown-kind",
    ),
    pytest.param(_pop("clocks.verify"), "clocks", "missing clock kind(s) verify", id="missing-kind"),
    pytest.param(
        _set("clocks.accept.urgent", "1 hour working"),
        "clocks.accept.urgent.duration",
        "bad duration '1 hour'",
        id="bad-duration",
    ),
    pytest.param(_set("clocks.accept.urgent", "1h"), "clocks.accept.urgent.duration", "needs a basis", id="no-basis"),
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
    pytest.param(_set("clocks.accept.urgent", 60), "clocks.accept.urgent", "a rule is a duration", id="bare-number"),
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
        "policy.unknown_recipient: unknown recipient level 'mayor'",
        id="unknown-recipient",
    ),
    pytest.param(
        _set("defaults.ladder.0.level", "scolding"),
        "defaults.ladder[0].level",
        "unknown value 'scolding'",
        id="unknown-level",
    ),
    pytest.param(
        _set("clocks.accept.urgnt", "1h working"),
        "clocks.accept.urgnt",
        "policy.unknown_urgency: unknown key 'urgnt'",
        id="extra-key",
    ),
    pytest.param(_set("clock", {}), "clock", "unknown key", id="extra-top-key"),
    pytest.param(
        _set("clocks.resolve.by_category.water", {"urgent": "1h working", "normal": "2h working"}),
        "clocks.resolve.by_category.water.normal",
        "policy.unknown_urgency: unknown key 'normal'",
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
    for text in ("return_review", "illegal-construction", "15d", "working", "calendar", "50%, 75%", "supervision"):
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
    ok = runner.invoke(policy_app, ["check", str(DEFAULT_POLICY_FILE), "--no-city"])
    assert ok.exit_code == 0 and ok.output.startswith("OK")
    doc = base_doc()
    doc["clocks"]["resolve"]["ordinary"] = {"duration": "7d calendar", "warnings": [0.75, 0.5]}
    bad = write(tmp_path, doc)
    result = runner.invoke(policy_app, ["check", str(bad), "--no-city"])
    assert result.exit_code == 1
    assert "clocks.resolve.ordinary.warnings[1]" in result.output and WARNINGS_RULE in result.output


# --- names the city must know: categories, urgencies, recipient levels ------------------------


@lru_cache(maxsize=1)
def seed_categories() -> frozenset[str]:
    """The category codes of the seed city's catalogue (``city/data/seed/categories.csv``)."""
    from city.files import read_city
    from city.seed import SEED_DIR

    return frozenset(c.code for c in read_city(SEED_DIR).categories)


# The overrides the built-in policy used to have: names of no category of the catalogue.
DEAD_OVERRIDES = {"power": "24h calendar", "gas": "24h calendar", "complex": {"ordinary": "15d working"}}


@pytest.mark.parametrize("kind", list(ClockKind))
@pytest.mark.parametrize(
    "code, suggestion",
    [
        ("power", "power-outage"),
        ("gas", "gas-leak"),
        ("complex", None),
        ("Noise", "noise"),
        ("water_pipe", "water-pipe"),
    ],
)
def test_an_override_naming_an_unknown_category_is_refused(
    tmp_path: Path, kind: ClockKind, code: str, suggestion: str | None
) -> None:
    doc = base_doc()
    doc["clocks"][kind.value] = {"urgent": "1h working", "ordinary": "1h working", "by_category": {code: "2h calendar"}}
    f = write(tmp_path, doc)
    with pytest.raises(PolicyError) as info:
        load_policy(f, categories=seed_categories())
    message = str(info.value)
    assert message.startswith(f"{f}: clocks.{kind.value}.by_category.{code}: {RULE_UNKNOWN_CATEGORY}: "), message
    assert "known categories: billboard-unsafe, bus-shelter, " in message  # the known values, sorted
    if suggestion:
        assert f"did you mean '{suggestion}'" in message
    # the policy module knows no city: without a catalogue the same file loads
    assert load_policy(f).rule_for(kind, code, Urgency.URGENT).duration == 2 * H


def test_every_unknown_category_is_listed_with_the_other_problems(tmp_path: Path) -> None:
    doc = base_doc()
    doc["clocks"]["resolve"]["by_category"] = {**doc["clocks"]["resolve"]["by_category"], **DEAD_OVERRIDES}
    doc["clocks"]["accept"]["urgent"] = "1h"  # and one more problem of another kind
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, doc), categories=seed_categories())
    paths = {path for path, _ in info.value.issues}
    assert paths == {"clocks.accept.urgent.duration"} | {f"clocks.resolve.by_category.{c}" for c in DEAD_OVERRIDES}


def test_check_categories_on_a_loaded_policy() -> None:
    policy = default_policy()
    assert check_categories(policy, seed_categories()) is policy
    assert category_issues(policy, seed_categories()) == []
    with pytest.raises(PolicyError, match=RULE_UNKNOWN_CATEGORY) as info:
        check_categories(policy, seed_categories() - {"heating"}, "city X")
    assert str(info.value).startswith("city X: clocks.resolve.by_category.heating: ")


URGENCY_SLOTS = [
    *(pytest.param(f"clocks.{k.value}", id=f"{k.value}") for k in ClockKind),
    *(pytest.param(f"clocks.{k.value}.by_category.noise", id=f"{k.value}-override") for k in ClockKind),
]


@pytest.mark.parametrize("where", URGENCY_SLOTS)
@pytest.mark.parametrize("bad", ["urgnt", "normal", "critical", "Urgent"])
def test_an_unknown_urgency_is_refused_wherever_urgencies_are_keys(tmp_path: Path, where: str, bad: str) -> None:
    doc = base_doc()
    kind = where.split(".")[1]
    doc["clocks"][kind] = {"urgent": "1h working", "ordinary": "1h working"}
    if "by_category" in where:
        doc["clocks"][kind]["by_category"] = {"noise": {"ordinary": "2h working", bad: "1h working"}}
    else:
        doc["clocks"][kind][bad] = "1h working"
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, doc), categories=seed_categories())
    message = str(info.value)
    expected = f"{where}.{bad}: {RULE_UNKNOWN_URGENCY}: unknown key '{bad}': expected an urgency (urgent, ordinary)"
    assert expected in message, message


def _in_default_ladder(doc: dict[str, Any], bad: str) -> None:
    doc["defaults"]["ladder"][0]["recipients"] = ["unit", bad]


def _in_clock_ladder(doc: dict[str, Any], bad: str) -> None:
    ladder = copy.deepcopy(doc["defaults"]["ladder"])
    ladder[1]["recipients"] = ["unit", bad]
    doc["clocks"]["verify"]["ordinary"] = {"duration": "1d working", "ladder": ladder}


def _in_override_ladder(doc: dict[str, Any], bad: str) -> None:
    ladder = copy.deepcopy(doc["defaults"]["ladder"])
    ladder[2]["recipients"] = ["unit", bad]
    doc["clocks"]["resolve"]["by_category"]["illegal-construction"] = {
        "ordinary": {"duration": "15d working", "ladder": ladder}
    }


RECIPIENT_SLOTS = [
    pytest.param(_in_default_ladder, "defaults.ladder[0].recipients[1]", id="default-ladder"),
    pytest.param(_in_clock_ladder, "clocks.verify.ordinary.ladder[1].recipients[1]", id="clock-ladder"),
    pytest.param(
        _in_override_ladder,
        "clocks.resolve.by_category.illegal-construction.ordinary.ladder[2].recipients[1]",
        id="override-ladder",
    ),
]


@pytest.mark.parametrize("put, path", RECIPIENT_SLOTS)
@pytest.mark.parametrize("bad", ["mayor", "department", "hotline", "streets"])
def test_an_unknown_recipient_level_is_refused_in_every_ladder(tmp_path: Path, put, path: str, bad: str) -> None:
    doc = base_doc()
    put(doc, bad)
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, doc), categories=seed_categories())
    message = str(info.value)
    assert f"{path}: {RULE_UNKNOWN_RECIPIENT}: unknown recipient level '{bad}'" in message, message
    assert all(f"'{h.value}'" in message for h in HierarchyLevel), message


# --- the built-in policy on the seed city -------------------------------------------------------


def _overrides(policy: SlaPolicy) -> list[tuple[ClockKind, str, Urgency, ClockRule]]:
    return [
        (kind, code, urgency, rule)
        for kind, cp in policy.clocks.items()
        for code, rules in cp.by_category.items()
        for urgency in Urgency
        if (rule := rules.get(urgency)) is not None
    ]


def test_every_override_of_the_default_policy_is_a_category_of_the_seed_catalogue() -> None:
    overrides = _overrides(default_policy())
    assert overrides
    assert {code for _, code, _, _ in overrides} <= seed_categories()
    load_policy(DEFAULT_POLICY_FILE, categories=seed_categories())


def test_the_reference_budgets_reach_real_categories() -> None:
    """Utilities (water, power, gas, heating) in 24 hours; complex matters in 15 working days."""
    by_budget: dict[tuple[timedelta, bool], set[str]] = {}
    for kind, code, _urgency, rule in _overrides(default_policy()):
        assert kind == ClockKind.RESOLVE
        by_budget.setdefault((rule.duration, rule.working_time), set()).add(code)
    utilities = by_budget[(24 * H, False)]
    assert {"water", "power-outage", "gas-leak", "heating"} <= utilities
    assert "illegal-construction" in by_budget[(15 * 7 * H, True)]


@pytest.mark.parametrize(
    "kind, code, urgency, rule",
    [pytest.param(*o, id=f"{o[1]}-{o[2].value}") for o in _overrides(default_policy())],
)
def test_a_case_of_an_overridden_category_gets_its_budget(
    kind: ClockKind, code: str, urgency: Urgency, rule: ClockRule
) -> None:
    from tests.unit.domain_helpers import Case

    case = Case().open_hotline(category=code, urgency=urgency).to_street_handling()
    clocks = [c for c in case.state.clocks.values() if c.kind == kind]
    assert clocks, f"no {kind.value} clock started for a {code} case"
    assert all(c.rule == rule and c.budget == rule.duration for c in clocks)
    default = default_policy().clocks[kind].rule(urgency)
    assert case.state.sla.policy.rule_for(kind, "noise", urgency) == default


def test_horizon_days_covers_the_longest_budget_and_its_ladder(tmp_path: Path) -> None:
    # 15 working days of complex cases + 6 working days to 通报 = 21 working days ≈ 30 calendar days,
    # plus the Spring Festival break
    assert horizon_days(default_policy()) == 30 + 9
    doc = base_doc()
    doc["clocks"]["resolve"]["ordinary"] = "60d calendar"
    assert horizon_days(load_policy(write(tmp_path, doc))) == 60 + 9 + 9  # 60 d + 6 working days ladder


def test_cli_check_refuses_dead_overrides_for_the_city(tmp_path: Path) -> None:
    from city.seed import SEED_DIR

    runner = CliRunner()
    ok = runner.invoke(policy_app, ["check", str(DEFAULT_POLICY_FILE), "--city", str(SEED_DIR)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK") and "categories checked against city files" in ok.output
    doc = base_doc()
    doc["clocks"]["resolve"]["by_category"] = DEAD_OVERRIDES
    bad = write(tmp_path, doc)
    result = runner.invoke(policy_app, ["check", str(bad), "--city", str(SEED_DIR)])
    assert result.exit_code == 1
    for code in DEAD_OVERRIDES:
        assert f"clocks.resolve.by_category.{code}: {RULE_UNKNOWN_CATEGORY}" in result.output
    assert runner.invoke(policy_app, ["check", str(bad), "--no-city"]).exit_code == 0
