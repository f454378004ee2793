import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batcher } from "@/components/lists/live-refresh";
import type { LiveNotice } from "@/lib/live";

const n = (id: string): LiveNotice => ({ case_id: id, seq: 1, type: "case.dispatched", occurred_at: "" });

describe("batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("hands over the ids after a quiet delay, once each", () => {
    const got: string[][] = [];
    const b = batcher((ids) => got.push(ids), 300, 2000);
    b.push(n("A"));
    b.push(n("B"));
    b.push(n("A"));
    vi.advanceTimersByTime(299);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(got).toEqual([["A", "B"]]);
    vi.advanceTimersByTime(5000);
    expect(got).toHaveLength(1);
  });

  it("never holds a batch longer than maxWait while notices keep coming", () => {
    const got: string[][] = [];
    const b = batcher((ids) => got.push(ids), 300, 1000);
    for (let i = 0; i < 10; i++) {
      b.push(n(`C${i}`));
      vi.advanceTimersByTime(200);
    }
    expect(got.length).toBe(2);
    expect(got[0]).toEqual(["C0", "C1", "C2", "C3", "C4"]);
    vi.advanceTimersByTime(300);
    expect(got.flat()).toEqual(Array.from({ length: 10 }, (_, i) => `C${i}`));
  });

  it("flushes on demand and cancels", () => {
    const got: string[][] = [];
    const b = batcher((ids) => got.push(ids));
    b.flush();
    expect(got).toEqual([]);
    b.push(n("A"));
    b.flush();
    expect(got).toEqual([["A"]]);
    b.push(n("B"));
    b.cancel();
    vi.advanceTimersByTime(10_000);
    expect(got).toEqual([["A"]]);
  });
});
