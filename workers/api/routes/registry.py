"""The city registry for the workspace: ``GET /registry/...`` (staff only).

* ``/registry/categories`` — the complaint catalogue with its routing rules (the category picker);
* ``/registry/units`` — streets, communities, grids and departments by name or id (the unit pickers);
* ``/registry/route`` — where the routing catalogue sends a category at a grid (the picker's first
  suggestion) and the departments a street would summon;
* ``/registry/search`` and ``/registry/locate`` — a grid by address, name or id, or at a point;
* ``/registry/sections`` — the sections (科室) of a street office, a department or a grid (where a
  case in the unit's inbox can be assigned);
* ``/registry/summary`` — what the city holds, and the registry's version;
* ``/registry/similar`` — open and recent cases of the same category at the same place
  (:mod:`readmodel.similar`), so a repeat call is recorded on the case it repeats.

Matching is on names as the registry spells them (Chinese included) and on ids, case-insensitively.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError, ProgrammingError

from city.registry import GridInfo, SqlCityRegistry
from events.base import Role, UnitKind, UnitRef
from readmodel.similar import SimilarCase, similar_cases
from workers.api.auth import AuthError, Principal, list_scope
from workers.api.deps import Caller, services
from workers.api.errors import ApiError, invalid, invalid_fields, responses
from workflows.domain.registry import SECTION_UNIT_KINDS, Category, RegistryError, unit_of_key

router = APIRouter(prefix="/registry", tags=["registry"])

REGISTRY_UNAVAILABLE = "registry.unavailable"
UNKNOWN_CATEGORY = "registry.unknown_category"
UNKNOWN_LOCATION = "registry.unknown_location"
UNKNOWN_UNIT = "registry.unknown_unit"

UnitKindParam = Literal["street", "community", "grid", "department", "property", "volunteer_team"]
_DEFAULT_KINDS: tuple[UnitKindParam, ...] = ("department", "street", "community", "grid")
#: ``<kind>:<id>`` of a unit that may have sections (``street:S-0101``, ``department:housing``).
SECTION_UNIT_PATTERN = rf"^({'|'.join(k.value for k in SECTION_UNIT_KINDS)}):[^\s:]{{1,128}}$"


# --- bodies --------------------------------------------------------------------------------------


class CategoryItem(BaseModel):
    code: str
    name: str
    name_zh: str
    group: str | None = Field(default=None, description="The catalogue's group, e.g. 公用设施")
    kind: str | None = Field(default=None, description="part | event | hotline")
    default_urgency: str
    route: str = Field(description="Where the hotline dispatches it by default: street | grid | department")
    departments: list[str] = Field(description="Responsible departments (route target, or whistle targets)")
    needs_whistle: bool


class CategoryList(BaseModel):
    items: list[CategoryItem]


class UnitItem(BaseModel):
    kind: UnitKindParam
    id: str
    name: str
    street_id: str | None = None
    street_name: str | None = None
    community_id: str | None = None
    district_id: str | None = None
    communities: list[str] | None = Field(
        default=None, description="The communities a property company or a volunteer team serves (their ids)"
    )


class UnitList(BaseModel):
    items: list[UnitItem]


class UnitName(BaseModel):
    kind: str
    id: str
    name: str


class RouteSuggestion(BaseModel):
    unit: UnitName = Field(description="The unit the routing catalogue dispatches to")
    departments: list[UnitName] = Field(description="The category's departments (whistle targets)")
    needs_whistle: bool


class SectionItem(BaseModel):
    id: str
    name: str


class SectionList(BaseModel):
    unit: UnitName = Field(description="The unit whose sections these are")
    items: list[SectionItem] = Field(description="Its sections (科室), in the registry's order; none: []")


class Place(BaseModel):
    grid_id: str
    grid_name: str
    community_id: str
    community_name: str
    street_id: str
    street_name: str
    district_id: str
    district_name: str
    lat: float = Field(description="A point inside the grid (to centre a map on)")
    lon: float
    address: str | None = Field(default=None, description="The address searched for, or the grid's own")


class PlaceList(BaseModel):
    items: list[Place]


class RegistrySummary(BaseModel):
    name: str
    version: str
    districts: int
    streets: int
    communities: int
    grids: int
    staff: int
    departments: int
    categories: int
    bounds: list[float] = Field(description="west, south, east, north (degrees)")


class SimilarList(BaseModel):
    items: list[SimilarCase]


# --- helpers -------------------------------------------------------------------------------------


def city_of(request: Request) -> SqlCityRegistry:
    registry = services(request).registry
    if not isinstance(registry, SqlCityRegistry):
        raise ApiError(503, "unavailable", REGISTRY_UNAVAILABLE, "this API runs without the city registry's names")
    return registry


def require_staff(p: Principal) -> None:
    if p.role == Role.RESIDENT:
        raise AuthError(403, "role.not_allowed", "the city registry is for staff, not for residents")


def _fold(text: str) -> str:
    return text.strip().casefold()


def _rank(q: str, ident: str, name: str) -> int | None:
    """How well ``q`` (folded) matches a unit: 0 exact id or name, 1 id or name prefix, 2 contained
    in id or name; ``None``: no match."""
    i, n = ident.casefold(), name.casefold()
    if q in (i, n):
        return 0
    if i.startswith(q) or n.startswith(q):
        return 1
    if q in i or q in n:
        return 2
    return None


def list_units(
    city: SqlCityRegistry,
    *,
    kind: UnitKindParam | None = None,
    q: str = "",
    street: str | None = None,
    community: str | None = None,
    limit: int = 50,
) -> list[UnitItem]:
    """Units of ``kind`` (no kind: departments, streets, communities, grids), those of ``street``
    when given (departments serve the whole city), those serving ``community`` when given (property
    companies, volunteer teams; communities and grids: that community), matching ``q`` by id or name,
    best match first."""
    kinds: tuple[UnitKindParam, ...] = (kind,) if kind else _DEFAULT_KINDS
    streets = city.streets
    items: list[UnitItem] = []
    for k in kinds:
        if k == "department":
            items += [UnitItem(kind=k, id=d.id, name=d.name) for d in city.departments.values()]
        elif k in ("property", "volunteer_team"):
            serving = city.property_companies if k == "property" else city.volunteer_teams
            for u in serving.values():
                here = [cid for cid in u.communities if cid in city.communities]
                if community is not None and community not in here:
                    continue
                if street is not None and not any(city.communities[cid].street_id == street for cid in here):
                    continue
                items.append(UnitItem(kind=k, id=u.id, name=u.name, communities=list(u.communities)))
        elif k == "street":
            items += [
                UnitItem(kind=k, id=s.id, name=s.name, street_id=s.id, street_name=s.name, district_id=s.district_id)
                for s in streets.values()
                if street is None or s.id == street
            ]
        elif k == "community":
            items += [
                UnitItem(
                    kind=k,
                    id=c.id,
                    name=c.name,
                    street_id=c.street_id,
                    street_name=streets[c.street_id].name,
                    community_id=c.id,
                    district_id=streets[c.street_id].district_id,
                )
                for c in city.communities.values()
                if (street is None or c.street_id == street) and (community is None or c.id == community)
            ]
        else:
            items += [
                UnitItem(
                    kind=k,
                    id=g.id,
                    name=g.name,
                    street_id=g.street_id,
                    street_name=streets[g.street_id].name,
                    community_id=g.community_id,
                    district_id=g.district_id,
                )
                for g in city.grids(street_id=street)
                if community is None or g.community_id == community
            ]
    folded = _fold(q)
    if not folded:
        return items[:limit]
    ranked = [(r, n, u) for n, u in enumerate(items) if (r := _rank(folded, u.id, u.name)) is not None]
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [u for _, _, u in ranked[:limit]]


def place_of(city: SqlCityRegistry, g: GridInfo, address: str | None = None) -> Place:
    point = city.polygon(g.id).representative_point()
    street = city.streets[g.street_id]
    return Place(
        grid_id=g.id,
        grid_name=g.name,
        community_id=g.community_id,
        community_name=city.communities[g.community_id].name,
        street_id=g.street_id,
        street_name=street.name,
        district_id=g.district_id,
        district_name=city.districts[g.district_id].name,
        lat=round(float(point.y), 6),
        lon=round(float(point.x), 6),
        address=address or f"{street.name}{g.name}",
    )


def search_places(city: SqlCityRegistry, q: str, limit: int = 20) -> list[Place]:
    """Grids for a search text, best first: the grid of that id; the grid the text resolves to as an
    address (:meth:`SqlCityRegistry.grid_for_address`); grids whose name starts with, contains, or
    is contained in the text; grids of the communities, then of the streets, whose name contains the
    text; failing all these, grids of the community or street the text names."""
    text = q.strip()
    folded = text.casefold()
    grids = city.grids()
    order: list[str] = []
    seen: set[str] = set()

    def add(ids: Iterable[str]) -> None:
        for gid in ids:
            if gid not in seen:
                seen.add(gid)
                order.append(gid)

    add(g.id for g in grids if g.id.casefold() == folded)
    with contextlib.suppress(RegistryError):  # not an address, or an ambiguous one: the tiers list them
        add([city.grid_for_address(text)])
    tiers: list[Callable[[GridInfo], bool]] = [
        lambda g: g.name.casefold().startswith(folded),
        lambda g: folded in g.name.casefold() or g.id.casefold().startswith(folded),
        lambda g: g.name.casefold() in folded,
        lambda g: folded in city.communities[g.community_id].name.casefold(),
        lambda g: folded in city.streets[g.street_id].name.casefold(),
    ]
    for tier in tiers:
        if len(order) >= limit:
            break
        add(g.id for g in grids if tier(g))
    if not order:  # an address naming only its community or street: that area's grids
        add(g.id for g in grids if city.communities[g.community_id].name.casefold() in folded)
        add(g.id for g in grids if city.streets[g.street_id].name.casefold() in folded)
    return [place_of(city, g, text if g.name in text else None) for g in (city.grid(gid) for gid in order[:limit])]


def category_item(city: SqlCityRegistry, c: Category) -> CategoryItem:
    entry = city.catalogue.get(c.code)
    return CategoryItem(
        code=c.code,
        name=c.name,
        name_zh=c.name_zh,
        group=entry.group if entry else None,
        kind=entry.kind.value if entry else None,
        default_urgency=c.default_urgency.value,
        route=c.route.value,
        departments=list(c.departments),
        needs_whistle=c.needs_whistle,
    )


def _category(city: SqlCityRegistry, code: str, field: str = "query.category") -> Category:
    try:
        return city.category(code)
    except RegistryError as err:
        raise invalid(field, UNKNOWN_CATEGORY, str(err).partition(": ")[2] or str(err)) from None


def _grid(city: SqlCityRegistry, grid_id: str, field: str = "query.grid_id") -> GridInfo:
    try:
        return city.grid(grid_id)
    except RegistryError:
        raise invalid(field, UNKNOWN_LOCATION, f"unknown grid {grid_id!r}") from None


# --- routes --------------------------------------------------------------------------------------


@router.get("/categories", responses=responses(401, 403, 503))
def categories(request: Request, p: Caller) -> CategoryList:
    """The complaint catalogue: every category with its default urgency and routing rule."""
    require_staff(p)
    city = city_of(request)
    return CategoryList(items=[category_item(city, c) for c in city.categories()])


@router.get("/units", responses=responses(401, 403, 422, 503))
def units(
    request: Request,
    p: Caller,
    kind: Annotated[
        UnitKindParam | None,
        Query(
            description="street | community | grid | department | property | volunteer_team "
            "(none: departments, streets, communities and grids)"
        ),
    ] = None,
    q: Annotated[str, Query(max_length=100, description="Part of the id or the name")] = "",
    street: Annotated[str | None, Query(min_length=1, max_length=128, description="Only units of this street")] = None,
    community: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Only units serving (or inside) this community"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UnitList:
    """Units by name or id, best match first (departments serve the whole city: ``street`` and
    ``community`` do not narrow them)."""
    require_staff(p)
    city = city_of(request)
    if street is not None and street not in city.streets:
        raise invalid("query.street", UNKNOWN_UNIT, f"unknown street {street!r}")
    if community is not None and community not in city.communities:
        raise invalid("query.community", UNKNOWN_UNIT, f"unknown community {community!r}")
    return UnitList(items=list_units(city, kind=kind, q=q, street=street, community=community, limit=limit))


@router.get("/route", responses=responses(401, 403, 422, 503))
def route(
    request: Request,
    p: Caller,
    category: Annotated[str, Query(min_length=1, max_length=64)],
    grid_id: Annotated[str, Query(min_length=1, max_length=128)],
) -> RouteSuggestion:
    """Where the routing catalogue dispatches ``category`` at ``grid_id``, with the category's
    departments (those a street summons when the category needs a whistle)."""
    require_staff(p)
    city = city_of(request)
    cat = _category(city, category)
    _grid(city, grid_id)
    target = city.route(cat, city.locate(grid_id=grid_id))
    departments = [UnitRef(kind=UnitKind.DEPARTMENT, id=d) for d in cat.departments]
    return RouteSuggestion(
        unit=UnitName(kind=target.kind.value, id=target.id, name=city.unit_name(target)),
        departments=[UnitName(kind="department", id=d.id, name=city.unit_name(d)) for d in departments],
        needs_whistle=cat.needs_whistle,
    )


@router.get("/sections", responses=responses(401, 403, 422, 503))
def sections(
    request: Request,
    p: Caller,
    unit: Annotated[
        str,
        Query(
            pattern=SECTION_UNIT_PATTERN,
            description="The unit as <kind>:<id>, kind street | department | grid (e.g. street:S-0101)",
        ),
    ],
) -> SectionList:
    """The sections (科室) of a street office, a department or a grid: where a case in the unit's
    inbox can be assigned. A unit without sections has none (``items`` is empty)."""
    require_staff(p)
    city = city_of(request)
    ref = unit_of_key(unit)  # the pattern has checked the shape
    if not city.unit_exists(ref):
        raise invalid("query.unit", UNKNOWN_UNIT, f"unknown {ref.kind.value} {ref.id!r}")
    return SectionList(
        unit=UnitName(kind=ref.kind.value, id=ref.id, name=city.unit_name(ref)),
        items=[SectionItem(id=sid, name=name) for sid, name in city.section_names(ref.key())],
    )


@router.get("/search", responses=responses(401, 403, 422, 503))
def search(
    request: Request,
    p: Caller,
    q: Annotated[str, Query(min_length=1, max_length=200, description="An address, or a grid, community or street")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PlaceList:
    """Grids for an address or a name (grid, community, street) or a grid id, best first."""
    require_staff(p)
    city = city_of(request)
    if not q.strip():
        raise invalid("query.q", "string_too_short", "give an address or a name, not only blanks")
    return PlaceList(items=search_places(city, q, limit))


@router.get("/locate", responses=responses(401, 403, 422, 503))
def locate(
    request: Request,
    p: Caller,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
) -> Place:
    """The grid at a point (a border point belongs to the grid with the smallest id)."""
    require_staff(p)
    city = city_of(request)
    try:
        grid_id = city.grid_at(lat, lon)
    except RegistryError as err:
        message = str(err).partition(": ")[2] or str(err)
        fields = [("query.lat", UNKNOWN_LOCATION, message), ("query.lon", UNKNOWN_LOCATION, message)]
        raise invalid_fields(fields) from None
    return place_of(city, city.grid(grid_id))


@router.get("/summary", responses=responses(401, 403, 503))
def summary(request: Request, p: Caller) -> RegistrySummary:
    """How many districts, streets, communities, grids, staff, departments and categories the city
    has, and the version of the registry's data."""
    require_staff(p)
    city = city_of(request)
    counts = city.data.counts()
    return RegistrySummary(
        name=city.name,
        version=city.version,
        districts=counts["districts"],
        streets=counts["streets"],
        communities=counts["communities"],
        grids=counts["grids"],
        staff=counts["staff"],
        departments=counts["departments"],
        categories=len(city.categories()),
        bounds=list(city.bounds),
    )


@router.get("/similar", responses=responses(401, 403, 422, 503))
def similar(
    request: Request,
    p: Caller,
    grid_id: Annotated[str, Query(min_length=1, max_length=128)],
    category: Annotated[str, Query(min_length=1, max_length=64)],
    text: Annotated[str, Query(max_length=500, description="The complaint's title (and description)")] = "",
    days: Annotated[int, Query(ge=0, le=366, description="Closed cases count when opened this recently")] = 30,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SimilarList:
    """Open cases, and cases opened in the last ``days``, of ``category`` in the same grid (then in the
    same street), within the caller's jurisdiction: same grid first, then by how much the titles
    share, newest first. No personal data."""
    require_staff(p)
    city = city_of(request)
    cat = _category(city, category)
    grid = _grid(city, grid_id)
    try:
        items = similar_cases(
            services(request).engine,
            category=cat.code,
            grid_id=grid.id,
            street_id=grid.street_id,
            text=text,
            now=datetime.now(UTC),
            days=days,
            scope=list_scope(p),
            limit=limit,
        )
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503, "unavailable", "readmodel.unavailable", f"the read model cannot be read: {type(err).__name__}"
        ) from None
    return SimilarList(items=items)
