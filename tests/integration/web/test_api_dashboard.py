"""``GET /dashboard`` and ``GET /dashboard/export.csv`` on the real stack: who may read them, what is
refused, and that every figure is ``gridcase report``'s, the command run as a subprocess on the
stack's database.

``overdue_open`` is the one figure that moves with the clock (it is counted at the time of the
call, and the stack runs compressed time), so the API's answer and the command's are compared
"sandwiched": API, command, API; the command must equal the answer before or after it.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from readmodel import tables as t
from readmodel.kpis import evaluated, load_facts, month_of
from readmodel.report import COLUMNS, CSV_WORK_COLUMNS
from tests.integration.conftest import ROOT
from tests.integration.test_api_support import ApiStack, act, drive, lifecycle, open_case

pytestmark = pytest.mark.integration

GRIDCASE = ROOT / ".venv" / "bin" / "gridcase"


# --- helpers (the supervisor's journey uses them too) ---------------------------------------------


def cli_report(web: ApiStack, period: str, by: str = "street") -> str:
    """``gridcase report --period P --by B --format csv`` on the stack's database, as printed."""
    env = {**os.environ, "GRIDCASE_DATABASE_URL": web.settings.resolved_database_url, "COLUMNS": "200"}
    out = subprocess.run(
        [str(GRIDCASE), "report", "--period", period, "--by", by, "--format", "csv"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def sandwiched(api: Callable[[], str], cli: Callable[[], str], attempts: int = 4) -> tuple[str, str]:
    """``(api text, cli text)`` once the command's output equals the API's just before or after it.

    Gives up after ``attempts`` and returns the last pair (the caller's assertion then fails)."""
    before = api()
    for _ in range(attempts):
        printed = cli()
        after = api()
        if printed in (before, after):
            return printed, printed
        before = after
    return after, printed


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def raw(value: Any) -> str:
    """A metric as the report's CSV writes it (``readmodel.report._raw``)."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.4f}"


def pct(value: float | None) -> str:
    """A rate as the workspace shows it: JavaScript's ``(100 * v).toFixed(1) + "%"``, "—" undefined."""
    if value is None:
        return "—"
    return f"{Decimal(100 * value).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def work_cells(work: dict[str, Any]) -> list[str]:
    """The CSV's cells of the work inside a unit (``readmodel.report.CSV_WORK_COLUMNS``) from the page's."""
    return [raw(work["corrections"]["total"] if name == "corrections" else work[name]) for name, _ in CSV_WORK_COLUMNS]


def csv_of_dashboard(page: dict[str, Any], by: str) -> list[list[str]]:
    """The report's CSV rows (without header) rebuilt from the dashboard's ranking, total and work
    inside the units (``by`` a unit kind: street, department or grid)."""
    fields = [c[0] for c in COLUMNS]
    units = {w["unit"]: w["work"] for w in page["work_by_unit"]}
    none = {"replies_submitted": 0, "sent_back_rate": None, "interim_replies": 0, "interim_on_time_rate": None}
    rows = []
    for r in page["rankings"][by]:
        m = r["metrics"]
        figures = [raw(m[f]) for f in fields]
        work = units.get(f"{by}:{r['key']}", {**none, "corrections": {"total": 0}})
        rows.append(
            [
                page["period"],
                by,
                str(r["rank"]),
                r["key"],
                r["name"] or "",
                *figures,
                str(m["compressed_cases"]),
                *work_cells(work),
            ]
        )
    total = page["total"]
    rows.append(
        [
            page["period"],
            by,
            "",
            "total",
            "",
            *[raw(total[f]) for f in fields],
            str(total["compressed_cases"]),
            *work_cells(page["work"]),
        ]
    )
    return rows


def wait_projected(web: ApiStack, expected: dict[str, str], escalations: int = 0, timeout: float = 120) -> None:
    """Wait until the read model shows each case in its status, and at least ``escalations`` rows."""
    engine = create_engine(web.settings.resolved_database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                got = dict(
                    conn.execute(
                        select(t.cases.c.case_id, t.cases.c.status).where(t.cases.c.case_id.in_(expected))
                    ).all()
                )
                n = len(conn.execute(select(t.escalations.c.seq).where(t.escalations.c.case_id.in_(expected))).all())
            if got == expected and n >= escalations:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not projected: {got} (want {expected}); escalations {n} < {escalations}")
            time.sleep(0.3)
    finally:
        engine.dispose()


def loop_cases(web: ApiStack) -> dict[str, str]:
    """Cases through the loop: two closed (satisfied, basically satisfied), one rejected, one open with
    a reminder and a supervision order. ``{case id: status}``, once projected."""
    steps = lifecycle(web.geo)
    basic = [*steps[:-2], ("op-1", "callback", {"rating": "basically_satisfied"}), steps[-1]]
    out: dict[str, str] = {}
    with web.client("op-1") as op:
        for s in (steps, basic):
            cid = open_case(op, web.geo)
            drive(web, cid, s)
            out[cid] = "closed"
        rejected = open_case(op, web.geo)
        drive(web, rejected, [("op-1", "reject", {"reason": "不属于受理范围"})])
        out[rejected] = "rejected"
        handling = open_case(op, web.geo, category="garbage", title="垃圾堆放")
        drive(web, handling, steps[:4])
        with web.client("sv-city") as sv:
            assert act(sv, handling, "supervise", {"note": "请尽快办理", "level": "reminder"}).status_code == 200
            assert act(sv, handling, "supervise", {"note": "督办"}).status_code == 200
        out[handling] = "handling"
    wait_projected(web, out, escalations=2)
    return out


@pytest.fixture(scope="module")
def cases(web: ApiStack) -> dict[str, str]:
    return loop_cases(web)


def this_month() -> str:
    return month_of(datetime.now(UTC))


# --- who may read it -----------------------------------------------------------------------------


def test_jurisdiction(web: ApiStack, cases: dict[str, str]) -> None:
    period = this_month()
    for user in ("street-1", "grid-1", "env-1", "community-1", "resident-1"):
        with web.client(user) as http:
            for path in ("/dashboard", "/dashboard/export.csv"):
                r = http.get(path, params={"period": period})
                assert r.status_code == 403, (user, path, r.text)
                assert r.json()["rule"] == "role.not_allowed"
    with web.client() as anonymous:
        assert anonymous.get("/dashboard").json()["rule"] == "auth.missing"
        assert anonymous.get("/dashboard/export.csv").status_code == 401

    pages = {}
    for user in ("sv-city", "op-1", "sv-district", "sv-other"):
        with web.client(user) as http:
            r = http.get("/dashboard", params={"period": period})
            assert r.status_code == 200, r.text
            pages[user] = r.json()
    assert pages["sv-city"]["scope"] == pages["op-1"]["scope"] == "city"
    assert pages["sv-district"]["scope"] == f"district:{web.geo.district}"
    assert pages["sv-other"]["scope"] == "district:D-99"
    assert pages["sv-city"]["total"]["cases"] >= 3  # the two closed and the open one (the rejected does not count)
    assert pages["sv-other"]["total"]["cases"] == 0 and pages["sv-other"]["overdue"] == []
    assert pages["sv-other"]["rankings"] == {"street": [], "department": []}
    # the district's figures are those of the cases located in it
    facts, _ = load_facts(engine := create_engine(web.settings.resolved_database_url))
    engine.dispose()
    in_district = evaluated([c for c in facts if c.period == period and c.district_id == web.geo.district])
    assert pages["sv-district"]["total"]["cases"] == len(in_district) <= pages["sv-city"]["total"]["cases"]
    with web.client("sv-district") as http:
        rows = csv_rows(http.get("/dashboard/export.csv", params={"period": period}).text)
    assert int(rows[-1]["cases"]) == len(in_district)
    assert {r["key"] for r in rows[:-1]} == {c.street_id for c in in_district}

    with web.client("sv-other") as http:
        r = http.get("/dashboard/export.csv", params={"period": period})
        assert r.status_code == 200 and r.headers["x-gridcase-scope"] == "district:D-99"
        rows = csv_rows(r.text)
        assert [row["key"] for row in rows] == ["total"] and rows[0]["cases"] == "0"
        assert 'filename="gridcase-report-' in r.headers["content-disposition"]
        assert r.headers["content-disposition"].endswith('-D-99.csv"')


def test_bad_input_is_refused(web: ApiStack) -> None:
    with web.client("sv-city") as http:
        for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", "november"):
            for path in ("/dashboard", "/dashboard/export.csv"):
                r = http.get(path, params={"period": bad})
                assert r.status_code == 422, (bad, path, r.text)
                [err] = r.json()["errors"]
                assert err["field"] == "query.period" and err["rule"] == "string_pattern_mismatch"
        r = http.get("/dashboard", params={"period": "2026-11", "by": "planet"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.by"
        r = http.get("/dashboard/export.csv", params={"by": "planet"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.by"
        r = http.get("/dashboard", params={"period": "2026-11", "month": "2026-11"})
        assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "extra_forbidden"


# --- the figures are the report's ----------------------------------------------------------------


@pytest.mark.parametrize("by", ["street", "department", "category"])
def test_export_equals_the_command_byte_for_byte(web: ApiStack, cases: dict[str, str], by: str) -> None:
    period = this_month()
    for user in ("sv-city", "op-1"):
        with web.client(user) as http:

            def api(http: Any = http) -> str:
                r = http.get("/dashboard/export.csv", params={"period": period, "by": by})
                assert r.status_code == 200, r.text
                assert r.headers["content-type"].startswith("text/csv")
                assert r.headers["content-disposition"] == f'attachment; filename="gridcase-report-{period}-{by}.csv"'
                return str(r.content.decode("utf-8"))

            exported, printed = sandwiched(api, lambda: cli_report(web, period, by))
            assert exported == printed
    rows = csv_rows(printed)
    assert rows[-1]["key"] == "total" and int(rows[-1]["cases"]) >= 3
    if by == "street":
        assert web.geo.street in {r["key"] for r in rows} and all(r["name"] for r in rows[:-1])  # names beside ids
    if by == "department":
        assert "environment" in {r["key"] for r in rows}  # the whistle summoned it


def test_an_empty_month_equals_the_command(web: ApiStack, cases: dict[str, str]) -> None:
    with web.client("sv-city") as http:
        r = http.get("/dashboard/export.csv", params={"period": "2019-02"})
        assert r.content.decode("utf-8") == cli_report(web, "2019-02")
        page = http.get("/dashboard", params={"period": "2019-02"}).json()
    assert page["total"]["cases"] == 0 and page["total"]["composite"] is None
    assert page["notes"] == ["no case was opened in 2019-02"]
    assert len(page["days"]) == 28 and sum(d["metrics"]["cases"] for d in page["days"]) == 0
    assert [(e["level"], e["count"]) for e in page["escalations"]] == [
        ("reminder", 0),
        ("supervision", 0),
        ("public_notice", 0),
    ]


@pytest.mark.parametrize("by", ["street", "department"])
def test_the_page_carries_the_commands_figures(web: ApiStack, cases: dict[str, str], by: str) -> None:
    period = this_month()
    pages: list[dict[str, Any]] = []
    with web.client("sv-city") as http:

        def api() -> str:
            r = http.get("/dashboard", params={"period": period, "by": by})
            assert r.status_code == 200, r.text
            pages.append(r.json())
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(csv_of_dashboard(pages[-1], by))
            return out.getvalue()

        rebuilt, printed = sandwiched(api, lambda: cli_report(web, period, by))
    assert rebuilt == printed.split("\n", 1)[1]  # every row but the header
    page = pages[-1]
    header = printed.split("\n", 1)[0].split(",")
    assert header[:5] == ["period", "by", "rank", "key", "name"]
    # the trend within the month partitions it, and the last month of the trend is the period itself
    assert sum(d["metrics"]["cases"] for d in page["days"]) == page["total"]["cases"]
    assert sum(w["metrics"]["cases"] for w in page["weeks"]) == page["total"]["cases"]
    assert page["months"][-1]["key"] == period and page["months"][-1]["metrics"]["cases"] == page["total"]["cases"]
    assert len(page["months"]) == 6
    # escalations: the reminder and the supervision order given by hand on the open case
    rungs = {e["level"]: e for e in page["escalations"]}
    assert rungs["reminder"]["manual"] >= 1 and rungs["supervision"]["manual"] >= 1
    # names beside ids
    streets = {r["key"]: r["name"] for r in page["rankings"]["street"]}
    departments = {r["key"]: r["name"] for r in page["rankings"]["department"]}
    assert streets[web.geo.street] and departments["environment"]


def test_overdue_cases_are_the_open_ones_past_a_deadline(web: ApiStack, cases: dict[str, str]) -> None:
    with web.client("sv-city") as http:
        page = http.get("/dashboard").json()
    assert page["period"] == this_month()
    assert len(page["overdue"]) <= 10 and page["overdue_total"] >= len(page["overdue"])
    hours = [o["overdue_policy_hours"] for o in page["overdue"]]
    assert hours == sorted(hours, reverse=True)
    finished = {cid for cid, status in cases.items() if status in ("closed", "rejected")}
    for o in page["overdue"]:
        assert o["case_id"] not in finished and o["status"] not in ("closed", "rejected", "merged")
        assert o["overdue_seconds"] >= 0
        assert datetime.fromisoformat(o["overdue_since"]) <= datetime.fromisoformat(page["as_of"])
        if o["street_id"]:
            assert o["street_name"]
