/**
 * Client-side text filtering of loaded lists (thousands of rows, on every keystroke).
 *
 * Each row gets one search key when it is loaded: the texts it can be found by (ids, names, title,
 * status words…), normalised ({@link normalize}: NFKC, so full-width letters and digits match their
 * ASCII forms, then lower case) and joined by a separator no query contains. A query is split on
 * blanks into terms; a row matches when its key contains every term. Filtering is then one
 * ``String.includes`` per term and row, with no allocation per row.
 */

/** Joins the parts of a key: a query never contains it, so no term matches across two parts. */
const SEP = "\u0001";

/** A text as keys and queries are compared: NFKC (full-width → ASCII forms), lower case, trimmed. */
export function normalize(text: string): string {
  return text.normalize("NFKC").toLowerCase().trim();
}

/** The search key of one row from its searchable parts (empty and missing parts are skipped). */
export function searchKey(parts: ReadonlyArray<string | number | null | undefined>): string {
  let key = "";
  for (const p of parts) {
    if (p === null || p === undefined || p === "") continue;
    key += SEP + normalize(String(p));
  }
  return key;
}

/** The terms of a query: its blank-separated words, normalised; duplicates and separators dropped. */
export function terms(query: string): string[] {
  const out: string[] = [];
  for (const word of normalize(query).split(/\s+/u)) {
    const w = word.replaceAll(SEP, "");
    if (w && !out.includes(w)) out.push(w);
  }
  // a term contained in another one is implied by it: test the longer only
  return out.filter((t) => !out.some((o) => o !== t && o.includes(t)));
}

/** A row with its precomputed key. */
export interface Indexed<T> {
  row: T;
  key: string;
}

/** Keys for every row (do this once per load, not per keystroke). */
export function buildIndex<T>(
  rows: readonly T[],
  parts: (row: T) => ReadonlyArray<string | number | null | undefined>,
): Indexed<T>[] {
  return rows.map((row) => ({ row, key: searchKey(parts(row)) }));
}

/** The rows whose key contains every term of ``query``, in their order (an empty query: all). */
export function filterIndex<T>(index: readonly Indexed<T>[], query: string): T[] {
  const ts = terms(query);
  const out: T[] = [];
  if (ts.length === 0) {
    for (const e of index) out.push(e.row);
    return out;
  }
  outer: for (const e of index) {
    for (const t of ts) if (!e.key.includes(t)) continue outer;
    out.push(e.row);
  }
  return out;
}
