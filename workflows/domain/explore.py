"""Explore the lifecycle by running the domain itself, and render its transition table.

``candidate_commands`` lists, for a state, one well-formed command per action with the actor who
would normally do it; :func:`transitions` walks every reachable status from a new case and records
which commands move it where. ``docs/lifecycle.md`` is rendered from this walk
(``python -m workflows.domain.explore > docs/lifecycle.md``) and a unit test re-renders it, so the
documented table and diagram cannot drift from the code. Property tests use the same generator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    ClockKind,
    ClosureType,
    EscalationLevel,
    Location,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    WhistleTask,
)
from workflows.domain import commands as c
from workflows.domain.commands import command_name
from workflows.domain.decide import catch_up, decide
from workflows.domain.errors import DomainError
from workflows.domain.evolve import evolve_all
from workflows.domain.state import UNIT_ROLE, CaseState, CaseStatus, SlaContext

LOCATION = Location(grid_id="G-101", community_id="C-10", street_id="S-1", district_id="D-1", address="青城花园")
#: Another grid of the same street: relocating there recalls a case from its grid, not from its street.
OTHER_GRID = Location(grid_id="G-102", community_id="C-10", street_id="S-1", district_id="D-1", address="青城花园东")
DISPATCHER = Actor(role=Role.DISPATCHER, person_id="op-1")
GRID_WORKER = Actor(role=Role.GRID_WORKER, person_id="gw-1", unit_id="G-101")
SUPERVISOR = Actor(role=Role.SUPERVISOR, person_id="sv-1", unit_id="D-1")
DEPARTMENTS = ("environment", "urban-management", "housing")
#: A property company and a volunteer team serving the case's community.
PROPERTY = UnitRef(kind=UnitKind.PROPERTY, id="P-1")
TEAM = "V-10"
COMMUNITY = Actor(role=Role.COMMUNITY, person_id="cm-1", unit_id=LOCATION.community_id)
VOLUNTEER = Actor(role=Role.VOLUNTEER, person_id="vol-1", unit_id=TEAM)

_ROLE = UNIT_ROLE


def unit_actor(unit: UnitRef) -> Actor:
    return Actor(role=_ROLE[unit.kind], person_id=f"{unit.kind.value}-staff", unit_id=unit.id)


def reviewer_actor(unit: UnitRef) -> Actor:
    """A reviewer of the unit (审核签发): a member other than the handler."""
    return Actor(role=_ROLE[unit.kind], person_id=f"{unit.kind.value}-reviewer", unit_id=unit.id)


def dept_actor(dept: str, kind: UnitKind = UnitKind.DEPARTMENT) -> Actor:
    """A member of a unit a whistle summoned (a department, or a property company)."""
    return Actor(role=_ROLE[kind], person_id=f"{dept}-staff", unit_id=dept)


def open_commands(case_id: str = "T1") -> list[c.Command]:
    base = dict(
        case_id=case_id,
        category="noise",
        urgency=Urgency.ORDINARY,
        title="噪音扰民",
        description="夜间施工噪音",
        location=LOCATION,
    )
    return [
        c.OpenCase(
            actor=DISPATCHER,
            channel=Channel.HOTLINE,
            contact=ResidentContact(name="张三", phone="13812345678"),
            idempotency_key="k-1",
            **base,
        ),
        c.OpenCase(actor=GRID_WORKER, channel=Channel.GRID_PATROL, **base),
        c.OpenCase(actor=GRID_WORKER, channel=Channel.GRID_PATROL, self_handle=True, **base),
    ]


def candidate_commands(s: CaseState) -> list[c.Command]:
    """One plausible command per action, with the actor who would normally do it."""
    if s.status == CaseStatus.NEW:
        return open_commands(s.case_id or "T1")
    unit = s.unit or UnitRef(kind=UnitKind.STREET, id=LOCATION.street_id)
    ua = unit_actor(unit) if unit.kind in _ROLE else DISPATCHER
    if s.handler_id is not None and unit.kind in _ROLE:  # the member handling it acts for the unit
        ua = ua.model_copy(update={"person_id": s.handler_id})
    other = (
        UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
        if unit.kind != UnitKind.DEPARTMENT or unit.id != "housing"
        else UnitRef(kind=UnitKind.STREET, id="S-1")
    )
    cmds: list[c.Command] = [
        c.RejectCase(actor=DISPATCHER, reason="not a valid complaint"),
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.STREET, id="S-1")),
        c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.DEPARTMENT, id="environment")),
        c.AcceptCase(actor=ua),
        c.ReturnCase(actor=ua, reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="not ours"),
        c.ReviewReturn(
            actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="send to the other unit", redispatch_to=other
        ),
        c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.INSIST, ruling="yours to handle"),
        c.AssignCase(actor=ua, handler=c.Member(person_id="member-2", unit=unit, name="承办人")),
        c.ReassignCase(actor=ua, handler=c.Member(person_id="member-3", unit=unit), reason="workload"),
        c.TakeCase(actor=ua),
        c.ContactResident(actor=ua),
        c.SubmitReply(actor=ua, notes="fixed, for sign-off"),
        c.ApproveReply(actor=reviewer_actor(unit) if unit.kind in _ROLE else DISPATCHER, note="signed off"),
        c.SendBack(actor=reviewer_actor(unit) if unit.kind in _ROLE else DISPATCHER, reason="photos missing"),
        c.InterimReply(actor=ua, text="parts ordered, work starts Monday"),
        c.Reclassify(
            actor=DISPATCHER,
            category="illegal-construction" if s.category != "illegal-construction" else "noise",
            reason="wrong category at intake",
        ),
        c.SetUrgency(
            actor=DISPATCHER,
            urgency=Urgency.URGENT if s.urgency == Urgency.ORDINARY else Urgency.ORDINARY,
            reason="the caller says children are at risk",
        ),
        c.Relocate(actor=DISPATCHER, location=OTHER_GRID if s.location == LOCATION else LOCATION, reason="wrong grid"),
        c.BlowWhistle(
            actor=unit_actor(UnitRef(kind=UnitKind.STREET, id="S-1")),
            tasks=[WhistleTask(department_id=d, task="joint handling") for d in DEPARTMENTS[:2]],
        ),
        c.BlowWhistle(
            actor=unit_actor(UnitRef(kind=UnitKind.STREET, id="S-1")),
            tasks=[
                c.WhistleTaskInput(department_id=DEPARTMENTS[0], task="joint handling"),
                c.WhistleTaskInput(department_id=PROPERTY.id, task="open the yard", unit_kind=UnitKind.PROPERTY),
            ],
        ),
        c.DelegateCase(actor=unit_actor(UnitRef(kind=UnitKind.STREET, id="S-1")), unit=PROPERTY, note="物业处置"),
        c.DelegateCase(actor=COMMUNITY, unit=PROPERTY),
        c.CallVolunteers(actor=GRID_WORKER, team_id=TEAM, task="help clear the stairwell"),
        c.ReportVolunteerHelp(actor=VOLUNTEER, result="stairwell cleared"),
        c.ReleaseVolunteers(actor=GRID_WORKER, reason="no longer needed"),
        c.ResolveCase(actor=ua, notes="fixed"),
        c.VerifyCase(actor=GRID_WORKER, passed=True),
        c.VerifyCase(actor=GRID_WORKER, passed=False, note="still noisy"),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.UNSATISFIED, resolved=False),
        c.CloseCase(actor=DISPATCHER),
        c.CloseCase(actor=DISPATCHER, closure_type=ClosureType.ERROR),
        c.RequestExtension(actor=ua, extra=timedelta(days=3), reason="parts on order"),
        c.DecideExtension(actor=DISPATCHER, approved=True),
        c.DecideExtension(actor=DISPATCHER, approved=False),
        c.PauseForResident(actor=ua, reason="waiting for access"),
        c.ResumeFromResident(actor=ua),
        c.ShelveCase(actor=DISPATCHER, reason="needs budget"),
        c.UnshelveCase(actor=DISPATCHER),
        c.TerminateCase(actor=DISPATCHER, reason="claim unreasonable"),
        c.FileAppeal(actor=ua, reason="not our fault"),
        c.DecideAppeal(actor=SUPERVISOR, granted=True),
        c.MergeInto(actor=DISPATCHER, into_case_id="T0"),
        c.AttachDuplicate(actor=DISPATCHER, duplicate_case_id=f"D{s.seq}"),
        c.Supervise(actor=SUPERVISOR, level=EscalationLevel.SUPERVISION, note="hurry up"),
    ]
    w = s.open_whistle
    if w is not None:
        for dept, task in w.tasks.items():
            if task.reported_in_at is None:
                cmds.append(c.ReportIn(actor=dept_actor(dept, task.unit_kind)))
            elif task.completed_at is None:
                cmds.append(c.CompleteTask(actor=dept_actor(dept, task.unit_kind), result="done"))
    return cmds


def _signature(s: CaseState) -> tuple[object, ...]:
    return (
        s.status,
        s.channel,
        s.accepted,
        s.contacted_at is not None,
        s.open_whistle is not None,
        len(s.whistles) > 0,
        s.final_ruling,
        s.pending_extension is not None,
        s.appeal_pending,
        any(clk.paused_at is not None for clk in s.running_clocks()),
        s.shelved_from,
        s.unit.kind if s.unit else None,
        s.handler_id is not None,
        s.pending_reply is not None,
        s.running_clock(ClockKind.INTERIM_REPLY) is not None,
        s.sent_back_count > 0,
        s.delegated_by is not None,
        s.open_volunteer_call is not None,
    )


def walk(
    sla: SlaContext, start: datetime, max_states: int = 5000
) -> Iterator[tuple[CaseState, datetime, c.Command, CaseState]]:
    """Breadth-first over the lifecycle from a new case: every accepted (state, now, command, next state).

    States are told apart by :func:`_signature`; each new one is explored ten minutes later.
    """
    seen: set[tuple[object, ...]] = set()
    queue: deque[tuple[CaseState, datetime]] = deque([(CaseState(case_id="T1", sla=sla), start)])
    while queue and len(seen) < max_states:
        state, now = queue.popleft()
        # the alarms due by now once, not once per candidate (decide on the caught-up state decides the same)
        current = catch_up(state, now)
        for cmd in candidate_commands(state):
            try:
                events = decide(current, cmd, now)  # type: ignore[arg-type]  # every candidate is a CaseCommand
            except DomainError:
                continue
            nxt = evolve_all(current, events)
            yield state, now, cmd, nxt
            sig = _signature(nxt)
            if sig not in seen:
                seen.add(sig)
                queue.append((nxt, now + timedelta(minutes=10)))


def reachable_states(sla: SlaContext, start: datetime, max_states: int = 5000) -> list[tuple[CaseState, datetime]]:
    """One state per signature the walk reaches (the new case first), with the time it was reached."""
    found: dict[tuple[object, ...], tuple[CaseState, datetime]] = {}
    first = CaseState(case_id="T1", sla=sla)
    found[_signature(first)] = (first, start)
    for _, now, _, nxt in walk(sla, start, max_states):
        found.setdefault(_signature(nxt), (nxt, now + timedelta(minutes=10)))
    return list(found.values())


def transitions(sla: SlaContext, start: datetime, max_states: int = 5000) -> set[tuple[str, str, str]]:
    """Every (status before, command, status after) reachable from a new case."""
    return {
        (state.status.value, str(command_name(cmd)), nxt.status.value)
        for state, _, cmd, nxt in walk(sla, start, max_states)
    }


def render(found: set[tuple[str, str, str]]) -> str:
    """The lifecycle document: a transition table and a mermaid state diagram."""
    order = [s.value for s in CaseStatus]
    rows = sorted(found, key=lambda t: (order.index(t[0]), t[1], order.index(t[2])))
    lines = [
        "# Case lifecycle",
        "",
        "Generated from the domain code by `python -m workflows.domain.explore > docs/lifecycle.md`;",
        "`tests/unit/test_lifecycle_doc.py` fails when this file and the code disagree.",
        "Self-transitions (actions that keep the status, such as contact, whistle, report-in,",
        "extension, pause, appeal or a manual escalation) are listed in the table only.",
        "",
        "```mermaid",
        "stateDiagram-v2",
        "    [*] --> new",
    ]
    edges: dict[tuple[str, str], list[str]] = {}
    for before, cmd, after in rows:
        if before != after:
            edges.setdefault((before, after), []).append(cmd)
    for (before, after), cmds in sorted(edges.items(), key=lambda kv: (order.index(kv[0][0]), order.index(kv[0][1]))):
        lines.append(f"    {before} --> {after}: {', '.join(sorted(set(cmds)))}")
    lines += [
        "    rejected --> [*]",
        "    closed --> [*]",
        "    merged --> [*]",
        "```",
        "",
        "| status before | command | status after |",
        "|---|---|---|",
    ]
    lines += [f"| {b} | `{cmd}` | {a} |" for b, cmd, a in rows]
    return "\n".join(lines) + "\n"


def default_context() -> SlaContext:
    """The built-in policy on the statutory calendar (outside the workflow only)."""
    from workflows.sla.calendar import build_calendar
    from workflows.sla.policy import default_policy

    return SlaContext(
        policy=default_policy(),
        calendar=build_calendar([2026]),
        properties={PROPERTY.id: (LOCATION.community_id,)},
        volunteer_teams={TEAM: (LOCATION.community_id,)},
    )


DOC_START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")

if __name__ == "__main__":
    print(render(transitions(default_context(), DOC_START)), end="")
