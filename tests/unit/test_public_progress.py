"""The resident's progress in plain words (``workers.api.progress``), and the resident's online
rating as a step of the domain (``callback`` by a resident).

Every status is reached by a case full of names, phones, ids and notes: nothing of them may reach
the words a resident reads, whatever the status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta

import pytest

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import (
    CaseDispatched,
    CaseReclassified,
    CaseRelocated,
    Channel,
    ClockKind,
    ClockRecomputed,
    InterimReplied,
    Location,
    Rating,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    Urgency,
    UrgencyChanged,
    WhistleBlown,
)
from tests.unit.domain_helpers import LOCATION, Case, at
from workers.api.progress import expected, local_date, progress, rating_open, status_words, steps
from workflows.domain import commands as c
from workflows.domain.available import available_actions
from workflows.domain.decide import decide, resident_person_id
from workflows.domain.errors import DomainError
from workflows.domain.state import CaseStatus

# --- a case full of personal data and internal notes --------------------------------------------

RESIDENT_NAME = "欧阳娜娜"
PHONE = "13987654321"
STAFF = ("王建国", "李秀英", "赵志强", "孙丽华", "周振宇", "吴国平")
NOTE = "内部备注：联系王建国13700001111，勿外传"
STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
ENV_UNIT = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
NAMES = {
    "street:S-1": "新华街道",
    "department:environment": "环境局",
    "department:housing": "住建局",
    "category:noise": "噪音扰民",
    "category:illegal-construction": "违法建设",
}
#: An interim reply (阶段性答复): written for the resident, so it reaches the page as it is.
INTERIM_TEXT = "已约谈施工方，预计本月底前完成整改"
#: A corrected place: another street's grid, with an address that names the resident.
ELSEWHERE = Location(
    grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1", address=f"{RESIDENT_NAME}家楼下"
)
#: What a resident must never read: names, phones, ids of people and units, notes, reasons, results.
SECRETS = (
    RESIDENT_NAME,
    PHONE,
    *STAFF,
    "王建国",
    "13700001111",
    "内部备注",
    "勿外传",
    "op-7",
    "street-staff",
    "env-staff",
    "gw-9",
    "S-1",
    "G-101",
    "C-10",
    "D-1",
    "environment",
    "housing",
    "resident-r1",
    "env-chief",
    "G-201",
    "C-20",
    "S-2",
    "家楼下",
)

DISPATCHER = Actor(role=Role.DISPATCHER, person_id="op-7", name=STAFF[0])
STREET_ACTOR = Actor(role=Role.STREET, person_id="street-staff", unit_id="S-1", name=STAFF[1])
ENV = Actor(role=Role.DEPARTMENT, person_id="env-staff", unit_id="environment", name=STAFF[2])
GRID = Actor(role=Role.GRID_WORKER, person_id="gw-9", unit_id="G-101", name=STAFF[3])
SUPERVISOR = Actor(role=Role.SUPERVISOR, person_id="sv-2", unit_id="D-1", name=STAFF[4])
ENV_REVIEWER = Actor(role=Role.DEPARTMENT, person_id="env-chief", unit_id="environment", name=STAFF[5])


def opened(
    case_id: str = "C1",
    channel: Channel = Channel.HOTLINE,
    category: str = "noise",
    urgency: Urgency = Urgency.ORDINARY,
) -> Case:
    k = Case(case_id)
    k.do(
        c.OpenCase(
            actor=DISPATCHER,
            case_id=case_id,
            channel=channel,
            category=category,
            urgency=urgency,
            title=f"{RESIDENT_NAME}投诉噪音",
            description=f"{RESIDENT_NAME}（电话{PHONE}）反映{NOTE}",
            location=LOCATION,
            contact=ResidentContact(name=RESIDENT_NAME, phone=PHONE),
        )
    )
    return k


def registered(k: Case) -> Case:
    k.do(c.RegisterCase(actor=DISPATCHER, note=NOTE))
    return k


def dispatched(k: Case) -> Case:
    k.later().do(c.DispatchCase(actor=DISPATCHER, unit=STREET, note=NOTE))
    return k


def handling(k: Case) -> Case:
    k.later().do(c.AcceptCase(actor=STREET_ACTOR))
    k.later().do(c.ContactResident(actor=STREET_ACTOR, note=NOTE))
    return k


def whistled(k: Case) -> Case:
    k.later().do(c.BlowWhistle(actor=STREET_ACTOR, tasks=[{"department_id": "environment", "task": NOTE}], reason=NOTE))
    k.later().do(c.ReportIn(actor=ENV, note=NOTE))
    k.later().do(c.CompleteTask(actor=ENV, result=NOTE))
    return k


def resolved(k: Case) -> Case:
    k.later().do(c.ResolveCase(actor=STREET_ACTOR, notes=NOTE))
    return k


def verified(k: Case) -> Case:
    k.later().do(c.VerifyCase(actor=GRID, passed=True, note=NOTE))
    return k


def called_back(k: Case, rating: Rating = Rating.SATISFIED) -> Case:
    k.later().do(c.RecordCallback(actor=DISPATCHER, rating=rating, comment=NOTE))
    return k


def closed(k: Case) -> Case:
    k.later().do(c.CloseCase(actor=DISPATCHER, note=NOTE))
    return k


def through(
    *steps_: Callable[[Case], Case],
    channel: Channel = Channel.HOTLINE,
    category: str = "noise",
    urgency: Urgency = Urgency.ORDINARY,
) -> Callable[[], Case]:
    def build() -> Case:
        k = opened(channel=channel, category=category, urgency=urgency)
        for s in steps_:
            k = s(k)
        return k

    return build


def returned(k: Case) -> Case:
    k.later().do(c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.OTHER, reason=NOTE))
    return k


def redispatched(k: Case) -> Case:
    k.later().do(c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.INSIST, ruling=NOTE))
    return k


def paused(k: Case) -> Case:
    k.later().do(c.PauseForResident(actor=STREET_ACTOR, reason=NOTE))
    return k


def extended(k: Case) -> Case:
    k.later().do(c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(days=2), reason=NOTE))
    k.later().do(c.DecideExtension(actor=SUPERVISOR, approved=True, note=NOTE))
    return k


def reworked(k: Case) -> Case:
    k.later().do(c.VerifyCase(actor=GRID, passed=False, note=NOTE))
    return k


def shelved(k: Case) -> Case:
    k.later().do(c.ShelveCase(actor=DISPATCHER, reason=NOTE))
    return k


def terminated(k: Case) -> Case:
    k.later().do(c.TerminateCase(actor=DISPATCHER, reason=NOTE))
    return k


def rejected(k: Case) -> Case:
    k.do(c.RejectCase(actor=DISPATCHER, reason=NOTE))
    return k


def merged(k: Case) -> Case:
    k.do(c.MergeInto(actor=DISPATCHER, into_case_id="C-OTHER-王建国"))
    return k


def supervised(k: Case) -> Case:
    k.later().do(c.Supervise(actor=SUPERVISOR, level="supervision", note=NOTE))
    k.later().do(c.FileAppeal(actor=STREET_ACTOR, reason=NOTE))
    return k


def to_department(k: Case) -> Case:
    k.later().do(c.DispatchCase(actor=DISPATCHER, unit=ENV_UNIT, note=NOTE))
    k.later().do(c.AcceptCase(actor=ENV))
    k.later().do(c.ContactResident(actor=ENV, note=NOTE))
    return k


def submitted(k: Case) -> Case:
    k.later().do(c.SubmitReply(actor=ENV, notes=NOTE, evidence=[f"{NOTE}.jpg"]))
    return k


def sent_back(k: Case) -> Case:
    k.later().do(c.SendBack(actor=ENV_REVIEWER, reason=NOTE))
    return k


def approved(k: Case) -> Case:
    k.later().do(c.ApproveReply(actor=ENV_REVIEWER, note=NOTE))
    return k


def interim_replied(k: Case) -> Case:
    k.later().do(c.InterimReply(actor=STREET_ACTOR, text=INTERIM_TEXT))
    k.later(3 * 24 * 60).do(c.InterimReply(actor=STREET_ACTOR, text=f"  {INTERIM_TEXT}（续）\n"))
    return k


def reclassified(k: Case) -> Case:
    k.later().do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason=NOTE))
    return k


def made_urgent(k: Case) -> Case:
    k.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason=NOTE))
    return k


def made_ordinary(k: Case) -> Case:
    k.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.ORDINARY, reason=NOTE))
    return k


def readdressed(k: Case) -> Case:
    assert k.state.location is not None
    k.later().do(
        c.Relocate(
            actor=DISPATCHER,
            location=k.state.location.model_copy(update={"address": f"{RESIDENT_NAME}家楼下"}),
            reason=NOTE,
        )
    )
    return k


def moved_away(k: Case) -> Case:
    k.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason=NOTE))
    return k


def breached(k: Case) -> Case:
    k.tick(k.now + timedelta(days=30))  # every clock breached, the whole ladder fired
    return k


CASES: dict[str, Callable[[], Case]] = {
    "received": through(),
    "rejected": through(rejected),
    "registered": through(registered),
    "dispatched": through(registered, dispatched),
    "returned": through(registered, dispatched, returned),
    "redispatched": through(registered, dispatched, returned, redispatched),
    "handling": through(registered, dispatched, handling),
    "handling-whistle": through(registered, dispatched, handling, whistled),
    "handling-paused": through(registered, dispatched, handling, paused),
    "handling-extended": through(registered, dispatched, handling, extended),
    "handling-supervised": through(registered, dispatched, handling, supervised),
    "handling-breached": through(registered, dispatched, handling, breached),
    "handling-rework": through(registered, dispatched, handling, resolved, reworked),
    "handling-reopened": through(
        registered, dispatched, handling, resolved, verified, lambda k: called_back(k, Rating.UNSATISFIED)
    ),
    "resolved": through(registered, dispatched, handling, whistled, resolved),
    "verified": through(registered, dispatched, handling, resolved, verified),
    "called_back": through(registered, dispatched, handling, resolved, verified, called_back),
    "called_back-unreachable": through(
        registered, dispatched, handling, resolved, verified, lambda k: called_back(k, Rating.UNREACHABLE)
    ),
    "shelved": through(registered, dispatched, handling, shelved),
    "closed": through(registered, dispatched, handling, whistled, resolved, verified, called_back, closed),
    "closed-terminated": through(registered, dispatched, terminated),
    "merged": through(merged),
    "web": through(registered, dispatched, handling, resolved, verified, channel=Channel.WEB),
    # internal review (审核签发), interim replies (阶段性答复), corrections (改类, 加急 / 降级, 改址)
    "handling-review": through(registered, to_department, submitted),
    "handling-sent_back": through(registered, to_department, submitted, sent_back),
    "resolved-approved": through(registered, to_department, submitted, sent_back, submitted, approved),
    "handling-interim": through(registered, dispatched, handling, interim_replied, category="illegal-construction"),
    "handling-reclassified": through(registered, dispatched, handling, reclassified),
    "handling-urgent": through(registered, dispatched, handling, made_urgent),
    "handling-ordinary": through(registered, dispatched, handling, made_ordinary, urgency=Urgency.URGENT),
    "handling-readdressed": through(registered, dispatched, handling, readdressed),
    "registered-recalled": through(registered, dispatched, handling, moved_away),
    "received-readdressed": through(readdressed),
}


def _texts(k: Case) -> str:
    p = progress(k.state, k.events, NAMES)
    return json.dumps(asdict(p), ensure_ascii=False, default=str)


def test_the_cases_reach_every_status() -> None:
    reached = {build().state.status for build in CASES.values()}
    assert reached == set(CaseStatus) - {CaseStatus.NEW}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_name_phone_id_or_note_reaches_the_resident(name: str) -> None:
    k = CASES[name]()
    text = _texts(k)
    leaks = [s for s in SECRETS if s in text]
    assert not leaks, f"{name}: {leaks} in {text}"
    assert "None" not in text.replace('"rating": null', "")  # no missing name printed as None


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_status_has_words_and_every_step_a_sentence_in_both_languages(name: str) -> None:
    k = CASES[name]()
    w = status_words(k.state)
    assert w.zh and w.en and w.zh != w.en
    found = steps(k.events, NAMES)
    assert found and found[0].kind == "received"
    assert all(s.zh and s.en for s in found)
    assert [s.at for s in found] == sorted(s.at for s in found)


def test_the_steps_name_units_and_say_what_happened() -> None:
    k = CASES["closed"]()
    said = [s.zh for s in steps(k.events, NAMES)]
    assert said == [
        "已受理您的诉求",
        "已立案",
        "已转交 新华街道 办理",
        "新华街道 已签收，开始办理",
        "承办单位已与您联系",
        "新华街道 已召集 环境局 协同处置",
        "环境局 已到场",
        "环境局 已完成处置",
        "已办结，等待现场核查",
        "现场核查通过，等待回访",
        "已回访：满意",
        "已结案",
    ]


def test_a_unit_the_registry_does_not_name_reads_as_a_generic_phrase_never_as_its_id() -> None:
    k = CASES["handling-whistle"]()
    said = " ".join(s.zh + s.en for s in steps(k.events, {}))
    assert "已转交 承办单位 办理" in said and "相关部门 已到场" in said
    assert "S-1" not in said and "environment" not in said


def test_internal_bookkeeping_is_not_a_step() -> None:
    quiet = {s.kind for s in steps(CASES["handling"]().events, NAMES)}
    noisy = {s.kind for s in steps(CASES["handling-supervised"]().events, NAMES)}
    breached_ = {s.kind for s in steps(CASES["handling-breached"]().events, NAMES)}
    assert noisy == quiet == breached_  # supervision, appeals, warnings, breaches, escalations: none


def test_two_clocks_paused_at_once_are_one_step() -> None:
    kinds = [s.kind for s in steps(CASES["handling-paused"]().events, NAMES)]
    assert kinds.count("paused") == 1


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dispatched", ClockKind.ACCEPT),
        ("returned", ClockKind.RETURN_REVIEW),
        ("handling", ClockKind.RESOLVE),
        ("handling-whistle", ClockKind.RESOLVE),
        ("resolved", ClockKind.VERIFY),
        ("verified", ClockKind.CALLBACK),
        ("handling-reopened", ClockKind.RESOLVE),
        ("handling-review", ClockKind.RESOLVE),  # the review and interim clocks run beside it
        ("handling-interim", ClockKind.RESOLVE),
    ],
)
def test_the_expected_date_is_the_running_clocks_due_date(name: str, kind: ClockKind) -> None:
    k = CASES[name]()
    e = expected(k.state)
    assert e is not None and e.kind == kind and not e.paused
    due = max(c.due_at for c in k.state.running_clocks() if c.kind == kind)
    assert e.due_date == due.astimezone(at("2026-03-02 00:00").tzinfo).date()
    assert isinstance(e.due_date, date) and e.zh and e.en


def test_an_extension_moves_the_expected_date() -> None:
    before = expected(CASES["handling"]().state)
    after = expected(CASES["handling-extended"]().state)
    assert before is not None and after is not None and before.due_date and after.due_date
    assert after.due_date > before.due_date


@pytest.mark.parametrize(
    "name", ["received", "registered", "shelved", "closed", "rejected", "merged", "registered-recalled"]
)
def test_no_date_without_a_running_clock(name: str) -> None:
    assert expected(CASES[name]().state) is None


def test_a_paused_clock_has_no_date() -> None:
    e = expected(CASES["handling-paused"]().state)
    assert e is not None and e.paused and e.due_date is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_rating_is_open_exactly_while_the_callback_is_due(name: str) -> None:
    k = CASES[name]()
    assert rating_open(k.state) == (k.state.status == CaseStatus.VERIFIED)


def test_only_a_residents_own_rating_is_shown() -> None:
    assert progress(CASES["called_back"]().state, [], NAMES).rating == Rating.SATISFIED
    assert progress(CASES["called_back-unreachable"]().state, [], NAMES).rating is None


# --- the resident's callback in the domain --------------------------------------------------------


def public(k: Case) -> Actor:
    return Actor(role=Role.RESIDENT, person_id=resident_person_id(k.state))


def test_the_resident_rates_their_own_case_when_its_callback_is_due() -> None:
    k = CASES["verified"]()
    assert resident_person_id(k.state) == "public:C1"  # a hotline caller has no resident id
    assert "callback" in {a.name for a in available_actions(k.state, public(k), k.now)}
    events = k.do(c.RecordCallback(actor=public(k), rating=Rating.BASICALLY_SATISFIED, comment="谢谢"))
    assert k.state.status == CaseStatus.CALLED_BACK and k.state.rating == Rating.BASICALLY_SATISFIED
    assert not k.state.running_clock(ClockKind.CALLBACK)  # the hotline's callback is done
    assert events[0].actor.role == Role.RESIDENT


def test_an_unsatisfied_resident_reopens_the_case() -> None:
    k = CASES["verified"]()
    k.do(c.RecordCallback(actor=public(k), rating=Rating.UNSATISFIED, resolved=False))
    assert k.state.status == CaseStatus.HANDLING and k.state.reopen_count == 1


def test_a_web_residents_identity_is_their_resident_id() -> None:
    k = CASES["web"]()
    k.state = k.state.model_copy(update={"contact": ResidentContact(resident_id="resident-r1", phone=PHONE)})
    assert resident_person_id(k.state) == "resident-r1"
    with pytest.raises(DomainError) as err:
        decide(
            k.state,
            c.RecordCallback(actor=Actor(role=Role.RESIDENT, person_id="public:C1"), rating=Rating.SATISFIED),
            k.now,
        )
    assert err.value.rule == "jurisdiction.resident"
    k.do(c.RecordCallback(actor=Actor(role=Role.RESIDENT, person_id="resident-r1"), rating=Rating.SATISFIED))
    assert k.state.status == CaseStatus.CALLED_BACK


@pytest.mark.parametrize("name", sorted(set(CASES) - {"verified", "web"}))
def test_a_resident_is_refused_unless_the_case_awaits_its_callback(name: str) -> None:
    k = CASES[name]()
    if k.state.status in (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED):
        rule = "case.finished"
    else:
        rule = "status.not_allowed"
    with pytest.raises(DomainError) as err:
        decide(k.state, c.RecordCallback(actor=public(k), rating=Rating.SATISFIED), k.now)
    assert err.value.rule == rule
    assert "callback" not in {a.name for a in available_actions(k.state, public(k), k.now)}


def test_a_resident_may_not_rate_another_case_nor_say_unreachable() -> None:
    k = CASES["verified"]()
    other = Actor(role=Role.RESIDENT, person_id="public:C2")
    for actor, rating, rule in [
        (other, Rating.SATISFIED, "jurisdiction.resident"),
        (Actor(role=Role.RESIDENT, person_id="resident-1"), Rating.SATISFIED, "jurisdiction.resident"),
        (public(k), Rating.UNREACHABLE, "callback.resident_rating"),
    ]:
        with pytest.raises(DomainError) as err:
            decide(k.state, c.RecordCallback(actor=actor, rating=rating), k.now)
        assert err.value.rule == rule
    assert "callback" not in {a.name for a in available_actions(k.state, other, k.now)}


def test_the_hotlines_callback_is_unchanged() -> None:
    k = CASES["verified"]()
    k.do(c.RecordCallback(actor=DISPATCHER, rating=Rating.UNREACHABLE))
    assert k.state.status == CaseStatus.CALLED_BACK and k.state.rating == Rating.UNREACHABLE


def test_a_patrol_case_has_no_resident_to_rate() -> None:
    k = Case("P1")
    k.do(
        c.OpenCase(
            actor=GRID,
            case_id="P1",
            channel=Channel.GRID_PATROL,
            category="noise",
            title="巡查发现",
            description="巡查发现",
            location=LOCATION,
        )
    )
    assert resident_person_id(k.state) == "public:P1"
    assert not rating_open(k.state)


# --- internal review, interim replies, corrections ------------------------------------------------

#: The events of the work inside the unit and of the hotline's corrections, and the kinds of step
#: each reads as on the resident's page (a recomputed clock only when it is the resolution deadline).
NEW_EVENTS: dict[type[CaseEventBase], set[str]] = {
    ReplySubmitted: {"reply_submitted"},
    ReplySentBack: {"reply_sent_back"},
    ReplyApproved: {"reply_approved"},
    InterimReplied: {"interim_reply"},
    CaseReclassified: {"reclassified"},
    UrgencyChanged: {"urgency_raised", "urgency_lowered"},
    CaseRelocated: {"relocated"},
    ClockRecomputed: {"deadline_changed"},
}


@pytest.mark.parametrize("cls", list(NEW_EVENTS), ids=lambda cls: cls.__name__)
def test_every_new_event_is_reached_here_and_read_as_its_step(cls: type[CaseEventBase]) -> None:
    found = [e for build in CASES.values() for e in build().events if isinstance(e, cls)]
    assert found, f"no case of CASES has a {cls.__name__}: the leak test does not see it"
    kinds: set[str] = set()
    for event in found:
        said = steps([event], NAMES)
        if isinstance(event, ClockRecomputed) and event.kind != ClockKind.RESOLVE:
            assert said == []  # the other deadlines are the offices' own
            continue
        assert len(said) == 1 and said[0].kind in NEW_EVENTS[cls]
        assert said[0].zh and said[0].en and said[0].zh != said[0].en
        kinds.add(said[0].kind)
    assert kinds == NEW_EVENTS[cls]


def test_the_interim_reply_reaches_the_resident_in_its_own_words() -> None:
    k = CASES["handling-interim"]()
    replies = [s for s in steps(k.events, NAMES) if s.kind == "interim_reply"]
    assert [s.zh for s in replies] == [
        f"新华街道 阶段性答复（第 1 次）：{INTERIM_TEXT}",
        f"新华街道 阶段性答复（第 2 次）：{INTERIM_TEXT}（续）",
    ]
    assert [s.en for s in replies] == [
        f"interim reply #1 from 新华街道: {INTERIM_TEXT}",
        f"interim reply #2 from 新华街道: {INTERIM_TEXT}（续）",
    ]
    unnamed = [s.zh for s in steps(k.events, {}) if s.kind == "interim_reply"]
    assert all(t.startswith("承办单位 阶段性答复") for t in unnamed) and len(unnamed) == 2
    assert INTERIM_TEXT in _texts(k)


def test_the_review_is_told_without_who_reviewed_or_why() -> None:
    k = CASES["resolved-approved"]()
    kinds = [s.kind for s in steps(k.events, NAMES)]
    after_contact = kinds[kinds.index("contacted") + 1 :]
    assert after_contact == ["reply_submitted", "reply_sent_back", "reply_submitted", "reply_approved", "resolved"]
    assert status_words(CASES["handling-review"]().state).zh == "办理结果审核中"
    assert status_words(CASES["handling-sent_back"]().state).zh == "正在办理"  # back with the handler
    assert k.state.status == CaseStatus.RESOLVED and k.state.approved_by == ENV_REVIEWER.person_id
    assert ENV_REVIEWER.person_id not in _texts(k) and STAFF[5] not in _texts(k)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("handling-reclassified", "reclassified"),
        ("handling-urgent", "urgency_raised"),
        ("handling-ordinary", "urgency_lowered"),
    ],
)
def test_a_correction_is_a_step_and_its_new_deadline_the_expected_date(name: str, kind: str) -> None:
    k = CASES[name]()
    said = steps(k.events, NAMES)
    assert kind in [s.kind for s in said]
    (moved,) = [e for e in k.events if isinstance(e, ClockRecomputed) and e.kind == ClockKind.RESOLVE]
    (step,) = [s for s in said if s.kind == "deadline_changed"]
    assert ("延长" in step.zh) == (moved.due_at > moved.previous_due_at)
    assert ("缩短" in step.zh) == (moved.due_at < moved.previous_due_at)
    e = expected(k.state)
    assert e is not None and e.kind == ClockKind.RESOLVE and e.due_date == local_date(moved.due_at)


def test_a_reclassification_names_the_new_category_from_the_catalogue_or_nothing() -> None:
    k = CASES["handling-reclassified"]()
    (named,) = [s for s in steps(k.events, NAMES) if s.kind == "reclassified"]
    assert named.zh == "诉求类别已更正为「违法建设」"
    (bare,) = [s for s in steps(k.events, {}) if s.kind == "reclassified"]
    assert bare.zh == "诉求类别已更正" and "illegal-construction" not in bare.zh + bare.en


def test_a_relocation_says_the_place_was_corrected_and_a_recall_that_the_unit_is_chosen_again() -> None:
    kept = CASES["handling-readdressed"]()
    assert kept.state.status == CaseStatus.HANDLING
    assert [s.zh for s in steps(kept.events, NAMES) if s.kind == "relocated"] == ["诉求地点已更正"]
    recalled = CASES["registered-recalled"]()
    assert recalled.state.status == CaseStatus.REGISTERED and recalled.state.unit is None
    said = steps(recalled.events, NAMES)
    assert said[-1].kind == "relocated" and said[-1].zh == "诉求地点已更正，正在重新确定承办单位"
    assert status_words(recalled.state).zh == "已立案，正在确定承办单位"
    assert expected(recalled.state) is None  # the unit's clocks went with it


def test_property_companies_and_volunteers_are_steps_the_resident_reads() -> None:
    """下派物业, a company's return, a company summoned and volunteers helping: each is a sentence in both
    languages naming the company by name (or generically), never by its id; a released call is no step."""
    from tests.unit.test_sim_plan import _stream, play_in_registry
    from workers.sim.config import Behaviour, SimConfig

    cfg = SimConfig(behaviour=Behaviour(delegate=0.6, property_return=0.4, whistle_property=0.8, volunteers=0.7))
    plans = [p for p in _stream(29, 120, cfg) if p.scenario.has_resident]
    kinds: set[str] = set()
    for plan in plans:
        _, timeline = play_in_registry(plan)
        companies = {
            e.unit.id for e in timeline if isinstance(e, CaseDispatched) and e.unit.kind == UnitKind.PROPERTY
        } | {
            t.department_id
            for e in timeline
            if isinstance(e, WhistleBlown)
            for t in e.tasks
            if t.unit_kind == UnitKind.PROPERTY
        }
        named = {f"property:{c}": f"{c}号物业" for c in companies}
        for names in ({}, named):
            found = steps(timeline, names)
            assert all(s.zh and s.en for s in found)
            text = " ".join(s.zh + " " + s.en for s in found)
            for company in companies:
                if names:
                    assert f"{company}号物业" in text, plan.case_id
                assert company not in text.replace(f"{company}号物业", ""), (plan.case_id, text)
            kinds |= {s.kind for s in found}
        if "volunteers_released" in plan.features:
            assert "volunteers_released" not in {s.kind for s in steps(timeline, {})}
    assert {"delegated", "volunteers_called", "volunteers_reported"} <= kinds
    said = {s.zh for p in plans for s in steps(play_in_registry(p)[1], {})}
    assert "已交由 物业服务企业 具体办理" in said
    assert any(z.startswith("由 承办单位 继续办理") for z in said)  # returned by the company to the street
    assert any("物业服务企业" in z and "召集" in z for z in said)
    assert "社区志愿者已完成协助" in said
