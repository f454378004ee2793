import { flushPromises, mount } from "@vue/test-utils";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { i18n } from "@/i18n";

type Call = { path: string; init: { params?: { query?: Record<string, unknown> } } };
const calls: Call[] = [];
let points: unknown[] = [];

function answer(status: number, body: unknown) {
  return {
    data: status < 400 ? body : undefined,
    error: status >= 400 ? body : undefined,
    response: new Response(JSON.stringify(body), { status }),
  };
}

vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  return {
    ...actual,
    http: {
      GET: vi.fn(async (path: string, init: Call["init"]) => {
        calls.push({ path, init });
        if (path === "/map/points") return answer(200, { items: points, limit: 200, truncated: false });
        if (path === "/map/grids") return answer(200, { type: "FeatureCollection", bbox: [], version: "v", features: [] });
        return answer(404, { error: "not_found", rule: "http.404", message: "no" });
      }),
    },
  };
});

const { default: MapLegend } = await import("@/components/map/MapLegend.vue");
const { default: GridPanel } = await import("@/components/map/GridPanel.vue");
const { default: GridMap } = await import("@/components/map/GridMap.vue");

const router = createRouter({
  history: createMemoryHistory(),
  routes: [{ path: "/:rest(.*)*", component: { template: "<div />" } }],
});

const GRID = {
  type: "Feature" as const,
  id: "G-01",
  geometry: { type: "Polygon" as const, coordinates: [] },
  properties: {
    grid_id: "G-01",
    name: "锦华花园",
    community_id: "C-1",
    community: "永顺社区",
    street_id: "S-1",
    street: "泰结街道",
    district_id: "D-1",
    district: "青山区",
  },
};

function point(case_id: string, extra: Record<string, unknown> = {}) {
  return { case_id, lat: 40.7, lon: 111.5, approximate: false, grid_id: "G-01", status: "dispatched", breached: false, warned: false, category: "noise", title: `标题 ${case_id}`, next_due_at: null, ...extra };
}

beforeEach(() => {
  calls.length = 0;
  points = [];
  i18n.global.locale.value = "zh-CN";
});

describe("MapLegend", () => {
  it("shows every level, worst first, with the number of grids at each", () => {
    const w = mount(MapLegend, { props: { totals: { none: 3770, open: 5, warned: 3, breached: 1 } }, global: { plugins: [i18n] } });
    const rows = w.findAll("li");
    expect(rows.map((r) => r.attributes("data-level"))).toEqual(["breached", "warned", "open", "none"]);
    expect(w.get("[data-testid=legend-breached]").text()).toBe("1");
    expect(w.get("[data-testid=legend-none]").text()).toBe("3770");
    expect(w.text()).toContain("有超时工单");
  });

  it("speaks English too, and works without counts", () => {
    i18n.global.locale.value = "en";
    const w = mount(MapLegend, { props: { totals: null }, global: { plugins: [i18n] } });
    expect(w.text()).toContain("A case breached");
    expect(w.find("[data-testid=legend-open]").exists()).toBe(false);
  });
});

describe("GridPanel", () => {
  it("asks for nothing and hints while no grid is selected", async () => {
    const w = mount(GridPanel, { props: { grid: null }, global: { plugins: [i18n, router] } });
    await flushPromises();
    expect(calls).toEqual([]);
    expect(w.text()).toContain("点击地图上的网格");
  });

  it("lists the grid's open cases with links, marking breached and warned ones", async () => {
    points = [point("C1", { breached: true }), point("C2", { warned: true }), point("C3")];
    const w = mount(GridPanel, { props: { grid: GRID, counts: [3, 1, 1] }, global: { plugins: [i18n, router] } });
    await flushPromises();
    expect(calls.at(-1)?.init.params?.query).toMatchObject({ grid_id: "G-01", open_only: "true" });
    expect(w.get("[data-testid=grid-panel-name]").text()).toBe("锦华花园");
    expect(w.text()).toContain("青山区 · 泰结街道 · 永顺社区");
    const rows = w.findAll("[data-testid^=case-row-]");
    expect(rows.map((r) => [r.attributes("data-testid"), r.attributes("data-sla")])).toEqual([
      ["case-row-C1", "breached"],
      ["case-row-C2", "warned"],
      ["case-row-C3", "on_time"],
    ]);
    expect(rows[0].get("a").attributes("href")).toBe("/cases/C1");
    expect(rows[0].text()).toContain("已派单");
    expect(rows[0].text()).toContain("超时");
  });

  it("says so when the grid has no case, and asks again with finished ones when told", async () => {
    const w = mount(GridPanel, { props: { grid: GRID }, global: { plugins: [i18n, router] } });
    await flushPromises();
    expect(w.find("[data-testid=grid-panel-empty]").exists()).toBe(true);
    points = [point("C9", { status: "closed" })];
    await w.get("[data-testid=panel-include-finished] input").setValue(true);
    await flushPromises();
    expect(calls.at(-1)?.init.params?.query).toMatchObject({ grid_id: "G-01", open_only: "false" });
    expect(w.find("[data-testid=case-row-C9]").exists()).toBe(true);
  });

  it("emits close", async () => {
    const w = mount(GridPanel, { props: { grid: GRID }, global: { plugins: [i18n, router] } });
    await w.get("button[aria-label]").trigger("click");
    expect(w.emitted("close")).toHaveLength(1);
  });
});

describe("GridMap without WebGL", () => {
  it("shows a message instead of a blank map, and fetches nothing", async () => {
    const w = mount(GridMap, { props: { mode: "pick" }, global: { plugins: [i18n] } });
    await flushPromises();
    expect(w.get("[data-testid=map-fallback]").text()).toContain("WebGL");
    expect(w.attributes("data-ready")).toBe("false");
    expect(w.attributes("data-mode")).toBe("pick");
    expect(calls).toEqual([]);
    w.unmount();
  });
});
