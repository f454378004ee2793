"""Fixtures for the proof tests on the real local stack (Temporal dev server, Kafka broker, SQL).

No mocks and no fakes here: every test talks to the real services that ``deploy.stack.up`` runs.

Which stack the tests use is configuration:

- ``GRIDCASE_STACK_PROFILE`` picks the profile (``dev``: the Temporal dev server and one broker;
  ``cluster``: the Temporal server's four services on PostgreSQL and three brokers);
- ``GRIDCASE_TEST_STACK=start`` (the default) starts that profile's stack unless it is running;
  ``GRIDCASE_TEST_STACK=existing`` never starts or stops anything: the configured addresses
  (``GRIDCASE_TEMPORAL_ADDRESS``, ``GRIDCASE_KAFKA_BOOTSTRAP``, ``GRIDCASE_DATABASE_URL``) are probed,
  so the suite runs against a stack someone else runs, an operator's real cluster among them; the
  drills that stop and restart services are skipped there.

Private stacks (a test that stops its own broker or server) are always dev stacks on free ports;
on the cluster profile, the drills use the cluster itself instead (``start_private_stack``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import stack
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings() -> Settings:
    settings = Settings()
    # The stack's state lives in the repository's .gridcase/ whatever the working directory, so the
    # tests find the stack that `make test` (or `gridcase stack up` in the repo root) started.
    if "GRIDCASE_STATE_DIR" not in os.environ and not settings.state_dir.is_absolute():
        settings = settings.model_copy(update={"state_dir": ROOT / settings.state_dir})
    return settings


TEST_STACK_ENV = "GRIDCASE_TEST_STACK"
TEST_STACK_MODES = ("start", "existing")


def test_stack_mode() -> str:
    """``start`` (start the stack unless it runs) or ``existing`` (probe it only), from GRIDCASE_TEST_STACK."""
    mode = os.environ.get(TEST_STACK_ENV, "start").strip() or "start"
    if mode not in TEST_STACK_MODES:
        raise pytest.UsageError(f"{TEST_STACK_ENV} must be one of {', '.join(TEST_STACK_MODES)}, got {mode!r}")
    return mode


test_stack_mode.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def on_cluster(settings: Settings) -> bool:
    """Whether the tests run on the cluster profile (shared by every test: never stopped for good)."""
    return settings.stack_profile == "cluster"


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    """Settings of a running, healthy stack (started here if it is not running yet, unless existing)."""
    settings = _settings()
    if test_stack_mode() == "existing":
        result = stack.probe(settings)
        if not result.healthy:
            down = "; ".join(f"{s.name} {s.address}: {s.detail or s.state}" for s in result.services if not s.ok)
            pytest.fail(f"{TEST_STACK_ENV}=existing, but the configured stack does not answer: {down}")
        yield settings
        return
    try:
        result = stack.up(settings, timeout=180.0 if on_cluster(settings) else 120.0)
    except stack.StackError as exc:
        pytest.fail(f"the {settings.stack_profile} stack could not be started: {exc}")
    assert result.healthy, result
    yield settings


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_stack_settings(base: Settings, state_dir: Path, topic_prefix: str) -> Settings:
    """Settings for a second, private dev stack (own state dir and ports) that a test may stop at will."""
    return base.model_copy(
        update={
            "stack_profile": "dev",
            "kafka_replication_factor": 1,
            "state_dir": state_dir,
            "kafka_bootstrap": f"localhost:{free_port()}",
            "kafka_controller_port": free_port(),
            "temporal_address": f"localhost:{free_port()}",
            "temporal_ui_port": free_port(),
            "database_url": None,
            "topic_prefix": topic_prefix,
        }
    )


def start_private_stack(base: Settings, tmp_path_factory: pytest.TempPathFactory, name: str) -> Settings:
    """Start a private stack (own state dir, ports and topics) a test may stop at will; its settings.

    Free ports are picked before the services bind them, so another process may take one meanwhile:
    up to three attempts, each on new ports. On the cluster profile the drills break and repair the
    cluster itself (own topics): the settings returned are the cluster's, which
    :func:`stop_private_stack` leaves running. On an existing stack nothing may be stopped: skipped.
    """
    import uuid

    if test_stack_mode() == "existing":
        pytest.skip(f"stops and restarts services: not on a stack this suite does not run ({TEST_STACK_ENV}=existing)")
    if on_cluster(base):
        return base.model_copy(update={"topic_prefix": f"{name}{uuid.uuid4().hex[:6]}"})

    for attempt in range(3):
        state = tmp_path_factory.mktemp(f"{name}-stack")
        private = private_stack_settings(base, state, f"{name}{uuid.uuid4().hex[:6]}")
        try:
            assert stack.up(private, timeout=120).healthy
            return private
        except stack.StackError:
            stack.down(private)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def stop_private_stack(private: Settings) -> None:
    """Stop a stack from :func:`start_private_stack`; the shared cluster is restarted where stopped instead."""
    if on_cluster(private):
        stack.up(private, timeout=180.0)  # whatever a drill left stopped comes back for the next test
        return
    stack.down(private)
