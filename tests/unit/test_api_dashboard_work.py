"""``GET /dashboard`` and ``GET /dashboard/export.csv`` carry the work inside the units, in process:
the read model's facts are the hand-computed ones of :mod:`tests.unit.test_metrics_unit_work`.

Classes of input: the city (a dispatcher) and a district supervisor (the district's cases only), a
period with the work and one without any, handlers the user directory names and one it does not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from events.base import Role
from readmodel.kpis import CaseFacts, WorkFacts, corrections_by_category, person_load, unit_work, work_by_unit
from tests.unit.test_api_routes import FakeCases
from tests.unit.test_metrics_unit_work import CASES, NOVEMBER, WORK
from workers.api.app import create_app
from workers.api.users import UserStore
from workers.settings import Settings
from workflows.domain.registry import sample_city

# A and B are in district D-1, every other case in D-2.
DISTRICTS = [replace(c, district_id="D-1" if c.case_id in {"A", "B"} else "D-2") for c in CASES]
USERS: dict[str, tuple[str, Role, str | None]] = {
    "op-1": ("接线员", Role.DISPATCHER, None),
    "sv-d1": ("区督查", Role.SUPERVISOR, "D-1"),
    "h-1": ("李四", Role.DEPARTMENT, "housing"),  # h-2 and p-1 are not in the directory
}


class Http:
    def __init__(self, http: TestClient, tokens: dict[str, str]) -> None:
        self.http, self.tokens = http, tokens

    def get(self, user: str, url: str, **params: str) -> Any:
        return self.http.get(url, params=params, headers={"Authorization": f"Bearer {self.tokens[user]}"})


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Http]:
    import readmodel.dashboard
    import readmodel.kpis
    import readmodel.report

    def facts(_: object) -> tuple[list[CaseFacts], list[object]]:
        return list(DISTRICTS), []

    def work(_: object) -> list[WorkFacts]:
        return list(WORK)

    for module in (readmodel.kpis, readmodel.report):
        monkeypatch.setattr(module, "load_facts", facts)
        monkeypatch.setattr(module, "load_work_facts", work)
    monkeypatch.setattr(readmodel.dashboard, "load_dashboard_facts", lambda _: ([], {}))
    engine = create_engine(f"sqlite:///{tmp_path / 'api.db'}")
    store = UserStore(engine)
    store.create_tables()
    tokens = {}
    for person, (name, role, unit) in USERS.items():
        store.add_user(person, name, role, unit)
        tokens[person], _ = store.issue_token(person)
    app = create_app(Settings(), cases=FakeCases(), engine=engine, registry=sample_city(), live=False)  # type: ignore[arg-type]
    with TestClient(app) as http:
        yield Http(http, tokens)
    engine.dispose()


def _figures(w: Any) -> dict[str, Any]:
    c = w.corrections
    return {
        "replies_submitted": w.replies_submitted,
        "replies_sent_back": w.replies_sent_back,
        "replies_approved": w.replies_approved,
        "sent_back_rate": w.sent_back_rate,
        "interim_replies": w.interim_replies,
        "interim_on_time": w.interim_on_time,
        "interim_on_time_rate": w.interim_on_time_rate,
        "corrections": {
            "reclassified": c.reclassified,
            "urgency_changed": c.urgency_changed,
            "relocated": c.relocated,
            "total": c.total,
        },
    }


def test_the_page_carries_the_work_inside_the_units(api: Http) -> None:
    r = api.get("op-1", "/dashboard", period="2026-11")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["work"] == _figures(unit_work([e for e in WORK if e.case_id in {"A", "B", "C", "H"}]))
    expected = work_by_unit(NOVEMBER, WORK)
    assert [row["unit"] for row in page["work_by_unit"]] == list(expected)
    for row in page["work_by_unit"]:
        assert row["work"] == _figures(expected[row["unit"]]), row["unit"]
        if row["unit"] == "-":
            assert (row["unit_kind"], row["unit_id"]) == (None, None)
        else:
            assert f"{row['unit_kind']}:{row['unit_id']}" == row["unit"]
    housing = next(row["work"] for row in page["work_by_unit"] if row["unit"] == "department:housing")
    street = next(row["work"] for row in page["work_by_unit"] if row["unit"] == "street:S-1")
    assert housing["sent_back_rate"] == pytest.approx(1 / 3) and housing["interim_on_time_rate"] == pytest.approx(2 / 3)
    assert street["sent_back_rate"] is None and street["interim_on_time_rate"] is None  # undefined, not 0
    by_category = corrections_by_category(NOVEMBER, WORK)
    assert {c["category"]: c["corrections"] for c in page["corrections_by_category"]} == {
        k: _figures(replace(unit_work([]), corrections=v))["corrections"] for k, v in by_category.items()
    }


def test_the_page_names_the_handlers_from_the_directory(api: Http) -> None:
    page = api.get("op-1", "/dashboard", period="2026-11").json()
    load = person_load(DISTRICTS, "2026-11", as_of=datetime.now(UTC))
    assert [
        (p["handler_id"], p["unit_kind"], p["unit_id"], p["open"], p["overdue"], p["closed"]) for p in page["people"]
    ] == [(p.handler_id, p.unit_kind, p.unit_id, p.open, p.overdue, p.closed) for p in load]
    names = {p["handler_id"]: p["name"] for p in page["people"]}
    assert names["h-1"] == "李四" and names["p-1"] is None


def test_a_period_without_work_has_empty_sections(api: Http) -> None:
    page = api.get("op-1", "/dashboard", period="2026-09").json()
    assert page["work_by_unit"] == [] and page["corrections_by_category"] == []
    # the load is of the cases open now, whenever opened; none was closed in September
    assert {(p["handler_id"], p["open"]) for p in page["people"]} == {("h-1", 1), ("p-1", 1)}
    assert all(p["closed"] == 0 for p in page["people"])
    assert page["work"]["replies_submitted"] == 0 and page["work"]["sent_back_rate"] is None


def test_a_district_supervisor_sees_the_work_of_the_districts_cases(api: Http) -> None:
    page = api.get("sv-d1", "/dashboard", period="2026-11").json()
    assert page["scope"] == "district:D-1"
    ab = [e for e in WORK if e.case_id in {"A", "B"}]
    assert page["work"] == _figures(unit_work(ab))
    assert [row["unit"] for row in page["work_by_unit"]] == ["department:housing"]
    assert {p["handler_id"] for p in page["people"]} == {"h-1"}


@pytest.mark.parametrize("user", ["op-1", "sv-d1"])
def test_the_export_carries_the_per_unit_figures(api: Http, user: str) -> None:
    r = api.get(user, "/dashboard/export.csv", period="2026-11", by="department")
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(r.text))}
    trailing = ["replies_submitted", "sent_back_rate", "interim_replies", "interim_on_time_rate", "corrections"]
    assert list(next(iter(rows.values())))[-len(trailing) :] == trailing
    assert rows["total"]["sent_back_rate"] == "0.3333" and rows["total"]["interim_on_time_rate"] == "0.6667"
    corrections = "5" if user == "op-1" else "2"  # the city: C's and H's corrections too
    assert rows["total"]["corrections"] == corrections
