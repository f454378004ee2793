"""Fixtures for the proof tests on the real local stack (Temporal dev server, Kafka broker, SQL).

No mocks and no fakes here: every test talks to the real services that ``deploy.stack.up`` runs.
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


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[Settings]:
    """Settings of a running, healthy local stack (started here if it is not running yet)."""
    settings = _settings()
    try:
        result = stack.up(settings, timeout=120.0)
    except stack.StackError as exc:
        pytest.fail(f"the local stack could not be started: {exc}")
    assert result.healthy, result
    yield settings


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_stack_settings(base: Settings, state_dir: Path, topic_prefix: str) -> Settings:
    """Settings for a second, private stack (own state dir and ports) that a test may stop at will."""
    return base.model_copy(
        update={
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
    up to three attempts, each on new ports.
    """
    import uuid

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
