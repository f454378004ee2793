import { describe, expect, it } from "vitest";
import { buildIndex, filterIndex, normalize, searchKey, terms } from "@/lib/filter";

interface Row {
  id: string;
  title: string;
  street: string;
  grid?: string | null;
}

const rows: Row[] = [
  { id: "C1A2B3C4D5E6", title: "夜间施工噪音扰民", street: "锦华街道", grid: "锦华花园" },
  { id: "C000000000FF", title: "垃圾清运不及时", street: "锦华街道", grid: null },
  { id: "CABCDEF01234", title: "Street light broken", street: "东湖街道", grid: "东湖小区" },
  { id: "C99", title: "路灯不亮 噪音", street: "东湖街道" },
];
const index = buildIndex(rows, (r) => [r.id, r.title, r.street, r.grid]);
const ids = (q: string) => filterIndex(index, q).map((r) => r.id);

describe("normalize and terms", () => {
  it.each([
    ["  ABC  ", "abc"],
    ["ＡＢＣ１２３", "abc123"], // full-width letters and digits
    ["噪音", "噪音"],
    ["", ""],
  ])("normalize(%j) = %j", (input, out) => expect(normalize(input)).toBe(out));

  it.each([
    ["", []],
    ["   ", []],
    ["噪音", ["噪音"]],
    ["噪音  锦华", ["噪音", "锦华"]],
    ["噪音\t噪音", ["噪音"]],
    ["噪 噪音", ["噪音"]], // a term inside another is implied by it
    ["\u0001", []], // the key separator is never a term
  ])("terms(%j) = %j", (q, out) => expect(terms(q)).toEqual(out));
});

describe("searchKey", () => {
  it("skips missing parts and keeps parts apart", () => {
    const key = searchKey(["AB", null, undefined, "", 12, "CD"]);
    expect(key.includes("ab")).toBe(true);
    expect(key.includes("12")).toBe(true);
    expect(key.includes("bc")).toBe(false); // no match across two parts
    expect(key.includes("ab12")).toBe(false);
  });
});

describe("filterIndex", () => {
  it("returns every row, in order, for an empty or blank query", () => {
    expect(ids("")).toEqual(rows.map((r) => r.id));
    expect(ids("   ")).toEqual(rows.map((r) => r.id));
  });

  it.each([
    ["噪音", ["C1A2B3C4D5E6", "C99"]],
    ["锦华", ["C1A2B3C4D5E6", "C000000000FF"]],
    ["锦华花园", ["C1A2B3C4D5E6"]],
    ["噪音 东湖", ["C99"]], // every term must match
    ["噪音 西山", []],
    ["c1a2", ["C1A2B3C4D5E6"]], // ids, case-insensitive
    ["C1A2B3C4D5E6", ["C1A2B3C4D5E6"]],
    ["ｃ１ａ２", ["C1A2B3C4D5E6"]], // full-width input
    ["LIGHT", ["CABCDEF01234"]],
    ["light broken", ["CABCDEF01234"]],
    ["broken light", ["CABCDEF01234"]], // order of terms does not matter
    ["ff", ["C000000000FF"]],
    ["街道", rows.map((r) => r.id)],
    ["不存在", []],
  ])("%j finds %j", (q, expected) => expect(ids(q)).toEqual(expected));

  it("does not match across the parts of a key", () => {
    // "锦华街道" then "锦华花园": "街道锦华" only exists across two parts
    expect(ids("街道锦华")).toEqual([]);
  });

  it("filters 5,000 rows correctly", () => {
    const streets = ["锦华街道", "东湖街道", "西山街道", "南门街道", "北港街道"];
    const titles = ["噪音扰民", "垃圾清运", "路灯不亮", "占道经营", "井盖缺失"];
    const big: Row[] = Array.from({ length: 5000 }, (_, i) => ({
      id: `C${i.toString(16).toUpperCase().padStart(11, "0")}`,
      title: `${titles[i % 5]} ${i}号楼`,
      street: streets[Math.floor(i / 5) % 5],
    }));
    const idx = buildIndex(big, (r) => [r.id, r.title, r.street]);
    const naive = (q: string) =>
      big.filter((r) => q.split(/\s+/).filter(Boolean).every((w) => `${r.id}|${r.title}|${r.street}`.toLowerCase().includes(w.toLowerCase())));
    for (const q of ["噪音", "噪音 锦华", "4999号楼", "c00000000ff", "井盖 北港街道", "zzz", "", "号楼"]) {
      expect(filterIndex(idx, q)).toEqual(naive(q));
    }
    expect(filterIndex(idx, "噪音").length).toBe(1000);
    expect(filterIndex(idx, "噪音 锦华").length).toBe(200);
    expect(filterIndex(idx, "4999号楼").map((r) => r.id)).toEqual(["C00000001387"]);
  });
});
