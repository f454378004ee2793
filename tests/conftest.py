"""Settings shared by the whole test suite."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python loads its protocol schemas with importlib.resources' legacy API: a couple of hundred
    # DeprecationWarnings per run that say nothing about this project and hide the warnings that do.
    for message in ("read_text is deprecated", "open_text is deprecated"):
        config.addinivalue_line("filterwarnings", f"ignore:{message}:DeprecationWarning")
