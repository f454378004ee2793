/**
 * A clock's countdown bar, worked out locally every second from what the API said (pure).
 *
 * The API's ``sla_state`` is the clock's state when the case was fetched; between fetches a running
 * clock whose due time passes turns ``breached`` here without waiting for the server. Spans are in
 * policy time: on compressed time (``time_scale`` wall-clock seconds per policy hour) a wall-clock
 * second stands for ``3600 / time_scale`` seconds, as in the timeline's words.
 */
import { countdown, secondsUntil, span, used, type Lang } from "@/lib/time";

export type Tone = "on_time" | "warned" | "breached" | "paused" | "stopped";

export interface ClockLike {
  kind: string;
  started_at: string;
  due_at: string;
  status: string;
  sla_state: string;
  stopped_at?: string | null;
}

export interface ClockBar {
  tone: Tone;
  /** Share of the budget used, 0 to 100. */
  percent: number;
  /** "剩余 2 小时 13 分钟", "超时 12 分钟", "已暂停", "按时完成" ... */
  text: string;
}

/** Policy seconds that ``wallSeconds`` stand for. */
export function policySeconds(wallSeconds: number, timeScale: number | null | undefined): number {
  return timeScale ? (wallSeconds * 3600) / timeScale : wallSeconds;
}

const WORDS = {
  paused: { zh: "已暂停", en: "paused" },
  met: { zh: "按时完成", en: "met on time" },
  late: { zh: "超时完成", en: "met late" },
  cancelled: { zh: "已取消", en: "cancelled" },
};

export function clockTone(clock: ClockLike, now: Date): Tone {
  if (clock.stopped_at || ["met", "late", "cancelled"].includes(clock.status)) return "stopped";
  if (clock.sla_state === "paused" || clock.status === "paused") return "paused";
  if (clock.sla_state === "breached" || clock.status === "breached" || secondsUntil(clock.due_at, now) <= 0) return "breached";
  if (clock.sla_state === "warned" || clock.status === "warned") return "warned";
  return "on_time";
}

export function clockBar(clock: ClockLike, now: Date, lang: Lang = "zh-CN", timeScale?: number | null): ClockBar {
  const tone = clockTone(clock, now);
  const w = (k: keyof typeof WORDS) => (lang === "zh-CN" ? WORDS[k].zh : WORDS[k].en);
  if (tone === "stopped") {
    const end = clock.stopped_at ? new Date(clock.stopped_at) : now;
    const outcome = clock.status === "late" ? "late" : clock.status === "cancelled" ? "cancelled" : "met";
    const late = outcome === "late" ? policySeconds(-secondsUntil(clock.due_at, end), timeScale) : 0;
    let text = w(outcome);
    if (outcome === "late" && late > 0) text = lang === "zh-CN" ? `超时 ${span(late, lang)} 完成` : `met ${span(late, lang)} late`;
    return { tone, percent: Math.round(used(clock.started_at, clock.due_at, end) * 100), text };
  }
  if (tone === "paused") return { tone, percent: Math.round(used(clock.started_at, clock.due_at, now) * 100), text: w("paused") };
  const remaining = policySeconds(secondsUntil(clock.due_at, now), timeScale);
  return { tone, percent: Math.round(used(clock.started_at, clock.due_at, now) * 100), text: countdown(remaining, lang) };
}

/** The bar's colour for each tone (the page's CSS variables). */
export const TONE_COLOUR: Record<Tone, string> = {
  on_time: "var(--gc-on-time)",
  warned: "var(--gc-warned)",
  breached: "var(--gc-breached)",
  paused: "var(--gc-paused)",
  stopped: "#909399",
};
