/**
 * Times as people read them: countdowns ("2 小时 13 分" / "超时 12 分钟"), durations and local
 * date-times in the city's zone (Asia/Shanghai). Pure functions: the caller passes ``now``.
 */

export type Lang = "zh-CN" | "en";

export const CITY_ZONE = "Asia/Shanghai";

/** Whole minutes, hours and days of a span of seconds (sign dropped). */
function parts(seconds: number): { d: number; h: number; m: number } {
  const total = Math.floor(Math.abs(seconds) / 60);
  return { d: Math.floor(total / 1440), h: Math.floor((total % 1440) / 60), m: total % 60 };
}

/** A span of seconds in words: "1 天 3 小时", "2 小时 13 分钟", "12 分钟", "不到 1 分钟". */
export function span(seconds: number, lang: Lang = "zh-CN"): string {
  const { d, h, m } = parts(seconds);
  const zh = lang === "zh-CN";
  if (d > 0) return zh ? `${d} 天${h ? ` ${h} 小时` : ""}` : `${d} d${h ? ` ${h} h` : ""}`;
  if (h > 0) return zh ? `${h} 小时${m ? ` ${m} 分钟` : ""}` : `${h} h${m ? ` ${m} min` : ""}`;
  if (m > 0) return zh ? `${m} 分钟` : `${m} min`;
  return zh ? "不到 1 分钟" : "under 1 min";
}

/** What is left until a deadline: "剩余 2 小时 13 分钟", or "超时 12 分钟" once it has passed. */
export function countdown(remainingSeconds: number, lang: Lang = "zh-CN"): string {
  if (remainingSeconds < 0) return lang === "zh-CN" ? `超时 ${span(remainingSeconds, lang)}` : `${span(remainingSeconds, lang)} overdue`;
  return lang === "zh-CN" ? `剩余 ${span(remainingSeconds, lang)}` : `${span(remainingSeconds, lang)} left`;
}

/** Seconds from ``now`` to ``due`` (negative when overdue). */
export function secondsUntil(due: string | Date, now: Date = new Date()): number {
  return (new Date(due).getTime() - now.getTime()) / 1000;
}

/** The share of a clock's time used at ``now`` (0 to 1, capped), for countdown bars. */
export function used(startedAt: string | Date, dueAt: string | Date, now: Date = new Date()): number {
  const start = new Date(startedAt).getTime();
  const due = new Date(dueAt).getTime();
  if (due <= start) return 1;
  return Math.min(1, Math.max(0, (now.getTime() - start) / (due - start)));
}

/** A local date-time in the city's zone: "2026-12-02 09:30". */
export function localTime(when: string | Date | null | undefined, lang: Lang = "zh-CN"): string {
  if (!when) return "—";
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return "—";
  const f = new Intl.DateTimeFormat(lang === "zh-CN" ? "zh-CN" : "en-GB", {
    timeZone: CITY_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A local date in the city's zone: "2026-12-02". */
export function localDate(when: string | Date | null | undefined): string {
  return localTime(when).slice(0, 10);
}
