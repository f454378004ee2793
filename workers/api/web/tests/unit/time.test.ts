import { describe, expect, it } from "vitest";
import { countdown, localTime, secondsUntil, span, used } from "@/lib/time";

describe("span and countdown", () => {
  it.each([
    [30, "不到 1 分钟", "under 1 min"],
    [12 * 60, "12 分钟", "12 min"],
    [2 * 3600 + 13 * 60 + 59, "2 小时 13 分钟", "2 h 13 min"],
    [3600, "1 小时", "1 h"],
    [26 * 3600, "1 天 2 小时", "1 d 2 h"],
    [48 * 3600, "2 天", "2 d"],
  ])("%s s reads %s / %s", (s, zh, en) => {
    expect(span(s)).toBe(zh);
    expect(span(-s, "en")).toBe(en);
  });
  it("says overdue once the deadline passed", () => {
    expect(countdown(-12 * 60)).toBe("超时 12 分钟");
    expect(countdown(-12 * 60, "en")).toBe("12 min overdue");
    expect(countdown(90 * 60)).toBe("剩余 1 小时 30 分钟");
  });
});

describe("clock arithmetic", () => {
  const now = new Date("2026-12-02T02:00:00Z");
  it("counts seconds to a due time, negative after it", () => {
    expect(secondsUntil("2026-12-02T03:00:00Z", now)).toBe(3600);
    expect(secondsUntil("2026-12-02T01:00:00Z", now)).toBe(-3600);
  });
  it("caps the used share between 0 and 1", () => {
    expect(used("2026-12-02T01:00:00Z", "2026-12-02T03:00:00Z", now)).toBe(0.5);
    expect(used("2026-12-02T03:00:00Z", "2026-12-02T04:00:00Z", now)).toBe(0);
    expect(used("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z", now)).toBe(1);
    expect(used("2026-12-02T01:00:00Z", "2026-12-02T01:00:00Z", now)).toBe(1);
  });
  it("shows local time in Beijing time", () => {
    expect(localTime("2026-12-02T01:30:00Z")).toBe("2026-12-02 09:30");
    expect(localTime(null)).toBe("—");
    expect(localTime("not a date")).toBe("—");
  });
});
