"""The live feed's fan-out (pure: events from the domain, no broker): who gets which notice."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from events.base import Role
from events.schemas import WhistleTask
from tests.unit import domain_helpers as h
from workers.api.auth import Principal
from workers.api.live import LiveFeed, notice, scope_keys
from workers.settings import Settings
from workflows.domain import commands as c

PEOPLE = {
    "op": Principal("op", Role.DISPATCHER),
    "city": Principal("sv", Role.SUPERVISOR, "city"),
    "district": Principal("sv1", Role.SUPERVISOR, "D-1"),
    "other-district": Principal("sv2", Role.SUPERVISOR, "D-2"),
    "street": Principal("st", Role.STREET, "S-1"),
    "other-street": Principal("st2", Role.STREET, "S-2"),
    "grid": Principal("gw", Role.GRID_WORKER, "G-101"),
    "community": Principal("cm", Role.COMMUNITY, "C-10"),
    "env": Principal("env", Role.DEPARTMENT, "environment"),
    "water": Principal("wat", Role.DEPARTMENT, "water"),
}


def _case_events() -> list[Any]:
    case = h.Case().open_hotline().to_street_handling()
    case.do(c.BlowWhistle(actor=h.STREET_ACTOR, tasks=[WhistleTask(department_id="environment", task="执法")]))
    return list(case.events)


def test_notices_carry_no_personal_data_and_scopes_come_from_the_events() -> None:
    events = _case_events()
    received = events[0]
    assert scope_keys(received) == {"district:D-1", "community:C-10", "grid:G-101", "street:S-1"}
    whistle = next(e for e in events if e.type == "case.whistle_blown")
    assert "department:environment" in scope_keys(whistle)
    text = str([notice(e) for e in events])
    assert "张三" not in text and "13812345678" not in text
    assert notice(received)["seq"] == 1 and notice(received)["type"] == "case.received"


async def test_each_subscriber_gets_the_events_of_cases_in_its_jurisdiction() -> None:
    feed = LiveFeed(Settings())
    events = _case_events()
    got: dict[str, list[str]] = {}
    async with contextlib.AsyncExitStack() as stack:
        subs = {name: await stack.enter_async_context(feed.subscribe(p)) for name, p in PEOPLE.items()}
        for e in events:
            feed.publish(e)
        await asyncio.sleep(0.05)
        for name, sub in subs.items():
            items = []
            while not sub.queue.empty():
                items.append(sub.queue.get_nowait()["type"])
            got[name] = items
    everything = [e.type for e in events]
    for name in ("op", "city", "district", "street", "grid", "community"):
        assert got[name] == everything, name
    for name in ("other-district", "other-street", "water"):
        assert got[name] == [], name
    # a department hears of the case from the whistle that summoned it on
    assert got["env"] == everything[everything.index("case.whistle_blown") :]
    assert feed.subscribers == 0
