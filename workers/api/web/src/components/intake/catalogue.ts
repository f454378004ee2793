/**
 * The complaint catalogue as the intake form offers it: searchable by Chinese name, English name,
 * code or group, best match first.
 */
import type { components } from "@/api/schema";

export type CategoryItem = components["schemas"]["CategoryItem"];

function fold(text: string): string {
  return text.normalize("NFKC").trim().toLowerCase();
}

/** How well ``query`` matches a category: 0 exact code or name, 1 a prefix, 2 contained, 3 in its
 *  group only; ``null``: no match. An empty query matches everything (3). */
export function categoryRank(c: CategoryItem, query: string): number | null {
  const q = fold(query);
  if (!q) return 3;
  const names = [c.code, c.name_zh, c.name].map(fold);
  if (names.includes(q)) return 0;
  if (names.some((n) => n.startsWith(q))) return 1;
  if (names.some((n) => n.includes(q))) return 2;
  if (c.group && fold(c.group).includes(q)) return 3;
  return null;
}

/** The categories matching ``query``, best match first (the catalogue's order among equals). */
export function filterCategories(items: readonly CategoryItem[], query: string): CategoryItem[] {
  return items
    .map((c, i) => ({ c, i, r: categoryRank(c, query) }))
    .filter((x): x is { c: CategoryItem; i: number; r: number } => x.r !== null)
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.c);
}
