import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const api = vi.hoisted(() => ({ POST: vi.fn() }));
vi.mock("@/api/client", () => ({ http: { POST: api.POST } }));

import TrackView from "@/views/TrackView.vue";
import { i18n, setLocale } from "@/i18n";
import { dueDate, lookupErrors, normalise, ratingError, stepTime, waitMinutes, type TrackProgress } from "@/components/public/track";

function progress(fields: Partial<TrackProgress> = {}): TrackProgress {
  return {
    case_id: "C1A2B3C4D5E6",
    status: "handling",
    status_zh: "正在办理",
    status_en: "being handled",
    steps: [
      { at: "2026-12-02T01:30:00Z", kind: "received", text_zh: "已受理您的诉求", text_en: "your request was received" },
      { at: "2026-12-02T02:00:00Z", kind: "dispatched", text_zh: "已转交 新华街道 办理", text_en: "sent to 新华街道 to handle" },
    ],
    expected: { kind: "resolve", due_date: "2026-12-09", paused: false, label_zh: "预计办结日期", label_en: "expected to be resolved by" },
    rating_open: false,
    rating: null,
    finished: false,
    ...fields,
  };
}

function answer(status: number, data?: unknown, error?: unknown, headers: Record<string, string> = {}) {
  return { data, error, response: new Response(null, { status, headers }) };
}

const mounted: { unmount(): void }[] = [];
async function mountView() {
  const w = mount(TrackView, { global: { plugins: [i18n] }, attachTo: document.body });
  mounted.push(w);
  await flushPromises();
  return w;
}

type View = Awaited<ReturnType<typeof mountView>>;

/** The native control of a test id (Element Plus puts the attribute on the input itself or on its wrapper). */
function control(w: View, id: string) {
  const el = w.get(`[data-testid="${id}"]`);
  return ["INPUT", "TEXTAREA"].includes(el.element.tagName) ? el : el.get("input, textarea");
}

async function lookUp(w: View, caseId: string, last4: string) {
  await control(w, "track-case-id").setValue(caseId);
  await control(w, "track-last4").setValue(last4);
  await w.get('[data-testid="track-form"]').trigger("submit");
  await flushPromises();
}

beforeEach(() => {
  api.POST.mockReset();
  setLocale("zh-CN");
});
afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
  document.body.innerHTML = "";
});

describe("the look-up's rules", () => {
  it.each([
    [{ caseId: "", last4: "" }, { caseId: "track.errors.caseIdRequired", last4: "track.errors.last4Required" }],
    [{ caseId: "C1", last4: "123" }, { last4: "track.errors.last4Format" }],
    [{ caseId: "C1", last4: "12a4" }, { last4: "track.errors.last4Format" }],
    [{ caseId: "C1", last4: "12345" }, { last4: "track.errors.last4Format" }],
    [{ caseId: "-C1", last4: "1234" }, { caseId: "track.errors.caseIdFormat" }],
    [{ caseId: "C1/../x", last4: "1234" }, { caseId: "track.errors.caseIdFormat" }],
    [{ caseId: "案件", last4: "1234" }, { caseId: "track.errors.caseIdFormat" }],
    [{ caseId: "c1a2 b3c4", last4: " 1234 " }, {}],
  ])("%j → %j", (input, errors) => {
    expect(lookupErrors(input)).toEqual(errors);
  });

  it("sends the case number in capitals without blanks", () => {
    expect(normalise({ caseId: " c1a2 b3 ", last4: "12 34" })).toEqual({ caseId: "C1A2B3", last4: "1234" });
  });

  it("needs one of the three ratings and a comment of at most 500 characters", () => {
    expect(ratingError(null, "")).toBe("track.rate.required");
    expect(ratingError("unreachable", "")).toBe("track.rate.required");
    for (const r of ["satisfied", "basically_satisfied", "unsatisfied"]) expect(ratingError(r, "")).toBeNull();
    expect(ratingError("satisfied", "字".repeat(500))).toBeNull();
    expect(ratingError("satisfied", "字".repeat(501))).toBe("track.rate.tooLong");
  });

  it("writes times and dates in the city's zone, in both languages", () => {
    expect(stepTime("2026-12-02T01:30:00Z", "zh-CN")).toBe("12月2日 09:30");
    expect(stepTime("2026-12-02T17:05:00Z", "zh-CN")).toBe("12月3日 01:05"); // the next day in Shanghai
    expect(stepTime("2026-12-02T01:30:00Z", "en")).toBe("2 Dec 09:30");
    expect(stepTime("nonsense", "en")).toBe("");
    expect(dueDate("2026-12-09", "zh-CN")).toBe("2026年12月9日");
    expect(dueDate("2026-12-09", "en")).toBe("9 Dec 2026");
  });

  it("turns Retry-After into whole minutes", () => {
    expect(waitMinutes("1")).toBe(1);
    expect(waitMinutes("61")).toBe(2);
    expect(waitMinutes("600")).toBe(10);
    expect(waitMinutes(null)).toBe(10);
  });
});

describe("TrackView", () => {
  it("checks the fields before sending anything", async () => {
    const w = await mountView();
    await lookUp(w, "", "12");
    expect(api.POST).not.toHaveBeenCalled();
    expect(w.get('[data-testid="field-track-case_id"]').text()).toContain("请输入案件编号");
    expect(w.get('[data-testid="field-track-phone_last4"]').text()).toContain("请输入 4 位数字");
  });

  it("shows the progress in plain words, newest step first, and the expected date", async () => {
    api.POST.mockResolvedValue(answer(200, progress()));
    const w = await mountView();
    await lookUp(w, "c1a2b3c4d5e6", "5678");
    expect(api.POST).toHaveBeenCalledWith("/public/track", { body: { case_id: "C1A2B3C4D5E6", phone_last4: "5678" } });
    expect(w.get('[data-testid="case-status"]').text()).toBe("正在办理");
    expect(w.get('[data-testid="track-expected"]').text()).toBe("2026年12月9日");
    expect(w.text()).toContain("预计办结日期");
    const steps = w.findAll('[data-testid="timeline"] li').map((li) => li.text());
    expect(steps).toEqual(["12月2日 10:00已转交 新华街道 办理", "12月2日 09:30已受理您的诉求"]);
    expect(w.find('[data-testid="rating"]').exists()).toBe(false);
  });

  it("says a paused clock has no date yet, and a finished case is finished", async () => {
    api.POST.mockResolvedValueOnce(answer(200, progress({ expected: { ...progress().expected!, paused: true, due_date: null } })));
    const w = await mountView();
    await lookUp(w, "C1", "5678");
    expect(w.get('[data-testid="track-expected"]').text()).toContain("计时暂停");
    await w.get('[data-testid="track-again"]').trigger("click");
    api.POST.mockResolvedValueOnce(answer(200, progress({ status: "closed", expected: null, finished: true, rating: "satisfied" })));
    await lookUp(w, "C1", "5678");
    expect(w.get('[data-testid="track-expected"]').text()).toBe("已办结归档");
    expect(w.get('[data-testid="rate-given"]').text()).toContain("满意");
  });

  it.each([
    [404, {}, "没有找到与该编号和手机号后四位相符的案件"],
    [429, { "Retry-After": "300" }, "尝试次数过多，请 5 分钟后再试"],
    [503, {}, "系统暂时无法查询"],
  ])("a refused look-up (%i) shows one message and keeps the form", async (status, headers, text) => {
    api.POST.mockResolvedValue(answer(status, undefined, { rule: "x" }, headers));
    const w = await mountView();
    await lookUp(w, "C1", "0000");
    expect(w.get('[data-testid="track-error"]').text()).toContain(text);
    expect(w.find('[data-testid="track-result"]').exists()).toBe(false);
    expect(w.find('[data-testid="track-form"]').exists()).toBe(true);
  });

  it("offers the rating when it is open, sends it with the pair, and shows the new progress", async () => {
    api.POST.mockResolvedValueOnce(answer(200, progress({ status: "verified", rating_open: true })));
    const w = await mountView();
    await lookUp(w, "C1", "5678");
    await w.get('[data-testid="form-rate"]').trigger("submit");
    expect(w.get('[data-testid="rate-error"]').text()).toContain("请选择满意度");
    expect(api.POST).toHaveBeenCalledTimes(1);
    await control(w, "rate-basically_satisfied").setValue(true);
    await control(w, "rate-comment").setValue("  处理及时  ");
    api.POST.mockResolvedValueOnce(answer(200, progress({ status: "called_back", rating: "basically_satisfied" })));
    await w.get('[data-testid="form-rate"]').trigger("submit");
    await flushPromises();
    expect(api.POST).toHaveBeenLastCalledWith("/public/track/rate", {
      body: { case_id: "C1", phone_last4: "5678", rating: "basically_satisfied", comment: "处理及时" },
    });
    expect(w.find('[data-testid="rate-thanks"]').exists()).toBe(true);
    expect(w.find('[data-testid="rating"]').exists()).toBe(false);
    expect(w.get('[data-testid="rate-given"]').text()).toContain("基本满意");
  });

  it("shows a refused rating next to the form, and keeps the form", async () => {
    api.POST.mockResolvedValueOnce(answer(200, progress({ status: "verified", rating_open: true })));
    const w = await mountView();
    await lookUp(w, "C1", "5678");
    await control(w, "rate-satisfied").setValue(true);
    api.POST.mockResolvedValueOnce(answer(409, undefined, { rule: "rating.not_open", message: "x" }));
    await w.get('[data-testid="form-rate"]').trigger("submit");
    await flushPromises();
    expect(w.get('[data-testid="action-error"]').text()).toContain("核查后才能评价");
    expect(w.find('[data-testid="form-rate"]').exists()).toBe(true);
    expect(w.find('[data-testid="rate-thanks"]').exists()).toBe(false);
  });

  it("speaks English when asked", async () => {
    setLocale("en");
    api.POST.mockResolvedValue(answer(200, progress()));
    const w = await mountView();
    await lookUp(w, "C1", "5678");
    expect(w.get('[data-testid="case-status"]').text()).toBe("being handled");
    expect(w.get('[data-testid="track-expected"]').text()).toBe("9 Dec 2026");
    expect(w.text()).toContain("sent to 新华街道 to handle");
  });
});
