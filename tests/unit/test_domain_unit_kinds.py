"""Property companies (物业) and volunteer teams as units, in the pure domain: every new action ×
every reachable state × every kind of actor, judged against the rules as written here; then the
paths one by one (a delegation returned and handled, a whistle summoning a company, volunteers)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Channel, Location, ResidentContact, ReturnReason, WhistleTask
from tests.unit.domain_helpers import at, sla
from workflows.domain import CaseState, CaseStatus, DomainError, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.access import may_read
from workflows.domain.available import available_actions
from workflows.domain.explore import LOCATION, reachable_states
from workflows.domain.state import TERMINAL, SlaContext

P1 = UnitRef(kind=UnitKind.PROPERTY, id="P-1")  # serves C-10 and C-11
P2 = UnitRef(kind=UnitKind.PROPERTY, id="P-2")  # serves C-20 only
UNKNOWN = UnitRef(kind=UnitKind.PROPERTY, id="P-9")
HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
DISPATCHER = Actor(role=Role.DISPATCHER, person_id="op-1")

ACTORS = [
    DISPATCHER,
    Actor(role=Role.STREET, person_id="st-1", unit_id="S-1"),
    Actor(role=Role.STREET, person_id="st-2", unit_id="S-2"),
    Actor(role=Role.COMMUNITY, person_id="cm-10", unit_id="C-10"),
    Actor(role=Role.COMMUNITY, person_id="cm-20", unit_id="C-20"),
    Actor(role=Role.GRID_WORKER, person_id="gw-1", unit_id="G-101"),
    Actor(role=Role.GRID_WORKER, person_id="gw-2", unit_id="G-102"),
    Actor(role=Role.PROPERTY, person_id="pm-1", unit_id="P-1"),
    Actor(role=Role.VOLUNTEER, person_id="vt-10", unit_id="V-10"),
    Actor(role=Role.VOLUNTEER, person_id="vt-20", unit_id="V-20"),
    Actor(role=Role.DEPARTMENT, person_id="dp-h", unit_id="housing"),
    Actor(role=Role.SUPERVISOR, person_id="sv-1", unit_id="D-1"),
]


def _commands(actor: Actor) -> list[c.Command]:
    return [
        *(c.DelegateCase(actor=actor, unit=u) for u in (P1, P2, UNKNOWN, HOUSING)),
        *(c.CallVolunteers(actor=actor, team_id=t, task="协助") for t in ("V-10", "V-20", "V-99")),
        c.ReportVolunteerHelp(actor=actor, result="已协助"),
        c.ReleaseVolunteers(actor=actor, reason="不需要了"),
    ]


def _holder_ok_for_delegate(s: CaseState, a: Actor) -> bool:
    loc, unit = s.location, s.unit
    assert loc is not None
    if unit is None:
        return False
    if a.role == Role.STREET:
        return unit.kind == UnitKind.STREET and unit.id == a.unit_id
    return a.unit_id == loc.community_id and (
        (unit.kind == UnitKind.STREET and unit.id == loc.street_id)
        or (unit.kind == UnitKind.GRID and unit.id == loc.grid_id)
    )


def _served(known: dict[str, tuple[str, ...]] | None, uid: str, community: str) -> str | None:
    if known is None:
        return None
    if uid not in known:
        return "registry.unknown_unit"
    return None if community in known[uid] else "outside"


def expected(s: CaseState, cmd: c.Command) -> str | None:
    """The rule that must refuse ``cmd`` on ``s`` (None: accepted), from the rules as written."""
    a = cmd.actor
    roles = {
        c.DelegateCase: (Role.STREET, Role.COMMUNITY),
        c.CallVolunteers: (Role.GRID_WORKER,),
        c.ReportVolunteerHelp: (Role.VOLUNTEER,),
        c.ReleaseVolunteers: (Role.GRID_WORKER,),
    }[type(cmd)]
    if a.role not in roles:
        return "role.not_allowed"
    if s.status in TERMINAL:
        return "case.finished"
    if s.status != CaseStatus.HANDLING:
        return "status.not_allowed"
    assert s.location is not None and s.sla is not None
    community = s.location.community_id
    grid_handles = s.unit is not None and s.unit.kind == UnitKind.GRID and s.unit.id == a.unit_id
    if isinstance(cmd, c.DelegateCase):
        if not _holder_ok_for_delegate(s, a):
            return "jurisdiction.delegate"
        if s.open_whistle is not None:
            return "delegate.whistle_open"
        if s.open_volunteer_call is not None:
            return "delegate.volunteers_open"
        if s.pending_reply is not None:
            return "review.pending"
        if s.pending_extension is not None:
            return "delegate.extension_pending"
        if cmd.unit.kind != UnitKind.PROPERTY:
            return "delegate.target"
        served = _served(s.sla.properties, cmd.unit.id, community)
        return "delegate.outside_service_area" if served == "outside" else served
    if isinstance(cmd, c.CallVolunteers):
        if not grid_handles:
            return "jurisdiction.volunteers"
        if s.open_volunteer_call is not None:
            return "volunteers.open"
        served = _served(s.sla.volunteer_teams, cmd.team_id, community)
        return "volunteers.outside_service_area" if served == "outside" else served
    if isinstance(cmd, c.ReportVolunteerHelp):
        call = s.open_volunteer_call
        return None if call is not None and call.team_id == a.unit_id else "jurisdiction.not_called"
    if not grid_handles:
        return "jurisdiction.volunteers"
    return None if s.open_volunteer_call is not None else "volunteers.none"


#: Refusals that close the action to the actor whatever the form says.
CLOSED = frozenset(
    {
        "role.not_allowed",
        "case.finished",
        "status.not_allowed",
        "jurisdiction.delegate",
        "jurisdiction.volunteers",
        "jurisdiction.not_called",
        "delegate.whistle_open",
        "delegate.volunteers_open",
        "delegate.extension_pending",
        "review.pending",
        "volunteers.open",
        "volunteers.none",
    }
)


def test_every_new_action_in_every_reachable_state_by_every_actor() -> None:
    states = reachable_states(sla(), at("2026-03-02 09:00"), max_states=900)
    assert any(s.delegated_by is not None for s, _ in states), "the walk reaches delegated cases"
    assert any(s.open_volunteer_call is not None for s, _ in states), "the walk reaches volunteer calls"
    accepted: set[str] = set()
    rules: set[str] = set()
    for state, now in states:
        if state.status == CaseStatus.NEW:
            continue
        for actor in ACTORS:
            offered = {a.name for a in available_actions(state, actor, now)}
            for cmd in _commands(actor):
                want = expected(state, cmd)
                name = str(cmd.model_dump()["type"])
                try:
                    events = decide(state, cmd, now)  # type: ignore[arg-type]
                except DomainError as err:
                    assert err.rule == want, (state.status, state.unit, actor.label(), cmd, err)
                    rules.add(err.rule)
                    if err.rule in CLOSED:
                        assert name not in offered, (state.status, actor.label(), name)
                else:
                    assert want is None, (state.status, state.unit, actor.label(), cmd, want)
                    assert name in offered, (state.status, actor.label(), name)
                    accepted.add(name)
                    after = evolve_all(state, events)
                    assert after.seq == state.seq + len(events)
    assert accepted == {"delegate", "call_volunteers", "volunteer_report", "release_volunteers"}
    assert {
        "jurisdiction.delegate",
        "delegate.target",
        "delegate.outside_service_area",
        "registry.unknown_unit",
        "jurisdiction.volunteers",
        "volunteers.open",
        "volunteers.outside_service_area",
        "jurisdiction.not_called",
        "volunteers.none",
    } <= rules


# --- the paths ------------------------------------------------------------------------------------


class Case:
    def __init__(self, ctx: SlaContext | None = None, location: Location = LOCATION) -> None:
        self.state = CaseState(case_id="K1", sla=ctx or sla())
        self.now = at("2026-03-02 09:00")
        self.location = location

    def act(self, cmd: c.Command, minutes: int = 10) -> list[object]:
        self.now += timedelta(minutes=minutes)
        events = decide(self.state, cmd, self.now)  # type: ignore[arg-type]
        self.state = evolve_all(self.state, events)
        return events

    def refused(self, cmd: c.Command) -> str:
        before = self.state
        with pytest.raises(DomainError) as err:
            decide(self.state, cmd, self.now)  # type: ignore[arg-type]
        assert self.state is before
        return err.value.rule


ST = Actor(role=Role.STREET, person_id="st-1", unit_id="S-1")
CM = Actor(role=Role.COMMUNITY, person_id="cm-10", unit_id="C-10")
GW = Actor(role=Role.GRID_WORKER, person_id="gw-1", unit_id="G-101")
PM = Actor(role=Role.PROPERTY, person_id="pm-1", unit_id="P-1")
PM2 = Actor(role=Role.PROPERTY, person_id="pm-2", unit_id="P-2")


def street_case(ctx: SlaContext | None = None) -> Case:
    k = Case(ctx)
    k.act(
        c.OpenCase(
            actor=DISPATCHER,
            case_id="K1",
            channel=Channel.HOTLINE,
            category="noise",
            title="楼道堆物",
            description="楼道堆放杂物",
            location=LOCATION,
            contact=ResidentContact(name="李四", phone="13912345678"),
        )
    )
    k.act(c.RegisterCase(actor=DISPATCHER))
    k.act(c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.STREET, id="S-1")))
    k.act(c.AcceptCase(actor=ST))
    return k


def test_the_hotline_does_not_dispatch_to_a_property_company_or_a_volunteer_team() -> None:
    k = street_case()
    k2 = Case()
    k2.state = k.state.model_copy(update={"status": CaseStatus.REGISTERED, "unit": None})
    for unit in (P1, UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id="V-10")):
        assert k2.refused(c.DispatchCase(actor=DISPATCHER, unit=unit)) == "dispatch.target"


@pytest.mark.parametrize("by", [ST, CM], ids=["street", "community"])
def test_a_delegated_case_returns_to_the_unit_that_passed_it_down_and_is_handled_by_the_company(by: Actor) -> None:
    k = street_case()
    resolve = k.state.running_clock("resolve")
    assert resolve is not None
    k.act(c.DelegateCase(actor=by, unit=P1, note="物业范围"))
    s = k.state
    assert (s.status, s.unit, s.delegated_by) == (CaseStatus.DISPATCHED, P1, UnitRef(kind=UnitKind.STREET, id="S-1"))
    assert s.running_clock("resolve") == resolve
    assert may_read(s, PM) and not may_read(s, PM2)
    assert k.refused(c.AcceptCase(actor=PM2)) == "jurisdiction.not_assigned"
    events = k.act(c.ReturnCase(actor=PM, reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="不在合同内"))
    assert [e.type for e in events] == ["case.returned", "sla.clock_stopped"]  # type: ignore[attr-defined]
    s = k.state
    assert (s.status, s.unit, s.pending_return, s.return_count) == (
        CaseStatus.HANDLING,
        UnitRef(kind=UnitKind.STREET, id="S-1"),
        None,
        1,
    )
    assert s.running_clock("return_review") is None
    k.act(c.DelegateCase(actor=by, unit=P1))
    k.act(c.AcceptCase(actor=PM))
    assert [clk.kind for clk in k.state.running_clocks()].count("contact") == 1
    assert k.refused(c.ResolveCase(actor=PM, notes="x")) == "resolve.not_contacted"
    k.act(c.ContactResident(actor=PM))
    k.act(c.ResolveCase(actor=PM, notes="已清理"))
    assert k.state.status == CaseStatus.RESOLVED
    assert k.state.running_clock("verify") is not None


def test_relocating_a_delegated_case_outside_the_companys_communities_recalls_it() -> None:
    k = street_case()
    k.act(c.DelegateCase(actor=ST, unit=P1))
    same_company = Location(grid_id="G-111", community_id="C-11", street_id="S-1", district_id="D-1")
    k.act(c.Relocate(actor=DISPATCHER, location=same_company, reason="楼号有误"))
    assert (k.state.status, k.state.unit) == (CaseStatus.DISPATCHED, P1)
    elsewhere = Location(grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1")
    events = k.act(c.Relocate(actor=DISPATCHER, location=elsewhere, reason="实为新华街道"))
    assert events[0].recalled is True  # type: ignore[attr-defined]
    assert (k.state.status, k.state.unit, k.state.delegated_by) == (CaseStatus.REGISTERED, None, None)
    assert k.state.running_clocks() == []


def test_a_whistle_summons_a_company_serving_the_community_and_only_it_reports_in() -> None:
    k = street_case()
    k.act(c.ContactResident(actor=ST))
    bad = c.WhistleTaskInput(department_id="P-2", task="x", unit_kind=UnitKind.PROPERTY)
    assert k.refused(c.BlowWhistle(actor=ST, tasks=[bad])) == "whistle.outside_service_area"
    unknown = c.WhistleTaskInput(department_id="P-9", task="x", unit_kind=UnitKind.PROPERTY)
    assert k.refused(c.BlowWhistle(actor=ST, tasks=[unknown])) == "registry.unknown_unit"
    with pytest.raises(ValueError, match="department or a property company"):
        WhistleTask(department_id="V-10", task="x", unit_kind=UnitKind.VOLUNTEER_TEAM)
    k.act(
        c.BlowWhistle(
            actor=ST,
            tasks=[
                c.WhistleTaskInput(department_id="housing", task="查违建"),
                c.WhistleTaskInput(department_id="P-1", task="配合", unit_kind=UnitKind.PROPERTY),
            ],
        )
    )
    assert k.state.running_clock("report_in", "property:P-1") is not None
    assert may_read(k.state, PM)
    as_department = Actor(role=Role.DEPARTMENT, person_id="x", unit_id="P-1")
    assert k.refused(c.ReportIn(actor=as_department)) == "jurisdiction.not_summoned"
    as_company = Actor(role=Role.PROPERTY, person_id="x", unit_id="housing")
    assert k.refused(c.ReportIn(actor=as_company)) == "jurisdiction.not_summoned"
    events = k.act(c.ReportIn(actor=PM))
    assert events[0].unit_kind == UnitKind.PROPERTY  # type: ignore[attr-defined]
    assert k.state.running_clock("report_in", "property:P-1") is None
    k.act(c.CompleteTask(actor=PM, result="已配合"))
    assert k.refused(c.ResolveCase(actor=ST, notes="x")) == "resolve.whistle_open"


def test_a_context_without_units_of_the_new_kinds_refuses_them() -> None:
    """A case started before ``unit-kinds-v1`` has empty lists: nothing to pass down to or call in."""
    ctx = sla().model_copy(update={"properties": {}, "volunteer_teams": {}})
    k = street_case(ctx)
    assert k.refused(c.DelegateCase(actor=ST, unit=P1)) == "delegate.none_serving"
    assert "delegate" not in {a.name for a in available_actions(k.state, ST, k.now)}
    grid = Case(ctx)
    grid.act(
        c.OpenCase(
            actor=GW,
            case_id="K1",
            channel=Channel.GRID_PATROL,
            category="garbage",
            title="垃圾",
            description="绿地垃圾",
            location=LOCATION,
            self_handle=True,
        )
    )
    assert grid.refused(c.CallVolunteers(actor=GW, team_id="V-10", task="x")) == "volunteers.none_serving"
    assert "call_volunteers" not in {a.name for a in available_actions(grid.state, GW, grid.now)}
