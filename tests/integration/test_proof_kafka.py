"""Proof: a message goes through the real Kafka broker of the local stack (kafka-python)."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(stack_settings: Settings):
    """A fresh topic for this run, deleted afterwards."""
    name = f"gridcase-proof-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=stack_settings.kafka_bootstrap, client_id="gridcase-proof")
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)], timeout_ms=30_000)
        yield name
        admin.delete_topics([name], timeout_ms=30_000)
    finally:
        admin.close()


def test_produce_and_consume_through_the_real_broker(stack_settings: Settings, topic: str) -> None:
    bootstrap = stack_settings.kafka_bootstrap
    key = uuid.uuid4().hex.encode()
    payloads = [f"case-{i}:{key.decode()}".encode() for i in range(3)]

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    try:
        metas = [producer.send(topic, key=key, value=p).get(timeout=30) for p in payloads]
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    assert [m.topic for m in metas] == [topic] * 3
    assert [m.offset for m in metas] == [0, 1, 2]

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"gridcase-proof-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=30_000,
    )
    try:
        consumer.subscribe([topic])
        received = []
        for record in consumer:
            received.append(record)
            if len(received) == len(payloads):
                break
        consumer.commit()
        committed = consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close()

    assert [r.value for r in received] == payloads
    assert {r.key for r in received} == {key}
    assert [r.offset for r in received] == [0, 1, 2]
    assert committed == 3  # the group coordinator (offsets topic, RF 1) works too
