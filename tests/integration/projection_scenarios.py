"""Realistic event sequences for read-model tests, produced by the pure domain (decide/evolve).

Each case follows one of several paths (whistle with a late report-in, return and re-dispatch,
grid self-handling, unsatisfied callback and reopening, an open case left to breach, a rejected
complaint, shelving), in varied streets, grids, categories and months.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    Location,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    WhistleTask,
)
from tests.unit.domain_helpers import DISPATCHER, Case, at, unit_actor
from workflows.domain import commands as c

STREETS = ("S-1", "S-2", "S-3")
CATEGORIES = ("noise", "garbage", "roads")
DEPARTMENTS = ("environment", "urban-management", "housing")
MONTH_STARTS = ("2026-09-01 09:00", "2026-10-08 09:00", "2026-11-02 09:00")
PATHS = ("whistle", "return", "grid", "reopen", "open_breached", "rejected", "shelved")


def location(i: int) -> Location:
    street = STREETS[i % len(STREETS)]
    grid = f"G-{street[2:]}{i % 2 + 1:02d}"
    return Location(grid_id=grid, community_id=f"C-{street[2:]}0", street_id=street, district_id="D-1")


def _grid_actor(loc: Location) -> Actor:
    return Actor(role=Role.GRID_WORKER, person_id=f"gw-{loc.grid_id}", unit_id=loc.grid_id)


def case_events(i: int, prefix: str = "RM") -> list[CaseEventBase]:
    """The events of case number ``i`` (deterministic for a given ``i``)."""
    path = PATHS[i % len(PATHS)]
    loc = location(i)
    street = UnitRef(kind=UnitKind.STREET, id=loc.street_id)
    street_actor = unit_actor(street)
    grid_actor = _grid_actor(loc)
    dept = DEPARTMENTS[i % len(DEPARTMENTS)]
    other = DEPARTMENTS[(i + 1) % len(DEPARTMENTS)]
    dept_unit = UnitRef(kind=UnitKind.DEPARTMENT, id=dept)
    month = MONTH_STARTS[(i // len(PATHS)) % len(MONTH_STARTS)]
    case = Case(f"{prefix}-{i:05d}")
    case.now = at(month) + timedelta(hours=i % 5, minutes=7 * (i % 7))
    category = CATEGORIES[i % len(CATEGORIES)]

    def open_hotline() -> None:
        case.do(
            c.OpenCase(
                actor=DISPATCHER,
                case_id=case.state.case_id,
                channel=Channel.HOTLINE,
                category=category,
                urgency=Urgency.ORDINARY,
                title=f"{category} complaint",
                description="居民反映问题",
                location=loc,
                contact=ResidentContact(name="张三", phone="13812345678"),
            )
        )

    if path == "whistle":
        open_hotline()
        case.later().do(c.RegisterCase(actor=DISPATCHER))
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=street))
        case.later().do(c.AcceptCase(actor=street_actor))
        case.later().do(c.ContactResident(actor=street_actor))
        case.later().do(
            c.BlowWhistle(
                actor=street_actor,
                tasks=[WhistleTask(department_id=dept, task="执法"), WhistleTask(department_id=other, task="整改")],
            )
        )
        case.later(20).do(c.ReportIn(actor=unit_actor(UnitRef(kind=UnitKind.DEPARTMENT, id=dept))))
        case.tick(case.now + timedelta(days=2))  # the other department is late: warnings, breach, escalation
        case.later().do(c.ReportIn(actor=unit_actor(UnitRef(kind=UnitKind.DEPARTMENT, id=other))))
        for d in (dept, other):
            case.later().do(c.CompleteTask(actor=unit_actor(UnitRef(kind=UnitKind.DEPARTMENT, id=d)), result="done"))
        case.later().do(c.ResolveCase(actor=street_actor, notes="已处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=True))
        case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
        case.later().do(c.CloseCase(actor=DISPATCHER))
    elif path == "return":
        open_hotline()
        case.later().do(c.RegisterCase(actor=DISPATCHER))
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=dept_unit))
        case.later().do(
            c.ReturnCase(actor=unit_actor(dept_unit), reason_code=ReturnReason.TERRITORY_MISMATCH, reason="不属本部门")
        )
        case.later().do(
            c.ReviewReturn(
                actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="改派街道", redispatch_to=street
            )
        )
        case.later().do(c.AcceptCase(actor=street_actor))
        case.later().do(c.ContactResident(actor=street_actor))
        case.later(120).do(c.ResolveCase(actor=street_actor, notes="已处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=True))
        case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.BASICALLY_SATISFIED))
        case.later().do(c.CloseCase(actor=DISPATCHER))
    elif path == "grid":
        case.do(
            c.OpenCase(
                actor=grid_actor,
                case_id=case.state.case_id,
                channel=Channel.GRID_PATROL,
                category=category,
                title="巡查发现",
                description="垃圾堆放",
                location=loc,
                self_handle=True,
            )
        )
        case.later(30).do(c.ResolveCase(actor=grid_actor, notes="当场处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=True))
        case.later().do(c.CloseCase(actor=DISPATCHER))
    elif path == "reopen":
        open_hotline()
        case.later().do(c.RegisterCase(actor=DISPATCHER))
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=street))
        case.later().do(c.AcceptCase(actor=street_actor))
        case.later().do(c.ContactResident(actor=street_actor))
        case.later().do(c.ResolveCase(actor=street_actor, notes="处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=False, note="未整改"))
        case.later().do(c.ResolveCase(actor=street_actor, notes="再处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=True))
        case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.UNSATISFIED, resolved=False))
        case.later(60).do(c.ResolveCase(actor=street_actor, notes="彻底处理"))
        case.later().do(c.VerifyCase(actor=grid_actor, passed=True))
        case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
        case.later().do(c.CloseCase(actor=DISPATCHER))
    elif path == "open_breached":
        open_hotline()
        case.later().do(c.RegisterCase(actor=DISPATCHER))
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=dept_unit))
        case.tick(case.now + timedelta(days=3))
        case.later().do(c.AcceptCase(actor=unit_actor(dept_unit)))
        case.tick(case.now + timedelta(days=20))
    elif path == "rejected":
        open_hotline()
        case.later().do(c.RejectCase(actor=DISPATCHER, reason="不属受理范围"))
    elif path == "shelved":
        open_hotline()
        case.later().do(c.RegisterCase(actor=DISPATCHER))
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=street))
        case.later().do(c.AcceptCase(actor=street_actor))
        case.later().do(c.ShelveCase(actor=DISPATCHER, reason="需立项"))
        case.later().do(c.UnshelveCase(actor=DISPATCHER))
        case.later().do(c.ContactResident(actor=street_actor))
    return case.events


def all_events(n: int, prefix: str = "RM") -> list[CaseEventBase]:
    """Events of ``n`` cases, interleaved across cases but in order within each case."""
    per_case = [case_events(i, prefix) for i in range(n)]
    out: list[CaseEventBase] = []
    depth = max(len(e) for e in per_case)
    for k in range(depth):
        for events in per_case:
            if k < len(events):
                out.append(events[k])
    return out


def when(text: str) -> datetime:
    return at(text)
