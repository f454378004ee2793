"""``gridcase city ...``: load, check, show and generate the city registry, and resolve locations.

The registry lives in the SQL database of the settings (``GRIDCASE_DATABASE_URL``, default SQLite
in the state directory); its files come from ``GRIDCASE_CITY_DATA_DIR`` (default: the bundled seed).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer

from readmodel.urls import mask_url
from workers.settings import get_settings
from workflows.domain.registry import RegistryError

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


def _folder(folder: Path | None) -> Path:
    from city.seed import SEED_DIR

    return folder or get_settings().city_data_dir or SEED_DIR


def _counts_line(counts: dict[str, int]) -> str:
    return (
        f"{counts['districts']} districts, {counts['streets']} streets, {counts['communities']} communities, "
        f"{counts['grids']} grids, {counts['staff']} staff ({counts['leaders']} leaders, {counts['managers']} "
        f"managers, {counts['full_time_workers']} full-time and {counts['part_time_workers']} part-time workers), "
        f"{counts['departments']} departments, {counts.get('property_companies', 0)} property companies, "
        f"{counts.get('volunteer_teams', 0)} volunteer teams ({counts.get('unit_staff', 0)} staff), "
        f"{counts['categories']} categories"
    )


def _refuse(err: Exception) -> None:
    typer.secho(str(err), fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command("check")
def check(
    folder: Path | None = typer.Argument(None, help="Data folder (default: GRIDCASE_CITY_DATA_DIR or the seed)"),
) -> None:
    """Validate a data folder without loading it; every problem is listed with file, row and rule."""
    from city.files import CityDataError, read_city

    path = _folder(folder)
    try:
        data = read_city(path)
    except CityDataError as err:
        _refuse(err)
        return
    typer.echo(f"{path}: valid. {data.name}: {_counts_line(data.counts())}")


@app.command("load")
def load(
    folder: Path | None = typer.Argument(None, help="Data folder (default: GRIDCASE_CITY_DATA_DIR or the seed)"),
) -> None:
    """Replace the city in the database with a data folder, in one transaction (nothing on error)."""
    from city.files import CityDataError, read_city
    from city.store import engine_for, save_city

    settings = get_settings()
    path = _folder(folder)
    started = time.perf_counter()
    try:
        data = read_city(path)
    except CityDataError as err:
        _refuse(err)
        return
    validated = time.perf_counter()
    version = save_city(engine_for(settings.resolved_database_url), data, str(path.resolve()))
    done = time.perf_counter()
    typer.echo(f"loaded {data.name} from {path} into {mask_url(settings.resolved_database_url)}")
    typer.echo(f"  {_counts_line(data.counts())}")
    typer.echo(f"  version {version}; read+validate {validated - started:.2f}s, write {done - validated:.2f}s")


@app.command("generate")
def generate(
    seed: int = typer.Option(2026, help="Seed: the same seed gives the same files"),
    out: Path = typer.Option(..., help="Folder to write the data files into"),
) -> None:
    """Generate the seed city's data files deterministically from a seed."""
    from city.files import write_city
    from city.seed import generate_city

    data = generate_city(seed)
    files = write_city(data, out)
    typer.echo(f"wrote {len(files)} files to {out}: {_counts_line(data.counts())}")


@app.command("show")
def show(
    grid: str | None = typer.Option(None, help="Show one grid: hierarchy, staff, bounds"),
    streets: bool = typer.Option(False, "--streets", help="List the streets with their communities and grids"),
    departments: bool = typer.Option(False, "--departments", help="List the departments and their heads"),
    categories: bool = typer.Option(False, "--categories", help="List the catalogue with routing and urgency"),
    properties: bool = typer.Option(
        False, "--properties", help="List the property companies (物业), the communities they serve and their staff"
    ),
    volunteer_teams: bool = typer.Option(
        False, "--volunteer-teams", help="List the volunteer teams, the communities they serve and their staff"
    ),
) -> None:
    """Show the city in the database (loading the configured city on first use)."""
    from city.model import StaffRole
    from workers.composition import build_registry

    settings = get_settings()
    reg = build_registry(settings)
    if grid:
        try:
            g = reg.grid(grid)
        except RegistryError as err:
            typer.secho(str(err), fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        w, s, e, n = reg.polygon(grid).bounds
        typer.echo(f"{g.id} {g.name}")
        typer.echo(
            f"  community {g.community_id} {reg.communities[g.community_id].name}, street {g.street_id} "
            f"{reg.streets[g.street_id].name}, district {g.district_id} {reg.districts[g.district_id].name}"
        )
        typer.echo(f"  bounds lon {w:.6f}..{e:.6f}, lat {s:.6f}..{n:.6f}")
        for m in reg.staff_of(grid):
            typer.echo(f"  {m.role.value:<10} {m.id:<16} {m.name}")
        return
    if departments:
        for d in reg.departments.values():
            typer.echo(f"{d.id:<26} {d.name}  {d.head_title} {d.head}")
        return
    if properties or volunteer_teams:
        units: list[tuple[str, str, str, tuple[str, ...], str]] = []
        if properties:
            units += [
                ("property", x.id, x.name, x.communities, f"经理 {x.manager}") for x in reg.property_companies.values()
            ]
        if volunteer_teams:
            units += [
                ("volunteer_team", x.id, x.name, x.communities, f"队长 {x.leader}")
                for x in reg.volunteer_teams.values()
            ]
        for kind, uid, name, served, head in units:
            places = ", ".join(f"{c} {reg.communities[c].name}" if c in reg.communities else c for c in served)
            typer.echo(f"{uid:<14} {name}  {head}  serves {places}")
            for u in reg.unit_staff_of(kind, uid):
                typer.echo(f"  {u.duty:<10} {u.id:<16} {u.name}")
        return
    if categories:
        weights = reg.category_weights()
        total = sum(weights.values()) or 1.0
        for c in reg.categories():
            entry = reg.catalogue[c.code]
            whistle = " whistle" if c.needs_whistle else ""
            typer.echo(
                f"{c.code:<24} {entry.kind.value:<8} {c.name_zh:<10} {c.default_urgency.value:<9} "
                f"{100 * weights[c.code] / total:4.1f}%  → {c.route.value} {','.join(c.departments)}{whistle}"
            )
        return
    if streets:
        per_street = Counter(g.street_id for g in reg.grids())
        comms = Counter(c.street_id for c in reg.communities.values())
        for st in reg.streets.values():
            typer.echo(
                f"{st.id}  {reg.districts[st.district_id].name}{st.name}: {comms[st.id]} communities, "
                f"{per_street[st.id]} grids"
            )
        return
    data = reg.data
    typer.echo(f"{reg.name} in {mask_url(settings.resolved_database_url)}")
    typer.echo(f"  version {reg.version}, loaded from {data.meta.get('source', '?')}")
    typer.echo(f"  {_counts_line(data.counts())}")
    w, s, e, n = reg.bounds
    typer.echo(f"  spans lon {w:.4f}..{e:.4f}, lat {s:.4f}..{n:.4f}")
    grids_per_district = Counter(g.district_id for g in reg.grids())
    workers = Counter(reg.grid(m.grid_id).district_id for m in data.staff if m.role == StaffRole.FULL_TIME)
    for district in reg.districts.values():
        n_streets = sum(1 for x in reg.streets.values() if x.district_id == district.id)
        typer.echo(
            f"  {district.id} {district.name}: {n_streets} streets, {grids_per_district[district.id]} grids, "
            f"{workers[district.id]} full-time workers"
        )


@app.command("locate")
def locate(
    lat: float | None = typer.Option(None),
    lon: float | None = typer.Option(None),
    address: str | None = typer.Option(None),
    grid: str | None = typer.Option(None),
) -> None:
    """Resolve coordinates, address text or a grid id to grid → community → street → district."""
    from workers.composition import build_registry

    reg = build_registry(get_settings())
    try:
        loc = reg.locate(grid_id=grid, lat=lat, lon=lon, address=address)
    except RegistryError as err:
        typer.secho(str(err), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"grid {loc.grid_id} {reg.grid(loc.grid_id).name} | community {loc.community_id} "
        f"{reg.communities[loc.community_id].name} | street {loc.street_id} {reg.streets[loc.street_id].name} "
        f"| district {loc.district_id} {reg.districts[loc.district_id].name}"
    )
