"""The timeline in words: every event type has its sentence (a new event without words fails here),
actions carry their clock's verdict (on time, late by how much, in policy time), names replace ids,
and the words are deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import (
    EVENT_CLASSES,
    AppealDecided,
    AppealFiled,
    AssignMode,
    CallbackRecorded,
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseDispatched,
    CaseMerged,
    CaseReceived,
    CaseReclassified,
    CaseRegistered,
    CaseRejected,
    CaseRelocated,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseShelved,
    CaseTerminated,
    CaseUnshelved,
    CaseVerified,
    Channel,
    ClockExtended,
    ClockKind,
    ClockOutcome,
    ClockPaused,
    ClockRecomputed,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    ClosureType,
    DepartmentReportedIn,
    DepartmentTaskCompleted,
    DuplicateAttached,
    EscalationLevel,
    EscalationRaised,
    ExtensionDecided,
    ExtensionRequested,
    InterimReplied,
    Location,
    Rating,
    RecomputeMode,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    ResidentContact,
    ResidentContacted,
    ReturnReason,
    ReturnReviewed,
    ReviewDecision,
    ReworkOrdered,
    SlaBreached,
    SlaWarningRaised,
    Urgency,
    UrgencyChanged,
    VolunteersCalled,
    VolunteersReleased,
    VolunteersReported,
    WhistleBlown,
    WhistleTask,
)
from events.times import city_time
from tests.unit import domain_helpers as h
from tests.unit.domain_helpers import Case
from tests.unit.test_exhaustive import match_arms
from workers.api.timeline_words import (
    CLOCK_EN,
    CLOCK_ZH,
    RECOMPUTE_EN,
    RECOMPUTE_ZH,
    Tone,
    describe,
    span,
    timeline_words,
    unit_keys,
)
from workers.api.views import case_view, name_keys
from workflows.domain import commands as c
from workflows.domain.explore import reviewer_actor

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
HOTLINE = Actor(role=Role.DISPATCHER, person_id="op-1")
SYSTEM = Actor(role=Role.SYSTEM, person_id="gridcase")
STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
STREET_ACTOR = Actor(role=Role.STREET, person_id="st-1", unit_id="S-1")
ENV = Actor(role=Role.DEPARTMENT, person_id="env-1", unit_id="environment")
ENV_UNIT = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
GRID_ACTOR = Actor(role=Role.GRID_WORKER, person_id="gw-1", unit_id="G-1")
SUPERVISOR = Actor(role=Role.SUPERVISOR, person_id="sv-1", unit_id="D-1")
NAMES = {
    "street:S-1": "泰结街道",
    "department:environment": "生态环境分局",
    "department:water": "水务局",
    "grid:G-1": "人台新村",
    "district:D-1": "青山区",
    "category:noise": "噪声扰民",
}
LOCATION = Location(grid_id="G-1", community_id="C-1", street_id="S-1", district_id="D-1")
ELSEWHERE = Location(grid_id="G-2", community_id="C-2", street_id="S-2", district_id="D-1", address="东河路 8 号")
CJK = re.compile(r"[\u4e00-\u9fff]")


def base(seq: int, actor: Actor = HOTLINE, at: datetime = T0) -> dict[str, Any]:
    return {"event_id": f"C1:{seq}", "case_id": "C1", "seq": seq, "occurred_at": at, "actor": actor}


def clock(kind: ClockKind = ClockKind.REPORT_IN, unit: UnitRef = ENV_UNIT) -> dict[str, Any]:
    return {"clock_id": f"{kind.value}-1", "kind": kind, "unit": unit}


#: One valid instance of every event class, built by hand: a new event class without a sample here
#: fails :func:`test_every_event_class_has_a_sample_and_words`.
SAMPLES: dict[type[CaseEventBase], Callable[[], CaseEventBase]] = {
    CaseReceived: lambda: CaseReceived(
        **base(1),
        channel=Channel.HOTLINE,
        category="noise",
        urgency=Urgency.ORDINARY,
        title="噪音扰民",
        description="夜间施工",
        location=LOCATION,
        contact=ResidentContact(name="张三", phone="13812345678"),
    ),
    CaseRejected: lambda: CaseRejected(**base(2), reason="不属于受理范围"),
    CaseRegistered: lambda: CaseRegistered(**base(2)),
    CaseDispatched: lambda: CaseDispatched(**base(3), unit=STREET),
    CaseAccepted: lambda: CaseAccepted(**base(4, STREET_ACTOR), unit=STREET),
    CaseAssigned: lambda: CaseAssigned(
        **base(5, STREET_ACTOR), unit=STREET, mode=AssignMode.ASSIGNED, handler_id="m-1", handler_name="李承办"
    ),
    CaseReturned: lambda: CaseReturned(
        **base(4, STREET_ACTOR), unit=STREET, reason_code=ReturnReason.TERRITORY_MISMATCH, reason="不在本街道"
    ),
    ReturnReviewed: lambda: ReturnReviewed(
        **base(5), decision=ReviewDecision.INSIST, ruling="属于本街道", returned_by=STREET
    ),
    ResidentContacted: lambda: ResidentContacted(**base(5, STREET_ACTOR), unit=STREET),
    WhistleBlown: lambda: WhistleBlown(
        **base(6, STREET_ACTOR),
        round=1,
        street_id="S-1",
        tasks=[WhistleTask(department_id="environment", task="执法"), WhistleTask(department_id="water", task="查管")],
    ),
    DepartmentReportedIn: lambda: DepartmentReportedIn(**base(7, ENV), round=1, department_id="environment"),
    DepartmentTaskCompleted: lambda: DepartmentTaskCompleted(
        **base(8, ENV), round=1, department_id="environment", result="已责令停工"
    ),
    CaseResolved: lambda: CaseResolved(**base(9, STREET_ACTOR), unit=STREET, notes="夜间施工已停止"),
    CaseVerified: lambda: CaseVerified(**base(10, GRID_ACTOR), passed=True),
    ReworkOrdered: lambda: ReworkOrdered(**base(11, GRID_ACTOR), unit=STREET, reason="仍有噪音", rework_count=1),
    CallbackRecorded: lambda: CallbackRecorded(**base(12), rating=Rating.SATISFIED, resolved=True),
    CaseReopened: lambda: CaseReopened(**base(13), unit=STREET, reason="市民不满意", reopen_count=1),
    CaseClosed: lambda: CaseClosed(**base(14), closure_type=ClosureType.NORMAL),
    ExtensionRequested: lambda: ExtensionRequested(
        **base(15, STREET_ACTOR), unit=STREET, extra=timedelta(days=2), reason="需协调"
    ),
    ExtensionDecided: lambda: ExtensionDecided(**base(16), approved=True, extra=timedelta(days=2)),
    CaseShelved: lambda: CaseShelved(**base(17), reason="历史遗留"),
    CaseUnshelved: lambda: CaseUnshelved(**base(18)),
    CaseTerminated: lambda: CaseTerminated(**base(19), reason="无法处理"),
    AppealFiled: lambda: AppealFiled(**base(20, STREET_ACTOR), unit=STREET, reason="不可抗力"),
    AppealDecided: lambda: AppealDecided(**base(21, SUPERVISOR), granted=False),
    CaseMerged: lambda: CaseMerged(**base(22), into_case_id="C0"),
    DuplicateAttached: lambda: DuplicateAttached(**base(23), duplicate_case_id="C2"),
    ClockStarted: lambda: ClockStarted(
        **base(24, SYSTEM),
        **clock(),
        due_at=T0 + timedelta(minutes=30),
        budget=timedelta(minutes=30),
        working_time=False,
    ),
    ClockPaused: lambda: ClockPaused(**base(25, SYSTEM), clock_id="resolve-1", kind=ClockKind.RESOLVE, reason="等市民"),
    ClockResumed: lambda: ClockResumed(
        **base(26, SYSTEM), clock_id="resolve-1", kind=ClockKind.RESOLVE, due_at=T0 + timedelta(days=7)
    ),
    ClockExtended: lambda: ClockExtended(
        **base(27, SYSTEM),
        clock_id="resolve-1",
        kind=ClockKind.RESOLVE,
        extra=timedelta(days=2),
        due_at=T0 + timedelta(days=9),
    ),
    ClockStopped: lambda: ClockStopped(**base(28, SYSTEM), **clock(), outcome=ClockOutcome.MET),
    SlaWarningRaised: lambda: SlaWarningRaised(
        **base(29, SYSTEM), **clock(), threshold=0.8, due_at=T0 + timedelta(minutes=6)
    ),
    SlaBreached: lambda: SlaBreached(**base(30, SYSTEM), **clock(), due_at=T0),
    EscalationRaised: lambda: EscalationRaised(**base(31, SYSTEM), **clock(), level=EscalationLevel.SUPERVISION),
    ReplySubmitted: lambda: ReplySubmitted(
        **base(32, ENV), unit=ENV_UNIT, notes="已责令停工", evidence=["photo-1"], submitted_by="env-1", round=1
    ),
    ReplyApproved: lambda: ReplyApproved(
        **base(33, ENV), unit=ENV_UNIT, approved_by="env-2", submitted_by="env-1", round=1, note="同意"
    ),
    ReplySentBack: lambda: ReplySentBack(
        **base(34, ENV),
        unit=ENV_UNIT,
        sent_back_by="env-2",
        submitted_by="env-1",
        round=1,
        reason="缺少照片",
        sent_back_count=1,
    ),
    InterimReplied: lambda: InterimReplied(
        **base(35, ENV),
        unit=ENV_UNIT,
        text="已约谈施工方",
        number=1,
        due_at=T0 + timedelta(days=3),  # due after it
    ),
    VolunteersCalled: lambda: VolunteersCalled(**base(39), team_id="V-10", task="协助清理楼道", grid_id="G-101"),
    VolunteersReported: lambda: VolunteersReported(**base(40), team_id="V-10", result="已清理"),
    VolunteersReleased: lambda: VolunteersReleased(**base(41), team_id="V-10", reason="已由保洁完成"),
    CaseReclassified: lambda: CaseReclassified(
        **base(36), previous_category="noise", category="illegal-construction", reason="实为违建", unit=STREET
    ),
    UrgencyChanged: lambda: UrgencyChanged(
        **base(37), previous_urgency=Urgency.ORDINARY, urgency=Urgency.URGENT, reason="影响通行", unit=STREET
    ),
    CaseRelocated: lambda: CaseRelocated(
        **base(38), previous_location=LOCATION, location=ELSEWHERE, reason="地址有误", unit=STREET, recalled=True
    ),
    ClockRecomputed: lambda: ClockRecomputed(
        **base(39, SYSTEM),
        **clock(ClockKind.RESOLVE, STREET),
        mode=RecomputeMode.RETROACTIVE,
        previous_due_at=T0 + timedelta(days=7),
        due_at=T0 + timedelta(days=1),
        budget=timedelta(days=1),
        working_time=False,
        cause="case.urgency_changed",
    ),
}


def words_problems(
    events: Collection[type[BaseModel]],
    samples: Mapping[type[Any], Callable[[], CaseEventBase]],
    arms: Collection[str],
) -> list[str]:
    """What is missing for each event class: a ``case`` arm in :func:`describe`, a sample here, and
    sentences of its own in both languages (not the fallback, the bare type)."""
    problems = []
    for cls in events:
        name = cls.__name__
        if name not in arms:
            problems.append(f"{name}: no arm in timeline_words.describe")
        if cls not in samples:
            problems.append(f"{name}: no sample in test_timeline_words.SAMPLES")
            continue
        event = samples[cls]()
        (w,) = timeline_words([event], NAMES)
        etype = str(event.model_dump()["type"])
        if w.zh in ("", etype) or w.en in ("", etype):
            problems.append(f"{name}: no words")
        elif not CJK.search(w.zh) or w.en[0].islower():
            problems.append(f"{name}: zh {w.zh!r} / en {w.en!r} do not read as sentences")
    return problems


def test_every_event_class_has_a_sample_and_words() -> None:
    assert words_problems(EVENT_CLASSES, SAMPLES, match_arms(describe)) == []


class CaseTeleported(BaseModel):
    """A fake event (a plain model, so no registry of real events sees it)."""

    type: str = "case.teleported"
    event_id: str = "C1:1"
    case_id: str = "C1"
    seq: int = 1
    occurred_at: datetime = T0
    actor: Actor = HOTLINE


def test_an_event_without_words_is_caught() -> None:
    samples: dict[type[Any], Callable[[], Any]] = {**SAMPLES, CaseTeleported: CaseTeleported}
    found = words_problems([*EVENT_CLASSES, CaseTeleported], samples, match_arms(describe))
    assert found == ["CaseTeleported: no arm in timeline_words.describe", "CaseTeleported: no words"]
    assert words_problems([CaseReceived], {}, match_arms(describe)) == [
        "CaseReceived: no sample in test_timeline_words.SAMPLES"
    ]


def test_names_replace_ids_and_unknown_ids_show_as_themselves() -> None:
    whistle = SAMPLES[WhistleBlown]()
    (named,) = timeline_words([whistle], NAMES)
    assert named.zh == "泰结街道 吹哨（第 1 轮），召集 生态环境分局、水务局"
    assert named.en == "泰结街道 blew the whistle (round 1), summoning 生态环境分局, 水务局"
    (bare,) = timeline_words([whistle], {})
    assert bare.zh == "S-1 吹哨（第 1 轮），召集 environment、water"
    received = SAMPLES[CaseReceived]()
    (w,) = timeline_words([received], NAMES)
    assert w.zh == "12345 热线 受理诉求「噪音扰民」（热线来电，噪声扰民，普通）"
    assert "张三" not in w.zh + w.en and "13812345678" not in w.zh + w.en  # no personal data in words
    assert unit_keys([whistle, received]) >= {
        "street:S-1",
        "department:environment",
        "department:water",
        "category:noise",
    }


@pytest.mark.parametrize(
    ("actor", "zh", "en"),
    [
        (HOTLINE, "12345 热线", "The 12345 hotline"),
        (GRID_ACTOR, "网格员（人台新村）", "The grid worker (人台新村)"),
        (SUPERVISOR, "青山区监督员", "The supervisor of 青山区"),
        (Actor(role=Role.SUPERVISOR, person_id="sv", unit_id="city"), "市级监督员", "The city supervisor"),
        (Actor(role=Role.RESIDENT, person_id="r-1"), "市民", "The resident"),
        (Actor(role=Role.COMMUNITY, person_id="c", unit_id="C-9"), "C-9", "C-9"),
    ],
)
def test_who_acted_is_named_by_role_and_unit(actor: Actor, zh: str, en: str) -> None:
    (w,) = timeline_words([CaseVerified(**base(1, actor), passed=False, note="仍有噪音")], NAMES)
    assert w.zh == f"{zh} 核查未通过：仍有噪音"
    assert w.en == f"{en} verified the fix: failed: 仍有噪音"


def _report_in(late_minutes: float, *, time_scale: float | None = None) -> list[CaseEventBase]:
    """A report-in clock started at T0, due 30 min later (or its compressed equivalent), and the
    department reporting in ``late_minutes`` after the due time (negative: early)."""
    budget = timedelta(minutes=30) if time_scale is None else timedelta(seconds=time_scale / 2)
    due = T0 + budget
    policy_minute = timedelta(minutes=1) if time_scale is None else timedelta(seconds=time_scale / 60)
    at = due + policy_minute * late_minutes
    outcome = ClockOutcome.LATE if late_minutes > 0 else ClockOutcome.MET
    return [
        ClockStarted(
            **base(1, SYSTEM), **clock(), due_at=due, budget=budget, working_time=False, time_scale=time_scale
        ),
        DepartmentReportedIn(**base(2, ENV, at), round=1, department_id="environment"),
        ClockStopped(**base(3, SYSTEM, at), **clock(), outcome=outcome),
    ]


@pytest.mark.parametrize("time_scale", [None, 30.0])
@pytest.mark.parametrize(
    ("late", "zh", "en", "tone"),
    [
        (-10, "生态环境分局 报到 — 按时", "生态环境分局 reported in — on time", Tone.ON_TIME),
        (12, "生态环境分局 报到 — 超时 12 分钟", "生态环境分局 reported in — 12 min late", Tone.LATE),
        (135, "生态环境分局 报到 — 超时 2 小时 15 分钟", "生态环境分局 reported in — 2 h 15 min late", Tone.LATE),
        (0.5, "生态环境分局 报到 — 超时 不到 1 分钟", "生态环境分局 reported in — under 1 min late", Tone.LATE),
    ],
)
def test_an_action_carries_its_clocks_verdict_in_policy_time(
    time_scale: float | None, late: float, zh: str, en: str, tone: Tone
) -> None:
    started, reported, stopped = timeline_words(_report_in(late, time_scale=time_scale), NAMES)
    assert (reported.zh, reported.en, reported.tone, reported.minor) == (zh, en, tone, False)
    assert started.minor and stopped.minor and stopped.tone == tone
    due = "09:30" if time_scale is None else "09:00"  # compressed: the wall-clock due time, 15 s later
    assert started.zh == f"生态环境分局 报到时限开始：30 分钟，03-02 {due} 到期"


def test_a_cancelled_clock_gives_no_verdict_and_a_later_event_is_not_folded() -> None:
    events = _report_in(-5)
    cancelled = events[2].model_copy(update={"outcome": ClockOutcome.CANCELLED})
    later = events[2].model_copy(update={"occurred_at": events[2].occurred_at + timedelta(seconds=1)})
    for tail, expected in ((cancelled, "生态环境分局 报到"), (later, "生态环境分局 报到")):
        _, reported, _ = timeline_words([events[0], events[1], tail], NAMES)
        assert reported.zh == expected and reported.tone == Tone.INFO
    assert timeline_words([events[0], events[1], cancelled], NAMES)[2].zh == "生态环境分局 报到时限取消"


def test_warnings_breaches_and_escalations_say_so() -> None:
    warn, breach, auto = (SAMPLES[k]() for k in (SlaWarningRaised, SlaBreached, EscalationRaised))
    manual = EscalationRaised(**base(32, SUPERVISOR), unit=STREET, level=EscalationLevel.REMINDER, note="请加快")
    w, b, a, m = timeline_words([warn, breach, auto, manual], NAMES)
    assert (w.zh, w.tone) == ("生态环境分局 报到时限预警：已用 80%，剩余 6 分钟", Tone.WARNED)
    assert w.en == "Warning: the report-in clock of 生态环境分局 is 80% used, 6 min left"
    assert (b.zh, b.tone) == ("生态环境分局 报到时限超时（03-02 09:00 到期）", Tone.BREACHED)
    assert (a.zh, a.tone) == ("生态环境分局 报到超时，升级为督办", Tone.ESCALATED)
    assert a.en == "生态环境分局 escalated to supervision (督办) for its overdue report-in"
    assert m.zh == "青山区监督员 对 泰结街道 催办：请加快"
    assert m.en == "The supervisor of 青山区 escalated 泰结街道 to a reminder (催办): 请加快"


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (0, "不到 1 分钟", "under 1 min"),
        (59, "不到 1 分钟", "under 1 min"),
        (12 * 60, "12 分钟", "12 min"),
        (-(2 * 3600 + 13 * 60 + 59), "2 小时 13 分钟", "2 h 13 min"),
        (3600, "1 小时", "1 h"),
        (26 * 3600, "1 天 2 小时", "1 d 2 h"),
        (48 * 3600, "2 天", "2 d"),
    ],
)
def test_spans_read_as_the_workspace_writes_them(seconds: float, zh: str, en: str) -> None:
    assert span(seconds) == zh and span(seconds, "en") == en


def test_free_text_is_quoted_on_one_line_and_cut() -> None:
    long = "很长的理由\n" * 40
    (w,) = timeline_words([CaseShelved(**base(1), reason=long)], NAMES)
    assert "\n" not in w.zh and w.zh.endswith("…") and len(w.zh) < 150


def _whole_case() -> Case:
    case = Case().open_hotline().to_street_handling()
    tasks = [WhistleTask(department_id="environment", task="执法"), WhistleTask(department_id="water", task="查管")]
    case.later().do(c.BlowWhistle(actor=h.STREET_ACTOR, tasks=tasks))
    case.later(600).do(c.ReportIn(actor=h.dept_actor("environment")))
    case.later().do(c.CompleteTask(actor=h.dept_actor("environment"), result="已责令停工"))
    return case


def test_words_of_a_driven_case_are_deterministic_and_tell_the_story() -> None:
    case = _whole_case()
    names = {**NAMES, "street:S-1": "泰结街道"}
    first = timeline_words(case.events, names)
    assert first == timeline_words(list(case.events), dict(names))
    text = [w.zh for w in first if not w.minor]
    assert "泰结街道 签收 — 按时" in text
    assert any(t.startswith("生态环境分局 报到 — 超时 ") for t in text)
    assert "生态环境分局 完成任务：已责令停工" in text
    assert any(t.endswith("升级为催办") for t in text)


def test_the_case_view_has_names_and_words_and_keeps_personal_data_out() -> None:
    from workers.api.auth import Principal

    case = _whole_case()
    events: list[Any] = list(case.events)
    keys = name_keys(case.state, events)
    loc = case.state.location
    assert loc is not None
    assert {f"street:{loc.street_id}", f"grid:{loc.grid_id}", "department:environment", "department:water"} <= keys
    names = {f"street:{loc.street_id}": "泰结街道", f"grid:{loc.grid_id}": "人台新村", "department:water": "水务局"}
    view = case_view(case.state, events, Principal("env-1", Role.DEPARTMENT, "environment"), names=names)
    assert view.place is not None and view.place.street_name == "泰结街道" and view.place.grid_name == "人台新村"
    assert [(d.id, d.name) for d in view.departments] == [("environment", None), ("water", "水务局")]
    assert all(e.text_zh and e.text_en for e in view.timeline)
    assert not any("张三" in e.text_zh or "13812345678" in e.text_en for e in view.timeline)
    bare = case_view(case.state, events, Principal("op-1", Role.DISPATCHER))
    assert bare.place is not None and bare.place.street_name is None and bare.names == {}
    assert bare.timeline[0].text_zh.startswith("12345 热线 受理诉求")


# --- internal review, interim replies, corrections ------------------------------------------------


def test_every_clock_kind_and_recompute_mode_has_words() -> None:
    assert set(CLOCK_ZH) == set(CLOCK_EN) == set(ClockKind)
    assert set(RECOMPUTE_ZH) == set(RECOMPUTE_EN) == set(RecomputeMode)
    assert len(set(RECOMPUTE_ZH.values())) == len(set(RECOMPUTE_EN.values())) == len(RecomputeMode)
    for kind in ClockKind:
        started = ClockStarted(
            **base(1, SYSTEM),
            **clock(kind),
            due_at=T0 + timedelta(hours=1),
            budget=timedelta(hours=1),
            working_time=True,
        )
        (w,) = timeline_words([started], NAMES)
        assert f"生态环境分局 {CLOCK_ZH[kind]}时限开始" in w.zh and f"the {CLOCK_EN[kind]} clock" in w.en.lower()


@pytest.mark.parametrize("mode", list(RecomputeMode))
@pytest.mark.parametrize("cause", ["case.reclassified", "case.urgency_changed"])
@pytest.mark.parametrize(
    ("before", "after"), [(timedelta(days=7), timedelta(days=1)), (timedelta(hours=3), timedelta(days=15))]
)
def test_a_recomputed_clock_shows_both_deadlines_its_mode_and_moves_the_verdict(
    mode: RecomputeMode, cause: str, before: timedelta, after: timedelta
) -> None:
    kind, unit = ClockKind.RESOLVE, STREET
    started = ClockStarted(
        **base(1, SYSTEM), **clock(kind, unit), due_at=T0 + before, budget=before, working_time=False
    )
    recomputed = ClockRecomputed(
        **base(2, SYSTEM, T0 + timedelta(minutes=5)),
        **clock(kind, unit),
        mode=mode,
        previous_due_at=T0 + before,
        due_at=T0 + after,
        budget=after,
        working_time=False,
        cause=cause,
    )
    done_at = T0 + after + timedelta(hours=2)  # two hours after the new deadline
    resolved = CaseResolved(**base(3, STREET_ACTOR, done_at), unit=unit, notes="已处理")
    stopped = ClockStopped(**base(4, SYSTEM, done_at), **clock(kind, unit), outcome=ClockOutcome.LATE)
    _, w, r, _ = timeline_words([started, recomputed, resolved, stopped], NAMES)
    old, new = (city_time(T0 + d, "%m-%d %H:%M") for d in (before, after))
    assert f"{old} 到期 → {new} 到期" in w.zh and f"due {old} → {new}" in w.en
    assert RECOMPUTE_ZH[mode] in w.zh and RECOMPUTE_EN[mode] in w.en
    assert ("改类" if cause == "case.reclassified" else "紧急程度调整") in w.zh
    assert w.zh.startswith("泰结街道 办结时限") and w.en.startswith("The resolution clock of 泰结街道")
    assert f"（{span(after.total_seconds())}）" in w.zh and not w.minor
    assert r.zh == "泰结街道 办结：已处理 — 超时 2 小时"  # late against the recomputed deadline


def _department_case(category: str = "noise") -> Case:
    case = Case().open_hotline(category=category)
    case.do(c.RegisterCase(actor=h.DISPATCHER))
    case.do(c.DispatchCase(actor=h.DISPATCHER, unit=ENV_UNIT))
    case.later().do(c.AcceptCase(actor=h.dept_actor("environment")))
    case.later().do(c.ContactResident(actor=h.dept_actor("environment")))
    return case


def _said(case: Case, names: Mapping[str, str] = NAMES) -> list[str]:
    return [w.zh for w in timeline_words(case.events, names) if not w.minor]


@pytest.mark.parametrize(("review_minutes", "late"), [(10, False), (3 * 24 * 60, True)])
def test_a_review_tells_its_rounds_its_send_backs_and_the_sign_off(review_minutes: int, late: bool) -> None:
    case = _department_case()
    handler, reviewer = h.dept_actor("environment"), reviewer_actor(ENV_UNIT)
    case.later().do(c.SubmitReply(actor=handler, notes="已责令停工"))
    case.later().do(c.SendBack(actor=reviewer, reason="缺少照片"))
    case.later().do(c.SubmitReply(actor=handler, notes="已责令停工，附照片", evidence=["photo-1"]))
    case.later(review_minutes).do(c.ApproveReply(actor=reviewer, note="同意"))
    said = _said(case)
    assert "生态环境分局 报审（第 1 轮）：已责令停工" in said
    assert "生态环境分局 退回重办（第 1 轮，累计退回 1 次）：缺少照片 — 按时" in said
    assert "生态环境分局 报审（第 2 轮）：已责令停工，附照片" in said
    approved = next(t for t in said if t.startswith("生态环境分局 审核签发（第 2 轮）：同意"))
    assert ("— 超时" in approved) == late and ("— 按时" in approved) == (not late)
    # the sign-off is followed by the resolution, with the reply's notes and its own verdict
    assert said.index(approved) < next(
        i for i, t in enumerate(said) if t.startswith("生态环境分局 办结：已责令停工，附照片")
    )
    en = [w.en for w in timeline_words(case.events, NAMES)]
    assert any(
        t.startswith("生态环境分局 sent the reply back for more work (round 1; sent back 1 time so far)") for t in en
    )
    assert any(t.startswith("生态环境分局 signed the reply off (round 2)") for t in en)


def test_interim_replies_are_numbered_and_judged_against_their_due_time() -> None:
    case = Case().open_hotline(category="illegal-construction").to_street_handling()
    case.later().do(c.InterimReply(actor=h.STREET_ACTOR, text="已约谈施工方"))
    case.later(7 * 24 * 60).do(c.InterimReply(actor=h.STREET_ACTOR, text="已下达整改通知"))
    said = _said(case)
    assert "泰结街道 阶段性答复（第 1 次）：已约谈施工方 — 按时" in said
    second = next(t for t in said if t.startswith("泰结街道 阶段性答复（第 2 次）：已下达整改通知"))
    assert "— 超时 " in second
    # without the clock beside it, the event's own record of its due time says the same
    alone = SAMPLES[InterimReplied]()
    late = alone.model_copy(update={"on_time": False, "occurred_at": T0 + timedelta(days=3, hours=5)})
    (on_time,), (overdue,) = timeline_words([alone], NAMES), timeline_words([late], NAMES)
    assert on_time.zh.endswith("— 按时") and on_time.tone == Tone.ON_TIME
    assert overdue.zh.endswith("— 超时 5 小时") and overdue.en.endswith("— 5 h late") and overdue.tone == Tone.LATE


@pytest.mark.parametrize(
    ("before", "after", "zh", "en"),
    [
        (Urgency.ORDINARY, Urgency.URGENT, "加急：普通 → 紧急", "raised the urgency from ordinary to urgent"),
        (Urgency.URGENT, Urgency.ORDINARY, "降级：紧急 → 普通", "lowered the urgency from urgent to ordinary"),
    ],
)
def test_an_urgency_change_says_which_way(before: Urgency, after: Urgency, zh: str, en: str) -> None:
    event = UrgencyChanged(**base(1), previous_urgency=before, urgency=after, reason="影响通行")
    (w,) = timeline_words([event], NAMES)
    assert w.zh == f"12345 热线 {zh}：影响通行" and w.en == f"The 12345 hotline {en}: 影响通行"


def test_a_reclassification_names_both_categories() -> None:
    event = SAMPLES[CaseReclassified]()
    names = {**NAMES, "category:illegal-construction": "违法建设"}
    (w,) = timeline_words([event], names)
    assert w.zh == "12345 热线 改类：噪声扰民 → 违法建设：实为违建"
    assert w.en == "The 12345 hotline reclassified the case from 噪声扰民 to 违法建设: 实为违建"
    (bare,) = timeline_words([event], {})
    assert bare.zh == "12345 热线 改类：noise → illegal-construction：实为违建"
    assert {"category:noise", "category:illegal-construction"} <= unit_keys([event])


@pytest.mark.parametrize("recalled", [True, False])
@pytest.mark.parametrize(
    ("to", "old_zh", "new_zh"),
    [
        (ELSEWHERE, "泰结街道 人台新村", "东河街道 东河小区（东河路 8 号）"),  # another street: both streets named
        (ELSEWHERE.model_copy(update={"street_id": "S-1"}), "人台新村", "东河小区（东河路 8 号）"),
    ],
)
def test_a_relocation_names_both_places_and_a_recall(recalled: bool, to: Location, old_zh: str, new_zh: str) -> None:
    event = SAMPLES[CaseRelocated]().model_copy(update={"recalled": recalled, "location": to})
    names = {**NAMES, "street:S-2": "东河街道", "grid:G-2": "东河小区"}
    (w,) = timeline_words([event], names)
    recall_zh = "（自 泰结街道 收回，重新派单）" if recalled else ""
    recall_en = " (recalled from 泰结街道 for a new dispatch)" if recalled else ""
    assert w.zh == f"12345 热线 改址：{old_zh} → {new_zh}{recall_zh}：地址有误"
    new_en = new_zh.replace("（", " (").replace("）", ")")
    assert w.en == f"The 12345 hotline relocated the case from {old_zh} to {new_en}{recall_en}: 地址有误"
    assert {"grid:G-1", "grid:G-2", "street:S-1", f"street:{to.street_id}"} <= unit_keys([event])


def test_a_driven_correction_reads_as_the_correction_then_its_recomputed_clocks() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.Reclassify(actor=h.DISPATCHER, category="illegal-construction", reason="实为违建"))
    words = timeline_words(case.events, {**NAMES, "category:illegal-construction": "违法建设"})
    i = next(n for n, e in enumerate(case.events) if isinstance(e, CaseReclassified))
    assert words[i].zh == "12345 热线 改类：噪声扰民 → 违法建设：实为违建"
    recomputed = [(n, e) for n, e in enumerate(case.events) if isinstance(e, ClockRecomputed)]
    assert recomputed and all(n > i for n, _ in recomputed)
    for n, e in recomputed:
        w = words[n]
        assert city_time(e.previous_due_at, "%m-%d %H:%M") in w.zh and city_time(e.due_at, "%m-%d %H:%M") in w.zh
        assert RECOMPUTE_ZH[e.mode] in w.zh and RECOMPUTE_EN[e.mode] in w.en and "改类" in w.zh
