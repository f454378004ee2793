import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const api = vi.hoisted(() => ({ GET: vi.fn(), POST: vi.fn(), DELETE: vi.fn() }));
vi.mock("@/api/client", () => {
  class ApiError extends Error {
    status: number;
    rule: string;
    fieldErrors: { field: string; rule: string; message: string }[];
    constructor(status: number, body: { rule?: string; message?: string; errors?: { field: string; rule: string; message: string }[] }) {
      super(body.message ?? "refused");
      this.status = status;
      this.rule = body.rule ?? "";
      this.fieldErrors = body.errors ?? [];
    }
  }
  return {
    http: api,
    ApiError,
    ok: async (p: Promise<{ data?: unknown; error?: unknown; status?: number }>) => {
      const r = await p;
      if (r.error) throw new ApiError(r.status ?? 422, r.error as never);
      return r.data;
    },
  };
});

import AdminView from "@/views/AdminView.vue";
import { i18n, setLocale } from "@/i18n";
import { session, type Me } from "@/lib/session";
import { activeTokens, formField, newUserBody, newUserErrors, type UserItem } from "@/components/admin/users";

const ADMIN: Me = { person_id: "sv-city", role: "supervisor", unit_id: "city", name: "sv-city", via: "token", sees_personal_data: false };

function user(id: string, fields: Partial<UserItem> = {}): UserItem {
  return {
    user_id: id,
    name: id,
    role: "street",
    unit_id: "S-1",
    duties: [],
    unit_name: "新华街道",
    enabled: true,
    created_at: "2026-03-02T01:00:00Z",
    disabled_at: null,
    tokens: [{ token_id: "0123456789abcdef", label: "first", created_at: "2026-03-02T01:00:00Z", revoked_at: null, active: true }],
    ...fields,
  };
}

const POLICY = {
  version: "abc123",
  source: "built-in (default_policy.yaml)",
  working_day: "7h",
  time_scale: null,
  rules: [{ clock: "accept", urgency: "urgent", category: null, duration: "1h", basis: "working", warnings: [0.5, 0.75], ladder: ["reminder +0 → unit"] }],
  calendar: {
    today: "2026-03-02",
    covered_from: "2025-01-01",
    covered_to: "2026-12-31",
    days_left: 304,
    expiring: false,
    summary: "official data until 2026-12-31 (304 days ahead)",
    override_file: null,
    work_periods: ["09:00–12:00", "13:30–17:30"],
  },
};
const SUMMARY = { name: "示范市", version: "v1", districts: 2, streets: 5, communities: 20, grids: 3779, staff: 9000, departments: 12, categories: 40, bounds: [0, 0, 1, 1] };

function routes(users: UserItem[]) {
  api.GET.mockImplementation(async (path: string) => {
    if (path === "/admin/users") return { data: { items: users, units_required: {} } };
    if (path === "/admin/policy") return { data: POLICY };
    if (path === "/registry/summary") return { data: SUMMARY };
    if (path === "/registry/units") return { data: { items: [] } };
    throw new Error(`unexpected GET ${path}`);
  });
}

const mounted: { unmount(): void }[] = [];
async function mountView() {
  const w = mount(AdminView, { global: { plugins: [i18n] }, attachTo: document.body });
  mounted.push(w);
  await flushPromises();
  return w;
}
type View = Awaited<ReturnType<typeof mountView>>;
function control(w: View, id: string) {
  const el = w.get(`[data-testid="${id}"]`);
  return ["INPUT", "TEXTAREA"].includes(el.element.tagName) ? el : el.get("input, textarea");
}

beforeEach(() => {
  api.GET.mockReset();
  api.POST.mockReset();
  api.DELETE.mockReset();
  setLocale("zh-CN");
  session.me.value = ADMIN;
});
afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
  document.body.innerHTML = "";
  session.me.value = null;
});

describe("a new user's rules", () => {
  const base = { userId: "op-2", name: "", role: "dispatcher" as const, unit: "" };
  it.each([
    [{ ...base, userId: "" }, { userId: "admin.errors.userIdRequired" }],
    [{ ...base, userId: "-op" }, { userId: "admin.errors.userIdFormat" }],
    [{ ...base, userId: "op 2" }, { userId: "admin.errors.userIdFormat" }],
    [{ ...base, userId: "x".repeat(129) }, { userId: "admin.errors.userIdFormat" }],
    [{ ...base, userId: "zhang.wei@gov" }, {}],
    [{ ...base, role: "" as const }, { role: "admin.errors.roleRequired" }],
    [{ ...base, role: "street" as const }, { unit: "admin.errors.unitRequired" }],
    [{ ...base, role: "grid_worker" as const, unit: " " }, { unit: "admin.errors.unitRequired" }],
    [{ ...base, role: "supervisor" as const }, { unit: "admin.errors.unitRequired" }],
    [{ ...base, role: "supervisor" as const, unit: "city" }, {}],
    [{ ...base, role: "resident" as const }, {}],
    [{ ...base, name: "名".repeat(129) }, { name: "admin.errors.nameTooLong" }],
  ])("%j → %j", (form, errors) => {
    expect(newUserErrors(form)).toEqual(errors);
  });

  it("sends a unit only for a role that has one, and the id's name when none is given", () => {
    expect(newUserBody({ userId: " op-2 ", name: "", role: "dispatcher", unit: "S-1" }, true)).toEqual({
      user_id: "op-2",
      name: null,
      role: "dispatcher",
      unit: null,
      token: true,
      duties: [],
    });
    expect(newUserBody({ userId: "st-2", name: " 王 ", role: "street", unit: " S-1 " }, false)).toMatchObject({ name: "王", unit: "S-1" });
  });

  it("maps the API's fields to the form's, and counts active tokens", () => {
    expect(formField("body.unit")).toBe("unit");
    expect(formField("body.user_id")).toBe("userId");
    expect(formField("header.x")).toBeNull();
    const u = user("a", {
      tokens: [
        { token_id: "1", label: null, created_at: "", revoked_at: null, active: true },
        { token_id: "2", label: null, created_at: "", revoked_at: "2026-01-01T00:00:00Z", active: false },
      ],
    });
    expect(activeTokens(u)).toBe(1);
  });
});

describe("AdminView", () => {
  it("shows the users, the policy and the registry to a city supervisor", async () => {
    routes([user("street-1"), user("op-1", { role: "dispatcher", unit_id: null, unit_name: null, enabled: false, tokens: [] })]);
    const w = await mountView();
    const row = w.get('[data-testid="user-row-street-1"]');
    expect(row.text()).toContain("街道");
    expect(row.text()).toContain("新华街道");
    expect(row.text()).toContain("1 个有效");
    expect(w.get('[data-testid="user-row-op-1"]').attributes("data-enabled")).toBe("false");
    expect(w.get('[data-testid="user-row-op-1"]').text()).toContain("已停用");
    expect(w.get('[data-testid="registry-grids"]').text()).toContain("3,779");
    expect(w.get('[data-testid="policy-rule-accept-urgent"]').text()).toContain("签收");
    expect(w.get('[data-testid="calendar"]').text()).toContain("2026-12-31");
  });

  it("does not ask for users when the caller is not a city supervisor", async () => {
    session.me.value = { ...ADMIN, role: "dispatcher", unit_id: null };
    routes([]);
    const w = await mountView();
    expect(api.GET).not.toHaveBeenCalledWith("/admin/users");
    expect(w.find('[data-testid="users-only-city"]').exists()).toBe(true);
    expect(w.find('[data-testid="users-table"]').exists()).toBe(false);
    expect(w.find('[data-testid="policy"]').exists()).toBe(true);
  });

  it("checks a new user before sending, and shows the API's message next to its field", async () => {
    routes([]);
    const w = await mountView();
    await w.get('[data-testid="form-add-user"]').trigger("submit");
    expect(api.POST).not.toHaveBeenCalled();
    expect(w.get('[data-testid="field-add-user_id"]').text()).toContain("请输入用户编号");
    expect(w.get('[data-testid="field-add-role"]').text()).toContain("请选择角色");
    await control(w, "add-user-id").setValue("op-1");
    await flushPromises();
    // the role select is Element Plus's: set it through the form's state
    const form = w.findComponent({ name: "AddUserForm" }) as unknown as { vm: { $: { setupState: { form: { role: string } } } } };
    form.vm.$.setupState.form.role = "dispatcher";
    await flushPromises();
    api.POST.mockResolvedValueOnce({ error: { errors: [{ field: "body.user_id", rule: "user.exists", message: "'op-1' already exists" }] }, status: 422 });
    await w.get('[data-testid="form-add-user"]').trigger("submit");
    await flushPromises();
    expect(api.POST).toHaveBeenCalledWith("/admin/users", { body: { user_id: "op-1", name: null, role: "dispatcher", unit: null, token: true, duties: [] } });
    expect(w.get('[data-testid="field-add-user_id"]').text()).toContain("already exists");
  });

  it("shows an issued token once, and revokes a token", async () => {
    routes([user("street-1")]);
    const w = await mountView();
    api.POST.mockResolvedValueOnce({ data: { token: "gct_0123456789abcdef_secret", token_id: "fedcba9876543210", user_id: "street-1", label: null, created_at: "" } });
    await w.get('[data-testid="issue-street-1"]').trigger("click");
    await flushPromises();
    expect(api.POST).toHaveBeenCalledWith("/admin/users/{user_id}/tokens", { params: { path: { user_id: "street-1" } }, body: {} });
    const shown = document.querySelector<HTMLInputElement>('[data-testid="issued-token"]');
    expect(shown?.value ?? shown?.querySelector("input")?.value).toBe("gct_0123456789abcdef_secret");
    api.DELETE.mockResolvedValueOnce({ data: { token_id: "0123456789abcdef", revoked_at: "2026-03-02T02:00:00Z" } });
    await w.get('[data-testid="revoke-0123456789abcdef"]').trigger("click");
    await flushPromises();
    expect(api.DELETE).toHaveBeenCalledWith("/admin/tokens/{token_id}", { params: { path: { token_id: "0123456789abcdef" } } });
  });

  it("shows a refused action next to the table", async () => {
    routes([user("street-1")]);
    const w = await mountView();
    api.POST.mockResolvedValueOnce({ error: { rule: "user.disabled", message: "user: 'street-1' is disabled" }, status: 409 });
    await w.get('[data-testid="issue-street-1"]').trigger("click");
    await flushPromises();
    expect(w.get('[data-testid="action-error"]').text()).toContain("user.disabled");
  });
});
