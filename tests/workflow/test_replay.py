"""Replay recorded histories of the main paths: a non-deterministic change to the workflow fails here.

The fixtures in ``histories/`` were recorded by running the path tests with
``GRIDCASE_RECORD_HISTORIES=1``; re-record them only for a deliberate, versioned change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from workflows.case_workflow import CaseWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_fixtures_exist() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "grid_self_handled",
        "whistle_one_late",
        "return_redispatch",
        "unsatisfied_reopen",
    }


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path, sandboxed: bool) -> None:
    """Both runners replay every history: the sandbox (tests) and the plain runner (production default)."""
    history = WorkflowHistory.from_json(f"case-{path.stem}", path.read_text())
    runner = SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()
    # debug_mode: no deadlock timer (2 s per activation): replay is judged on determinism, and a busy
    # machine may take longer than that to decode a history's SLA context in the sandbox
    replayer = Replayer(
        workflows=[CaseWorkflow], data_converter=pydantic_data_converter, workflow_runner=runner, debug_mode=True
    )
    await replayer.replay_workflow(history)
