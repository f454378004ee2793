/**
 * Rows of the queue and the case list (``GET /queue``): their SLA standing as time passes, their
 * order, their search key, and how a refreshed set of rows is merged into a loaded list.
 */
import type { components } from "@/api/schema";
import { searchKey } from "@/lib/filter";

export type QueueItem = components["schemas"]["QueueItem"];
export type QueuePage = components["schemas"]["QueuePage"];
export type Sla = QueueItem["sla"];
export type Sort = "due" | "opened" | "updated";

/** Every status, in the order a case goes through them (the order of the counts). */
export const STATUSES = [
  "received",
  "registered",
  "dispatched",
  "returned",
  "handling",
  "resolved",
  "verified",
  "called_back",
  "shelved",
  "closed",
  "rejected",
  "merged",
] as const;

export type Status = (typeof STATUSES)[number];

/** Seconds left until the row's next deadline, ``elapsed`` seconds after the page was fetched. */
export function remainingAt(row: QueueItem, elapsed: number): number | null {
  return row.remaining_seconds === null || row.remaining_seconds === undefined ? null : row.remaining_seconds - elapsed;
}

/** The row's SLA standing ``elapsed`` seconds after the fetch: a running deadline that passed
 *  meanwhile counts as breached (the server's tick records it a moment later). */
export function slaAt(row: QueueItem, elapsed: number): Sla {
  const left = remainingAt(row, elapsed);
  if ((row.sla === "on_time" || row.sla === "warned") && left !== null && left <= 0) return "breached";
  return row.sla;
}

function time(v: string | null | undefined): number {
  if (!v) return Number.NaN;
  return new Date(v).getTime();
}

/** Compare two rows in the server's order for ``sort`` (ties: opening time, then id). */
export function compareRows(sort: Sort): (a: QueueItem, b: QueueItem) => number {
  const byId = (a: QueueItem, b: QueueItem) => (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0);
  const asc = (x: number, y: number) => (Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : Number.isNaN(y) ? -1 : x - y);
  const desc = (x: number, y: number) => (Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : Number.isNaN(y) ? -1 : y - x);
  switch (sort) {
    case "due":
      return (a, b) =>
        asc(time(a.next_due_at), time(b.next_due_at)) || asc(time(a.opened_at), time(b.opened_at)) || byId(a, b);
    case "opened":
      return (a, b) => desc(time(a.opened_at), time(b.opened_at)) || byId(a, b);
    case "updated":
      return (a, b) =>
        desc(time(a.updated_at), time(b.updated_at)) || desc(time(a.opened_at), time(b.opened_at)) || byId(a, b);
  }
}

/**
 * A loaded list after some of its cases were fetched again: ``asked`` are the ids fetched,
 * ``fresh`` the rows that came back (those that still match the list's filters). A case asked for
 * and not returned has left the list; a fresh row replaces the old one or joins the list. The
 * result is in ``sort`` order.
 */
export function mergeRows(rows: readonly QueueItem[], asked: Iterable<string>, fresh: readonly QueueItem[], sort: Sort): QueueItem[] {
  const gone = new Set(asked);
  const byId = new Map(fresh.map((r) => [r.case_id, r]));
  const out: QueueItem[] = [];
  for (const r of rows) {
    if (byId.has(r.case_id)) {
      out.push(byId.get(r.case_id)!);
      byId.delete(r.case_id);
    } else if (!gone.has(r.case_id)) out.push(r);
  }
  out.push(...byId.values());
  return out.sort(compareRows(sort));
}

/** Counts by status after a merge: the old counts, less the old rows asked for, plus the fresh. */
export function mergeCounts(
  counts: Readonly<Record<string, number>>,
  before: readonly QueueItem[],
  asked: Iterable<string>,
  fresh: readonly QueueItem[],
): Record<string, number> {
  const out: Record<string, number> = { ...counts };
  const askedSet = new Set(asked);
  for (const r of before) {
    if (askedSet.has(r.case_id) && out[r.status]) out[r.status] -= 1;
  }
  for (const r of fresh) out[r.status] = (out[r.status] ?? 0) + 1;
  for (const k of Object.keys(out)) if (out[k] <= 0) delete out[k];
  return out;
}

/** The texts a row is found by in the case list's text filter. */
export function rowKey(row: QueueItem, words: { status: (s: string) => string; sla: (s: string) => string }): string {
  return searchKey([
    row.case_id,
    row.title,
    row.category,
    row.category_name,
    row.category_name_en,
    row.street_id,
    row.street_name,
    row.community_id,
    row.community_name,
    row.grid_id,
    row.grid_name,
    row.district_name,
    row.unit?.id,
    row.unit?.name,
    row.handler_id,
    row.handler_name,
    row.section_id,
    row.status,
    words.status(row.status),
    words.sla(row.sla),
  ]);
}
