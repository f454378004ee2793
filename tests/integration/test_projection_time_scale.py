"""Cases on compressed SLA time in the read model: the time scale stored per case and per clock,
handling times in policy hours, rebuild equality, and the 0001 → 0002 upgrade; SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from activities.sla import SlaActivities
from events.base import CaseEventBase, UnitKind, UnitRef
from events.schemas import Channel, Location, ResidentContact
from readmodel import tables as t
from readmodel.db import apply_events, clear, dump, make_engine, migrate
from readmodel.kpis import compute, load_facts
from readmodel.report import render_csv, report_from_facts, time_note
from tests.unit.domain_helpers import DISPATCHER, Case, at, unit_actor
from workflows.domain import commands as c
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy

pytestmark = pytest.mark.integration

LANES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
T0 = at("2026-11-02 09:00")
STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
LOC = Location(grid_id="G-101", community_id="C-10", street_id="S-1", district_id="D-1")


def _resolved_case(case_id: str, after: timedelta, scale: float | None) -> list[CaseEventBase]:
    """Open at T0, dispatch to the street, resolve ``after`` (wall clock) the opening."""
    case = Case(case_id)
    if scale is not None:
        ctx = SlaActivities(default_policy(), build_calendar([2026]), time_scale=scale).context
        case.state = case.state.model_copy(update={"sla": ctx})
    actor = unit_actor(STREET)
    case.do(
        c.OpenCase(
            actor=DISPATCHER,
            case_id=case_id,
            channel=Channel.HOTLINE,
            category="noise",
            title="噪音",
            description="夜间施工",
            location=LOC,
            contact=ResidentContact(name="张三", phone="13812345678"),
        ),
        T0,
    )
    case.do(c.RegisterCase(actor=DISPATCHER), T0 + after / 6)
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET), T0 + after / 3)
    case.do(c.AcceptCase(actor=actor), T0 + after / 2)
    case.do(c.ContactResident(actor=actor), T0 + after / 2)
    case.do(c.ResolveCase(actor=actor, notes="已处理"), T0 + after)
    return case.events


@pytest.fixture(params=LANES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    from tests.integration.rm_db import fresh_database

    with fresh_database(request.param, tmp_path) as pair:
        yield pair


def test_compressed_case_counts_policy_hours(db: tuple[str, Engine]) -> None:
    _, engine = db
    fast = _resolved_case("TS-FAST", timedelta(seconds=60), 2.0)  # 60 s at 2 s per policy hour = 30 policy h
    real = _resolved_case("TS-REAL", timedelta(hours=3), None)  # 3 h
    apply_events(engine, [*fast, *real])
    with engine.connect() as conn:
        scales = dict(conn.execute(select(t.cases.c.case_id, t.cases.c.time_scale)).all())
        clock_scales = set(conn.execute(select(t.clocks.c.case_id, t.clocks.c.time_scale)).all())
    assert scales == {"TS-FAST": 2.0, "TS-REAL": None}
    assert clock_scales == {("TS-FAST", 2.0), ("TS-REAL", None)}
    cases, assignments = load_facts(engine)
    m = compute(cases, assignments, as_of=T0 + timedelta(days=1))
    assert m.compressed_cases == 1 and m.cases == 2
    assert m.mean_handling_hours == pytest.approx((30 + 3) / 2)
    assert m.p90_handling_hours == pytest.approx(30)
    report = report_from_facts(
        cases, assignments, "2026-11", "street", as_of=T0 + timedelta(days=1), basic_weight=0.9, weights=(0.1, 0.5, 0.4)
    )
    assert time_note(report) is not None and "1 of 2 cases ran on compressed time" in (time_note(report) or "")
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert rows[-1]["key"] == "total"
    assert rows[-1]["compressed_cases"] == "1"  # the total row's

    before = dump(engine)
    clear(engine)
    apply_events(engine, real, use_cache=False)  # another order, no cached views
    apply_events(engine, fast, use_cache=False)
    assert dump(engine) == before


def test_upgrade_from_0001_adds_nullable_time_scale(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0001")
    engine = make_engine(url)
    try:
        assert "time_scale" not in {col["name"] for col in inspect(engine).get_columns("rm_cases")}
        migrate(url)
        inspector = inspect(engine)
        for table in ("rm_cases", "rm_clocks"):
            col = next(col for col in inspector.get_columns(table) if col["name"] == "time_scale")
            assert col["nullable"]
    finally:
        engine.dispose()
