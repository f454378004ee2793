import { flushPromises, mount } from "@vue/test-utils";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import ActionForm from "@/components/case/ActionForm.vue";
import { ActionSender, type Post } from "@/components/case/send";
import { i18n } from "@/i18n";
import fixture from "./case-actions.fixture.json";

// the unit picker asks the registry; these tests pick no unit
vi.mock("@/api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/api/client")>();
  const answer = async () => ({ data: { items: [] }, response: new Response("{}", { status: 200 }) });
  return { ...actual, http: { GET: vi.fn(answer) } };
});

type Def = { name: string; path: string; summary_zh: string; summary_en: string; form: Record<string, unknown> };
const ACTIONS = (fixture as { actions: Def[] }).actions;
const action = (name: string) => ACTIONS.find((a) => a.name === name)!;

function okResponse(body: unknown = { case_id: "C1", status: "handling", seq: 9, events: [] }): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

function mountForm(name: string, post: Post) {
  return mount(ActionForm, { props: { action: action(name), caseId: "C1", post }, global: { plugins: [i18n] }, attachTo: document.body });
}

describe("the Request-Id of an action", () => {
  it("is kept for a retry without an answer and renewed after an answer", async () => {
    const seen: string[] = [];
    let mode: "network" | "refused" | "ok" = "network";
    const post: Post = async (_path, init) => {
      seen.push(new Headers(init.headers).get("Request-Id")!);
      if (mode === "network") throw new TypeError("Failed to fetch");
      if (mode === "refused") throw new ApiError(409, { rule: "status.not_allowed", message: "no" });
      return okResponse();
    };
    const s = new ActionSender("C1", "report-in", post);
    await expect(s.send({})).rejects.toThrow(TypeError);
    await expect(s.send({})).rejects.toThrow(TypeError);
    expect(seen[0]).toBe(seen[1]); // the same attempt, retried: applied at most once
    mode = "refused";
    await expect(s.send({})).rejects.toThrow(ApiError);
    expect(seen[2]).toBe(seen[1]);
    mode = "ok";
    await s.send({});
    expect(seen[3]).not.toBe(seen[2]); // after an answer, a new request
    await s.send({});
    expect(seen[4]).not.toBe(seen[3]);
  });
  it("posts the body as JSON to the action's path", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    await new ActionSender("C 1", "complete-task", post).send({ result: "已停工" });
    const [path, init] = post.mock.calls[0];
    expect(path).toBe("/cases/C%201/complete-task");
    expect(init.method).toBe("POST");
    expect(JSON.parse(String(init.body))).toEqual({ result: "已停工" });
  });
});

describe("an action's form", () => {
  it.each(ACTIONS.map((a) => [a.name, a] as const))("%s: a wrapper with a label for every field", (_, a) => {
    {
      const w = mountForm(a.name, async () => okResponse());
      expect(w.find(`[data-testid="form-${a.name}"]`).exists()).toBe(true);
      expect(w.find(`[data-testid="submit-${a.name}"]`).exists()).toBe(true);
      for (const name of Object.keys((a.form as { properties: object }).properties)) {
        const item = w.find(`[data-testid="field-${a.name}-${name}"]`);
        expect(item.exists(), `${a.name}.${name}`).toBe(true);
        expect(item.find("label").text().length, `${a.name}.${name} label`).toBeGreaterThan(0);
      }
      w.unmount();
    }
  });

  it("does not send an incomplete form and says what is missing", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("complete_task", post);
    await w.get('[data-testid="submit-complete_task"]').trigger("submit");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post).not.toHaveBeenCalled();
    expect(w.get('[data-testid="field-error-complete_task-result"]').text()).toBe("请填写处置结果");
    expect(w.emitted("done")).toBeUndefined();
  });

  it("sends a filled form once and reports done", async () => {
    const post = vi.fn<Post>(async () => okResponse());
    const w = mountForm("complete_task", post);
    await w.get('[data-testid="field-complete_task-result"] textarea').setValue("已责令停工");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(post).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(post.mock.calls[0][1].body))).toEqual({ result: "已责令停工" });
    expect(w.emitted("done")).toHaveLength(1);
  });

  it("shows a 422 next to the field it names and keeps the form as typed", async () => {
    const post: Post = async () => {
      throw new ApiError(422, { errors: [{ field: "body.into_case_id", rule: "case.not_found", message: "no case CX1" }] });
    };
    const w = mountForm("merge", post);
    await w.get('[data-testid="field-merge-into_case_id"] input').setValue("CX1");
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="field-error-merge-into_case_id"]').text()).toBe("no case CX1");
    expect(w.find('[data-testid="action-error"]').exists()).toBe(false);
    expect((w.get('[data-testid="field-merge-into_case_id"] input').element as HTMLInputElement).value).toBe("CX1");
    expect(w.emitted("done")).toBeUndefined();
  });

  it("shows a 409 next to the action", async () => {
    const post: Post = async () => {
      throw new ApiError(409, { rule: "status.not_allowed", message: "这个案件已经签收" });
    };
    const w = mountForm("accept", post);
    await w.get("form").trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="action-error"]').text()).toContain("这个案件已经签收");
    expect(w.emitted("done")).toBeUndefined();
  });
});
