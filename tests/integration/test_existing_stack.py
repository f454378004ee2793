"""GRIDCASE_TEST_STACK=existing: the suite probes the configured stack and never starts or stops one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, free_port
from workers.settings import Settings

pytestmark = pytest.mark.integration

PROBE_TEST = """
def test_uses_the_stack(stack_settings):
    print("STACK", stack_settings.temporal_address, stack_settings.kafka_bootstrap)
"""


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_probe_existing.py"
    test.write_text(PROBE_TEST)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "tests.integration.conftest",
            "-p",
            "no:cacheprovider",
            str(test),
        ],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("GRIDCASE_")}, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_an_existing_stack_is_probed_not_started(stack_settings: Settings, tmp_path: Path) -> None:
    state = tmp_path / "state"  # no stack was ever started here: nothing may appear in it
    env = {
        "GRIDCASE_TEST_STACK": "existing",
        "GRIDCASE_STATE_DIR": str(state),
        "GRIDCASE_TEMPORAL_ADDRESS": stack_settings.temporal_address,
        "GRIDCASE_KAFKA_BOOTSTRAP": stack_settings.kafka_bootstrap,
        "GRIDCASE_DATABASE_URL": stack_settings.resolved_database_url,
    }
    done = _run(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"STACK {stack_settings.temporal_address} {stack_settings.kafka_bootstrap}" in done.stdout
    assert not (state / "pids").exists(), "the suite started something on an existing stack"


def test_an_existing_stack_that_does_not_answer_fails_with_what_is_down(tmp_path: Path) -> None:
    env = {
        "GRIDCASE_TEST_STACK": "existing",
        "GRIDCASE_STATE_DIR": str(tmp_path / "state"),
        "GRIDCASE_TEMPORAL_ADDRESS": f"localhost:{free_port()}",
        "GRIDCASE_KAFKA_BOOTSTRAP": f"localhost:{free_port()}",
    }
    done = _run(tmp_path, env)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "GRIDCASE_TEST_STACK=existing, but the configured stack does not answer" in out, out[-3000:]
    assert env["GRIDCASE_TEMPORAL_ADDRESS"] in out and env["GRIDCASE_KAFKA_BOOTSTRAP"] in out


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, {"GRIDCASE_TEST_STACK": "maybe", "GRIDCASE_STATE_DIR": str(tmp_path / "s")})
    assert done.returncode != 0
    assert "GRIDCASE_TEST_STACK must be one of start, existing, got 'maybe'" in done.stdout + done.stderr
