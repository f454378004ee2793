import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import UnitPicker from "@/components/common/UnitPicker.vue";
import { i18n } from "@/i18n";

const calls: Array<{ path: string; query: Record<string, unknown> }> = [];
const UNITS: Record<string, Array<Record<string, unknown>>> = {
  street: [{ kind: "street", id: "S-0101", name: "泰结街道" }],
  grid: [{ kind: "grid", id: "G-01010101", name: "人台新村", street_name: "泰结街道" }],
  department: [
    { kind: "department", id: "environment", name: "生态环境分局" },
    { kind: "department", id: "water", name: "水务局" },
  ],
};

vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  const GET = vi.fn(async (path: string, init: { params: { query: Record<string, unknown> } }) => {
    calls.push({ path, query: init.params.query });
    const data =
      path === "/registry/route"
        ? { unit: { kind: "street", id: "S-0101", name: "泰结街道" }, departments: [{ kind: "department", id: "environment", name: "生态环境分局" }], needs_whistle: true }
        : { items: UNITS[String(init.params.query.kind)] ?? [] };
    return { data, response: new Response("{}", { status: 200 }) };
  });
  return { ...actual, http: { GET } };
});

afterEach(() => {
  calls.length = 0;
  document.body.innerHTML = "";
});

function options(testid: string): Array<{ id: string; text: string; group: string | null }> {
  return [...document.body.querySelectorAll<HTMLElement>(`[data-testid^="${testid}-option-"]`)].map((el) => ({
    id: el.dataset.testid!.slice(`${testid}-option-`.length),
    text: el.textContent ?? "",
    group: el.closest(".el-select-group__wrap")?.querySelector(".el-select-group__title")?.textContent ?? null,
  }));
}

async function picker(props: Record<string, unknown>) {
  const w = mount(UnitPicker, { props: { modelValue: null, testid: "up", ...props }, global: { plugins: [i18n] }, attachTo: document.body });
  await flushPromises();
  await w.find(".el-select__wrapper").trigger("click");
  await flushPromises();
  return w;
}

describe("the unit picker", () => {
  it("offers the routing suggestion first, marked 建议, then the units by name", async () => {
    await picker({ kinds: ["street", "grid", "department"], category: "noise", gridId: "G-01010101" });
    const got = options("up");
    expect(got[0]).toMatchObject({ id: "street-S-0101", group: "建议" });
    expect(got[0].text).toContain("泰结街道");
    expect(got[1]).toMatchObject({ id: "department-environment", group: "建议" });
    const rest = got.slice(2).map((o) => o.id);
    expect(rest).toEqual(["grid-G-01010101", "department-water"]); // suggested ones are not listed twice
    expect(calls.find((c) => c.path === "/registry/route")?.query).toEqual({ category: "noise", grid_id: "G-01010101" });
  });

  it("asks only for the kinds it may pick, and no suggestion without a case", async () => {
    await picker({ kinds: ["department"] });
    expect(new Set(calls.map((c) => c.path))).toEqual(new Set(["/registry/units"])); // no route look-up
    expect(new Set(calls.map((c) => c.query.kind))).toEqual(new Set(["department"]));
    expect(calls[0].query).toMatchObject({ kind: "department", q: "" });
    expect(options("up").map((o) => o.group)).toEqual([null, null]);
  });

  it("keeps grids and streets to the case's street, and leaves out excluded units", async () => {
    await picker({ kinds: ["street", "grid", "department"], streetId: "S-0101", exclude: ["department:water"] });
    const byKind = Object.fromEntries(calls.map((c) => [c.query.kind, c.query.street]));
    expect(byKind).toEqual({ street: "S-0101", grid: "S-0101", department: undefined });
    expect(options("up").map((o) => o.id)).not.toContain("department-water");
  });

  it("gives {kind, id} for the option picked, null when cleared", async () => {
    const w = await picker({ kinds: ["department"] });
    (document.body.querySelector('[data-testid="up-option-department-water"]') as HTMLElement).click();
    await flushPromises();
    expect(w.emitted("update:modelValue")?.[0]).toEqual([{ kind: "department", id: "water" }]);
  });
});
