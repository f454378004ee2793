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

import hashlib
import json
import logging
from collections.abc import Iterable
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

    Override file (YAML), every key optional::

        cover_years: [2027]          # years the file fully describes: they count as covered
        holidays:
          add: [2027-01-01]          # make these days non-working
          remove: []                 # drop these from the library's holiday list
        workdays:
          add: [2027-02-06]          # make these days working (调休 Saturdays, ...)
          remove: []                 # drop these from the library's adjusted working days

    Raises :class:`CalendarError` for an unreadable or malformed override file.
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
        override = _read_override(override_file)
        covered_years |= set(override["cover_years"])
        for d in override["holidays_add"]:
            holidays.add(d)
            extra.discard(d)
        for d in override["holidays_remove"]:
            holidays.discard(d)
        for d in override["workdays_add"]:
            holidays.discard(d)
            if d.weekday() in weekend:
                extra.add(d)
        for d in override["workdays_remove"]:
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


def _read_override(path: Path) -> dict[str, list[Any]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: cannot read calendar override: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: a calendar override must be a mapping")
    unknown = set(data) - {"cover_years", "holidays", "workdays"}
    if unknown:
        allowed = "cover_years, holidays, workdays"
        raise CalendarError(f"{path}: unknown keys {sorted(unknown)} (allowed: {allowed})")
    out: dict[str, list[Any]] = {}
    years = data.get("cover_years") or []
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise CalendarError(f"{path}: cover_years must be a list of years")
    out["cover_years"] = years
    for section in ("holidays", "workdays"):
        block = data.get(section) or {}
        if not isinstance(block, dict) or set(block) - {"add", "remove"}:
            raise CalendarError(f"{path}: {section} must be a mapping with 'add' and/or 'remove' lists")
        for op in ("add", "remove"):
            out[f"{section}_{op}"] = [_as_date(path, f"{section}.{op}[{i}]", v)
                                      for i, v in enumerate(block.get(op) or [])]
    return out


def _as_date(path: Path, where: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(f"{path}: {where}: expected a date like 2027-01-01, got {value!r}")
