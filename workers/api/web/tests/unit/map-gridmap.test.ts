/**
 * GridMap against a fake MapLibre: stats become feature-state (only for grids whose level changes),
 * clicks become ``pick`` / ``select`` / ``open``, the first idle marks the map ready.
 */
import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { i18n } from "@/i18n";

type Handler = (e?: unknown) => void;

class FakeSource {
  data: unknown = null;
  setData(d: unknown) {
    this.data = d;
  }
}

class FakeMap {
  static last: FakeMap | null = null;
  options: Record<string, unknown>;
  states = new Map<string, Record<string, unknown>>();
  setCalls: Array<[string, Record<string, unknown>]> = [];
  handlers = new Map<string, Handler[]>();
  sources = new Map<string, FakeSource>();
  rendered: { layer: string; properties: Record<string, unknown> } | null = null;
  removed = false;
  constructor(options: Record<string, unknown>) {
    this.options = options;
    const style = options.style as { sources: Record<string, unknown> };
    for (const name of Object.keys(style.sources)) this.sources.set(name, new FakeSource());
    FakeMap.last = this;
  }
  on(name: string, h: Handler) {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), h]);
    return this;
  }
  once(name: string, h: Handler) {
    const wrapped: Handler = (e) => {
      this.handlers.set(name, (this.handlers.get(name) ?? []).filter((x) => x !== wrapped));
      h(e);
    };
    return this.on(name, wrapped);
  }
  fire(name: string, e?: unknown) {
    for (const h of [...(this.handlers.get(name) ?? [])]) h(e);
  }
  setFeatureState(target: { source: string; id: string }, value: Record<string, unknown>) {
    this.setCalls.push([target.id, value]);
    this.states.set(target.id, { ...(this.states.get(target.id) ?? {}), ...value });
  }
  getSource(name: string) {
    return this.sources.get(name);
  }
  queryRenderedFeatures(_p: unknown, opts: { layers: string[] }) {
    return this.rendered && opts.layers.includes(this.rendered.layer) ? [{ properties: this.rendered.properties }] : [];
  }
  getCanvas() {
    return { style: {} as Record<string, string> };
  }
  getBounds() {
    return { contains: () => true };
  }
  isStyleLoaded() {
    return true;
  }
  isSourceLoaded() {
    return true;
  }
  addControl() {}
  fitBounds() {}
  jumpTo() {}
  resize() {}
  remove() {
    this.removed = true;
  }
  touchZoomRotate = { disableRotation() {} };
}

vi.mock("maplibre-gl", () => ({
  Map: FakeMap,
  NavigationControl: class {},
  setWorkerUrl: vi.fn(),
  prewarm: vi.fn(),
}));
vi.mock("maplibre-gl/dist/maplibre-gl-worker.mjs?url", () => ({ default: "/worker.mjs" }));
vi.mock("maplibre-gl/dist/maplibre-gl.css", () => ({}));

function grid(id: string) {
  return {
    type: "Feature",
    id,
    geometry: { type: "Polygon", coordinates: [[[111, 40], [111.01, 40], [111.01, 40.01], [111, 40]]] },
    properties: { grid_id: id, name: `网格${id}`, community_id: "C", community: "社区", street_id: "S", street: "街道", district_id: "D", district: "区" },
  };
}
const GRIDS = { type: "FeatureCollection", bbox: [111, 40, 111.01, 40.01], version: "v", features: ["G1", "G2", "G3"].map(grid) };

vi.mock("@/components/map/data", () => ({ loadGrids: vi.fn(async () => GRIDS) }));

const { default: GridMap } = await import("@/components/map/GridMap.vue");

class FakeResizeObserver {
  observe() {}
  disconnect() {}
}

beforeEach(() => {
  FakeMap.last = null;
  window.__gridcaseMapReady = undefined;
  vi.stubGlobal("ResizeObserver", FakeResizeObserver);
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue({} as never);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

async function drawn(props: Record<string, unknown>) {
  const w = mount(GridMap, { props, global: { plugins: [i18n] }, attachTo: document.body });
  await flushPromises();
  const map = FakeMap.last!;
  expect(map).not.toBeNull();
  map.fire("load");
  map.fire("idle");
  await flushPromises();
  return { w, map };
}

describe("GridMap", () => {
  it("draws the grids from the registry's GeoJSON with no tile server", async () => {
    const { w, map } = await drawn({});
    const style = map.options.style as { sources: Record<string, { type: string; data?: unknown; promoteId?: string }> };
    expect(style.sources.grids).toMatchObject({ type: "geojson", promoteId: "grid_id" });
    expect(Object.values(style.sources).every((s) => s.type === "geojson")).toBe(true);
    // the grids reach the worker with their geometry and id only
    const drawnData = style.sources.grids.data as { features: Array<{ geometry: unknown; properties: unknown }> };
    expect(drawnData.features.map((f) => f.properties)).toEqual([{ grid_id: "G1" }, { grid_id: "G2" }, { grid_id: "G3" }]);
    expect(drawnData.features.map((f) => f.geometry)).toEqual(GRIDS.features.map((f) => f.geometry));
    expect(w.attributes("data-ready")).toBe("true");
    expect(w.attributes("data-grids")).toBe("3");
    expect(typeof window.__gridcaseMapReady).toBe("number");
    expect(w.emitted("ready")).toHaveLength(1);
    w.unmount();
    expect(map.removed).toBe(true);
  });

  it("colours grids by their counts and touches only the grids whose level changes", async () => {
    const { w, map } = await drawn({ stats: { G1: [2, 1, 0], G2: [1, 0, 0], GX: [5, 5, 0] } });
    expect(map.states.get("G1")).toMatchObject({ level: 3 });
    expect(map.states.get("G2")).toMatchObject({ level: 1 });
    expect(map.states.has("GX")).toBe(false); // not a grid of this map
    expect(w.attributes("data-breached")).toBe("G1");
    expect(w.get("[data-testid=legend-breached]").text()).toBe("1");
    expect(w.get("[data-testid=legend-none]").text()).toBe("1");

    map.setCalls = [];
    await w.setProps({ stats: { G1: [2, 1, 0], G3: [1, 0, 1] } });
    expect(map.setCalls).toEqual([
      ["G3", { level: 2 }],
      ["G2", { level: 0 }],
    ]);
    expect(w.attributes("data-breached")).toBe("G1");

    map.setCalls = [];
    await w.setProps({ stats: { G1: [2, 1, 0], G3: [1, 0, 1] } }); // the same counts again
    expect(map.setCalls).toEqual([]);
    await w.setProps({ stats: {} });
    expect(map.states.get("G1")).toMatchObject({ level: 0 });
    expect(w.attributes("data-breached")).toBe("");
    w.unmount();
  });

  it("in pick mode, a click is a point; in overview, a grid or a case", async () => {
    const pick = await drawn({ mode: "pick" });
    pick.map.fire("click", { point: { x: 1, y: 2 }, lngLat: { lat: 40.71234567, lng: 111.6543219 } });
    expect(pick.w.emitted("pick")).toEqual([[{ lat: 40.712346, lon: 111.654322 }]]);
    expect(pick.w.emitted("select")).toBeUndefined();
    pick.w.unmount();

    const over = await drawn({ mode: "overview", points: [{ case_id: "C1", lat: 40, lon: 111, breached: true, warned: false }] });
    over.map.rendered = { layer: "grid-fill", properties: { grid_id: "G2" } };
    over.map.fire("click", { point: { x: 1, y: 2 }, lngLat: { lat: 40, lng: 111 } });
    over.map.rendered = { layer: "case-points", properties: { case_id: "C1" } };
    over.map.fire("click", { point: { x: 1, y: 2 }, lngLat: { lat: 40, lng: 111 } });
    over.map.rendered = null;
    over.map.fire("click", { point: { x: 1, y: 2 }, lngLat: { lat: 40, lng: 111 } });
    expect(over.w.emitted("select")).toEqual([["G2"], [null]]);
    expect(over.w.emitted("open")).toEqual([["C1"]]);
    expect(over.w.emitted("pick")).toBeUndefined();
    over.w.unmount();
  });

  it("marks the focus, highlights grids and outlines the selected one", async () => {
    const { w, map } = await drawn({ mode: "case", focus: { lat: 40.005, lon: 111.005 }, gridIds: ["G2"] });
    const focus = map.sources.get("focus")!.data as { features: Array<{ geometry: { coordinates: number[] } }> };
    expect(focus.features.map((f) => f.geometry.coordinates)).toEqual([[111.005, 40.005]]);
    expect(map.states.get("G2")).toMatchObject({ highlight: true });
    const outline = () => (map.sources.get("outline")!.data as { features: Array<{ id: string }> }).features.map((f) => f.id);
    expect(outline()).toEqual(["G2"]);

    await w.setProps({ gridIds: ["G3"], selected: "G1" });
    expect(map.states.get("G2")).toMatchObject({ highlight: false });
    expect(map.states.get("G3")).toMatchObject({ highlight: true });
    expect(map.states.get("G1")).toMatchObject({ selected: true });
    expect(outline().sort()).toEqual(["G1", "G3"]);

    map.setCalls = [];
    await w.setProps({ gridIds: ["G3"] }); // a new array with the same grids: nothing redrawn
    expect(map.setCalls).toEqual([]);
    await w.setProps({ focus: null });
    expect((map.sources.get("focus")!.data as { features: unknown[] }).features).toEqual([]);
    w.unmount();
  });
});
