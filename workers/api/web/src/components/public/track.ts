/**
 * The resident's progress page, its pure parts: checking the look-up and the rating before they are
 * sent (the API's rules: a case number of letters, digits, ``_ . -``; exactly four digits; a
 * comment of at most 500 characters), and the short local time of each step ("12月2日 09:30").
 */
import type { components } from "@/api/schema";
import { CITY_ZONE, type Lang } from "@/lib/time";

export type TrackProgress = components["schemas"]["TrackProgress"];
export type TrackStep = components["schemas"]["TrackStep"];
export type ResidentRating = "satisfied" | "basically_satisfied" | "unsatisfied";

export const RATINGS: readonly ResidentRating[] = ["satisfied", "basically_satisfied", "unsatisfied"];
export const COMMENT_MAX = 500;

const CASE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LAST4 = /^[0-9]{4}$/;

export interface Lookup {
  caseId: string;
  last4: string;
}

/** The look-up as sent: blanks removed, the case number in capitals (case numbers are printed so). */
export function normalise(l: Lookup): Lookup {
  return { caseId: l.caseId.replace(/\s+/g, "").toUpperCase(), last4: l.last4.replace(/\s+/g, "") };
}

/** The i18n key of each field's problem (``track.errors.*``); empty when the look-up may be sent. */
export function lookupErrors(l: Lookup): Partial<Record<keyof Lookup, string>> {
  const n = normalise(l);
  const out: Partial<Record<keyof Lookup, string>> = {};
  if (!n.caseId) out.caseId = "track.errors.caseIdRequired";
  else if (!CASE_ID.test(n.caseId)) out.caseId = "track.errors.caseIdFormat";
  if (!n.last4) out.last4 = "track.errors.last4Required";
  else if (!LAST4.test(n.last4)) out.last4 = "track.errors.last4Format";
  return out;
}

/** The i18n key of the rating form's problem, or ``null``. */
export function ratingError(rating: string | null, comment: string): string | null {
  if (!rating || !(RATINGS as readonly string[]).includes(rating)) return "track.rate.required";
  if (comment.trim().length > COMMENT_MAX) return "track.rate.tooLong";
  return null;
}

/** A step's time, short and local: "12月2日 09:30" / "2 Dec 09:30". */
export function stepTime(at: string, lang: Lang): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return "";
  const f = new Intl.DateTimeFormat(lang === "zh-CN" ? "zh-CN" : "en-GB", {
    timeZone: CITY_ZONE,
    month: lang === "zh-CN" ? "numeric" : "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return lang === "zh-CN" ? `${p.month}月${p.day}日 ${p.hour}:${p.minute}` : `${p.day} ${p.month} ${p.hour}:${p.minute}`;
}

/** A due date ("2026-12-02") in words: "2026年12月2日" / "2 Dec 2026". */
export function dueDate(day: string, lang: Lang): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return day;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (lang === "zh-CN") return `${y}年${mo}月${d}日`;
  const month = new Intl.DateTimeFormat("en-GB", { month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(y, mo - 1, d)));
  return `${d} ${month} ${y}`;
}

/** Whole minutes to wait, from a ``Retry-After`` of seconds (at least one). */
export function waitMinutes(retryAfter: string | null): number {
  const s = Number(retryAfter);
  return Number.isFinite(s) && s > 0 ? Math.max(1, Math.ceil(s / 60)) : 10;
}
