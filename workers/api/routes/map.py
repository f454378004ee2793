"""The map: the grids of the caller's jurisdiction, their open and breached cases, and case points.

* ``GET /map/grids`` — the grids as a GeoJSON ``FeatureCollection`` (polygons from the city registry,
  coordinates rounded to 6 decimals, about 0.1 m). It depends only on the registry's version and the
  caller's jurisdiction, so it is built once per pair, kept gzip-compressed in memory, and answered
  with an ``ETag`` (``If-None-Match`` gives 304) and ``Cache-Control: private``.
* ``GET /map/stats`` — per grid, the open cases, how many of them breached an SLA deadline and how
  many are warned (not breached): ``{"as_of", "grids": {grid_id: [open, breached, warned]}}``, only
  grids with open cases. Small enough to fetch again on every live notice.
* ``GET /map/points`` — case points (the intake's coordinates, or the grid's representative point
  when the intake named a grid or an address: ``approximate``), capped by ``limit``.

Jurisdiction (the read rule of :mod:`workers.api.auth`): the hotline and a city supervisor see every
grid, a district supervisor its district's, a street, community or grid worker its own territory.
A department is summoned anywhere in the city, so it sees every grid, with the cases it was
dispatched or summoned to. Residents have no map.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, exists, func, select, true
from sqlalchemy.exc import OperationalError, ProgrammingError

from city.registry import GridInfo, SqlCityRegistry
from events.base import Role
from events.times import as_utc
from readmodel import tables as t
from readmodel.projection import TERMINAL_STATUSES
from readmodel.queries import involved
from workers.api.auth import AuthError, Principal, list_scope
from workers.api.deps import Caller, Services, services
from workers.api.errors import ApiError, invalid, responses
from workflows.domain.registry import RegistryError

router = APIRouter(prefix="/map", tags=["map"])

#: Decimal places kept in coordinates (6 ≈ 0.1 m, well below a grid's size).
PRECISION = 6
#: ``Cache-Control`` of the grids: private (it depends on the caller), revalidated with the ETag.
GRIDS_CACHE_CONTROL = "private, max-age=300, must-revalidate"
GEOJSON = "application/geo+json"


# --- response models ---------------------------------------------------------------------------


class GridProperties(BaseModel):
    grid_id: str
    name: str
    community_id: str
    community: str = Field(description="The community's name")
    street_id: str
    street: str = Field(description="The street's name")
    district_id: str
    district: str = Field(description="The district's name")


class PolygonGeometry(BaseModel):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(description="GeoJSON coordinates, [lon, lat] pairs (WGS 84)")


class GridFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str = Field(description="The grid id")
    geometry: PolygonGeometry
    properties: GridProperties


class GridCollection(BaseModel):
    """The grids of the caller's jurisdiction as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    bbox: list[float] = Field(description="[west, south, east, north] of the grids (empty when there are none)")
    version: str = Field(description="The city registry's version the grids come from")
    features: list[GridFeature]


class GridStats(BaseModel):
    """Open cases per grid of the caller's jurisdiction (grids without open cases are left out)."""

    as_of: datetime
    grids: dict[str, list[int]] = Field(description="grid id → [open, breached, warned] (counts of open cases)")
    totals: list[int] = Field(description="[open, breached, warned] over every grid")


class CasePoint(BaseModel):
    case_id: str
    lat: float
    lon: float
    approximate: bool = Field(description="True when the intake gave no coordinates: the grid's representative point")
    grid_id: str
    status: str
    breached: bool
    warned: bool = Field(description="A running clock raised a warning and none breached")
    category: str | None = None
    title: str | None = None
    next_due_at: datetime | None = None


class CasePoints(BaseModel):
    items: list[CasePoint]
    limit: int
    truncated: bool = Field(description="More cases match than ``limit``")


# --- GeoJSON building (pure) -------------------------------------------------------------------


def round_ring(coords: Iterable[Sequence[float]], precision: int = PRECISION) -> list[list[float]]:
    """A ring's ``[lon, lat]`` pairs rounded to ``precision`` decimals, without the repeats rounding
    may create; the ring stays closed (first point = last point)."""
    out: list[list[float]] = []
    for x, y, *_ in coords:
        pt = [round(float(x), precision), round(float(y), precision)]
        if not out or out[-1] != pt:
            out.append(pt)
    if out and out[0] != out[-1]:
        out.append(list(out[0]))
    return out


def geometry_of(geom: shapely.Geometry, precision: int = PRECISION) -> dict[str, Any]:
    """A polygon or multipolygon as a GeoJSON geometry with rounded coordinates."""

    def rings(poly: shapely.Polygon) -> list[list[list[float]]]:
        return [round_ring(poly.exterior.coords, precision), *(round_ring(r.coords, precision) for r in poly.interiors)]

    if isinstance(geom, shapely.Polygon):
        return {"type": "Polygon", "coordinates": rings(geom)}
    if isinstance(geom, shapely.MultiPolygon):
        return {"type": "MultiPolygon", "coordinates": [rings(p) for p in geom.geoms]}
    raise ValueError(f"a grid's shape must be a polygon, not {geom.geom_type}")


def grid_feature(info: GridInfo, geom: shapely.Geometry, names: dict[str, str]) -> dict[str, Any]:
    """One grid as a GeoJSON feature (``names``: unit id → name for communities, streets, districts)."""
    return {
        "type": "Feature",
        "id": info.id,
        "geometry": geometry_of(geom),
        "properties": {
            "grid_id": info.id,
            "name": info.name,
            "community_id": info.community_id,
            "community": names.get(info.community_id, info.community_id),
            "street_id": info.street_id,
            "street": names.get(info.street_id, info.street_id),
            "district_id": info.district_id,
            "district": names.get(info.district_id, info.district_id),
        },
    }


def feature_collection(features: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A FeatureCollection with the bounding box of its features."""
    xs: list[float] = []
    ys: list[float] = []
    for f in features:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for poly in polys:
            for x, y in poly[0]:
                xs.append(x)
                ys.append(y)
    bbox = [min(xs), min(ys), max(xs), max(ys)] if xs else []
    return {"type": "FeatureCollection", "bbox": bbox, "version": version, "features": features}


# --- jurisdiction ------------------------------------------------------------------------------

#: What part of the city a caller's map covers: ``("city", "")`` or ``(district|street|community|grid, id)``.
Territory = tuple[str, str]


def territory_of(p: Principal) -> Territory:
    """The part of the city ``p``'s map covers; residents have none (403)."""
    if p.role == Role.RESIDENT:
        raise AuthError(403, "role.not_allowed", "the map is for staff; residents follow their case at /app/track")
    scope = list_scope(p)
    for kind in ("district", "street", "community", "grid"):
        if kind in scope:
            return kind, scope[kind]
    return "city", ""  # every case's grid (the hotline, a city supervisor), or a department's, anywhere


def grids_of(registry: SqlCityRegistry, territory: Territory) -> list[GridInfo]:
    """The grids of a territory, in the registry's order."""
    kind, unit = territory
    grids = registry.grids()
    if kind == "city":
        return grids
    attr = {"district": "district_id", "street": "street_id", "community": "community_id", "grid": "id"}[kind]
    return [g for g in grids if getattr(g, attr) == unit]


def case_conditions(p: Principal) -> list[ColumnElement[bool]]:
    """Conditions on ``rm_cases`` for the cases ``p``'s map shows: those located in its territory, or,
    for a department, a property company or a volunteer team, those it was dispatched, delegated,
    summoned or called to."""
    c = t.cases.c
    scope = list_scope(p)
    for kind in ("department", "property", "volunteer_team"):  # the cases the unit worked on, anywhere
        if kind in scope:
            return [involved((kind, scope[kind]))]
    column = {"district": c.district_id, "street": c.street_id, "community": c.community_id, "grid": c.grid_id}
    return [column[k] == v for k, v in scope.items() if k in column]


def _warned() -> ColumnElement[bool]:
    """A running clock of the case raised a warning (breached cases are counted as breached)."""
    k = t.clocks.c
    return exists().where(
        and_(k.case_id == t.cases.c.case_id, k.stopped_at.is_(None), k.warned_at.is_not(None), k.breached_at.is_(None))
    )


# --- caches ------------------------------------------------------------------------------------


class _GridCache:
    """Gzip-compressed GeoJSON per (registry version, territory), and grids' representative points."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._bodies: dict[tuple[str, Territory], tuple[str, bytes, bytes]] = {}
        self._points: dict[str, dict[str, tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def body(self, registry: SqlCityRegistry, territory: Territory) -> tuple[str, bytes, bytes]:
        """``(etag, json bytes, gzip bytes)`` of the territory's grids."""
        key = (registry.version, territory)
        hit = self._bodies.get(key)
        if hit is not None:
            return hit
        grids = grids_of(registry, territory)
        names = {
            **{d.id: d.name for d in registry.districts.values()},
            **{s.id: s.name for s in registry.streets.values()},
            **{c.id: c.name for c in registry.communities.values()},
        }
        doc = feature_collection([grid_feature(g, registry.polygon(g.id), names) for g in grids], registry.version)
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        digest = hashlib.blake2b(raw, digest_size=10).hexdigest()
        entry = (f'"grids-{digest}"', raw, gzip.compress(raw, compresslevel=6, mtime=0))
        with self._lock:
            if len(self._bodies) >= self.size:
                self._bodies.pop(next(iter(self._bodies)))
            self._bodies[key] = entry
        return entry

    def representative(self, registry: SqlCityRegistry, grid_id: str) -> tuple[float, float]:
        """A (lat, lon) inside the grid, for cases whose intake gave no coordinates."""
        points = self._points.get(registry.version)
        if points is None:
            with self._lock:
                points = self._points.setdefault(registry.version, {})
        hit = points.get(grid_id)
        if hit is None:
            pt = registry.polygon(grid_id).representative_point()
            hit = points[grid_id] = (round(pt.y, PRECISION), round(pt.x, PRECISION))
        return hit


_cache = _GridCache()


def _registry(svc: Services) -> SqlCityRegistry:
    reg = svc.registry
    if not isinstance(reg, SqlCityRegistry):
        raise ApiError(503, "unavailable", "registry.unavailable", "the city registry has no grid geometry")
    return reg


def _known_grid(registry: SqlCityRegistry, grid_id: str) -> bool:
    try:
        registry.grid(grid_id)
    except RegistryError:
        return False
    return True


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _read_model_error(err: Exception) -> ApiError:
    return ApiError(
        503,
        "unavailable",
        "readmodel.unavailable",
        f"the read model cannot be read (run `gridcase readmodel migrate` and the projector): {type(err).__name__}",
    )


# --- routes ------------------------------------------------------------------------------------


class GeoJsonResponse(JSONResponse):
    media_type = GEOJSON


def json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """:func:`responses` for an operation whose success is GeoJSON: its errors are still JSON bodies,
    so each is documented as ``application/json`` too (not only as the operation's media type)."""
    out = responses(*codes)
    for spec in out.values():
        model = spec.get("model")
        if model is not None:
            spec["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
    return out


@router.get(
    "/grids",
    response_model=GridCollection,
    response_class=GeoJsonResponse,
    responses={**json_errors(403, 503), 304: {"description": "Not modified (the ETag of If-None-Match)"}},
)
def map_grids(request: Request, p: Caller) -> Response:
    """The grids of the caller's jurisdiction as GeoJSON, each with its community, street and district."""
    territory = territory_of(p)
    registry = _registry(services(request))
    etag, raw, packed = _cache.body(registry, territory)
    headers = {"ETag": etag, "Cache-Control": GRIDS_CACHE_CONTROL, "Vary": "Authorization, Accept-Encoding"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        return Response(packed, media_type=GEOJSON, headers={**headers, "Content-Encoding": "gzip"})
    return Response(raw, media_type=GEOJSON, headers=headers)


@router.get("/stats", responses=responses(403, 503))
def map_stats(request: Request, p: Caller) -> GridStats:
    """Open, breached and warned cases per grid of the caller's jurisdiction (from the read model)."""
    territory_of(p)
    svc = services(request)
    c = t.cases.c
    q = (
        select(
            c.grid_id,
            func.count(),
            func.sum(case((c.breached.is_(True), 1), else_=0)),
            func.sum(case((and_(c.breached.is_(False), _warned()), 1), else_=0)),
        )
        .where(c.status.not_in(sorted(TERMINAL_STATUSES)), c.grid_id.is_not(None), *case_conditions(p))
        .group_by(c.grid_id)
    )
    try:
        with svc.engine.connect() as conn:
            rows = conn.execute(q).all()
    except (OperationalError, ProgrammingError) as err:
        raise _read_model_error(err) from None
    grids = {str(g): [int(n), int(b or 0), int(w or 0)] for g, n, b, w in sorted(rows, key=lambda r: str(r[0]))}
    totals = [sum(v[i] for v in grids.values()) for i in range(3)]
    return GridStats(as_of=datetime.now(UTC), grids=grids, totals=totals)


@router.get("/points", responses=responses(403, 422, 503))
def map_points(
    request: Request,
    p: Caller,
    grid_id: Annotated[str | None, Query(min_length=1, max_length=128, description="Only this grid's cases")] = None,
    open_only: Annotated[Literal["true", "false"], Query(description="Only cases not finished")] = "true",
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many points")] = 1000,
) -> CasePoints:
    """Case points of the caller's jurisdiction, breached first, then by the nearest deadline."""
    territory = territory_of(p)
    svc = services(request)
    registry = _registry(svc)
    c = t.cases.c
    conds: list[ColumnElement[bool]] = [c.grid_id.is_not(None), *case_conditions(p)]
    if grid_id is not None:
        if not _known_grid(registry, grid_id):
            raise invalid("query.grid_id", "registry.unknown_location", f"no grid {grid_id} in {registry.name}")
        if territory[0] != "city" and grid_id not in {g.id for g in grids_of(registry, territory)}:
            raise AuthError(
                403, f"jurisdiction.{p.role.value}", f"grid {grid_id} is outside the jurisdiction of {p.label()}"
            )
        conds.append(c.grid_id == grid_id)
    if open_only == "true":
        conds.append(c.status.not_in(sorted(TERMINAL_STATUSES)))
    warned = and_(c.breached.is_(False), _warned()).label("warned")
    q = (
        select(c.case_id, c.lat, c.lon, c.grid_id, c.status, c.breached, warned, c.category, c.title, c.next_due_at)
        .where(and_(true(), *conds))
        .order_by(c.breached.desc(), c.next_due_at.is_(None), c.next_due_at, c.case_id)
        .limit(limit + 1)
    )
    try:
        with svc.engine.connect() as conn:
            rows = conn.execute(q).all()
    except (OperationalError, ProgrammingError) as err:
        raise _read_model_error(err) from None
    items: list[CasePoint] = []
    for r in rows[:limit]:
        approximate = r.lat is None or r.lon is None
        if approximate:
            if not _known_grid(registry, r.grid_id):
                continue  # a grid the registry no longer has: nowhere to draw it
            lat, lon = _cache.representative(registry, r.grid_id)
        else:
            lat, lon = float(r.lat), float(r.lon)
        items.append(
            CasePoint(
                case_id=r.case_id,
                lat=lat,
                lon=lon,
                approximate=approximate,
                grid_id=r.grid_id,
                status=r.status,
                breached=bool(r.breached),
                warned=bool(r.warned),
                category=r.category,
                title=r.title,
                next_due_at=as_utc(r.next_due_at) if r.next_due_at is not None else None,
            )
        )
    return CasePoints(items=items, limit=limit, truncated=len(rows) > limit)
