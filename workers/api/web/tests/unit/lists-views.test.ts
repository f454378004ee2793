import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import type { LiveNotice } from "@/lib/live";

const feed = vi.hoisted(() => ({
  handlers: new Set<(n: LiveNotice) => void>(),
  resyncs: new Set<() => void>(),
}));
vi.mock("@/lib/live", async () => {
  const { ref } = await import("vue");
  return {
    live: {
      status: ref("live"),
      on: (h: (n: LiveNotice) => void) => (feed.handlers.add(h), () => feed.handlers.delete(h)),
      onResync: (h: () => void) => (feed.resyncs.add(h), () => feed.resyncs.delete(h)),
      start: () => {},
      stop: () => {},
    },
  };
});

const api = vi.hoisted(() => ({ GET: vi.fn() }));
vi.mock("@/api/client", () => {
  class ApiError extends Error {
    status = 500;
  }
  return {
    http: { GET: api.GET },
    ok: async (p: Promise<{ data: unknown }>) => (await p).data,
    ApiError,
  };
});

import QueueView from "@/views/QueueView.vue";
import CasesView from "@/views/CasesView.vue";
import { i18n, setLocale } from "@/i18n";
import type { QueueItem, QueuePage } from "@/components/lists/rows";

function item(id: string, fields: Partial<QueueItem> = {}): QueueItem {
  return {
    case_id: id,
    status: "dispatched",
    title: `投诉 ${id}`,
    category: "noise",
    category_name: "噪音",
    street_id: "S-1",
    street_name: "锦华街道",
    grid_id: "G-1",
    grid_name: "锦华花园",
    unit: { kind: "street", id: "S-1", name: "锦华街道" },
    sla: "on_time",
    warned: false,
    breached: false,
    accepted: false,
    remaining_seconds: 3600,
    next_due_at: "2026-03-02T10:00:00Z",
    opened_at: "2026-03-01T08:00:00Z",
    next_clock: "accept",
    ...fields,
  } as QueueItem;
}

function page(items: QueueItem[], extra: Partial<QueuePage> = {}): { data: QueuePage } {
  const counts: Record<string, number> = {};
  for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
  return {
    data: { scope: "mine", as_of: "2026-03-02T09:00:00Z", items, total: items.length, counts, overdue: 0, limit: 50, offset: 0, ...extra },
  };
}

function notify(caseId: string) {
  for (const h of feed.handlers) h({ case_id: caseId, seq: 2, type: "case.dispatched", occurred_at: "" });
}

const mounted: { unmount(): void }[] = [];

async function mountView(view: unknown, path: string) {
  const router = createRouter({
    history: createMemoryHistory("/app/"),
    routes: [
      { path: "/queue", component: { template: "<div />" } },
      { path: "/cases", component: { template: "<div />" } },
      { path: "/cases/:id", component: { template: "<div />" } },
    ],
  });
  await router.push(path);
  await router.isReady();
  const w = mount(view as never, { global: { plugins: [i18n, router] }, attachTo: document.body });
  mounted.push(w);
  await flushPromises();
  return { w, router };
}

beforeEach(() => {
  api.GET.mockReset();
  feed.handlers.clear();
  feed.resyncs.clear();
  setLocale("zh-CN");
});
afterEach(() => {
  vi.useRealTimers();
  while (mounted.length) mounted.pop()!.unmount();
  document.body.innerHTML = "";
});

describe("QueueView", () => {
  it("shows the queue with counts, names and countdowns, and asks for the caller's own cases", async () => {
    api.GET.mockResolvedValue(
      page([item("C1", { sla: "breached", remaining_seconds: -720 }), item("C2", { status: "handling", sla: "warned" })], { overdue: 1 }),
    );
    const { w } = await mountView(QueueView, "/queue");
    expect(api.GET).toHaveBeenCalledWith("/queue", { params: { query: expect.objectContaining({ scope: "mine", limit: 50, offset: 0 }) } });
    const r1 = w.get('[data-testid="case-row-C1"]');
    expect(r1.attributes("data-status")).toBe("dispatched");
    expect(r1.attributes("data-sla")).toBe("breached");
    expect(r1.text()).toContain("超时 12 分钟");
    expect(r1.text()).toContain("锦华街道");
    expect(r1.text()).toContain("锦华花园");
    expect(w.get('[data-testid="case-row-C2"]').attributes("data-sla")).toBe("warned");
    expect(w.get('[data-testid="state-count-dispatched"]').attributes("data-count")).toBe("1");
    expect(w.get('[data-testid="state-count-handling"]').attributes("data-count")).toBe("1");
    expect(w.get('[data-testid="state-count-all"]').attributes("data-count")).toBe("2");
    expect(w.get('[data-testid="state-count-overdue"]').attributes("data-count")).toBe("1");
  });

  it("refetches once for a burst of notices, and shows the new case and counts", async () => {
    vi.useFakeTimers();
    api.GET.mockResolvedValueOnce(page([item("C1")]));
    const { w } = await mountView(QueueView, "/queue");
    expect(w.find('[data-testid="case-row-C9"]').exists()).toBe(false);
    api.GET.mockResolvedValue(page([item("C1"), item("C9")]));
    notify("C9");
    notify("C9");
    notify("C1");
    await vi.advanceTimersByTimeAsync(299);
    expect(api.GET).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await flushPromises();
    expect(api.GET).toHaveBeenCalledTimes(2);
    expect(w.find('[data-testid="case-row-C9"]').exists()).toBe(true);
    expect(w.get('[data-testid="case-row-C9"]').classes()).toContain("fresh");
    expect(w.get('[data-testid="state-count-dispatched"]').attributes("data-count")).toBe("2");
  });

  it("reloads when the feed comes back", async () => {
    api.GET.mockResolvedValue(page([item("C1")]));
    await mountView(QueueView, "/queue");
    for (const h of feed.resyncs) h();
    await flushPromises();
    expect(api.GET).toHaveBeenCalledTimes(2);
  });

  it("filters by a status when its count is pressed", async () => {
    api.GET.mockResolvedValue(page([item("C1"), item("C2", { status: "handling" })]));
    const { w, router } = await mountView(QueueView, "/queue");
    await w.get('[data-testid="state-count-handling"]').trigger("click");
    await flushPromises();
    expect(api.GET).toHaveBeenLastCalledWith("/queue", { params: { query: expect.objectContaining({ state: "handling" }) } });
    expect(router.currentRoute.value.query.state).toBe("handling");
  });

  it("opens a case when its row is clicked", async () => {
    api.GET.mockResolvedValue(page([item("C1")]));
    const { w, router } = await mountView(QueueView, "/queue");
    await w.get('[data-testid="case-row-C1"]').trigger("click");
    await flushPromises();
    expect(router.currentRoute.value.path).toBe("/cases/C1");
  });

  it("says so when the queue is empty", async () => {
    api.GET.mockResolvedValue(page([]));
    const { w } = await mountView(QueueView, "/queue");
    expect(w.get('[data-testid="rows-empty"]').text()).toBe("暂无待办工单");
  });
});

describe("CasesView", () => {
  function registry(url: string) {
    if (url === "/registry/units") return Promise.resolve({ data: { items: [] } });
    if (url === "/registry/categories") return Promise.resolve({ data: { items: [] } });
    return null;
  }

  it("loads every page of the jurisdiction, filters by text and refreshes notified rows", async () => {
    vi.useFakeTimers();
    const many = Array.from({ length: 1000 }, (_, i) => item(`CA${String(i).padStart(4, "0")}`, { title: i % 2 ? "路灯不亮" : "噪音扰民" }));
    const rest = [item("CB0001", { title: "井盖缺失", street_name: "东湖街道" })];
    api.GET.mockImplementation((url: string, opts: { params: { query: Record<string, unknown> } }) => {
      const reg = registry(url);
      if (reg) return reg;
      const q = opts.params.query;
      if (q.case_id) return Promise.resolve(page([item("CB0001", { status: "handling", title: "井盖缺失", street_name: "东湖街道" })]));
      return Promise.resolve(page(q.offset === 0 ? many : rest, { total: 1001, counts: { dispatched: 1001 } }));
    });
    const { w } = await mountView(CasesView, "/cases");
    const calls = api.GET.mock.calls.filter((c) => c[0] === "/queue");
    expect(calls.map((c) => c[1].params.query.offset)).toEqual([0, 1000]);
    expect(calls[0][1].params.query).toMatchObject({ scope: "jurisdiction", open_only: "true", limit: 1000 });
    expect(w.get('[data-testid="cases-shown"]').attributes("data-loaded")).toBe("1001");
    expect(w.findAll('[data-testid^="case-row-"]')).toHaveLength(50); // one page rendered

    const input = w.get('[data-testid="cases-filter"]');
    await input.setValue("井盖 东湖");
    await flushPromises();
    expect(w.get('[data-testid="cases-shown"]').attributes("data-shown")).toBe("1");
    expect(w.find('[data-testid="case-row-CB0001"]').exists()).toBe(true);
    expect(typeof window.__gridcaseFilterMs).toBe("number");

    await input.setValue("扰民");
    await flushPromises();
    expect(w.get('[data-testid="cases-shown"]').attributes("data-shown")).toBe("500");

    await input.setValue("井盖");
    notify("CB0001");
    await vi.advanceTimersByTimeAsync(400);
    await flushPromises();
    const refresh = api.GET.mock.calls.find((c) => c[0] === "/queue" && c[1].params.query.case_id);
    expect(refresh?.[1].params.query.case_id).toEqual(["CB0001"]);
    expect(w.get('[data-testid="case-row-CB0001"]').attributes("data-status")).toBe("handling");
    expect(w.get('[data-testid="state-count-handling"]').attributes("data-count")).toBe("1");
    expect(w.get('[data-testid="state-count-dispatched"]').attributes("data-count")).toBe("1000");
  }, 20_000); // a thousand rows to index on a busy machine

  it("sends the server-side filters", async () => {
    api.GET.mockImplementation((url: string) => registry(url) ?? Promise.resolve(page([item("C1")])));
    const { w } = await mountView(CasesView, "/cases");
    await w.get('[data-testid="cases-filter-state"]').setValue("handling");
    await w.get('[data-testid="cases-filter-breached"]').setValue("true");
    await w.get('[data-testid="cases-filter-open"]').setValue(false);
    await flushPromises();
    expect(api.GET).toHaveBeenLastCalledWith("/queue", {
      params: { query: expect.objectContaining({ state: "handling", breached: "true", open_only: "false", offset: 0 }) },
    });
  });
});
