"""Property companies (物业) and volunteer teams as units, on the time-skipping server, behind
``unit-kinds-v1``: a street or community passes a case down to a property company, which returns
it or handles it; a whistle summons a property company beside a department; a grid calls a
volunteer team in. The units come from the city registry the worker runs with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Channel, ClockKind, Location, Rating, ResidentContact, ReturnReason
from tests.workflow.test_case_paths import DISPATCHER, new_id, record
from tests.workflow.test_unit_review_paths import HISTORIES, has_patch_marker, refused
from workers.case_client import CaseClient
from workers.composition import build_registry
from workers.settings import Settings
from workflows.case_workflow import PATCH_UNIT_KINDS
from workflows.domain import CaseStatus
from workflows.domain import commands as c


@dataclass(frozen=True)
class Place:
    """A grid of the registry with the property company, a volunteer team and the actors around it."""

    location: Location
    company: UnitRef
    other_company: UnitRef | None  # a company that does not serve the place's community
    team: str
    other_team: str | None


@pytest.fixture(scope="module")
def place(wf_settings: Settings) -> Place:
    reg = build_registry(wf_settings)
    companies = reg.property_companies
    teams = reg.volunteer_teams
    for grid_id in reg.grid_ids():
        loc = reg.locate(grid_id=grid_id)
        serving = sorted(p for p, co in companies.items() if loc.community_id in co.communities)
        helping = sorted(t for t, tm in teams.items() if loc.community_id in tm.communities)
        if serving and helping:
            other = next((p for p, co in sorted(companies.items()) if loc.community_id not in co.communities), None)
            other_team = next((t for t, tm in sorted(teams.items()) if loc.community_id not in tm.communities), None)
            return Place(
                location=loc.model_copy(update={"address": "示范小区 3 号楼"}),
                company=UnitRef(kind=UnitKind.PROPERTY, id=serving[0]),
                other_company=UnitRef(kind=UnitKind.PROPERTY, id=other) if other else None,
                team=helping[0],
                other_team=other_team,
            )
    raise AssertionError("the city registry has no grid with both a property company and a volunteer team")


def street_actor(p: Place) -> Actor:
    return Actor(role=Role.STREET, person_id="street-staff", unit_id=p.location.street_id)


def grid_actor(p: Place) -> Actor:
    return Actor(role=Role.GRID_WORKER, person_id="grid-staff", unit_id=p.location.grid_id)


def property_actor(p: Place, person: str = "pm-staff") -> Actor:
    return Actor(role=Role.PROPERTY, person_id=person, unit_id=p.company.id)


async def open_at(cases: CaseClient, case_id: str, p: Place, category: str = "noise") -> None:
    await cases.open(
        c.OpenCase(
            actor=DISPATCHER,
            case_id=case_id,
            channel=Channel.HOTLINE,
            category=category,
            title="楼道堆物",
            description="楼道堆放杂物，影响通行",
            location=p.location,
            contact=ResidentContact(name="李四", phone="13912345678"),
            idempotency_key=f"key-{case_id}",
        )
    )


async def street_handling(cases: CaseClient, case_id: str, p: Place) -> None:
    await open_at(cases, case_id, p)
    street = UnitRef(kind=UnitKind.STREET, id=p.location.street_id)
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=street),
        c.AcceptCase(actor=street_actor(p)),
    ):
        await cases.act(case_id, cmd)


async def close(cases: CaseClient, case_id: str, p: Place) -> None:
    await cases.act(case_id, c.VerifyCase(actor=grid_actor(p), passed=True))
    await cases.act(case_id, c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
    await cases.act(case_id, c.CloseCase(actor=DISPATCHER))


async def test_a_street_passes_a_case_down_to_a_property_company_which_returns_then_handles_it(
    env: WorkflowEnvironment, cases: CaseClient, place: Place
) -> None:
    """下派物业 → 退回街道 → 下派 → 签收 → 响应 → 办结 → 核查 → 结案: the street's resolve clock runs
    throughout; the return goes straight back to the street, not to the hotline's review."""
    p = place
    cid = new_id()
    await street_handling(cases, cid, p)
    sa = street_actor(p)
    await refused(cases, cid, c.DispatchCase(actor=DISPATCHER, unit=p.company), "status.not_allowed")
    if p.other_company is not None:
        await refused(cases, cid, c.DelegateCase(actor=sa, unit=p.other_company), "delegate.outside_service_area")
    await refused(
        cases,
        cid,
        c.DelegateCase(actor=sa, unit=UnitRef(kind=UnitKind.PROPERTY, id="no-such-company")),
        "registry.unknown_unit",
    )
    await refused(
        cases, cid, c.DelegateCase(actor=sa, unit=UnitRef(kind=UnitKind.DEPARTMENT, id="housing")), "delegate.target"
    )
    resolve = (await cases.state(cid)).running_clock(ClockKind.RESOLVE)
    assert resolve is not None and resolve.unit_key == f"street:{p.location.street_id}"
    await cases.act(cid, c.DelegateCase(actor=sa, unit=p.company, note="楼道管理属物业"))
    s = await cases.state(cid)
    assert (s.status, s.unit, s.delegated_by) == (
        CaseStatus.DISPATCHED,
        p.company,
        UnitRef(kind=UnitKind.STREET, id=p.location.street_id),
    )
    assert s.running_clock(ClockKind.ACCEPT, p.company.key()) is not None
    assert s.running_clock(ClockKind.RESOLVE) == resolve  # the street's clock keeps running
    await refused(cases, cid, c.ResolveCase(actor=sa, notes="x"), "status.not_allowed")
    pm = property_actor(p)
    await cases.act(
        cid, c.ReturnCase(actor=pm, reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="公共区域不在服务合同内")
    )
    s = await cases.state(cid)
    assert (s.status, s.unit, s.delegated_by, s.pending_return) == (
        CaseStatus.HANDLING,
        UnitRef(kind=UnitKind.STREET, id=p.location.street_id),
        None,
        None,
    )
    assert s.running_clock(ClockKind.RETURN_REVIEW) is None and s.running_clock(ClockKind.ACCEPT) is None
    await cases.act(cid, c.DelegateCase(actor=sa, unit=p.company, note="合同已核实，属物业"))
    await cases.act(cid, c.AcceptCase(actor=pm))
    s = await cases.state(cid)
    assert [k.kind for k in s.running_clocks()].count(ClockKind.CONTACT) == 1  # no second contact clock
    await cases.act(cid, c.ContactResident(actor=pm, note="已电话联系"))
    await cases.act(cid, c.ResolveCase(actor=pm, notes="杂物已清理", evidence=["photo-after"]))
    s = await cases.state(cid)
    assert (s.status, s.return_count) == (CaseStatus.RESOLVED, 1)
    resolved = [e for e in await cases.timeline(cid) if e.type == "case.resolved"][-1]
    assert resolved.unit == p.company
    await close(cases, cid, p)
    history = json.loads((await env.client.get_workflow_handle(f"case-{cid}").fetch_history()).to_json())
    assert has_patch_marker(history, PATCH_UNIT_KINDS)
    await record(env.client, cid, "property_delegated_returned")


async def test_a_whistle_summons_a_property_company_with_a_department(
    env: WorkflowEnvironment, cases: CaseClient, place: Place
) -> None:
    """吹哨 to a department and a property company: each reports in (报到) on its own clock, a late one
    breaches, and the street resolves once both have done their part."""
    p = place
    cid = new_id()
    await street_handling(cases, cid, p)
    sa = street_actor(p)
    await cases.act(cid, c.ContactResident(actor=sa))
    if p.other_company is not None:
        await refused(
            cases,
            cid,
            c.BlowWhistle(
                actor=sa,
                tasks=[c.WhistleTaskInput(department_id=p.other_company.id, task="x", unit_kind=UnitKind.PROPERTY)],
            ),
            "whistle.outside_service_area",
        )
    await cases.act(
        cid,
        c.BlowWhistle(
            actor=sa,
            tasks=[
                c.WhistleTaskInput(department_id="urban-management", task="查处占道"),
                c.WhistleTaskInput(department_id=p.company.id, task="清理楼道并看护", unit_kind=UnitKind.PROPERTY),
            ],
        ),
    )
    s = await cases.state(cid)
    report = s.running_clock(ClockKind.REPORT_IN, p.company.key())
    assert report is not None
    dept = Actor(role=Role.DEPARTMENT, person_id="um-staff", unit_id="urban-management")
    pm = property_actor(p)
    # a department actor with the company's id is not the summoned company
    await refused(
        cases,
        cid,
        c.ReportIn(actor=Actor(role=Role.DEPARTMENT, person_id="x", unit_id=p.company.id)),
        "jurisdiction.not_summoned",
    )
    await cases.act(cid, c.ReportIn(actor=dept))
    await env.sleep(report.due_at - await env.get_current_time() + timedelta(minutes=5))
    late = [e.type for e in await cases.timeline(cid) if getattr(e, "clock_id", None) == report.clock_id]
    assert "sla.breached" in late
    await cases.act(cid, c.ReportIn(actor=pm))
    reported = [e for e in await cases.timeline(cid) if e.type == "case.department_reported_in"]
    assert [(e.department_id, e.unit_kind) for e in reported] == [
        ("urban-management", UnitKind.DEPARTMENT),
        (p.company.id, UnitKind.PROPERTY),
    ]
    await refused(cases, cid, c.ResolveCase(actor=sa, notes="x"), "resolve.whistle_open")
    await cases.act(cid, c.CompleteTask(actor=dept, result="已处罚"))
    await cases.act(cid, c.CompleteTask(actor=pm, result="楼道已清理"))
    await cases.act(cid, c.ResolveCase(actor=sa, notes="联合处置完毕"))
    await close(cases, cid, p)
    await record(env.client, cid, "property_summoned")


async def test_a_grid_calls_a_volunteer_team_in_and_resolves_after_its_report(
    env: WorkflowEnvironment, cases: CaseClient, place: Place
) -> None:
    """小事不出网格 with volunteers: call → (resolve refused) → the team reports → resolve; a second call
    is released without a report."""
    p = place
    cid = new_id()
    gw = grid_actor(p)
    await cases.open(
        c.OpenCase(
            actor=gw,
            case_id=cid,
            channel=Channel.GRID_PATROL,
            category="garbage",
            title="绿地垃圾",
            description="小区绿地堆积垃圾",
            location=p.location,
            self_handle=True,
        )
    )
    if p.other_team is not None:
        await refused(
            cases, cid, c.CallVolunteers(actor=gw, team_id=p.other_team, task="x"), "volunteers.outside_service_area"
        )
    volunteer = Actor(role=Role.VOLUNTEER, person_id="vol-1", unit_id=p.team)
    await refused(cases, cid, c.ReportVolunteerHelp(actor=volunteer, result="x"), "jurisdiction.not_called")
    await cases.act(cid, c.CallVolunteers(actor=gw, team_id=p.team, task="协助清理绿地垃圾"))
    await refused(cases, cid, c.CallVolunteers(actor=gw, team_id=p.team, task="again"), "volunteers.open")
    await refused(cases, cid, c.ResolveCase(actor=gw, notes="x"), "resolve.volunteers_open")
    await cases.act(cid, c.ReportVolunteerHelp(actor=volunteer, result="已清理 6 袋垃圾", evidence=["photo-v"]))
    await cases.act(cid, c.CallVolunteers(actor=gw, team_id=p.team, task="周末再巡一次"))
    await cases.act(cid, c.ReleaseVolunteers(actor=gw, reason="已由保洁完成"))
    await refused(cases, cid, c.ReleaseVolunteers(actor=gw, reason="x"), "volunteers.none")
    s = await cases.state(cid)
    assert [(v.reported_at is not None, v.released_at is not None) for v in s.volunteer_calls] == [
        (True, False),
        (False, True),
    ]
    assert f"volunteer_team:{p.team}" in s.units_involved
    await cases.act(cid, c.ResolveCase(actor=gw, notes="已清理"))
    await cases.act(cid, c.VerifyCase(actor=gw, passed=True))
    assert (await cases.state(cid)).status == CaseStatus.VERIFIED
    await record(env.client, cid, "volunteers_called")


def test_histories_recorded_before_unit_kinds_carry_no_marker_and_the_new_ones_do() -> None:
    """The replay test replays both: every older fixture is a case of the code before ``unit-kinds-v1``."""
    new = ("property_delegated_returned", "property_summoned", "volunteers_called")
    for name in new:
        path = HISTORIES / f"{name}.json"
        assert path.exists(), (
            f"record {name}: GRIDCASE_RECORD_HISTORIES=1 pytest tests/workflow/test_unit_kinds_paths.py"
        )
        assert has_patch_marker(json.loads(path.read_text()), PATCH_UNIT_KINDS), name
    older = [p for p in HISTORIES.glob("*.json") if p.stem not in new]
    assert len(older) >= 14
    for path in older:
        assert not has_patch_marker(json.loads(path.read_text()), PATCH_UNIT_KINDS), path.stem
