"""Settings shared by the whole test suite."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python loads its protocol schemas with importlib.resources' legacy API: a couple of hundred
    # DeprecationWarnings per run that say nothing about this project and hide the warnings that do.
    for message in ("read_text is deprecated", "open_text is deprecated"):
        config.addinivalue_line("filterwarnings", f"ignore:{message}:DeprecationWarning")


#: The slowest test files, slowest first (seconds of their tests in a serial run, ``pytest
#: --durations``): they run first, so that with ``make test``'s two processes (pytest-xdist handing
#: out whole files in collection order) the long ones start early and neither process is left
#: running one alone at the end. Unlisted files follow: the workspace's (``tests/integration/web``,
#: kept together: they share one API stack per process, set up once), the other integration files,
#: then workflow, then unit. No file of ``tests/integration/web`` belongs in this list.
SLOW_FILES = (
    "tests/integration/test_faults.py",
    "tests/integration/test_demo.py",
    "tests/integration/test_events_kafka.py",
    "tests/integration/test_simulate.py",
    "tests/integration/test_cli_services_down.py",
    "tests/integration/test_bench_smoke.py",
    "tests/integration/test_api_fuzz.py",
    "tests/integration/test_scale_out.py",
    "tests/integration/test_kafka_cluster_topics.py",
    "tests/integration/test_api_health.py",
    "tests/integration/test_projection_kafka.py",
    "tests/integration/test_report_html.py",
    "tests/integration/test_shutdown.py",
    "tests/unit/test_deploy_manifests.py",
    "tests/integration/test_worker_restart.py",
    "tests/integration/test_worker_metrics.py",
    "tests/workflow/test_broker_outage.py",
    "tests/integration/test_api_flow.py",
    "tests/unit/test_available_actions.py",
)


def _file_rank(nodeid: str) -> tuple[int, int]:
    path = nodeid.split("::", 1)[0]
    if path in SLOW_FILES:
        return (0, SLOW_FILES.index(path))
    for layer, prefix in enumerate(("tests/integration/web/", "tests/integration/", "tests/workflow/"), start=1):
        if path.startswith(prefix):
            return (layer, 0)
    return (4, 0)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow files first (:data:`SLOW_FILES`); a stable sort, so each file's tests keep their order."""
    items.sort(key=lambda item: _file_rank(item.nodeid))
