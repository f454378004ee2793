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
