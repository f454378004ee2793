"""Working-time calendar: Chinese holidays and 调休, lunch breaks, fallback outside coverage."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.sla.calendar import CalendarError, WorkCalendar, build_calendar

CST = timezone(timedelta(hours=8))


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return build_calendar([2025, 2026])


def test_library_agrees_on_2026_spring_festival() -> None:
    # the facts the tests below rely on, straight from chinese_calendar
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Saturday, worked (调休)
    assert all(chinese_calendar.is_holiday(date(2026, 2, d)) for d in range(15, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 28))  # Saturday, worked (调休)


def test_snapshot_holds_holidays_and_adjusted_days(cal: WorkCalendar) -> None:
    assert cal.covers(date(2026, 2, 16)) and not cal.covers(date(2027, 1, 1))
    assert date(2026, 2, 16) in cal.holidays  # a Monday off
    assert date(2026, 2, 14) in cal.extra_workdays and date(2026, 2, 28) in cal.extra_workdays
    assert not cal.is_workday(date(2026, 2, 15))
    assert cal.is_workday(date(2026, 2, 14))
    assert not cal.is_workday(date(2026, 3, 1))  # ordinary Sunday
    assert cal.working_day_length() == timedelta(hours=7)


def test_deadline_jumps_the_spring_festival_to_the_exact_minute(cal: WorkCalendar) -> None:
    # filed at 16:00 on Saturday 14 Feb 2026, the last working afternoon before the holiday:
    # 1.5 h that afternoon, then nothing until Tuesday 24 Feb; 5.5 h more → 16:00 that day
    due = cal.add_working_time(local(2026, 2, 14, 16, 0), timedelta(hours=7))
    assert due == local(2026, 2, 24, 16, 0)
    assert due.tzinfo == UTC and due == datetime(2026, 2, 24, 8, 0, tzinfo=UTC)


def test_adjusted_working_saturday_counts(cal: WorkCalendar) -> None:
    # Friday 27 Feb 17:00 + 1 h → Saturday 28 Feb (worked) 09:30, not Monday
    assert cal.add_working_time(local(2026, 2, 27, 17, 0), timedelta(hours=1)) == local(2026, 2, 28, 9, 30)
    assert cal.working_time_between(local(2026, 2, 28, 0), local(2026, 3, 1, 23)) == timedelta(hours=7)


def test_lunch_break_is_skipped(cal: WorkCalendar) -> None:
    assert cal.add_working_time(local(2026, 3, 2, 11, 30), timedelta(hours=1)) == local(2026, 3, 2, 14, 0)
    assert cal.working_time_between(local(2026, 3, 2, 11), local(2026, 3, 2, 14)) == timedelta(hours=1, minutes=30)


def test_start_outside_working_hours(cal: WorkCalendar) -> None:
    one_hour = timedelta(hours=1)
    assert cal.add_working_time(local(2026, 3, 2, 7, 0), one_hour) == local(2026, 3, 2, 10, 0)  # early
    assert cal.add_working_time(local(2026, 3, 2, 12, 15), one_hour) == local(2026, 3, 2, 14, 30)  # lunch
    assert cal.add_working_time(local(2026, 3, 6, 20, 0), one_hour) == local(2026, 3, 9, 10, 0)  # Fri night
    assert cal.add_working_time(local(2026, 3, 7, 10, 0), one_hour) == local(2026, 3, 9, 10, 0)  # Saturday
    assert cal.next_working_instant(local(2026, 3, 7, 10, 0)) == local(2026, 3, 9, 9, 0)


def test_a_full_period_ends_at_its_end(cal: WorkCalendar) -> None:
    assert cal.add_working_time(local(2026, 3, 2, 9, 0), timedelta(hours=7)) == local(2026, 3, 2, 17, 30)
    assert cal.add_working_time(local(2026, 3, 2, 10, 0), timedelta(0)) == local(2026, 3, 2, 10, 0)


def test_fifteen_working_days_across_national_day(cal: WorkCalendar) -> None:
    # National Day 2026: 1-7 Oct off; 15 working days from Mon 28 Sep 09:00
    start = local(2026, 9, 28, 9, 0)
    due = cal.add_working_time(start, 15 * timedelta(hours=7))
    assert cal.working_time_between(start, due) == 15 * timedelta(hours=7)
    workdays, d = 0, date(2026, 9, 28)
    while d < due.astimezone(CST).date():
        workdays += cal.is_workday(d)
        d += timedelta(days=1)
    assert workdays == 14 and due.astimezone(CST).time().hour == 17  # ends 17:30 on the 15th working day


def test_calendar_basis_is_plain_arithmetic(cal: WorkCalendar) -> None:
    start = local(2026, 2, 14, 16, 0)
    assert cal.add(start, timedelta(hours=24), working=False) == local(2026, 2, 15, 16, 0)
    assert cal.elapsed(start, local(2026, 2, 15, 16, 0), working=False) == timedelta(hours=24)
    assert cal.elapsed(start, local(2026, 2, 15, 16, 0), working=True) == timedelta(hours=1, minutes=30)


def test_between_is_antisymmetric(cal: WorkCalendar) -> None:
    a, b = local(2026, 3, 2, 10), local(2026, 3, 3, 10)
    assert cal.working_time_between(a, b) == timedelta(hours=7)
    assert cal.working_time_between(b, a) == -timedelta(hours=7)


def test_naive_datetimes_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_time(datetime(2026, 3, 2, 9), timedelta(hours=1))
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_time(local(2026, 3, 2, 9), -timedelta(hours=1))


_instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1)).map(
    lambda d: d.replace(tzinfo=CST, microsecond=0)
)


@settings(max_examples=200, deadline=None)
@given(start=_instants, minutes=st.integers(min_value=0, max_value=20 * 7 * 60))
def test_between_is_the_inverse_of_add(cal: WorkCalendar, start: datetime, minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    due = cal.add_working_time(start, duration)
    assert due >= start
    assert cal.working_time_between(start, due) == duration


@settings(max_examples=100, deadline=None)
@given(start=_instants, a=st.integers(1, 3000), b=st.integers(1, 3000))
def test_add_is_additive(cal: WorkCalendar, start: datetime, a: int, b: int) -> None:
    da, db = timedelta(minutes=a), timedelta(minutes=b)
    assert cal.add_working_time(start, da + db) == cal.add_working_time(cal.add_working_time(start, da), db)


def test_uncovered_year_falls_back_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="workflows.sla.calendar"):
        cal = build_calendar([2026, 2040])
    assert "2040" in caplog.text
    assert cal.covered_to == date(2026, 12, 31)
    assert not cal.covers(date(2040, 1, 2))
    # 1 Jan 2040 is a Sunday, 2 Jan a Monday: the fallback works weekdays, rests weekends
    assert not cal.is_workday(date(2040, 1, 1)) and cal.is_workday(date(2040, 1, 2))
    due = cal.add_working_time(local(2040, 1, 1, 12), timedelta(hours=8))
    assert due == local(2040, 1, 3, 10, 0)
    assert cal.uncovered_dates_in(local(2040, 1, 1, 12), due) == [date(2040, 1, d) for d in (1, 2, 3)]
    assert cal.uncovered_dates_in(local(2026, 3, 2, 9), local(2026, 3, 9, 9)) == []


def test_nothing_covered_still_works(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        cal = build_calendar([2040])
    assert cal.covered_from is None and "no holiday data" in caplog.text
    assert cal.add_working_time(local(2040, 1, 2, 9), timedelta(hours=7)) == local(2040, 1, 2, 17, 30)


def test_override_file(tmp_path) -> None:
    f = tmp_path / "cal.yaml"
    f.write_text(
        "cover_years: [2027]\n"
        "holidays:\n  add: [2027-01-01, 2026-03-02]\n"
        "workdays:\n  add: ['2027-01-02']\n  remove: [2026-02-28]\n"
    )
    cal = build_calendar([2026], override_file=f)
    assert cal.covered_to == date(2027, 12, 31)
    assert not cal.is_workday(date(2027, 1, 1)) and cal.is_workday(date(2027, 1, 2))  # Friday off, Saturday on
    assert not cal.is_workday(date(2026, 3, 2))
    assert not cal.is_workday(date(2026, 2, 28))
    assert cal.version != build_calendar([2026]).version


@pytest.mark.parametrize(
    "text, needle",
    [
        ("holidays: [2027-01-01]\n", "holidays must be a mapping"),
        ("holiday: {}\n", "unknown keys"),
        ("holidays:\n  add: [tomorrow]\n", "holidays.add[0]"),
        ("- a list\n", "must be a mapping"),
        ("holidays: {add: [2027-01-01\n", "cannot read"),
    ],
)
def test_bad_override_file(tmp_path, text: str, needle: str) -> None:
    f = tmp_path / "cal.yaml"
    f.write_text(text)
    with pytest.raises(CalendarError) as info:
        build_calendar([2026], override_file=f)
    assert str(f) in str(info.value) and needle in str(info.value)


def test_snapshot_round_trips_through_json(cal: WorkCalendar) -> None:
    again = WorkCalendar.model_validate_json(cal.model_dump_json())
    assert again == cal and again.version == cal.version
    assert not again.is_workday(date(2026, 2, 16)) and again.is_workday(date(2026, 2, 14))


def test_version_is_a_content_hash() -> None:
    a = WorkCalendar(covered_from=date(2026, 1, 1), covered_to=date(2026, 12, 31))
    b = WorkCalendar(covered_from=date(2026, 1, 1), covered_to=date(2026, 12, 31), holidays=[date(2026, 3, 2)])
    assert a.version and a.version != b.version
    assert WorkCalendar(covered_from=date(2026, 1, 1), covered_to=date(2026, 12, 31)).version == a.version
    assert WorkCalendar(version="v1").version == "v1"


def test_restricted_snapshot(cal: WorkCalendar) -> None:
    small = cal.restricted_to(date(2026, 1, 1), date(2026, 12, 31))
    assert small.covered_from == date(2026, 1, 1) and all(d.year == 2026 for d in small.holidays)
    assert not small.is_workday(date(2026, 2, 16)) and small.is_workday(date(2026, 2, 14))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"work_periods": []},
        {"work_periods": [("13:00", "12:00")]},
        {"work_periods": [("09:00", "12:00"), ("11:00", "17:00")]},
        {"weekend": [0, 1, 2, 3, 4, 5, 6]},
        {"holidays": [date(2026, 3, 7)], "extra_workdays": [date(2026, 3, 7)]},
        {"covered_from": date(2026, 1, 1)},
    ],
)
def test_invalid_calendars_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        WorkCalendar(**kwargs)


def test_sla_modules_import_nothing_outside_the_sandbox_allowance() -> None:
    code = (
        "import sys, workflows.sla, workflows.sla.clocks, workflows.sla.policy, workflows.sla.calendar\n"
        "bad = [m for m in ('yaml', 'chinese_calendar', 'temporalio') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
