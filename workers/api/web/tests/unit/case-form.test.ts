import { describe, expect, it } from "vitest";
import { ApiError } from "@/api/client";
import {
  ADDRESS_MAX,
  ONE_OF,
  WIDGETS,
  coordinate,
  emptyPlace,
  fieldsOf,
  initialValues,
  isoDuration,
  messageFor,
  placeBody,
  placeGiven,
  splitErrors,
  toBody,
  validate,
  type FieldSpec,
  type PlaceValue,
  type Values,
} from "@/components/case/form";
import fixture from "./case-actions.fixture.json";
import corrections from "./case-corrections.fixture.json";

type Fixture = { actions: Array<{ name: string; path: string; form: Record<string, unknown> }> };
const CATALOGUE = (fixture as Fixture).actions;
/** The catalogue's forms, the correction forms (改类, 加急 / 降级, 改址) among them. */
const ACTIONS = [...CATALOGUE, ...(corrections as Fixture).actions.filter((c) => !CATALOGUE.some((a) => a.name === c.name))];
const form = (name: string) => fieldsOf(ACTIONS.find((a) => a.name === name)!.form);
const field = (fields: FieldSpec[], name: string) => fields.find((f) => f.name === name)!;

/** A value a person could type or pick for each widget. */
function filled(fields: FieldSpec[]): Values {
  const v = initialValues(fields);
  for (const f of fields) {
    switch (f.widget) {
      case "text":
      case "textarea":
        v[f.name] = `  ${f.labelEn} text  `;
        break;
      case "case":
        v[f.name] = "C0000000000A1";
        break;
      case "choice":
        v[f.name] = f.catalogue ? "garbage" : f.choices[0].value;
        break;
      case "bool":
        v[f.name] = false;
        break;
      case "location":
        v[f.name] = { mode: "place", text: " 青城花园3号楼 ", grid_id: "G-0101", lat: null, lon: null };
        break;
      case "unit":
        v[f.name] = { kind: f.unitKinds[0], id: "S-0101" };
        break;
      case "tasks":
        v[f.name] = [
          { department_id: "environment", task: " 执法 " },
          { department_id: "water", task: "查管" },
        ];
        break;
      case "duration":
        v[f.name] = { days: 1, hours: 4 };
        break;
      case "refs":
        v[f.name] = [" photo-1.jpg ", "", "doc-2"];
        break;
      case "member":
        v[f.name] = " gw-0101 ";
        break;
      case "section":
        v[f.name] = "S-0101.env";
        break;
      case "team":
        v[f.name] = " VT-0101 ";
        break;
    }
  }
  return v;
}

describe("every action of the catalogue gets its form", () => {
  it("has the whole catalogue in the fixture", () => {
    expect(ACTIONS.map((a) => a.name)).toEqual(expect.arrayContaining(["accept", "whistle", "callback", "close", "supervise"]));
    expect(ACTIONS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(ACTIONS.map((a) => [a.name, a] as const))("%s: labels, known widgets, an empty form that validates to the required fields", (_, a) => {
    const fields = fieldsOf(a.form);
    const props = Object.keys((a.form as { properties: object }).properties);
    expect(fields.map((f) => f.name)).toEqual(props);
    for (const f of fields) {
      expect(WIDGETS).toContain(f.widget);
      expect(f.labelZh).toMatch(/[\u4e00-\u9fff]/);
      expect(f.labelEn).toMatch(/^[A-Z]/);
      if (f.widget === "choice" && f.catalogue) {
        expect(f.choices).toEqual([]); // the city catalogue's codes, from the registry
      } else if (f.widget === "choice") {
        expect(f.choices.length).toBeGreaterThan(0);
        for (const c of f.choices) expect(c.zh).toMatch(/[\u4e00-\u9fff]/); // every choice has Chinese words
      }
    }
    const empty = validate(fields, initialValues(fields));
    const flagged = new Set(Object.keys(empty).map((k) => k.split(".")[0]));
    for (const f of fields) {
      // a required field without a default must be filled in; an optional one never blocks
      const hasDefault = f.default !== undefined && f.default !== null;
      if (!f.required || hasDefault) expect(flagged.has(f.name), `${a.name}.${f.name}`).toBe(false);
      else expect(flagged.has(f.name), `${a.name}.${f.name}`).toBe(true);
    }
    const full = filled(fields);
    expect(validate(fields, full)).toEqual({});
    expect(validate(fields, full, "zh-CN", a.name)).toEqual({}); // the rules across fields too
    const body = toBody(fields, full);
    for (const f of fields) expect(body, `${a.name}.${f.name}`).toHaveProperty(f.name);
  });

  it("covers every widget somewhere in the catalogue", () => {
    const used = new Set(ACTIONS.flatMap((a) => fieldsOf(a.form).map((f) => f.widget)));
    expect([...used].sort()).toEqual([...WIDGETS].filter((w) => w !== "text").sort());
  });
});

describe("value → request body, widget by widget", () => {
  it("trims text, leaves out optional empty text, keeps required text", () => {
    const f = form("resolve");
    expect(toBody(f, { ...initialValues(f), notes: "  修好了 " })).toEqual({ notes: "修好了" });
    const n = form("register");
    expect(toBody(n, initialValues(n))).toEqual({});
    expect(toBody(n, { note: " 已核实 " })).toEqual({ note: "已核实" });
  });
  it("sends choices and booleans as chosen, with Chinese words for the choices", () => {
    const f = form("callback");
    const rating = field(f, "rating");
    expect(rating.choices.map((c) => c.zh)).toEqual(["满意", "基本满意", "不满意", "无法联系"]);
    expect(initialValues(f).resolved).toBe(true); // the schema's default
    expect(toBody(f, { rating: "unsatisfied", resolved: false, comment: "" })).toEqual({ rating: "unsatisfied", resolved: false });
    expect(field(form("return"), "reason_code").choices.map((c) => c.zh)).toEqual(["属地不符", "权属不清", "职能交叉", "其他"]);
    expect(field(form("review_return"), "decision").choices.map((c) => c.zh)).toEqual(["改派其他单位", "维持原派（审定）"]);
    expect(field(form("close"), "closure_type").choices.map((c) => c.value)).toEqual(["normal", "overdue", "error", "special"]);
    expect(field(form("supervise"), "level").choices.map((c) => c.zh)).toEqual(["催办", "督办", "通报"]);
    expect(initialValues(form("supervise")).level).toBe("supervision");
  });
  it("sends a unit as {kind, id}, and offers no hotline", () => {
    const f = form("dispatch");
    expect(field(f, "unit").unitKinds).toEqual(["grid", "street", "department"]);
    expect(field(form("review_return"), "redispatch_to").unitKinds).toEqual(["grid", "street", "department"]);
    const d = form("delegate");
    expect(field(d, "unit").unitKinds).toEqual(["property"]); // the schema's x-unit-kinds
    expect(toBody(d, { ...initialValues(d), unit: { kind: "property", id: "PC-01" } }).unit).toEqual({ kind: "property", id: "PC-01" });
    expect(toBody(f, { unit: { kind: "street", id: "S-0101" }, note: "" })).toEqual({ unit: { kind: "street", id: "S-0101" } });
    const r = form("review_return");
    expect(toBody(r, { decision: "insist", ruling: "属本街道", redispatch_to: null })).toEqual({ decision: "insist", ruling: "属本街道" });
  });
  it("sends a volunteer team as its id, trimmed, and asks for one", () => {
    const f = form("call_volunteers");
    expect(field(f, "team_id").widget).toBe("team");
    expect(validate(f, initialValues(f)).team_id).toBeTruthy();
    expect(validate(f, initialValues(f), "en").team_id).toMatch(/^Choose /);
    expect(toBody(f, { ...initialValues(f), team_id: " VT-0101 " }).team_id).toBe("VT-0101");
  });
  it("sends the whistle's rows as tasks", () => {
    const f = form("whistle");
    const body = toBody(f, { tasks: [{ department_id: "environment", task: " 执法 " }, { department_id: "water", task: "查管" }], reason: "" });
    expect(body).toEqual({ tasks: [{ department_id: "environment", task: "执法" }, { department_id: "water", task: "查管" }] });
  });
  it("summons a property company beside departments, each unit once", () => {
    const f = form("whistle");
    const rows = [
      { department_id: "environment", task: "执法", unit_kind: "department" as const },
      { department_id: "P-0101-01", task: " 看护现场 ", unit_kind: "property" as const },
    ];
    expect(toBody(f, { tasks: rows, reason: "" }).tasks).toEqual([
      { department_id: "environment", task: "执法" },
      { department_id: "P-0101-01", task: "看护现场", unit_kind: "property" },
    ]);
    expect(validate(f, { tasks: rows, reason: "" })).toEqual({});
    const twice = [...rows, { department_id: "P-0101-01", task: "再来", unit_kind: "property" as const }];
    expect(Object.keys(validate(f, { tasks: twice, reason: "" }))).toEqual(["tasks.2.department_id"]);
    // the same id as a department and as a company are two units
    const both = [rows[0], { department_id: "environment", task: "x", unit_kind: "property" as const }];
    expect(validate(f, { tasks: both, reason: "" })).toEqual({});
  });
  it("sends evidence references without blanks", () => {
    const f = form("complete_task");
    expect(toBody(f, { result: "已停工", evidence: [" a.jpg", " ", "b.pdf "] })).toEqual({ result: "已停工", evidence: ["a.jpg", "b.pdf"] });
    expect(toBody(f, { result: "已停工", evidence: [] })).toEqual({ result: "已停工" });
  });
  it.each([
    [{ days: 2, hours: 0 }, "P2D"],
    [{ days: 0, hours: 4 }, "PT4H"],
    [{ days: 1, hours: 2 }, "P1DT2H"],
    [{ days: 0, hours: 0 }, "PT0S"],
    [{ days: 1.7, hours: -3 }, "P1D"],
  ])("turns %o into the ISO 8601 duration %s", (d, iso) => {
    expect(isoDuration(d)).toBe(iso);
    expect(toBody(form("request_extension"), { extra: d, reason: "需协调" }).extra).toBe(iso);
  });
});

describe("validation messages", () => {
  it("names the field, in the page's language", () => {
    const f = form("return");
    expect(validate(f, initialValues(f))).toEqual({ reason_code: "请选择退单原因", reason: "请填写理由" });
    expect(validate(f, initialValues(f), "en")).toEqual({ reason_code: "Choose reason code", reason: "Reason is required" });
  });
  it("asks for a yes or no on a required boolean, never assumes one", () => {
    const f = form("verify");
    expect(initialValues(f).passed).toBeNull();
    expect(validate(f, initialValues(f))).toEqual({ passed: "请选择核查通过" });
    expect(validate(f, { ...initialValues(f), passed: false })).toEqual({});
  });
  it("checks each whistle row: a department, a task, no department twice", () => {
    const f = form("whistle");
    const errors = validate(f, {
      tasks: [
        { department_id: "", task: "x" },
        { department_id: "water", task: " " },
        { department_id: "water", task: "y" },
      ],
      reason: "",
    });
    expect(errors).toEqual({ "tasks.0.department_id": "请选择部门", "tasks.1.task": "请填写任务", "tasks.2.department_id": "同一部门只能召集一次" });
    expect(validate(f, { tasks: [], reason: "" })).toHaveProperty("tasks");
  });
  it("wants some extra time on an extension, and a case id that the API takes", () => {
    const e = form("request_extension");
    expect(validate(e, { extra: { days: 0, hours: 0 }, reason: "x" })).toEqual({ extra: "请填写延长的天数或小时数" });
    const m = form("merge");
    expect(validate(m, { into_case_id: "C 1" })).toHaveProperty("into_case_id");
    expect(validate(m, { into_case_id: "C0000000000A1" })).toEqual({});
  });
  it("refuses text longer than the schema allows", () => {
    const f = form("reject");
    expect(validate(f, { reason: "长".repeat(4001) }).reason).toContain("4000");
  });
});

describe("API refusals go next to what they name", () => {
  const f = form("whistle");
  it("puts a 422 on its field, nested paths included", () => {
    const err = new ApiError(422, {
      errors: [
        { field: "body.tasks.1.department_id", rule: "registry.unknown_unit", message: "the registry has no department 'x'" },
        { field: "header.request-id", rule: "string_pattern_mismatch", message: "bad id" },
      ],
    });
    const split = splitErrors(err, f);
    expect(split.fields).toEqual({ "tasks.1.department_id": "the registry has no department 'x'" });
    expect(split.action).toBe("bad id");
    expect(messageFor(split.fields, "tasks")).toBe("the registry has no department 'x'");
    expect(messageFor(split.fields, "tasks", true)).toBeUndefined(); // the row shows it itself
  });
  it("puts a 409 or 403 on the action", () => {
    for (const status of [409, 403]) {
      const split = splitErrors(new ApiError(status, { rule: "status.not_allowed", message: "已办结的案件不能吹哨" }), f);
      expect(split).toEqual({ fields: {}, action: "已办结的案件不能吹哨" });
    }
  });
});

describe("work inside a unit: assign, reassign, take", () => {
  const HANDLER_OR_SECTION = "请指定承办人或科室（至少一项）";

  it("reads the member and section widgets from the schema", () => {
    for (const name of ["assign", "reassign"]) {
      const f = form(name);
      const handler = field(f, "handler");
      expect(handler).toMatchObject({ widget: "member", labelZh: "承办人", labelEn: "Handler", required: false, nullable: true, maxLength: 128 });
      const section = field(f, "section_id");
      expect(section).toMatchObject({ widget: "section", labelZh: "科室", labelEn: "Section", required: false, nullable: true, maxLength: 64 });
      expect(section.pattern).toBe("^[A-Za-z0-9][A-Za-z0-9_.-]*$");
      expect(initialValues(f)).toMatchObject({ handler: "", section_id: "" });
    }
    expect(field(form("reassign"), "reason")).toMatchObject({ widget: "textarea", required: true });
    expect(form("take").map((f) => [f.name, f.widget])).toEqual([["note", "textarea"]]);
    expect(ONE_OF).toEqual({ assign: ["handler", "section_id"], reassign: ["handler", "section_id"] });
  });

  it("sends the member as {person_id}, the section as its id, and leaves empty picks out", () => {
    const f = form("assign");
    expect(toBody(f, { handler: " gw-0101 ", section_id: "", note: "" })).toEqual({ handler: { person_id: "gw-0101" } });
    expect(toBody(f, { handler: "", section_id: " env ", note: "" })).toEqual({ section_id: "env" });
    expect(toBody(f, { handler: "gw-0101", section_id: "env", note: " 请跟进 " })).toEqual({
      handler: { person_id: "gw-0101" },
      section_id: "env",
      note: "请跟进",
    });
    expect(toBody(f, initialValues(f))).toEqual({}); // nothing picked: nothing sent (the check refuses it first)
    const r = form("reassign");
    expect(toBody(r, { handler: "st-2", section_id: "", reason: " 工作调整 " })).toEqual({ handler: { person_id: "st-2" }, reason: "工作调整" });
    expect(toBody(form("take"), { note: "" })).toEqual({});
  });

  it("wants a handler or a section on assign and reassign, in the page's language", () => {
    const a = form("assign");
    expect(validate(a, initialValues(a), "zh-CN", "assign")).toEqual({ handler: HANDLER_OR_SECTION });
    expect(validate(a, initialValues(a), "en", "assign")).toEqual({ handler: "Name a handler (a member of the unit), a section, or both" });
    expect(validate(a, { ...initialValues(a), handler: "   " }, "zh-CN", "assign")).toEqual({ handler: HANDLER_OR_SECTION });
    expect(validate(a, { ...initialValues(a), handler: "gw-0101" }, "zh-CN", "assign")).toEqual({});
    expect(validate(a, { ...initialValues(a), section_id: "env" }, "zh-CN", "assign")).toEqual({});
    expect(validate(a, initialValues(a))).toEqual({}); // without the action's name: the fields alone
    const r = form("reassign");
    expect(validate(r, initialValues(r), "zh-CN", "reassign")).toEqual({ handler: HANDLER_OR_SECTION, reason: "请填写理由" });
    expect(validate(r, { handler: "", section_id: "env", reason: "调整" }, "zh-CN", "reassign")).toEqual({});
    const take = form("take");
    expect(validate(take, initialValues(take), "zh-CN", "take")).toEqual({});
  });

  it("checks a typed section id and person id as the API would", () => {
    const a = form("assign");
    expect(validate(a, { handler: "", section_id: "科室 1", note: "" }, "zh-CN", "assign").section_id).toContain("科室编号");
    expect(validate(a, { handler: "", section_id: "-env", note: "" }, "en", "assign").section_id).toContain("section id");
    expect(validate(a, { handler: "", section_id: "e".repeat(65), note: "" }).section_id).toContain("64");
    expect(validate(a, { handler: "p".repeat(129), section_id: "", note: "" }).handler).toContain("128");
  });

  it("names the handler-or-section refusal of the API on the action", () => {
    const err = new ApiError(422, {
      errors: [{ field: "body", rule: "value_error", message: "name a handler (a member of the unit), a section (科室), or both" }],
    });
    expect(splitErrors(err, form("assign"))).toEqual({ fields: {}, action: "name a handler (a member of the unit), a section (科室), or both" });
    const unknown = new ApiError(422, {
      errors: [{ field: "body.handler.person_id", rule: "registry.unknown_person", message: "the user directory has no active user 'x'" }],
    });
    const split = splitErrors(unknown, form("assign"));
    expect(messageFor(split.fields, "handler")).toBe("the user directory has no active user 'x'");
  });
});

describe("corrections: the category, the urgency and the place", () => {
  const place = (over: Partial<PlaceValue>): PlaceValue => ({ ...emptyPlace(), ...over });

  it("reads the catalogue choice, the urgency choice and the location widget from the schema", () => {
    const category = field(form("reclassify"), "category");
    expect(category).toMatchObject({ widget: "choice", catalogue: true, choices: [], required: true, maxLength: 64 });
    expect(initialValues(form("reclassify")).category).toBe("");
    const urgency = field(form("set_urgency"), "urgency");
    expect(urgency.catalogue).toBe(false);
    expect(urgency.choices).toEqual([
      { value: "urgent", zh: "紧急", en: "Urgent" },
      { value: "ordinary", zh: "普通", en: "Ordinary" },
    ]);
    const location = field(form("relocate"), "location");
    expect(location).toMatchObject({ widget: "location", labelZh: "位置", labelEn: "Location", required: true, catalogue: false });
    expect(initialValues(form("relocate")).location).toEqual(emptyPlace());
    // the catalogue flag follows the schema, not the field's name
    for (const a of ACTIONS) {
      for (const f of fieldsOf(a.form)) expect(f.catalogue, `${a.name}.${f.name}`).toBe(f.widget === "choice" && f.choices.length === 0);
    }
  });

  it.each<[string, PlaceValue, Record<string, unknown>]>([
    ["a picked grid with its address", place({ text: " 青城花园3号楼 ", grid_id: "G-0101" }), { grid_id: "G-0101", address: "青城花园3号楼" }],
    ["a picked grid by its id", place({ text: "G-0101", grid_id: "G-0101" }), { grid_id: "G-0101" }],
    ["a picked grid, its text cleared", place({ text: "  ", grid_id: "G-0101" }), { grid_id: "G-0101" }],
    ["an address for the registry to match", place({ text: " 新华广场东门 " }), { address: "新华广场东门" }],
    ["a point", place({ mode: "point", lat: 40.8123, lon: 111.6543 }), { lat: 40.8123, lon: 111.6543 }],
    ["a point, the text typed before left out", place({ mode: "point", text: "青城", grid_id: "G-1", lat: -90, lon: 180 }), { lat: -90, lon: 180 }],
  ])("sends %s as intake takes a location", (_, value, location) => {
    const f = form("relocate");
    expect(validate(f, { location: value, reason: "地址有误" })).toEqual({});
    expect(toBody(f, { location: value, reason: " 地址有误 " })).toEqual({ location, reason: "地址有误" });
    expect(placeBody(value)).toEqual(location);
  });

  it.each<[string, PlaceValue, string, string]>([
    ["nothing", emptyPlace(), "请选择或填写位置", "Pick or type the place"],
    ["only blanks", place({ text: "   " }), "请选择或填写位置", "Pick or type the place"],
    ["a point without its longitude", place({ mode: "point", lat: 40.8 }), "请填写有效的纬度（-90～90）和经度（-180～180）", "Give a latitude (-90 to 90) and a longitude (-180 to 180)"],
    ["a latitude out of range", place({ mode: "point", lat: 91, lon: 111 }), "请填写有效的纬度（-90～90）和经度（-180～180）", "Give a latitude (-90 to 90) and a longitude (-180 to 180)"],
    ["a longitude out of range", place({ mode: "point", lat: 40, lon: -180.5 }), "请填写有效的纬度（-90～90）和经度（-180～180）", "Give a latitude (-90 to 90) and a longitude (-180 to 180)"],
    ["text that is not a number", place({ mode: "point", lat: coordinate("北纬40"), lon: coordinate("111.6") }), "请填写有效的纬度（-90～90）和经度（-180～180）", "Give a latitude (-90 to 90) and a longitude (-180 to 180)"],
    ["an address too long", place({ text: "路".repeat(ADDRESS_MAX + 1) }), `地址不能超过 ${ADDRESS_MAX} 字`, `Address: at most ${ADDRESS_MAX} characters`],
  ])("refuses %s before sending", (_, value, zh, en) => {
    const f = form("relocate");
    expect(validate(f, { location: value, reason: "x" })).toEqual({ location: zh });
    expect(validate(f, { location: value, reason: "x" }, "en")).toEqual({ location: en });
  });

  it("reads coordinates as typed", () => {
    expect(coordinate(" 40.81 ")).toBe(40.81);
    expect(coordinate("-111.5")).toBe(-111.5);
    expect(coordinate("")).toBeNull();
    expect(coordinate("  ")).toBeNull();
    expect(Number.isNaN(coordinate("40,81"))).toBe(true);
    expect(placeGiven(place({ mode: "point", lat: coordinate("x"), lon: null }))).toBe(true); // given, and wrong
  });

  it("wants a category and sends its code", () => {
    const f = form("reclassify");
    expect(validate(f, initialValues(f))).toEqual({ category: "请选择类别", reason: "请填写理由" });
    expect(toBody(f, { category: "garbage", reason: " 实为垃圾清运 " })).toEqual({ category: "garbage", reason: "实为垃圾清运" });
    const u = form("set_urgency");
    expect(validate(u, initialValues(u), "en")).toEqual({ urgency: "Choose urgency", reason: "Reason is required" });
    expect(toBody(u, { urgency: "urgent", reason: "涉及安全" })).toEqual({ urgency: "urgent", reason: "涉及安全" });
  });

  it("puts the registry's refusals next to the place and the category", () => {
    const place422 = new ApiError(422, {
      errors: [{ field: "body.location.grid_id", rule: "registry.unknown_location", message: "unknown grid 'G-404'" }],
    });
    const split = splitErrors(place422, form("relocate"));
    expect(split).toEqual({ fields: { "location.grid_id": "unknown grid 'G-404'" }, action: null });
    expect(messageFor(split.fields, "location")).toBe("unknown grid 'G-404'");
    const outside = new ApiError(422, {
      errors: [{ field: "body.location", rule: "registry.unknown_location", message: "point (lat 1, lon 2) lies outside every grid" }],
    });
    expect(messageFor(splitErrors(outside, form("relocate")).fields, "location")).toBe("point (lat 1, lon 2) lies outside every grid");
    const category = new ApiError(422, {
      errors: [{ field: "body.category", rule: "registry.unknown_category", message: "the city catalogue has no category 'x'" }],
    });
    expect(splitErrors(category, form("reclassify")).fields).toEqual({ category: "the city catalogue has no category 'x'" });
  });
});
