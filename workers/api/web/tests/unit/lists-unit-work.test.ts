import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import type { LiveNotice } from "@/lib/live";

vi.mock("@/lib/live", async () => {
  const { ref } = await import("vue");
  return {
    live: {
      status: ref("live"),
      on: (_h: (n: LiveNotice) => void) => () => {},
      onResync: (_h: () => void) => () => {},
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
import { session, type Me } from "@/lib/session";
import { callerUnit } from "@/lib/unit";
import { rowKey, type QueueItem, type QueuePage } from "@/components/lists/rows";

const STREET_USER: Me = { person_id: "st-1", role: "street", unit_id: "S-1", name: "王芳", via: "token", sees_personal_data: false };

function item(id: string, fields: Partial<QueueItem> = {}): QueueItem {
  return {
    case_id: id,
    status: "handling",
    title: `投诉 ${id}`,
    category: "noise",
    category_name: "噪音",
    street_id: "S-1",
    street_name: "锦华街道",
    unit: { kind: "street", id: "S-1", name: "锦华街道" },
    sla: "on_time",
    warned: false,
    breached: false,
    accepted: true,
    remaining_seconds: 3600,
    next_due_at: "2026-03-02T10:00:00Z",
    opened_at: "2026-03-01T08:00:00Z",
    ...fields,
  } as QueueItem;
}

function page(items: QueueItem[]): QueuePage {
  const counts: Record<string, number> = {};
  for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
  return { scope: "mine", as_of: "2026-03-02T09:00:00Z", items, total: items.length, counts, overdue: 0, limit: 50, offset: 0 } as QueuePage;
}

const LOAD = {
  unit: { kind: "street", id: "S-1", name: "锦华街道" },
  scope: "unit",
  period: "2026-03",
  since: "2026-02-28T16:00:00Z",
  until: "2026-03-31T16:00:00Z",
  as_of: "2026-03-02T09:00:00Z",
  total: { open: 5, warned: 1, breached: 1, overdue: 1 },
  resolved: 3,
  unassigned: { open: 2, warned: 0, breached: 0, overdue: 1 },
  handlers: [
    { handler_id: "st-1", handler_name: "王芳", member: true, open: 2, warned: 1, breached: 1, overdue: 0, resolved: 2 },
    { handler_id: "st-9", handler_name: null, member: false, open: 1, warned: 0, breached: 0, overdue: 0, resolved: 1 },
  ],
  sections: [],
};

/** The API: the queue (``rows``), the unit's sections, its load, and the registry lists. */
function answer(rows: QueueItem[]) {
  return (path: string) => {
    if (path === "/queue") return Promise.resolve({ data: page(rows) });
    if (path === "/registry/sections") return Promise.resolve({ data: { unit: LOAD.unit, items: [{ id: "S-1.city", name: "城管科" }] } });
    if (path === "/units/{kind}/{unit_id}/load") return Promise.resolve({ data: LOAD });
    return Promise.resolve({ data: { items: [] } });
  };
}

const queueCalls = () => api.GET.mock.calls.filter((c) => c[0] === "/queue").map((c) => c[1].params.query as Record<string, unknown>);

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
  setLocale("zh-CN");
  session.me.value = STREET_USER;
});
afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
  session.me.value = null;
  document.body.innerHTML = "";
});

describe("the caller's unit", () => {
  it("is the unit of a street, grid or department user, and nobody else's", () => {
    expect(callerUnit(STREET_USER)).toEqual({ kind: "street", id: "S-1" });
    expect(callerUnit({ role: "grid_worker", unit_id: "G-1" })).toEqual({ kind: "grid", id: "G-1" });
    expect(callerUnit({ role: "department", unit_id: "water" })).toEqual({ kind: "department", id: "water" });
    expect(callerUnit({ role: "dispatcher", unit_id: null })).toBeNull();
    expect(callerUnit({ role: "community", unit_id: "CM-1" })).toBeNull();
    expect(callerUnit({ role: "street", unit_id: null })).toBeNull();
    expect(callerUnit(null)).toBeNull();
  });
});

describe("rows inside a unit", () => {
  it("show the handler by name (else id) and the section by name (else id)", async () => {
    api.GET.mockImplementation(
      answer([
        item("C1", { handler_id: "st-1", handler_name: "王芳", section_id: "S-1.city" }),
        item("C2", { handler_id: "st-9", handler_name: null, section_id: "S-1.other" }),
        item("C3"),
      ]),
    );
    const { w } = await mountView(QueueView, "/queue");
    expect(w.get('[data-testid="case-work-C1"]').text()).toBe("承办人：王芳 · 科室：城管科");
    expect(w.get('[data-testid="case-work-C2"]').text()).toBe("承办人：st-9 · 科室：S-1.other");
    expect(w.find('[data-testid="case-work-C3"]').exists()).toBe(false); // with nobody inside the unit yet
  });

  it("are found by their handler and section in the text filter", () => {
    const key = rowKey(item("C1", { handler_id: "st-1", handler_name: "王芳", section_id: "S-1.city" }), { status: (s) => s, sla: (s) => s });
    expect(key).toContain("王芳");
    expect(key).toContain("st-1");
    expect(key).toContain("s-1.city");
  });
});

describe("QueueView for the users of a unit", () => {
  it("keeps the caller's own cases with 我承办的, in the address", async () => {
    api.GET.mockImplementation(answer([item("C1")]));
    const { w, router } = await mountView(QueueView, "/queue");
    expect(queueCalls()[0].handler).toBeUndefined();
    const toggle = w.get('[data-testid="queue-filter-mine"]');
    expect(w.get('label[for="queue-mine"]').text()).toBe("我承办的");
    await toggle.setValue(true);
    await flushPromises();
    expect(queueCalls().at(-1)).toMatchObject({ scope: "mine", handler: "me", offset: 0 });
    expect(router.currentRoute.value.query.handler).toBe("me");
    await toggle.setValue(false);
    await flushPromises();
    expect(queueCalls().at(-1)?.handler).toBeUndefined();
    expect(router.currentRoute.value.query.handler).toBeUndefined();
  });

  it("starts from the address's filters, and filters by a section of the unit", async () => {
    api.GET.mockImplementation(answer([]));
    const { w, router } = await mountView(QueueView, "/queue?handler=me&section=S-1.city");
    expect(queueCalls()[0]).toMatchObject({ handler: "me", section: "S-1.city" });
    expect((w.get('[data-testid="queue-filter-mine"]').element as HTMLInputElement).checked).toBe(true);
    expect(w.get('[data-testid="rows-empty"]').text()).toBe("暂无由您承办的工单");
    const select = w.get('[data-testid="queue-filter-section"]');
    expect(select.findAll("option").map((o) => o.text())).toEqual(["不限", "城管科"]);
    await select.setValue("");
    await flushPromises();
    expect(queueCalls().at(-1)?.section).toBeUndefined();
    expect(router.currentRoute.value.query).toEqual({ handler: "me" });
  });

  it("shows the unit's load, person by person, when unfolded", async () => {
    api.GET.mockImplementation(answer([]));
    const { w } = await mountView(QueueView, "/queue");
    expect(api.GET.mock.calls.some((c) => c[0] === "/units/{kind}/{unit_id}/load")).toBe(false); // folded: not read yet
    const panel = w.get('[data-testid="unit-load"]');
    (panel.element as HTMLDetailsElement).open = true;
    await panel.trigger("toggle");
    await flushPromises();
    const call = api.GET.mock.calls.find((c) => c[0] === "/units/{kind}/{unit_id}/load");
    expect(call?.[1]).toEqual({ params: { path: { kind: "street", unit_id: "S-1" } } });
    const cells = (id: string) => w.get(`[data-testid="${id}"]`).findAll("td").map((td) => td.text());
    expect(w.get('[data-testid="unit-load-st-1"] th').text()).toBe("王芳");
    expect(cells("unit-load-st-1")).toEqual(["2", "1", "1", "0", "2"]);
    expect(w.get('[data-testid="unit-load-st-9"] th').text()).toContain("已不在本单位");
    expect(cells("unit-load-unassigned")).toEqual(["2", "0", "0", "1", "—"]);
  });

  it("offers neither the toggle nor the load to the hotline", async () => {
    session.me.value = { ...STREET_USER, person_id: "op-1", role: "dispatcher", unit_id: null };
    api.GET.mockImplementation(answer([item("C1")]));
    const { w } = await mountView(QueueView, "/queue?handler=me");
    expect(w.find('[data-testid="queue-filter-mine"]').exists()).toBe(false);
    expect(w.find('[data-testid="unit-load"]').exists()).toBe(false);
    expect(queueCalls()[0].handler).toBeUndefined();
    expect(api.GET.mock.calls.map((c) => c[0])).toEqual(["/queue"]);
  });
});

describe("CasesView for the users of a unit", () => {
  it("asks for handler=me with 我承办的", async () => {
    api.GET.mockImplementation(answer([item("C1")]));
    const { w } = await mountView(CasesView, "/cases");
    expect(queueCalls()[0].handler).toBeUndefined();
    await w.get('[data-testid="cases-filter-mine"]').setValue(true);
    await flushPromises();
    expect(queueCalls().at(-1)).toMatchObject({ scope: "jurisdiction", handler: "me", offset: 0 });
  });
  it("has no such toggle for the hotline", async () => {
    session.me.value = { ...STREET_USER, role: "dispatcher", unit_id: null };
    api.GET.mockImplementation(answer([item("C1")]));
    const { w } = await mountView(CasesView, "/cases");
    expect(w.find('[data-testid="cases-filter-mine"]').exists()).toBe(false);
  });
});
