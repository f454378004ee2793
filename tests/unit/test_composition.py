"""The composition root builds the calendar and the workflow runner named by the settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from workers.composition import active_calendar, workflow_runner
from workers.settings import Settings


def test_calendar_override_file_is_applied(tmp_path: Path) -> None:
    override = tmp_path / "calendar.yaml"
    override.write_text("holidays:\n  add: [2026-12-31]\n", encoding="utf-8")
    plain = active_calendar(Settings(), today=dt.date(2026, 11, 25))
    custom = active_calendar(Settings(calendar_override_file=override), today=dt.date(2026, 11, 25))
    assert plain.is_workday(dt.date(2026, 12, 31))
    assert not custom.is_workday(dt.date(2026, 12, 31))
    assert plain.version != custom.version


def test_workers_run_unsandboxed_unless_the_sandbox_is_asked_for() -> None:
    assert isinstance(workflow_runner(Settings()), UnsandboxedWorkflowRunner)
    assert isinstance(workflow_runner(Settings(worker_sandboxed=True)), SandboxedWorkflowRunner)
