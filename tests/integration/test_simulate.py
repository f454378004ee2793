"""A short simulation on the real stack: every path, side path and escalation rung, and the read model agrees.

The case worker runs in-process on compressed time (1 policy hour = 0.5 s) against the real
Temporal dev server and publishes to the real Kafka broker (a topic prefix of its own); cases come
from the seed city of the city registry. Afterwards the projector reads the topic into a fresh
read-model database, and its counts must equal the simulator's own tally.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from events.consumer import new_group_id
from events.topics import ensure_topics
from readmodel import tables as t
from readmodel.projector import Projector
from tests.integration.rm_db import fresh_database
from workers.composition import connect_temporal
from workers.settings import Settings
from workers.sim.main import SimOptions, load_city, simulate
from workers.sim.plan import FEATURES, PATHS, RUNGS
from workers.sim.runner import Tally
from workflows.case_workflow import workflow_id

pytestmark = pytest.mark.integration

SCALE = 0.5  # wall-clock seconds per policy hour
CASES = 26  # the coverage tour (22 cases) and a few drawn ones
WORK_INSIDE_EVENTS = (
    "case.reply_submitted",
    "case.reply_approved",
    "case.reply_sent_back",
    "case.interim_replied",
    "case.reclassified",
    "case.urgency_changed",
    "case.relocated",
    "sla.clock_recomputed",
)
"""Events of the work inside the unit and of the corrections, counted on both sides."""


@pytest.fixture(scope="module")
def sim_settings(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tag = uuid.uuid4().hex[:8]
    registry_db = tmp_path_factory.mktemp("city") / "city.db"
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"sim{tag}",
            "task_queue": f"sim-{tag}",
            "sla_time_scale": SCALE,
            "database_url": f"sqlite:///{registry_db}",
            "metrics_port": 0,
        }
    )
    ensure_topics(settings, partitions=2)
    return settings


@pytest.fixture(scope="module")
def tally(sim_settings: Settings) -> Tally:
    city = load_city(sim_settings)  # the seed city, loaded into this test's registry database
    options = SimOptions(cases=CASES, rate=120.0, time_scale=SCALE, seed=42, prefix=f"T{uuid.uuid4().hex[:6]}")

    async def go() -> Tally:
        result = await simulate(sim_settings, options, city, with_worker=True, live=False)
        client = await connect_temporal(sim_settings)
        for cid in result.case_ids:  # a finished workflow has published every event
            await client.get_workflow_handle(workflow_id(cid)).result()
        return result

    return asyncio.run(go())


def test_every_path_and_rung_occurs(tally: Tally) -> None:
    assert not tally.failures and not tally.refused and not tally.scale_mismatch, tally.failures
    assert tally.opened == tally.finished == CASES and not tally.unfinished
    assert {p for p in PATHS if tally.paths[p] == 0} == set()
    assert {f for f in FEATURES if tally.features[f] == 0} == set()
    assert {r.value for r in RUNGS if tally.rung_cases[r.value] == 0} == set()
    assert tally.manual_escalations >= 1 and tally.breached_cases >= len(RUNGS)
    assert sum(tally.final_status.values()) == CASES
    assert set(tally.final_status) == {"closed", "rejected", "merged"}
    f, ev = tally.features, tally.events
    # the work inside the unit and the corrections did what the plans said
    assert ev["case.reply_approved"] >= f["reply_approved"] and ev["case.reply_sent_back"] >= f["reply_sent_back"]
    assert ev["case.reply_submitted"] == ev["case.reply_approved"] + ev["case.reply_sent_back"]
    assert ev["case.resolved"] >= ev["case.reply_approved"]
    assert tally.late_interim_replies >= f["interim_late"] and ev["case.interim_replied"] > tally.late_interim_replies
    assert tally.breach_kinds["interim_reply"] >= f["interim_late"]  # a missed interim deadline is a breach
    assert tally.warning_kinds["interim_reply"] >= 1
    assert ev["sla.clock_recomputed"] >= f["reclassified"] + f["urgency_raised"]
    assert ev["case.reclassified"] == f["reclassified"] and ev["case.urgency_changed"] == f["urgency_raised"]
    assert ev["case.relocated"] == f["relocated"] + f["relocated_recalled"]


def test_read_model_counts_match_the_tally(sim_settings: Settings, tally: Tally, tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as (_, engine):
        Projector(sim_settings, engine, group_id=new_group_id("sim")).run(until_caught_up=True, stop_after=60)
        ids = tally.case_ids
        c = t.cases.c
        with engine.connect() as conn:
            statuses = Counter(
                dict(conn.execute(select(c.status, func.count()).where(c.case_id.in_(ids)).group_by(c.status)).all())
            )
            breached = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.breached.is_(True))).scalar()
            e = t.escalations.c
            rungs = Counter(
                dict(
                    conn.execute(
                        select(e.level, func.count()).where(e.case_id.in_(ids), e.manual.is_(False)).group_by(e.level)
                    ).all()
                )
            )
            rung_cases = Counter(
                dict(
                    conn.execute(
                        select(e.level, func.count(func.distinct(e.case_id)))
                        .where(e.case_id.in_(ids), e.manual.is_(False))
                        .group_by(e.level)
                    ).all()
                )
            )
            manual = conn.execute(select(func.count()).where(e.case_id.in_(ids), e.manual.is_(True))).scalar()
            reopened = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.reopen_count > 0)).scalar()
            reworked = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.rework_count > 0)).scalar()
            returned = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.return_count > 0)).scalar()
            whistled = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.whistle_count > 0)).scalar()
            with_handler = conn.execute(
                select(func.count()).where(c.case_id.in_(ids), c.handler_id.is_not(None), c.assign_count > 0)
            ).scalar()
            moved = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.assign_count >= 2)).scalar()
            tl = t.timeline.c
            started = conn.execute(select(tl.detail).where(tl.case_id.in_(ids), tl.type == "sla.clock_started")).all()
            events: Counter[str] = Counter(
                dict(
                    conn.execute(
                        select(tl.type, func.count())
                        .where(tl.case_id.in_(ids), tl.type.in_(WORK_INSIDE_EVENTS))
                        .group_by(tl.type)
                    ).all()
                )
            )
            work = conn.execute(
                select(
                    func.sum(c.reply_rounds),
                    func.sum(c.sent_back_count),
                    func.sum(c.interim_replies),
                    func.sum(c.interim_late),
                    func.sum(c.corrections),
                ).where(c.case_id.in_(ids))
            ).one()
            sent_back = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.sent_back_count > 0)).scalar()
            approved = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.approved_by.is_not(None))).scalar()
            self_approved = conn.execute(
                select(func.count()).where(c.case_id.in_(ids), c.approved_by == c.handler_id)
            ).scalar()
            late_interim = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.interim_late > 0)).scalar()
            corrected = conn.execute(select(func.count()).where(c.case_id.in_(ids), c.corrections > 0)).scalar()
            a = t.assignments.c
            recalled = conn.execute(
                select(func.count(func.distinct(a.case_id))).where(a.case_id.in_(ids), a.status == "recalled")
            ).scalar()
            units = Counter(
                dict(
                    conn.execute(
                        select(a.kind + ":" + a.unit_kind + ":" + a.status, func.count(func.distinct(a.case_id)))
                        .where(a.case_id.in_(ids), a.unit_kind.in_(("property", "volunteer_team")))
                        .group_by(a.kind, a.unit_kind, a.status)
                    ).all()
                )
            )
            delegated = conn.execute(
                select(func.count(func.distinct(a.case_id))).where(
                    a.case_id.in_(ids), a.unit_kind == "property", a.kind != "whistle"
                )
            ).scalar()
            closure = Counter(
                dict(
                    conn.execute(
                        select(c.closure_type, func.count())
                        .where(c.case_id.in_(ids), c.closure_type.is_not(None))
                        .group_by(c.closure_type)
                    ).all()
                )
            )
    assert started and all(f"time_scale={SCALE}" in d for (d,) in started)  # every clock on compressed time
    assert statuses == tally.final_status
    assert breached == tally.breached_cases
    assert rungs == tally.rung_events
    assert rung_cases == tally.rung_cases
    assert manual == tally.manual_escalations
    assert closure == tally.closure
    assert reopened == tally.features["reopened"]
    assert reworked == tally.features["rework"]
    assert returned == (
        tally.features["returned_redispatched"]
        + tally.features["returned_insisted"]
        + tally.features["property_returned"]
    )
    assert whistled == tally.paths["street_whistle"]
    inside = tally.features["assigned"] + tally.features["taken"] + tally.features["reassigned"]
    assert inside >= 3 and with_handler == inside  # every case assigned inside its unit keeps its handler
    assert moved == tally.features["reassigned"]
    # the work inside the unit and the corrections: the read model counts what the simulator did
    f = tally.features
    assert events == Counter({k: v for k, v in tally.events.items() if k in WORK_INSIDE_EVENTS})
    reply_rounds, sent_back_total, interim_replies, interim_late, corrections = (int(x or 0) for x in work)
    assert reply_rounds == tally.events["case.reply_submitted"]
    assert sent_back == f["reply_sent_back"] and sent_back_total == tally.events["case.reply_sent_back"]
    assert approved == f["reply_approved"] and self_approved == 0  # signed off by another member
    assert interim_replies == tally.events["case.interim_replied"] and interim_late == tally.late_interim_replies
    assert late_interim == f["interim_late"]
    assert corrections == f["reclassified"] + f["urgency_raised"] + f["relocated"] + f["relocated_recalled"]
    assert (corrected or 0) >= max(f["reclassified"], f["urgency_raised"], f["relocated"], f["relocated_recalled"])
    assert recalled == f["relocated_recalled"]
    # property companies and volunteer teams: the read model's assignments are what the simulator did
    assert delegated == f["delegated_to_property"] >= 1
    property_returns = sum(n for k, n in units.items() if k.startswith("dispatch:property:returned"))
    assert property_returns == f["property_returned"] >= 1
    assert units["whistle:property:completed"] == f["property_summoned"] >= 1
    assert units["volunteer:volunteer_team:completed"] == f["volunteers_called"] >= 1
    assert units["volunteer:volunteer_team:released"] == f["volunteers_released"] >= 1
