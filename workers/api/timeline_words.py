"""A case's timeline in words: one Chinese and one English sentence per event (pure).

``环境局 报到 — 超时 12 分钟`` / ``环境局 reported in — 12 min late``: who did what, to which unit,
and how it stood against its clock. The sentences are built from the events alone (the clocks'
due times come from the ``sla.*`` events before them) and from a mapping of display names
(``street:S-0101`` → ``泰结街道``) that the caller looks up in the city registry, so the same
events and names always give the same words.

An action that stops a clock is followed, at the same instant, by its ``sla.clock_stopped``
events; the action's sentence carries their verdict (on time, or late by how much). Durations are
in policy time: on a case running on compressed time (``time_scale`` wall-clock seconds per policy
hour) a wall-clock span stands for ``seconds × 3600 / time_scale``, as in the read model's KPIs.

The module lives with the API because its input is the workflow's events; the command line's audit
trail works on read-model rows (:mod:`readmodel.timeline`) and keeps its own columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import (
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
)
from events.times import city_time
from workflows.domain.state import ROLE_UNIT

#: Longest free text (a reason, a result) quoted in a sentence.
QUOTE_LIMIT = 120


class Tone(StrEnum):
    """How an entry stands against its clock (the page colours it)."""

    INFO = "info"  # no clock involved
    ON_TIME = "on_time"  # stopped a clock before its due time
    LATE = "late"  # stopped a clock after its due time
    WARNED = "warned"  # a clock's warning threshold passed
    BREACHED = "breached"  # a clock's due time passed
    ESCALATED = "escalated"  # 催办 / 督办 / 通报


@dataclass(frozen=True)
class Words:
    """One event in words."""

    zh: str
    en: str
    tone: Tone = Tone.INFO
    #: Clock bookkeeping (a clock started, stopped, paused...) that an action's own sentence
    #: already tells, or that only matters to an audit: the page may fold it away.
    minor: bool = False


# --- vocabulary --------------------------------------------------------------------------------

CLOCK_ZH = {
    ClockKind.ACCEPT: "签收",
    ClockKind.CONTACT: "响应",
    ClockKind.REPORT_IN: "报到",
    ClockKind.RESOLVE: "办结",
    ClockKind.VERIFY: "核查",
    ClockKind.CALLBACK: "回访",
    ClockKind.RETURN_REVIEW: "退单审核",
    ClockKind.REPLY_REVIEW: "审核签发",
    ClockKind.INTERIM_REPLY: "阶段性答复",
}
CLOCK_EN = {
    ClockKind.ACCEPT: "acceptance",
    ClockKind.CONTACT: "first-contact",
    ClockKind.REPORT_IN: "report-in",
    ClockKind.RESOLVE: "resolution",
    ClockKind.VERIFY: "verification",
    ClockKind.CALLBACK: "callback",
    ClockKind.RETURN_REVIEW: "return-review",
    ClockKind.REPLY_REVIEW: "reply-review",
    ClockKind.INTERIM_REPLY: "interim-reply",
}
#: How a correction recomputed a running clock (``sla.clock_recomputed``'s ``mode``).
RECOMPUTE_ZH = {
    RecomputeMode.RETROACTIVE: "追溯重算（按新规则自起算时计）",
    RecomputeMode.FROM_NOW: "自更正时起重新计时（新规则的全部时限）",
}
RECOMPUTE_EN = {
    RecomputeMode.RETROACTIVE: "recomputed retroactively (as if the new rule had held from the start)",
    RecomputeMode.FROM_NOW: "restarted from the correction (the new rule's whole budget)",
}
#: The correction that recomputed a clock (``sla.clock_recomputed``'s ``cause``, an event type).
CAUSE_ZH = {"case.reclassified": "改类", "case.urgency_changed": "紧急程度调整", "case.relocated": "改址"}
CAUSE_EN = {
    "case.reclassified": "the reclassification",
    "case.urgency_changed": "the change of urgency",
    "case.relocated": "the relocation",
}
CHANNEL_ZH = {
    Channel.HOTLINE: "热线来电",
    Channel.WEB: "网上诉求",
    Channel.GRID_PATROL: "网格巡查上报",
    Channel.PROACTIVE: "主动发现",
}
CHANNEL_EN = {
    Channel.HOTLINE: "hotline",
    Channel.WEB: "web",
    Channel.GRID_PATROL: "grid-patrol",
    Channel.PROACTIVE: "proactive",
}
URGENCY_ZH = {Urgency.URGENT: "紧急", Urgency.ORDINARY: "普通"}
URGENCY_EN = {Urgency.URGENT: "urgent", Urgency.ORDINARY: "ordinary"}
REASON_ZH = {
    ReturnReason.TERRITORY_MISMATCH: "属地不符",
    ReturnReason.UNCLEAR_OWNERSHIP: "权属不清",
    ReturnReason.OVERLAPPING_DUTIES: "职能交叉",
    ReturnReason.OTHER: "其他",
}
REASON_EN = {
    ReturnReason.TERRITORY_MISMATCH: "territory mismatch",
    ReturnReason.UNCLEAR_OWNERSHIP: "unclear ownership",
    ReturnReason.OVERLAPPING_DUTIES: "overlapping duties",
    ReturnReason.OTHER: "other",
}
RATING_ZH = {
    Rating.SATISFIED: "满意",
    Rating.BASICALLY_SATISFIED: "基本满意",
    Rating.UNSATISFIED: "不满意",
    Rating.UNREACHABLE: "无法联系",
}
RATING_EN = {
    Rating.SATISFIED: "satisfied",
    Rating.BASICALLY_SATISFIED: "basically satisfied",
    Rating.UNSATISFIED: "unsatisfied",
    Rating.UNREACHABLE: "unreachable",
}
CLOSURE_ZH = {
    ClosureType.NORMAL: "正常",
    ClosureType.OVERDUE: "超时",
    ClosureType.ERROR: "差错",
    ClosureType.SPECIAL: "特殊",
}
CLOSURE_EN = {
    ClosureType.NORMAL: "normal",
    ClosureType.OVERDUE: "overdue",
    ClosureType.ERROR: "error",
    ClosureType.SPECIAL: "special",
}
LEVEL_ZH = {
    EscalationLevel.REMINDER: "催办",
    EscalationLevel.SUPERVISION: "督办",
    EscalationLevel.PUBLIC_NOTICE: "通报",
}
LEVEL_EN = {
    EscalationLevel.REMINDER: "a reminder (催办)",
    EscalationLevel.SUPERVISION: "supervision (督办)",
    EscalationLevel.PUBLIC_NOTICE: "a public notice (通报)",
}
_ROLE_UNIT = ROLE_UNIT


def actor_unit_key(actor: Actor) -> str | None:
    """The name key of the unit the actor acts for (``department:environment``, ``community:C-1``,
    ``district:D-01``), or ``None`` (the hotline, a resident, the system, the city)."""
    if not actor.unit_id:
        return None
    if actor.role in _ROLE_UNIT:
        return f"{_ROLE_UNIT[actor.role].value}:{actor.unit_id}"
    if actor.role == Role.COMMUNITY:
        return f"community:{actor.unit_id}"
    if actor.role == Role.SUPERVISOR and actor.unit_id != "city":
        return f"district:{actor.unit_id}"
    return None


# --- durations ---------------------------------------------------------------------------------


def span(seconds: float, lang: str = "zh") -> str:
    """A span in words, as the workspace writes it: ``1 天 3 小时``, ``2 小时 13 分钟``, ``12 分钟``,
    ``不到 1 分钟`` (English: ``1 d 3 h``, ``2 h 13 min``, ``12 min``, ``under 1 min``); sign dropped."""
    total = int(abs(seconds) // 60)
    d, h, m = total // 1440, (total % 1440) // 60, total % 60
    zh = lang == "zh"
    if d:
        return f"{d} 天" + (f" {h} 小时" if h else "") if zh else f"{d} d" + (f" {h} h" if h else "")
    if h:
        return f"{h} 小时" + (f" {m} 分钟" if m else "") if zh else f"{h} h" + (f" {m} min" if m else "")
    if m:
        return f"{m} 分钟" if zh else f"{m} min"
    return "不到 1 分钟" if zh else "under 1 min"


def policy_seconds(wall_seconds: float, time_scale: float | None) -> float:
    """The policy time that ``wall_seconds`` stand for (compressed time: ``× 3600 / time_scale``)."""
    return wall_seconds * 3600.0 / time_scale if time_scale else wall_seconds


def _quote(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def _zh_tail(text: str | None) -> str:
    q = _quote(text)
    return f"：{q}" if q else ""


def _en_tail(text: str | None) -> str:
    q = _quote(text)
    return f": {q}" if q else ""


# --- the fold ----------------------------------------------------------------------------------


@dataclass
class _Clock:
    kind: ClockKind
    unit: UnitRef
    due_at: datetime


@dataclass(frozen=True)
class _Verdict:
    """How the clocks an action stopped stood: on time, or late by ``late_seconds`` (policy time)."""

    late: bool
    late_seconds: float | None = None

    def zh(self) -> str:
        if not self.late:
            return " — 按时"
        return f" — 超时 {span(self.late_seconds)}" if self.late_seconds is not None else " — 超时"

    def en(self) -> str:
        if not self.late:
            return " — on time"
        return f" — {span(self.late_seconds, 'en')} late" if self.late_seconds is not None else " — late"

    @property
    def tone(self) -> Tone:
        return Tone.LATE if self.late else Tone.ON_TIME


class _Speaker:
    """Names and clock state while the events are read in order."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names
        self.clocks: dict[str, _Clock] = {}
        self.time_scale: float | None = None

    # names
    def unit(self, ref: UnitRef, lang: str = "zh") -> str:
        if ref.kind == UnitKind.HOTLINE:
            return "12345 热线" if lang == "zh" else "the 12345 hotline"
        name = self.names.get(ref.key())
        if name:
            return name
        if ref.kind == UnitKind.GRID:
            return f"网格 {ref.id}" if lang == "zh" else f"grid {ref.id}"
        return ref.id

    def department(self, department_id: str, lang: str = "zh") -> str:
        return self.unit(UnitRef(kind=UnitKind.DEPARTMENT, id=department_id), lang)

    def street(self, street_id: str, lang: str = "zh") -> str:
        return self.unit(UnitRef(kind=UnitKind.STREET, id=street_id), lang)

    def category(self, code: str) -> str:
        return self.names.get(f"category:{code}") or code

    def place(self, loc: Location, other: Location, lang: str = "zh") -> str:
        """``loc`` as a correction names it beside ``other`` (the place before or after): its grid
        and address, and its street when the street differs."""
        parts = []
        if loc.street_id != other.street_id:
            parts.append(self.street(loc.street_id, lang))
        parts.append(self.unit(UnitRef(kind=UnitKind.GRID, id=loc.grid_id), lang))
        text = " ".join(parts)
        address = _quote(loc.address)
        if address and address != parts[-1]:
            text += f"（{address}）" if lang == "zh" else f" ({address})"
        return text

    def who(self, actor: Actor, lang: str = "zh") -> str:
        zh = lang == "zh"
        key = actor_unit_key(actor)
        name = self.names.get(key) if key else None
        unit = name or actor.unit_id or ""
        match actor.role:
            case Role.DISPATCHER:
                return "12345 热线" if zh else "The 12345 hotline"
            case Role.RESIDENT:
                return "市民" if zh else "The resident"
            case Role.SYSTEM:
                return "系统" if zh else "The system"
            case Role.GRID_WORKER:
                return (
                    (f"网格员（{unit}）" if zh else f"The grid worker ({unit})")
                    if unit
                    else ("网格员" if zh else "The grid worker")
                )
            case Role.SUPERVISOR:
                if actor.unit_id in (None, "city"):
                    return "市级监督员" if zh else "The city supervisor"
                return f"{unit}监督员" if zh else f"The supervisor of {unit}"
            case Role.COMMUNITY | Role.STREET | Role.DEPARTMENT:
                fallback = {
                    Role.COMMUNITY: ("社区", "The community"),
                    Role.STREET: ("街道", "The street office"),
                    Role.DEPARTMENT: ("部门", "The department"),
                }[actor.role]
                return unit or (fallback[0] if zh else fallback[1])
        return actor.role.value  # pragma: no cover - every role has its arm

    # clocks
    def clock_of(self, clock_id: str, kind: ClockKind, unit: UnitRef | None = None) -> tuple[str, str]:
        """``生态环境分局 报到时限`` / ``the report-in clock of 生态环境分局``."""
        known = self.clocks.get(clock_id)
        ref = unit or (known.unit if known else None)
        if ref is None:
            return f"{CLOCK_ZH[kind]}时限", f"the {CLOCK_EN[kind]} clock"
        return f"{self.unit(ref)} {CLOCK_ZH[kind]}时限", f"the {CLOCK_EN[kind]} clock of {self.unit(ref, 'en')}"

    def late_by(self, clock_id: str, at: datetime) -> float | None:
        known = self.clocks.get(clock_id)
        if known is None:
            return None
        return max(0.0, policy_seconds((at - known.due_at).total_seconds(), self.time_scale))

    def note_clock(self, event: CaseEventBase) -> None:
        scale = getattr(event, "time_scale", None)
        if isinstance(scale, float | int) and scale > 0:
            self.time_scale = float(scale)
        if isinstance(event, ClockStarted):
            self.clocks[event.clock_id] = _Clock(event.kind, event.unit, event.due_at)
        elif isinstance(event, ClockResumed | ClockExtended | ClockRecomputed) and event.clock_id in self.clocks:
            self.clocks[event.clock_id].due_at = event.due_at

    def verdict(self, stopped: Sequence[ClockStopped]) -> _Verdict | None:
        """The verdict of the clocks an action stopped (cancelled ones do not count)."""
        counted = [s for s in stopped if s.outcome != ClockOutcome.CANCELLED]
        if not counted:
            return None
        late = [s for s in counted if s.outcome == ClockOutcome.LATE]
        if not late:
            return _Verdict(late=False)
        spans = [x for s in late if (x := self.late_by(s.clock_id, s.occurred_at)) is not None]
        return _Verdict(late=True, late_seconds=max(spans) if spans else None)

    def due(self, due_at: datetime) -> str:
        return city_time(due_at, "%m-%d %H:%M")


def _stopped_after(events: Sequence[CaseEventBase], i: int) -> list[ClockStopped]:
    """The clocks stopped by the action ``events[i]``: the ``sla.clock_stopped`` / ``started`` events
    right after it, at the same instant."""
    out: list[ClockStopped] = []
    action = events[i]
    for nxt in events[i + 1 :]:
        if nxt.occurred_at != action.occurred_at or not isinstance(nxt, ClockStopped | ClockStarted):
            break
        if isinstance(nxt, ClockStopped):
            out.append(nxt)
    return out


def timeline_words(events: Sequence[CaseEventBase], names: Mapping[str, str] | None = None) -> list[Words]:
    """The words of each event of ``events`` (one case's, in order of ``seq``), index for index."""
    ordered = list(events)
    speaker = _Speaker(names or {})
    out: list[Words] = []
    for i, event in enumerate(ordered):
        verdict = None if event_type_of(event).startswith("sla.") else speaker.verdict(_stopped_after(ordered, i))
        out.append(describe(event, speaker, verdict))
        speaker.note_clock(event)
    return out


def event_type_of(event: CaseEventBase) -> str:
    return str(getattr(event, "type", ""))


def _with(verdict: _Verdict | None, zh: str, en: str) -> Words:
    if verdict is None:
        return Words(zh, en)
    return Words(zh + verdict.zh(), en + verdict.en(), verdict.tone)


def _interim_verdict(event: InterimReplied, s: _Speaker) -> _Verdict | None:
    """An interim reply's own record of its due time, when no clock stop beside it tells it."""
    if event.due_at is None:
        return None
    if event.on_time:
        return _Verdict(late=False)
    late = policy_seconds((event.occurred_at - event.due_at).total_seconds(), s.time_scale)
    return _Verdict(late=True, late_seconds=max(late, 0.0))


def describe(event: CaseEventBase, s: _Speaker, verdict: _Verdict | None = None) -> Words:
    """One event in words (``s`` holds the names and the clocks seen before it)."""
    who, who_en = s.who(event.actor), s.who(event.actor, "en")
    match event:
        case CaseReceived():
            cat = s.names.get(f"category:{event.category}") or event.category
            return Words(
                f"{who} 受理诉求「{_quote(event.title)}」"
                f"（{CHANNEL_ZH[event.channel]}，{cat}，{URGENCY_ZH[event.urgency]}）",
                f"{who_en} received a {CHANNEL_EN[event.channel]} complaint “{_quote(event.title)}” "
                f"({cat}, {URGENCY_EN[event.urgency]})",
            )
        case CaseRejected():
            return Words(
                f"{who} 不予受理{_zh_tail(event.reason)}", f"{who_en} rejected the complaint{_en_tail(event.reason)}"
            )
        case CaseRegistered():
            return Words(f"{who} 立案{_zh_tail(event.note)}", f"{who_en} registered the case{_en_tail(event.note)}")
        case CaseDispatched():
            final_zh, final_en = (
                ("（审定，不可再退）", " (final ruling: no further return)") if event.final_ruling else ("", "")
            )
            if event.by is not None:
                return Words(
                    f"{s.unit(event.by)} 下派物业服务企业 {s.unit(event.unit)}{_zh_tail(event.note)}",
                    f"{s.unit(event.by, 'en')} passed the case down to the property company "
                    f"{s.unit(event.unit, 'en')}{_en_tail(event.note)}",
                )
            return Words(
                f"{who} 派单至 {s.unit(event.unit)}{final_zh}{_zh_tail(event.note)}",
                f"{who_en} dispatched the case to {s.unit(event.unit, 'en')}{final_en}{_en_tail(event.note)}",
            )
        case CaseAccepted():
            return _with(verdict, f"{s.unit(event.unit)} 签收", f"{s.unit(event.unit, 'en')} accepted the case")
        case CaseAssigned():
            who_zh = event.handler_name or event.handler_id
            to_zh = " · ".join(x for x in (who_zh, event.section_id and f"科室 {event.section_id}") if x)
            to_en = ", ".join(x for x in (who_zh, event.section_id and f"section {event.section_id}") if x)
            unit_zh, unit_en = s.unit(event.unit), s.unit(event.unit, "en")
            if event.mode == AssignMode.TAKEN:
                return _with(verdict, f"{unit_zh} {to_zh} 认领", f"{to_en} of {unit_en} took the case")
            verb_zh, verb_en = (
                ("改派给", "reassigned") if event.mode == AssignMode.REASSIGNED else ("分派给", "assigned")
            )
            return _with(
                verdict,
                f"{unit_zh} {verb_zh} {to_zh}{_zh_tail(event.note)}",
                f"{unit_en} {verb_en} the case to {to_en}",
            )
        case CaseReturned(to=UnitRef() as back_to):
            return _with(
                verdict,
                f"{s.unit(event.unit)} 退回 {s.unit(back_to)}（{REASON_ZH[event.reason_code]}）"
                f"{_zh_tail(event.reason)}",
                f"{s.unit(event.unit, 'en')} returned the case to {s.unit(back_to, 'en')} "
                f"({REASON_EN[event.reason_code]}){_en_tail(event.reason)}",
            )
        case CaseReturned():
            return _with(
                verdict,
                f"{s.unit(event.unit)} 退单（{REASON_ZH[event.reason_code]}）{_zh_tail(event.reason)}",
                f"{s.unit(event.unit, 'en')} returned the case ({REASON_EN[event.reason_code]})"
                f"{_en_tail(event.reason)}",
            )
        case ReturnReviewed():
            by, by_en = s.unit(event.returned_by), s.unit(event.returned_by, "en")
            if event.decision == ReviewDecision.INSIST:
                zh, en = (
                    f"{who} 审核 {by} 的退单：维持原派（审定）",
                    f"{who_en} reviewed {by_en}'s return: insisted (final ruling)",
                )
            else:
                zh, en = f"{who} 审核 {by} 的退单：改派", f"{who_en} reviewed {by_en}'s return: to be re-dispatched"
            return _with(verdict, zh + _zh_tail(event.ruling), en + _en_tail(event.ruling))
        case ReplySubmitted():
            return _with(
                verdict,
                f"{s.unit(event.unit)} 报审（第 {event.round} 轮）{_zh_tail(event.notes)}",
                f"{s.unit(event.unit, 'en')} submitted its reply for review (round {event.round})"
                f"{_en_tail(event.notes)}",
            )
        case ReplyApproved():
            return _with(
                verdict,
                f"{s.unit(event.unit)} 审核签发（第 {event.round} 轮）{_zh_tail(event.note)}",
                f"{s.unit(event.unit, 'en')} signed the reply off (round {event.round}){_en_tail(event.note)}",
            )
        case ReplySentBack():
            return _with(
                verdict,
                f"{s.unit(event.unit)} 退回重办（第 {event.round} 轮，累计退回 {event.sent_back_count} 次）"
                f"{_zh_tail(event.reason)}",
                f"{s.unit(event.unit, 'en')} sent the reply back for more work (round {event.round}; "
                f"sent back {event.sent_back_count} time{'' if event.sent_back_count == 1 else 's'} so far)"
                f"{_en_tail(event.reason)}",
            )
        case InterimReplied():
            return _with(
                verdict or _interim_verdict(event, s),
                f"{s.unit(event.unit)} 阶段性答复（第 {event.number} 次）{_zh_tail(event.text)}",
                f"{s.unit(event.unit, 'en')} sent the resident interim reply #{event.number}{_en_tail(event.text)}",
            )
        case CaseReclassified():
            before, after = s.category(event.previous_category), s.category(event.category)
            return Words(
                f"{who} 改类：{before} → {after}{_zh_tail(event.reason)}",
                f"{who_en} reclassified the case from {before} to {after}{_en_tail(event.reason)}",
            )
        case UrgencyChanged():
            raised = event.urgency == Urgency.URGENT
            was_zh, now_zh = URGENCY_ZH[event.previous_urgency], URGENCY_ZH[event.urgency]
            was_en, now_en = URGENCY_EN[event.previous_urgency], URGENCY_EN[event.urgency]
            return Words(
                f"{who} {'加急' if raised else '降级'}：{was_zh} → {now_zh}{_zh_tail(event.reason)}",
                f"{who_en} {'raised' if raised else 'lowered'} the urgency from {was_en} to {now_en}"
                f"{_en_tail(event.reason)}",
            )
        case CaseRelocated():
            old, new = event.previous_location, event.location
            recall_zh = recall_en = ""
            if event.recalled:
                if event.unit is not None:
                    recall_zh = f"（自 {s.unit(event.unit)} 收回，重新派单）"
                    recall_en = f" (recalled from {s.unit(event.unit, 'en')} for a new dispatch)"
                else:
                    recall_zh, recall_en = "（收回，重新派单）", " (recalled for a new dispatch)"
            return Words(
                f"{who} 改址：{s.place(old, new)} → {s.place(new, old)}{recall_zh}{_zh_tail(event.reason)}",
                f"{who_en} relocated the case from {s.place(old, new, 'en')} to {s.place(new, old, 'en')}"
                f"{recall_en}{_en_tail(event.reason)}",
            )
        case ResidentContacted():
            return _with(
                verdict,
                f"{s.unit(event.unit)} 联系市民{_zh_tail(event.note)}",
                f"{s.unit(event.unit, 'en')} contacted the resident{_en_tail(event.note)}",
            )
        case WhistleBlown():
            units = [t.unit() for t in event.tasks]
            return Words(
                f"{s.street(event.street_id)} 吹哨（第 {event.round} 轮），"
                f"召集 {'、'.join(s.unit(u) for u in units)}{_zh_tail(event.reason)}",
                f"{s.street(event.street_id, 'en')} blew the whistle (round {event.round}), summoning "
                f"{', '.join(s.unit(u, 'en') for u in units)}" + _en_tail(event.reason),
            )
        case DepartmentReportedIn():
            summoned = UnitRef(kind=event.unit_kind, id=event.department_id)
            return _with(
                verdict,
                f"{s.unit(summoned)} 报到{_zh_tail(event.note)}",
                f"{s.unit(summoned, 'en')} reported in{_en_tail(event.note)}",
            )
        case DepartmentTaskCompleted():
            summoned = UnitRef(kind=event.unit_kind, id=event.department_id)
            return _with(
                verdict,
                f"{s.unit(summoned)} 完成任务{_zh_tail(event.result)}",
                f"{s.unit(summoned, 'en')} completed its task{_en_tail(event.result)}",
            )
        case VolunteersCalled():
            team = UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id=event.team_id)
            return Words(
                f"{who} 召集志愿者队伍 {s.unit(team)} 协助{_zh_tail(event.task)}",
                f"{who_en} called in the volunteer team {s.unit(team, 'en')}{_en_tail(event.task)}",
            )
        case VolunteersReported():
            team = UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id=event.team_id)
            return Words(
                f"{s.unit(team)} 反馈协助完成{_zh_tail(event.result)}",
                f"{s.unit(team, 'en')} reported its help done{_en_tail(event.result)}",
            )
        case VolunteersReleased():
            team = UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id=event.team_id)
            return Words(
                f"{who} 结束 {s.unit(team)} 的志愿者协助{_zh_tail(event.reason)}",
                f"{who_en} released the volunteer team {s.unit(team, 'en')}{_en_tail(event.reason)}",
            )
        case CaseResolved():
            grid_zh, grid_en = ("（网格自办）", " (by the grid itself)") if event.by_grid else ("", "")
            return _with(
                verdict,
                f"{s.unit(event.unit)} 办结{grid_zh}{_zh_tail(event.notes)}",
                f"{s.unit(event.unit, 'en')} resolved the case{grid_en}{_en_tail(event.notes)}",
            )
        case CaseVerified():
            zh = f"{who} 核查{'通过' if event.passed else '未通过'}"
            en = f"{who_en} verified the fix: {'passed' if event.passed else 'failed'}"
            return _with(verdict, zh + _zh_tail(event.note), en + _en_tail(event.note))
        case ReworkOrdered():
            return Words(
                f"退回 {s.unit(event.unit)} 返工（第 {event.rework_count} 次）{_zh_tail(event.reason)}",
                f"Rework ordered from {s.unit(event.unit, 'en')} (#{event.rework_count}){_en_tail(event.reason)}",
            )
        case CallbackRecorded():
            return _with(
                verdict,
                f"{who} 回访：{RATING_ZH[event.rating]}，"
                f"问题{'已' if event.resolved else '未'}解决{_zh_tail(event.comment)}",
                f"{who_en} called the resident back: {RATING_EN[event.rating]}, "
                f"{'resolved' if event.resolved else 'not resolved'}{_en_tail(event.comment)}",
            )
        case CaseReopened():
            return Words(
                f"案件重新办理，交 {s.unit(event.unit)}（第 {event.reopen_count} 次）{_zh_tail(event.reason)}",
                f"The case was reopened for {s.unit(event.unit, 'en')} (#{event.reopen_count}){_en_tail(event.reason)}",
            )
        case CaseClosed():
            return _with(
                verdict,
                f"{who} 结案（{CLOSURE_ZH[event.closure_type]}）{_zh_tail(event.note)}",
                f"{who_en} closed the case ({CLOSURE_EN[event.closure_type]}){_en_tail(event.note)}",
            )
        case ExtensionRequested():
            extra = event.extra.total_seconds()
            return Words(
                f"{s.unit(event.unit)} 申请延期 {span(extra)}{_zh_tail(event.reason)}",
                f"{s.unit(event.unit, 'en')} asked for {span(extra, 'en')} more{_en_tail(event.reason)}",
            )
        case ExtensionDecided():
            extra = event.extra.total_seconds()
            if event.approved:
                zh, en = f"{who} 批准延期 {span(extra)}", f"{who_en} approved an extension of {span(extra, 'en')}"
            else:
                zh, en = f"{who} 驳回延期申请", f"{who_en} refused the extension"
            return Words(zh + _zh_tail(event.note), en + _en_tail(event.note))
        case CaseShelved():
            return Words(f"{who} 挂账{_zh_tail(event.reason)}", f"{who_en} shelved the case{_en_tail(event.reason)}")
        case CaseUnshelved():
            return Words(
                f"{who} 解除挂账{_zh_tail(event.note)}", f"{who_en} took the case up again{_en_tail(event.note)}"
            )
        case CaseTerminated():
            return Words(
                f"{who} 终止办理{_zh_tail(event.reason)}", f"{who_en} terminated the case{_en_tail(event.reason)}"
            )
        case AppealFiled():
            return Words(
                f"{s.unit(event.unit)} 申诉{_zh_tail(event.reason)}",
                f"{s.unit(event.unit, 'en')} appealed against the case's evaluation{_en_tail(event.reason)}",
            )
        case AppealDecided():
            zh = f"{who} 裁定申诉{'成立' if event.granted else '不成立'}"
            en = f"{who_en} {'granted' if event.granted else 'refused'} the appeal"
            return Words(zh + _zh_tail(event.note), en + _en_tail(event.note))
        case CaseMerged():
            return Words(
                f"{who} 将本案并入 {event.into_case_id}", f"{who_en} merged this case into {event.into_case_id}"
            )
        case DuplicateAttached():
            return Words(
                f"{who} 关联重复件 {event.duplicate_case_id}",
                f"{who_en} attached the duplicate {event.duplicate_case_id}",
            )
        case ClockStarted():
            zh, en = s.clock_of(event.clock_id, event.kind, event.unit)
            budget = policy_seconds(event.budget.total_seconds(), event.time_scale or s.time_scale)
            hours_zh = "工作时间 " if event.working_time else ""
            hours_en = " working time" if event.working_time else ""
            return Words(
                f"{zh}开始：{hours_zh}{span(budget)}，{s.due(event.due_at)} 到期",
                f"{en[0].upper()}{en[1:]} started: {span(budget, 'en')}{hours_en}, due {s.due(event.due_at)}",
                minor=True,
            )
        case ClockPaused():
            zh, en = s.clock_of(event.clock_id, event.kind)
            return Words(
                f"{zh}暂停{_zh_tail(event.reason)}",
                f"{en[0].upper()}{en[1:]} paused{_en_tail(event.reason)}",
                minor=True,
            )
        case ClockResumed():
            zh, en = s.clock_of(event.clock_id, event.kind)
            return Words(
                f"{zh}恢复，{s.due(event.due_at)} 到期",
                f"{en[0].upper()}{en[1:]} resumed, due {s.due(event.due_at)}",
                minor=True,
            )
        case ClockExtended():
            zh, en = s.clock_of(event.clock_id, event.kind)
            extra = policy_seconds(event.extra.total_seconds(), event.time_scale or s.time_scale)
            return Words(
                f"{zh}延长 {span(extra)}，{s.due(event.due_at)} 到期",
                f"{en[0].upper()}{en[1:]} extended by {span(extra, 'en')}, due {s.due(event.due_at)}",
                minor=True,
            )
        case ClockRecomputed():
            zh, en = s.clock_of(event.clock_id, event.kind, event.unit)
            budget = policy_seconds(event.budget.total_seconds(), event.time_scale or s.time_scale)
            hours_zh = "工作时间 " if event.working_time else ""
            hours_en = " working time" if event.working_time else ""
            cause_zh = CAUSE_ZH.get(event.cause, event.cause)
            cause_en = CAUSE_EN.get(event.cause, event.cause)
            return Words(
                f"{zh}因{cause_zh}{RECOMPUTE_ZH[event.mode]}：{s.due(event.previous_due_at)} 到期 → "
                f"{s.due(event.due_at)} 到期（{hours_zh}{span(budget)}）",
                f"{en[0].upper()}{en[1:]} {RECOMPUTE_EN[event.mode]} after {cause_en}: due "
                f"{s.due(event.previous_due_at)} → {s.due(event.due_at)} ({span(budget, 'en')}{hours_en})",
            )
        case ClockStopped():
            zh, en = s.clock_of(event.clock_id, event.kind, event.unit)
            cap = f"{en[0].upper()}{en[1:]}"
            if event.outcome == ClockOutcome.CANCELLED:
                return Words(f"{zh}取消", f"{cap} was cancelled", minor=True)
            v = s.verdict([event])
            assert v is not None
            return Words(f"{zh}停止{v.zh()}", f"{cap} stopped{v.en()}", v.tone, minor=True)
        case SlaWarningRaised():
            zh, en = s.clock_of(event.clock_id, event.kind, event.unit)
            left = policy_seconds((event.due_at - event.occurred_at).total_seconds(), event.time_scale or s.time_scale)
            share = f"{event.threshold * 100:.0f}%"
            return Words(
                f"{zh}预警：已用 {share}，剩余 {span(left)}",
                f"Warning: {en} is {share} used, {span(left, 'en')} left",
                Tone.WARNED,
            )
        case SlaBreached():
            zh, en = s.clock_of(event.clock_id, event.kind, event.unit)
            return Words(
                f"{zh}超时（{s.due(event.due_at)} 到期）",
                f"Breached: {en} passed its due time ({s.due(event.due_at)})",
                Tone.BREACHED,
            )
        case EscalationRaised():
            target, target_en = s.unit(event.unit), s.unit(event.unit, "en")
            level_zh, level_en = LEVEL_ZH[event.level], LEVEL_EN[event.level]
            if event.actor.role == Role.SYSTEM:
                what_zh = f"{CLOCK_ZH[event.kind]}超时，" if event.kind else ""
                what_en = f" for its overdue {CLOCK_EN[event.kind]}" if event.kind else ""
                return Words(
                    f"{target} {what_zh}升级为{level_zh}{_zh_tail(event.note)}",
                    f"{target_en} escalated to {level_en}{what_en}{_en_tail(event.note)}",
                    Tone.ESCALATED,
                )
            return Words(
                f"{who} 对 {target} {level_zh}{_zh_tail(event.note)}",
                f"{who_en} escalated {target_en} to {level_en}{_en_tail(event.note)}",
                Tone.ESCALATED,
            )
    return Words(event_type_of(event), event_type_of(event))


def unit_keys(events: Sequence[CaseEventBase]) -> set[str]:
    """The name keys (``kind:id``) the words of ``events`` may use: every unit, department, street,
    actor's unit and category they name."""
    keys: set[str] = set()
    for e in events:
        key = actor_unit_key(e.actor)
        if key:
            keys.add(key)
        for name in ("unit", "returned_by"):
            ref = getattr(e, name, None)
            if isinstance(ref, UnitRef):
                keys.add(ref.key())
        dept = getattr(e, "department_id", None)
        if isinstance(dept, str):
            keys.add(f"department:{dept}")
        if isinstance(e, WhistleBlown):
            keys.add(f"street:{e.street_id}")
            keys.update(f"department:{t.department_id}" for t in e.tasks)
        if isinstance(e, CaseReceived):
            keys.add(f"category:{e.category}")
        if isinstance(e, CaseReclassified):
            keys.update((f"category:{e.previous_category}", f"category:{e.category}"))
        if isinstance(e, CaseRelocated):
            for loc in (e.previous_location, e.location):
                keys.update((f"street:{loc.street_id}", f"grid:{loc.grid_id}"))
    return keys


__all__ = ["Tone", "Words", "actor_unit_key", "describe", "span", "timeline_words", "unit_keys"]
