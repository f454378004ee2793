"""The notifier's pure parts: which events call for which messages, the templates, the backoff, the
notification events' schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.notifications import NotificationFailed, NotificationSent, from_bytes, mask_address, to_bytes
from events.schemas import (
    AssignMode,
    CaseAssigned,
    CaseClosed,
    CaseDispatched,
    CaseReceived,
    CaseResolved,
    CaseVerified,
    ClockKind,
    ClosureType,
    EscalationLevel,
    EscalationRaised,
    InterimReplied,
    ResidentContact,
    SlaBreached,
    SlaWarningRaised,
    Urgency,
    WhistleBlown,
    WhistleTask,
)
from notify.render import LOCALES, Renderer, TemplateFailure
from notify.retry import backoff_s
from notify.rules import RESIDENT, TEMPLATES, CaseFacts, facts_after, plan

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ACTOR = Actor(role=Role.DISPATCHER, person_id="op-1")
DEPT = UnitRef(kind=UnitKind.DEPARTMENT, id="D-ENV")
STREET = UnitRef(kind=UnitKind.STREET, id="S-0101")


def _meta(seq: int) -> dict[str, object]:
    return {"event_id": f"C-1:{seq}", "case_id": "C-1", "seq": seq, "occurred_at": T0, "actor": ACTOR}


def _received(phone: str | None = "13812345678", urgency: Urgency = Urgency.ORDINARY) -> CaseReceived:
    return CaseReceived.model_validate(
        {
            **_meta(1),
            "channel": "hotline",
            "category": "noise",
            "urgency": urgency,
            "title": "夜间施工噪音",
            "description": "凌晨施工",
            "location": {
                "lat": 40.8,
                "lon": 111.7,
                "grid_id": "G-1",
                "community_id": "CM-1",
                "street_id": "S-0101",
                "district_id": "DI-1",
            },
            "contact": ResidentContact(name="张三", phone=phone),
        }
    )


def test_resident_messages_follow_the_case_and_need_a_phone() -> None:
    with_phone = facts_after(CaseFacts("C-1"), _received())
    without = facts_after(CaseFacts("C-1"), _received(phone=None))
    events = {
        "receipt": _received(),
        "interim": InterimReplied(**_meta(5), unit=DEPT, text="已安排人员", number=1),
        "answer": CaseResolved(**_meta(6), unit=DEPT, notes="已停工"),
        "callback": CaseVerified(**_meta(7), passed=True),
        "closed": CaseClosed(**_meta(8), closure_type=next(iter(ClosureType))),
    }
    for template, event in events.items():
        intents = plan(event, with_phone)
        assert [(i.recipient, i.template) for i in intents] == [(RESIDENT, template)]
        assert plan(event, without) == []
    assert plan(CaseVerified(**_meta(7), passed=False), with_phone) == []


def test_staff_messages_go_to_the_units_and_people_named() -> None:
    facts = facts_after(CaseFacts("C-1"), _received())
    assert [(i.recipient, i.template) for i in plan(CaseDispatched(**_meta(3), unit=STREET), facts)] == [
        ("street:S-0101", "dispatched")
    ]
    mine = CaseAssigned(**_meta(4), unit=DEPT, mode=AssignMode.ASSIGNED, handler_id="u-7")
    assert [i.recipient for i in plan(mine, facts)] == ["user:u-7"]
    section = mine.model_copy(update={"handler_id": None})
    assert [i.recipient for i in plan(section, facts)] == ["department:D-ENV"]
    whistle = WhistleBlown(
        **_meta(5),
        round=1,
        street_id="S-0101",
        tasks=[
            WhistleTask(department_id="D-ENV", task="查处"),
            WhistleTask(department_id="P-1", task="清理", unit_kind=UnitKind.PROPERTY),
        ],
    )
    assert [(i.recipient, i.template) for i in plan(whistle, facts)] == [
        ("department:D-ENV", "summoned"),
        ("property:P-1", "summoned"),
    ]
    due = T0 + timedelta(hours=4)
    warn = SlaWarningRaised(
        **_meta(9),
        clock_id="k1",
        kind=ClockKind.RESOLVE,
        unit=DEPT,
        threshold=0.8,
        due_at=due,
        recipients=["department:D-ENV"],
    )
    assert [(i.recipient, i.template, i.urgent) for i in plan(warn, facts)] == [("department:D-ENV", "warning", False)]
    breach = SlaBreached(
        **_meta(10),
        clock_id="k1",
        kind=ClockKind.RESOLVE,
        unit=DEPT,
        due_at=due,
        recipients=["department:D-ENV", "hotline:12345"],
    )
    assert [(i.recipient, i.urgent) for i in plan(breach, facts)] == [
        ("department:D-ENV", True),
        ("hotline:12345", True),
    ]
    rung = EscalationRaised(
        **_meta(11),
        level=EscalationLevel.SUPERVISION,
        unit=DEPT,
        recipients=["department:D-ENV", "S-0101", "head:D-ENV", "S-0101"],
    )
    assert [i.recipient for i in plan(rung, facts)] == ["department:D-ENV", "S-0101", "head:D-ENV"]


def test_urgency_marks_resident_messages_urgent() -> None:
    facts = facts_after(CaseFacts("C-1"), _received(urgency=Urgency.URGENT))
    assert all(i.urgent for i in plan(_received(urgency=Urgency.URGENT), facts))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_in_every_locale(template: str, locale: str) -> None:
    ctx = {
        "case_id": "C-9",
        "title": "占道经营",
        "category": "street_vending",
        "occurred_at": T0,
        "expected_at": T0 + timedelta(days=3),
        "text": "进展",
        "number": 1,
        "notes": "已取缔",
        "closure_type": "resolved",
        "unit": "department:D-ENV",
        "note": "",
        "task": "到场",
        "round": 1,
        "clock": "resolve",
        "due_at": T0,
        "level": "supervision",
        "event_type": "x",
    }
    out = Renderer({"department:D-ENV": "生态环境局"}).render(template, locale, ctx)
    assert "C-9" in out.subject + out.body
    assert "{{" not in out.body and "None" not in out.body


def test_a_missing_variable_or_template_is_a_template_failure(tmp_path: Path) -> None:
    with pytest.raises(TemplateFailure, match="receipt"):
        Renderer().render("receipt", "zh-CN", {"case_id": "C-1"})  # no title
    with pytest.raises(TemplateFailure, match="nope"):
        Renderer().render("nope", "en", {"case_id": "C-1"})
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "bad.j2").write_text("{% block subject %}x{% endblock %}", encoding="utf-8")
    with pytest.raises(TemplateFailure, match="body"):
        Renderer(directory=tmp_path).render("bad", "zh-CN", {"case_id": "C-1"})


def test_backoff_grows_caps_and_is_stable() -> None:
    waits = [backoff_s(n, key="d1") for n in range(1, 15)]
    assert waits == [backoff_s(n, key="d1") for n in range(1, 15)]
    assert all(0.8 * min(600, 2 * 2 ** (n - 1)) <= w <= min(600, 2 * 2 ** (n - 1)) for n, w in enumerate(waits, 1))
    assert max(waits) <= 600
    with pytest.raises(ValueError, match="attempt"):
        backoff_s(0)


def test_notification_events_round_trip_and_mask() -> None:
    sent = NotificationSent(
        event_id="notification:C-1:1:resident:sms:sent",
        delivery_id="C-1:1:resident:sms",
        case_id="C-1",
        source_event_id="C-1:1",
        source_type="case.received",
        recipient_kind="resident",
        recipient="resident",
        address=mask_address("sms", "13812345678"),
        channel="sms",
        template="receipt",
        attempts=1,
        occurred_at=T0,
        delay_ms=120,
    )
    assert from_bytes(to_bytes(sent)) == sent
    assert "12345678" not in to_bytes(sent).decode()
    failed = NotificationFailed(**{**sent.model_dump(exclude={"type", "delay_ms", "receipt"}), "reason": "opted_out"})
    assert isinstance(from_bytes(to_bytes(failed)), NotificationFailed)
    assert mask_address("email", "wang@example.org") == "w***@example.org"
    assert mask_address("chat", "https://qyapi.example.com/cgi-bin/webhook/send?key=secret") == "qyapi.example.com/…"
