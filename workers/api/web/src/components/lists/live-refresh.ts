/**
 * Lists that follow the live feed: notices are collected and handed over in batches, at most one
 * batch per ``delay`` (debounced, but never held longer than ``maxWait`` while notices keep coming),
 * and a reconnected feed asks for a full reload (notices sent while it was down are not replayed).
 */
import { onBeforeUnmount, onMounted, ref, type Ref } from "vue";
import { live, type Live, type LiveNotice } from "@/lib/live";

export interface Batcher {
  /** Add a notice; the batch is handed over after the quiet delay (or ``maxWait``). */
  push(notice: LiveNotice): void;
  /** Hand the pending batch over now. */
  flush(): void;
  /** Drop the pending batch and its timers. */
  cancel(): void;
}

/** Collects case ids and calls ``handle`` with them after ``delay`` ms of quiet, or ``maxWait`` ms
 *  after the first one at the latest. */
export function batcher(handle: (caseIds: string[]) => void, delay = 300, maxWait = 2000): Batcher {
  let pending = new Set<string>();
  let quiet: ReturnType<typeof setTimeout> | null = null;
  let cap: ReturnType<typeof setTimeout> | null = null;
  const clear = () => {
    if (quiet !== null) clearTimeout(quiet);
    if (cap !== null) clearTimeout(cap);
    quiet = cap = null;
  };
  const flush = () => {
    clear();
    if (pending.size === 0) return;
    const ids = [...pending];
    pending = new Set();
    handle(ids);
  };
  return {
    push(notice) {
      pending.add(notice.case_id);
      if (quiet !== null) clearTimeout(quiet);
      quiet = setTimeout(flush, delay);
      if (cap === null) cap = setTimeout(flush, maxWait);
    },
    flush,
    cancel() {
      clear();
      pending = new Set();
    },
  };
}

/** While the component is mounted: ``onCases`` with batches of notified case ids, ``onResync``
 *  after the feed came back. Returns the count of notices seen (for tests and diagnostics). */
export function useLiveRefresh(
  onCases: (caseIds: string[]) => void,
  onResync: () => void,
  options: { delay?: number; maxWait?: number; feed?: Live } = {},
): Ref<number> {
  const feed = options.feed ?? live;
  const seen = ref(0);
  const b = batcher(onCases, options.delay, options.maxWait);
  const offs: Array<() => void> = [];
  onMounted(() => {
    offs.push(
      feed.on((n) => {
        seen.value++;
        b.push(n);
      }),
      feed.onResync(() => {
        b.cancel();
        onResync();
      }),
    );
  });
  onBeforeUnmount(() => {
    for (const off of offs) off();
    b.cancel();
  });
  return seen;
}

/** A clock for countdowns: ``now`` (ms) advances every ``period`` ms while the component is mounted. */
export function useNow(period = 1000): Ref<number> {
  const now = ref(Date.now());
  let timer: ReturnType<typeof setInterval> | null = null;
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), period);
  });
  onBeforeUnmount(() => {
    if (timer !== null) clearInterval(timer);
  });
  return now;
}

/** Whether the viewport is narrow (phones): lists show cards instead of a table. */
export function useNarrow(query = "(max-width: 720px)"): Ref<boolean> {
  const mq = typeof window !== "undefined" && window.matchMedia ? window.matchMedia(query) : null;
  const narrow = ref(mq?.matches ?? false);
  const update = (e: MediaQueryListEvent) => (narrow.value = e.matches);
  onMounted(() => mq?.addEventListener?.("change", update));
  onBeforeUnmount(() => mq?.removeEventListener?.("change", update));
  return narrow;
}
