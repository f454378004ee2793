"""Reports from a real read model: CSV/table figures, and the HTML page in headless Chromium.

The HTML report is rendered by Debian's chromium (``/usr/bin/chromium``) from a file URL with the
network disabled; the screenshot is kept under ``.gridcase/artifacts/`` and must show the charts
(pixels of the trend lines, ranking bars and heat cells), and the page must log no error.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readmodel.db import apply_events
from readmodel.kpis import compute, load_facts
from readmodel.report import build_report, render_csv, render_html, render_table
from tests.integration.conftest import free_port
from tests.integration.projection_scenarios import PATHS, all_events
from tests.integration.rm_db import fresh_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".gridcase" / "artifacts"
CHROMIUM = os.environ.get("GRIDCASE_CHROMIUM", "/usr/bin/chromium")
AS_OF = datetime(2026, 11, 20, 4, tzinfo=UTC)
N_CASES = 6 * len(PATHS)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("report")) as (url, engine):
        apply_events(engine, all_events(N_CASES))
        yield url, engine


def test_csv_and_table_carry_the_computed_figures(db: tuple[str, Engine]) -> None:
    _, engine = db
    report = build_report(engine, "2026-11", "street", as_of=AS_OF)
    cases, assignments = load_facts(engine)
    november = [c for c in cases if c.period == "2026-11"]
    expected = compute(november, assignments, as_of=AS_OF)
    assert report.total == expected and expected.cases > 0 and expected.composite is not None

    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    total = rows[-1]
    assert total["key"] == "total" and int(total["cases"]) == expected.cases
    assert float(total["composite"]) == pytest.approx(expected.composite, abs=1e-4)
    assert float(total["satisfaction_rate"]) == pytest.approx(expected.satisfaction_rate, abs=1e-4)
    assert [r["key"] for r in rows[:-1]] == [r.key for r in report.rows]
    assert sum(int(r["cases"]) for r in rows[:-1]) == expected.cases  # streets partition the cases
    streets = {r["key"]: r for r in rows[:-1]}
    for street, r in streets.items():
        m = compute([c for c in november if c.street_id == street], assignments, as_of=AS_OF)
        assert int(r["overdue_open"]) == m.overdue_open
        assert (r["composite"] == "") == (m.composite is None)

    text = render_table(report)
    assert "2026-11" in text and "total" in text and f"{100 * expected.composite:.1f}%" in text
    for r in report.rows:
        assert r.key in text
    dept = build_report(engine, "2026-11", "department", as_of=AS_OF)
    involved = {d for c in november if c.status not in ("rejected", "merged") for d in c.departments}
    assert {r.key for r in dept.rows} == involved and involved
    with pytest.raises(ValueError, match="period"):
        build_report(engine, "2026-13", "street", as_of=AS_OF)
    with pytest.raises(ValueError, match="by"):
        build_report(engine, "2026-11", "planet", as_of=AS_OF)


def test_report_command(db: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = db
    env = {**os.environ, "GRIDCASE_DATABASE_URL": url, "COLUMNS": "160"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workers.cli", "report", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = run("--period", "2026-11", "--by", "department", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    cases, _ = load_facts(engine)
    involved = {d for c in cases if c.period == "2026-11" for d in c.departments}
    assert {r["key"] for r in rows} == {*involved, "total"} and involved
    assert all(r["period"] == "2026-11" and r["by"] == "department" for r in rows)

    html_file = tmp_path / "r.html"
    out = run("--period", "2026-11", "--by", "grid", "--format", "html", "--out", str(html_file))
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and html_file.read_text(encoding="utf-8").count("<svg") == 3

    out = run("--period", "2026-10")
    assert out.returncode == 0, out.stderr
    assert "closed loop" in out.stdout and "S-1" in out.stdout

    bad = run("--period", "2026-13")
    assert bad.returncode == 2 and "period" in bad.stderr and "YYYY-MM" in bad.stderr
    bad = run("--by", "planet")
    assert bad.returncode == 2 and "--by" in bad.stderr
    bad = run("--format", "pdf")
    assert bad.returncode == 2 and "--format" in bad.stderr


def test_html_is_self_contained(db: tuple[str, Engine]) -> None:
    _, engine = db
    page = render_html(build_report(engine, "2026-11", "street", as_of=AS_OF))
    assert page.count("<svg") == 3
    assert "<script" not in page and "<link" not in page and "@import" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # the SVG namespace only, nothing to fetch


# --- headless Chromium --------------------------------------------------------------------------------


def _png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into RGB pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


def _near(p: tuple[int, int, int], q: tuple[int, int, int], tol: int = 24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(p, q, strict=True))


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_html_report_renders_in_headless_chromium(db: tuple[str, Engine], tmp_path: Path) -> None:
    _, engine = db
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(engine, "2026-11", "street", as_of=AS_OF)), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "report.png"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
        "--window-size=1400,1300",
        "--enable-logging=stderr",
        "--v=0",
    ]
    run = subprocess.run([*base, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    console_errors = [ln for ln in run.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console_errors == [], console_errors
    assert shot.exists() and shot.stat().st_size > 10_000
    shutil.copyfile(shot, ARTIFACTS / "report-2026-11-street.png")

    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-3000:]
    assert dom.stdout.count("<svg") == 3 and "Trend of the three rates" in dom.stdout

    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 1300)
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert non_white / len(pixels) > 0.03, f"the page looks blank ({non_white} non-white pixels)"
    colours = Counter(pixels)
    # Chart inks: trend lines (blue response, red satisfaction), ranking bars (green/orange/red), heat cells.
    blue = sum(n for p, n in colours.items() if _near(p, (0x1F, 0x77, 0xB4)))
    green = sum(n for p, n in colours.items() if _near(p, (0x2C, 0xA0, 0x2C)))
    heat = sum(n for p, n in colours.items() if p[0] == 255 and 40 <= p[1] <= 235 and p[1] == p[2])
    assert blue > 200, f"no trend line drawn ({blue} blue pixels)"
    assert green > 2000, f"no ranking bar drawn ({green} green pixels)"
    assert heat > 2000, f"no overdue heat cell drawn ({heat} heat pixels)"


def test_case_timeline_command_from_the_read_model(db: tuple[str, Engine], tmp_path: Path) -> None:
    url, _ = db
    env = {
        **os.environ,
        "GRIDCASE_DATABASE_URL": url,
        "COLUMNS": "160",
        "GRIDCASE_TEMPORAL_ADDRESS": f"localhost:{free_port()}",
    }  # no Temporal there: auto falls back

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workers.cli", "case", "timeline", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = run("RM-00000")
    assert out.returncode == 0, out.stderr
    assert "reading the read model" in out.stderr and "audit trail (read model)" in out.stdout
    text = out.stdout
    assert "accepted" in text and "by street:street-staff@S-1" in text
    assert re.search(r"clock: stops accept-1 \(due \d\d-\d\d \d\d:\d\d\): met", text)
    assert re.search(r"clock: stops report_in-\d+ \(due [^)]*\): late", text)  # the late report-in
    assert "13812345678" not in text and "张三" not in text
    missing = run("NO-SUCH-CASE", "--source", "readmodel")
    assert missing.returncode == 1 and "not in the read model" in missing.stderr
    assert run("RM-00000", "--source", "nowhere").returncode == 2


def test_report_command_names_units_from_the_city_registry(db: tuple[str, Engine], tmp_path: Path) -> None:
    """``gridcase report`` reads the registry's names and shows them beside the ids, in every format."""
    from city.files import write_city
    from tests.unit.test_city_files import tiny_city

    url, _ = db
    city = tiny_city()
    write_city(city, tmp_path / "city")
    env = {
        **os.environ,
        "GRIDCASE_DATABASE_URL": url,
        "GRIDCASE_CITY_DATA_DIR": str(tmp_path / "city"),
        "COLUMNS": "240",
    }
    streets = {s.id: s.name for s in city.streets}  # S-1, S-2 (S-3 is not in this city: its id stands alone)
    loaded = subprocess.run(
        [sys.executable, "-m", "workers.cli", "city", "load", str(tmp_path / "city")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr

    def report(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "workers.cli", "report", "--period", "2026-11", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(report("--by", "street", "--format", "csv")))}
    assert {k: r["name"] for k, r in rows.items()} == {
        **{k: v for k, v in streets.items() if k in rows},
        "S-3": "",
        "total": "",
    }
    table = report("--by", "street")
    assert all(f"{k} {v}" in table for k, v in streets.items() if k in rows)
    page = report("--by", "street", "--format", "html")
    assert all(f"<td>{k} {v}</td>" in page for k, v in streets.items() if k in rows)
    departments = {d.id: d.name for d in city.departments}
    by_dept = {
        r["key"]: r["name"] for r in csv.DictReader(io.StringIO(report("--by", "department", "--format", "csv")))
    }
    named = {k: v for k, v in by_dept.items() if k in departments}
    assert named and all(v == departments[k] for k, v in named.items())
