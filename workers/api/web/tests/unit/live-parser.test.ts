import { describe, expect, it } from "vitest";
import { SseParser, parseSse, toNotice } from "@/lib/live";

const READY = 'retry: 3000\nevent: ready\ndata: {"live": true, "principal": "street:S-1"}\n\n';
const CASE =
  'id: ev-1\nevent: case\ndata: {"case_id": "C-1", "seq": 3, "event_id": "ev-1", "type": "case.dispatched", "occurred_at": "2026-11-26T02:00:00+00:00", "unit": "street:S-1"}\n\n';

/** Every way of cutting ``text`` in two, and into single characters. */
function splits(text: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  out.push([...text]);
  return out;
}

describe("SseParser", () => {
  it("reads the API's stream: ready, then case events", () => {
    const events = parseSse(READY + ": ping\n\n" + CASE);
    expect(events.map((e) => e.event)).toEqual(["ready", "case"]);
    expect(events[0].retry).toBe(3000);
    expect(JSON.parse(events[0].data)).toEqual({ live: true, principal: "street:S-1" });
    expect(events[1].id).toBe("ev-1");
    expect(toNotice(events[1].data)).toMatchObject({ case_id: "C-1", seq: 3, type: "case.dispatched", unit: "street:S-1" });
  });

  it("gives the same events wherever the chunks are cut", () => {
    const text = READY + ": ping\n\n" + CASE;
    const whole = parseSse(text);
    for (const chunks of splits(text)) expect(parseSse(chunks)).toEqual(whole);
  });

  it.each([
    ["LF", "\n"],
    ["CRLF", "\r\n"],
    ["CR", "\r"],
  ])("accepts %s line ends, also split between chunks", (_name, eol) => {
    const text = ["event: case", "data: a", "data: b", "", "data: c", "", ""].join(eol);
    const expected = [
      { event: "case", data: "a\nb", id: "" },
      { event: "message", data: "c", id: "" },
    ];
    for (const chunks of splits(text)) expect(parseSse(chunks)).toEqual(expected);
  });

  it("joins multi-line data with newlines and keeps empty data lines", () => {
    expect(parseSse("data: one\ndata:\ndata:  two\n\n")).toEqual([{ event: "message", data: "one\n\n two", id: "" }]);
  });

  it("ignores comments, unknown fields and events without data", () => {
    expect(parseSse(": hello\n\n:ping\nfoo: bar\n\nevent: case\n\nretry: x\n\n")).toEqual([]);
  });

  it("treats a field without a colon as an empty value", () => {
    expect(parseSse("data\n\n")).toEqual([{ event: "message", data: "", id: "" }]);
  });

  it("keeps the last id across events and ignores ids with NUL", () => {
    const events = parseSse("id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\n");
    expect(events.map((e) => e.id)).toEqual(["7", "7", "7"]);
  });

  it("holds an unfinished event until its blank line, and forgets it on reset", () => {
    const p = new SseParser();
    expect(p.push("event: case\ndata: {")).toEqual([]);
    expect(p.push('"case_id": "C-9", "type": "t"}\n')).toEqual([]);
    const [ev] = p.push("\n");
    expect(toNotice(ev.data)?.case_id).toBe("C-9");
    p.push("event: case\ndata: half");
    p.reset();
    expect(p.push("\n\ndata: fresh\n\n")).toEqual([{ event: "message", data: "fresh", id: "" }]);
  });

  it("drops a byte order mark at the start", () => {
    expect(parseSse("\ufeffdata: x\n\n")).toEqual([{ event: "message", data: "x", id: "" }]);
  });

  it("keeps Chinese text intact", () => {
    expect(parseSse(["data: 环境", "局 报到\n\n"])[0].data).toBe("环境局 报到");
  });
});

describe("toNotice", () => {
  it.each(["", "not json", "[]", "null", '{"seq": 1}', '{"case_id": 5, "type": "x"}'])("refuses %j", (data) => {
    expect(toNotice(data)).toBeNull();
  });
  it("keeps the known fields only", () => {
    expect(toNotice('{"case_id": "C-1", "type": "sla.breached", "seq": 9, "clock_kind": "accept", "x": 1}')).toEqual({
      case_id: "C-1",
      seq: 9,
      event_id: undefined,
      type: "sla.breached",
      occurred_at: "",
      unit: undefined,
      clock_kind: "accept",
    });
  });
});
