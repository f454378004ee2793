"""Work inside a unit in the SQL read model (SQLite, and PostgreSQL with ``GRIDCASE_TEST_POSTGRES_URL``):
``case.assigned`` projected onto ``rm_cases``, the handler and section cleared by a dispatch
elsewhere, a rebuild giving the same tables, and the queries by handler on what was projected.

Events come from the pure domain (``decide``/``evolve``); the database is real.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import ReturnReason, ReviewDecision
from readmodel.db import apply_events, clear, dump
from readmodel.queries import Selection, get_case, month_span, select_cases, unit_load
from tests.integration.rm_db import LANES, fresh_database
from tests.unit.domain_helpers import DISPATCHER, STREET, STREET_ACTOR, Case
from workflows.domain import commands as c

pytestmark = pytest.mark.integration

ENVIRONMENT = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
P1 = Actor(role=Role.STREET, person_id="p-1", unit_id="S-1", name="李四")
P2 = Actor(role=Role.STREET, person_id="p-2", unit_id="S-1", name="王五")


def member(actor: Actor) -> c.Member:
    return c.Member(person_id=actor.person_id, unit=STREET, name=actor.name)


def dispatched(case_id: str) -> Case:
    case = Case(case_id).open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.later().do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    return case


def cases() -> dict[str, Case]:
    """AS-resolved: assigned to p-1 (section urban), who accepts, contacts and resolves it.
    AS-taken: to section urban, taken by p-2. AS-reassigned: p-1, then p-2 in section safety.
    AS-redispatched: assigned to p-1, returned, re-dispatched to a department. AS-inbox: never assigned."""
    out: dict[str, Case] = {}
    case = out["AS-resolved"] = dispatched("AS-resolved")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member(P1), section_id="urban"))
    case.later().do(c.AcceptCase(actor=P1))
    case.later().do(c.ContactResident(actor=P1))
    case.later().do(c.ResolveCase(actor=P1, notes="已处理"))
    case = out["AS-taken"] = dispatched("AS-taken")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, section_id="urban"))
    case.later().do(c.TakeCase(actor=P2))
    case.later().do(c.AcceptCase(actor=P2))
    case = out["AS-reassigned"] = dispatched("AS-reassigned")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member(P1)))
    case.later().do(c.ReassignCase(actor=STREET_ACTOR, handler=member(P2), section_id="safety", reason="轮岗"))
    case = out["AS-redispatched"] = dispatched("AS-redispatched")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member(P1), section_id="urban"))
    case.later().do(c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.OTHER, reason="非本街道职责"))
    case.later().do(
        c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="转环保", redispatch_to=ENVIRONMENT)
    )
    out["AS-inbox"] = dispatched("AS-inbox")
    return out


def interleaved(by_case: dict[str, Case], seed: int) -> list[CaseEventBase]:
    """Every case's events, the cases shuffled into each other (each case's own order kept)."""
    rng = random.Random(seed)
    queues = [list(case.events) for case in by_case.values()]
    out: list[CaseEventBase] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        out.append(q.pop(0))
    return out


@pytest.fixture(params=LANES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database(request.param, tmp_path) as pair:
        yield pair


def test_assignments_land_on_the_case_rows_and_a_dispatch_elsewhere_clears_them(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    apply_events(engine, interleaved(by_case, 1))
    rows = {cid: get_case(engine, cid) for cid in by_case}
    got = {
        cid: (r.unit_id, r.handler_id, r.section_id, r.assign_count, r.status)
        for cid, r in rows.items()
        if r is not None
    }
    assert got == {
        "AS-resolved": ("S-1", "p-1", "urban", 1, "resolved"),
        "AS-taken": ("S-1", "p-2", "urban", 2, "handling"),
        "AS-reassigned": ("S-1", "p-2", "safety", 2, "dispatched"),
        "AS-redispatched": ("environment", None, None, 1, "dispatched"),
        "AS-inbox": ("S-1", None, None, 0, "dispatched"),
    }
    for cid, case in by_case.items():  # the read model agrees with the workflow's own state
        row = rows[cid]
        assert row is not None and (row.handler_id, row.section_id) == (case.state.handler_id, case.state.section_id)


def test_replays_and_rebuilds_give_identical_tables(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    events = interleaved(by_case, 2)
    result = apply_events(engine, events)
    assert result.applied == len(events) and result.skipped == 0
    first = dump(engine)
    assert apply_events(engine, events).applied == 0  # the whole log again: nothing changes
    assert dump(engine) == first
    for seed in (3, 4):  # from scratch, another interleaving, in small batches with duplicates re-delivered
        clear(engine)
        again = interleaved(by_case, seed)
        rng = random.Random(seed)
        i = 0
        while i < len(again):
            n = rng.randint(1, 7)
            batch = again[i : i + n]
            dups = rng.sample(again[: i + n], k=min(2, i + n))
            apply_events(engine, [*batch, *[d for d in dups if d not in batch]])
            i += n
        assert dump(engine) == first


def test_the_queries_by_handler_read_what_was_projected(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    apply_events(engine, interleaved(by_case, 5))

    def ids(selection: Selection, handler_id: str | None = None, section_id: str | None = None) -> set[str]:
        page = select_cases(engine, selection, handler_id=handler_id, section_id=section_id, limit=100)
        return {r.case_id for r in page.items}

    assert ids(Selection(handled_by_person=("p-1",))) == {"AS-resolved"}
    assert ids(Selection(handled_by_person=("p-2",))) == {"AS-taken", "AS-reassigned"}
    assert ids(Selection(in_section=(("street", "S-1", "urban"),))) == {"AS-resolved", "AS-taken"}
    street = Selection(handled_by=(("street", "S-1"),))
    assert ids(street, handler_id="p-2", section_id="safety") == {"AS-reassigned"}
    assert ids(street, handler_id="p-1") == {"AS-resolved"}  # AS-redispatched left the street and p-1

    since, until = month_span("2026-03")
    load = unit_load(engine, ("street", "S-1"), since=since, until=until)
    got = {h.handler_id: (h.open, h.resolved) for h in load.handlers}
    assert got == {"p-1": (1, 1), "p-2": (2, 0)}  # p-1's resolved case waits for its verification
    assert (load.total.open, load.unassigned.open, load.resolved) == (4, 1, 1)
    assert {s.section_id: (s.open, s.unassigned) for s in load.sections} == {"urban": (2, 0), "safety": (1, 0)}
    env = unit_load(engine, ("department", "environment"), since=since, until=until)
    assert env.handlers == [] and env.unassigned.open == 1
    february = unit_load(engine, ("street", "S-1"), since=month_span("2026-02")[0], until=since)
    assert february.resolved == 0 and {h.handler_id: h.resolved for h in february.handlers} == {"p-1": 0, "p-2": 0}
