import { describe, expect, it } from "vitest";
import { compareRows, mergeCounts, mergeRows, remainingAt, rowKey, slaAt, type QueueItem } from "@/components/lists/rows";
import { filterIndex, buildIndex } from "@/lib/filter";

function row(id: string, fields: Partial<QueueItem> = {}): QueueItem {
  return {
    case_id: id,
    status: "handling",
    sla: "on_time",
    warned: false,
    breached: false,
    accepted: true,
    remaining_seconds: 600,
    next_due_at: "2026-03-02T10:00:00Z",
    opened_at: "2026-03-01T08:00:00Z",
    updated_at: "2026-03-01T09:00:00Z",
    ...fields,
  } as QueueItem;
}

describe("SLA standing as time passes", () => {
  it.each([
    ["on_time", 600, 0, "on_time"],
    ["on_time", 600, 599, "on_time"],
    ["on_time", 600, 600, "breached"],
    ["warned", 60, 61, "breached"],
    ["paused", -60, 0, "paused"], // a paused clock does not run out
    ["breached", -60, 0, "breached"],
    ["none", null, 1000, "none"],
  ] as const)("%s with %s s left, %s s later: %s", (sla, left, elapsed, expected) => {
    const r = row("C1", { sla, remaining_seconds: left });
    expect(slaAt(r, elapsed)).toBe(expected);
  });

  it("counts the time left down from the fetch", () => {
    expect(remainingAt(row("C1", { remaining_seconds: 90 }), 30)).toBe(60);
    expect(remainingAt(row("C1", { remaining_seconds: 10 }), 30)).toBe(-20);
    expect(remainingAt(row("C1", { remaining_seconds: null }), 30)).toBeNull();
  });
});

describe("order", () => {
  const rows = [
    row("B", { next_due_at: null, opened_at: "2026-03-01T07:00:00Z" }),
    row("A", { next_due_at: "2026-03-02T11:00:00Z" }),
    row("C", { next_due_at: "2026-03-02T09:00:00Z", opened_at: "2026-03-01T09:00:00Z" }),
    row("D", { next_due_at: "2026-03-02T09:00:00Z", opened_at: "2026-03-01T08:00:00Z" }),
    row("E", { next_due_at: null, opened_at: "2026-03-01T06:00:00Z" }),
  ];
  it("puts the nearest deadline first and cases without one last", () => {
    expect([...rows].sort(compareRows("due")).map((r) => r.case_id)).toEqual(["D", "C", "A", "E", "B"]);
  });
  it("sorts by opening, newest first", () => {
    expect([...rows].sort(compareRows("opened")).map((r) => r.case_id)).toEqual(["C", "A", "D", "B", "E"]);
  });
});

describe("merging refreshed rows", () => {
  const loaded = [row("A", { next_due_at: "2026-03-02T09:00:00Z" }), row("B", { next_due_at: "2026-03-02T10:00:00Z" }), row("C", { next_due_at: "2026-03-02T11:00:00Z" })];

  it("replaces a changed row and keeps the order", () => {
    const out = mergeRows(loaded, ["A"], [row("A", { next_due_at: "2026-03-02T12:00:00Z", status: "resolved" })], "due");
    expect(out.map((r) => r.case_id)).toEqual(["B", "C", "A"]);
    expect(out[2].status).toBe("resolved");
  });
  it("drops a row asked for that no longer matches", () => {
    expect(mergeRows(loaded, ["B"], [], "due").map((r) => r.case_id)).toEqual(["A", "C"]);
  });
  it("adds a new row in its place", () => {
    const out = mergeRows(loaded, ["N"], [row("N", { next_due_at: "2026-03-02T09:30:00Z" })], "due");
    expect(out.map((r) => r.case_id)).toEqual(["A", "N", "B", "C"]);
  });
  it("leaves rows not asked for alone", () => {
    expect(mergeRows(loaded, [], [], "due")).toEqual(loaded);
  });
  it("moves counts from the old status to the new one", () => {
    const counts = { handling: 3, resolved: 1 };
    expect(mergeCounts(counts, loaded, ["A"], [row("A", { status: "resolved" })])).toEqual({ handling: 2, resolved: 2 });
    expect(mergeCounts(counts, loaded, ["B"], [])).toEqual({ handling: 2, resolved: 1 });
    expect(mergeCounts(counts, loaded, ["N"], [row("N", { status: "dispatched" })])).toEqual({ handling: 3, resolved: 1, dispatched: 1 });
    expect(mergeCounts({ handling: 1 }, [row("A")], ["A"], [])).toEqual({});
  });
});

describe("row search keys", () => {
  const words = { status: (s: string) => ({ handling: "办理中", resolved: "已办结" })[s] ?? s, sla: (s: string) => ({ breached: "超时" })[s] ?? s };
  const rows = [
    row("C1", { title: "噪音扰民", street_name: "锦华街道", grid_name: "锦华花园", unit: { kind: "street", id: "S-1", name: "锦华街道办" } }),
    row("C2", { title: "路灯", status: "resolved", sla: "breached", category_name: "市政设施", category_name_en: "Street lights" }),
  ];
  const index = buildIndex(rows, (r) => [rowKey(r, words)]);
  it.each([
    ["锦华花园", ["C1"]],
    ["街道办", ["C1"]],
    ["s-1", ["C1"]],
    ["已办结", ["C2"]],
    ["超时", ["C2"]],
    ["street lights", ["C2"]],
    ["市政", ["C2"]],
    ["c2", ["C2"]],
  ])("%j finds %j", (q, expected) => {
    expect(filterIndex(index, q).map((r) => r.case_id)).toEqual(expected);
  });
});
