"""The city registry in SQL, on SQLite and on PostgreSQL (``GRIDCASE_TEST_POSTGRES_URL``; skipped without).

Each test gets its own database: a SQLite file, or a new PostgreSQL database dropped afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from city import store
from city.files import read_city
from city.model import StaffMember, StaffRole
from city.registry import SqlCityRegistry, clear_cache, open_registry, seed_database
from city.seed import SEED_DIR
from tests.unit.test_city_files import tiny_city
from tests.unit.test_city_sections import city_with_sections
from tests.unit.test_city_units import city_with_units
from workers.composition import build_registry
from workers.settings import Settings
from workflows.domain.registry import RegistryError

PG_ENV = "GRIDCASE_TEST_POSTGRES_URL"
LANES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=LANES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    clear_cache()
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'city.db'}"
        store._engines.pop(f"sqlite:///{tmp_path / 'city.db'}", None)
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    name = f"gridcase_city_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine = store._engines.pop(url, None)
        if engine is not None:
            engine.dispose()
        drop_database(admin, name)
        admin.dispose()
        clear_cache()


def drop_database(admin: Engine, name: str) -> None:
    """Drop a test database; retried while an autovacuum worker (which FORCE may not end) is still in it."""
    for attempt in range(40):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (OperationalError, ProgrammingError):
            if attempt == 39:
                raise
            time.sleep(0.5)


def test_first_use_loads_the_seed_and_later_uses_hit_the_cache(db_url: str) -> None:
    started = time.perf_counter()
    reg = open_registry(db_url)
    first = time.perf_counter() - started
    files = read_city(SEED_DIR)
    assert reg.data.meta["source"] == str(SEED_DIR)
    started = time.perf_counter()
    assert open_registry(db_url) is reg
    print(
        f"seed into an empty database and load: {first:.2f}s; cached call: "
        f"{(time.perf_counter() - started) * 1000:.1f} ms"
    )
    clear_cache()
    started = time.perf_counter()
    again = open_registry(db_url)
    print(f"load the stored city into memory: {time.perf_counter() - started:.2f}s")
    assert again is not reg and again.version == reg.version
    assert seed_database(db_url) is None  # already there: nothing loaded twice

    # the database holds exactly the files
    stored = again.data
    assert stored.name == files.name and stored.counts() == files.counts()
    for field in (
        "districts",
        "streets",
        "communities",
        "grids",
        "staff",
        "departments",
        "categories",
        "routing_rules",
    ):
        assert sorted(getattr(stored, field), key=repr) == sorted(getattr(files, field), key=repr), field
    assert stored.urgency_rules == files.urgency_rules
    assert stored.sections == files.sections and len(files.sections) > 100
    assert again.sections() == SqlCityRegistry(files).sections()
    assert stored.property_companies == files.property_companies and len(files.property_companies) >= 56
    assert stored.volunteer_teams == files.volunteer_teams and len(files.volunteer_teams) == 344
    assert stored.unit_staff == files.unit_staff and len(files.unit_staff) > 2 * 400
    assert again.property_communities() == SqlCityRegistry(files).property_communities()


def test_sections_round_trip_in_order(db_url: str) -> None:
    engine = store.engine_for(db_url)
    data = city_with_sections()
    store.save_city(engine, data, "test")
    stored = store.read_city_from_db(engine)
    assert stored is not None
    assert stored.sections == data.sections  # the same sections in the same (the file's) order
    assert stored.counts() == data.counts() and stored.counts()["sections"] == len(data.sections)
    reg = open_registry(db_url)
    assert reg.sections()["street:S-1"] == ("community-affairs", "urban")
    assert reg.section_names("grid:G-101") == [("patrol.1", "巡查一组")]
    # a new load replaces them: a city without sections has none left
    store.save_city(engine, tiny_city(), "again")
    stored = store.read_city_from_db(engine)
    assert stored is not None and stored.sections == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.sections)).scalar_one() == 0


def test_a_duplicate_section_is_refused_by_the_database(db_url: str) -> None:
    engine = store.engine_for(db_url)
    version = store.save_city(engine, city_with_sections(), "first")
    data = city_with_sections()
    broken = dataclasses.replace(data, sections=[*data.sections, data.sections[0]])
    with pytest.raises(IntegrityError):
        store.save_city(engine, broken, "second")
    assert store.city_version(engine) == version


def test_a_database_from_before_sections_keeps_working(db_url: str) -> None:
    engine = store.engine_for(db_url)
    store.save_city(engine, tiny_city(), "old")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE city_sections"))
    stored = store.read_city_from_db(engine)  # no sections table: a city without sections
    assert stored is not None and stored.sections == [] and len(stored.grids) == 6
    assert open_registry(db_url).sections() == {}
    store.ensure_tables(engine)  # creates the missing table
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.sections)).scalar_one() == 0
    store.save_city(engine, city_with_sections(), "new")
    stored = store.read_city_from_db(engine)
    assert stored is not None and stored.sections == city_with_sections().sections


def test_property_companies_and_volunteer_teams_round_trip_in_order(db_url: str) -> None:
    engine = store.engine_for(db_url)
    data = city_with_units()
    store.save_city(engine, data, "test")
    stored = store.read_city_from_db(engine)
    assert stored is not None
    # the same units, with their communities in the file's order (P-2 lists C-20 before C-10), and staff
    assert stored.property_companies == data.property_companies
    assert stored.volunteer_teams == data.volunteer_teams
    assert stored.unit_staff == data.unit_staff
    assert stored.counts() == data.counts()
    reg = open_registry(db_url)
    assert [p.id for p in reg.properties_serving("C-10")] == ["P-1", "P-2"]
    assert [m.name for m in reg.unit_staff_of("volunteer_team", "V-C-10")] == ["孙丽", "郑洁"]
    # a new load replaces them: a city without any has none left
    store.save_city(engine, tiny_city(), "again")
    stored = store.read_city_from_db(engine)
    assert stored is not None
    assert stored.property_companies == [] and stored.volunteer_teams == [] and stored.unit_staff == []
    with engine.connect() as conn:
        for table in (store.property_companies, store.volunteer_teams, store.unit_communities, store.unit_staff):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.name


def test_a_duplicate_unit_staff_id_is_refused_by_the_database(db_url: str) -> None:
    engine = store.engine_for(db_url)
    version = store.save_city(engine, city_with_units(), "first")
    data = city_with_units()
    broken = dataclasses.replace(data, unit_staff=[*data.unit_staff, data.unit_staff[0]])
    with pytest.raises(IntegrityError):
        store.save_city(engine, broken, "second")
    assert store.city_version(engine) == version
    stored = store.read_city_from_db(engine)
    assert stored is not None and stored.unit_staff == data.unit_staff


@pytest.mark.parametrize(
    "dropped", ["city_unit_staff", "city_unit_communities", "city_volunteer_teams", "city_property_companies"]
)
def test_a_database_from_before_the_units_keeps_working(db_url: str, dropped: str) -> None:
    engine = store.engine_for(db_url)
    store.save_city(engine, city_with_sections(), "old")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {dropped}"))
    stored = store.read_city_from_db(engine)  # a missing table: a city without the units
    assert stored is not None and stored.property_companies == [] and stored.unit_staff == []
    assert stored.sections == city_with_sections().sections
    assert open_registry(db_url).property_communities() == {}
    store.save_city(engine, city_with_units(), "new")  # creates the missing table
    stored = store.read_city_from_db(engine)
    assert stored is not None and stored.property_companies == city_with_units().property_companies
    assert stored.unit_staff == city_with_units().unit_staff


def test_lookups_through_sql(db_url: str) -> None:
    store.save_city(store.engine_for(db_url), tiny_city(), "test")
    reg = open_registry(db_url)
    assert reg.locate(lat=40.815, lon=111.625).grid_id == "G-203"
    assert reg.locate(lat=40.81, lon=111.61).grid_id == "G-101"  # corner of four grids
    with pytest.raises(RegistryError, match="outside every grid"):
        reg.locate(lat=40.79, lon=111.605)
    assert reg.locate(address="海亮广场西门").grid_id == "G-202"
    assert reg.category("illegal-parking").needs_whistle


def test_a_failed_load_leaves_the_previous_city(db_url: str) -> None:
    engine = store.engine_for(db_url)
    version = store.save_city(engine, tiny_city(), "first")
    broken = dataclasses.replace(
        tiny_city(),
        name="坏城",
        staff=[*tiny_city().staff, StaffMember("W-G-101-1", "G-102", StaffRole.PART_TIME, "重复")],
    )
    with pytest.raises(IntegrityError):
        store.save_city(engine, broken, "second")
    assert store.city_version(engine) == version
    stored = store.read_city_from_db(engine)
    assert stored is not None and stored.name == "小城" and len(stored.staff) == 18
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.grids)).scalar_one() == 6


def test_a_new_load_replaces_the_city_and_the_cached_registry(db_url: str) -> None:
    engine = store.engine_for(db_url)
    store.save_city(engine, tiny_city(), "first")
    reg = open_registry(db_url)
    assert len(reg.grid_ids()) == 6
    smaller = tiny_city()
    smaller = dataclasses.replace(
        smaller,
        name="更小的城",
        grids=[g for g in smaller.grids if g.community_id != "C-11"],
        communities=[c for c in smaller.communities if c.id != "C-11"],
        staff=[s for s in smaller.staff if s.grid_id != "G-111"],
    )
    store.save_city(engine, smaller, "second")
    again = open_registry(db_url)
    assert again is not reg and again.name == "更小的城" and len(again.grid_ids()) == 5
    with pytest.raises(RegistryError, match="outside every grid"):
        again.locate(lat=40.805, lon=111.625)


def test_build_registry_uses_the_settings(db_url: str, tmp_path: Path) -> None:
    from city.files import write_city

    write_city(tiny_city(), tmp_path / "small")
    settings = Settings(database_url=db_url, city_data_dir=tmp_path / "small")
    reg = build_registry(settings)
    assert reg.name == "小城" and reg.data.meta["source"] == str(tmp_path / "small")
    assert build_registry(settings) is reg


def test_concurrent_first_uses_load_the_city_once(db_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from city.files import write_city

    write_city(tiny_city(), tmp_path / "small")
    go = tmp_path / "go"
    # every process imports first, then waits for the go file, so the first uses really happen at once
    script = (
        "import sys, pathlib, time; from city.registry import open_registry; "
        "go = pathlib.Path(sys.argv[3]); pathlib.Path(sys.argv[3] + sys.argv[4]).touch()\n"
        "while not go.exists(): time.sleep(0.001)\n"
        "r = open_registry(sys.argv[1], pathlib.Path(sys.argv[2])); print(len(r.grid_ids()), r.version)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url, str(tmp_path / "small"), str(go), f".ready{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(err[-3000:] for _, err in outputs)
    lines = {out.strip() for out, _ in outputs}
    assert len(lines) == 1 and lines.pop().startswith("6 ")
    engine = store.engine_for(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.grids)).scalar_one() == 6
