import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoff, createLive, type LiveNotice } from "@/lib/live";

/** A fake ``GET /events`` response whose body the test writes to. */
class FakeStream {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly body = new ReadableStream<Uint8Array>({ start: (c) => void (this.controller = c) });
  send(text: string): void {
    this.controller.enqueue(new TextEncoder().encode(text));
  }
  end(): void {
    this.controller.close();
  }
  fail(): void {
    this.controller.error(new TypeError("network error"));
  }
}

type Reply = { status: number; stream?: FakeStream } | "network-error";

/** A fake fetch answering each call with the next reply (the last one repeats). */
function fakeFetch(replies: Reply[]) {
  const calls: { url: string; auth: string | null; signal: AbortSignal | undefined }[] = [];
  const fn = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    calls.push({ url: String(url), auth: headers.get("Authorization"), signal: init?.signal ?? undefined });
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
    if (reply === "network-error") throw new TypeError("Failed to fetch");
    return { status: reply.status, ok: reply.status >= 200 && reply.status < 300, body: reply.stream?.body ?? null } as Response;
  });
  return { fn, calls };
}

const READY = 'event: ready\ndata: {"live": true}\n\n';
const notice = (id: string, seq = 1) =>
  `event: case\ndata: ${JSON.stringify({ case_id: id, seq, type: "case.dispatched", occurred_at: "2026-11-26T02:00:00Z" })}\n\n`;

const flush = () => vi.advanceTimersByTimeAsync(0);

describe("backoff", () => {
  it("doubles from the first delay up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoff(n))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(backoff(0)).toBe(1000);
    expect(backoff(3, 500, 1500)).toBe(1500);
  });
});

describe("live connection", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("connects with the token, goes live on ready and hands out notices", async () => {
    const s = new FakeStream();
    const { fn, calls } = fakeFetch([{ status: 200, stream: s }]);
    const live = createLive({ fetch: fn, token: () => "tok-1", expired: vi.fn() });
    const got: LiveNotice[] = [];
    live.on((n) => got.push(n));
    expect(live.status.value).toBe("offline");
    live.start();
    expect(live.status.value).toBe("connecting");
    await flush();
    expect(calls[0].url).toBe("/events");
    expect(calls[0].auth).toBe("Bearer tok-1");
    expect(live.status.value).toBe("connecting");
    s.send(READY);
    await flush();
    expect(live.status.value).toBe("live");
    s.send(notice("C-1") + ": ping\n\n" + notice("C-2").slice(0, 20));
    await flush();
    expect(got.map((n) => n.case_id)).toEqual(["C-1"]);
    s.send(notice("C-2").slice(20));
    await flush();
    expect(got.map((n) => n.case_id)).toEqual(["C-1", "C-2"]);
    live.stop();
  });

  it("goes offline when the stream ends, reconnects with backoff, and resyncs once live", async () => {
    const streams = [new FakeStream(), new FakeStream(), new FakeStream()];
    const { fn, calls } = fakeFetch([
      { status: 200, stream: streams[0] },
      "network-error",
      { status: 503 },
      { status: 200, stream: streams[1] },
    ]);
    const live = createLive({ fetch: fn, token: () => "t", expired: vi.fn() });
    const resync = vi.fn();
    live.onResync(resync);
    live.start();
    await flush();
    streams[0].send(READY);
    await flush();
    expect(live.status.value).toBe("live");
    expect(resync).not.toHaveBeenCalled();

    streams[0].end(); // the server went away
    await flush();
    expect(live.status.value).toBe("offline");
    expect(calls).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 1 s: network error
    expect(calls).toHaveLength(2);
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 2 s more: 503
    expect(calls).toHaveLength(3);
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(4000); // 4 s more: connected
    expect(calls).toHaveLength(4);
    expect(live.status.value).toBe("offline"); // not live before the server's ready
    streams[1].send(READY);
    await flush();
    expect(live.status.value).toBe("live");
    expect(resync).toHaveBeenCalledTimes(1);

    // after a success the delays start again from 1 s
    streams[1].fail();
    await flush();
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(5);
    live.stop();
  });

  it("treats a silent connection as lost", async () => {
    const s = new FakeStream();
    const { fn, calls } = fakeFetch([{ status: 200, stream: s }]);
    const live = createLive({ fetch: fn, token: () => "t", expired: vi.fn(), idleTimeout: 10_000 });
    live.start();
    await flush();
    s.send(READY);
    await flush();
    await vi.advanceTimersByTimeAsync(9000);
    s.send(": ping\n\n");
    await vi.advanceTimersByTimeAsync(9000);
    expect(live.status.value).toBe("live");
    await vi.advanceTimersByTimeAsync(1000);
    expect(live.status.value).toBe("offline");
    expect(calls[0].signal?.aborted).toBe(true);
    live.stop();
  });

  it("does not count a ready without the event bus as live", async () => {
    const s1 = new FakeStream();
    const s2 = new FakeStream();
    const { fn, calls } = fakeFetch([
      { status: 200, stream: s1 },
      { status: 200, stream: s2 },
    ]);
    const live = createLive({ fetch: fn, token: () => "t", expired: vi.fn() });
    live.start();
    await flush();
    s1.send('event: ready\ndata: {"live": false}\n\n');
    await flush();
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(2);
    s2.send(READY);
    await flush();
    expect(live.status.value).toBe("live");
    live.stop();
  });

  it("ends the session on 401 and does not retry", async () => {
    const { fn, calls } = fakeFetch([{ status: 401 }]);
    const expired = vi.fn();
    const live = createLive({ fetch: fn, token: () => "old", expired });
    live.start();
    await flush();
    expect(expired).toHaveBeenCalledTimes(1);
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toHaveLength(1);
  });

  it("gives up on 403 (a role without a live feed)", async () => {
    const { fn, calls } = fakeFetch([{ status: 403 }]);
    const expired = vi.fn();
    const live = createLive({ fetch: fn, token: () => "t", expired });
    live.start();
    await flush();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toHaveLength(1);
    expect(expired).not.toHaveBeenCalled();
    expect(live.status.value).toBe("offline");
  });

  it("stop closes the stream, cancels a pending retry and ignores late data", async () => {
    const s = new FakeStream();
    const { fn, calls } = fakeFetch([{ status: 200, stream: s }, "network-error"]);
    const live = createLive({ fetch: fn, token: () => "t", expired: vi.fn() });
    const got = vi.fn();
    live.on(got);
    live.start();
    live.start(); // idempotent
    await flush();
    expect(calls).toHaveLength(1);
    s.send(READY);
    await flush();
    live.stop();
    expect(calls[0].signal?.aborted).toBe(true);
    expect(live.status.value).toBe("offline");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(got).not.toHaveBeenCalled();
  });

  it("does not start without a token, and stops when the token is gone", async () => {
    let token = "";
    const s = new FakeStream();
    const { fn, calls } = fakeFetch([{ status: 200, stream: s }, { status: 200, stream: new FakeStream() }]);
    const live = createLive({ fetch: fn, token: () => token, expired: vi.fn() });
    live.start();
    await flush();
    expect(calls).toHaveLength(0);
    token = "t";
    live.start();
    await flush();
    s.send(READY);
    await flush();
    token = ""; // logged out while connected: the next reconnect does not happen
    s.end();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(live.status.value).toBe("offline");
  });

  it("unsubscribes handlers and survives a failing one", async () => {
    const s = new FakeStream();
    const { fn } = fakeFetch([{ status: 200, stream: s }]);
    const live = createLive({ fetch: fn, token: () => "t", expired: vi.fn() });
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const bad = vi.fn(() => {
      throw new Error("boom");
    });
    const good = vi.fn();
    live.on(bad);
    const off = live.on(good);
    live.start();
    await flush();
    s.send(READY + notice("C-1"));
    await flush();
    expect(good).toHaveBeenCalledTimes(1);
    off();
    s.send(notice("C-2", 2));
    await flush();
    expect(good).toHaveBeenCalledTimes(1);
    expect(bad).toHaveBeenCalledTimes(2);
    spy.mockRestore();
    live.stop();
  });
});
