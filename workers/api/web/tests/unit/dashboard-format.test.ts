import { describe, expect, it } from "vitest";
import {
  attachmentName,
  cityMonth,
  count,
  escalationOption,
  hours,
  pct,
  rawValue,
  sortRows,
  toPercentPoint,
  TREND_FIELDS,
  trendOption,
  UNDEFINED,
  type Metrics,
  type Rung,
  type TrendPoint,
} from "@/components/dashboard/format";

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
const point = (key: string, over: Partial<Metrics> = {}): TrendPoint => ({ key, start: key, end: key, metrics: metrics(over) });

describe("percentages with one decimal", () => {
  it.each([
    [1, "100.0%"],
    [0, "0.0%"],
    [0.8734, "87.3%"],
    [0.87351, "87.4%"],
    [0.5, "50.0%"],
    [0.0004, "0.0%"],
    [2 / 3, "66.7%"],
  ])("%s reads %s", (v, text) => expect(pct(v)).toBe(text));

  it.each([null, undefined, Number.NaN, Number.POSITIVE_INFINITY])("an undefined rate (%s) shows a dash", (v) => {
    expect(pct(v)).toBe(UNDEFINED);
    expect(hours(v)).toBe(UNDEFINED);
    expect(count(v)).toBe(UNDEFINED);
    expect(rawValue(v)).toBe("");
    expect(toPercentPoint(v)).toBeNull();
  });

  it("keeps the raw value for data-value, and zero is a value", () => {
    expect(rawValue(0.123456789)).toBe("0.123456789");
    expect(rawValue(0)).toBe("0");
    expect(pct(0)).toBe("0.0%");
    expect(count(7)).toBe("7");
    expect(hours(12.25)).toBe("12.3");
  });
});

describe("trend option", () => {
  const points = [point("2026-11-01"), point("2026-11-02", { cases: 2, response_rate: 0.5, resolution_rate: 1, satisfaction_rate: 0.95, composite: 0.905 }), point("2026-11-03", { cases: 1, response_rate: 1 })];
  const opt = trendOption(points, TREND_FIELDS, (f) => `L:${f}`, "title") as {
    xAxis: { data: string[] };
    yAxis: { min: number; max: number };
    series: { type: string; name: string; data: (number | null)[] }[];
    legend: { data: string[] };
    aria: { enabled: boolean; label: { description: string } };
  };

  it("has one category per point and one series per rate", () => {
    expect(opt.xAxis.data).toEqual(["2026-11-01", "2026-11-02", "2026-11-03"]);
    expect(opt.series.map((s) => s.name)).toEqual(TREND_FIELDS.map((f) => `L:${f}`));
    expect(opt.legend.data).toEqual(opt.series.map((s) => s.name));
    expect(opt.series.every((s) => s.type === "line" && s.data.length === points.length)).toBe(true);
    expect([opt.yAxis.min, opt.yAxis.max]).toEqual([0, 100]);
  });

  it("draws percentages, and gaps where a rate is undefined", () => {
    const by = Object.fromEntries(opt.series.map((s, i) => [TREND_FIELDS[i], s.data]));
    expect(by.response_rate).toEqual([null, 50, 100]);
    expect(by.resolution_rate).toEqual([null, 100, null]);
    expect(by.composite).toEqual([null, 90.5, null]);
  });

  it("is described for screen readers", () => {
    expect(opt.aria.enabled).toBe(true);
    expect(opt.aria.label.description).toBe("title");
  });

  it("an empty period gives an empty chart", () => {
    const empty = trendOption([], TREND_FIELDS, String, "t") as { xAxis: { data: string[] }; series: { data: unknown[] }[] };
    expect(empty.xAxis.data).toEqual([]);
    expect(empty.series.every((s) => s.data.length === 0)).toBe(true);
  });
});

describe("escalation option", () => {
  const rungs: Rung[] = [
    { level: "reminder", count: 3, manual: 1, automatic: 2, cases: 2 },
    { level: "supervision", count: 1, manual: 0, automatic: 1, cases: 1 },
    { level: "public_notice", count: 0, manual: 0, automatic: 0, cases: 0 },
  ];
  const opt = escalationOption(rungs, (l) => `R:${l}`, { automatic: "auto", manual: "hand" }, "t") as {
    xAxis: { data: string[] };
    series: { type: string; stack: string; name: string; data: number[] }[];
  };
  it("stacks clock and manual escalations per rung, in ladder order", () => {
    expect(opt.xAxis.data).toEqual(["R:reminder", "R:supervision", "R:public_notice"]);
    expect(opt.series.map((s) => [s.name, s.data])).toEqual([
      ["auto", [2, 1, 0]],
      ["hand", [1, 0, 0]],
    ]);
    expect(new Set(opt.series.map((s) => s.stack)).size).toBe(1);
    // the stacks add up to each rung's count
    expect(rungs.map((_, i) => opt.series[0].data[i] + opt.series[1].data[i])).toEqual(rungs.map((r) => r.count));
  });
});

describe("sorting rows", () => {
  const rows = [
    { k: "a", v: 0.5 },
    { k: "b", v: null },
    { k: "c", v: 0.9 },
    { k: "d", v: 0.5 },
    { k: "e", v: undefined },
  ];
  it("sorts numbers both ways, undefined values last, ties stable", () => {
    expect(sortRows(rows, (r) => r.v, "descending").map((r) => r.k)).toEqual(["c", "a", "d", "b", "e"]);
    expect(sortRows(rows, (r) => r.v, "ascending").map((r) => r.k)).toEqual(["a", "d", "c", "b", "e"]);
  });
  it("sorts names", () => {
    const named = [{ n: "新华街道" }, { n: "Apple" }, { n: "东城街道" }];
    const asc = sortRows(named, (r) => r.n, "ascending").map((r) => r.n);
    expect(sortRows(named, (r) => r.n, "descending").map((r) => r.n)).toEqual([...asc].reverse());
  });
  it("does not change its input", () => {
    const copy = rows.map((r) => r.k);
    sortRows(rows, (r) => r.v, "descending");
    expect(rows.map((r) => r.k)).toEqual(copy);
  });
});

describe("periods and file names", () => {
  it("takes the month in the city's zone", () => {
    expect(cityMonth(new Date("2026-11-30T16:30:00Z"))).toBe("2026-12"); // 00:30 on 1 December in Shanghai
    expect(cityMonth(new Date("2026-11-30T15:59:00Z"))).toBe("2026-11");
    expect(cityMonth(new Date("2026-12-31T16:00:00Z"))).toBe("2027-01");
  });
  it("reads the attachment's file name", () => {
    expect(attachmentName('attachment; filename="gridcase-report-2026-11-street.csv"', "x.csv")).toBe("gridcase-report-2026-11-street.csv");
    expect(attachmentName("attachment; filename=r.csv", "x.csv")).toBe("r.csv");
    expect(attachmentName(null, "x.csv")).toBe("x.csv");
    expect(attachmentName("attachment", "x.csv")).toBe("x.csv");
  });
});
