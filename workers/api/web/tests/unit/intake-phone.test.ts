import { describe, expect, it } from "vitest";
import { isLandline, isMobile, isValidPhone } from "@/components/intake/phone";

// The same classes as the API's rule (tests/unit/test_commands.py, workflows/domain/contact.py).
const MOBILES = [
  "13812345678",
  "19912345678",
  "138 1234 5678",
  "138-1234-5678",
  "+8613812345678",
  "+86 138 1234 5678",
  "86-138-1234-5678",
  "8613812345678",
  " 13812345678 ",
  "0086 13812345678",
  "0086-138-1234-5678",
];
const LANDLINES = [
  "010-62345678",
  "01062345678",
  "0471-6234567",
  "0471 6234567",
  "021-6234-5678",
  "010-62345678-123",
  "010-62345678转123",
  "0471-6234567 ext 8",
  "0471-6234567 EXT. 8",
  "0755-86013388",
  "(010)62345678",
  "(0471) 6234567",
  "(0471)6234567-12",
  "+86 10 62345678",
  "+86-471-6234567",
  "0086 10 6234 5678",
  "86 21 6234 5678",
];
const REFUSED: [string, string][] = [
  ["1-2", "too short"],
  ["", "empty"],
  ["   ", "blank"],
  ["call me", "words"],
  ["12345", "the hotline's own service number"],
  ["95598", "a utility's service number"],
  ["12812345678", "mobile prefix 12"],
  ["1381234567", "10 digits"],
  ["138123456789", "12 digits"],
  ["138  1234 5678", "double space"],
  ["-13812345678", "leading hyphen"],
  ["13812345678-", "trailing hyphen"],
  ["+87 13812345678", "another country"],
  ["010-1234567", "local number starting with 1"],
  ["010--62345678", "double hyphen"],
  ["13８12345678", "a full-width digit"],
  ["１３８12345678", "full-width digits"],
  ["010-623456789", "9-digit local number"],
  ["62345678", "no area code"],
  ["010-62345678-1234567", "7-digit extension"],
  ["010-62345678转", "extension mark without digits"],
  ["+86 010-62345678", "+86 with the area code's 0"],
  ["(010 62345678", "unclosed bracket"],
  ["(10)62345678", "bracketed code without 0"],
  ["+86 0 62345678", "country code then 0"],
  ["000 13812345678", "000 before a mobile"],
  ["13812345678\n13912345678", "two numbers"],
];

describe("the phone rule mirrors the API's", () => {
  it.each(MOBILES)("mobile %j passes", (phone) => {
    expect(isMobile(phone)).toBe(true);
    expect(isValidPhone(phone)).toBe(true);
  });
  it.each(LANDLINES)("landline %j passes", (phone) => {
    expect(isLandline(phone)).toBe(true);
    expect(isValidPhone(phone)).toBe(true);
  });
  it.each(REFUSED)("%j is refused (%s)", (phone) => {
    expect(isValidPhone(phone)).toBe(false);
  });
  it("accepts every mobile prefix 13-19 and refuses 10-12", () => {
    for (let second = 0; second <= 9; second++) {
      expect(isMobile(`1${second}812345678`)).toBe(second >= 3);
    }
  });
  it("takes a local number of 7 or 8 digits only", () => {
    for (let n = 5; n <= 10; n++) {
      const local = "2" + "3".repeat(n - 1);
      expect(isLandline(`0471-${local}`)).toBe(n === 7 || n === 8);
    }
  });
  it("takes an extension of 1 to 6 digits after each separator", () => {
    for (const sep of ["-", "转", " ext ", "ext", " ext. "]) {
      for (let n = 0; n <= 7; n++) {
        expect(isLandline(`010-62345678${sep}${"9".repeat(n)}`)).toBe(n >= 1 && n <= 6);
      }
    }
  });
});
