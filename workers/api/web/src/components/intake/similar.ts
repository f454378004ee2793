/**
 * The similar-case lookup while a call is typed: debounced, skipped when nothing it depends on
 * changed, and never showing an older answer over a newer one.
 */

export interface SimilarQuery {
  grid_id: string;
  category: string;
  text: string;
}

/** A query worth sending: a grid and a category chosen (the text may be empty). */
export function ready(q: Partial<SimilarQuery> | null | undefined): q is SimilarQuery {
  return !!q && !!q.grid_id && !!q.category;
}

export interface LookupOptions<Q, R> {
  /** Milliseconds to wait after the last change. */
  delay: number;
  /** The request; ``signal`` aborts it when a newer query supersedes it. */
  fetch: (q: Q, signal: AbortSignal) => Promise<R>;
  /** A newer answer (never called for a superseded query). */
  onResult: (result: R, q: Q) => void;
  /** Called when the query is cleared (``schedule(null)``). */
  onClear?: () => void;
  onError?: (err: unknown, q: Q) => void;
  /** Identity of a query: the same key as the last one sent is not sent again. */
  key?: (q: Q) => string;
}

export interface Lookup<Q> {
  /** Ask for ``q`` after the delay (``null``: nothing to ask; clear the answer). */
  schedule(q: Q | null): void;
  /** Send the pending query now. */
  flush(): void;
  /** Drop the pending query and ignore any answer still on its way. */
  cancel(): void;
  /** Forget the last key sent, so the next query is sent even when unchanged. */
  invalidate(): void;
}

export function debouncedLookup<Q, R>(opts: LookupOptions<Q, R>): Lookup<Q> {
  const keyOf = opts.key ?? ((q: Q) => JSON.stringify(q));
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: Q | null = null;
  let lastKey: string | null = null;
  let generation = 0;
  let inflight: AbortController | null = null;

  function stopTimer(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  function abort(): void {
    generation += 1;
    inflight?.abort();
    inflight = null;
  }

  function send(): void {
    stopTimer();
    const q = pending;
    pending = null;
    if (q === null) return;
    const key = keyOf(q);
    if (key === lastKey) return;
    abort();
    lastKey = key;
    const mine = generation;
    const controller = new AbortController();
    inflight = controller;
    opts.fetch(q, controller.signal).then(
      (result) => {
        if (mine === generation) opts.onResult(result, q);
      },
      (err: unknown) => {
        if (mine !== generation) return;
        lastKey = null; // a failed query may be asked again
        opts.onError?.(err, q);
      },
    );
  }

  return {
    schedule(q) {
      stopTimer();
      if (q === null) {
        pending = null;
        lastKey = null;
        abort();
        opts.onClear?.();
        return;
      }
      pending = q;
      timer = setTimeout(send, opts.delay);
    },
    flush: send,
    cancel() {
      stopTimer();
      pending = null;
      lastKey = null;
      abort();
    },
    invalidate() {
      lastKey = null;
    },
  };
}
