"""``gridcase demo`` end to end on the real stack: report on screen, one login link per role into the
workspace (each signs in as its role), then Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ROOT, free_port
from workers.settings import Settings

pytestmark = pytest.mark.integration

#: The roles of the demo's login links, in the order printed.
ROLES = ("dispatcher", "supervisor", "street", "community", "grid_worker", "department")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_the_loop_and_ctrl_c_stops_everything(stack_settings: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update(
        {
            "GRIDCASE_STATE_DIR": str(stack_settings.state_dir),
            "GRIDCASE_TOPIC_PREFIX": f"demo{tag}",
            "GRIDCASE_TASK_QUEUE": f"demo-{tag}",
            "GRIDCASE_PROJECTOR_GROUP_ID": f"demo-{tag}",
            "GRIDCASE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
            "GRIDCASE_API_PORT": str(free_port()),
            "COLUMNS": "200",
        }
    )
    config = tmp_path / "sim.yaml"  # slow handling units, so that the report has overdue clocks to show
    config.write_text("behaviour:\n  accept_late: {reminder: 0.6}\n", encoding="utf-8")
    out_path = tmp_path / "demo.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workers.cli",
                "demo",
                "--minutes",
                "0.15",
                "--rate",
                "60",
                "--time-scale",
                "0.5",
                "--no-tour",
                "--config",
                str(config),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 150
            while "Ctrl-C stops" not in out_path.read_text(encoding="utf-8", errors="replace"):
                assert proc.poll() is None, out_path.read_text(encoding="utf-8", errors="replace")
                assert time.monotonic() < deadline, out_path.read_text(encoding="utf-8", errors="replace")
                time.sleep(0.5)
            text = out_path.read_text(encoding="utf-8")
            pids = [int(p) for p in re.findall(r"running \(pid (\d+)\)", text)]
            assert len(set(pids)) == 3 and all(_alive(p) for p in pids), text  # worker, projector, API
            final = text[text.rindex("the workspace") :]
            links = re.findall(r"^\s+(http://\S+?/app/login#token=(gct_\S+))\s*$", final, re.MULTILINE)
            assert len(links) == len(ROLES), final
            for (url, token), role in zip(links, ROLES, strict=True):  # each link signs in as its role
                base = url.split("/app/", 1)[0]
                me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
                assert me.status_code == 200 and me.json()["role"] == role, (role, me.text)
            page = httpx.get(links[0][0].split("#", 1)[0], timeout=10)  # the fragment never reaches the server
            assert page.status_code in (200, 503) and "text/html" in page.headers["content-type"]
            proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            # the demo's children run in sessions of their own: a demo killed here leaves them behind
            started = re.findall(r"running \(pid (\d+)\)", out_path.read_text(encoding="utf-8", errors="replace"))
            for pid in {int(p) for p in started}:
                if _alive(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
    text = out_path.read_text(encoding="utf-8")
    assert "COMPRESSED TIME: 1 policy hour = 0.5 s wall-clock" in text
    assert "simulation tally" in text and "supervisor report" in text
    assert re.search(r"read model: (\d+) of this run's \1 finished cases projected", text), text
    assert "gridcase report" in text and "by street: closed loop" in text and "by department: closed loop" in text
    assert "Worst-overdue cases of this run" in text
    assert re.search(r"Open http://127\.0\.0\.1:\d+/app/ ", text) and "Temporal Web UI: http://localhost:" in text
    assert text.count("stopped ") >= 3
    time.sleep(0.5)
    assert not [p for p in pids if _alive(p)], "the demo left processes behind"
