import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { i18n } from "@/i18n";
import { session } from "@/lib/session";

type Call = { path: string; init: Record<string, unknown> };
const calls: { GET: Call[]; POST: Call[] } = { GET: [], POST: [] };
let postAnswer: (path: string, init: Record<string, unknown>) => { status: number; body: unknown } = () => ({
  status: 201,
  body: { case_id: "CNEW", status: "received", seq: 1, events: [], idempotency_key: "k" },
});

const CATEGORIES = [
  { code: "noise", name: "Noise nuisance", name_zh: "噪音扰民", group: "环境保护", kind: "event", default_urgency: "ordinary", route: "street", departments: ["environment"], needs_whistle: false },
  { code: "water", name: "Water supply outage", name_zh: "停水", group: "公用事业", kind: "event", default_urgency: "urgent", route: "department", departments: ["water"], needs_whistle: false },
];
const SIMILAR = [
  { case_id: "COLD1", title: "工地夜间施工噪音", status: "dispatched", opened_at: "2026-03-01T01:00:00Z", grid_id: "G-1", street_id: "S-1", category: "noise", open: true, match: "grid", score: 1 },
];

function answer(status: number, body: unknown) {
  return { data: status < 400 ? body : undefined, error: status >= 400 ? body : undefined, response: new Response(JSON.stringify(body), { status }) };
}

vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  return {
    ...actual,
    http: {
      GET: vi.fn(async (path: string, init: Record<string, unknown>) => {
        calls.GET.push({ path, init });
        if (path === "/registry/categories") return answer(200, { items: CATEGORIES });
        if (path === "/registry/similar") return answer(200, { items: SIMILAR });
        return answer(200, { items: [] });
      }),
      POST: vi.fn(async (path: string, init: Record<string, unknown>) => {
        calls.POST.push({ path, init });
        await new Promise((r) => setTimeout(r, 20)); // the answer takes a moment: a second click lands meanwhile
        const a = postAnswer(path, init);
        return answer(a.status, a.body);
      }),
    },
  };
});

const PLACE = {
  grid_id: "G-1",
  grid_name: "人台新村",
  community_id: "C-1",
  community_name: "永顺社区",
  street_id: "S-1",
  street_name: "泰结街道",
  district_id: "D-1",
  district_name: "新城区",
  lat: 40.8,
  lon: 111.6,
  address: "泰结街道人台新村3号楼",
};

const mounted: { unmount(): void }[] = [];

async function mountView() {
  const { default: IntakeView } = await import("@/views/IntakeView.vue");
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/intake", component: IntakeView },
      { path: "/cases/:id", component: { template: "<p>case</p>" } },
    ],
  });
  await router.push("/intake");
  const w = mount(IntakeView, { global: { plugins: [i18n, router] }, attachTo: document.body });
  mounted.push(w);
  await flushPromises();
  return { w, router };
}

async function fill(w: Awaited<ReturnType<typeof mountView>>["w"], fields: Record<string, string>) {
  for (const [name, value] of Object.entries(fields)) {
    const input = w.find(`[data-testid="field-intake-${name}"] input, [data-testid="field-intake-${name}"] textarea`);
    await input.setValue(value);
  }
}

async function choose(w: Awaited<ReturnType<typeof mountView>>["w"], code: string) {
  const { default: CategoryPicker } = await import("@/components/intake/CategoryPicker.vue");
  const picker = w.findComponent(CategoryPicker);
  picker.vm.$emit("update:modelValue", code);
  picker.vm.$emit("picked", CATEGORIES.find((c) => c.code === code) ?? null);
  await flushPromises();
}

async function place(w: Awaited<ReturnType<typeof mountView>>["w"]) {
  const { default: PlaceSearch } = await import("@/components/intake/PlaceSearch.vue");
  w.findComponent(PlaceSearch).vm.$emit("place", PLACE);
  await flushPromises();
}

/** Let answers arrive and Element Plus show the messages (it debounces them by 100 ms). */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 150));
  await flushPromises();
}

function fieldError(w: Awaited<ReturnType<typeof mountView>>["w"], name: string): string {
  const e = w.find(`[data-testid="field-intake-${name}"] .el-form-item__error`);
  return e.exists() ? e.text() : "";
}

beforeEach(() => {
  i18n.global.locale.value = "zh-CN";
  session.me.value = { person_id: "op-1", role: "dispatcher", unit_id: null, name: "op-1", via: "token", sees_personal_data: true };
  calls.GET = [];
  calls.POST = [];
  postAnswer = () => ({ status: 201, body: { case_id: "CNEW", status: "received", seq: 1, events: [], idempotency_key: "k" } });
});
afterEach(() => {
  for (const w of mounted.splice(0)) w.unmount();
  document.body.innerHTML = "";
});

describe("the intake form", { timeout: 30_000 }, () => {
  it("sends nothing while the form is incomplete and says what is missing where", async () => {
    const { w } = await mountView();
    await w.get('[data-testid="intake-form"]').trigger("submit");
    await settle();
    expect(calls.POST).toEqual([]);
    expect(fieldError(w, "category")).toBe("请选择类别");
    expect(fieldError(w, "title")).toBe("必填");
    expect(fieldError(w, "description")).toBe("必填");
    expect(fieldError(w, "place")).toContain("请选择地点");
    expect(w.get('[data-testid="intake-error"]').text()).toContain("请先更正");
  });

  it("checks the phone before sending and clears the message once corrected", async () => {
    const { w } = await mountView();
    await choose(w, "noise");
    await place(w);
    await fill(w, { phone: "12345", title: "噪音", description: "夜间施工" });
    await w.get('[data-testid="intake-form"]').trigger("submit");
    await settle();
    expect(calls.POST).toEqual([]);
    expect(fieldError(w, "phone")).toContain("不是有效的手机号");
    await fill(w, { phone: "13812345678" });
    await settle();
    expect(fieldError(w, "phone")).toBe("");
  });

  it("sets the category's default urgency when it is picked", async () => {
    const { w } = await mountView();
    await choose(w, "water");
    expect(w.get('[data-testid="urgency-urgent"] input').element).toHaveProperty("checked", true);
    await choose(w, "noise");
    expect(w.get('[data-testid="urgency-ordinary"] input').element).toHaveProperty("checked", true);
  });

  it("opens one case on a double click and goes to its page", async () => {
    const { w, router } = await mountView();
    await choose(w, "noise");
    await place(w);
    await fill(w, { name: "张三", phone: "138 1234 5678", title: "噪音扰民", description: "夜间施工" });
    const form = w.get('[data-testid="intake-form"]');
    await form.trigger("submit");
    await form.trigger("submit");
    expect(w.get('[data-testid="intake-submit"]').attributes()).toHaveProperty("disabled");
    await settle();
    expect(calls.POST.map((c) => c.path)).toEqual(["/cases"]);
    const init = calls.POST[0].init as { body: Record<string, unknown>; params: { header: Record<string, string> } };
    expect(init.params.header["idempotency-key"]).toMatch(/^intake-/);
    expect(init.body).toMatchObject({
      channel: "hotline",
      category: "noise",
      urgency: "ordinary",
      title: "噪音扰民",
      location: { grid_id: "G-1", address: "泰结街道人台新村3号楼" },
      contact: { name: "张三", phone: "138 1234 5678" },
    });
    expect(router.currentRoute.value.fullPath).toBe("/cases/CNEW");
  });

  it("shows the API's 422 next to its field and keeps what was typed; a resend of the same body keeps its key", async () => {
    postAnswer = () => ({
      status: 422,
      body: { error: "invalid_input", errors: [{ field: "body.contact.phone", rule: "contact.phone", message: "not a Chinese mobile" }] },
    });
    const { w, router } = await mountView();
    await choose(w, "noise");
    await place(w);
    await fill(w, { phone: "13812345678", title: "噪音扰民", description: "夜间施工" });
    await w.get('[data-testid="intake-form"]').trigger("submit");
    await settle();
    expect(fieldError(w, "phone")).toBe("not a Chinese mobile");
    expect((w.get('[data-testid="field-intake-title"] input').element as HTMLInputElement).value).toBe("噪音扰民");
    expect(router.currentRoute.value.fullPath).toBe("/intake");
    await w.get('[data-testid="intake-form"]').trigger("submit");
    await settle();
    const keys = calls.POST.map((c) => (c.init as { params: { header: Record<string, string> } }).params.header["idempotency-key"]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });

  it("lists similar cases for the grid and category and merges a repeat call into the chosen one", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { w, router } = await mountView();
      await choose(w, "noise");
      await place(w);
      await fill(w, { title: "工地噪音", description: "夜间施工" });
      expect(calls.GET.filter((c) => c.path === "/registry/similar")).toHaveLength(0); // debounced
      await vi.advanceTimersByTimeAsync(500);
      await flushPromises();
      const asked = calls.GET.filter((c) => c.path === "/registry/similar");
      expect(asked).toHaveLength(1);
      expect((asked[0].init as { params: { query: Record<string, unknown> } }).params.query).toMatchObject({
        grid_id: "G-1",
        category: "noise",
        text: "工地噪音 夜间施工",
      });
      expect(w.find('[data-testid="similar-case-COLD1"]').exists()).toBe(true);
      expect(w.get('[data-testid="similar-explain"]').text()).toContain("不再派单");
      await w.get('[data-testid="attach-COLD1"]').trigger("click");
      expect(w.get('[data-testid="intake-submit"]').text()).toContain("COLD1");
      postAnswer = (path) =>
        path === "/cases"
          ? { status: 201, body: { case_id: "CNEW", status: "received", seq: 1, events: [], idempotency_key: "k" } }
          : { status: 200, body: { case_id: "CNEW", status: "merged", seq: 2, events: [] } };
      await w.get('[data-testid="intake-form"]').trigger("submit");
      await vi.advanceTimersByTimeAsync(100);
      await flushPromises();
      expect(calls.POST.map((c) => c.path)).toEqual(["/cases", "/cases/{case_id}/merge"]);
      const merge = calls.POST[1].init as { body: unknown; params: { path: { case_id: string } } };
      expect(merge.params.path.case_id).toBe("CNEW");
      expect(merge.body).toEqual({ into_case_id: "COLD1" });
      expect(router.currentRoute.value.fullPath).toBe("/cases/COLD1");
    } finally {
      vi.useRealTimers();
    }
  });

  it("offers no merge to a role that may not merge", async () => {
    session.me.value = { person_id: "grid-1", role: "grid_worker", unit_id: "G-1", name: null, via: "token", sees_personal_data: false };
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { w } = await mountView();
      expect(w.find('[data-testid="channel-grid_patrol"]').exists()).toBe(true);
      expect(w.find('[data-testid="channel-hotline"]').exists()).toBe(false);
      await choose(w, "noise");
      await place(w);
      await vi.advanceTimersByTimeAsync(500);
      await flushPromises();
      expect(w.find('[data-testid="similar-case-COLD1"]').exists()).toBe(true);
      expect(w.find('[data-testid="attach-COLD1"]').exists()).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
