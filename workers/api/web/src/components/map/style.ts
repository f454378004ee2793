/**
 * What the map shows and how, without MapLibre: the level of a grid from its case counts, the
 * colours and the legend, the feature-state updates that take the map from one set of counts to the
 * next, and the MapLibre style (no tile server, no background layer: the grids' own GeoJSON over the
 * container's background colour).
 *
 * Grids are coloured through feature-state (``level``), so new counts change only the grids whose
 * level changed; the 3,779-grid source is never rebuilt.
 */

/** How a grid is coloured: no open case, open cases, a warned one, a breached one (worst wins). */
export type Level = "none" | "open" | "warned" | "breached";

export const LEVELS: readonly Level[] = ["none", "open", "warned", "breached"];

/** Per grid: ``[open, breached, warned]`` counts of open cases (``GET /map/stats``'s ``grids``). */
export type GridCounts = Record<string, readonly number[]>;

/** Fill colours per level; the line and text colours keep 3:1 / 4.5:1 contrast on the background. */
export const COLOURS: Record<Level, string> = {
  none: "#dfe6ee",
  open: "#7fb3e6",
  warned: "#f2b544",
  breached: "#d9363e",
};

export const BACKGROUND = "#f4f6f9";
export const LINE = "#5d6b7a";
export const HIGHLIGHT = "#1f4e8c";

/** The level of a grid with these counts (missing or malformed counts: none). */
export function levelOf(counts: readonly number[] | undefined | null): Level {
  if (!counts || counts.length === 0) return "none";
  const [open = 0, breached = 0, warned = 0] = counts;
  if (breached > 0) return "breached";
  if (warned > 0) return "warned";
  if (open > 0) return "open";
  return "none";
}

/** The number stored in feature-state for a level (0 none … 3 breached). */
export function levelIndex(level: Level): number {
  return LEVELS.indexOf(level);
}

/** Each grid's level, for the grids that have one other than none. */
export function levels(stats: GridCounts | null | undefined): Map<string, Level> {
  const out = new Map<string, Level>();
  if (!stats) return out;
  for (const [gridId, counts] of Object.entries(stats)) {
    const level = levelOf(counts);
    if (level !== "none") out.set(gridId, level);
  }
  return out;
}

/**
 * The feature-state changes that take the map from ``before`` to ``after`` (levels as
 * {@link levels} gives them): one entry per grid whose level changed, ``none`` for a grid that has
 * no open case any more. Grids outside ``known`` (when given) are left out: the map has no feature for them.
 */
export function levelChanges(
  before: ReadonlyMap<string, Level>,
  after: ReadonlyMap<string, Level>,
  known?: ReadonlySet<string>,
): Array<{ id: string; level: Level }> {
  const out: Array<{ id: string; level: Level }> = [];
  for (const [id, level] of after) {
    if (before.get(id) !== level && (!known || known.has(id))) out.push({ id, level });
  }
  for (const id of before.keys()) {
    if (!after.has(id) && (!known || known.has(id))) out.push({ id, level: "none" });
  }
  return out;
}

/** Number of grids at each level, out of ``total`` grids (for the legend). */
export function levelTotals(current: ReadonlyMap<string, Level>, total: number): Record<Level, number> {
  const out: Record<Level, number> = { none: 0, open: 0, warned: 0, breached: 0 };
  for (const level of current.values()) out[level] += 1;
  out.none = Math.max(0, total - out.open - out.warned - out.breached);
  return out;
}

/** Grid ids at ``level``, sorted (the map's ``data-breached`` attribute lists the breached ones). */
export function gridsAt(current: ReadonlyMap<string, Level>, level: Level): string[] {
  return [...current].filter(([, l]) => l === level).map(([id]) => id).sort();
}

// --- the MapLibre style --------------------------------------------------------------------------

export const GRIDS = "grids";
export const POINTS = "points";
export const FOCUS = "focus";
export const OUTLINE = "outline";

/** ``fill-color``: the colour of the feature-state level. */
export function fillColour(): unknown[] {
  return [
    "match",
    ["coalesce", ["feature-state", "level"], 0],
    levelIndex("open"),
    COLOURS.open,
    levelIndex("warned"),
    COLOURS.warned,
    levelIndex("breached"),
    COLOURS.breached,
    COLOURS.none,
  ];
}

/**
 * A style with no tile server and no fonts; the layers are added with the data. No background
 * layer: the canvas is transparent over the container's ``BACKGROUND`` (one full-screen pass less
 * in every frame).
 */
export function baseStyle(): Record<string, unknown> {
  return { version: 8, name: "gridcase", sources: {}, layers: [] };
}

/**
 * The grid layers: the fill (its 1-pixel outline draws the borders, far cheaper than a line layer
 * over 3,779 polygons) on the ``grids`` source, and thick borders on the small ``outline`` source
 * that holds only the highlighted and selected grids.
 */
export function gridLayers(): Array<Record<string, unknown>> {
  return [
    {
      id: "grid-fill",
      type: "fill",
      source: GRIDS,
      paint: {
        "fill-color": fillColour(),
        "fill-outline-color": LINE,
        "fill-opacity": [
          "case",
          ["boolean", ["feature-state", "selected"], false],
          0.95,
          ["boolean", ["feature-state", "highlight"], false],
          0.9,
          0.75,
        ],
      },
    },
    {
      id: "grid-outline",
      type: "line",
      source: OUTLINE,
      paint: { "line-color": HIGHLIGHT, "line-width": 3 },
    },
  ];
}

/** Options of the grids' GeoJSON source: features keyed by ``grid_id`` (for feature-state), a small
 *  tile buffer (fills need little), light simplification, no tiles beyond street zoom. */
export const GRID_SOURCE = { promoteId: "grid_id", buffer: 32, tolerance: 0.5, maxzoom: 16 } as const;

/**
 * What the map's worker gets of the grids: the geometry and the grid id only (names are looked up
 * on the main thread), so that less is copied to the worker, indexed and carried in every tile.
 */
export function drawnGrids<F extends { id: string; geometry: unknown }>(
  grids: { features: readonly F[] },
): { type: "FeatureCollection"; features: unknown[] } {
  return {
    type: "FeatureCollection",
    features: grids.features.map((f) => ({ type: "Feature", geometry: f.geometry, properties: { grid_id: f.id } })),
  };
}

/** Case points: a circle coloured like the grids (breached, warned, open). */
export function pointLayer(): Record<string, unknown> {
  return {
    id: "case-points",
    type: "circle",
    source: POINTS,
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 3, 15, 7],
      "circle-color": [
        "case",
        ["get", "breached"],
        COLOURS.breached,
        ["get", "warned"],
        COLOURS.warned,
        HIGHLIGHT,
      ],
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 1.5,
    },
  };
}

/** The marker of one place (the case's point, or the point picked for an intake). */
export function focusLayer(): Record<string, unknown> {
  return {
    id: "focus-point",
    type: "circle",
    source: FOCUS,
    paint: {
      "circle-radius": 8,
      "circle-color": COLOURS.breached,
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 3,
    },
  };
}

/** A GeoJSON point feature collection (``lon``/``lat`` → coordinates) with the given properties. */
export function pointCollection<T extends { lat: number; lon: number }>(
  items: readonly T[],
  props: (item: T) => Record<string, unknown> = () => ({}),
): { type: "FeatureCollection"; features: unknown[] } {
  return {
    type: "FeatureCollection",
    features: items.map((item) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [item.lon, item.lat] },
      properties: props(item),
    })),
  };
}

/** ``[west, south, east, north]`` of the features' outer rings (null when there are none). */
export function boundsOf(
  features: ReadonlyArray<{ geometry: { type: string; coordinates: unknown } }>,
): [number, number, number, number] | null {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const visit = (ring: unknown): void => {
    for (const pt of ring as number[][]) {
      const [x, y] = pt;
      if (x < w) w = x;
      if (x > e) e = x;
      if (y < s) s = y;
      if (y > n) n = y;
    }
  };
  for (const f of features) {
    const c = f.geometry.coordinates as unknown[];
    if (f.geometry.type === "Polygon") visit(c[0]);
    else if (f.geometry.type === "MultiPolygon") for (const poly of c as unknown[][]) visit(poly[0]);
  }
  return Number.isFinite(w) ? [w, s, e, n] : null;
}
