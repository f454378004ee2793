"""Reports name units beside their ids, in every format, from a mapping the command line passes in."""

from __future__ import annotations

import csv
import io

import pytest

from city.registry import SqlCityRegistry
from readmodel.report import REPORT_BY, Report, render_csv, render_html, render_table, report_from_facts
from tests.unit.test_city_files import tiny_city
from tests.unit.test_metrics import AS_OF, ASSIGNMENTS, NOV
from workers.names import UnitNames, named, report_names

NAMES = {"S-1": "通道街道", "S-2": "新华街道", "water": "水务局", "G-3": "某网格"}


def _report(by: str, names: dict[str, str] | None) -> Report:
    return report_from_facts(
        NOV, ASSIGNMENTS, "2026-11", by, as_of=AS_OF, basic_weight=0.9, weights=(0.1, 0.5, 0.4), names=names
    )


@pytest.mark.parametrize("by", ["street", "department", "grid"])
def test_every_format_shows_the_name_beside_the_id(by: str) -> None:
    report = _report(by, NAMES)
    named_keys = [r.key for r in report.rows if r.key in NAMES]
    assert named_keys, f"the facts rank no named {by}"
    text = render_table(report, width=400)
    page = render_html(report)
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    for key in named_keys:
        label = f"{key} {NAMES[key]}"
        assert label in text
        assert f"<td>{label}</td>" in page, "the figures table"
        assert f". {label}</text>" in page, "the ranking chart"
    by_key = {r["key"]: r for r in rows}
    for key in named_keys:
        assert by_key[key]["name"] == NAMES[key], "CSV: a name column, the key column unchanged"
    assert by_key["total"]["name"] == ""
    assert all(r["key"] in {x.key for x in report.rows} | {"total"} for r in rows)
    assert ">S-2 新华街道</text>" in page, "the heat map names its streets"


def test_without_names_the_ids_stand_alone() -> None:
    report = _report("street", None)
    text = render_table(report, width=400)
    assert "通道街道" not in text and "S-1" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {r["name"] for r in rows} == {""}


@pytest.mark.parametrize("by", REPORT_BY)
def test_report_names_cover_every_unit_of_the_dimension_and_the_streets(by: str) -> None:
    registry = SqlCityRegistry(tiny_city())
    names = report_names(registry, by)
    ids = {
        "street": set(registry.streets),
        "department": set(registry.departments),
        "grid": set(registry.grid_ids()),
        "community": set(registry.communities),
        "district": set(registry.districts),
        "category": set(registry.catalogue),
    }[by]
    assert ids | set(registry.streets) == set(names)
    assert all(names.values())


def test_case_show_names() -> None:
    names = UnitNames(SqlCityRegistry(tiny_city()))
    assert named("S-2", names.street("S-2")) == "S-2 新华街道"
    assert names.unit_key("department:water") == "department:water 水务局"
    assert names.unit_key("street:S-404") == "street:S-404"
    assert named("G-404", names.grid("G-404")) == "G-404"
    blind = UnitNames(None)
    assert (blind.street("S-2"), blind.unit_key("street:S-2"), named(None, None)) == (None, "street:S-2", "-")
