"""``gridcase demo``: the whole loop on the seed city, on compressed time, with one command.

1. Checks the local stack (starting it when it is down), the Kafka topics, the read model's tables
   and the city registry (the seed city is loaded on first use).
2. Starts the case worker, the projector and the API with the workspace as child
   processes (each command that this installation has; a missing or failing one is reported and
   the demo goes on without it; without a worker process the case worker runs in-process). Their
   logs go to ``<state dir>/logs/demo-*.log``.
3. Runs the complaint simulator for a few minutes with a live progress panel.
4. Prints the simulator's tally and the supervisor report from the read model: the three rates,
   the on-time rates, the rankings and the worst-overdue cases, every duration on the stated
   compressed time.
5. Prints the workspace's address and one login link per role (a demo user of each staff role on
   the unit with the most open cases of the run; each link lands on that role's home page), and
   Temporal's Web UI address; stays until Ctrl-C, then stops every process it started (SIGTERM to
   each child's process group, SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from events.times import as_utc
from readmodel.urls import mask_url
from workers.settings import Settings
from workers.sim.city import SimCity
from workers.sim.config import load_config
from workers.sim.display import print_tally, progress_panel, scale_line
from workers.sim.main import SimOptions, count_pollers, load_city, simulate
from workers.sim.runner import Tally
from workflows.sla.timescale import describe_scale

DEFAULT_MINUTES = 3.0
DEFAULT_RATE = 40.0
DEFAULT_SCALE = 2.0
STOP_GRACE_SECONDS = 25.0
#: The ``gridcase`` commands the demo runs as child processes: the case worker, the projector, the API.
CHILD_COMMANDS: tuple[str, ...] = ("worker", "projector", "api")


# --- child processes ----------------------------------------------------------------------------


@dataclass
class Child:
    """A component the demo runs as a child process (``gridcase <command>``)."""

    name: str
    command: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    note: str = ""
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> str:
        if self.proc is None:
            return self.note or "not started"
        code = self.proc.poll()
        if code is None:
            return f"running (pid {self.proc.pid}){' · ' + self.note if self.note else ''}"
        return f"exited with code {code}: see {self.log_path}"

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- gridcase {self.command} started by gridcase demo at {datetime.now(UTC)} ---\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", self.command],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the demo only; the demo stops its children
        )

    def signal_group(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # the child leads its own session and process group

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_children(children: list[Child], console: Console, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every running child's process group, wait up to ``grace`` seconds, then SIGKILL the rest."""
    running = [c for c in children if c.running]
    for child in running:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in running:
        assert child.proc is not None
        try:
            child.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.proc.wait(timeout=10)
            console.print(f"  {child.name}: did not stop within {grace:g} s, killed")
    for child in children:
        child.close_log()
        if child.proc is not None:
            console.print(f"  stopped {child.name} (pid {child.proc.pid}, exit code {child.proc.returncode})")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- preparation --------------------------------------------------------------------------------


async def _pollers(settings: Settings, task_queue: str) -> int:
    from workers.composition import connect_temporal

    client = await connect_temporal(settings)
    return await count_pollers(client, settings.temporal_namespace, task_queue)


def _prepare(settings: Settings, console: Console) -> bool:
    """Stack, topics, read model, registry. Returns False when the demo cannot go on."""
    from deploy import stack

    status = stack.status(settings.stack)
    if not status.healthy:
        console.print(
            "the local stack is not running: starting it (it keeps running after the demo; "
            "`gridcase stack down` stops it)"
        )
        try:
            status = stack.up(settings.stack, timeout=180.0)
        except stack.StackError as err:
            console.print(f"[red]cannot start the local stack:[/red] {err}")
            return False
        if not status.healthy:
            console.print(f"[red]the local stack is not healthy:[/red] {status}")
            return False
    console.print(
        f"stack: Temporal {settings.temporal_address} (Web UI http://localhost:{settings.temporal_ui_port}),"
        f" Kafka {settings.kafka_bootstrap}, SQL {mask_url(settings.resolved_database_url)}"
    )
    from events.topics import ensure_topics

    ensure_topics(settings)
    try:
        from readmodel.db import migrate

        migrate(settings.resolved_database_url)
    except Exception as err:  # the demo still runs cases without a read model
        console.print(f"[yellow]read model not migrated ({err}); the report will be missing[/yellow]")
    return True


def _wait_http(url: str, timeout: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


@dataclass(frozen=True)
class DemoLogin:
    """A demo user of one role and the workspace's login link that signs them in."""

    role: str  # the role as the workspace names it, e.g. ``grid_worker``
    label: str  # how the demo's output names the role
    user_id: str
    unit_id: str | None
    url: str  # ``<workspace>/login#token=...``: the token stays in the fragment, never sent to a server


#: The demo's roles in the order they are shown: (role, label, user name).
DEMO_ROLES: tuple[tuple[str, str, str], ...] = (
    ("dispatcher", "hotline seat (12345 坐席)", "演示坐席 Demo hotline seat"),
    ("supervisor", "supervisor, city (监督员)", "演示督办员 Demo supervisor"),
    ("street", "street office (街道)", "演示街道 Demo street office"),
    ("community", "community (社区)", "演示社区 Demo community"),
    ("grid_worker", "grid worker (网格员)", "演示网格员 Demo grid worker"),
    ("department", "department (职能部门)", "演示部门 Demo department"),
)


def login_link(workspace_url: str, token: str) -> str:
    """The login link of ``token``: the workspace's login page with the token in the fragment."""
    return f"{workspace_url.rstrip('/')}/login#token={token}"


def _busiest_units(settings: Settings, case_ids: list[str]) -> dict[str, str]:
    """The street, community, grid and department with the most open cases of this run (from the
    read model), so that each demo user's queue has cases in it. Empty when nothing is projected."""
    from sqlalchemy import func, select

    from readmodel import tables as t
    from workers.composition import build_readmodel_engine

    found: dict[str, str] = {}
    if not case_ids:
        return found
    c = t.cases.c
    engine = build_readmodel_engine(settings)
    try:
        with engine.connect() as conn:
            for key, column, where in (
                ("street", c.street_id, c.street_id.is_not(None)),
                ("community", c.community_id, c.community_id.is_not(None)),
                ("grid_worker", c.grid_id, c.grid_id.is_not(None)),
                ("department", c.unit_id, c.unit_kind == "department"),
            ):
                counts: dict[str, int] = {}
                for start in range(0, len(case_ids), 500):
                    q = (
                        select(column, func.count())
                        .where(
                            c.case_id.in_(case_ids[start : start + 500]),
                            c.status.not_in(["closed", "rejected", "merged"]),
                            where,
                        )
                        .group_by(column)
                    )
                    for unit, n in conn.execute(q):
                        counts[unit] = counts.get(unit, 0) + int(n)
                if counts:
                    found[key] = max(sorted(counts), key=lambda u: counts[u])
    finally:
        engine.dispose()
    return found


def demo_logins(
    settings: Settings, workspace_url: str, city: SimCity, busiest: dict[str, str] | None = None
) -> list[DemoLogin]:
    """One demo user per staff role (created when missing) with a fresh token each, as login links.

    Units are the busiest of this run when known (``busiest``), else the city's first grid (its
    street and community) and department. A demo user whose unit changed between runs gets a
    user id of its own (``demo-street-<unit>``): users keep their unit.
    """
    from events.base import Role
    from workers.api.app import create_engine_for
    from workers.api.users import UserError, UserStore

    first = city.grids[0]
    department = "environment" if "environment" in city.departments else city.departments[0]
    units: dict[str, str | None] = {
        "dispatcher": None,
        "supervisor": "city",
        "street": first.street_id,
        "community": first.community_id,
        "grid_worker": first.grid_id,
        "department": department,
    }
    units.update(busiest or {})
    engine = create_engine_for(settings)
    logins: list[DemoLogin] = []
    try:
        store = UserStore(engine)
        store.create_tables()
        for role, label, name in DEMO_ROLES:
            unit = units[role]
            user_id = f"demo-{role.replace('_', '-')}"
            try:
                store.ensure_user(user_id, name, Role(role), unit)
            except UserError:  # the same demo user with another unit from an earlier run
                user_id = f"{user_id}-{unit}"
                store.ensure_user(user_id, name, Role(role), unit)
            secret, _ = store.issue_token(user_id, label="gridcase demo")
            logins.append(DemoLogin(role, label, user_id, unit, login_link(workspace_url, secret)))
    finally:
        engine.dispose()
    return logins


# --- the report ---------------------------------------------------------------------------------


def _overdue_table(settings: Settings, tally: Tally, limit: int = 8) -> Table | None:
    """The worst-overdue clocks of this run's cases, in policy hours (the clocks ran compressed)."""
    from sqlalchemy import select

    from readmodel import tables as t
    from workers.composition import build_readmodel_engine

    engine = build_readmodel_engine(settings)
    now = datetime.now(UTC)
    rows: list[tuple[float, str, str, str, str, str]] = []
    try:
        c, k = t.cases.c, t.clocks.c
        ids = tally.case_ids
        with engine.connect() as conn:
            for start in range(0, len(ids), 500):
                q = (
                    select(k.case_id, k.kind, k.unit_kind, k.unit_id, k.due_at, k.stopped_at, c.status, c.category)
                    .join(t.cases, c.case_id == k.case_id)
                    .where(k.case_id.in_(ids[start : start + 500]), k.breached_at.is_not(None))
                )
                for r in conn.execute(q):
                    end = as_utc(r.stopped_at) or now
                    due = as_utc(r.due_at)
                    assert due is not None
                    rows.append(
                        (
                            (end - due).total_seconds(),
                            r.case_id,
                            r.kind,
                            f"{r.unit_kind}:{r.unit_id}",
                            r.status,
                            r.category or "-",
                        )
                    )
    finally:
        engine.dispose()
    if not rows:
        return None
    scale = tally.time_scale
    table = Table(
        title=f"Worst-overdue cases of this run (overdue in policy hours; {describe_scale(scale)})",
        title_justify="left",
        header_style="bold",
    )
    for col in ("case", "clock", "unit", "overdue", "status", "category"):
        table.add_column(col, justify="right" if col == "overdue" else "left")
    for seconds, case_id, kind, unit, status, category in sorted(rows, reverse=True)[:limit]:
        hours = seconds / scale if scale else seconds / 3600
        table.add_row(case_id, kind, unit, f"{hours:,.1f} h ({seconds:,.0f} s)", status, category)
    return table


def _wait_projection(settings: Settings, tally: Tally, timeout: float) -> int:
    """Wait until the read model knows this run's finished cases in their final state; returns how many it has."""
    from sqlalchemy import func, select

    from readmodel import tables as t
    from workers.composition import build_readmodel_engine

    engine = build_readmodel_engine(settings)
    want = sum(tally.final_status.values())
    deadline = time.monotonic() + timeout
    have = 0
    try:
        while True:
            c = t.cases.c
            with engine.connect() as conn:
                have = 0
                for start in range(0, len(tally.case_ids), 500):
                    chunk = tally.case_ids[start : start + 500]
                    have += conn.execute(
                        select(func.count()).where(c.case_id.in_(chunk), c.status.in_(["closed", "rejected", "merged"]))
                    ).scalar_one()
            if have >= tally.finished or time.monotonic() > deadline:
                return have
            time.sleep(1.0)
    except Exception:
        return have if want else 0
    finally:
        engine.dispose()


def print_report(settings: Settings, tally: Tally, console: Console) -> None:
    """The supervisor report: rates and rankings by street and by department, then the worst-overdue cases."""
    try:
        from readmodel.kpis import month_of
        from readmodel.report import build_report, table_renderables
        from workers.composition import build_readmodel_engine
    except ImportError as err:
        console.print(f"[yellow]no supervisor report: the read model's report module is missing ({err})[/yellow]")
        return
    now = datetime.now(UTC)
    period = month_of(now)
    engine = build_readmodel_engine(settings)
    console.rule(f"[bold]supervisor report {period}")
    console.print(scale_line(tally.time_scale))
    try:
        for by, limit in (("street", 10), ("department", 10)):
            report = build_report(
                engine,
                period,
                by,
                as_of=now,
                basic_weight=settings.satisfaction_basic_weight,
                weights=settings.composite_weights,
            )
            shown = len(report.rows)
            if shown > limit:  # the best and the worst
                report.rows = report.rows[: limit // 2] + report.rows[-(limit - limit // 2) :]
            items = table_renderables(report)
            console.print(items[0])
            if by == "street":
                console.print(items[1])
            if shown > limit:
                console.print(
                    f"  ({limit // 2} best and {limit - limit // 2} worst of {shown} {by} rows; "
                    f"`gridcase report --by {by}` shows them all)"
                )
        console.print(
            f"The report covers every case of {period} in the read model ({report.total.cases}); "
            f"this run opened {tally.opened}."
        )
    except Exception as err:
        console.print(f"[yellow]no supervisor report: {err}[/yellow]")
        return
    finally:
        engine.dispose()
    try:
        overdue = _overdue_table(settings, tally)
    except Exception as err:
        console.print(f"[yellow]worst-overdue cases unavailable: {err}[/yellow]")
        return
    console.print(overdue if overdue is not None else "No clock of this run was breached.")


def print_logins(console: Console, workspace_url: str, logins: list[DemoLogin]) -> None:
    """The workspace's address and one login link per role (each lands on that role's home page).

    Each link is printed whole on a line of its own (soft-wrapped by the terminal, never folded by
    the table), so it can be copied or clicked."""
    console.rule("[bold]the workspace")
    console.print(f"Open {workspace_url} — or a login link below to sign in as that role:")
    for login in logins:
        unit = f" @ {login.unit_id}" if login.unit_id else ""
        console.print(f"  [bold]{login.label}[/bold] ({login.user_id}{unit})")
        console.print(f"    {login.url}", soft_wrap=True, highlight=False, markup=False)
    console.print(
        "The token is in the link's fragment (#token=…): the browser never sends it, "
        "and the page drops it from the address."
    )


# --- the main job -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    minutes: float = DEFAULT_MINUTES
    rate: float = DEFAULT_RATE
    time_scale: float = DEFAULT_SCALE
    seed: int = 1
    wait: bool = True  # stay until Ctrl-C after the report
    sample_city: bool = False
    tour: bool = True  # start with one case down every path and rung
    config: Path | None = None  # simulator YAML (mix and behaviours)

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise ValueError(f"--minutes: must be more than 0, got {self.minutes:g}")
        if self.rate <= 0:
            raise ValueError(f"--rate: must be more than 0 complaints per minute, got {self.rate:g}")
        if not self.time_scale > 0:
            raise ValueError(f"--time-scale: must be more than 0 seconds per policy hour, got {self.time_scale:g}")


def _components_panel(children: list[Child], addresses: list[tuple[str, str]]) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for child in children:
        status = child.status()
        style = "green" if child.running else ("yellow" if child.proc is None else "red")
        table.add_row(child.name, Text(status, style=style))
    for label, value in addresses:
        table.add_row(label, Text(value, style="cyan"))
    return Panel(table, title="components", border_style="blue")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. from a supervisor) stops the demo like Ctrl-C does; so does SIGINT even when the
    demo was started with SIGINT ignored (a shell starts background jobs so, and Python then installs
    no Ctrl-C handler): ``kill -INT`` stops a demo started with ``&`` as Ctrl-C stops one in the foreground."""

    def handler(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run(
    settings: Settings,
    options: DemoOptions,
    console: Console | None = None,
    *,
    commands: Collection[str] = CHILD_COMMANDS,
) -> int:
    """The demo; returns the process exit code. Every child it starts is stopped before it returns.

    ``commands`` are the ``gridcase`` commands of this installation (``gridcase demo`` passes them);
    a child whose command is missing is skipped, and the case worker then runs inside the demo.
    """
    console = console or Console()
    settings = settings.model_copy(update={"sla_time_scale": options.time_scale})
    console.rule("[bold]gridcase demo")
    console.print(scale_line(options.time_scale))
    children: list[Child] = []
    with _sigterm_as_interrupt():
        try:
            return _run(settings, options, console, children, commands)
        except KeyboardInterrupt:
            console.print("\n[yellow]interrupted[/yellow]")
            return 130
        finally:
            if any(c.proc is not None for c in children):
                console.print("stopping what the demo started…")
                stop_children(children, console)


def _run(
    settings: Settings, options: DemoOptions, console: Console, children: list[Child], commands: Collection[str]
) -> int:
    if not _prepare(settings, console):
        return 1
    with console.status("loading the city registry (the seed city is loaded into SQL on first use)…"):
        try:
            city = load_city(settings, sample=options.sample_city)
        except Exception as err:
            console.print(f"[yellow]city registry unavailable ({err}); using the small sample city[/yellow]")
            city = load_city(settings, sample=True)
    console.print(
        f"city {city.name}: {len(city.grids):,} grids, {len(city.categories)} categories, "
        f"{len(city.departments)} departments"
    )
    task_queue = settings.task_queue
    if asyncio.run(_pollers(settings, task_queue)):
        task_queue = f"{settings.task_queue}-demo-{os.getpid()}"
        console.print(
            f"[yellow]a worker already serves task queue {settings.task_queue}; the demo's cases "
            f"use {task_queue}[/yellow]"
        )
    settings = settings.model_copy(update={"task_queue": task_queue})
    api_port = settings.api_port if _port_free(settings.api_host, settings.api_port) else _free_port()
    settings = settings.model_copy(update={"api_port": api_port})
    env = dict(os.environ)
    env.update(
        {
            "GRIDCASE_SLA_TIME_SCALE": repr(options.time_scale),
            "GRIDCASE_TASK_QUEUE": task_queue,
            "GRIDCASE_API_PORT": str(api_port),
            "GRIDCASE_METRICS_PORT": str(_free_port()),
            "GRIDCASE_PROJECTOR_METRICS_PORT": str(_free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    logs = settings.state_dir / "logs"
    for name, command in zip(("case worker", "projector", "API and workspace"), CHILD_COMMANDS, strict=True):
        child = Child(name, command, logs / f"demo-{command}.log")
        children.append(child)
        if command not in commands:
            child.note = f"`gridcase {command}` is not part of this installation: skipped"
            console.print(f"[yellow]{child.note}[/yellow]")
            continue
        child.start(env)
    worker, projector, api = children
    workspace_url = f"http://{settings.api_host}:{api_port}/app"
    ui_url = f"http://localhost:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    with console.status("waiting for the components…"):
        deadline = time.monotonic() + 30
        while worker.running and time.monotonic() < deadline and not asyncio.run(_pollers(settings, task_queue)):
            time.sleep(0.5)
        if api.running and not _wait_http(f"http://{settings.api_host}:{api_port}/healthz", 40):
            api.note = "not answering yet"
    in_process_worker = not worker.running
    if in_process_worker:
        worker.note = "not running: the case worker runs inside the demo instead"
        console.print(f"[yellow]case worker process {worker.status()}; running the worker in-process[/yellow]")
    from workers.api.routes.web import WEB_DIST

    if not (WEB_DIST / "index.html").is_file():
        console.print(f"[yellow]the workspace is not built ({WEB_DIST}): run `make web` to open it[/yellow]")
    logins: list[DemoLogin] = []
    if api.running:
        try:
            logins = demo_logins(settings, workspace_url, city)
        except Exception as err:
            console.print(f"[yellow]no demo users: {err}[/yellow]")
    addresses = [("workspace", f"{workspace_url}/" if api.running else "-"), ("Temporal Web UI", ui_url)]
    if logins:
        print_logins(console, f"{workspace_url}/", logins)
    sim_options = SimOptions(
        minutes=options.minutes,
        rate=options.rate,
        time_scale=options.time_scale,
        seed=options.seed,
        config=load_config(options.config, {"cover_all_paths": options.tour}),
        drain_seconds=max(30.0, 60.0 * options.minutes / 3),
    )
    target = f"of {options.minutes:g} min"

    def render(t: Tally) -> RenderableType:
        return Group(
            _components_panel(children, addresses),
            progress_panel(t, target=target, arrivals_seconds=options.minutes * 60),
        )

    if not console.is_terminal:
        console.print(_components_panel(children, addresses))
    tally = asyncio.run(
        simulate(settings, sim_options, city, with_worker=in_process_worker, console=console, render=render)
    )
    print_tally(console, tally)
    if projector.running:
        with console.status("waiting for the projector to catch up…"):
            have = _wait_projection(settings, tally, timeout=60)
        console.print(f"read model: {have} of this run's {tally.finished} finished cases projected")
    else:
        console.print(
            f"[yellow]projector {projector.status()}: the report reads whatever the read model already has[/yellow]"
        )
    print_report(settings, tally, console)
    if logins:
        try:  # each demo user on the unit with the most open cases of this run
            busiest = _busiest_units(settings, tally.case_ids) if projector.running else {}
            logins = demo_logins(settings, workspace_url, city, busiest)
        except Exception as err:
            console.print(f"[yellow]demo users kept on their first units: {err}[/yellow]")
    console.print(_components_panel(children, addresses))
    if api.running and logins:
        print_logins(console, f"{workspace_url}/", logins)
    console.print(f"Temporal Web UI: {ui_url}")
    console.print(scale_line(options.time_scale))
    if not options.wait:
        return 0 if not tally.failures else 1
    console.print("[bold]Ctrl-C stops the worker, the projector and the API.[/bold]")
    while True:
        time.sleep(1.0)
        for child in children:
            if child.proc is not None and child.proc.poll() is not None and not child.note.startswith("exited"):
                child.note = "exited"
                console.print(f"[red]{child.name} {child.status()}[/red]")
