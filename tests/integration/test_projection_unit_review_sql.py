"""Internal review, interim replies and corrections in the SQL read model (SQLite, and PostgreSQL with
``GRIDCASE_TEST_POSTGRES_URL``): the new events projected onto ``rm_cases``, ``rm_clocks`` and
``rm_assignments``, a rebuild giving the same tables, the work facts and the report read back from
what was projected, and revision 0005 upgrading rows projected before it.

Events come from the pure domain (``decide``/``evolve``); the database is real.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import ClockRecomputed, InterimReplied, Location, Urgency
from events.times import as_utc
from readmodel import tables as t
from readmodel.db import apply_events, clear, current_revision, dump, head_revision, migrate
from readmodel.kpis import WORK_TYPES, WorkFacts, load_facts, load_work_facts, person_load, work_by_unit
from readmodel.queries import get_case, get_clocks
from readmodel.report import build_report, render_html
from tests.integration.rm_db import LANES, fresh_database
from tests.unit.domain_helpers import DISPATCHER, STREET, STREET_ACTOR, Case
from workflows.domain import commands as c

pytestmark = pytest.mark.integration

HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
H1 = Actor(role=Role.DEPARTMENT, person_id="h-1", unit_id="housing")
H2 = Actor(role=Role.DEPARTMENT, person_id="h-2", unit_id="housing")
S2 = UnitRef(kind=UnitKind.STREET, id="S-2")
ELSEWHERE = Location(grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1", lat=30.6, lon=104.1)


def department_case(case_id: str, category: str = "noise") -> Case:
    case = Case(case_id).open_hotline(category=category)
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=HOUSING))
    case.later().do(c.AcceptCase(actor=H1))
    case.later().do(c.AssignCase(actor=H1, handler=c.Member(person_id="h-1", unit=HOUSING)))
    case.later().do(c.ContactResident(actor=H1))
    return case


def cases() -> dict[str, Case]:
    """UR-reviewed: a complex housing case, interim replies on time and late, sent back once, approved.
    UR-reclassified: a street case made complex (its resolution clock recomputed retroactively).
    UR-urgent: resolved, then urgent (its verification clock recomputed from now).
    UR-recalled: moved to another street while handled: recalled and dispatched to S-2.
    UR-intake: corrected before dispatch (no unit). UR-plain: none of it."""
    out: dict[str, Case] = {}
    case = out["UR-reviewed"] = department_case("UR-reviewed", category="illegal-construction")
    when = case.now
    for days in (1, 6):
        when += timedelta(days=days)
        case.tick(when)
        case.do(c.InterimReply(actor=H1, text="在办"), when)
    case.later().do(c.SubmitReply(actor=H1, notes="第一稿"))
    case.later().do(c.SendBack(actor=H2, reason="缺照片"))
    case.later().do(c.SubmitReply(actor=H1, notes="第二稿"))
    case.later().do(c.ApproveReply(actor=H2))
    case = out["UR-reclassified"] = Case("UR-reclassified").open_hotline().to_street_handling()
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=c.Member(person_id="p-1", unit=STREET)))
    case.later().do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason="实为违建"))
    case = out["UR-urgent"] = Case("UR-urgent").open_hotline().to_street_handling()
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="已处理"))
    case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
    case = out["UR-recalled"] = Case("UR-recalled").open_hotline().to_street_handling()
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=c.Member(person_id="p-1", unit=STREET)))
    case.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="地址错"))
    case.later().do(c.DispatchCase(actor=DISPATCHER, unit=S2))
    case = out["UR-intake"] = Case("UR-intake").open_hotline()
    case.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="地址错"))
    case.later().do(c.Reclassify(actor=DISPATCHER, category="garbage", reason="改类"))
    out["UR-plain"] = Case("UR-plain").open_hotline().to_street_handling()
    return out


def interleaved(by_case: dict[str, Case], seed: int) -> list[CaseEventBase]:
    rng = random.Random(seed)
    queues = [list(case.events) for case in by_case.values()]
    out: list[CaseEventBase] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        out.append(q.pop(0))
    return out


def expected_work(by_case: dict[str, Case]) -> list[WorkFacts]:
    """The work facts the events themselves give."""
    out = []
    for case in by_case.values():
        for e in case.events:
            kind = str(e.__dict__["type"])
            if kind not in WORK_TYPES:
                continue
            unit = e.__dict__.get("unit")
            out.append(
                WorkFacts(
                    case_id=e.case_id,
                    seq=e.seq,
                    type=kind,
                    occurred_at=e.occurred_at,
                    unit_kind=unit.kind.value if unit else None,
                    unit_id=unit.id if unit else None,
                    on_time=e.on_time if isinstance(e, InterimReplied) else None,
                )
            )
    return sorted(out, key=lambda w: (w.case_id, w.seq))


@pytest.fixture(params=LANES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database(request.param, tmp_path) as pair:
        yield pair


def test_the_case_rows_say_what_the_workflow_says(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    apply_events(engine, interleaved(by_case, 1))
    for cid, case in by_case.items():
        row = get_case(engine, cid)
        s = case.state
        assert row is not None and s.location is not None
        assert (row.status, row.category, row.urgency) == (s.status.value, s.category, s.urgency.value), cid
        assert (row.unit_id, row.handler_id) == (s.unit.id if s.unit else None, s.handler_id), cid
        assert (row.reply_rounds, row.sent_back_count, row.approved_by) == (
            s.reply_rounds,
            s.sent_back_count,
            s.approved_by,
        ), cid
        assert (row.interim_replies, row.corrections) == (s.interim_replies, s.corrections), cid
        late = sum(1 for e in case.events if isinstance(e, InterimReplied) and not e.on_time)
        assert row.interim_late == late, cid
        assert (row.street_id, row.grid_id) == (s.location.street_id, s.location.grid_id), cid
    reviewed = get_case(engine, "UR-reviewed")
    assert reviewed is not None and reviewed.status == "resolved"
    assert (reviewed.reply_rounds, reviewed.sent_back_count, reviewed.approved_by) == (2, 1, "h-2")
    assert (reviewed.interim_replies, reviewed.interim_late) == (2, 1)  # one in time, one after its due time
    recalled = get_case(engine, "UR-recalled")
    assert recalled is not None and (recalled.status, recalled.unit_id, recalled.handler_id) == (
        "dispatched",
        "S-2",
        None,
    )
    assert recalled.dispatch_count == 2 and (recalled.street_id, recalled.grid_id) == ("S-2", "G-201")
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(t.assignments.c.unit_id, t.assignments.c.status).where(t.assignments.c.case_id == "UR-recalled")
            ).all()
        )
    assert statuses == {"S-1": "recalled", "S-2": "open"}
    intake = get_case(engine, "UR-intake")
    assert intake is not None and (intake.category, intake.corrections, intake.unit_id) == ("garbage", 2, None)
    plain = get_case(engine, "UR-plain")
    assert plain is not None and (plain.reply_rounds, plain.interim_replies, plain.corrections) == (0, 0, 0)


def test_recomputed_clocks_keep_their_new_due_times(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    apply_events(engine, interleaved(by_case, 2))
    for cid in ("UR-reclassified", "UR-urgent"):
        recomputed = [e for e in by_case[cid].events if isinstance(e, ClockRecomputed)]
        assert recomputed, cid
        clocks = {str(k["clock_id"]): k for k in get_clocks(engine, cid)}
        for e in recomputed:
            assert clocks[e.clock_id]["due_at"] == e.due_at != e.previous_due_at
        running = {k.clock_id: k.due_at for k in by_case[cid].state.running_clocks()}
        assert {k: v["due_at"] for k, v in clocks.items() if v["stopped_at"] is None} == running
        row = get_case(engine, cid)
        assert row is not None and row.next_due_at == min(running.values())
    (resolve,) = [e for e in by_case["UR-reclassified"].events if isinstance(e, ClockRecomputed)]
    with engine.connect() as conn:
        due = conn.execute(
            select(t.assignments.c.resolve_due_at).where(t.assignments.c.case_id == "UR-reclassified")
        ).scalar_one()
        details = conn.execute(
            select(t.timeline.c.detail).where(
                t.timeline.c.case_id == "UR-reclassified", t.timeline.c.type == "sla.clock_recomputed"
            )
        ).scalar_one()
    assert as_utc(due) == resolve.due_at
    assert "previous_due_at=" in details and "due_at=" in details and "mode=retroactive" in details


def test_replays_and_rebuilds_give_identical_tables(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    events = interleaved(by_case, 3)
    result = apply_events(engine, events)
    assert result.applied == len(events) and result.skipped == 0
    first = dump(engine)
    assert apply_events(engine, events).applied == 0
    assert dump(engine) == first
    for seed in (4, 5):
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


def test_the_work_facts_and_the_report_read_what_was_projected(db: tuple[str, Engine]) -> None:
    _, engine = db
    by_case = cases()
    apply_events(engine, interleaved(by_case, 6))
    facts = load_work_facts(engine)
    assert facts == expected_work(by_case)
    assert {f.type for f in facts} == set(WORK_TYPES)
    as_of = max(case.now for case in by_case.values()) + timedelta(hours=1)
    report = build_report(engine, "2026-03", "street", as_of=as_of, person_names={"h-1": "李四"})
    case_facts, _ = load_facts(engine)
    assert report.work_by_unit == work_by_unit(case_facts, facts)
    housing = report.work_by_unit["department:housing"]
    assert (housing.replies_submitted, housing.replies_sent_back, housing.sent_back_rate) == (2, 1, 0.5)
    assert (housing.interim_replies, housing.interim_on_time, housing.interim_on_time_rate) == (2, 1, 0.5)
    street = report.work_by_unit["street:S-1"]
    assert (street.sent_back_rate, street.corrections.reclassified, street.corrections.relocated) == (None, 1, 1)
    assert report.work_by_unit["-"].corrections.total == 2  # UR-intake, before dispatch
    assert report.corrections_by_category["garbage"].total == 2
    assert report.people == person_load(case_facts, "2026-03", as_of=as_of)
    assert {(p.handler_id, p.unit_id, p.open) for p in report.people} == {("h-1", "housing", 1), ("p-1", "S-1", 1)}
    page = render_html(report)
    assert "<td>h-1 李四</td>" in page and "<td>department:housing</td>" in page
    assert build_report(engine, "2026-02", "street", as_of=as_of).work_by_unit == {}  # no case opened then


@pytest.mark.parametrize("lane", LANES)
def test_revision_0005_upgrades_rows_projected_before_it(lane: str, tmp_path: Path) -> None:
    with fresh_database(lane, tmp_path, migrated=False) as (url, engine):
        migrate(url, "0004")
        assert current_revision(engine) == "0004"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO rm_cases (case_id, status, accepted, breached, dispatch_count, return_count, "
                    "reopen_count, rework_count, whistle_count, escalation_count, self_handled, shelved, terminated, "
                    "excluded_from_evaluation, last_seq, assign_count) "
                    "VALUES ('OLD-1', 'handling', true, false, 1, 0, 0, 0, 0, 0, false, false, false, false, 7, 0)"
                )
            )
        migrate(url)
        assert current_revision(engine) == head_revision() == "0005"
        old = get_case(engine, "OLD-1")
        assert old is not None and old.last_seq == 7
        assert (old.reply_rounds, old.sent_back_count, old.approved_by) == (0, 0, None)
        assert (old.interim_replies, old.interim_late, old.corrections) == (0, 0, 0)
        migrate_down(url)
        columns = {col["name"] for col in inspect(engine).get_columns("rm_cases")}
        assert not columns & set(NEW_COLUMNS) and "handler_id" in columns
        migrate(url)
        columns = {col["name"] for col in inspect(engine).get_columns("rm_cases")}
        assert set(NEW_COLUMNS) <= columns
        with engine.begin() as conn:
            conn.execute(insert(t.cases).values(case_id="NEW-1", status="received", last_seq=1))
        new = get_case(engine, "NEW-1")
        assert new is not None and (new.reply_rounds, new.interim_late, new.corrections) == (0, 0, 0)


NEW_COLUMNS = ("reply_rounds", "sent_back_count", "approved_by", "interim_replies", "interim_late", "corrections")


def migrate_down(url: str, revision: str = "0004") -> None:
    from alembic import command

    from readmodel.db import _alembic_config

    command.downgrade(_alembic_config(url), revision)
