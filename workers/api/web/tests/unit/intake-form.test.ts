import { describe, expect, it } from "vitest";
import {
  SubmissionKey,
  apiProblems,
  channelsFor,
  emptyForm,
  formFieldOf,
  similarText,
  toBody,
  validate,
  type IntakeForm,
  type PickedPlace,
} from "@/components/intake/form";
import { categoryRank, filterCategories, type CategoryItem } from "@/components/intake/catalogue";

const PLACE: PickedPlace = {
  grid_id: "G-01010101",
  grid_name: "人台新村",
  community_name: "永顺社区",
  street_id: "S-0101",
  street_name: "泰结街道",
  address: "泰结街道人台新村3号楼",
  lat: 40.81,
  lon: 111.65,
  picked: false,
};

function filled(overrides: Partial<IntakeForm> = {}): IntakeForm {
  return {
    ...emptyForm("dispatcher"),
    name: "张三",
    phone: "138 1234 5678",
    category: "noise",
    title: "工地夜间施工噪音",
    description: "每晚十点后仍在施工",
    place: PLACE,
    ...overrides,
  };
}

describe("validate", () => {
  it("finds nothing wrong with a complete form", () => {
    expect(validate(filled())).toEqual({});
  });
  it("takes an anonymous call (no name, no phone)", () => {
    expect(validate(filled({ name: "", phone: "" }))).toEqual({});
    expect(validate(filled({ name: "  ", phone: "   " }))).toEqual({});
  });
  it.each([
    ["category", { category: "" }, "intake.error.category"],
    ["title", { title: "" }, "intake.error.required"],
    ["title", { title: "   " }, "intake.error.required"],
    ["title", { title: "长".repeat(201) }, "intake.error.tooLong"],
    ["description", { description: "\n\t" }, "intake.error.required"],
    ["description", { description: "x".repeat(4001) }, "intake.error.tooLong"],
    ["place", { place: null }, "intake.error.place"],
    ["place", { place: { ...PLACE, address: "路".repeat(501) } }, "intake.error.tooLong"],
    ["phone", { phone: "12345" }, "intake.error.phone"],
    ["phone", { phone: "call me" }, "intake.error.phone"],
    ["phone", { phone: "1381234567" }, "intake.error.phone"],
    ["name", { name: "名".repeat(65) }, "intake.error.tooLong"],
  ] as [string, Partial<IntakeForm>, string][])("%s: %j", (field, overrides, key) => {
    expect(validate(filled(overrides))).toEqual({ [field]: key });
  });
  it("reports every problem at once", () => {
    expect(Object.keys(validate(emptyForm("dispatcher"))).sort()).toEqual(["category", "description", "place", "title"]);
  });
  it("accepts the limits exactly", () => {
    expect(validate(filled({ title: "长".repeat(200), description: "x".repeat(4000), name: "名".repeat(64) }))).toEqual({});
  });
});

describe("channels by role", () => {
  it.each([
    ["dispatcher", ["hotline", "web"]],
    ["grid_worker", ["grid_patrol", "proactive"]],
    ["street", ["proactive"]],
    ["community", ["proactive"]],
  ])("%s opens through %j, the first by default", (role, channels) => {
    expect(channelsFor(role)).toEqual(channels);
    expect(emptyForm(role).channel).toBe(channels[0]);
  });
});

describe("toBody", () => {
  it("trims and sends the caller, the place and the defaults", () => {
    const body = toBody(filled({ title: "  工地噪音 ", phone: " 13812345678 " }));
    expect(body).toEqual({
      channel: "hotline",
      category: "noise",
      urgency: "ordinary",
      title: "工地噪音",
      description: "每晚十点后仍在施工",
      location: { grid_id: "G-01010101", address: "泰结街道人台新村3号楼" },
      contact: { name: "张三", phone: "13812345678" },
      attachments: [],
      self_handle: false,
    });
  });
  it("leaves the contact out of an anonymous call, and only the given half otherwise", () => {
    expect(toBody(filled({ name: "", phone: "" })).contact).toBeUndefined();
    expect(toBody(filled({ name: "", phone: "13812345678" })).contact).toEqual({ phone: "13812345678" });
    expect(toBody(filled({ name: "李四", phone: "" })).contact).toEqual({ name: "李四" });
  });
  it("sends the coordinates of a point picked on the map only", () => {
    expect(toBody(filled({ place: { ...PLACE, picked: true } })).location).toEqual({
      grid_id: "G-01010101",
      address: "泰结街道人台新村3号楼",
      lat: 40.81,
      lon: 111.65,
    });
    expect(toBody(filled({ place: { ...PLACE, address: null } })).location).toEqual({ grid_id: "G-01010101" });
  });
  it("refuses a form without a place", () => {
    expect(() => toBody(filled({ place: null }))).toThrow(/place/);
  });
});

describe("the API's field errors land on the form's fields", () => {
  it.each([
    ["body.contact.phone", "phone"],
    ["body.contact.name", "name"],
    ["body.contact", "phone"],
    ["body.category", "category"],
    ["body.location", "place"],
    ["body.location.grid_id", "place"],
    ["body.location.address", "place"],
    ["body.title", "title"],
    ["body.description", "description"],
    ["body.urgency", "urgency"],
    ["body.channel", "channel"],
    ["header.idempotency-key", "general"],
    ["body", "general"],
    ["body.titles", "general"],
  ])("%s → %s", (apiField, field) => {
    expect(formFieldOf(apiField)).toBe(field);
  });
  it("keeps the first message of each field", () => {
    expect(
      apiProblems([
        { field: "body.contact.phone", message: "not a Chinese mobile" },
        { field: "body.location.grid_id", message: "unknown grid" },
        { field: "body.location", message: "second" },
      ]),
    ).toEqual({ phone: "not a Chinese mobile", place: "unknown grid" });
  });
});

describe("one idempotency key per submission", () => {
  it("keeps the key for the same body and makes a new one for another", () => {
    let n = 0;
    const keys = new SubmissionKey(() => `k${++n}`);
    const body = toBody(filled());
    expect(keys.for(body)).toBe("k1");
    expect(keys.for(toBody(filled()))).toBe("k1"); // a double click, a retry
    expect(keys.for(toBody(filled({ title: "另一件事" })))).toBe("k2");
    expect(keys.for(toBody(filled({ title: "另一件事" })))).toBe("k2");
    keys.reset();
    expect(keys.for(toBody(filled({ title: "另一件事" })))).toBe("k3");
  });
});

describe("the text compared with titles", () => {
  it("is the title then the description, trimmed and capped", () => {
    expect(similarText({ title: " 噪音 ", description: " 夜间 " })).toBe("噪音 夜间");
    expect(similarText({ title: "", description: "" })).toBe("");
    expect(similarText({ title: "a".repeat(400), description: "b".repeat(400) })).toHaveLength(500);
  });
});

const CATALOGUE: CategoryItem[] = [
  { code: "noise", name: "Noise nuisance", name_zh: "噪音扰民", group: "环境保护", kind: "event", default_urgency: "ordinary", route: "street", departments: ["environment"], needs_whistle: false },
  { code: "water", name: "Water supply outage", name_zh: "停水", group: "公用事业", kind: "event", default_urgency: "urgent", route: "department", departments: ["water"], needs_whistle: false },
  { code: "water-leak", name: "Water main leak", name_zh: "供水管道漏水", group: "公用事业", kind: "event", default_urgency: "urgent", route: "department", departments: ["water"], needs_whistle: false },
  { code: "illegal-parking", name: "Illegal parking", name_zh: "违规停车", group: "街面秩序", kind: "event", default_urgency: "ordinary", route: "street", departments: ["urban-management"], needs_whistle: true },
];

describe("the category picker's search", () => {
  it.each([
    ["噪音", ["noise"]],
    ["扰民", ["noise"]],
    ["水", ["water", "water-leak"]],
    ["停水", ["water"]],
    ["water", ["water", "water-leak"]],
    ["WATER-LEAK", ["water-leak"]],
    ["parking", ["illegal-parking"]],
    ["公用", ["water", "water-leak"]],
    ["环境", ["noise"]],
    ["ｎｏｉｓｅ", ["noise"]],
    ["火灾", []],
  ])("%s finds %j", (q, codes) => {
    expect(filterCategories(CATALOGUE, q).map((c) => c.code)).toEqual(codes);
  });
  it("lists the whole catalogue for an empty search", () => {
    expect(filterCategories(CATALOGUE, "  ").map((c) => c.code)).toEqual(CATALOGUE.map((c) => c.code));
  });
  it("ranks exact, then prefix, then contained, then group", () => {
    const [noise, water, leak] = CATALOGUE;
    expect(categoryRank(water, "water")).toBe(0);
    expect(categoryRank(leak, "water")).toBe(1);
    expect(categoryRank(noise, "音")).toBe(2);
    expect(categoryRank(noise, "环境保护")).toBe(3);
    expect(filterCategories(CATALOGUE, "漏水").map((c) => c.code)).toEqual(["water-leak"]);
  });
});
