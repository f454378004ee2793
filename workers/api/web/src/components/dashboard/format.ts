/**
 * Numbers as the dashboard shows them, and the mapping from the API's payload to chart options.
 * Pure functions (no ECharts import): the chart components load ECharts themselves, lazily.
 */
import type { components } from "@/api/schema";

export type Page = components["schemas"]["DashboardPage"];
export type Metrics = components["schemas"]["DashboardMetrics"];
export type TrendPoint = components["schemas"]["TrendPoint"];
export type Rung = components["schemas"]["EscalationRung"];
export type RankedUnit = components["schemas"]["RankedUnit"];
export type OverdueCase = components["schemas"]["OverdueCase"];

/** Shown for a rate whose denominator is zero (the API sends ``null``). */
export const UNDEFINED = "—";

function known(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A fraction as a percentage with one decimal: 0.8734 → "87.3%"; undefined → "—". */
export function pct(v: number | null | undefined): string {
  return known(v) ? `${(100 * v).toFixed(1)}%` : UNDEFINED;
}

/** Policy hours with one decimal: 12.25 → "12.3"; undefined → "—". */
export function hours(v: number | null | undefined): string {
  return known(v) ? v.toFixed(1) : UNDEFINED;
}

/** A count; undefined → "—". */
export function count(v: number | null | undefined): string {
  return known(v) ? String(Math.trunc(v)) : UNDEFINED;
}

/** The raw value for a ``data-value`` attribute: the number as the API sent it, "" when undefined. */
export function rawValue(v: number | null | undefined): string {
  return known(v) ? String(v) : "";
}

/** A fraction on a 0–100 chart axis (one decimal), ``null`` (a gap) when undefined. */
export function toPercentPoint(v: number | null | undefined): number | null {
  return known(v) ? Math.round(1000 * v) / 10 : null;
}

export type RateField = "response_rate" | "resolution_rate" | "satisfaction_rate" | "composite" | "on_time_resolution_rate" | "rework_rate";

/** The rates the trend chart draws, in legend order. */
export const TREND_FIELDS: RateField[] = ["response_rate", "resolution_rate", "satisfaction_rate", "composite"];

export const SERIES_COLORS: Record<RateField, string> = {
  response_rate: "#1f6fb2",
  resolution_rate: "#2e7d32",
  satisfaction_rate: "#c62828",
  composite: "#6a3d9a",
  on_time_resolution_rate: "#b26a00",
  rework_rate: "#546e7a",
};

/** ECharts option of a line chart of ``fields`` over ``points`` (0–100 %, gaps where undefined). */
export function trendOption(
  points: TrendPoint[],
  fields: RateField[],
  label: (field: RateField) => string,
  title: string,
): Record<string, unknown> {
  return {
    aria: { enabled: true, label: { description: title } },
    animation: false,
    color: fields.map((f) => SERIES_COLORS[f]),
    tooltip: { trigger: "axis", valueFormatter: (v: unknown) => (typeof v === "number" ? `${v.toFixed(1)}%` : UNDEFINED) },
    legend: { top: 0, data: fields.map(label) },
    grid: { left: 48, right: 16, top: 36, bottom: 32 },
    xAxis: { type: "category", data: points.map((p) => p.key), axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: fields.map((f) => ({
      type: "line",
      name: label(f),
      data: points.map((p) => toPercentPoint(p.metrics[f])),
      connectNulls: false,
      showSymbol: true,
      symbolSize: 6,
    })),
  };
}

/** ECharts option of stacked bars of escalations per rung: raised by a clock, and by hand. */
export function escalationOption(
  rungs: Rung[],
  rungLabel: (level: string) => string,
  seriesLabel: { automatic: string; manual: string },
  title: string,
): Record<string, unknown> {
  return {
    aria: { enabled: true, label: { description: title } },
    animation: false,
    color: ["#1f6fb2", "#b26a00"],
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, data: [seriesLabel.automatic, seriesLabel.manual] },
    grid: { left: 48, right: 16, top: 36, bottom: 32 },
    xAxis: { type: "category", data: rungs.map((r) => rungLabel(r.level)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", stack: "rung", name: seriesLabel.automatic, data: rungs.map((r) => r.automatic) },
      { type: "bar", stack: "rung", name: seriesLabel.manual, data: rungs.map((r) => r.manual) },
    ],
  };
}

export type SortDir = "ascending" | "descending";

/**
 * Rows sorted by ``value`` (numbers or strings); rows without a value always come last, whatever the
 * direction; ties keep their order (stable).
 */
export function sortRows<T>(rows: T[], value: (row: T) => number | string | null | undefined, dir: SortDir): T[] {
  const sign = dir === "ascending" ? 1 : -1;
  return rows
    .map((row, i) => ({ row, i, v: value(row) }))
    .sort((a, b) => {
      const an = a.v === null || a.v === undefined || (typeof a.v === "number" && !Number.isFinite(a.v));
      const bn = b.v === null || b.v === undefined || (typeof b.v === "number" && !Number.isFinite(b.v));
      if (an || bn) return an === bn ? a.i - b.i : an ? 1 : -1;
      const c = typeof a.v === "number" && typeof b.v === "number" ? a.v - b.v : String(a.v).localeCompare(String(b.v), "zh-CN");
      return c === 0 ? a.i - b.i : sign * c;
    })
    .map((x) => x.row);
}

/** The month of ``when`` in the city's zone, ``YYYY-MM``. */
export function cityMonth(when: Date = new Date()): string {
  const f = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" });
  const p = Object.fromEntries(f.formatToParts(when).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}`;
}

/** The file name of a ``Content-Disposition: attachment; filename="..."`` header, or ``fallback``. */
export function attachmentName(header: string | null, fallback: string): string {
  const m = header ? /filename="?([^";]+)"?/i.exec(header) : null;
  return m ? m[1] : fallback;
}
