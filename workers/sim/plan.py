"""Pure, seeded planning of simulated cases: who complains, about what, and what every actor does when.

A :class:`Scenario` is what was drawn for one complaint (channel, category, place, and each actor's
behaviour); :func:`compile_plan` turns it into a :class:`CasePlan`: the domain commands to send, each
at a time in *policy hours* after the complaint arrives. Slow actors are late by exactly enough to
reach a given rung of the SLA policy's escalation ladder (催办, 督办, 通报), so the plan knows which
rungs it should see. The work inside the unit follows the policy too: a unit whose replies need a
reviewer's sign-off (审核签发) submits them for review and another member approves (or first sends
them back); a case that owes the resident interim replies (阶段性答复) gets one before each interim
deadline, or misses one on purpose. The hotline's corrections (改类, 加急, 改址) are planned where they
show what they do: a reclassification that changes the resolution rule, an urgency raised, a move
inside the street or one that recalls the case from its grid or street. :func:`coverage_tour` gives
one scenario down every path, side path and rung; :func:`draw_scenario` draws the rest from
:class:`~workers.sim.config.SimConfig`. Nothing here does I/O or reads the clock: the same seed
always gives the same plans.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    ClockKind,
    EscalationLevel,
    Location,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    WhistleTask,
)
from workers.sim.city import SimCategory, SimCity
from workers.sim.config import Lateness, SimConfig
from workflows.domain import commands as c
from workflows.domain.state import UNIT_ROLE
from workflows.sla.policy import SlaPolicy

HOUR = timedelta(hours=1)
DISPATCHER = Actor(role=Role.DISPATCHER, person_id="hotline-op")

PATHS = ("self_handled", "grid", "street", "street_whistle", "department", "rejected", "merged", "terminated")
"""Every path a case can take to its end, as the tally counts them."""

FEATURES = (
    "returned_redispatched",
    "returned_insisted",
    "accept_late",
    "dept_late_report",
    "resolve_late",
    "paused",
    "extension_approved",
    "extension_refused",
    "shelved",
    "appeal_granted",
    "appeal_denied",
    "supervised",
    "rework",
    "reopened",
    "basic_satisfied",
    "patrol_dispatched",
    "resident_app",
    "assigned",
    "taken",
    "reassigned",
    "reply_approved",
    "reply_sent_back",
    "interim_replied",
    "interim_late",
    "reclassified",
    "urgency_raised",
    "relocated",
    "relocated_recalled",
    "delegated_to_property",
    "property_returned",
    "property_summoned",
    "volunteers_called",
    "volunteers_released",
)
"""Side paths a case may take on its way (several per case). ``reply_approved`` to ``relocated_recalled`` are planned by
:func:`compile_plan` under the policy (see :attr:`CasePlan.features`): ``reply_approved`` a reply
signed off by a reviewer of the unit, ``reply_sent_back`` one sent back first, ``interim_replied`` an
interim reply before its deadline, ``interim_late`` one after it, ``reclassified`` a category
corrected (its resolution rule differs), ``urgency_raised`` made urgent, ``relocated`` moved to
another grid of the handling street (or of a department's case), ``relocated_recalled`` moved away
from the handling grid or street, which recalls the case for a new dispatch. The last five are planned
where the city has the unit for the case's community: ``delegated_to_property`` a street passes its
case down to a property company (下派物业), ``property_returned`` the company returns it to the street
(which handles it itself), ``property_summoned`` a street's whistle summons a property company with its
departments, ``volunteers_called`` the grid calls a volunteer team in and the team reports its help,
``volunteers_released`` the grid ends the call without a report."""

TOUR_SPACING = 0.5
"""Wall-clock seconds between two cases of the coverage tour."""

RUNGS = (EscalationLevel.REMINDER, EscalationLevel.SUPERVISION, EscalationLevel.PUBLIC_NOTICE)

Outcome = str  # "closed" | "rejected" | "merged" | "terminated"


@dataclass(frozen=True)
class Scenario:
    """Everything drawn for one complaint. Lateness levels: 0 on time, 1 催办, 2 督办, 3 通报."""

    channel: str  # hotline | web | app | patrol
    category: SimCategory
    urgency: Urgency
    location: Location
    target: UnitRef | None  # where the hotline dispatches it; None: the grid handles it on the spot
    outcome: Outcome = "closed"
    into_case_id: str | None = None  # merged: the case it duplicates
    return_decision: ReviewDecision | None = None
    return_to: UnitRef | None = None  # re-dispatch target
    accept_level: int = 0
    whistle: tuple[str, ...] = ()
    report_levels: tuple[int, ...] = ()
    resolve_level: int = 0
    pause: bool = False
    extension: bool | None = None  # requested: approved or not
    shelve: bool = False
    appeal: bool | None = None  # filed: granted or not
    supervise: bool = False
    verify_fail: bool = False
    rating: Rating = Rating.SATISFIED
    assign: str | None = None  # inside the unit: "assigned" | "taken" | "reassigned" (分派 / 认领 / 改派)
    send_back: bool = False  # the reviewer sends the first reply back (退回重办), when the unit has review
    interim_late: bool = False  # the first interim reply comes after its deadline, when the case owes them
    reclassify: bool = False  # the hotline corrects the category, if one with another resolution rule fits
    raise_urgency: bool = False  # the hotline makes an ordinary case urgent (加急)
    relocate: str | None = None  # 改址 after acceptance: "near" another grid of the street, "far" another street
    delegate: str | None = None  # 下派物业 by the street: "handled" by the company, or "returned" to the street
    whistle_property: bool = False  # the whistle also summons a property company serving the community
    volunteers: str | None = None  # the handling grid calls a volunteer team: "reported" or "released"

    @property
    def has_resident(self) -> bool:
        return self.channel != "patrol"

    @property
    def path(self) -> str:
        if self.outcome != "closed":
            return self.outcome
        if self.target is None:
            return "self_handled"
        unit = self.return_to if self.return_decision == ReviewDecision.REDISPATCH and self.return_to else self.target
        if unit.kind == UnitKind.STREET:
            return "street_whistle" if self.whistle else "street"
        return unit.kind.value

    @property
    def features(self) -> frozenset[str]:
        """The side paths the scenario itself decides (the policy's ones are the plan's)."""
        f: set[str] = set()
        if self.return_decision == ReviewDecision.REDISPATCH:
            f.add("returned_redispatched")
        elif self.return_decision is not None:
            f.add("returned_insisted")
        if self.accept_level:
            f.add("accept_late")
        if any(self.report_levels):
            f.add("dept_late_report")
        if self.resolve_level:
            f.add("resolve_late")
        if self.pause:
            f.add("paused")
        if self.extension is not None:
            f.add("extension_approved" if self.extension else "extension_refused")
        if self.shelve:
            f.add("shelved")
        if self.appeal is not None:
            f.add("appeal_granted" if self.appeal else "appeal_denied")
        if self.supervise:
            f.add("supervised")
        if self.verify_fail:
            f.add("rework")
        if self.rating == Rating.UNSATISFIED:
            f.add("reopened")
        if self.rating == Rating.BASICALLY_SATISFIED:
            f.add("basic_satisfied")
        if self.channel == "patrol" and self.target is not None:
            f.add("patrol_dispatched")
        if self.channel == "app":
            f.add("resident_app")
        if self.assign is not None:
            f.add(self.assign)
        return frozenset(f)

    @property
    def planned_rungs(self) -> frozenset[EscalationLevel]:
        """The automatic rungs this case's slow actors reach (at least these are raised)."""
        levels = {self.accept_level, self.resolve_level, *self.report_levels}
        return frozenset(RUNGS[i - 1] for i in levels if i > 0)


@dataclass(frozen=True)
class Step:
    """One command, ``at`` policy hours after the complaint arrived."""

    at: float
    command: c.Command
    label: str


@dataclass(frozen=True)
class CasePlan:
    """One simulated case: when it arrives, how it is opened, and every later step in order."""

    case_id: str
    arrival: float  # wall-clock seconds after the stream started
    scenario: Scenario
    open: c.OpenCase
    steps: list[Step] = field(default_factory=list)
    planned: frozenset[str] = frozenset()  # side paths the compiled steps take under the policy

    @property
    def path(self) -> str:
        return self.scenario.path

    @property
    def features(self) -> frozenset[str]:
        """Every side path of the case: the scenario's and those its steps take under the policy."""
        return self.scenario.features | self.planned

    @property
    def duration(self) -> float:
        """Policy hours from arrival to the last step."""
        return self.steps[-1].at if self.steps else 0.0


# --- actors -------------------------------------------------------------------------------------

_ROLE = UNIT_ROLE


def actor_for(unit: UnitRef, person: str | None = None) -> Actor:
    """Someone acting for ``unit`` (a grid worker, a street officer, department staff)."""
    return Actor(role=_ROLE[unit.kind], person_id=person or f"{unit.kind.value}-{unit.id}-staff", unit_id=unit.id)


def grid_worker(city: SimCity, grid_id: str, rng: random.Random) -> Actor:
    staff = city.grid_workers.get(grid_id)
    person = rng.choice(staff) if staff else None
    return actor_for(UnitRef(kind=UnitKind.GRID, id=grid_id), person)


def supervisor(location: Location) -> Actor:
    return Actor(role=Role.SUPERVISOR, person_id=f"supervisor-{location.district_id}", unit_id=location.district_id)


# --- time ---------------------------------------------------------------------------------------


def _hours(d: timedelta) -> float:
    return d / HOUR


def on_time(policy: SlaPolicy, kind: ClockKind, sc: Scenario, rng: random.Random) -> float:
    """A delay well within the clock's budget (10–45 % of it), in policy hours."""
    rule = policy.rule_for(kind, sc.category.code, sc.urgency)
    return rng.uniform(0.1, 0.45) * _hours(rule.duration)


def late_by_level(policy: SlaPolicy, kind: ClockKind, sc: Scenario, level: int, rng: random.Random) -> float:
    """A delay that reaches rung ``level`` of the clock's ladder (1 = 催办) but not the next one.

    Level 0 is on time. Levels beyond the ladder's length are capped at its last rung.
    """
    if level <= 0:
        return on_time(policy, kind, sc, rng)
    rule = policy.rule_for(kind, sc.category.code, sc.urgency)
    ladder = rule.ladder
    if not ladder:
        return _hours(rule.duration) + rng.uniform(0.2, 1.0)
    k = min(level, len(ladder)) - 1
    here = _hours(ladder[k].delay)
    nxt = _hours(ladder[k + 1].delay) if k + 1 < len(ladder) else here + 4.0
    gap = max(nxt - here, 0.5)
    margin = min(0.15 * gap, 0.3)
    overshoot = here + margin + rng.uniform(0.0, min(0.4 * gap, 2.5))
    return _hours(rule.duration) + overshoot


def draw_level(late: Lateness, rng: random.Random) -> int:
    x = rng.random()
    if x < late.public_notice:
        return 3
    if x < late.public_notice + late.supervision:
        return 2
    if x < late.public_notice + late.supervision + late.reminder:
        return 1
    return 0


# --- compile a scenario into commands -----------------------------------------------------------


_TEXTS = (
    "反映{name}问题，希望尽快处理",
    "{place}附近{name}，已持续多日",
    "{place}{name}，影响居民生活",
    "市民来电：{place}{name}",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_INTERIM_TEXTS = (
    "已完成现场勘查，正在协调相关单位",
    "相关手续正在办理中，预计近期办结",
    "已约谈责任方，整改方案正在制定",
)

INTERIM_WINDOW = (0.35, 0.7)
"""An on-time interim reply comes between these shares of its period: well before the deadline, so
a slow stack never makes it late."""


class _Interim:
    """The interim-reply clock (阶段性答复) as the plan expects the case to run it, in policy hours.

    The domain starts one with every resolution clock of a case that owes interim replies (its
    category and urgency, by the policy), pauses it with the resolution clock, starts the next
    period at each reply, and drops it with the resolution clock or when a correction means the
    case owes none.
    """

    def __init__(self, policy: SlaPolicy, sc: Scenario, rng: random.Random) -> None:
        self.policy = policy
        self.sc = sc
        self.rng = rng
        self.miss = sc.interim_late  # one deadline is still to be missed
        self.late_after: float | None = None  # when the missed reply comes, into its period
        self.resolving = False
        self.resolve_start = 0.0
        self.start = 0.0
        self.paused = 0.0
        self.paused_at: float | None = None
        self.on_time = 0
        self.late = 0

    @property
    def running(self) -> bool:
        code, urgency = self.sc.category.code, self.sc.urgency
        return (
            self.resolving
            and self.policy.has_clock(ClockKind.INTERIM_REPLY)
            and self.policy.interim_needed(code, urgency)
        )

    @property
    def period(self) -> float:
        return _hours(self.policy.rule_for(ClockKind.INTERIM_REPLY, self.sc.category.code, self.sc.urgency).duration)

    @property
    def period_start(self) -> float:
        """When the current period began, pauses added (its deadline is this plus the period)."""
        return self.start + self.paused

    def _begin(self, at: float) -> None:
        self.start, self.paused, self.paused_at = at, 0.0, None
        if self.miss and self.running and self.late_after is None:
            self.late_after = late_by_level(self.policy, ClockKind.INTERIM_REPLY, self.sc, 1, self.rng)

    def resolve_started(self, at: float) -> None:
        self.resolving, self.resolve_start = True, at
        self._begin(at)

    def resolve_stopped(self) -> None:
        self.resolving, self.paused_at = False, None

    def corrected(self, sc: Scenario, at: float) -> None:
        """The category or urgency changed: the clock starts, restarts on a new period, or stops."""
        was, period = self.running, self.period
        self.sc = sc
        if self.running and (not was or self.period != period):
            self._begin(at)

    def pause(self, at: float) -> None:
        if self.running:
            self.paused_at = at

    def resume(self, at: float) -> None:
        if self.paused_at is not None:
            self.paused += at - self.paused_at
            self.paused_at = None

    def replied(self, at: float, late: bool) -> None:
        if late:
            self.late += 1
            self.miss, self.late_after = False, None
        else:
            self.on_time += 1
        self._begin(at)


class _Plan:
    def __init__(self, policy: SlaPolicy, sc: Scenario, rng: random.Random) -> None:
        self.t = 0.0
        self.steps: list[Step] = []
        self.rng = rng
        self.features: set[str] = set()
        self.interim = _Interim(policy, sc, rng)
        self.replier: Actor | None = None  # who gives the interim replies: the handler

    def after(self, hours: float, command: c.Command, label: str) -> None:
        """``command`` ``hours`` after the previous step, with the interim replies due before it."""
        at = self.t + max(hours, 0.0)
        self._interim_replies_before(at)
        self._add(at, command, label)

    def _add(self, at: float, command: c.Command, label: str) -> None:
        self.t = at
        self.steps.append(Step(at=round(at, 6), command=command, label=label))

    def _interim_replies_before(self, at: float) -> None:
        k = self.interim
        while k.running and k.paused_at is None and self.replier is not None:
            due = k.period_start + k.period
            if k.late_after is not None:  # this deadline is missed: the reply comes past it
                when = k.period_start + k.late_after
                if at <= when:
                    return
                when = max(self.t, when)
            else:
                lo, hi = (k.period_start + share * k.period for share in INTERIM_WINDOW)
                if at <= hi:
                    return
                lo = max(self.t, lo)
                when = self.rng.uniform(lo, hi) if hi > lo else lo
            late = when > due
            text = _INTERIM_TEXTS[(k.on_time + k.late) % len(_INTERIM_TEXTS)]
            self._add(
                when, c.InterimReply(actor=self.replier, text=text), "interim reply (late)" if late else "interim reply"
            )
            k.replied(when, late)

    def done(self, case_id: str, arrival: float, sc: Scenario, opening: c.OpenCase) -> CasePlan:
        if self.interim.on_time:
            self.features.add("interim_replied")
        if self.interim.late:
            self.features.add("interim_late")
        return CasePlan(case_id, arrival, sc, opening, self.steps, frozenset(self.features))


def member_of(unit: UnitRef, n: int) -> c.Member:
    """The ``n``-th member of ``unit`` (the simulated unit's staff), with a name."""
    return c.Member(
        person_id=f"{unit.kind.value}-{unit.id}-m{n}", unit=unit, name=f"{_SURNAMES[n % len(_SURNAMES)]}承办"
    )


def reviewer_of(unit: UnitRef) -> Actor:
    """The member of ``unit`` who signs its replies off (审核签发): never one of its handlers."""
    return actor_for(unit, f"{unit.kind.value}-{unit.id}-reviewer").model_copy(update={"name": "审核人"})


def _assign_inside(p: _Plan, sc: Scenario, unit: UnitRef, rng: random.Random) -> Actor:
    """The steps that put the case with a member (分派, 认领 or 分派 then 改派); the member who handles it."""
    coordinator = actor_for(unit)
    first, second = member_of(unit, 1), member_of(unit, 2)
    if sc.assign == "taken":
        taker = actor_for(unit, first.person_id).model_copy(update={"name": first.name})
        p.after(rng.uniform(0.05, 0.3), c.TakeCase(actor=taker, note="本人承办"), "take")
        p.replier = taker
        return taker
    p.after(rng.uniform(0.05, 0.3), c.AssignCase(actor=coordinator, handler=first, note="请承办"), "assign")
    p.replier = actor_for(unit, first.person_id)
    if sc.assign != "reassigned":
        return p.replier
    p.after(rng.uniform(0.1, 0.5), c.ReassignCase(actor=coordinator, handler=second, reason="原承办人外出"), "reassign")
    p.replier = actor_for(unit, second.person_id)
    return p.replier


def _review_delay(policy: SlaPolicy, sc: Scenario, rng: random.Random) -> float:
    if policy.has_clock(ClockKind.REPLY_REVIEW):
        return on_time(policy, ClockKind.REPLY_REVIEW, sc, rng)
    return rng.uniform(0.1, 1.0)


def _reply(
    p: _Plan,
    policy: SlaPolicy,
    sc: Scenario,
    unit: UnitRef,
    handler: Actor,
    notes: str,
    work: float,
    rng: random.Random,
    *,
    send_back: bool = False,
    again: bool = False,
) -> None:
    """The handler's reply, ``work`` hours from now: it resolves the case (办结) directly, or, for a
    unit whose replies the policy has reviewed, it is submitted (报审) and another member of the unit
    approves it (签发), after sending it back once (退回重办) when ``send_back``."""
    suffix = " again" if again else ""
    if policy.review_rule(unit.kind) is None:
        p.after(work, c.ResolveCase(actor=handler, notes=notes), f"resolve{suffix}")
    else:
        reviewer = reviewer_of(unit)
        review = _review_delay(policy, sc, rng)
        if send_back:
            back, redo = _review_delay(policy, sc, rng), rng.uniform(0.5, 3.0)
            first = max(work - back - redo - review, 0.05)
            p.after(first, c.SubmitReply(actor=handler, notes=notes), f"submit reply{suffix}")
            p.after(back, c.SendBack(actor=reviewer, reason="办理依据不足，请补充现场材料"), "send back")
            p.after(redo, c.SubmitReply(actor=handler, notes=f"{notes}，已补充现场材料"), "submit reply again")
            p.features.add("reply_sent_back")
        else:
            p.after(max(work - review, 0.05), c.SubmitReply(actor=handler, notes=notes), f"submit reply{suffix}")
        p.after(review, c.ApproveReply(actor=reviewer, note="同意办结"), f"approve reply{suffix}")
        p.features.add("reply_approved")
    p.interim.resolve_stopped()


def reclassify_options(city: SimCity, policy: SlaPolicy, sc: Scenario) -> list[SimCategory]:
    """Categories the hotline may correct ``sc``'s into: the resolution rule differs (so the running
    clock is recomputed) and gives at least as much time (so the correction makes nobody late).
    Those that owe interim replies exactly when ``sc``'s category does come first, if any."""
    rule = policy.rule_for(ClockKind.RESOLVE, sc.category.code, sc.urgency)
    need = policy.interim_needed(sc.category.code, sc.urgency)
    fits = []
    for cat in city.categories:
        other = policy.rule_for(ClockKind.RESOLVE, cat.code, sc.urgency)
        if cat.code != sc.category.code and other != rule and other.duration >= rule.duration:
            fits.append(cat)
    alike = [cat for cat in fits if policy.interim_needed(cat.code, sc.urgency) == need]
    return alike or fits


def _relocation(city: SimCity, loc: Location, how: str, rng: random.Random) -> Location | None:
    """A place in another grid: of the same street (``near``) or of another street (``far``)."""
    near = [g for g in city.grids if g.street_id == loc.street_id and g.grid_id != loc.grid_id]
    far = [g for g in city.grids if g.street_id != loc.street_id]
    pool = (near or far) if how == "near" else (far or near)
    return city.locate(rng.choice(pool), rng) if pool else None


def _relocate(
    p: _Plan, sc: Scenario, unit: UnitRef, loc: Location, city: SimCity, policy: SlaPolicy, rng: random.Random
) -> tuple[UnitRef, Location]:
    """改址: the hotline corrects the place. A grid or street that no longer covers it loses the case,
    which the hotline dispatches to the place's own grid or street. The unit and place afterwards."""
    assert sc.relocate is not None
    new = _relocation(city, loc, sc.relocate, rng)
    if new is None:
        return unit, loc
    territory = {UnitKind.GRID: new.grid_id, UnitKind.STREET: new.street_id}.get(unit.kind)
    p.after(rng.uniform(0.05, 0.3), c.Relocate(actor=DISPATCHER, location=new, reason="诉求人更正事发地点"), "relocate")
    if territory is None or territory == unit.id:
        p.features.add("relocated")
        return unit, new
    p.features.add("relocated_recalled")
    p.interim.resolve_stopped()  # recalled: every clock of the case is cancelled
    moved = UnitRef(kind=unit.kind, id=territory)
    p.after(rng.uniform(0.05, 0.3), c.DispatchCase(actor=DISPATCHER, unit=moved), "dispatch to the new place")
    p.after(on_time(policy, ClockKind.ACCEPT, sc, rng), c.AcceptCase(actor=actor_for(moved)), "accept")
    p.interim.resolve_started(p.t)
    return moved, new


def _delegate(
    p: _Plan,
    policy: SlaPolicy,
    sc: Scenario,
    eff: Scenario,
    unit: UnitRef,
    handler: Actor,
    loc: Location,
    city: SimCity,
    rng: random.Random,
) -> tuple[UnitRef, Actor]:
    """下派物业: the street passes the case down to a property company serving its community; the company
    accepts and handles it, or returns it and the street handles it itself. The unit and the actor
    who handle the case afterwards (unchanged when no company serves the community)."""
    company = city.company_for(loc.community_id)
    if company is None:
        return unit, handler
    pc = UnitRef(kind=UnitKind.PROPERTY, id=company)
    note = "楼道及公共区域属物业服务范围"
    p.after(rng.uniform(0.1, 0.5), c.DelegateCase(actor=actor_for(unit), unit=pc, note=note), "delegate")
    p.features.add("delegated_to_property")
    if sc.delegate == "returned":
        p.after(
            on_time(policy, ClockKind.ACCEPT, eff, rng),
            c.ReturnCase(
                actor=actor_for(pc), reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="该区域不在物业服务合同内"
            ),
            "property returns",
        )
        p.features.add("property_returned")
        return unit, handler  # back with the street, which handles it itself
    p.after(on_time(policy, ClockKind.ACCEPT, eff, rng), c.AcceptCase(actor=actor_for(pc)), "property accepts")
    p.replier = actor_for(pc)
    return pc, p.replier


def _volunteers(
    p: _Plan, sc: Scenario, eff: Scenario, handler: Actor, loc: Location, city: SimCity, rng: random.Random
) -> None:
    """The handling grid calls the community's volunteer team in; the team reports its help, or the grid
    ends the call without a report. Nothing when no team serves the community."""
    team = city.team_for(loc.community_id)
    if team is None:
        return
    task = f"协助处置{eff.category.name_zh}"
    p.after(rng.uniform(0.1, 0.4), c.CallVolunteers(actor=handler, team_id=team, task=task), "call volunteers")
    if sc.volunteers == "released":
        p.after(
            rng.uniform(0.2, 1.0), c.ReleaseVolunteers(actor=handler, reason="已由网格员处置完毕"), "release volunteers"
        )
        p.features.add("volunteers_released")
        return
    volunteer = actor_for(UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id=team))
    p.after(
        rng.uniform(0.3, 1.5), c.ReportVolunteerHelp(actor=volunteer, result="志愿者已协助完成"), "volunteers report"
    )
    p.features.add("volunteers_called")


def open_command(sc: Scenario, case_id: str, city: SimCity, rng: random.Random) -> c.OpenCase:
    """The intake command for the scenario's channel (hotline, web and app complaints carry a resident)."""
    loc = sc.location
    place = loc.address or loc.grid_id
    title = f"{place}{sc.category.name_zh}"[:200]
    description = rng.choice(_TEXTS).format(name=sc.category.name_zh, place=place)
    base = dict(
        case_id=case_id,
        category=sc.category.code,
        urgency=sc.urgency,
        title=title,
        description=description,
        location=loc,
        idempotency_key=f"sim-{case_id}",
    )
    if sc.channel == "patrol":
        actor = grid_worker(city, loc.grid_id, rng)
        return c.OpenCase(actor=actor, channel=Channel.GRID_PATROL, self_handle=sc.target is None, **base)
    name = rng.choice(_SURNAMES) + rng.choice("先生女士")
    phone = f"13{rng.randrange(10**9):09d}"
    if sc.channel == "app":
        resident = Actor(role=Role.RESIDENT, person_id=f"resident-{rng.randrange(10**8):08d}")
        contact = ResidentContact(resident_id=resident.person_id, name=name, phone=phone)
        return c.OpenCase(actor=resident, channel=Channel.WEB, contact=contact, **base)
    channel = Channel.HOTLINE if sc.channel == "hotline" else Channel.WEB
    return c.OpenCase(actor=DISPATCHER, channel=channel, contact=ResidentContact(name=name, phone=phone), **base)


def compile_plan(
    sc: Scenario, case_id: str, arrival: float, city: SimCity, policy: SlaPolicy, rng: random.Random
) -> CasePlan:
    """The commands that play ``sc`` out, each at its time in policy hours after arrival.

    ``policy`` is the SLA policy in policy time (uncompressed): late actors are timed on its budgets
    and ladder delays, and it says which units' replies are reviewed and which cases owe interim
    replies. Actors after a correction are timed on the corrected category and urgency.
    """
    opening = open_command(sc, case_id, city, rng)
    p = _Plan(policy, sc, rng)
    loc = sc.location
    if sc.outcome == "rejected":
        p.after(rng.uniform(0.1, 0.4), c.RejectCase(actor=DISPATCHER, reason="不属于受理范围"), "reject")
        return p.done(case_id, arrival, sc, opening)
    if sc.outcome == "merged":
        assert sc.into_case_id is not None
        p.after(rng.uniform(0.05, 0.3), c.MergeInto(actor=DISPATCHER, into_case_id=sc.into_case_id), "merge")
        return p.done(case_id, arrival, sc, opening)
    if sc.channel != "patrol":
        p.after(rng.uniform(0.05, 0.3), c.RegisterCase(actor=DISPATCHER), "register")
    grid = UnitRef(kind=UnitKind.GRID, id=loc.grid_id)
    unit = sc.target or grid
    if sc.target is not None:
        p.after(rng.uniform(0.05, 0.3), c.DispatchCase(actor=DISPATCHER, unit=sc.target), "dispatch")
        if sc.return_decision is not None:
            p.after(
                on_time(policy, ClockKind.ACCEPT, sc, rng),
                c.ReturnCase(
                    actor=actor_for(unit), reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="不属于本单位职责"
                ),
                "return",
            )
            if sc.return_decision == ReviewDecision.REDISPATCH:
                assert sc.return_to is not None
                review = c.ReviewReturn(
                    actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="改派", redispatch_to=sc.return_to
                )
                unit = sc.return_to
            else:
                review = c.ReviewReturn(actor=DISPATCHER, decision=sc.return_decision, ruling="属地管理，维持原派")
            p.after(on_time(policy, ClockKind.RETURN_REVIEW, sc, rng), review, "review return")
        p.after(
            late_by_level(policy, ClockKind.ACCEPT, sc, sc.accept_level, rng),
            c.AcceptCase(actor=actor_for(unit)),
            "accept",
        )
    p.interim.resolve_started(p.t)  # accepted, or handled on the spot since the report
    handler = p.replier = actor_for(unit)
    eff = sc  # the category and urgency as corrected so far: what later actors are timed on
    if sc.target is not None:
        if sc.relocate is not None:
            unit, loc = _relocate(p, sc, unit, loc, city, policy, rng)
            handler = p.replier = actor_for(unit)
        if sc.raise_urgency and eff.urgency == Urgency.ORDINARY:
            p.after(
                rng.uniform(0.05, 0.2),
                c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="诉求人反映情况紧急，加急办理"),
                "raise urgency",
            )
            eff = replace(eff, urgency=Urgency.URGENT)
            p.interim.corrected(eff, p.t)
            p.features.add("urgency_raised")
        if sc.assign is not None:  # inside the unit: a member handles it
            handler = _assign_inside(p, sc, unit, rng)
    if sc.delegate is not None and unit.kind == UnitKind.STREET and not p.interim.running:
        unit, handler = _delegate(p, policy, sc, eff, unit, handler, loc, city, rng)
    if sc.has_resident:
        p.after(
            on_time(policy, ClockKind.CONTACT, eff, rng),
            c.ContactResident(actor=handler, note="已联系诉求人"),
            "contact",
        )
    if sc.reclassify:
        options = reclassify_options(city, policy, eff)
        if options:
            target = rng.choice(options)
            p.after(
                rng.uniform(0.1, 0.5),
                c.Reclassify(actor=DISPATCHER, category=target.code, reason="受理时分类有误，予以更正"),
                "reclassify",
            )
            eff = replace(eff, category=target)
            p.interim.corrected(eff, p.t)
            p.features.add("reclassified")
    boss = supervisor(loc)
    if sc.appeal is not None:
        p.after(rng.uniform(0.1, 0.5), c.FileAppeal(actor=handler, reason="诉求超出职权范围"), "appeal")
        p.after(rng.uniform(0.2, 1.0), c.DecideAppeal(actor=boss, granted=sc.appeal), "decide appeal")
    if sc.supervise:
        p.after(
            rng.uniform(0.1, 0.5),
            c.Supervise(actor=boss, level=EscalationLevel.SUPERVISION, note="群众反映强烈，督办"),
            "supervise",
        )
    if sc.outcome == "terminated":
        p.after(rng.uniform(0.2, 1.0), c.TerminateCase(actor=DISPATCHER, reason="诉求人撤诉"), "terminate")
        p.interim.resolve_stopped()
        return p.done(case_id, arrival, sc, opening)
    if sc.shelve:
        p.after(rng.uniform(0.2, 1.0), c.ShelveCase(actor=DISPATCHER, reason="需纳入年度计划"), "shelve")
        p.interim.resolve_stopped()  # shelving cancels the clocks
        p.after(rng.uniform(1.0, 4.0), c.UnshelveCase(actor=DISPATCHER), "unshelve")
        p.interim.resolve_started(p.t)
    if sc.pause:
        p.after(rng.uniform(0.1, 0.5), c.PauseForResident(actor=handler, reason="等待诉求人提供材料"), "pause")
        p.interim.pause(p.t)
        p.after(rng.uniform(1.0, 4.0), c.ResumeFromResident(actor=handler), "resume")
        p.interim.resume(p.t)
    if sc.extension is not None:
        p.after(
            rng.uniform(0.1, 0.5),
            c.RequestExtension(actor=handler, extra=timedelta(days=1), reason="需协调施工"),
            "request extension",
        )
        p.after(rng.uniform(0.1, 0.6), c.DecideExtension(actor=DISPATCHER, approved=sc.extension), "decide extension")
    resolve_start = p.t
    if sc.whistle:
        street = actor_for(unit)
        tasks = [WhistleTask(department_id=d, task=f"协同处置{sc.category.name_zh}") for d in sc.whistle]
        summoned = [
            (UnitRef(kind=UnitKind.DEPARTMENT, id=d), level)
            for d, level in zip(sc.whistle, sc.report_levels, strict=True)
        ]
        company = city.company_for(loc.community_id) if sc.whistle_property else None
        if company is not None:  # 吹哨 to the community's property company too: it reports in on time
            tasks.append(WhistleTask(department_id=company, task="看护现场并配合处置", unit_kind=UnitKind.PROPERTY))
            summoned.append((UnitRef(kind=UnitKind.PROPERTY, id=company), 0))
            p.features.add("property_summoned")
        p.after(rng.uniform(0.2, 1.0), c.BlowWhistle(actor=street, tasks=tasks), "whistle")
        blown = p.t
        timed: list[tuple[float, c.Command, str]] = []
        for called, level in summoned:
            dept_actor = actor_for(called)
            reported = blown + late_by_level(policy, ClockKind.REPORT_IN, eff, level, rng)
            timed.append((reported, c.ReportIn(actor=dept_actor, note="已到场"), f"report in {called.id}"))
            timed.append(
                (
                    reported + rng.uniform(0.5, 4.0),
                    c.CompleteTask(actor=dept_actor, result="已处置"),
                    f"task done {called.id}",
                )
            )
        timed.sort(key=lambda x: x[0])
        for at, cmd, label in timed:
            p.after(at - p.t, cmd, label)
    if sc.volunteers is not None and unit.kind == UnitKind.GRID:
        _volunteers(p, sc, eff, handler, loc, city, rng)
    if sc.resolve_level:
        budget = late_by_level(policy, ClockKind.RESOLVE, eff, sc.resolve_level, rng)
        work = max(budget - (p.t - resolve_start), 0.1)
    elif sc.target is None:
        work = rng.uniform(0.3, 3.0)
    else:
        work = rng.uniform(1.0, 10.0)
    k = p.interim
    if k.running and not sc.resolve_level:  # a long case: handled for a period or two of interim replies
        if k.late_after is not None:  # past the reply it misses, and on into the next period
            end = k.period_start + k.late_after + rng.uniform(0.8, 1.2) * k.period
        else:
            end = k.resolve_start + rng.uniform(0.6, 2.4) * k.period
        work = max(work, end - p.t)
    _reply(p, policy, eff, unit, handler, "已处置完毕", work, rng, send_back=sc.send_back)
    checker = grid_worker(city, loc.grid_id, rng)
    if sc.verify_fail:
        p.after(
            on_time(policy, ClockKind.VERIFY, eff, rng),
            c.VerifyCase(actor=checker, passed=False, note="现场核查未整改到位"),
            "verify (failed)",
        )
        p.interim.resolve_started(p.t)  # rework: a new resolution clock
        _reply(p, policy, eff, unit, handler, "返工完成", rng.uniform(1.0, 4.0), rng, again=True)
    p.after(on_time(policy, ClockKind.VERIFY, eff, rng), c.VerifyCase(actor=checker, passed=True), "verify")
    if sc.has_resident:
        if sc.rating == Rating.UNSATISFIED:
            p.after(
                on_time(policy, ClockKind.CALLBACK, eff, rng),
                c.RecordCallback(actor=DISPATCHER, rating=Rating.UNSATISFIED, resolved=False, comment="问题仍未解决"),
                "callback (unsatisfied)",
            )
            p.interim.resolve_started(p.t)  # reopened: a new resolution clock
            _reply(p, policy, eff, unit, handler, "再次处置", rng.uniform(1.0, 5.0), rng, again=True)
            p.after(on_time(policy, ClockKind.VERIFY, eff, rng), c.VerifyCase(actor=checker, passed=True), "verify")
            p.after(
                on_time(policy, ClockKind.CALLBACK, eff, rng),
                c.RecordCallback(actor=DISPATCHER, rating=Rating.BASICALLY_SATISFIED),
                "callback",
            )
        else:
            p.after(
                on_time(policy, ClockKind.CALLBACK, eff, rng),
                c.RecordCallback(actor=DISPATCHER, rating=sc.rating),
                "callback",
            )
    p.after(rng.uniform(0.05, 0.3), c.CloseCase(actor=DISPATCHER), "close")
    return p.done(case_id, arrival, sc, opening)


# --- drawing scenarios --------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = [k for k, w in weights.items() if w > 0]
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _route(city: SimCity, cat: SimCategory, loc: Location) -> UnitRef:
    if cat.route == UnitKind.DEPARTMENT and cat.departments:
        return UnitRef(kind=UnitKind.DEPARTMENT, id=cat.departments[0])
    if cat.route == UnitKind.GRID:
        return UnitRef(kind=UnitKind.GRID, id=loc.grid_id)
    return UnitRef(kind=UnitKind.STREET, id=loc.street_id)


def _alternative(city: SimCity, cat: SimCategory, loc: Location, unit: UnitRef, rng: random.Random) -> UnitRef:
    """Where a returned case is re-dispatched: the street for a department, a department for a street."""
    if unit.kind != UnitKind.STREET:
        return UnitRef(kind=UnitKind.STREET, id=loc.street_id)
    depts = [d for d in cat.departments if d in city.departments] or city.departments
    return UnitRef(kind=UnitKind.DEPARTMENT, id=rng.choice(depts))


def _whistle_departments(city: SimCity, cat: SimCategory, rng: random.Random) -> tuple[str, ...]:
    depts = [d for d in cat.departments if d in city.departments]
    if not depts:
        depts = rng.sample(city.departments, k=min(len(city.departments), rng.randint(1, 2)))
    return tuple(depts)


def draw_scenario(cfg: SimConfig, city: SimCity, rng: random.Random, recent: list[str]) -> Scenario:
    """One complaint and its actors' behaviour, drawn from ``cfg``. ``recent``: open cases a duplicate may hit."""
    b = cfg.behaviour
    channel = _weighted(rng, cfg.channels)
    weights = cfg.categories or {cat.code: cat.weight for cat in city.categories}
    code = _weighted(rng, {k: w for k, w in weights.items() if any(cat.code == k for cat in city.categories)})
    cat = city.category(code)
    urgency = cat.default_urgency
    if urgency == Urgency.ORDINARY and rng.random() < cfg.urgent_share:
        urgency = Urgency.URGENT
    loc = city.draw_location(rng)
    sc = Scenario(channel=channel, category=cat, urgency=urgency, location=loc, target=_route(city, cat, loc))
    if channel == "patrol":
        if rng.random() < b.grid_self_handle:
            sc = replace(sc, target=None)
    else:
        x = rng.random()
        if x < b.reject:
            return replace(sc, outcome="rejected")
        if x < b.reject + b.duplicate and recent:
            return replace(sc, outcome="merged", into_case_id=rng.choice(recent))
        if rng.random() < b.unsatisfied:
            sc = replace(sc, rating=Rating.UNSATISFIED)
        elif rng.random() < b.basic_satisfied:
            sc = replace(sc, rating=Rating.BASICALLY_SATISFIED)
    target = sc.target
    if target is not None:
        if target.kind != UnitKind.GRID and rng.random() < b.return_case:
            if rng.random() < b.return_redispatch:
                alt = _alternative(city, cat, loc, target, rng)
                sc = replace(sc, return_decision=ReviewDecision.REDISPATCH, return_to=alt)
            else:
                sc = replace(sc, return_decision=ReviewDecision.INSIST)
        sc = replace(sc, accept_level=draw_level(b.accept_late, rng))
    handling = sc.return_to if sc.return_decision == ReviewDecision.REDISPATCH else target
    if handling is not None and handling.kind == UnitKind.STREET:
        p = b.street_whistle if cat.needs_whistle else b.street_whistle_other
        if rng.random() < p:
            depts = _whistle_departments(city, cat, rng)
            sc = replace(sc, whistle=depts, report_levels=tuple(draw_level(b.dept_late_report, rng) for _ in depts))
    if sc.whistle:
        sc = replace(sc, whistle_property=rng.random() < b.whistle_property)
    elif handling is not None and handling.kind == UnitKind.STREET and rng.random() < b.delegate:
        sc = replace(sc, delegate="returned" if rng.random() < b.property_return else "handled")
    if rng.random() < b.terminate:  # before any whistle: a round must finish before terminating
        return replace(sc, outcome="terminated", whistle=(), report_levels=(), whistle_property=False, delegate=None)
    if sc.urgency == Urgency.URGENT and rng.random() < b.late_resolve:
        sc = replace(sc, resolve_level=1)
    sc = replace(
        sc,
        pause=rng.random() < b.pause,
        shelve=rng.random() < b.shelve,
        supervise=rng.random() < b.supervise,
        verify_fail=rng.random() < b.verify_fail,
    )
    if rng.random() < b.extension:
        sc = replace(sc, extension=rng.random() < b.extension_approved)
    if target is not None and rng.random() < b.appeal:
        sc = replace(sc, appeal=rng.random() < b.appeal_granted)
    if target is not None:
        x = rng.random()
        if x < b.reassign:
            sc = replace(sc, assign="reassigned")
        elif x < b.reassign + b.assign:
            sc = replace(sc, assign="assigned")
        elif x < b.reassign + b.assign + b.take:
            sc = replace(sc, assign="taken")
        if rng.random() < b.relocate:
            sc = replace(sc, relocate="far" if rng.random() < b.relocate_far else "near")
        sc = replace(
            sc,
            reclassify=rng.random() < b.reclassify,
            raise_urgency=sc.urgency == Urgency.ORDINARY and rng.random() < b.raise_urgency,
        )
    if (handling is None or handling.kind == UnitKind.GRID) and rng.random() < b.volunteers:
        sc = replace(sc, volunteers="released" if rng.random() < b.volunteers_released else "reported")
    if sc.delegate is not None:  # the company's own work: none of the street's side steps meanwhile
        sc = replace(sc, pause=False, extension=None, appeal=None, shelve=False, assign=None, relocate=None)
    return replace(sc, send_back=rng.random() < b.send_back, interim_late=rng.random() < b.interim_late)


def coverage_tour(city: SimCity, rng: random.Random, policy: SlaPolicy) -> list[Scenario]:
    """One scenario down every path, every side path and every escalation rung (placeholders for merges).

    ``policy`` picks the categories that show interim replies and a reclassification; a city or
    policy without such categories leaves those side paths out.
    """
    by_route: dict[UnitKind, SimCategory] = {}
    for cat in city.categories:
        by_route.setdefault(cat.route, cat)
    any_cat = city.categories[0]
    whistle_cat = next((cat for cat in city.categories if cat.needs_whistle), any_cat)
    loc = city.grids[0]
    loc2 = city.grids[len(city.grids) // 2]
    street = UnitRef(kind=UnitKind.STREET, id=loc.street_id)
    dept_id = next((d for d in whistle_cat.departments if d in city.departments), city.departments[0])
    dept = UnitRef(kind=UnitKind.DEPARTMENT, id=dept_id)
    grid = UnitRef(kind=UnitKind.GRID, id=loc2.grid_id)
    depts = _whistle_departments(city, whistle_cat, rng)[:3]
    ordinary = Urgency.ORDINARY
    interim_cat = next((cat for cat in city.categories if policy.interim_needed(cat.code, ordinary)), any_cat)

    def sc(
        channel: str = "hotline",
        cat: SimCategory = any_cat,
        where: Location = loc,
        target: UnitRef | None = street,
        **kw: object,
    ) -> Scenario:
        return Scenario(
            channel=channel,
            category=cat,
            urgency=kw.pop("urgency", ordinary),  # type: ignore[arg-type]
            location=where,
            target=target,
            **kw,  # type: ignore[arg-type]
        )

    def correctable(cat: SimCategory) -> bool:  # reclassified without owing interim replies
        return not policy.interim_needed(cat.code, ordinary) and bool(reclassify_options(city, policy, sc(cat=cat)))

    reclass_cat = next((cat for cat in city.categories if correctable(cat)), any_cat)
    # a street-routed category owing no interim replies, at a grid whose community has a company: 下派物业
    plain_cat = next(
        (k for k in city.categories if k.route == UnitKind.STREET and not policy.interim_needed(k.code, ordinary)),
        any_cat,
    )
    ploc = next((g for g in city.grids if city.company_for(g.community_id)), loc)
    pstreet = UnitRef(kind=UnitKind.STREET, id=ploc.street_id)
    return [
        sc("patrol", target=None, volunteers="reported"),  # 小事不出网格, with the community's volunteers
        sc("patrol", target=street),  # patrol report dispatched to the street
        sc("hotline", where=loc2, target=grid, raise_urgency=True, volunteers="released"),  # 加急
        sc(
            "hotline",
            cat=whistle_cat,
            whistle=depts,
            report_levels=tuple([1] + [0] * (len(depts) - 1)),
            whistle_property=True,  # the community's property company summoned too
        ),
        sc("hotline", cat=plain_cat, where=ploc, target=pstreet, delegate="handled"),  # 下派物业
        sc("web", cat=plain_cat, where=ploc, target=pstreet, delegate="returned"),  # 物业退回街道
        sc("web", cat=whistle_cat, whistle=depts[:1], report_levels=(2,)),  # a department 督办 for reporting late
        sc("hotline", target=dept, rating=Rating.UNSATISFIED, send_back=True),  # 退回重办, then reopened
        sc("app", target=dept, accept_level=3),  # a department sits on it: 通报
        sc("hotline", cat=reclass_cat, accept_level=1, verify_fail=True, reclassify=True),  # 改类 → rework
        sc("hotline", return_decision=ReviewDecision.REDISPATCH, return_to=dept),
        # a long case owing interim replies (阶段性答复): one comes late
        sc(
            "web",
            cat=interim_cat,
            return_decision=ReviewDecision.INSIST,
            rating=Rating.BASICALLY_SATISFIED,
            interim_late=True,
        ),
        sc("hotline", pause=True, extension=True, assign="assigned"),
        sc("web", target=dept, assign="taken"),
        # 改址 away from the grid: recalled, dispatched to the new grid
        sc("hotline", where=loc2, target=grid, assign="reassigned", verify_fail=True, relocate="near"),
        sc("hotline", extension=False, shelve=True),
        sc("hotline", appeal=True, supervise=True, relocate="near"),  # 改址 inside the street: no recall
        sc("hotline", target=dept, appeal=False),
        sc("hotline", urgency=Urgency.URGENT, resolve_level=1),
        sc("hotline", outcome="rejected"),
        sc("hotline", outcome="terminated"),
        sc("hotline", outcome="merged", into_case_id=""),  # plan_stream points it at a case still open
    ]


# --- arrivals -----------------------------------------------------------------------------------


def arrivals(
    rng: random.Random,
    rate_per_minute: float,
    seconds_per_hour: float | None,
    cfg: SimConfig,
    *,
    count: int | None = None,
    horizon: float | None = None,
) -> Iterator[float]:
    """Arrival times in wall-clock seconds: ``rate_per_minute`` on average, following the daily rhythm.

    The rhythm's 24 hours are policy hours, so under compressed time a whole day of complaints
    passes in ``24 × seconds_per_hour`` seconds. Stops after ``count`` arrivals or at ``horizon``.
    """
    if rate_per_minute <= 0:
        raise ValueError("rate must be more than 0 complaints per minute")
    if count is None and horizon is None:
        raise ValueError("give a number of cases or a duration")
    hour_len = seconds_per_hour if seconds_per_hour is not None else 3600.0
    mean = sum(cfg.rhythm) / 24
    peak = max(cfg.rhythm) / mean
    base = rate_per_minute / 60.0
    t = 0.0
    n = 0
    while count is None or n < count:
        t += rng.expovariate(base * peak)
        if horizon is not None and t > horizon:
            return
        hour = int((cfg.start_hour + t / hour_len) % 24)
        if rng.random() * peak <= cfg.rhythm[hour] / mean:
            n += 1
            yield t


def plan_stream(
    cfg: SimConfig,
    city: SimCity,
    policy: SlaPolicy,
    *,
    seed: int,
    prefix: str,
    rate_per_minute: float,
    seconds_per_hour: float | None,
    count: int | None = None,
    horizon: float | None = None,
) -> Iterator[CasePlan]:
    """Every case of a simulation, in arrival order: the coverage tour first (when configured), then draws.

    The tour's cases arrive every :data:`TOUR_SPACING` seconds; they count in ``count``.
    """
    rng = random.Random(seed)
    hour = seconds_per_hour if seconds_per_hour is not None else 3600.0
    live: list[tuple[str, float]] = []  # (case id, when its last step is due, wall-clock seconds)

    def open_at(arrival: float) -> list[str]:
        """Cases a duplicate arriving now can be merged into: opened, with a resident, not finished soon."""
        return [cid for cid, end in live[-50:] if end > arrival + 4 * hour]

    def keep(plan: CasePlan) -> None:
        if plan.scenario.has_resident and plan.scenario.outcome == "closed":
            live.append((plan.case_id, plan.arrival + plan.duration * hour))

    index = 0
    if cfg.cover_all_paths:
        tour = coverage_tour(city, rng, policy)
        for sc in tour:
            if count is not None and index >= count:
                return
            case_id = f"{prefix}-{index:05d}"
            if sc.outcome == "merged":
                candidates = open_at(index * TOUR_SPACING)
                if not candidates:
                    continue
                sc = replace(sc, into_case_id=max(candidates, key=lambda cid: dict(live)[cid]))
            plan = compile_plan(sc, case_id, index * TOUR_SPACING, city, policy, rng)
            keep(plan)
            index += 1
            yield plan
    offset = index * TOUR_SPACING
    stream = arrivals(
        rng,
        rate_per_minute,
        seconds_per_hour,
        cfg,
        count=None if count is None else max(count - index, 0),
        horizon=None if horizon is None else max(horizon - offset, 0.0),
    )
    for t in stream:
        case_id = f"{prefix}-{index:05d}"
        sc = draw_scenario(cfg, city, rng, open_at(offset + t)[-20:])
        plan = compile_plan(sc, case_id, offset + t, city, policy, rng)
        keep(plan)
        index += 1
        yield plan
