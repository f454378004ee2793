"""Case events on the real Kafka broker of the local stack: order, dedup, dead letters, masking, filters.

Each test gets its own topic prefix (``test<hex>``), so runs never see each other's records.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from activities.kafka_sink import KafkaEventSink
from events.base import SYSTEM_ACTOR, Actor, Role, UnitKind, UnitRef
from events.consumer import Envelope, StopConsuming, consume, new_group_id
from events.envelope import to_cloudevent
from events.schemas import (
    CaseAccepted,
    CaseDispatched,
    CaseEvent,
    CaseReceived,
    CaseRegistered,
    Channel,
    ClockKind,
    EscalationLevel,
    EscalationRaised,
    Location,
    ResidentContact,
    ResidentContacted,
    SlaWarningRaised,
    Urgency,
    WhistleBlown,
    WhistleTask,
)
from events.topics import ensure_topics, topic_names
from tests.integration.conftest import private_stack_settings
from workers.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DEPARTMENTS = ["water", "parks", "urban-mgmt", "housing", "transport"]


def resident_name(i: int) -> str:
    return f"居民{i:03d}号"


def resident_phone(i: int) -> str:
    return f"139{i:08d}"


@pytest.fixture
def kset(stack_settings: Settings) -> Iterator[Settings]:
    settings = stack_settings.model_copy(update={"topic_prefix": f"test{uuid.uuid4().hex[:10]}"})
    created = ensure_topics(settings)
    assert set(created) == set(topic_names(settings).all())
    assert ensure_topics(settings) == []  # idempotent
    yield settings


def case_events(i: int, n: int) -> list[CaseEvent]:
    """``n`` valid events of case ``i``: received, registered, dispatched, accepted, then a mix."""
    case_id = f"C-{i:04d}"
    dept = DEPARTMENTS[i % len(DEPARTMENTS)]
    unit = UnitRef(kind=UnitKind.DEPARTMENT, id=dept)
    dispatcher = Actor(role=Role.DISPATCHER, person_id="disp-1")
    handler = Actor(role=Role.DEPARTMENT, person_id=f"{dept}-clerk", unit_id=dept)

    def base(seq: int, actor: Actor = SYSTEM_ACTOR) -> dict[str, Any]:
        return {
            "event_id": f"{case_id}:{seq}",
            "case_id": case_id,
            "seq": seq,
            "occurred_at": T0 + timedelta(minutes=seq),
            "actor": actor,
        }

    events: list[CaseEvent] = [
        CaseReceived(
            **base(1, Actor(role=Role.RESIDENT, person_id=f"R-{i}", name=resident_name(i))),
            channel=Channel.HOTLINE,
            category="roads",
            urgency=Urgency.ORDINARY,
            title=f"路面坑洼 {i}",
            description="人行道有坑",
            location=Location(grid_id=f"G-{i}", community_id="CM-1", street_id=f"S-{i % 3}", district_id="D-1"),
            contact=ResidentContact(resident_id=f"R-{i}", name=resident_name(i), phone=resident_phone(i)),
        ),
        CaseRegistered(**base(2, dispatcher)),
        CaseDispatched(**base(3, dispatcher), unit=unit),
        CaseAccepted(**base(4, handler), unit=unit),
    ]
    for seq in range(5, n + 1):
        k = seq % 3
        if k == 0:
            events.append(ResidentContacted(**base(seq, handler), unit=unit, note=f"step {seq}"))
        elif k == 1:
            events.append(
                SlaWarningRaised(
                    **base(seq),
                    clock_id=f"{case_id}/resolve",
                    kind=ClockKind.RESOLVE,
                    unit=unit,
                    threshold=0.8,
                    due_at=T0 + timedelta(days=5),
                )
            )
        else:
            events.append(EscalationRaised(**base(seq), level=EscalationLevel.REMINDER, unit=unit, note=f"rung {seq}"))
    return events[:n]


def read_all(settings: Settings, topic: str, timeout_s: float = 20.0) -> list[Any]:
    """Every record currently in ``topic`` (raw), read without a group."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in parts):
            assert time.monotonic() < deadline, f"timed out reading {topic}"
            for recs in consumer.poll(timeout_ms=500).values():
                records.extend(recs)
        return records
    finally:
        consumer.close()


def test_thousand_events_of_fifty_concurrent_cases_arrive_in_order(kset: Settings) -> None:
    per_case = 20
    cases = {i: case_events(i, per_case) for i in range(50)}
    sink = KafkaEventSink(kset)
    rng = random.Random(7)
    resent = 0

    def publish(i: int) -> int:
        """Like the workflow: batches in order, each after the previous one succeeded."""
        events, pos, dups = cases[i], 0, 0
        local = random.Random(i)
        while pos < len(events):
            size = local.randint(1, 5)
            batch = events[pos : pos + size]
            sink.send(batch[0].case_id, batch)
            if local.random() < 0.2:  # an activity retry after a lost acknowledgement: same batch again
                sink.send(batch[0].case_id, batch)
                dups += len(batch)
            pos += size
        return dups

    order = list(cases)
    rng.shuffle(order)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            resent = sum(pool.map(publish, order))
    finally:
        sink.close()
    assert resent > 0

    got: dict[str, list[int]] = defaultdict(list)

    def handler(envelope: Envelope, event: CaseEvent) -> None:
        assert envelope["id"] == event.event_id
        got[event.case_id].append(event.seq)

    stats = consume(
        handler,
        settings=kset,
        group_id=new_group_id("test-order"),
        from_beginning=True,
        max_events=50 * per_case,
        stop_after=90,
    )
    assert stats.handled == 1000
    # It stops at the 1,000th new event, so re-sent copies behind that one in a partition are not read.
    assert 0 < stats.duplicates <= resent
    assert len(read_all(kset, topic_names(kset).case_events)) == 1000 + resent  # every copy is on the wire
    assert stats.dead_lettered == 0 and stats.gaps == 0
    assert len(got) == 50
    for case_id, seqs in got.items():
        assert seqs == list(range(1, per_case + 1)), case_id

    # The restricted copy and the alert topic got their records too.
    names = topic_names(kset)
    assert len(read_all(kset, names.case_events_restricted)) == 1000 + resent
    alert_types = {json.loads(r.value)["data"]["type"] for r in read_all(kset, names.sla_alerts)}
    assert alert_types == {"sla.warning_raised", "sla.escalation_raised"}


def test_poison_messages_go_to_the_dead_letter_topic_and_the_consumer_goes_on(kset: Settings) -> None:
    names = topic_names(kset)
    good = case_events(1, 3)
    not_json = b'{"specversion": "1.0", oops'
    bad_doc = json.loads(to_cloudevent(good[1], mask_pii=True))
    del bad_doc["data"]["actor"]  # valid JSON, valid envelope, invalid event
    invalid_event = json.dumps(bad_doc).encode()

    producer = KafkaProducer(bootstrap_servers=kset.kafka_bootstrap, acks="all")
    key = good[0].case_id.encode()
    try:
        for value in (
            to_cloudevent(good[0], mask_pii=True),
            not_json,
            invalid_event,
            to_cloudevent(good[1], mask_pii=True),
            to_cloudevent(good[2], mask_pii=True),
        ):
            producer.send(names.case_events, key=key, value=value).get(timeout=10)
    finally:
        producer.close()

    seen: list[str] = []

    def handler(envelope: Envelope, event: CaseEvent) -> None:
        if event.seq == 2:
            raise RuntimeError("handler cannot cope with this one")
        seen.append(event.event_id)

    group = new_group_id("test-dlq")
    stats = consume(handler, settings=kset, group_id=group, from_beginning=True, max_events=2, stop_after=60)
    assert seen == ["C-0001:1", "C-0001:3"]
    assert stats.dead_lettered == 3
    assert stats.reasons == {"invalid_json": 1, "invalid_data": 1, "handler_failed": 1}

    dead = read_all(kset, names.dead_letter)
    assert len(dead) == 3
    by_reason = {json.loads(r.value)["reason"]: r for r in dead}
    assert set(by_reason) == {"invalid_json", "invalid_data", "handler_failed"}
    for reason, original in (("invalid_json", not_json), ("invalid_data", invalid_event)):
        rec = by_reason[reason]
        doc = json.loads(rec.value)
        assert base64.b64decode(doc["original_b64"]) == original
        assert doc["topic"] == names.case_events and doc["key"] == "C-0001" and doc["group_id"] == group
        assert isinstance(doc["partition"], int) and isinstance(doc["offset"], int)
        assert doc["error"]
        assert dict(rec.headers)["dlq.reason"] == reason.encode()
    assert "actor" in json.loads(by_reason["invalid_data"].value)["error"]
    assert "C-0001:2" in json.loads(by_reason["handler_failed"].value)["error"]

    # Offsets were committed: the same group starts after the handled records, nothing is redone.
    again: list[str] = []
    stats2 = consume(lambda _e, ev: again.append(ev.event_id), settings=kset, group_id=group, stop_after=5)
    assert again == [] and stats2.dead_lettered == 0


def test_no_personal_data_on_the_department_topic(kset: Settings) -> None:
    names = topic_names(kset)
    sink = KafkaEventSink(kset)
    try:
        for i in range(5):
            events = case_events(i, 3)
            sink.send(events[0].case_id, events)
    finally:
        sink.close()

    public = read_all(kset, names.case_events)
    restricted = read_all(kset, names.case_events_restricted)
    assert len(public) == len(restricted) == 15
    wire = b"\n".join(r.value for r in public)
    for i in range(5):
        for secret in (resident_name(i), resident_phone(i), f'"R-{i}"'):
            assert secret.encode() not in wire, secret
        assert f"139****{i:04d}".encode() in wire  # masked phone: first 3 and last 4 digits
    assert all(r.key.decode().startswith("C-") for r in public)
    # the hotline's restricted copy keeps them
    hotline = b"\n".join(r.value for r in restricted)
    for i in range(5):
        assert resident_name(i).encode() in hotline and resident_phone(i).encode() in hotline


def test_department_and_street_filters_see_only_their_cases(kset: Settings) -> None:
    sink = KafkaEventSink(kset)
    all_events = {i: case_events(i, 6) for i in range(10)}
    # case 7 also gets a whistle from street S-1 summoning "water"
    c7 = "C-0007"
    whistle = WhistleBlown(
        event_id=f"{c7}:7",
        case_id=c7,
        seq=7,
        occurred_at=T0 + timedelta(hours=1),
        actor=Actor(role=Role.STREET, person_id="st-1", unit_id="S-1"),
        round=1,
        street_id="S-1",
        tasks=[WhistleTask(department_id="water", task="check the pipes")],
    )
    all_events[7].append(whistle)
    try:
        for events in all_events.values():
            sink.send(events[0].case_id, events)
    finally:
        sink.close()

    def collect(**filters: Any) -> dict[str, list[int]]:
        got: dict[str, list[int]] = defaultdict(list)
        expected = filters.pop("expected")

        def handler(_env: Envelope, event: CaseEvent) -> None:
            got[event.case_id].append(event.seq)
            if sum(len(v) for v in got.values()) >= expected:
                raise StopConsuming

        consume(
            handler,
            settings=kset,
            group_id=new_group_id("test-filter"),
            from_beginning=True,
            stop_after=60,
            **filters,
        )
        return dict(got)

    water = collect(department="water", expected=6 + 6 + 7)  # cases 0 and 5 dispatched; 7 whistled
    assert set(water) == {"C-0000", "C-0005", "C-0007"}
    assert water["C-0000"] == [1, 2, 3, 4, 5, 6]  # including case.received, from before the dispatch
    assert water["C-0007"] == [1, 2, 3, 4, 5, 6, 7]

    street1 = collect(street="S-1", expected=6 + 6 + 7)  # cases 1, 4, 7 are located in S-1
    assert set(street1) == {"C-0001", "C-0004", "C-0007"}
    assert street1["C-0007"] == [1, 2, 3, 4, 5, 6, 7]

    one = collect(case_id="C-0003", expected=6)
    assert one == {"C-0003": [1, 2, 3, 4, 5, 6]}


def test_broker_unreachable_send_fails_within_a_bound(kset: Settings) -> None:
    unreachable = kset.model_copy(update={"kafka_bootstrap": "127.0.0.1:9"})
    sink = KafkaEventSink(unreachable, timeout_s=3.0)
    events = case_events(1, 2)
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        sink.send(events[0].case_id, events)
    assert time.monotonic() - started < 10
    sink.close()

    # nothing connected before the first send; a failing sink recovers on the next one
    sink = KafkaEventSink(kset)
    try:
        sink.send(events[0].case_id, events)
    finally:
        sink.close()
    assert len(read_all(kset, topic_names(kset).case_events)) == 2


def test_concurrent_sends_share_one_sink(kset: Settings) -> None:
    """Many activity threads on one sink, while another thread consumes live (not from the start)."""
    got: dict[str, list[int]] = defaultdict(list)
    stop = threading.Event()
    ready = threading.Event()

    def handler(_env: Envelope, event: CaseEvent) -> None:
        got[event.case_id].append(event.seq)

    group = new_group_id("test-live")
    result: dict[str, Any] = {}

    def run() -> None:
        ready.set()
        result["stats"] = consume(
            handler,
            settings=kset,
            group_id=group,
            from_beginning=True,
            max_events=200,
            stop_after=60,
            stop=stop,
        )

    t = threading.Thread(target=run)
    t.start()
    ready.wait()
    sink = KafkaEventSink(kset)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: sink.send(f"C-{i:04d}", case_events(i, 10)), range(20)))
    finally:
        sink.close()
    t.join(timeout=70)
    stop.set()
    assert result["stats"].handled == 200
    assert all(seqs == list(range(1, 11)) for seqs in got.values()) and len(got) == 20


def test_broker_stopped_mid_run_send_fails_in_bounded_time_then_recovers_in_order(
    stack_settings: Settings, tmp_path: Any
) -> None:
    """A private stack (own state dir and ports, so the shared one is untouched) whose broker we stop."""
    from deploy import stack

    private = private_stack_settings(stack_settings, tmp_path / "stack", f"test{uuid.uuid4().hex[:10]}")
    assert stack.up(private, timeout=120).healthy
    try:
        ensure_topics(private)
        events = case_events(3, 9)
        case_id = events[0].case_id
        sink = KafkaEventSink(private, timeout_s=5.0)
        sink.send(case_id, events[0:3])

        stack.down(private)
        started = time.monotonic()
        with pytest.raises(RuntimeError):
            sink.send(case_id, events[3:6])
        assert time.monotonic() - started < 15, "send must fail within a bound when the broker is down"

        assert stack.up(private, timeout=120).healthy
        deadline = time.monotonic() + 60
        while True:  # what Temporal's activity retry does: the same batch again
            try:
                sink.send(case_id, events[3:6])
                break
            except RuntimeError:
                assert time.monotonic() < deadline, "the sink did not recover after the broker came back"
                time.sleep(1)
        sink.send(case_id, events[6:9])
        sink.close()

        got: list[int] = []
        stats = consume(
            lambda _env, ev: got.append(ev.seq),
            settings=private,
            group_id=new_group_id("test-restart"),
            from_beginning=True,
            max_events=9,
            stop_after=60,
        )
        assert got == list(range(1, 10))
        assert stats.gaps == 0
    finally:
        stack.down(private)
