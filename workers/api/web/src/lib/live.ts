/**
 * The live feed: case notices from the API's server-sent events (``GET /events``).
 *
 * ``EventSource`` cannot send the ``Authorization`` header, so the stream is read with ``fetch`` and
 * parsed here ({@link SseParser}, a pure parser of the ``text/event-stream`` format). The server sends
 * a ``ready`` event first, then one ``case`` event per case event in the caller's jurisdiction, with a
 * small notice ({@link LiveNotice}); pages fetch the case itself when a notice concerns them.
 *
 * A lost connection is retried with a growing delay (1 s, 2 s, 4 s … 30 s); ``status`` is
 * ``offline`` while it is down and ``live`` again once the server's ``ready`` arrives. Pages that
 * keep lists should refetch on {@link Live.onResync}: notices sent while the connection was down
 * are not replayed. A 401 ends the session; clearing the token (logout) stops the feed.
 */
import { ref, watch, type Ref } from "vue";
import { session } from "@/lib/session";

// --- the text/event-stream format ----------------------------------------------------------------

/** One dispatched server-sent event. */
export interface SseEvent {
  /** The ``event:`` field, ``message`` when absent. */
  event: string;
  /** The ``data:`` lines joined by ``\n``. */
  data: string;
  /** The last ``id:`` seen on the stream (it persists across events, as in the standard). */
  id: string;
  /** The ``retry:`` field of this event, in milliseconds, when it carried one. */
  retry?: number;
}

/**
 * An incremental parser of the ``text/event-stream`` format (WHATWG HTML, "server-sent events"):
 * lines end with LF, CR or CRLF (a CR at the end of one chunk and an LF at the start of the next
 * are one line end); ``:`` starts a comment; a blank line dispatches the event; an event without
 * data is not dispatched. Feed it decoded text in chunks of any size.
 */
export class SseParser {
  private buffer = "";
  private pendingCr = false;
  private eventType = "";
  private data: string[] = [];
  private hasData = false;
  private lastId = "";
  private retry: number | undefined;

  /** Parse one chunk; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let text = chunk;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith("\n")) text = text.slice(1);
    }
    if (this.buffer === "" && this.data.length === 0 && !this.hasData && text.charCodeAt(0) === 0xfeff) {
      text = text.slice(1); // a byte order mark at the start of the stream
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = "";
      if (ch === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      const event = this.line(line);
      if (event) out.push(event);
    }
    this.buffer += text.slice(start);
    return out;
  }

  /** Forget a half-received event (the stream ended or is being reopened). */
  reset(): void {
    this.buffer = "";
    this.pendingCr = false;
    this.eventType = "";
    this.data = [];
    this.hasData = false;
    this.retry = undefined;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const event: SseEvent = { event: this.eventType || "message", data: this.data.join("\n"), id: this.lastId };
    if (this.retry !== undefined) event.retry = this.retry;
    const had = this.hasData;
    this.eventType = "";
    this.data = [];
    this.hasData = false;
    this.retry = undefined;
    return had ? event : null;
  }
}

/** Parse a whole stream at once (chunks as they arrived); convenient for tests and tools. */
export function parseSse(chunks: string | string[]): SseEvent[] {
  const parser = new SseParser();
  return (typeof chunks === "string" ? [chunks] : chunks).flatMap((c) => parser.push(c));
}

// --- notices -------------------------------------------------------------------------------------

/** The notice of one case event (no personal data; fetch the case for the rest). */
export interface LiveNotice {
  case_id: string;
  seq: number;
  event_id?: string;
  /** The event's type, e.g. ``case.dispatched``, ``sla.breached``. */
  type: string;
  occurred_at: string;
  /** The unit the event is about, as a key (``street:S-1``), when it has one. */
  unit?: string;
  /** The SLA clock's kind, for clock events. */
  clock_kind?: string;
}

/** A notice from the text of a ``case`` event, or ``null`` when it is not one. */
export function toNotice(data: string): LiveNotice | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.case_id !== "string" || typeof o.type !== "string") return null;
  return {
    case_id: o.case_id,
    seq: typeof o.seq === "number" ? o.seq : Number(o.seq ?? 0),
    event_id: typeof o.event_id === "string" ? o.event_id : undefined,
    type: o.type,
    occurred_at: typeof o.occurred_at === "string" ? o.occurred_at : "",
    unit: typeof o.unit === "string" ? o.unit : undefined,
    clock_kind: typeof o.clock_kind === "string" ? o.clock_kind : undefined,
  };
}

// --- the connection ------------------------------------------------------------------------------

export type LiveStatus = "connecting" | "live" | "offline";

export interface Live {
  /** ``connecting`` before the first ``ready``; ``live`` while connected; ``offline`` while down or stopped. */
  status: Ref<LiveStatus>;
  /** Call ``handler`` with every notice; returns the function that stops it. */
  on(handler: (notice: LiveNotice) => void): () => void;
  /** Call ``handler`` when the feed is live again after a lost connection (notices may have been
   *  missed meanwhile: refetch what is shown). Returns the function that stops it. */
  onResync(handler: () => void): () => void;
  /** Open the stream (no-op when already open or without a token). */
  start(): void;
  /** Close the stream and stop reconnecting. */
  stop(): void;
}

export interface LiveOptions {
  url?: string;
  fetch?: typeof fetch;
  token?: () => string;
  /** The API refused the token (401). */
  expired?: () => void;
  /** First delay before reconnecting, in ms (doubled after each failure). */
  minDelay?: number;
  maxDelay?: number;
  /** Without a byte for this long (the server pings every 15 s) the connection counts as lost. */
  idleTimeout?: number;
}

/** The reconnect delay after ``failures`` consecutive failures: min·2^(n-1), capped at max. */
export function backoff(failures: number, minDelay = 1000, maxDelay = 30_000): number {
  return Math.min(maxDelay, minDelay * 2 ** Math.max(0, failures - 1));
}

/** A live feed (the app uses the one {@link live}; tests build their own with fakes). */
export function createLive(options: LiveOptions = {}): Live {
  const url = options.url ?? "/events";
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const token = options.token ?? (() => session.token.value);
  const expired = options.expired ?? (() => session.expired());
  const minDelay = options.minDelay ?? 1000;
  const maxDelay = options.maxDelay ?? 30_000;
  const idleTimeout = options.idleTimeout ?? 45_000;

  const status = ref<LiveStatus>("offline");
  const handlers = new Set<(n: LiveNotice) => void>();
  const resyncs = new Set<() => void>();
  let running = false;
  let generation = 0; // bumps on every (re)connect and stop: late callbacks of an old one are ignored
  let abort: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;
  let wasLive = false; // the feed has been live before: the next "ready" is a resync

  function emit<T>(set: Set<(x: T) => void>, value: T): void {
    for (const h of [...set]) {
      try {
        h(value);
      } catch (err) {
        console.error("live handler failed", err);
      }
    }
  }

  function clearTimers(): void {
    if (retryTimer !== null) clearTimeout(retryTimer);
    if (idleTimer !== null) clearTimeout(idleTimer);
    retryTimer = idleTimer = null;
  }

  function lost(gen: number): void {
    if (gen !== generation || !running) return;
    generation++;
    abort?.abort();
    abort = null;
    clearTimers();
    status.value = "offline";
    failures++;
    const gen2 = generation;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (gen2 === generation && running) void connect();
    }, backoff(failures, minDelay, maxDelay));
  }

  function halt(): void {
    running = false;
    generation++;
    abort?.abort();
    abort = null;
    clearTimers();
    status.value = "offline";
  }

  function armIdle(gen: number): void {
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => lost(gen), idleTimeout);
  }

  async function connect(): Promise<void> {
    const gen = ++generation;
    const tok = token();
    if (!tok) {
      halt();
      return;
    }
    if (failures === 0) status.value = "connecting"; // after a failure it stays offline until "ready"
    const ctrl = new AbortController();
    abort = ctrl;
    armIdle(gen);
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: { Authorization: `Bearer ${tok}`, Accept: "text/event-stream" },
        signal: ctrl.signal,
        cache: "no-store",
      });
    } catch {
      lost(gen);
      return;
    }
    if (gen !== generation) return;
    if (response.status === 401) {
      halt();
      expired();
      return;
    }
    if (response.status === 403) {
      halt(); // this role has no live feed; retrying would not change that
      return;
    }
    if (!response.ok || !response.body) {
      lost(gen);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (gen !== generation) return;
        if (done) break;
        armIdle(gen);
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
          if (gen !== generation) return;
          handle(gen, ev);
        }
      }
    } catch {
      /* the connection broke (or was aborted) */
    } finally {
      reader.releaseLock?.();
    }
    lost(gen);
  }

  function handle(gen: number, ev: SseEvent): void {
    if (ev.event === "ready") {
      let healthy = true;
      try {
        healthy = (JSON.parse(ev.data) as { live?: boolean }).live !== false;
      } catch {
        /* a ready without a body still means connected */
      }
      if (!healthy) {
        // the API cannot read the event bus now: nothing would arrive, so come back later
        lost(gen);
        return;
      }
      failures = 0;
      status.value = "live";
      if (wasLive) emit(resyncs, undefined);
      wasLive = true;
      return;
    }
    if (ev.event !== "case") return;
    const n = toNotice(ev.data);
    if (n) emit(handlers, n);
  }

  return {
    status,
    on(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    onResync(handler) {
      resyncs.add(handler);
      return () => resyncs.delete(handler);
    },
    start() {
      if (running || !token()) return;
      running = true;
      failures = 0;
      void connect();
    },
    stop() {
      halt();
      wasLive = false;
    },
  };
}

/** The workspace's live feed. The shell starts it after login; logout (token cleared) stops it. */
export const live: Live = createLive();

watch(session.token, (value) => {
  if (!value) live.stop();
});
