import { describe, expect, it, vi, afterEach } from "vitest";
import {
  COLOURS,
  LEVELS,
  boundsOf,
  fillColour,
  gridsAt,
  levelChanges,
  levelIndex,
  levelOf,
  levelTotals,
  levels,
  pointCollection,
  type Level,
} from "@/components/map/style";
import { debounce } from "@/components/map/refresh";

describe("a grid's level from its counts [open, breached, warned]", () => {
  it.each<[readonly number[] | undefined | null, Level]>([
    [undefined, "none"],
    [null, "none"],
    [[], "none"],
    [[0, 0, 0], "none"],
    [[3], "open"],
    [[3, 0, 0], "open"],
    [[3, 0, 1], "warned"],
    [[3, 1, 0], "breached"],
    [[3, 1, 2], "breached"], // the worst wins
    [[1, 1], "breached"],
  ])("%j is %s", (counts, level) => {
    expect(levelOf(counts)).toBe(level);
  });

  it("orders the levels from none to breached, each with its own colour", () => {
    expect(LEVELS.map(levelIndex)).toEqual([0, 1, 2, 3]);
    expect(new Set(LEVELS.map((l) => COLOURS[l])).size).toBe(LEVELS.length);
  });

  it("the fill expression maps each feature-state level to its colour", () => {
    const expr = fillColour();
    expect(expr[0]).toBe("match");
    for (const level of ["open", "warned", "breached"] as const) {
      const at = expr.indexOf(levelIndex(level));
      expect(expr[at + 1]).toBe(COLOURS[level]);
    }
    expect(expr[expr.length - 1]).toBe(COLOURS.none); // no state yet: none
  });
});

describe("stats → feature-state changes", () => {
  const m = (o: Record<string, Level>) => new Map(Object.entries(o));

  it("keeps only grids with a level other than none", () => {
    expect([...levels({ a: [1, 0, 0], b: [0, 0, 0], c: [2, 1, 0] })]).toEqual([
      ["a", "open"],
      ["c", "breached"],
    ]);
    expect(levels(null).size).toBe(0);
  });

  it("from nothing: every coloured grid, once", () => {
    expect(levelChanges(new Map(), m({ a: "open", b: "breached" }))).toEqual([
      { id: "a", level: "open" },
      { id: "b", level: "breached" },
    ]);
  });

  it("unchanged grids are not touched; changed ones are; emptied ones go back to none", () => {
    const before = m({ a: "open", b: "warned", c: "breached" });
    const after = m({ a: "open", b: "breached", d: "open" });
    expect(levelChanges(before, after)).toEqual([
      { id: "b", level: "breached" },
      { id: "d", level: "open" },
      { id: "c", level: "none" },
    ]);
  });

  it("the same counts again change nothing", () => {
    const s = { a: [1, 0, 0], b: [4, 2, 1] };
    expect(levelChanges(levels(s), levels({ ...s }))).toEqual([]);
  });

  it("leaves out grids the map has no feature for", () => {
    expect(levelChanges(m({ x: "open" }), m({ a: "open", z: "breached" }), new Set(["a", "x"]))).toEqual([
      { id: "a", level: "open" },
      { id: "x", level: "none" },
    ]);
  });

  it("applying the changes in turn gives the new levels, for random sequences", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const ids = Array.from({ length: 40 }, (_, i) => `G-${i}`);
    let drawn = new Map<string, Level>(); // what the map shows (none = absent)
    let applied: ReadonlyMap<string, Level> = new Map();
    for (let round = 0; round < 30; round++) {
      const stats: Record<string, number[]> = {};
      for (const id of ids) if (rnd() < 0.4) stats[id] = [1 + Math.floor(rnd() * 3), rnd() < 0.3 ? 1 : 0, rnd() < 0.3 ? 1 : 0];
      const next = levels(stats);
      for (const { id, level } of levelChanges(applied, next)) {
        if (level === "none") drawn.delete(id);
        else drawn.set(id, level);
      }
      applied = next;
      expect(Object.fromEntries(drawn)).toEqual(Object.fromEntries(next));
      drawn = new Map(drawn);
    }
  });
});

describe("legend totals and the breached list", () => {
  it("counts grids per level; the rest have none", () => {
    const cur = new Map<string, Level>([
      ["a", "open"],
      ["b", "open"],
      ["c", "breached"],
      ["d", "warned"],
    ]);
    expect(levelTotals(cur, 10)).toEqual({ none: 6, open: 2, warned: 1, breached: 1 });
    expect(levelTotals(new Map(), 3779).none).toBe(3779);
    expect(levelTotals(cur, 2).none).toBe(0); // never negative
  });

  it("lists the breached grids sorted", () => {
    const cur = new Map<string, Level>([
      ["G-9", "breached"],
      ["G-1", "open"],
      ["G-2", "breached"],
    ]);
    expect(gridsAt(cur, "breached")).toEqual(["G-2", "G-9"]);
    expect(gridsAt(cur, "warned")).toEqual([]);
  });
});

describe("geometry helpers", () => {
  const square = (x: number, y: number, d = 1) => ({
    geometry: { type: "Polygon", coordinates: [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]] },
  });

  it("bounds cover polygons and multipolygons; none without features", () => {
    expect(boundsOf([square(0, 0), square(5, -2)])).toEqual([0, -2, 6, 1]);
    const multi = { geometry: { type: "MultiPolygon", coordinates: [square(1, 1).geometry.coordinates, square(-3, 4).geometry.coordinates] } };
    expect(boundsOf([multi])).toEqual([-3, 1, 2, 5]);
    expect(boundsOf([])).toBeNull();
  });

  it("points become [lon, lat] features with their properties", () => {
    const fc = pointCollection([{ lat: 40.7, lon: 111.5, id: "C1" }], (p) => ({ case_id: p.id }));
    expect(fc.features).toEqual([
      { type: "Feature", geometry: { type: "Point", coordinates: [111.5, 40.7] }, properties: { case_id: "C1" } },
    ]);
    expect(pointCollection([]).features).toEqual([]);
  });
});

describe("debounce", () => {
  afterEach(() => vi.useRealTimers());

  it("runs once after a burst, and not at all when cancelled", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const d = debounce(fn, 800);
    d();
    vi.advanceTimersByTime(500);
    d();
    d();
    vi.advanceTimersByTime(799);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    d();
    d.cancel();
    vi.advanceTimersByTime(2000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
