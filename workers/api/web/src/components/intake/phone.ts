/**
 * The intake rule for a resident's phone number, as the API checks it
 * (``workflows/domain/contact.py``): a Chinese mobile or landline number.
 *
 * * mobile: ``1[3-9]`` and 9 more digits, optionally after ``+86``, ``0086`` or ``86``; single
 *   spaces or hyphens may separate digits;
 * * landline: the area code (``0`` and 2–3 digits, possibly in brackets; or ``+86`` and the code
 *   without its ``0``), a local number of 7–8 digits starting with 2–9 (single spaces or hyphens
 *   between digits), and an optional extension of 1–6 digits after ``-``, ``转`` or ``ext``.
 *
 * Service numbers (12345, 95598, …) are refused: a callback to them cannot reach the caller.
 */

const SEP = "[ -]?";
const COUNTRY = `(?:\\+|00)?86${SEP}`;
const MOBILE = new RegExp(`^(?:${COUNTRY})?1[3-9](?:${SEP}[0-9]){9}$`);
const AREA = `(?:0[0-9]{2,3}|\\(0[0-9]{2,3}\\)|${COUNTRY}[1-9][0-9]{1,2})`;
const LANDLINE = new RegExp(
  `^${AREA}${SEP}[2-9](?:${SEP}[0-9]){6,7}(?:(?:-|转|${SEP}ext\\.?${SEP})[0-9]{1,6})?$`,
  "i",
);

/** Python's ``str.strip()``: blanks at both ends (Unicode whitespace). */
function strip(phone: string): string {
  return phone.replace(/^\s+|\s+$/gu, "");
}

export function isMobile(phone: string): boolean {
  return MOBILE.test(strip(phone));
}

export function isLandline(phone: string): boolean {
  return LANDLINE.test(strip(phone));
}

/** Whether ``phone`` is a Chinese mobile or landline number (the API's rule ``contact.phone``). */
export function isValidPhone(phone: string): boolean {
  return isMobile(phone) || isLandline(phone);
}
