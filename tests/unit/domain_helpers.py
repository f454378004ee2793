"""Helpers for driving the pure domain in unit tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import Channel, ResidentContact, Urgency
from workflows.domain import CaseState, SlaContext, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, SUPERVISOR, dept_actor, unit_actor
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy

CST = "+08:00"
STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
STREET_ACTOR = unit_actor(STREET)
SYSTEM = Actor(role=Role.SYSTEM, person_id="sla")

__all__ = ["DISPATCHER", "GRID_WORKER", "LOCATION", "STREET", "STREET_ACTOR", "SUPERVISOR", "dept_actor", "unit_actor"]


def at(text: str) -> datetime:
    """Local Shanghai time, e.g. ``at('2026-02-13 16:00')``."""
    return datetime.fromisoformat(text.replace(" ", "T") + CST)


@lru_cache(maxsize=1)
def sla() -> SlaContext:
    return SlaContext(
        policy=default_policy(),
        calendar=build_calendar([2025, 2026]),
        properties={"P-1": ("C-10", "C-11"), "P-2": ("C-20",)},
        volunteer_teams={"V-10": ("C-10",), "V-11": ("C-11",), "V-20": ("C-20",)},
    )


class Case:
    """A case driven through ``decide``/``evolve``, keeping every event."""

    def __init__(self, case_id: str = "C1") -> None:
        self.state = CaseState(case_id=case_id, sla=sla())
        self.events: list[CaseEventBase] = []
        self.now = at("2026-03-02 09:00")  # a Monday

    def do(self, cmd: c.Command, now: datetime | None = None) -> list[CaseEventBase]:
        if now is not None:
            self.now = now
        events = decide(self.state, cmd, self.now)  # type: ignore[arg-type]
        self.state = evolve_all(self.state, events)
        self.events.extend(events)
        return events

    def later(self, minutes: int = 10) -> Case:
        self.now += timedelta(minutes=minutes)
        return self

    def tick(self, now: datetime) -> list[CaseEventBase]:
        return self.do(c.Tick(actor=SYSTEM), now)

    def types(self, events: list[CaseEventBase] | None = None) -> list[str]:
        return [str(e.model_dump()["type"]) for e in (self.events if events is None else events)]

    def open_hotline(self, category: str = "noise", urgency: Urgency = Urgency.ORDINARY, **kw: object) -> Case:
        self.do(
            c.OpenCase(
                actor=DISPATCHER,
                case_id=self.state.case_id,
                channel=Channel.HOTLINE,
                category=category,
                urgency=urgency,
                title="噪音扰民",
                description="夜间施工",
                location=LOCATION,
                contact=ResidentContact(name="张三", phone="13812345678"),
                **kw,
            )
        )  # type: ignore[arg-type]
        return self

    def to_street_handling(self) -> Case:
        self.do(c.RegisterCase(actor=DISPATCHER))
        self.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
        self.later().do(c.AcceptCase(actor=STREET_ACTOR))
        self.later().do(c.ContactResident(actor=STREET_ACTOR))
        return self
