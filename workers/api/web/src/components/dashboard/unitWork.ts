/**
 * The work inside the units as GET /dashboard sends it (the report's): review and send-back
 * (退回重办), interim replies (阶段性答复), the hotline's corrections, each handler's load. Pure
 * functions; the chart component loads ECharts itself.
 */
import type { components } from "@/api/schema";
import { UNDEFINED } from "./format";

export type UnitWork = components["schemas"]["UnitWorkFigures"];
export type UnitWorkRow = components["schemas"]["UnitWorkRow"];
export type Corrections = components["schemas"]["CorrectionFigures"];
export type CategoryCorrections = components["schemas"]["CategoryCorrections"];
export type HandlerLoad = components["schemas"]["HandlerLoad"];

/** The kinds of correction, in the report's column order. */
export const CORRECTION_KINDS = ["reclassified", "urgency_changed", "relocated"] as const;
export type CorrectionKind = (typeof CORRECTION_KINDS)[number];

export const CORRECTION_COLORS: Record<CorrectionKind, string> = {
  reclassified: "#1f6fb2",
  urgency_changed: "#b26a00",
  relocated: "#6a3d9a",
};

/** No correction (a figure the API left out). */
export const NO_CORRECTIONS: Corrections = { reclassified: 0, urgency_changed: 0, relocated: 0, total: 0 };

/** good / mid / bad on the report's thresholds: sent back ≤ 5 % good, ≥ 20 % bad; on time ≥ 90 % good, < 70 % bad. */
export function workTone(field: "sent_back_rate" | "interim_on_time_rate", v: number | null | undefined): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "";
  if (field === "sent_back_rate") return v <= 0.05 ? "good" : v >= 0.2 ? "bad" : "mid";
  return v >= 0.9 ? "good" : v < 0.7 ? "bad" : "mid";
}

/** "2 / 3": the numerator and the denominator of a rate, "—" when the denominator is zero. */
export function ratio(part: number, whole: number): string {
  return whole > 0 ? `${part} / ${whole}` : UNDEFINED;
}

/** A unit's display: its name, else ``kind:id``; ``none`` for corrections made while no unit had the case. */
export function unitText(row: Pick<UnitWorkRow, "unit" | "unit_name">, none: string): string {
  if (row.unit === "-") return none;
  return row.unit_name ?? row.unit;
}

/** ECharts option of stacked horizontal bars: the corrections of each category, by kind. */
export function correctionsOption(
  rows: CategoryCorrections[],
  categoryLabel: (row: CategoryCorrections) => string,
  kindLabel: (kind: CorrectionKind) => string,
  title: string,
): Record<string, unknown> {
  const ordered = [...rows].reverse(); // the first category at the top
  return {
    aria: { enabled: true, label: { description: title } },
    animation: false,
    color: CORRECTION_KINDS.map((k) => CORRECTION_COLORS[k]),
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, data: CORRECTION_KINDS.map(kindLabel) },
    grid: { left: 8, right: 16, top: 36, bottom: 24, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: ordered.map(categoryLabel) },
    series: CORRECTION_KINDS.map((k) => ({
      type: "bar",
      stack: "corrections",
      name: kindLabel(k),
      data: ordered.map((r) => r.corrections[k]),
    })),
  };
}
