import { describe, expect, it } from "vitest";
import { clockBar, clockTone, policySeconds } from "@/components/case/clock";

const start = "2026-12-02T01:00:00Z";
const due = "2026-12-02T03:00:00Z";
const at = (iso: string) => new Date(iso);
const clock = (over: Record<string, unknown> = {}) => ({
  kind: "resolve",
  started_at: start,
  due_at: due,
  status: "running",
  sla_state: "on_time",
  stopped_at: null,
  ...over,
});

describe("countdown bar colouring", () => {
  it.each([
    ["a running clock before its due time", clock(), "2026-12-02T02:00:00Z", "on_time"],
    ["a clock the server saw warned", clock({ status: "warned", sla_state: "warned" }), "2026-12-02T02:30:00Z", "warned"],
    ["a running clock whose due time passed since the fetch", clock(), "2026-12-02T03:00:01Z", "breached"],
    ["a warned clock whose due time passed", clock({ sla_state: "warned" }), "2026-12-02T04:00:00Z", "breached"],
    ["a clock the server saw breached", clock({ status: "breached", sla_state: "breached" }), "2026-12-02T02:00:00Z", "breached"],
    ["a paused clock, even past its due time", clock({ status: "paused", sla_state: "paused" }), "2026-12-02T05:00:00Z", "paused"],
    ["a stopped clock", clock({ status: "met", sla_state: "stopped", stopped_at: "2026-12-02T02:00:00Z" }), "2026-12-02T05:00:00Z", "stopped"],
  ])("%s is %s", (_, k, now, tone) => {
    expect(clockTone(k, at(now))).toBe(tone);
    expect(clockBar(k, at(now)).tone).toBe(tone);
  });

  it("fills by the share of time used and counts down in words", () => {
    const b = clockBar(clock(), at("2026-12-02T02:00:00Z"));
    expect(b.percent).toBe(50);
    expect(b.text).toBe("剩余 1 小时");
    expect(clockBar(clock(), at("2026-12-02T03:12:00Z"), "en").text).toBe("12 min overdue");
    expect(clockBar(clock(), at("2026-12-02T03:12:00Z")).percent).toBe(100);
  });

  it("says how a stopped clock ended", () => {
    const met = clock({ status: "met", sla_state: "stopped", stopped_at: "2026-12-02T02:00:00Z" });
    expect(clockBar(met, at("2026-12-02T09:00:00Z"))).toEqual({ tone: "stopped", percent: 50, text: "按时完成" });
    const late = clock({ status: "late", sla_state: "stopped", stopped_at: "2026-12-02T03:12:00Z" });
    expect(clockBar(late, at("2026-12-02T09:00:00Z")).text).toBe("超时 12 分钟 完成");
    expect(clockBar(late, at("2026-12-02T09:00:00Z"), "en").text).toBe("met 12 min late");
  });

  it("counts in policy time on a compressed case", () => {
    expect(policySeconds(30, 30)).toBe(3600);
    expect(policySeconds(30, null)).toBe(30);
    const fast = clock({ started_at: "2026-12-02T01:00:00Z", due_at: "2026-12-02T01:01:00Z" }); // 2 policy hours at 30 s/h
    expect(clockBar(fast, at("2026-12-02T01:00:45Z"), "zh-CN", 30).text).toBe("剩余 30 分钟");
  });
});
