import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import ActionForm from "@/components/case/ActionForm.vue";
import type { Post } from "@/components/case/send";
import PlaceSearch from "@/components/intake/PlaceSearch.vue";
import { i18n, setLocale } from "@/i18n";
import corrections from "./case-corrections.fixture.json";

/** What the registry answers: its catalogue (or a 503), the grid at a point (or outside every grid). */
const api = vi.hoisted(() => ({
  calls: [] as Array<{ path: string; params?: Record<string, unknown> }>,
  categories: "ok" as "ok" | "down",
}));

const PLACE = {
  grid_id: "G-0102",
  grid_name: "大召小区",
  community_id: "C-01",
  community_name: "青城社区",
  street_id: "S-0101",
  street_name: "通道街道",
  district_id: "D-01",
  district_name: "新城区",
  address: "大召小区5号楼",
  lat: 40.815,
  lon: 111.615,
};

vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  const json = (body: unknown, status = 200) => ({
    data: status < 400 ? body : undefined,
    error: status >= 400 ? body : undefined,
    response: new Response(JSON.stringify(body), { status }),
  });
  const category = (code: string, name_zh: string, name: string) => ({
    code,
    name,
    name_zh,
    group: null,
    kind: "event",
    default_urgency: "ordinary",
    route: "street",
    departments: [],
    needs_whistle: false,
  });
  const GET = vi.fn(async (path: string, init?: { params?: { query?: { lat?: number; lon?: number } } }) => {
    api.calls.push({ path, params: init?.params });
    if (path === "/registry/categories") {
      if (api.categories === "down") return json({ rule: "registry.unavailable", message: "no registry" }, 503);
      return json({
        items: [category("noise", "噪音扰民", "Noise"), category("garbage", "垃圾清运", "Garbage"), category("water", "停水", "Water outage")],
      });
    }
    if (path === "/registry/locate") {
      const lat = init?.params?.query?.lat ?? 0;
      if (lat > 41) {
        const message = `point (lat ${lat}) lies outside every grid`;
        return json({ errors: [{ field: "query.lat", rule: "registry.unknown_location", message }] }, 422);
      }
      return json(PLACE);
    }
    return json({ items: [] });
  });
  return { ...actual, http: { GET } };
});

type Def = { name: string; path: string; summary_zh: string; summary_en: string; form: Record<string, unknown> };
const action = (name: string) => (corrections as { actions: Def[] }).actions.find((a) => a.name === name)!;

function okResponse(): Response {
  return new Response(JSON.stringify({ case_id: "C1", status: "registered", seq: 9, events: [] }), { status: 200 });
}

function mountForm(name: string, post: Post, category: string | null = "noise") {
  return mount(ActionForm, {
    props: { action: action(name), caseId: "C1", post, context: { category } },
    global: { plugins: [i18n] },
    attachTo: document.body,
  });
}

function sent(post: ReturnType<typeof vi.fn<Post>>): unknown {
  expect(post).toHaveBeenCalledTimes(1);
  expect(post.mock.calls[0][0]).toMatch(/^\/cases\/C1\//);
  return JSON.parse(String(post.mock.calls[0][1].body));
}

async function reason(w: ReturnType<typeof mountForm>, name: string, text: string) {
  await w.get(`[data-testid="field-${name}-reason"] textarea`).setValue(text);
}

beforeEach(() => {
  api.calls.length = 0;
  api.categories = "ok";
  setLocale("zh-CN");
});
afterEach(() => {
  document.body.innerHTML = "";
});

describe("改址: the place of the registry", () => {
  it("sends a grid picked from the registry's search with the address it was found by", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("relocate", post);
    await flushPromises();
    const search = w.getComponent(PlaceSearch);
    search.vm.$emit("update:modelValue", PLACE.address);
    search.vm.$emit("place", PLACE);
    await flushPromises();
    expect(w.get('[data-testid="location-location-picked"]').text()).toBe("网格：大召小区（G-0102）· 青城社区 · 通道街道");
    await reason(w, "relocate", " 地址有误 ");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post.mock.calls[0][0]).toBe("/cases/C1/relocate");
    expect(sent(post)).toEqual({ location: { grid_id: "G-0102", address: "大召小区5号楼" }, reason: "地址有误" });
    expect(w.emitted("done")).toHaveLength(1);
  });

  it("forgets the picked grid when the text is changed, and sends the address for the registry to match", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("relocate", post);
    await flushPromises();
    const search = w.getComponent(PlaceSearch);
    search.vm.$emit("update:modelValue", PLACE.address);
    search.vm.$emit("place", PLACE);
    await flushPromises();
    search.vm.$emit("update:modelValue", "新华广场东门");
    await flushPromises();
    expect(w.find('[data-testid="location-location-picked"]').exists()).toBe(false);
    expect(w.get('[data-testid="location-location-unresolved"]').text()).toBe("未选定网格：提交时按地址在网格库中匹配");
    await reason(w, "relocate", "地址有误");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(sent(post)).toEqual({ location: { address: "新华广场东门" }, reason: "地址有误" });
  });

  it("sends a point, showing the grid the registry finds there", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("relocate", post);
    await flushPromises();
    await w.get('[data-testid="location-location-mode-point"] input').setValue(true);
    await w.get('[data-testid="location-location-lat"]').setValue(" 40.815 ");
    await w.get('[data-testid="location-location-lon"]').setValue("111.615");
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ path: "/registry/locate", params: { query: { lat: 40.815, lon: 111.615 } } });
    expect(w.get('[data-testid="location-location-at-point"]').text()).toContain("大召小区（G-0102）");
    await reason(w, "relocate", "按定位改址");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(sent(post)).toEqual({ location: { lat: 40.815, lon: 111.615 }, reason: "按定位改址" });
  });

  it("says when a point lies outside every grid, and lets the API judge it", async () => {
    const post = vi.fn<Post>(async () => {
      throw new ApiError(422, {
        errors: [{ field: "body.location", rule: "registry.unknown_location", message: "point (lat 45, lon 111) lies outside every grid" }],
      });
    });
    const w = mountForm("relocate", post);
    await flushPromises();
    await w.get('[data-testid="location-location-mode-point"] input').setValue(true);
    await w.get('[data-testid="location-location-lat"]').setValue("45");
    await w.get('[data-testid="location-location-lon"]').setValue("111");
    await flushPromises();
    expect(w.get('[data-testid="location-location-outside"]').text()).toBe("point (lat 45) lies outside every grid");
    await reason(w, "relocate", "x");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="field-error-relocate-location"]').text()).toBe("point (lat 45, lon 111) lies outside every grid");
    expect(w.find('[data-testid="action-error"]').exists()).toBe(false);
    expect(w.emitted("done")).toBeUndefined();
  });

  it("refuses an empty place or half a point before sending", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("relocate", post);
    await flushPromises();
    await reason(w, "relocate", "x");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="field-error-relocate-location"]').text()).toBe("请选择或填写位置");
    await w.get('[data-testid="location-location-mode-point"] input').setValue(true);
    await w.get('[data-testid="location-location-lat"]').setValue("40.8");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="field-error-relocate-location"]').text()).toBe("请填写有效的纬度（-90～90）和经度（-180～180）");
    expect(post).not.toHaveBeenCalled();
  });

  it("puts an unknown grid next to the place", async () => {
    const post = vi.fn<Post>(async () => {
      throw new ApiError(422, { errors: [{ field: "body.location.grid_id", rule: "registry.unknown_location", message: "unknown grid 'G-9'" }] });
    });
    const w = mountForm("relocate", post);
    await flushPromises();
    const search = w.getComponent(PlaceSearch);
    search.vm.$emit("place", { ...PLACE, grid_id: "G-9", address: null });
    await reason(w, "relocate", "x");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(sent(post)).toEqual({ location: { grid_id: "G-9", address: "大召小区" }, reason: "x" });
    expect(w.get('[data-testid="field-error-relocate-location"]').text()).toBe("unknown grid 'G-9'");
  });
});

describe("改类: a category of the city catalogue", () => {
  async function open() {
    await document.body.querySelector<HTMLElement>('[data-testid="category-picker"] .el-select__wrapper')!.click();
    await flushPromises();
  }

  it("offers the catalogue but the case's own category, and sends the code picked", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("reclassify", post, "noise");
    await flushPromises();
    expect(api.calls.map((c) => c.path)).toEqual(["/registry/categories"]);
    await open();
    const offered = [...document.body.querySelectorAll('[data-testid^="category-option-"]')].map((o) => o.getAttribute("data-testid"));
    expect(offered).toEqual(["category-option-garbage", "category-option-water"]);
    expect(document.body.querySelector('[data-testid="category-option-water"]')!.textContent).toContain("停水");
    document.body.querySelector<HTMLElement>('[data-testid="category-option-water"]')!.click();
    await flushPromises();
    await reason(w, "reclassify", "实为停水");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post.mock.calls[0][0]).toBe("/cases/C1/reclassify");
    expect(sent(post)).toEqual({ category: "water", reason: "实为停水" });
  });

  it("wants a category before sending", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("reclassify", post);
    await flushPromises();
    await reason(w, "reclassify", "x");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="field-error-reclassify-category"]').text()).toBe("请选择类别");
    expect(post).not.toHaveBeenCalled();
  });

  it("takes a typed code when the catalogue cannot be loaded, and shows the API's refusal next to it", async () => {
    api.categories = "down";
    const post = vi.fn<Post>(async () => {
      throw new ApiError(422, {
        errors: [{ field: "body.category", rule: "registry.unknown_category", message: "the city catalogue has no category 'nosie'" }],
      });
    });
    const w = mountForm("reclassify", post);
    await flushPromises();
    expect(w.get('[data-testid="catalogue-category-unavailable"]').text()).toBe("无法加载类别目录，请直接输入类别编码。");
    await w.get('[data-testid="catalogue-category-typed"]').setValue(" nosie ");
    await reason(w, "reclassify", "x");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(sent(post)).toEqual({ category: "nosie", reason: "x" });
    expect(w.get('[data-testid="field-error-reclassify-category"]').text()).toBe("the city catalogue has no category 'nosie'");
  });
});

describe("加急 / 降级", () => {
  it("offers the urgencies in the page's language and sends the one chosen", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("set_urgency", post);
    expect(w.get('[data-testid="choice-urgency-urgent"]').text()).toBe("紧急");
    expect(w.get('[data-testid="choice-urgency-ordinary"]').text()).toBe("普通");
    await w.get('[data-testid="choice-urgency-urgent"] input').setValue(true);
    await reason(w, "set_urgency", "涉及安全");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post.mock.calls[0][0]).toBe("/cases/C1/set-urgency");
    expect(sent(post)).toEqual({ urgency: "urgent", reason: "涉及安全" });
    w.unmount();
    setLocale("en");
    const en = mountForm("set_urgency", vi.fn<Post>(async () => okResponse()));
    expect(en.get('[data-testid="choice-urgency-urgent"]').text()).toBe("Urgent");
  });
});
