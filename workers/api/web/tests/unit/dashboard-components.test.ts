import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import KpiCards from "@/components/dashboard/KpiCards.vue";
import RankingTable from "@/components/dashboard/RankingTable.vue";
import type { Metrics, RankedUnit } from "@/components/dashboard/format";
import { i18n } from "@/i18n";

function metrics(over: Partial<Metrics> = {}): Metrics {
  return {
    cases: 0,
    response_rate: null,
    resolution_rate: null,
    satisfaction_rate: null,
    composite: null,
    on_time_resolution_rate: null,
    on_time_closure_rate: null,
    rework_rate: null,
    return_rate: null,
    whistle_rate: null,
    on_time_report_in_rate: null,
    grid_self_handled_share: null,
    mean_handling_hours: null,
    p90_handling_hours: null,
    overdue_open: 0,
    open: 0,
    closed: 0,
    valid_callbacks: 0,
    compressed_cases: 0,
    ...over,
  };
}
const opts = { global: { plugins: [i18n] } };

describe("KPI cards", () => {
  it("show each rate with one decimal and carry the raw value", () => {
    const w = mount(KpiCards, { ...opts, props: { total: metrics({ cases: 5, response_rate: 0.8, resolution_rate: 2 / 3, satisfaction_rate: 0.93, composite: 0.8856, rework_rate: 0.25, overdue_open: 2 }) } });
    const card = (f: string) => w.get(`[data-testid="kpi-${f}"]`);
    expect(card("response_rate").text()).toContain("80.0%");
    expect(card("resolution_rate").text()).toContain("66.7%");
    expect(card("resolution_rate").attributes("data-value")).toBe(String(2 / 3));
    expect(card("composite").text()).toContain("88.6%");
    expect(card("cases").text()).toContain("5");
    expect(card("overdue_open").attributes("data-value")).toBe("2");
    expect(card("overdue_open").classes()).toContain("bad");
    expect(card("rework_rate").classes()).toContain("bad"); // lower is better: 25 % is bad
    expect(card("satisfaction_rate").classes()).toContain("good");
  });

  it("show a dash and an empty data-value for undefined rates", () => {
    const w = mount(KpiCards, { ...opts, props: { total: metrics() } });
    for (const f of ["response_rate", "resolution_rate", "satisfaction_rate", "composite", "on_time_resolution_rate", "rework_rate"]) {
      const c = w.get(`[data-testid="kpi-${f}"]`);
      expect(c.text()).toContain("—");
      expect(c.attributes("data-value")).toBe("");
    }
    expect(w.get('[data-testid="kpi-cases"]').attributes("data-value")).toBe("0");
  });
});

describe("ranking table", () => {
  const rows: RankedUnit[] = [
    { rank: 1, key: "S-1", name: "新华街道", metrics: metrics({ cases: 3, composite: 0.95, overdue_open: 0 }) },
    { rank: 2, key: "S-2", name: "东城街道", metrics: metrics({ cases: 9, composite: 0.7, overdue_open: 4 }) },
    { rank: 3, key: "S-3", name: null, metrics: metrics({ cases: 1, composite: null, overdue_open: 1 }) },
  ];
  const order = (w: ReturnType<typeof mount>) => w.findAll("tbody tr").map((r) => r.attributes("data-testid"));

  it("lists names beside ids, ranked", () => {
    const w = mount(RankingTable, { ...opts, props: { rows, dimension: "street", caption: "c" } });
    expect(order(w)).toEqual(["rank-row-street-S-1", "rank-row-street-S-2", "rank-row-street-S-3"]);
    const first = w.get('[data-testid="rank-row-street-S-1"]');
    expect(first.text()).toContain("新华街道");
    expect(first.text()).toContain("S-1");
    expect(first.get('[data-field="composite"]').text()).toBe("95.0%");
    expect(w.get('[data-testid="rank-row-street-S-3"] [data-field="composite"]').text()).toBe("—");
  });

  it("sorts by a column both ways, undefined last, and says so in aria-sort", async () => {
    const w = mount(RankingTable, { ...opts, props: { rows, dimension: "street", caption: "c" } });
    await w.get('[data-testid="sort-street-cases"]').trigger("click");
    expect(order(w)).toEqual(["rank-row-street-S-2", "rank-row-street-S-1", "rank-row-street-S-3"]);
    expect(w.get('[data-testid="sort-street-cases"]').element.parentElement?.getAttribute("aria-sort")).toBe("descending");
    await w.get('[data-testid="sort-street-cases"]').trigger("click");
    expect(order(w)).toEqual(["rank-row-street-S-3", "rank-row-street-S-1", "rank-row-street-S-2"]);
    await w.get('[data-testid="sort-street-composite"]').trigger("click");
    expect(order(w)).toEqual(["rank-row-street-S-1", "rank-row-street-S-2", "rank-row-street-S-3"]);
    await w.get('[data-testid="sort-street-composite"]').trigger("click");
    expect(order(w)).toEqual(["rank-row-street-S-2", "rank-row-street-S-1", "rank-row-street-S-3"]);
  });

  it("says when there is nothing to rank", () => {
    const w = mount(RankingTable, { ...opts, props: { rows: [], dimension: "department", caption: "c" } });
    expect(w.findAll("tbody tr")).toHaveLength(1);
    expect(w.text()).toContain("本月无工单");
  });
});
