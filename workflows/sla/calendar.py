"""Working-time calendar: which days are working days and which hours of them count.

:class:`WorkCalendar` is a serialisable snapshot. The case workflow carries it in its state, so
every method on it is pure and deterministic: no clock reads, no time-zone database, no I/O.
Local time is a fixed UTC offset (Asia/Shanghai has no daylight saving time).

A day is a working day when:

1. it is listed in ``holidays`` → not a working day (statutory holiday on a weekday);
2. it is listed in ``extra_workdays`` → a working day (调休: a weekend day that is worked);
3. otherwise → a working day unless its weekday is in ``weekend`` (Monday is 0).

The holiday lists are only trustworthy between ``covered_from`` and ``covered_to``. Outside that
range the calendar falls back to rule 3 alone (weekends off, every weekday worked) and never
fails; :meth:`WorkCalendar.uncovered_dates_in` tells a caller when an interval reaches outside the
covered range, so it can log a warning.

:func:`build_calendar` fills a snapshot from the ``chinese_calendar`` library (plus an optional
override file). It does I/O and must run outside the workflow (worker start-up, an activity).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

logger = logging.getLogger(__name__)

DEFAULT_WORK_PERIODS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(12, 0)),
    (time(13, 30), time(17, 30)),
)
"""Office hours of a Chinese government unit: 09:00–12:00 and 13:30–17:30 (7 working hours)."""

SHANGHAI_OFFSET_MINUTES = 480

_MAX_SCAN_DAYS = 366 * 60  # safety net: never loop for ever on a calendar without working time


class CalendarError(ValueError):
    """A calendar could not be built (bad override file, no data at all...)."""


class WorkCalendar(BaseModel):
    """A snapshot of working days and working hours, in one fixed UTC offset.

    All datetimes passed in must be timezone-aware; all datetimes returned are aware, in UTC.
    ``version`` is a short hash of the content when not given, so a case can record which
    calendar it runs on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = ""
    utc_offset_minutes: int = Field(default=SHANGHAI_OFFSET_MINUTES, ge=-14 * 60, le=14 * 60)
    work_periods: list[tuple[time, time]] = Field(default_factory=lambda: list(DEFAULT_WORK_PERIODS))
    holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    weekend: list[int] = Field(default_factory=lambda: [5, 6])
    covered_from: date | None = None
    covered_to: date | None = None

    _holiday_set: frozenset[date] = PrivateAttr(default_factory=frozenset)
    _extra_set: frozenset[date] = PrivateAttr(default_factory=frozenset)
    _weekend_set: frozenset[int] = PrivateAttr(default_factory=frozenset)

    # --- validation -------------------------------------------------------------------------

    @field_validator("work_periods")
    @classmethod
    def _check_periods(cls, v: list[tuple[time, time]]) -> list[tuple[time, time]]:
        if not v:
            raise ValueError("at least one work period is needed")
        previous_end: time | None = None
        for start, end in v:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("work periods are local times without a time zone")
            if not start < end:
                raise ValueError(f"work period {start}–{end} must start before it ends (same day)")
            if previous_end is not None and start < previous_end:
                raise ValueError("work periods must be in order and must not overlap")
            previous_end = end
        return v

    @field_validator("weekend")
    @classmethod
    def _check_weekend(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekend days are weekday numbers 0 (Monday) to 6 (Sunday)")
        if len(set(v)) >= 7:
            raise ValueError("a week needs at least one working day")
        return sorted(set(v))

    @field_validator("holidays", "extra_workdays")
    @classmethod
    def _sort_dates(cls, v: list[date]) -> list[date]:
        return sorted(set(v))

    @model_validator(mode="after")
    def _finish(self) -> WorkCalendar:
        both = set(self.holidays) & set(self.extra_workdays)
        if both:
            raise ValueError(f"dates both holiday and extra workday: {sorted(both)}")
        if (self.covered_from is None) != (self.covered_to is None):
            raise ValueError("covered_from and covered_to go together")
        if self.covered_from and self.covered_to and self.covered_from > self.covered_to:
            raise ValueError("covered_from must not be after covered_to")
        if not self.version:
            content = self.model_dump(mode="json", exclude={"version"})
            object.__setattr__(self, "version", _content_hash(content))
        self._holiday_set = frozenset(self.holidays)
        self._extra_set = frozenset(self.extra_workdays)
        self._weekend_set = frozenset(self.weekend)
        return self

    # --- days -------------------------------------------------------------------------------

    def covers(self, d: date) -> bool:
        """Whether ``d`` is inside the range the holiday lists are known for."""
        if self.covered_from is None or self.covered_to is None:
            return False
        return self.covered_from <= d <= self.covered_to

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day (see the module docstring for the rules)."""
        if d in self._holiday_set:
            return False
        if d in self._extra_set:
            return True
        return d.weekday() not in self._weekend_set

    def working_day_length(self) -> timedelta:
        """Working time in one working day (7 h with the default periods)."""
        return sum((_span(s, e) for s, e in self.work_periods), timedelta(0))

    def local_date(self, at: datetime) -> date:
        """The local calendar date of an instant."""
        return self._to_local(at).date()

    def uncovered_dates_in(self, a: datetime, b: datetime) -> list[date]:
        """Local dates between ``a`` and ``b`` (inclusive, either order) that fall outside coverage.

        Empty when the whole interval is covered; otherwise the caller should log a warning that
        deadlines there use the weekends-only fallback.
        """
        first, last = sorted((self.local_date(a), self.local_date(b)))
        out: list[date] = []
        d = first
        while d <= last:
            if not self.covers(d):
                out.append(d)
            d += timedelta(days=1)
        return out

    # --- arithmetic -------------------------------------------------------------------------

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed since ``start``.

        A start outside working hours begins counting at the next working period. When the
        duration runs out exactly at the end of a period the result is that end (e.g. 17:30),
        not the start of the next one. A zero duration returns ``start`` itself.
        """
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        if duration == timedelta(0):
            return start.astimezone(UTC)
        cursor = self._to_local(start)
        remaining = duration
        day = cursor.date()
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                for p_start, p_end in self.work_periods:
                    end = datetime.combine(day, p_end)
                    if end <= cursor:
                        continue
                    begin = max(datetime.combine(day, p_start), cursor)
                    available = end - begin
                    if remaining <= available:
                        return self._to_utc(begin + remaining)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("no working time found; check the calendar's weekend and holidays")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time between two instants (negative when ``b`` is before ``a``)."""
        if b < a:
            return -self.working_time_between(b, a)
        la, lb = self._to_local(a), self._to_local(b)
        total = timedelta(0)
        day, last = la.date(), lb.date()
        while day <= last:
            if self.is_workday(day):
                for p_start, p_end in self.work_periods:
                    begin = max(datetime.combine(day, p_start), la)
                    end = min(datetime.combine(day, p_end), lb)
                    if end > begin:
                        total += end - begin
            day += timedelta(days=1)
        return total

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself when inside working hours, otherwise the start of the next working period."""
        local = self._to_local(at)
        day = local.date()
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                for p_start, p_end in self.work_periods:
                    if datetime.combine(day, p_end) > local:
                        return self._to_utc(max(datetime.combine(day, p_start), local))
            day += timedelta(days=1)
        raise ValueError("no working time found; check the calendar's weekend and holidays")

    def add(self, start: datetime, duration: timedelta, working: bool) -> datetime:
        """``start`` plus ``duration`` of working time, or of calendar time (plain addition)."""
        if working:
            return self.add_working_time(start, duration)
        self._check_aware(start)
        return (start + duration).astimezone(UTC)

    def elapsed(self, a: datetime, b: datetime, working: bool) -> timedelta:
        """Time from ``a`` to ``b``: working time, or calendar time (plain difference)."""
        if working:
            return self.working_time_between(a, b)
        self._check_aware(a)
        self._check_aware(b)
        return b - a

    # --- snapshots --------------------------------------------------------------------------

    def restricted_to(self, first: date, last: date) -> WorkCalendar:
        """A smaller snapshot holding only the dates ``first``..``last`` (new version hash).

        Useful to keep a case's state small: a case needs a year or two, not twenty.
        """
        covered_from = max(first, self.covered_from) if self.covered_from else None
        covered_to = min(last, self.covered_to) if self.covered_to else None
        if covered_from and covered_to and covered_from > covered_to:
            covered_from = covered_to = None
        return WorkCalendar(
            utc_offset_minutes=self.utc_offset_minutes,
            work_periods=self.work_periods,
            holidays=[d for d in self.holidays if first <= d <= last],
            extra_workdays=[d for d in self.extra_workdays if first <= d <= last],
            weekend=self.weekend,
            covered_from=covered_from,
            covered_to=covered_to,
        )

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _check_aware(at: datetime) -> None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"timezone-aware datetime required, got naive {at.isoformat()}")

    def _to_local(self, at: datetime) -> datetime:
        self._check_aware(at)
        return at.astimezone(timezone(timedelta(minutes=self.utc_offset_minutes))).replace(tzinfo=None)

    def _to_utc(self, local: datetime) -> datetime:
        return (local - timedelta(minutes=self.utc_offset_minutes)).replace(tzinfo=UTC)


def _span(start: time, end: time) -> timedelta:
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


def _content_hash(content: Any) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# --- building a snapshot (outside the workflow) -------------------------------------------------


def library_years() -> list[int]:
    """The years the installed ``chinese_calendar`` has holiday data for."""
    import chinese_calendar
    from chinese_calendar import constants

    known = {d.year for d in constants.holidays} | {d.year for d in constants.workdays}
    years = []
    for y in sorted(known):
        try:
            chinese_calendar.is_workday(date(y, 6, 1))
        except NotImplementedError:
            continue
        years.append(y)
    return years


def build_calendar(
    years: Iterable[int] | None = None,
    *,
    work_periods: Iterable[tuple[time, time]] = DEFAULT_WORK_PERIODS,
    utc_offset_minutes: int = SHANGHAI_OFFSET_MINUTES,
    override_file: Path | None = None,
) -> WorkCalendar:
    """A calendar snapshot for ``years`` from ``chinese_calendar``, plus an optional override file.

    ``years`` defaults to every year the library covers. Years the library has no data for are
    left out of the covered range (with a logged warning) unless the override file declares them
    in ``cover_years``; dates there use the weekends-only fallback.

    Override file (YAML), every key optional (see :func:`read_override` for the rules it must
    follow, and docs/operations.md, "Working calendar", for a worked example)::

        cover_years: [2027]          # years the file fully describes: they count as covered
        holidays:
          add: [2027-01-01]          # make these days non-working
          remove: []                 # drop these from the library's holiday list
        workdays:
          add: [2027-02-06]          # adjusted working days (调休): Saturdays or Sundays only
          remove: []                 # drop these from the library's adjusted working days

    Raises :class:`CalendarError` (:class:`CalendarOverrideError` for a bad override file).
    """
    import chinese_calendar

    supported = set(library_years())
    wanted = sorted(set(years)) if years is not None else sorted(supported)
    weekend = {5, 6}

    holidays: set[date] = set()
    extra: set[date] = set()
    covered_years: set[int] = set()
    missing = [y for y in wanted if y not in supported]
    for y in wanted:
        if y not in supported:
            continue
        covered_years.add(y)
        d = date(y, 1, 1)
        while d.year == y:
            lib_working = chinese_calendar.is_workday(d)
            default_working = d.weekday() not in weekend
            if default_working and not lib_working:
                holidays.add(d)
            elif lib_working and not default_working:
                extra.add(d)
            d += timedelta(days=1)

    if override_file is not None:
        override = read_override(override_file, library=supported)
        covered_years |= set(override.cover_years)
        for d in override.holidays_add:
            holidays.add(d)
            extra.discard(d)
        for d in override.holidays_remove:
            holidays.discard(d)
        for d in override.workdays_add:
            holidays.discard(d)
            if d.weekday() in weekend:
                extra.add(d)
        for d in override.workdays_remove:
            extra.discard(d)

    still_missing = [y for y in missing if y not in covered_years]
    if still_missing:
        logger.warning(
            "chinese_calendar %s has no holiday data for %s; dates in those years use the fallback "
            "(weekends off, every weekday a working day). Upgrade chinesecalendar or add an override file.",
            getattr(chinese_calendar, "__version__", "?"),
            ", ".join(map(str, still_missing)),
        )

    covered_from = covered_to = None
    if covered_years:
        lo, hi = min(covered_years), max(covered_years)
        gaps = [y for y in range(lo, hi + 1) if y not in covered_years]
        if gaps:
            raise CalendarError(f"covered years must be contiguous; no data for {gaps}")
        covered_from, covered_to = date(lo, 1, 1), date(hi, 12, 31)
    else:
        logger.warning("working calendar covers no year at all; every date uses the weekends-only fallback")

    return WorkCalendar(
        utc_offset_minutes=utc_offset_minutes,
        work_periods=list(work_periods),
        holidays=sorted(holidays),
        extra_workdays=sorted(extra),
        weekend=sorted(weekend),
        covered_from=covered_from,
        covered_to=covered_to,
    )


WORKER_YEARS_BEFORE = 1
WORKER_YEARS_AFTER = 2


def worker_calendar(override_file: Path | None, today: date) -> WorkCalendar:
    """The calendar a worker runs on: last year to two years ahead of ``today``, plus the override file."""
    years = range(today.year - WORKER_YEARS_BEFORE, today.year + WORKER_YEARS_AFTER + 1)
    return build_calendar(years, override_file=override_file)


# --- override files -----------------------------------------------------------------------------

OVERRIDE_DOC = "docs/operations.md#working-calendar"
"""Where operators read how to add next year's official schedule."""

RULE_FORMAT = "calendar.bad_format"
RULE_BAD_DATE = "calendar.bad_date"
RULE_OUTSIDE_YEARS = "calendar.outside_years"
RULE_EMPTY_YEAR = "calendar.empty_year"
RULE_WORKDAY_NOT_WEEKEND = "calendar.workday_not_weekend"
RULE_HOLIDAY_AND_WORKDAY = "calendar.holiday_and_workday"
RULE_WEEKEND_HOLIDAY_AS_WORKDAY = "calendar.weekend_holiday_as_workday"
RULE_ADDED_AND_REMOVED = "calendar.added_and_removed"

OVERRIDE_RULES: dict[str, str] = {
    RULE_FORMAT: "the file is a mapping of cover_years, holidays {add, remove} and workdays {add, remove}",
    RULE_BAD_DATE: "every entry is a real date written YYYY-MM-DD",
    RULE_OUTSIDE_YEARS: "every date lies in a year of cover_years or one chinese_calendar has data for",
    RULE_EMPTY_YEAR: "a year declared in cover_years that the library lacks lists its holidays",
    RULE_WORKDAY_NOT_WEEKEND: "adjusted working days (调休) are Saturdays or Sundays",
    RULE_HOLIDAY_AND_WORKDAY: "no date is both a holiday and an adjusted working day",
    RULE_WEEKEND_HOLIDAY_AS_WORKDAY: "a weekend day inside a holiday period is not an adjusted working day",
    RULE_ADDED_AND_REMOVED: "no date is both added to and removed from the same list",
}
"""Every rule an override file must follow, by rule id."""

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarOverrideError(CalendarError):
    """An override file is invalid. Each issue names the entry, the rule and what is wrong."""

    def __init__(self, source: str, issues: list[tuple[str, str, str]]) -> None:
        self.source = source
        self.issues = issues  # (entry, rule, message)
        lines = [f"{entry}: {rule}: {message}" if entry else f"{rule}: {message}" for entry, rule, message in issues]
        if len(lines) == 1:
            text = f"{source}: {lines[0]}"
        else:
            text = f"{source}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in lines)
        super().__init__(text)

    @property
    def rules(self) -> list[str]:
        return [rule for _, rule, _ in self.issues]


@dataclass(frozen=True)
class CalendarOverride:
    """A validated override file (see :func:`build_calendar` for the format)."""

    source: str
    cover_years: tuple[int, ...] = ()
    holidays_add: tuple[date, ...] = ()
    holidays_remove: tuple[date, ...] = ()
    workdays_add: tuple[date, ...] = ()
    workdays_remove: tuple[date, ...] = ()


def _string_dates_loader() -> type:
    """A YAML safe loader that leaves ``2027-02-30`` a string (so a bad date is reported, not raised)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def read_override(path: Path, *, library: Iterable[int] | None = None) -> CalendarOverride:
    """Read and validate a calendar override file; raises :class:`CalendarOverrideError`.

    ``library`` is the set of years ``chinese_calendar`` has data for (default: ask the library).
    Every problem is reported at once, each with its entry (``workdays.add[2]``) and rule id
    (see :data:`OVERRIDE_RULES`):

    * ``calendar.bad_format``: not a mapping, unknown keys, a list that is not a list;
    * ``calendar.bad_date``: not a real date (``2027-02-30``, ``tomorrow``);
    * ``calendar.outside_years``: a date in a year neither declared in ``cover_years`` nor known
      to the library (``2072-10-01`` for ``2027-10-01``);
    * ``calendar.empty_year``: a declared year the library lacks, with no holiday in the file;
    * ``calendar.workday_not_weekend``: an adjusted working day on Monday–Friday;
    * ``calendar.holiday_and_workday``: a date in both ``holidays.add`` and ``workdays.add``;
    * ``calendar.weekend_holiday_as_workday``: a Saturday or Sunday inside a holiday period
      (between two holiday weekdays, or named a holiday by the library) listed as a working day;
    * ``calendar.added_and_removed``: a date both added to and removed from the same list.
    """
    import yaml

    source = str(path)
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_string_dates_loader())
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarOverrideError(source, [("", RULE_FORMAT, f"cannot read calendar override: {exc}")]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CalendarOverrideError(source, [("", RULE_FORMAT, "a calendar override must be a mapping")])
    issues: list[tuple[str, str, str]] = []
    unknown = set(map(str, data)) - {"cover_years", "holidays", "workdays"}
    if unknown:
        allowed = "cover_years, holidays, workdays"
        issues.append(("", RULE_FORMAT, f"unknown keys {sorted(unknown)} (allowed: {allowed})"))

    raw_years = data.get("cover_years") or []
    years: list[int] = []
    if not isinstance(raw_years, list):
        issues.append(("cover_years", RULE_FORMAT, "cover_years must be a list of years"))
    else:
        for i, y in enumerate(raw_years):
            if isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2200:
                years.append(y)
            else:
                issues.append((f"cover_years[{i}]", RULE_FORMAT, f"cover_years must be a list of years, got {y!r}"))

    known_years = set(library_years() if library is None else library)
    allowed_years = set(years) | known_years
    lists: dict[str, list[tuple[str, date]]] = {}
    for section in ("holidays", "workdays"):
        block = data.get(section) or {}
        if not isinstance(block, dict) or set(map(str, block)) - {"add", "remove"}:
            issues.append((section, RULE_FORMAT, f"{section} must be a mapping with 'add' and/or 'remove' lists"))
            block = {}
        for op in ("add", "remove"):
            key = f"{section}.{op}"
            entries = block.get(op) or []
            if not isinstance(entries, list):
                issues.append((key, RULE_FORMAT, f"{key} must be a list of dates like 2027-01-01"))
                entries = []
            parsed: list[tuple[str, date]] = []
            for i, value in enumerate(entries):
                where = f"{key}[{i}]"
                d = _parse_date(value)
                if d is None:
                    issues.append((where, RULE_BAD_DATE, f"expected a date like 2027-01-01, got {value!r}"))
                    continue
                if d.year not in allowed_years:
                    issues.append(
                        (
                            f"{where} {d}",
                            RULE_OUTSIDE_YEARS,
                            f"{d.year} is neither in cover_years ({_years_text(years)}) nor a year "
                            f"chinese_calendar has data for ({_years_text(sorted(known_years))}); "
                            f"a typo, or add {d.year} to cover_years",
                        )
                    )
                    continue
                parsed.append((where, d))
            lists[key] = parsed

    holidays_add = {d for _, d in lists["holidays.add"]}
    holidays_remove = {d for _, d in lists["holidays.remove"]}
    for section in ("holidays", "workdays"):
        removed = {d for _, d in lists[f"{section}.remove"]}
        for where, d in lists[f"{section}.add"]:
            if d in removed:
                issues.append(
                    (f"{where} {d}", RULE_ADDED_AND_REMOVED, f"{d} is both in {section}.add and in {section}.remove")
                )

    for y in years:
        if y not in known_years and not any(d.year == y for d in holidays_add):
            issues.append(
                (
                    "cover_years",
                    RULE_EMPTY_YEAR,
                    f"{y} is declared covered but chinese_calendar has no data for it and the file lists no holiday "
                    f"in {y}: add the year's holidays, or remove {y} from cover_years",
                )
            )

    def holiday(d: date) -> bool:
        if d in holidays_add:
            return True
        if d in holidays_remove or d.year not in known_years:
            return False
        return _library_holiday(d)

    for where, d in lists["workdays.add"]:
        entry = f"{where} {d}"
        if d.weekday() < 5:
            issues.append(
                (
                    entry,
                    RULE_WORKDAY_NOT_WEEKEND,
                    f"{d} is a {_WEEKDAYS[d.weekday()]}: adjusted working days (调休) are Saturdays or Sundays "
                    "(to make a weekday a working day again, drop it from the holidays with holidays.remove)",
                )
            )
        elif d in holidays_add:
            issues.append((entry, RULE_HOLIDAY_AND_WORKDAY, f"{d} is listed both in holidays.add and in workdays.add"))
        elif _inside_holiday_period(d, holiday) or (
            d.year in known_years and d not in holidays_remove and _library_named_holiday(d)
        ):
            issues.append(
                (
                    entry,
                    RULE_WEEKEND_HOLIDAY_AS_WORKDAY,
                    f"{d} ({_WEEKDAYS[d.weekday()]}) lies inside a holiday period; adjusted working days come before "
                    "or after the holiday, never inside it",
                )
            )
    if issues:
        raise CalendarOverrideError(source, issues)
    return CalendarOverride(
        source=source,
        cover_years=tuple(sorted(set(years))),
        holidays_add=tuple(d for _, d in lists["holidays.add"]),
        holidays_remove=tuple(d for _, d in lists["holidays.remove"]),
        workdays_add=tuple(d for _, d in lists["workdays.add"]),
        workdays_remove=tuple(d for _, d in lists["workdays.remove"]),
    )


def _parse_date(value: object) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _years_text(years: Iterable[int]) -> str:
    ys = sorted(set(years))
    if not ys:
        return "none"
    if len(ys) > 3 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}–{ys[-1]}"
    return ", ".join(map(str, ys))


def _inside_holiday_period(d: date, holiday: Callable[[date], bool]) -> bool:
    """Whether weekend day ``d`` has holiday weekdays right before and right after its weekend."""
    before = d - timedelta(days=1)
    while before.weekday() >= 5:
        before -= timedelta(days=1)
    after = d + timedelta(days=1)
    while after.weekday() >= 5:
        after += timedelta(days=1)
    return holiday(before) and holiday(after)


def _library_holiday(d: date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_holiday(d))
    except NotImplementedError:
        return False


def _library_named_holiday(d: date) -> bool:
    """Whether ``chinese_calendar`` names ``d`` as a day off of a statutory holiday."""
    import chinese_calendar

    try:
        off, name = chinese_calendar.get_holiday_detail(d)
    except NotImplementedError:
        return False
    return bool(off) and name is not None


# --- coverage -----------------------------------------------------------------------------------

COVERAGE_WARN_DAYS = 60
"""Days before the official data ends from which operators are warned (alert, /readyz, stack status)."""


@dataclass(frozen=True)
class CalendarCoverage:
    """How far ahead a calendar has official holiday data, seen from ``today`` (a local date).

    ``horizon_days`` is how far ahead a clock started today can reach (see
    :func:`workflows.sla.policy.horizon_days`): when the fallback starts within it,
    :attr:`fallback_active` is true, because a deadline computed today may already be wrong.
    """

    today: date
    covered_from: date | None
    covered_to: date | None
    horizon_days: int = 0
    warn_days: int = COVERAGE_WARN_DAYS

    @property
    def first_fallback_day(self) -> date:
        """The first day from today on that uses the Monday–Friday fallback."""
        if self.covered_from is None or self.covered_to is None:
            return self.today
        if not self.covered_from <= self.today <= self.covered_to:
            return self.today
        return self.covered_to + timedelta(days=1)

    @property
    def days_left(self) -> int:
        """Days until the fallback starts (0: today already falls back)."""
        return (self.first_fallback_day - self.today).days

    @property
    def fallback_today(self) -> bool:
        return self.days_left == 0

    @property
    def fallback_active(self) -> bool:
        """Whether today or any day within the clock horizon falls back to Monday–Friday."""
        return self.days_left <= self.horizon_days

    @property
    def expiring(self) -> bool:
        """Whether the fallback starts within ``warn_days``: operators should add an override file."""
        return self.days_left <= self.warn_days

    def covered_until_timestamp(self, utc_offset_minutes: int = SHANGHAI_OFFSET_MINUTES) -> float:
        """Unix time when the official data ends (local midnight after ``covered_to``); 0 when none."""
        if self.covered_to is None:
            return 0.0
        end = datetime.combine(self.covered_to + timedelta(days=1), time(0))
        return (end - timedelta(minutes=utc_offset_minutes)).replace(tzinfo=UTC).timestamp()

    def summary(self) -> str:
        """One line for /readyz and ``gridcase stack status``, starting with ``calendar:``."""
        hint = f"add an override file ({OVERRIDE_DOC})"
        if self.covered_to is None:
            return f"calendar: no official holiday data at all; every day falls back to Monday–Friday; {hint}"
        head = f"calendar: official data until {self.covered_to.isoformat()}"
        first = self.first_fallback_day
        if self.fallback_today:
            since = self.covered_to + timedelta(days=1) if self.today > self.covered_to else self.today
            return f"{head}; {self.today.year} falls back to Monday–Friday (since {since.isoformat()}); {hint}"
        if self.expiring:
            days = "1 day" if self.days_left == 1 else f"{self.days_left} days"
            return f"{head}; {first.year} falls back to Monday–Friday in {days}; {hint}"
        return f"{head} ({self.days_left} days ahead)"


def calendar_coverage(
    calendar: WorkCalendar, today: date, *, horizon_days: int = 0, warn_days: int = COVERAGE_WARN_DAYS
) -> CalendarCoverage:
    """The coverage of ``calendar`` seen from the local date ``today``."""
    return CalendarCoverage(today, calendar.covered_from, calendar.covered_to, horizon_days, warn_days)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence this module's warnings (years without data) for callers that report coverage themselves."""
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def coverage_line(override_file: Path | None, today: date | None = None) -> tuple[bool, str]:
    """The calendar coverage a worker with ``override_file`` would report, for ``gridcase stack status``.

    Returns (whether the override file is valid, one line without the ``calendar:`` prefix).
    ``today`` defaults to today in Asia/Shanghai. The library's warnings are not logged here.
    """
    if today is None:
        today = today_in_shanghai()
    try:
        with quiet():
            calendar = worker_calendar(override_file, today)
    except CalendarError as exc:
        first = str(exc).splitlines()[0]
        return False, f"{first} (`gridcase policy calendar-check {override_file}` lists every problem)"
    return True, calendar_coverage(calendar, today).summary().removeprefix("calendar: ")


def today_in_shanghai() -> date:
    """Today's date in Asia/Shanghai (reads the clock)."""
    return datetime.now(timezone(timedelta(minutes=SHANGHAI_OFFSET_MINUTES))).date()


def local_today(calendar: WorkCalendar, now: datetime | None = None) -> date:
    """Today's date in the calendar's local time (reads the clock when ``now`` is not given)."""
    return calendar.local_date(now or datetime.now(UTC))
