"""A case's progress as its resident reads it: plain words, nothing internal (pure).

The resident's progress page (``POST /public/track``) shows where the case stands, the steps so far
and the date to expect, in Chinese and English. What it says comes only from the kind of each
event, the names of the *units* involved (``新华街道``, ``环境局``, from the city registry), the
catalogue's name of a corrected category and the clocks' due dates. It never carries a person's
name or phone (the resident's, or a staff member's: no actor is read, nor who submitted, approved
or sent back a reply), a unit id, a free-text note, reason, result, ruling or comment, or the
internal bookkeeping (SLA warnings, escalations, appeals, duplicates, extension requests).

The one free text it shows is an interim reply's (阶段性答复, ``case.interim_replied``): the handling
unit writes it *to the resident*, to say how far a long case has got. The internal review of a
reply (报审, 退回重办, 审核签发) and the hotline's corrections (改类, 加急 / 降级, 改址, and the deadline
they moved) are steps in fixed words, without the reviewer, the reply's notes or the reason.

* :func:`progress` — the whole answer for one case;
* :func:`status_words` — the status in words;
* :func:`steps` — the steps so far, one sentence each (repeats at the same step collapse);
* :func:`expected` — the running clock that says when the next result is due, as a local date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from events.base import CaseEventBase, UnitKind, UnitRef
from events.schemas import (
    CallbackRecorded,
    CaseAccepted,
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
    ClockKind,
    ClockPaused,
    ClockRecomputed,
    ClockResumed,
    DepartmentReportedIn,
    DepartmentTaskCompleted,
    ExtensionDecided,
    InterimReplied,
    Rating,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    ResidentContacted,
    ReworkOrdered,
    Urgency,
    UrgencyChanged,
    VolunteersCalled,
    VolunteersReported,
    WhistleBlown,
)
from events.times import CITY_TZ, as_utc
from workflows.domain.state import TERMINAL, CaseState, CaseStatus
from workflows.sla.clocks import Clock

#: Ratings a resident gives online (``unreachable`` is the hotline's note that nobody answered).
RESIDENT_RATINGS = (Rating.SATISFIED, Rating.BASICALLY_SATISFIED, Rating.UNSATISFIED)

_RATING_WORDS = {
    Rating.SATISFIED: ("满意", "satisfied"),
    Rating.BASICALLY_SATISFIED: ("基本满意", "basically satisfied"),
    Rating.UNSATISFIED: ("不满意", "unsatisfied"),
}


@dataclass(frozen=True)
class Words:
    """One text in both languages."""

    zh: str
    en: str


@dataclass(frozen=True)
class Step:
    """One step of the case: when, what kind (``received``, ``dispatched``...), and its sentence."""

    at: datetime
    kind: str
    zh: str
    en: str


@dataclass(frozen=True)
class Expected:
    """When the next result is due: the clock's kind, its due date (local) and whether it is paused."""

    kind: ClockKind
    due_date: date | None
    paused: bool
    zh: str
    en: str


@dataclass(frozen=True)
class Progress:
    case_id: str
    status: CaseStatus
    status_words: Words
    steps: list[Step]
    expected: Expected | None
    rating_open: bool
    rating: Rating | None
    finished: bool


# --- the status ----------------------------------------------------------------------------------

_STATUS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.NEW: ("尚未受理", "not received yet"),
    CaseStatus.RECEIVED: ("已受理，等待审核", "received, being reviewed"),
    CaseStatus.REJECTED: ("不予受理", "not accepted"),
    CaseStatus.REGISTERED: ("已立案，正在确定承办单位", "registered, the handling unit is being chosen"),
    CaseStatus.DISPATCHED: ("已转交承办单位，等待签收", "sent to the handling unit, waiting for it to take it up"),
    CaseStatus.RETURNED: ("正在重新确定承办单位", "the right handling unit is being chosen again"),
    CaseStatus.HANDLING: ("正在办理", "being handled"),
    CaseStatus.RESOLVED: ("已办结，等待现场核查", "resolved, waiting for a check on site"),
    CaseStatus.VERIFIED: ("已办结，等待回访", "resolved, waiting for your rating"),
    CaseStatus.CALLED_BACK: ("已回访，等待结案", "rated, about to be closed"),
    CaseStatus.SHELVED: ("暂时无法解决，已挂账跟踪", "cannot be solved for now; kept on the register"),
    CaseStatus.CLOSED: ("已结案", "closed"),
    CaseStatus.MERGED: ("已与相同诉求合并办理", "handled together with the same request"),
}


def status_words(state: CaseState) -> Words:
    """The case's status as a resident reads it."""
    if state.status == CaseStatus.CLOSED and state.terminated:
        return Words("已终止办理", "handling was stopped")
    if state.status == CaseStatus.HANDLING and _paused(state):
        return Words("等待您补充信息，计时暂停", "waiting for information from you; the clock is paused")
    if state.status == CaseStatus.HANDLING and state.pending_reply is not None:
        return Words("办理结果审核中", "the result of the handling is being reviewed")
    if state.status == CaseStatus.HANDLING and state.reopen_count:  # reopened by an unsatisfied rating
        return Words("正在重新办理", "being handled again")
    zh, en = _STATUS[state.status]
    return Words(zh, en)


def _paused(state: CaseState) -> bool:
    return any(c.paused_at is not None for c in state.running_clocks())


# --- the steps -----------------------------------------------------------------------------------


class _Names:
    """Unit names from the registry; a unit the registry does not name reads as a generic phrase
    (an id is no use to a resident)."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def unit(self, unit: UnitRef) -> Words | None:
        if unit.kind == UnitKind.HOTLINE:
            return Words("12345热线", "the 12345 hotline")
        name = self.names.get(unit.key())
        return Words(name, name) if name else None

    def category(self, code: str) -> Words | None:
        name = self.names.get(f"category:{code}")
        return Words(name, name) if name else None

    def department(self, department_id: str) -> Words | None:
        return self.unit(UnitRef(kind=UnitKind.DEPARTMENT, id=department_id))

    def summoned(self, unit_id: str, kind: UnitKind) -> Words:
        """A unit a whistle summoned: a department or a property company, by name or generically."""
        if kind == UnitKind.PROPERTY:
            return _or(self.unit(UnitRef(kind=kind, id=unit_id)), "物业服务企业", "the property company")
        return _or(self.department(unit_id), "相关部门", "a department")

    def street(self, street_id: str) -> Words | None:
        return self.unit(UnitRef(kind=UnitKind.STREET, id=street_id))


def _or(w: Words | None, zh: str, en: str) -> Words:
    return w if w is not None else Words(zh, en)


def _join(words: list[Words]) -> Words:
    return Words("、".join(w.zh for w in words), ", ".join(w.en for w in words))


def _step(event: CaseEventBase, n: _Names) -> tuple[str, Words] | None:
    """The kind and sentence of ``event``; ``None`` for events a resident has no use for."""
    match event:
        case CaseReceived():
            return "received", Words("已受理您的诉求", "your request was received")
        case CaseRejected():
            return "rejected", Words(
                "经审核不予受理，详情请致电 12345", "not accepted after review; call 12345 for details"
            )
        case CaseRegistered():
            return "registered", Words("已立案", "registered for handling")
        case CaseDispatched(by=by) if by is not None:  # 下派物业: the street or community stays answerable
            u = _or(n.unit(event.unit), "物业服务企业", "the property company")
            return "delegated", Words(f"已交由 {u.zh} 具体办理", f"passed to {u.en} to handle")
        case CaseDispatched():
            u = _or(n.unit(event.unit), "承办单位", "the handling unit")
            return "dispatched", Words(f"已转交 {u.zh} 办理", f"sent to {u.en} to handle")
        case CaseReturned(to=to) if to is not None:
            u = _or(n.unit(to), "承办单位", "the handling unit")
            return "returned", Words(f"由 {u.zh} 继续办理", f"{u.en} handles it again")
        case CaseReturned():
            return "returned", Words("正在重新确定承办单位", "the right handling unit is being chosen again")
        case CaseAccepted():
            u = _or(n.unit(event.unit), "承办单位", "the handling unit")
            return "accepted", Words(f"{u.zh} 已签收，开始办理", f"{u.en} took the case up")
        case ResidentContacted():
            return "contacted", Words("承办单位已与您联系", "the handling unit contacted you")
        case WhistleBlown():
            street = _or(n.street(event.street_id), "街道", "the street office")
            depts = [n.summoned(t.department_id, t.unit_kind) for t in event.tasks]
            d = _join(list(dict.fromkeys(depts)))
            return "whistle", Words(f"{street.zh} 已召集 {d.zh} 协同处置", f"{street.en} called in {d.en} to help")
        case DepartmentReportedIn():
            u = n.summoned(event.department_id, event.unit_kind)
            return "reported_in", Words(f"{u.zh} 已到场", f"{u.en} arrived")
        case DepartmentTaskCompleted():
            u = n.summoned(event.department_id, event.unit_kind)
            return "task_completed", Words(f"{u.zh} 已完成处置", f"{u.en} finished its part")
        case VolunteersCalled():
            return "volunteers_called", Words("社区志愿者已前来协助", "community volunteers came to help")
        case VolunteersReported():
            return "volunteers_reported", Words("社区志愿者已完成协助", "the community volunteers finished helping")
        case ReplySubmitted():
            return "reply_submitted", Words("办理结果已提交审核", "the result of the handling is being reviewed")
        case ReplySentBack():
            return "reply_sent_back", Words(
                "经审核需进一步办理，继续办理中", "after review it needs more work; handling goes on"
            )
        case ReplyApproved():
            return "reply_approved", Words("办理结果已审核通过", "the result of the handling was approved")
        case InterimReplied():
            u = _or(n.unit(event.unit), "承办单位", "the handling unit")
            text = event.text.strip()
            return "interim_reply", Words(
                f"{u.zh} 阶段性答复（第 {event.number} 次）：{text}",
                f"interim reply #{event.number} from {u.en}: {text}",
            )
        case CaseReclassified():
            cat = n.category(event.category)
            if cat is None:
                return "reclassified", Words("诉求类别已更正", "the category of your request was corrected")
            return "reclassified", Words(
                f"诉求类别已更正为「{cat.zh}」", f"the category of your request was corrected to “{cat.en}”"
            )
        case UrgencyChanged(urgency=Urgency.URGENT):
            return "urgency_raised", Words("已调整为紧急办理", "it is now handled as urgent")
        case UrgencyChanged():
            return "urgency_lowered", Words("已调整为普通办理", "it is now handled as an ordinary request")
        case CaseRelocated(recalled=True):
            return "relocated", Words(
                "诉求地点已更正，正在重新确定承办单位",
                "the place of your request was corrected; the handling unit is being chosen again",
            )
        case CaseRelocated():
            return "relocated", Words("诉求地点已更正", "the place of your request was corrected")
        case ClockRecomputed(kind=ClockKind.RESOLVE) if event.due_at != event.previous_due_at:
            if event.due_at > event.previous_due_at:
                return "deadline_changed", Words(
                    "办理期限已随更正延长", "the time to handle it was lengthened with the correction"
                )
            return "deadline_changed", Words(
                "办理期限已随更正缩短", "the time to handle it was shortened with the correction"
            )
        case CaseResolved():
            return "resolved", Words("已办结，等待现场核查", "resolved; a check on site follows")
        case CaseVerified(passed=True):
            return "verified", Words("现场核查通过，等待回访", "checked on site; your rating is next")
        case CaseVerified():
            return "verify_failed", Words("现场核查未通过，需重新办理", "the check on site failed: it is handled again")
        case ReworkOrdered():
            u = _or(n.unit(event.unit), "承办单位", "the handling unit")
            return "rework", Words(f"已退回 {u.zh} 重新办理", f"sent back to {u.en} to handle again")
        case CallbackRecorded(rating=Rating.UNREACHABLE):
            return "callback_unreachable", Words(
                "回访时未能联系上您", "the hotline could not reach you for your rating"
            )
        case CallbackRecorded():
            zh, en = _RATING_WORDS[event.rating]
            return "rated", Words(f"已回访：{zh}", f"rated: {en}")
        case CaseReopened():
            return "reopened", Words("根据您的评价重新办理", "handled again after your rating")
        case ExtensionDecided(approved=True):
            return "extended", Words("办理期限已延长", "the time to handle it was extended")
        case ClockPaused(kind=ClockKind.RESOLVE | ClockKind.CONTACT):
            return "paused", Words("等待您补充信息，计时暂停", "waiting for information from you; the clock is paused")
        case ClockResumed(kind=ClockKind.RESOLVE | ClockKind.CONTACT):
            return "resumed", Words("已恢复办理", "handling resumed")
        case CaseShelved():
            return "shelved", Words("暂时无法解决，已挂账跟踪", "cannot be solved for now; kept on the register")
        case CaseUnshelved():
            return "unshelved", Words("已恢复办理", "handling resumed")
        case CaseTerminated():
            return "terminated", Words("经审核终止办理", "handling was stopped after review")
        case CaseMerged():
            return "merged", Words("已与相同诉求合并办理", "handled together with the same request")
        case CaseClosed():
            return "closed", Words("已结案", "closed")
    return None


def steps(events: Sequence[CaseEventBase], names: Mapping[str, str] | None = None) -> list[Step]:
    """The steps so far, oldest first; the same sentence twice in a row (two clocks paused at once,
    a re-dispatch to the same unit) is said once."""
    n = _Names(names or {})
    out: list[Step] = []
    for event in events:
        found = _step(event, n)
        if found is None:
            continue
        kind, w = found
        if out and out[-1].kind == kind and out[-1].zh == w.zh:
            continue
        out.append(Step(at=as_utc(event.occurred_at), kind=kind, zh=w.zh, en=w.en))
    return out


# --- the expected date ---------------------------------------------------------------------------

#: Which running clock answers "when?": the resolution deadline first, then the step after it.
_EXPECTED_ORDER = (
    ClockKind.RESOLVE,
    ClockKind.VERIFY,
    ClockKind.CALLBACK,
    ClockKind.ACCEPT,
    ClockKind.RETURN_REVIEW,
    ClockKind.CONTACT,
    ClockKind.REPORT_IN,
    ClockKind.REPLY_REVIEW,
    ClockKind.INTERIM_REPLY,
)

_EXPECTED_WORDS: dict[ClockKind, tuple[str, str]] = {
    ClockKind.RESOLVE: ("预计办结日期", "expected to be resolved by"),
    ClockKind.VERIFY: ("预计核查日期", "expected to be checked on site by"),
    ClockKind.CALLBACK: ("预计回访日期", "your rating is expected by"),
    ClockKind.ACCEPT: ("预计签收日期", "expected to be taken up by"),
    ClockKind.RETURN_REVIEW: ("预计重新分派日期", "expected to be sent on again by"),
    ClockKind.CONTACT: ("预计联系您的日期", "expected to contact you by"),
    ClockKind.REPORT_IN: ("预计部门到场日期", "departments expected to arrive by"),
    ClockKind.REPLY_REVIEW: ("预计审核完成日期", "the review of the result is expected by"),
    ClockKind.INTERIM_REPLY: ("预计下次阶段性答复日期", "the next interim reply is expected by"),
}


def local_date(when: datetime) -> date:
    return as_utc(when).astimezone(CITY_TZ).date()


def expected(state: CaseState) -> Expected | None:
    """The running clock that says when the next result is due, as a local date; ``None`` when no
    clock runs (a finished or shelved case). A paused clock has no date until it resumes."""
    if state.status in TERMINAL:
        return None
    running: dict[ClockKind, list[Clock]] = {}
    for clock in state.running_clocks():
        running.setdefault(clock.kind, []).append(clock)
    for kind in _EXPECTED_ORDER:
        clocks = running.get(kind)
        if not clocks:
            continue
        clock = max(clocks, key=lambda c: c.due_at)
        zh, en = _EXPECTED_WORDS[kind]
        paused = clock.paused_at is not None
        return Expected(kind=kind, due_date=None if paused else local_date(clock.due_at), paused=paused, zh=zh, en=en)
    return None


# --- the whole answer ----------------------------------------------------------------------------


def rating_open(state: CaseState) -> bool:
    """Whether the resident may rate the case online now: it awaits its callback (回访)."""
    return state.status == CaseStatus.VERIFIED and state.has_resident


def progress(state: CaseState, events: Sequence[CaseEventBase], names: Mapping[str, str] | None = None) -> Progress:
    """The case's progress for its resident (see the module's rules on what it never says)."""
    return Progress(
        case_id=state.case_id,
        status=state.status,
        status_words=status_words(state),
        steps=steps(events, names),
        expected=expected(state),
        rating_open=rating_open(state),
        rating=state.rating if state.rating in RESIDENT_RATINGS else None,
        finished=state.status in TERMINAL,
    )
