"""docs/lifecycle.md is generated from the domain; this test fails when they drift apart."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tests.unit.domain_helpers import sla
from workflows.domain.explore import DOC_START, render, transitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


@lru_cache(maxsize=1)
def _found() -> frozenset[tuple[str, str, str]]:
    """The walk, once for both tests (it is the slow part)."""
    return frozenset(transitions(sla(), DOC_START))


def test_lifecycle_doc_matches_the_code() -> None:
    expected = render(set(_found()))
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/lifecycle.md is out of date: run `python -m workflows.domain.explore > docs/lifecycle.md`"
    )


def test_every_status_is_reachable() -> None:
    reached = {after for _, _, after in _found()}
    assert reached >= {
        "received",
        "rejected",
        "registered",
        "dispatched",
        "returned",
        "handling",
        "resolved",
        "verified",
        "called_back",
        "shelved",
        "closed",
        "merged",
    }
