"""The pieces of the projector/API memory measurement (workers/bench/service_rss.py) that run without a stack."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest

from workers.bench import service_rss as rss


def test_named_mixes() -> None:
    every = {k for _, k, _ in rss.MIX}
    assert set(rss.mix_of("all")) == every
    assert set(rss.mix_of("workspace")) == every - set(rss.REPORTS)
    assert set(rss.mix_of("reports")) == set(rss.REPORTS) and set(rss.REPORTS) <= every
    assert rss.mix_of("case, intake") == ("case", "intake")
    for bad in ("", "everything", "case,nope"):
        with pytest.raises(ValueError, match="--mix"):
            rss.mix_of(bad)


def test_events_done_counts_applied_and_skipped() -> None:
    text = "\n".join(
        [
            "# HELP gridcase_projector_events_applied_total Case events applied to the read model.",
            'gridcase_projector_events_applied_total{type="case.received"} 120.0',
            'gridcase_projector_events_applied_total{type="case.registered"} 80.0',
            "gridcase_projector_events_skipped_total 7.0",
            "gridcase_projector_events_applied_created 1.7e9",
            'gridcase_projector_dead_lettered_total{reason="invalid"} 3.0',
        ]
    )
    assert rss.events_done(text) == 207
    assert rss.events_done("") == 0


def test_status_of_a_live_process_and_of_none() -> None:
    own = rss.status_kib(os.getpid())
    assert own["VmHWM"] >= own["VmRSS"] > 0
    assert rss.status_kib(2**22 + 12345) == {}


class _Response:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self._body = body
        self.content = b"{}"
        self.text = "{}"

    def json(self) -> dict[str, Any]:
        return self._body


class _Http:
    """Stands in for httpx.AsyncClient: records each request and answers like the API."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, path: str, **kw: Any) -> _Response:
        self.sent.append((method, path, kw))
        if method == "POST" and path == "/cases":
            return _Response(201, {"case_id": f"C{len(self.sent):012d}"})
        return _Response(200, {})


@pytest.mark.parametrize("kind", [k for _, k, _ in rss.MIX])
def test_every_kind_sends_its_request(kind: str) -> None:
    load = rss.Load("http://api", {"op": "t1", "sv": "t2", "street": "t3"}, "S-0101", "G-01010101", 5000, "2026-12")
    load.opened.append("C000000000001")
    http = _Http()
    asyncio.run(load.one(http, kind, random.Random(1)))
    assert http.sent, kind
    assert all(kw["headers"]["Authorization"].startswith("Bearer t") for _, _, kw in http.sent)
    assert load.calls.keys() <= {kind, "register", "dispatch"}
    if kind == "intake":
        assert [p for _, p, _ in http.sent] == [
            "/cases",
            "/cases/C000000000001/register",
            "/cases/C000000000001/dispatch",
        ]
        assert len(load.opened) == 2
    if kind in rss.REPORTS:
        assert http.sent[0][1].startswith(("/dashboard", "/metrics/"))


def test_a_case_page_waits_for_a_case_of_temporal() -> None:
    load = rss.Load("http://api", {"op": "t1", "sv": "t2", "street": "t3"}, "S-0101", "G-01010101", 10, "2026-12")
    http = _Http()
    asyncio.run(load.one(http, "case", random.Random(1)))
    assert http.sent[0][1] == "/cases" and load.opened, "with no case opened yet, it opens one"
