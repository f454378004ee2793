import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { defineComponent, h } from "vue";
import CorrectionsChart from "@/components/dashboard/CorrectionsChart.vue";
import HandlerLoadTable from "@/components/dashboard/HandlerLoadTable.vue";
import UnitWorkCards from "@/components/dashboard/UnitWorkCards.vue";
import UnitWorkTable from "@/components/dashboard/UnitWorkTable.vue";
import {
  correctionsOption,
  ratio,
  unitText,
  workTone,
  type CategoryCorrections,
  type Corrections,
  type HandlerLoad,
  type UnitWork,
  type UnitWorkRow,
} from "@/components/dashboard/unitWork";
import { i18n } from "@/i18n";

function corrections(reclassified = 0, urgency_changed = 0, relocated = 0): Corrections {
  return { reclassified, urgency_changed, relocated, total: reclassified + urgency_changed + relocated };
}

/** A unit's figures from its counts, the rates worked out as the API does (null when undefined). */
function work(submitted: number, sentBack: number, interim: number, onTime: number, c: Corrections = corrections()): UnitWork {
  return {
    replies_submitted: submitted,
    replies_sent_back: sentBack,
    replies_approved: submitted - sentBack,
    sent_back_rate: submitted ? sentBack / submitted : null,
    interim_replies: interim,
    interim_on_time: onTime,
    interim_on_time_rate: interim ? onTime / interim : null,
    corrections: c,
  };
}

const HOUSING: UnitWorkRow = { unit: "department:housing", unit_kind: "department", unit_id: "housing", unit_name: "住建局", work: work(3, 1, 3, 2, corrections(1, 1, 0)) };
const STREET: UnitWorkRow = { unit: "street:S-1", unit_kind: "street", unit_id: "S-1", unit_name: null, work: work(0, 0, 0, 0, corrections(0, 0, 1)) };
const NONE: UnitWorkRow = { unit: "-", unit_kind: null, unit_id: null, unit_name: null, work: work(0, 0, 0, 0, corrections(1, 0, 1)) };
const TOTAL = work(3, 1, 3, 2, corrections(2, 1, 2));

const zh = { global: { plugins: [i18n] } };
const ChartStub = defineComponent({
  props: { option: Object, label: String, testid: String, height: Number },
  setup(props, { slots }) {
    return () => h("div", { "data-testid": props.testid, "aria-label": props.label }, slots.default?.());
  },
});
const withChartStub = { global: { plugins: [i18n], stubs: { DashboardChart: ChartStub } } };

describe("work inside the units: pure helpers", () => {
  it("tones a rate where lower is better and one where higher is, and none when undefined", () => {
    expect([0, 0.05, 0.1, 0.2, 0.5].map((v) => workTone("sent_back_rate", v))).toEqual(["good", "good", "mid", "bad", "bad"]);
    expect([1, 0.9, 0.8, 0.69, 0].map((v) => workTone("interim_on_time_rate", v))).toEqual(["good", "good", "mid", "bad", "bad"]);
    expect([null, undefined, Number.NaN].map((v) => workTone("sent_back_rate", v))).toEqual(["", "", ""]);
  });

  it("writes a ratio, a dash when its denominator is zero", () => {
    expect(ratio(1, 3)).toBe("1 / 3");
    expect(ratio(0, 4)).toBe("0 / 4");
    expect(ratio(0, 0)).toBe("—");
  });

  it("names a unit, falls back to its key, and names the hotline's row", () => {
    expect(unitText(HOUSING, "none")).toBe("住建局");
    expect(unitText(STREET, "none")).toBe("street:S-1");
    expect(unitText(NONE, "none")).toBe("none");
  });

  it("stacks the corrections of each category by kind, the first category on top", () => {
    const rows: CategoryCorrections[] = [
      { category: "garbage", name: "垃圾", corrections: corrections(1, 0, 1) },
      { category: "noise", name: null, corrections: corrections(1, 0, 2) },
    ];
    const opt = correctionsOption(rows, (r) => r.name ?? r.category, (k) => `K:${k}`, "t") as {
      yAxis: { data: string[] };
      series: { name: string; stack: string; data: number[] }[];
    };
    expect(opt.yAxis.data).toEqual(["noise", "垃圾"]);
    expect(opt.series.map((s) => s.name)).toEqual(["K:reclassified", "K:urgency_changed", "K:relocated"]);
    expect(new Set(opt.series.map((s) => s.stack)).size).toBe(1);
    expect(opt.series.map((s) => s.data)).toEqual([[1, 1], [0, 0], [2, 1]]);
    // every bar's segments add up to the category's total
    rows.forEach((r, i) => expect(opt.series.reduce((n, s) => n + s.data[rows.length - 1 - i], 0)).toBe(r.corrections.total));
  });
});

describe("work figures", () => {
  it("show the two rates with their counts and the corrections by kind", () => {
    const w = mount(UnitWorkCards, { ...zh, props: { work: TOTAL } });
    const card = (f: string) => w.get(`[data-testid="work-${f}"]`);
    expect(card("sent_back_rate").text()).toContain("33.3%");
    expect(card("sent_back_rate").text()).toContain("1 / 3");
    expect(card("sent_back_rate").attributes("data-value")).toBe(String(1 / 3));
    expect(card("sent_back_rate").classes()).toContain("bad"); // a third sent back: lower is better
    expect(card("interim_on_time_rate").text()).toContain("66.7%");
    expect(card("interim_on_time_rate").classes()).toContain("bad");
    expect(card("corrections").attributes("data-value")).toBe("5");
    expect(card("corrections").text()).toContain("改类 2");
  });

  it("show a dash, no tone and an empty data-value when nothing was reviewed or replied", () => {
    const w = mount(UnitWorkCards, { ...zh, props: { work: work(0, 0, 0, 0) } });
    for (const f of ["sent_back_rate", "interim_on_time_rate"]) {
      const c = w.get(`[data-testid="work-${f}"]`);
      expect(c.text()).toContain("—");
      expect(c.attributes("data-value")).toBe("");
      expect(c.classes()).not.toContain("good");
      expect(c.classes()).not.toContain("bad");
    }
    expect(w.get('[data-testid="work-corrections"]').attributes("data-value")).toBe("0");
  });
});

describe("work per unit", () => {
  it("lists each unit's rates, dashes where undefined, and the total", () => {
    const w = mount(UnitWorkTable, { ...zh, props: { rows: [NONE, HOUSING, STREET], total: TOTAL } });
    const row = (u: string) => w.get(`[data-testid="unit-work-${u}"]`);
    expect(row("department:housing").text()).toContain("住建局");
    expect(row("department:housing").get('[data-field="sent_back_rate"]').text()).toBe("33.3%");
    expect(row("department:housing").get('[data-field="interim_on_time_rate"]').text()).toBe("66.7%");
    expect(row("street:S-1").get('[data-field="sent_back_rate"]').text()).toBe("—");
    expect(row("street:S-1").get('[data-field="sent_back_rate"]').attributes("data-value")).toBe("");
    expect(row("street:S-1").get('[data-field="corrections"]').text()).toBe("1");
    expect(row("-").text()).toContain("未派单");
    const total = w.get('[data-testid="unit-work-total"]');
    expect(total.get('[data-field="corrections"]').text()).toBe(String(TOTAL.corrections?.total));
    const perUnit = [NONE, HOUSING, STREET].reduce((n, r) => n + (r.work.corrections?.total ?? 0), 0);
    expect(perUnit).toBe(TOTAL.corrections?.total); // the rows add up to the total
  });

  it("says when no unit had any work, without a total row", () => {
    const w = mount(UnitWorkTable, { ...zh, props: { rows: [], total: work(0, 0, 0, 0) } });
    expect(w.text()).toContain("本月没有单位内部办理记录");
    expect(w.find('[data-testid="unit-work-total"]').exists()).toBe(false);
  });
});

describe("corrections by category", () => {
  const rows: CategoryCorrections[] = [
    { category: "garbage", name: "垃圾", corrections: corrections(1, 0, 1) },
    { category: "illegal-construction", name: null, corrections: corrections(0, 1, 0) },
  ];

  it("labels the chart with every category's count and carries the figures in its table", () => {
    const w = mount(CorrectionsChart, { ...withChartStub, props: { rows, period: "2026-11" } });
    const chart = w.get('[data-testid="corrections-chart"]');
    expect(chart.attributes("aria-label")).toContain("垃圾 2");
    expect(chart.attributes("aria-label")).toContain("illegal-construction 1");
    const garbage = w.get('[data-testid="corrections-garbage"]');
    expect(garbage.get('[data-field="reclassified"]').text()).toBe("1");
    expect(garbage.get('[data-field="relocated"]').text()).toBe("1");
    expect(garbage.get('[data-field="total"]').text()).toBe("2");
    expect(w.get('[data-testid="corrections-illegal-construction"]').get('[data-field="urgency_changed"]').text()).toBe("1");
  });

  it("says so instead of drawing an empty chart", () => {
    const w = mount(CorrectionsChart, { ...withChartStub, props: { rows: [], period: "2026-11" } });
    expect(w.find('[data-testid="corrections-chart"]').exists()).toBe(false);
    expect(w.get('[data-testid="corrections-none"]').text()).toBe("本月没有纠错");
  });
});

describe("load per handler", () => {
  const rows: HandlerLoad[] = [
    { handler_id: "h-1", name: "李四", unit_kind: "department", unit_id: "housing", unit_name: "住建局", open: 1, overdue: 1, closed: 1 },
    { handler_id: "p-1", name: null, unit_kind: "street", unit_id: "S-1", unit_name: null, open: 1, overdue: 0, closed: 0 },
  ];

  it("names the handlers and their units, and marks the overdue ones", () => {
    const w = mount(HandlerLoadTable, { ...zh, props: { rows, period: "2026-11" } });
    expect(w.findAll("tbody tr").map((r) => r.attributes("data-testid"))).toEqual(["handler-h-1", "handler-p-1"]);
    const h1 = w.get('[data-testid="handler-h-1"]');
    expect(h1.text()).toContain("李四");
    expect(h1.text()).toContain("h-1");
    expect(h1.text()).toContain("住建局");
    expect(h1.get('[data-field="overdue"] .el-tag').text()).toBe("1");
    const p1 = w.get('[data-testid="handler-p-1"]');
    expect(p1.text()).toContain("street:S-1");
    expect(p1.get('[data-field="overdue"]').find(".el-tag").exists()).toBe(false);
    expect(p1.get('[data-field="overdue"]').text()).toBe("0");
    expect(w.get("caption").text()).toContain("2026-11");
  });

  it("says when no handler has a case", () => {
    const w = mount(HandlerLoadTable, { ...zh, props: { rows: [], period: "2026-11" } });
    expect(w.text()).toContain("没有承办人的在办或办结工单");
  });

  it("speaks English too", async () => {
    i18n.global.locale.value = "en";
    try {
      const w = mount(HandlerLoadTable, { ...zh, props: { rows, period: "2026-11" } });
      expect(w.get("thead").text()).toContain("Handler");
      expect(w.get("caption").text()).toContain("closed in 2026-11");
    } finally {
      i18n.global.locale.value = "zh-CN";
    }
  });
});
