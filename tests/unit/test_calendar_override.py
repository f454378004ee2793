"""Calendar override files: every kind of bad entry is refused naming file, entry and rule.

The override file is how operators add next year's official schedule before ``chinesecalendar``
has it (docs/operations.md, "Working calendar"); the worked 2027 example of the docs is checked
here so it cannot drift.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from typer.testing import CliRunner

from workers.cli_policy import app as policy_app
from workflows.sla.calendar import (
    OVERRIDE_RULES,
    RULE_ADDED_AND_REMOVED,
    RULE_BAD_DATE,
    RULE_EMPTY_YEAR,
    RULE_FORMAT,
    RULE_HOLIDAY_AND_WORKDAY,
    RULE_OUTSIDE_YEARS,
    RULE_WEEKEND_HOLIDAY_AS_WORKDAY,
    RULE_WORKDAY_NOT_WEEKEND,
    CalendarOverrideError,
    build_calendar,
    library_years,
    read_override,
)

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
LIBRARY = frozenset(range(2004, 2027))  # what chinesecalendar 1.11 knows; 2027 onwards it does not

# A valid 2027 base the bad cases below change one entry of.
BASE = """\
cover_years: [2027]
holidays:
  add: [2027-01-01, 2027-02-05, 2027-02-08, 2027-02-09, 2027-10-01, 2027-10-04, 2027-10-05]
workdays:
  add: [2027-01-31, 2027-02-20, 2027-10-09]
"""


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "calendar-2027.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def docs_example() -> str:
    """The YAML block of the worked 2027 example in docs/operations.md."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text[text.index("## Working calendar") :]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert blocks, "docs/operations.md has no YAML example in 'Working calendar'"
    return blocks[0]


BAD_ENTRIES = [
    # a date that does not exist, or is not a date
    pytest.param("holidays.add", "2027-02-30", "holidays.add[7]", RULE_BAD_DATE, id="30-february"),
    pytest.param("holidays.add", "2027-13-01", "holidays.add[7]", RULE_BAD_DATE, id="month-13"),
    pytest.param("workdays.add", "2027-2-6", "workdays.add[3]", RULE_BAD_DATE, id="not-zero-padded"),
    pytest.param("holidays.remove", "tomorrow", "holidays.remove[0]", RULE_BAD_DATE, id="a-word"),
    pytest.param("workdays.remove", "20270206", "workdays.remove[0]", RULE_BAD_DATE, id="a-number"),
    # a date outside the declared year (and outside the library's years)
    pytest.param("holidays.add", "2072-10-06", "holidays.add[7] 2072-10-06", RULE_OUTSIDE_YEARS, id="swapped-digits"),
    pytest.param("holidays.add", "2028-01-03", "holidays.add[7] 2028-01-03", RULE_OUTSIDE_YEARS, id="next-year"),
    pytest.param(
        "workdays.add", "2028-01-08", "workdays.add[3] 2028-01-08", RULE_OUTSIDE_YEARS, id="workday-next-year"
    ),
    # adjusted working days are Saturdays or Sundays
    *(
        pytest.param(
            "workdays.add",
            str(date(2027, 4, 26) + timedelta(days=i)),
            f"workdays.add[3] {date(2027, 4, 26) + timedelta(days=i)}",
            RULE_WORKDAY_NOT_WEEKEND,
            id=f"workday-on-{date(2027, 4, 26) + timedelta(days=i):%A}",
        )
        for i in range(5)
    ),
    # both a holiday and a working day
    pytest.param(
        "workdays.add",
        "2027-10-02",
        "workdays.add[3] 2027-10-02",
        RULE_WEEKEND_HOLIDAY_AS_WORKDAY,
        id="saturday-inside-national-day",
    ),
    pytest.param(
        "workdays.add",
        "2027-10-03",
        "workdays.add[3] 2027-10-03",
        RULE_WEEKEND_HOLIDAY_AS_WORKDAY,
        id="sunday-inside-national-day",
    ),
    pytest.param(
        "workdays.add",
        "2027-02-06",
        "workdays.add[3] 2027-02-06",
        RULE_WEEKEND_HOLIDAY_AS_WORKDAY,
        id="saturday-inside-spring-festival",
    ),
    # added and removed at once
    pytest.param(
        "holidays.remove",
        "2027-10-05",
        "holidays.add[6] 2027-10-05",
        RULE_ADDED_AND_REMOVED,
        id="holiday-added-and-removed",
    ),
    pytest.param(
        "workdays.remove",
        "2027-02-20",
        "workdays.add[1] 2027-02-20",
        RULE_ADDED_AND_REMOVED,
        id="workday-added-and-removed",
    ),
]


def _with_entry(text: str, key: str, value: str) -> str:
    import yaml

    doc = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar a string, as written
    section, op = key.split(".")
    doc.setdefault(section, {}).setdefault(op, []).append(value)
    lines = ["cover_years: [" + ", ".join(doc["cover_years"]) + "]"]
    for sec in ("holidays", "workdays"):
        if sec in doc:
            lines.append(f"{sec}:")
            for o, values in doc[sec].items():
                lines.append(f"  {o}: [{', '.join(values)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("key, value, entry, rule", BAD_ENTRIES)
def test_every_kind_of_bad_entry_is_refused_naming_file_entry_and_rule(
    tmp_path: Path, key: str, value: str, entry: str, rule: str
) -> None:
    f = write(tmp_path, _with_entry(BASE, key, value))
    with pytest.raises(CalendarOverrideError) as info:
        read_override(f, library=LIBRARY)
    err = info.value
    assert err.rules == [rule], str(err)
    assert str(err).startswith(f"{f}: {entry}: {rule}: "), str(err)


@pytest.mark.parametrize("day", ["2027-01-02", "2027-01-03", "2027-10-10", "2027-02-14"])
def test_a_weekend_next_to_a_holiday_period_may_be_worked(tmp_path: Path, day: str) -> None:
    """调休 days come right before or after a holiday period; only inside it are they refused."""
    f = write(tmp_path, _with_entry(BASE, "workdays.add", day))
    assert date.fromisoformat(day) in read_override(f, library=LIBRARY).workdays_add


def test_a_holiday_also_listed_as_working_day_is_refused(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        BASE.replace("2027-10-09]", "2027-10-09, 2027-10-02]").replace("2027-10-05]", "2027-10-05, 2027-10-02]"),
    )
    with pytest.raises(CalendarOverrideError) as info:
        read_override(f, library=LIBRARY)
    assert info.value.rules == [RULE_HOLIDAY_AND_WORKDAY]
    assert "workdays.add[3] 2027-10-02: calendar.holiday_and_workday: " in str(info.value)


@pytest.mark.parametrize(
    "text, entry, rule",
    [
        pytest.param("- a list\n", "", RULE_FORMAT, id="not-a-mapping"),
        pytest.param("holiday: {}\n", "", RULE_FORMAT, id="unknown-key"),
        pytest.param("holidays: [2027-01-01]\n", "holidays", RULE_FORMAT, id="section-is-a-list"),
        pytest.param("holidays: {add: 2027-01-01}\n", "holidays.add", RULE_FORMAT, id="add-is-not-a-list"),
        pytest.param("cover_years: 2027\n", "cover_years", RULE_FORMAT, id="cover-years-not-a-list"),
        pytest.param("cover_years: [twenty-27]\n", "cover_years[0]", RULE_FORMAT, id="cover-year-not-a-number"),
        pytest.param("holidays: {add: [2027-01-01\n", "", RULE_FORMAT, id="not-yaml"),
        pytest.param("cover_years: [2027]\n", "cover_years", RULE_EMPTY_YEAR, id="declared-year-without-holidays"),
        pytest.param(
            "holidays: {add: [2027-01-01]}\n", "holidays.add[0] 2027-01-01", RULE_OUTSIDE_YEARS, id="undeclared-year"
        ),
    ],
)
def test_malformed_files_are_refused_with_the_rule(tmp_path: Path, text: str, entry: str, rule: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(CalendarOverrideError) as info:
        read_override(f, library=LIBRARY)
    assert info.value.rules == [rule]
    assert str(info.value).startswith(f"{f}: {entry + ': ' if entry else ''}{rule}: "), str(info.value)


def test_every_rule_is_exercised_and_documented() -> None:
    exercised = {p.values[3] for p in BAD_ENTRIES} | {RULE_FORMAT, RULE_EMPTY_YEAR, RULE_HOLIDAY_AND_WORKDAY}
    assert exercised == set(OVERRIDE_RULES)
    docs = OPERATIONS.read_text(encoding="utf-8")
    assert all(f"`{rule}`" in docs for rule in OVERRIDE_RULES)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "cover_years: [2027]\nholidays: {add: [2027-01-01, 2027-02-30]}\nworkdays: {add: [2027-04-26, 2027-01-01]}\n",
    )
    with pytest.raises(CalendarOverrideError) as info:
        read_override(f, library=LIBRARY)
    assert sorted(info.value.rules) == sorted([RULE_BAD_DATE, RULE_WORKDAY_NOT_WEEKEND, RULE_WORKDAY_NOT_WEEKEND])
    assert str(info.value).startswith(f"{f}: 3 problems\n")


@pytest.mark.parametrize("year", sorted(y for y in library_years() if y >= 2015))
def test_the_official_schedules_of_past_years_pass(tmp_path: Path, year: int) -> None:
    """Each year the library knows, written as an override file for a year it would not know."""
    days = [d for i in range(366) if (d := date(year, 1, 1) + timedelta(days=i)).year == year]
    off = [d for d in days if (detail := chinese_calendar.get_holiday_detail(d))[0] and detail[1] is not None]
    worked = [d for d in days if d.weekday() >= 5 and chinese_calendar.is_workday(d)]
    text = (
        f"cover_years: [{year}]\nholidays:\n  add: [{', '.join(map(str, off))}]\n"
        f"workdays:\n  add: [{', '.join(map(str, worked))}]\n"
    )
    override = read_override(write(tmp_path, text), library=LIBRARY - {year})
    assert len(override.holidays_add) == len(off) and len(override.workdays_add) == len(worked)


def test_the_documented_2027_example_is_valid_and_covers_2027(tmp_path: Path) -> None:
    f = write(tmp_path, docs_example())
    override = read_override(f)
    assert override.cover_years == (2027,)
    cal = build_calendar([2026], override_file=f)
    assert cal.covered_to == date(2027, 12, 31)
    assert not cal.is_workday(date(2027, 1, 1))  # New Year's Day, a Friday
    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 2, 20))  # Spring Festival, 调休 Sat
    assert not cal.is_workday(date(2027, 10, 4)) and cal.is_workday(date(2027, 10, 9))  # National Day, 调休 Sat
    assert cal.is_workday(date(2027, 3, 1))
    # every holiday period of a year is there
    months = {d.month for d in override.holidays_add}
    assert {1, 2, 4, 5, 6, 9, 10} <= months


def test_cli_calendar_check(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(policy_app, ["calendar-check", str(write(tmp_path, docs_example()))])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: ") and "2027: 18 weekday holidays, 6 adjusted working days" in ok.output
    assert "calendar: official data until 2027-12-31" in ok.output
    bad = write(tmp_path, docs_example().replace("2027-04-25", "2027-04-26").replace("2027-02-12", "2027-02-30"))
    result = runner.invoke(policy_app, ["calendar-check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: 2 problems" in result.output
    assert "workdays.add[2] 2027-04-26: calendar.workday_not_weekend: 2027-04-26 is a Monday" in result.output
    assert "calendar.bad_date: expected a date like 2027-01-01, got '2027-02-30'" in result.output
