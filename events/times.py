"""Time helpers shared by every package: UTC normalisation and the city's local time.

Events carry aware UTC datetimes; people read times in the city's zone, Asia/Shanghai (UTC+8,
no daylight saving time, the zone of the working calendar in :mod:`workflows.sla.calendar`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload
from zoneinfo import ZoneInfo

#: The city's time zone: what reports, timelines and the command line show.
CITY_TZ = ZoneInfo("Asia/Shanghai")


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime; a naive one is taken as UTC (SQLite returns naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def city_time(when: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``when`` (aware; naive is taken as UTC) formatted in the city's local time."""
    return as_utc(when).astimezone(CITY_TZ).strftime(fmt)
