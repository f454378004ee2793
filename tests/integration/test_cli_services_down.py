"""Every command meets a missing service with one line: which service, where, how to start it.

Each command runs as an operator runs it (a subprocess of the installed ``gridcase``) with settings
pointing at closed ports: Temporal and Kafka on ``localhost:1``, the SQL database on a PostgreSQL
port nobody listens on, or, to get past the database, an SQLite file of its own. The command must
exit with 1, print exactly one line on stderr naming the service and its address and saying how to
start it, and no traceback. Long-running services (worker, projector, API) may log before they give
up; their last line is the one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from city.files import write_city
from tests.unit.test_city_files import tiny_city

GRIDCASE = str(Path(sys.executable).parent / "gridcase")
CLOSED = "localhost:1"
PG_CLOSED = "postgresql+psycopg2://gridcase:secret@localhost:1/gridcase"

SERVICE_LINE = {
    "Temporal": f"Temporal is not reachable at {CLOSED} ",
    "Kafka": f"Kafka is not reachable at {CLOSED} ",
    "database": "the SQL database is not reachable at postgresql+psycopg2://gridcase:***@localhost:1/gridcase ",
}
HINT = {
    "Temporal": "GRIDCASE_TEMPORAL_ADDRESS",
    "Kafka": "GRIDCASE_KAFKA_BOOTSTRAP",
    "database": "GRIDCASE_DATABASE_URL",
}

#: (command, database: "down" or "sqlite", the service it must name)
COMMANDS: list[tuple[str, str, str]] = [
    # Temporal
    ("case show C1", "down", "Temporal"),
    ("case accept C1 --as street:S-1", "down", "Temporal"),
    ("case close C1", "down", "Temporal"),
    ("case dispatch C1 --unit street:S-1", "sqlite", "Temporal"),
    ("case whistle C1 --task water=fix --as street:S-1", "sqlite", "Temporal"),
    ("case new --title t --description d --category noise --grid G-101", "sqlite", "Temporal"),
    ("case timeline C1 --source temporal", "sqlite", "Temporal"),
    ("temporal setup --wait 0", "down", "Temporal"),
    # Kafka
    ("events tail --seconds 20", "down", "Kafka"),
    ("topics list", "down", "Kafka"),
    ("topics ensure", "down", "Kafka"),
    ("readmodel sync --timeout 20", "sqlite", "Kafka"),
    ("readmodel rebuild --yes", "sqlite", "Kafka"),
    # the SQL database
    ("case dispatch C1 --unit street:S-1", "down", "database"),
    ("case new --title t --description d --category noise --grid G-101", "down", "database"),
    ("case timeline C1", "down", "database"),
    ("report", "down", "database"),
    ("report --by department --format csv", "down", "database"),
    ("readmodel status", "down", "database"),
    ("readmodel migrate", "down", "database"),
    ("readmodel sync", "down", "Kafka"),
    ("users list", "down", "database"),
    ("users add op-9 --role dispatcher", "down", "database"),
    ("users add s-9 --role street --unit S-1", "down", "database"),
    ("users token op-9", "down", "database"),
    ("city show", "down", "database"),
    ("city show --streets", "down", "database"),
    ("city locate --grid G-101", "down", "database"),
    ("city load", "down", "database"),
    ("simulate --cases 1", "down", "database"),
]

#: Services that may log lines of their own before giving up.
SERVICES: list[tuple[str, str, str]] = [
    ("worker", "down", "Temporal"),
    ("api", "down", "database"),
    ("api", "sqlite", "Temporal"),
    ("projector", "down", "database"),
]


@pytest.fixture(scope="module")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    write_city(tiny_city(), folder)
    return folder


def _env(tmp: Path, database: str, city: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCASE_")}
    env.update(
        GRIDCASE_STATE_DIR=str(tmp / "state"),
        GRIDCASE_TEMPORAL_ADDRESS=CLOSED,
        GRIDCASE_KAFKA_BOOTSTRAP=CLOSED,
        GRIDCASE_DATABASE_URL=PG_CLOSED if database == "down" else f"sqlite:///{tmp / 'gridcase.db'}",
        GRIDCASE_CITY_DATA_DIR=str(city),
        GRIDCASE_METRICS_PORT="0",
        GRIDCASE_PROJECTOR_METRICS_PORT="0",
        GRIDCASE_API_PORT="1",
        COLUMNS="200",
    )
    return env


def _run(command: str, database: str, tmp: Path, city: Path) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [GRIDCASE, *command.split()],
        env=_env(tmp, database, city),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _check(command: str, service: str, result: subprocess.CompletedProcess[str], *, one_line: bool) -> None:
    where = (
        f"`gridcase {command}`: rc={result.returncode}\nstdout: {result.stdout[-800:]}\nstderr: {result.stderr[-2000:]}"
    )
    assert "Traceback" not in result.stderr + result.stdout, where
    assert result.returncode == 1, where
    lines = result.stderr.strip().splitlines()
    if one_line:
        assert len(lines) == 1, where
    assert lines, where
    last = lines[-1]
    assert last.startswith(SERVICE_LINE[service]), where
    assert HINT[service] in last, where
    if service != "database":
        assert "`gridcase stack up`" in last, where


def test_every_command_names_the_missing_service(tmp_path: Path, city_dir: Path) -> None:
    """All commands at once (they only wait on closed ports), each checked on its own."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            (command, service, pool.submit(_run, command, database, tmp_path / f"c{i}", city_dir))
            for i, (command, database, service) in enumerate(COMMANDS)
        ]
        problems = []
        for command, service, future in futures:
            try:
                _check(command, service, future.result(), one_line=True)
            except AssertionError as err:
                problems.append(str(err))
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("command, database, service", SERVICES, ids=[f"{c}-{d}" for c, d, _ in SERVICES])
def test_services_name_the_missing_service(
    command: str, database: str, service: str, tmp_path: Path, city_dir: Path
) -> None:
    _check(command, service, _run(command, database, tmp_path, city_dir), one_line=False)


def test_the_table_covers_every_service_both_ways() -> None:
    """Each service is met down by commands of several groups."""
    for service in SERVICE_LINE:
        groups = {c.split()[0] for c, _, s in COMMANDS + SERVICES if s == service}
        assert len(groups) >= 2, (service, groups)
