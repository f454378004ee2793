"""``gridcase city ...`` as an operator runs it: generate, check, load (or refuse), show, locate.

The commands run in this process (typer's runner) against a SQLite file of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from city.files import write_city
from tests.unit.test_city_files import set_cell, tiny_city
from workers.cli import app
from workers.settings import get_settings


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GRIDCASE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GRIDCASE_DATABASE_URL", f"sqlite:///{tmp_path / 'city.db'}")
    monkeypatch.delenv("GRIDCASE_CITY_DATA_DIR", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def gridcase(tmp_path: Path, *args: str) -> Result:
    """Run ``gridcase city ARGS`` in this process (the command line's own app and settings)."""
    out = CliRunner().invoke(app, ["city", *args])
    if out.exception is not None and not isinstance(out.exception, SystemExit):
        raise out.exception
    return Result(out.exit_code, out.stdout, out.stderr)


def test_generate_check_load_show_locate(tmp_path: Path) -> None:
    out = gridcase(tmp_path, "generate", "--seed", "5", "--out", str(tmp_path / "gen"))
    assert out.returncode == 0, out.stderr
    assert "3779 grids" in out.stdout and "6168 full-time" in out.stdout

    write_city(tiny_city(), tmp_path / "small")
    out = gridcase(tmp_path, "check", str(tmp_path / "small"))
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout and "6 grids" in out.stdout

    out = gridcase(tmp_path, "load", str(tmp_path / "small"))
    assert out.returncode == 0, out.stderr
    assert "loaded 小城" in out.stdout

    out = gridcase(tmp_path, "locate", "--lat", "40.815", "--lon", "111.615")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("grid G-202 海亮广场 | community C-20 新华社区 | street S-2 新华街道")

    out = gridcase(tmp_path, "locate", "--lat", "40.9", "--lon", "111.615")
    assert out.returncode == 2
    assert "lies outside every grid of 小城" in out.stderr

    out = gridcase(tmp_path, "show", "--grid", "G-101")
    assert out.returncode == 0, out.stderr
    assert "leader" in out.stdout and "full_time" in out.stdout and "通道街道" in out.stdout


def test_a_bad_folder_is_refused_and_the_loaded_city_stays(tmp_path: Path) -> None:
    write_city(tiny_city(), tmp_path / "small")
    assert gridcase(tmp_path, "load", str(tmp_path / "small")).returncode == 0
    set_cell("urgency_rules.csv", 3, "urgency", "asap")(tmp_path / "small")
    set_cell("streets.csv", 3, "district_id", "D-7")(tmp_path / "small")
    out = gridcase(tmp_path, "load", str(tmp_path / "small"))
    assert out.returncode == 2
    assert "urgency_rules.csv row 3: bad-urgency: urgency 'asap' is not one of urgent, ordinary" in out.stderr
    assert "streets.csv row 3: unknown-parent: street 'S-2': district 'D-7' is not in districts.csv" in out.stderr
    out = gridcase(tmp_path, "show")
    assert out.returncode == 0, out.stderr
    assert "小城" in out.stdout and "6 grids" in out.stdout


def test_show_property_companies_and_volunteer_teams_with_their_staff(tmp_path: Path) -> None:
    from tests.unit.test_city_units import city_with_units

    write_city(city_with_units(), tmp_path / "units")
    out = gridcase(tmp_path, "load", str(tmp_path / "units"))
    assert out.returncode == 0, out.stderr
    assert "2 property companies, 2 volunteer teams (6 staff)" in out.stdout

    out = gridcase(tmp_path, "show", "--properties")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "P-1",
        "青城物业服务有限公司",
        "经理",
        "赵刚",
        "serves",
        "C-10",
        "青城社区,",
        "C-11",
        "通道社区",
    ]
    assert lines[1].split() == ["manager", "P-1-1", "赵刚"] and lines[2].split() == ["staff", "P-1-2", "吴敏"]
    assert lines[3].startswith("P-2 ") and "C-20 新华社区, C-10 青城社区" in lines[3]
    assert "志愿服务队" not in out.stdout

    out = gridcase(tmp_path, "show", "--volunteer-teams")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["V-C-10", "leader", "volunteer", "V-C-20", "leader"]
    assert "物业" not in out.stdout

    out = gridcase(tmp_path, "show", "--properties", "--volunteer-teams")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 4 + 6  # four units and their six staff

    write_city(tiny_city(), tmp_path / "small")  # a city without them lists none
    assert gridcase(tmp_path, "load", str(tmp_path / "small")).returncode == 0
    out = gridcase(tmp_path, "show", "--properties", "--volunteer-teams")
    assert out.returncode == 0 and out.stdout == ""
