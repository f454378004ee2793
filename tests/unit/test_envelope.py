"""CloudEvents envelope: round trip, masking, invalid input; and the consumer's filter/dedup logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from events.base import SYSTEM_ACTOR, Actor, Role, UnitKind, UnitRef
from events.consumer import ConsumeStats, EventFilter
from events.envelope import (
    EnvelopeError,
    from_cloudevent,
    mask_name,
    mask_phone,
    to_cloudevent,
    to_envelope,
)
from events.schemas import (
    CaseDispatched,
    CaseReceived,
    CaseRegistered,
    Channel,
    ClockKind,
    Location,
    ResidentContact,
    SlaBreached,
    Urgency,
    WhistleBlown,
    WhistleTask,
)
from events.topics import is_sla_alert, topic_names
from workers.settings import Settings

T0 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
NAME = "王小明"
PHONE = "13812345678"


def received(case_id: str = "C-1", street: str = "S-1") -> CaseReceived:
    return CaseReceived(
        event_id=f"{case_id}:1",
        case_id=case_id,
        seq=1,
        occurred_at=T0,
        actor=Actor(role=Role.RESIDENT, person_id="R-42", name=NAME),
        channel=Channel.HOTLINE,
        category="noise",
        urgency=Urgency.ORDINARY,
        title="施工噪音",
        description="夜间施工噪音扰民",
        location=Location(grid_id="G-1", community_id="CM-1", street_id=street, district_id="D-1"),
        contact=ResidentContact(resident_id="R-42", name=NAME, phone=PHONE),
    )


def dispatched(case_id: str, seq: int, dept: str) -> CaseDispatched:
    return CaseDispatched(
        event_id=f"{case_id}:{seq}",
        case_id=case_id,
        seq=seq,
        occurred_at=T0 + timedelta(minutes=seq),
        actor=Actor(role=Role.DISPATCHER, person_id="D-7"),
        unit=UnitRef(kind=UnitKind.DEPARTMENT, id=dept),
    )


def registered(case_id: str, seq: int) -> CaseRegistered:
    return CaseRegistered(event_id=f"{case_id}:{seq}", case_id=case_id, seq=seq, occurred_at=T0, actor=SYSTEM_ACTOR)


def test_envelope_attributes() -> None:
    env = to_envelope(dispatched("C-9", 3, "urban-mgmt"), mask_pii=True)
    assert env["specversion"] == "1.0"
    assert env["id"] == "C-9:3"
    assert env["source"] == "/gridcase/cases"
    assert env["type"] == "gridcase.case.dispatched.v1"
    assert env["subject"] == "C-9"
    assert env["time"] == "2025-03-03T09:33:00+00:00"
    assert env["datacontenttype"] == "application/json"
    assert env["sequence"] == "0000000003"
    assert env["data"]["unit"] == {"kind": "department", "id": "urban-mgmt"}


def test_round_trip_unmasked() -> None:
    event = received()
    envelope, back = from_cloudevent(to_cloudevent(event, mask_pii=False))
    assert back == event
    assert "data" not in envelope
    assert envelope["piimasked"] is False


def test_masking_on_the_wire() -> None:
    raw = to_cloudevent(received(), mask_pii=True)
    text = raw.decode()
    assert NAME not in text and PHONE not in text and "R-42" not in text
    _, back = from_cloudevent(raw)
    assert isinstance(back, CaseReceived)
    assert back.contact == ResidentContact(resident_id=None, name="王**", phone="138****5678")
    assert back.actor.person_id == "resident" and back.actor.name == "王**"
    # everything else is untouched
    assert back.description == received().description
    assert back.location == received().location


def test_masking_leaves_other_events_alone() -> None:
    event = dispatched("C-1", 2, "water")
    assert from_cloudevent(to_cloudevent(event, mask_pii=True))[1] == event


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "*"), (None, None), ("", "")]
)
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("010-62345678", "010****5678"),
        ("12345", "***45"),
        (None, None),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


def _doc(event: CaseDispatched | None = None) -> dict:
    return json.loads(to_cloudevent(event or dispatched("C-1", 2, "water"), mask_pii=True))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_envelope"),
        (json.dumps({**_doc(), "specversion": "0.3"}).encode(), "invalid_envelope"),
        (json.dumps({k: v for k, v in _doc().items() if k != "id"}).encode(), "invalid_envelope"),
        (json.dumps({**_doc(), "type": "com.example.other"}).encode(), "unknown_type"),
        (json.dumps({**_doc(), "data": {**_doc()["data"], "seq": 0}}).encode(), "invalid_data"),
        (json.dumps({**_doc(), "data": {**_doc()["data"], "type": "case.nope"}}).encode(), "invalid_data"),
        (json.dumps({**_doc(), "id": "C-1:7"}).encode(), "mismatch"),
        (json.dumps({**_doc(), "subject": "C-2"}).encode(), "mismatch"),
        (json.dumps({**_doc(), "type": "gridcase.case.accepted.v1"}).encode(), "mismatch"),
        (json.dumps({**_doc(), "sequence": "9"}).encode(), "mismatch"),
    ],
)
def test_invalid_input_is_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as err:
        from_cloudevent(raw)
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError)


def test_topic_names_and_alert_routing() -> None:
    names = topic_names(Settings(topic_prefix="gridcase"))
    assert names.case_events == "gridcase.case-events.v1"
    assert names.case_events_restricted == "gridcase.case-events-restricted.v1"
    assert names.sla_alerts == "gridcase.sla-alerts.v1"
    assert names.dead_letter == "gridcase.dead-letter.v1"
    assert is_sla_alert("sla.warning_raised") and is_sla_alert("sla.breached")
    assert is_sla_alert("sla.escalation_raised")
    assert not is_sla_alert("sla.clock_started") and not is_sla_alert("case.closed")
    breach = SlaBreached(
        event_id="C-1:5",
        case_id="C-1",
        seq=5,
        occurred_at=T0,
        actor=SYSTEM_ACTOR,
        clock_id="k1",
        kind=ClockKind.RESOLVE,
        unit=UnitRef(kind=UnitKind.DEPARTMENT, id="water"),
        due_at=T0,
    )
    assert to_envelope(breach, mask_pii=True)["type"] == "gridcase.sla.breached.v1"


# --- the consumer's pure filter/dedup state --------------------------------------------------------


def _feed(flt: EventFilter, events: list, stats: ConsumeStats) -> list[str]:
    out = []
    for e in events:
        env = to_envelope(e, mask_pii=True)
        out += [ev.event_id for _env, ev, _raw in flt.accept(env, e, stats)]
    return out


def test_dedup_keeps_the_last_seq_per_case() -> None:
    stats = ConsumeStats()
    seen = _feed(
        EventFilter(),
        [received("A"), registered("A", 2), registered("A", 2), received("A"), registered("A", 3)],
        stats,
    )
    assert seen == ["A:1", "A:2", "A:3"]
    assert stats.duplicates == 2


def test_department_sees_its_cases_with_their_earlier_events() -> None:
    stats = ConsumeStats()
    whistle = WhistleBlown(
        event_id="B:3",
        case_id="B",
        seq=3,
        occurred_at=T0,
        actor=Actor(role=Role.STREET, person_id="s1", unit_id="S-2"),
        round=1,
        street_id="S-2",
        tasks=[WhistleTask(department_id="water", task="fix the pipe")],
    )
    events = [
        received("A"),
        received("B", street="S-2"),
        received("C"),
        dispatched("A", 2, "water"),
        registered("B", 2),
        dispatched("C", 2, "parks"),
        whistle,
        registered("A", 3),
        registered("C", 3),
    ]
    seen = _feed(EventFilter(department="water"), events, stats)
    assert seen == ["A:1", "A:2", "B:1", "B:2", "B:3", "A:3"]
    assert _feed(EventFilter(street="S-2"), events, ConsumeStats()) == ["B:1", "B:2", "B:3"]
    assert _feed(EventFilter(case_id="C"), events, ConsumeStats()) == ["C:1", "C:2", "C:3"]
    assert _feed(EventFilter(department="water", street="S-2"), events, ConsumeStats()) == [
        "B:1",
        "B:2",
        "B:3",
    ]
