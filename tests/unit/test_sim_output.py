"""The simulator's tally output and the demo's process handling (no stack needed)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console

from workers.cli import available_commands
from workers.demo import Child, stop_children
from workers.sim.display import print_tally, progress_panel
from workers.sim.runner import Tally


def _render(tally: Tally) -> str:
    console = Console(file=io.StringIO(), width=160, force_terminal=False)
    print_tally(console, tally)
    console.print(progress_panel(tally))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_every_output_states_the_time_scale() -> None:
    tally = Tally(
        time_scale=2.0,
        planned=3,
        opened=3,
        finished=3,
        paths=Counter(street=2, rejected=1),
        rung_cases=Counter(reminder=1),
        rung_events=Counter(reminder=2),
        final_status=Counter(closed=3),
    )
    text = _render(tally)
    assert text.count("COMPRESSED TIME: 1 policy hour = 2 s wall-clock") == 3  # tally top and bottom, live panel
    assert "通报 public notice" in text and "self_handled" in text  # rows at zero are listed too
    real = _render(Tally(time_scale=None))
    assert "real time (working calendar)" in real and "COMPRESSED" not in real


def test_the_demo_finds_its_components() -> None:
    assert {"worker", "projector", "api", "simulate", "demo"} <= available_commands()


def test_stopping_children_ends_their_whole_process_group(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('ready', flush=True); time.sleep(60)"
    )
    child = Child("sleeper", "-", tmp_path / "sleeper.log")
    child.proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert child.proc.stdout is not None and child.proc.stdout.readline().strip() == b"ready"
    pgid = os.getpgid(child.proc.pid)
    members = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pgid]
    assert len(members) == 2  # the child and the grandchild it started
    out = io.StringIO()
    stop_children([child], Console(file=out), grace=5.0)
    time.sleep(0.3)
    assert not [p for p in members if _alive(int(p))]
    assert "stopped sleeper" in out.getvalue()


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
