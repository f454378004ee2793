import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debouncedLookup, ready, type SimilarQuery } from "@/components/intake/similar";

const Q = (text: string, grid_id = "G-1", category = "noise"): SimilarQuery => ({ grid_id, category, text });

interface Call {
  q: SimilarQuery;
  signal: AbortSignal;
  resolve: (r: string[]) => void;
  reject: (e: unknown) => void;
}

function harness(delay = 300) {
  const calls: Call[] = [];
  const results: [string[], SimilarQuery][] = [];
  const errors: unknown[] = [];
  let cleared = 0;
  const lookup = debouncedLookup<SimilarQuery, string[]>({
    delay,
    fetch: (q, signal) =>
      new Promise<string[]>((resolve, reject) => {
        calls.push({ q, signal, resolve, reject });
      }),
    onResult: (r, q) => results.push([r, q]),
    onError: (e) => errors.push(e),
    onClear: () => (cleared += 1),
  });
  return { lookup, calls, results, errors, cleared: () => cleared };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("ready", () => {
  it.each([
    [null, false],
    [{}, false],
    [{ grid_id: "G-1" }, false],
    [{ category: "noise" }, false],
    [{ grid_id: "", category: "noise", text: "x" }, false],
    [{ grid_id: "G-1", category: "noise", text: "" }, true],
  ])("%j → %s", (q, expected) => {
    expect(ready(q as Partial<SimilarQuery> | null)).toBe(expected);
  });
});

describe("the similar-case lookup", () => {
  it("waits for typing to pause, then asks once with the last text", async () => {
    const h = harness(300);
    for (const text of ["噪", "噪音", "噪音扰", "噪音扰民"]) {
      h.lookup.schedule(Q(text));
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(h.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls.map((c) => c.q.text)).toEqual(["噪音扰民"]);
    h.calls[0].resolve(["C1"]);
    await vi.runAllTimersAsync();
    expect(h.results).toEqual([[["C1"], Q("噪音扰民")]]);
  });

  it("does not ask again when nothing changed", async () => {
    const h = harness();
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    h.calls[0].resolve([]);
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls).toHaveLength(1);
    h.lookup.invalidate();
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls).toHaveLength(2);
  });

  it("asks again when the grid or the category changes, even with the same text", async () => {
    const h = harness();
    for (const q of [Q("a"), Q("a", "G-2"), Q("a", "G-2", "garbage")]) {
      h.lookup.schedule(q);
      await vi.advanceTimersByTimeAsync(300);
    }
    expect(h.calls.map((c) => [c.q.grid_id, c.q.category])).toEqual([
      ["G-1", "noise"],
      ["G-2", "noise"],
      ["G-2", "garbage"],
    ]);
  });

  it("never shows an older answer over a newer one, and aborts the older request", async () => {
    const h = harness();
    h.lookup.schedule(Q("old"));
    await vi.advanceTimersByTimeAsync(300);
    h.lookup.schedule(Q("new"));
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls[0].signal.aborted).toBe(true);
    expect(h.calls[1].signal.aborted).toBe(false);
    h.calls[1].resolve(["NEW"]);
    h.calls[0].resolve(["OLD"]); // arrives last
    await vi.runAllTimersAsync();
    expect(h.results.map(([r]) => r)).toEqual([["NEW"]]);
  });

  it("clears at once when the query is no longer complete, and drops what is on its way", async () => {
    const h = harness();
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    h.lookup.schedule(null);
    expect(h.cleared()).toBe(1);
    h.calls[0].resolve(["LATE"]);
    await vi.runAllTimersAsync();
    expect(h.results).toEqual([]);
    h.lookup.schedule(Q("a")); // the same query again after a clear is asked again
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls).toHaveLength(2);
  });

  it("reports a failure and may ask the same query again", async () => {
    const h = harness();
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    h.calls[0].reject(new Error("503"));
    await vi.runAllTimersAsync();
    expect(h.errors).toHaveLength(1);
    h.lookup.schedule(Q("a"));
    await vi.advanceTimersByTimeAsync(300);
    expect(h.calls).toHaveLength(2);
  });

  it("flush sends the pending query now; cancel drops it", async () => {
    const h = harness(1000);
    h.lookup.schedule(Q("a"));
    h.lookup.flush();
    expect(h.calls).toHaveLength(1);
    h.lookup.schedule(Q("b"));
    h.lookup.cancel();
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0].signal.aborted).toBe(true);
  });
});
