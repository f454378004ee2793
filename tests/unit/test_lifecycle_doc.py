"""docs/lifecycle.md is generated from the domain; this test fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

from tests.unit.domain_helpers import sla
from workflows.domain.explore import DOC_START, render, transitions

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_lifecycle_doc_matches_the_code() -> None:
    found = transitions(sla(), DOC_START)
    expected = render(found)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/lifecycle.md is out of date: run `python -m workflows.domain.explore > docs/lifecycle.md`"
    )


def test_every_status_is_reachable() -> None:
    found = transitions(sla(), DOC_START)
    reached = {after for _, _, after in found}
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
