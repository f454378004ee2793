import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import ActionForm from "@/components/case/ActionForm.vue";
import UnitListSelect from "@/components/case/UnitListSelect.vue";
import { loadUnitList, NoUnitList } from "@/components/case/unit-lists";
import type { Post } from "@/components/case/send";
import { i18n, setLocale } from "@/i18n";
import fixture from "./case-actions.fixture.json";

/** What the API answers, by path: members of S-0101, and the registry's sections (or a 503). */
const api = vi.hoisted(() => ({
  calls: [] as Array<{ path: string; params: Record<string, unknown> }>,
  sections: "ok" as "ok" | "down",
}));

vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  const json = (body: unknown, status = 200) => ({
    data: status < 400 ? body : undefined,
    error: status >= 400 ? body : undefined,
    response: new Response(JSON.stringify(body), { status }),
  });
  const GET = vi.fn(async (path: string, init: { params: Record<string, unknown> }) => {
    api.calls.push({ path, params: init.params });
    if (path === "/units/{kind}/{unit_id}/members") {
      return json({
        kind: "street",
        unit_id: "S-0101",
        members: [
          { person_id: "st-0101-a", name: "王芳" },
          { person_id: "st-0101-b", name: "李强" },
        ],
      });
    }
    if (path === "/registry/sections") {
      if (api.sections === "down") return json({ rule: "registry.unavailable", message: "the SQL registry is not configured" }, 503);
      return json({ unit: { kind: "street", id: "S-0101", name: "泰结街道" }, items: [{ id: "S-0101.city", name: "城管科" }] });
    }
    return json({ items: [] });
  });
  return { ...actual, http: { GET } };
});

type Def = { name: string; path: string; summary_zh: string; summary_en: string; form: Record<string, unknown> };
const action = (name: string) => (fixture as { actions: Def[] }).actions.find((a) => a.name === name)!;
const STREET = { kind: "street", id: "S-0101" };

function okResponse(): Response {
  return new Response(JSON.stringify({ case_id: "C1", status: "handling", seq: 9, events: [] }), { status: 200 });
}

function mountForm(name: string, post: Post, unit: { kind: string; id: string } | null = STREET) {
  return mount(ActionForm, {
    props: { action: action(name), caseId: "C1", post, context: { unit } },
    global: { plugins: [i18n] },
    attachTo: document.body,
  });
}

async function pick(testid: string, value: string) {
  await document.body.querySelector<HTMLElement>(`[data-testid="${testid}"] .el-select__wrapper`)!.click();
  await flushPromises();
  document.body.querySelector<HTMLElement>(`[data-testid="${testid}-option-${value}"]`)!.click();
  await flushPromises();
}

beforeEach(() => {
  api.calls.length = 0;
  api.sections = "ok";
  setLocale("zh-CN");
});
afterEach(() => {
  document.body.innerHTML = "";
});

describe("the lists of the case's unit", () => {
  it("reads the members and the sections of the unit", async () => {
    expect(await loadUnitList("members", STREET)).toEqual([
      { value: "st-0101-a", name: "王芳" },
      { value: "st-0101-b", name: "李强" },
    ]);
    expect(await loadUnitList("sections", STREET)).toEqual([{ value: "S-0101.city", name: "城管科" }]);
    expect(api.calls).toEqual([
      { path: "/units/{kind}/{unit_id}/members", params: { path: { kind: "street", unit_id: "S-0101" } } },
      { path: "/registry/sections", params: { query: { unit: "street:S-0101" } } },
    ]);
  });
  it("has nothing to read without a unit or for the hotline", async () => {
    await expect(loadUnitList("members", null)).rejects.toThrow(NoUnitList);
    await expect(loadUnitList("sections", { kind: "hotline", id: "12345" })).rejects.toThrow(NoUnitList);
    expect(api.calls).toEqual([]);
  });
});

describe("the member and section selects", () => {
  it("offers the unit's members by name and gives the person id", async () => {
    const w = mount(UnitListSelect, {
      props: { modelValue: "", list: "members", unit: STREET, inputId: "m", label: "承办人", testid: "ms" },
      global: { plugins: [i18n] },
      attachTo: document.body,
    });
    await flushPromises();
    await pick("ms", "st-0101-b");
    expect(w.emitted("update:modelValue")?.at(-1)).toEqual(["st-0101-b"]);
    const option = document.body.querySelector('[data-testid="ms-option-st-0101-a"]')!;
    expect(option.textContent).toContain("王芳");
    expect(option.textContent).toContain("st-0101-a");
    expect(w.find('[data-testid="ms-typed"]').exists()).toBe(false);
    w.unmount();
  });

  it("falls back to a typed id when the sections cannot be read (503), saying so", async () => {
    api.sections = "down";
    const w = mount(UnitListSelect, {
      props: { modelValue: "", list: "sections", unit: STREET, inputId: "s", label: "科室", testid: "ss" },
      global: { plugins: [i18n] },
      attachTo: document.body,
    });
    await flushPromises();
    expect(w.find('[data-testid="ss"]').exists()).toBe(false);
    const input = w.get('[data-testid="ss-typed"]');
    expect(input.attributes("placeholder")).toBe("输入科室编号");
    expect(w.get('[data-testid="ss-unavailable"]').text()).toBe("无法加载本单位的名单，请直接输入编号。");
    await input.setValue("S-0101.city");
    expect(w.emitted("update:modelValue")?.at(-1)).toEqual(["S-0101.city"]);
    w.unmount();
  });

  it("speaks English when the page does", async () => {
    setLocale("en");
    const w = mount(UnitListSelect, {
      props: { modelValue: "", list: "members", unit: null, inputId: "m", label: "Handler", testid: "ms" },
      global: { plugins: [i18n] },
      attachTo: document.body,
    });
    await flushPromises();
    expect(w.get('[data-testid="ms-typed"]').attributes("placeholder")).toBe("The handler's user id");
    expect(w.get('[data-testid="ms-unavailable"]').text()).toBe("The unit's list could not be loaded: type the id.");
    w.unmount();
  });
});

describe("the assign and reassign forms", () => {
  it("send the picked member as {person_id} and leave the empty section out", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("assign", post);
    await flushPromises();
    await pick("member-handler", "st-0101-a");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post).toHaveBeenCalledTimes(1);
    expect(post.mock.calls[0][0]).toBe("/cases/C1/assign");
    expect(JSON.parse(String(post.mock.calls[0][1].body))).toEqual({ handler: { person_id: "st-0101-a" } });
    expect(w.emitted("done")).toHaveLength(1);
    w.unmount();
  });

  it("send a picked section alone", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("assign", post);
    await flushPromises();
    await pick("section-section_id", "S-0101.city");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(JSON.parse(String(post.mock.calls[0][1].body))).toEqual({ section_id: "S-0101.city" });
    w.unmount();
  });

  it("refuse to send neither a handler nor a section, and say so next to the handler", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("reassign", post);
    await flushPromises();
    await w.get('[data-testid="field-reassign-reason"] textarea').setValue("工作调整");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post).not.toHaveBeenCalled();
    expect(w.get('[data-testid="field-error-reassign-handler"]').text()).toBe("请指定承办人或科室（至少一项）");
    expect(w.find('[data-testid="field-error-reassign-reason"]').exists()).toBe(false);
    w.unmount();
  });

  it("take typed ids when the case has no unit to list", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("reassign", post, null);
    await flushPromises();
    expect(api.calls).toEqual([]);
    await w.get('[data-testid="member-handler-typed"]').setValue(" st-0101-b ");
    await w.get('[data-testid="field-reassign-reason"] textarea').setValue("工作调整");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(JSON.parse(String(post.mock.calls[0][1].body))).toEqual({ handler: { person_id: "st-0101-b" }, reason: "工作调整" });
    w.unmount();
  });
});
