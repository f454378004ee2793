/**
 * The form model of a case action, read from its JSON schema in ``GET /cases/{id}/actions``
 * (``title`` is the Chinese label, ``x-label-en`` the English one, ``x-widget`` the control).
 *
 * Pure functions: {@link fieldsOf} turns the schema into field specs, {@link initialValues} gives
 * the empty form, {@link validate} the messages to show before anything is sent, {@link toBody} the
 * request body, and {@link splitErrors} places an API refusal next to the field it names or next
 * to the action.
 *
 * A ``member`` field (a member of the unit handling the case) holds the person id as the form's
 * value and goes into the body as ``{person_id}`` (the API fills the unit and the name from its
 * user directory); a ``section`` field holds a section (科室) id. Both are picked from lists of the
 * case's unit, or typed when a list cannot be loaded. A ``team`` field holds a volunteer team's id
 * (志愿者队伍, ``call_volunteers``), picked from the teams of the case's community.
 *
 * A ``location`` field (a place of the city registry: ``relocate``) holds a {@link PlaceValue}: a grid
 * picked by address or name, an address text alone, or a point; it goes into the body as intake
 * takes a location (``{grid_id, address}``, ``{address}`` or ``{lat, lon}``) and the API resolves it
 * with the registry. A ``choice`` field whose schema enumerates no values (``reclassify``'s
 * ``category``) takes a category code of the city catalogue (``GET /registry/categories``):
 * {@link FieldSpec.catalogue}.
 */
import type { ApiError } from "@/api/client";
import type { Lang } from "@/lib/time";
import { CHOICE_WORDS, say, type Words } from "./labels";

/** Words for the enumerations of the correction forms (``set_urgency``'s urgency), by ``$defs`` name. */
export const CORRECTION_WORDS: Record<string, Record<string, Words>> = {
  Urgency: {
    urgent: { zh: "紧急", en: "Urgent" },
    ordinary: { zh: "普通", en: "Ordinary" },
  },
};

export type Widget =
  | "text"
  | "textarea"
  | "choice"
  | "bool"
  | "unit"
  | "tasks"
  | "duration"
  | "case"
  | "refs"
  | "member"
  | "section"
  | "team"
  | "location";
export const WIDGETS: readonly Widget[] = [
  "text",
  "textarea",
  "choice",
  "bool",
  "unit",
  "tasks",
  "duration",
  "case",
  "refs",
  "member",
  "section",
  "team",
  "location",
];

export interface Choice {
  value: string;
  zh: string;
  en: string;
}

export interface FieldSpec {
  name: string;
  widget: Widget;
  labelZh: string;
  labelEn: string;
  required: boolean;
  /** The API takes ``null`` for it (an optional note, an optional unit). */
  nullable: boolean;
  choices: Choice[];
  default: unknown;
  maxLength?: number;
  /** The pattern a typed value must match (a section id). */
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  /** Unit kinds a unit field takes (its ``x-unit-kinds``; else the schema's ``UnitKind`` without the hotline). */
  unitKinds: string[];
  /** A choice of the city catalogue's categories (the schema enumerates no values). */
  catalogue: boolean;
}

export interface UnitValue {
  kind: string;
  id: string;
}
export interface TaskRow {
  /** The summoned unit's id: a department's, or a property company's (``unit_kind: "property"``). */
  department_id: string;
  task: string;
  unit_kind?: "department" | "property";
}
export interface DurationValue {
  days: number;
  hours: number;
}
/**
 * A place as the location control holds it. ``place``: the text typed (an address, a name or a grid
 * id) and the grid picked for it from the registry's search, if any; ``point``: a latitude and a
 * longitude.
 */
export interface PlaceValue {
  mode: "place" | "point";
  text: string;
  grid_id: string | null;
  lat: number | null;
  lon: number | null;
}
export type Value = string | boolean | null | UnitValue | TaskRow[] | DurationValue | string[] | PlaceValue;
export type Values = Record<string, Value>;
/** Messages by field path (``reason``, ``tasks.0.department_id``). */
export type FieldErrors = Record<string, string>;

interface JsonSchema {
  type?: string;
  title?: string;
  enum?: string[];
  $ref?: string;
  anyOf?: JsonSchema[];
  default?: unknown;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  $defs?: Record<string, JsonSchema>;
  "x-widget"?: string;
  "x-label-en"?: string;
  "x-unit-kinds"?: string[];
}

/** A case id as the API takes it (``CASE_ID`` in workers/api/deps.py). */
export const CASE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const REF_MAX = 512;
/** An address as the API takes it (``LocationInput.address`` in workers/api/schemas.py). */
export const ADDRESS_MAX = 500;

export function emptyPlace(): PlaceValue {
  return { mode: "place", text: "", grid_id: null, lat: null, lon: null };
}

/** A coordinate as typed: its number, ``NaN`` for text that is not one, ``null`` for a blank. */
export function coordinate(typed: string): number | null {
  const s = typed.trim();
  return s ? Number(s) : null;
}

function isPlace(v: Value | undefined): v is PlaceValue {
  return !!v && typeof v === "object" && !Array.isArray(v) && "mode" in v;
}

function finite(n: number | null): n is number {
  return typeof n === "number" && Number.isFinite(n);
}

/** Whether the place names anything (a grid, a text, or both coordinates). */
export function placeGiven(v: PlaceValue): boolean {
  return v.mode === "point" ? v.lat !== null || v.lon !== null : !!(v.grid_id || v.text.trim());
}

/**
 * The place as the API takes a location: a picked grid with the text typed as its address (left out
 * when it is the grid id itself), an address alone for the registry to match, or a point.
 * ``null``: nothing given.
 */
export function placeBody(v: PlaceValue): Record<string, string | number> | null {
  if (!placeGiven(v)) return null;
  if (v.mode === "point") return { lat: v.lat as number, lon: v.lon as number };
  const text = v.text.trim();
  if (!v.grid_id) return { address: text };
  return text && text !== v.grid_id ? { grid_id: v.grid_id, address: text } : { grid_id: v.grid_id };
}

function defName(ref: string | undefined): string | undefined {
  return ref?.startsWith("#/$defs/") ? ref.slice("#/$defs/".length) : undefined;
}

/** The field specs of an action's form schema, in the schema's order. */
export function fieldsOf(form: unknown): FieldSpec[] {
  const schema = (form ?? {}) as JsonSchema;
  const defs = schema.$defs ?? {};
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => {
    const options = prop.anyOf ?? [prop];
    const nullable = options.some((o) => o.type === "null");
    const main = options.find((o) => o.type !== "null") ?? prop;
    const enumName = defName(main.$ref);
    const values = main.enum ?? (enumName ? defs[enumName]?.enum : undefined) ?? [];
    const words = (enumName && (CHOICE_WORDS[enumName] ?? CORRECTION_WORDS[enumName])) || CHOICE_WORDS[name] || {};
    const widget = (WIDGETS as readonly string[]).includes(prop["x-widget"] ?? "") ? (prop["x-widget"] as Widget) : "text";
    // the kinds the field takes (``x-unit-kinds``), else every kind of the schema but the hotline
    const unitKinds = prop["x-unit-kinds"] ?? (defs.UnitKind?.enum ?? ["grid", "street", "department"]).filter((k) => k !== "hotline");
    // a member is an object of the schema's $defs: its person id's length is the field's
    const target = defName(main.$ref);
    const personId = widget === "member" && target ? defs[target]?.properties?.person_id : undefined;
    return {
      name,
      widget,
      labelZh: prop.title ?? name,
      labelEn: prop["x-label-en"] ?? prop.title ?? name,
      required: required.has(name),
      nullable,
      choices: values.map((v) => ({ value: v, zh: words[v]?.zh ?? v, en: words[v]?.en ?? v })),
      default: prop.default,
      maxLength: personId?.maxLength ?? main.maxLength,
      pattern: widget === "section" ? main.pattern : undefined,
      minItems: prop.minItems,
      maxItems: prop.maxItems,
      unitKinds,
      catalogue: widget === "choice" && values.length === 0,
    };
  });
}

export function label(f: FieldSpec, lang: Lang): string {
  return lang === "zh-CN" ? f.labelZh : f.labelEn;
}

export function choiceLabel(f: FieldSpec, value: string, lang: Lang): string {
  const c = f.choices.find((x) => x.value === value);
  return c ? say(c, lang, value) : value;
}

/** The empty form: each field's schema default, else nothing chosen or typed. */
export function initialValues(fields: FieldSpec[]): Values {
  const out: Values = {};
  for (const f of fields) {
    switch (f.widget) {
      case "bool":
        out[f.name] = typeof f.default === "boolean" ? f.default : null;
        break;
      case "choice":
        out[f.name] = typeof f.default === "string" ? f.default : f.catalogue ? "" : null;
        break;
      case "location":
        out[f.name] = emptyPlace();
        break;
      case "unit":
        out[f.name] = null;
        break;
      case "member":
      case "section":
      case "team":
        out[f.name] = "";
        break;
      case "tasks":
        out[f.name] = [{ department_id: "", task: "" }];
        break;
      case "duration":
        out[f.name] = { days: 0, hours: 0 };
        break;
      case "refs":
        out[f.name] = [];
        break;
      default:
        out[f.name] = typeof f.default === "string" ? f.default : "";
    }
  }
  return out;
}

/** An ISO 8601 duration of whole days and hours: ``P2D``, ``PT4H``, ``P1DT2H`` (``PT0S`` for none). */
export function isoDuration(value: DurationValue): string {
  const days = Math.max(0, Math.floor(value.days || 0));
  const hours = Math.max(0, Math.floor(value.hours || 0));
  if (!days && !hours) return "PT0S";
  return `P${days ? `${days}D` : ""}${hours ? `T${hours}H` : ""}`;
}

const MSG = {
  required: { zh: (l: string) => `请填写${l}`, en: (l: string) => `${l} is required` },
  choose: { zh: (l: string) => `请选择${l}`, en: (l: string) => `Choose ${l.toLowerCase()}` },
  tooLong: { zh: (l: string, n: number) => `${l}不能超过 ${n} 字`, en: (l: string, n: number) => `${l}: at most ${n} characters` },
  department: { zh: () => "请选择部门", en: () => "Choose a department" },
  task: { zh: () => "请填写任务", en: () => "Describe the task" },
  twice: { zh: () => "同一部门只能召集一次", en: () => "This department is already summoned" },
  tooMany: { zh: (l: string, n: number) => `${l}最多 ${n} 项`, en: (l: string, n: number) => `${l}: at most ${n}` },
  duration: { zh: () => "请填写延长的天数或小时数", en: () => "Give the extra days or hours" },
  caseId: { zh: () => "案件编号只能含字母、数字、- _ .", en: () => "A case id has letters, digits, - _ . only" },
  ref: { zh: () => `每条材料引用不超过 ${REF_MAX} 字`, en: () => `Each reference: at most ${REF_MAX} characters` },
  sectionId: {
    zh: () => "科室编号只能以字母或数字开头，含字母、数字、- _ .",
    en: () => "A section id starts with a letter or digit and has letters, digits, - _ . only",
  },
  place: { zh: () => "请选择或填写位置", en: () => "Pick or type the place" },
  point: { zh: () => "请填写有效的纬度（-90～90）和经度（-180～180）", en: () => "Give a latitude (-90 to 90) and a longitude (-180 to 180)" },
  address: { zh: () => `地址不能超过 ${ADDRESS_MAX} 字`, en: () => `Address: at most ${ADDRESS_MAX} characters` },
  handlerOrSection: {
    zh: () => "请指定承办人或科室（至少一项）",
    en: () => "Name a handler (a member of the unit), a section, or both",
  },
};

/**
 * Fields of which an action needs at least one filled in, by action (the command's own check:
 * ``_Assignment`` in workflows/domain/commands.py; the API answers 422 without them). The message
 * goes next to the first of them.
 */
export const ONE_OF: Readonly<Record<string, readonly string[]>> = {
  assign: ["handler", "section_id"],
  reassign: ["handler", "section_id"],
};

function m<K extends keyof typeof MSG>(key: K, lang: Lang, ...args: Parameters<(typeof MSG)[K]["zh"]>): string {
  const fn = MSG[key][lang === "zh-CN" ? "zh" : "en"] as (...a: unknown[]) => string;
  return fn(...args);
}

function text(v: Value | undefined): string {
  return typeof v === "string" ? v.trim() : "";
}

/** What is wrong with the form before it is sent (empty when it may be sent). ``action``: the
 *  action's name, for the rules across its fields ({@link ONE_OF}). */
export function validate(fields: FieldSpec[], values: Values, lang: Lang = "zh-CN", action?: string): FieldErrors {
  const errors: FieldErrors = {};
  for (const f of fields) {
    const v = values[f.name];
    const l = label(f, lang);
    switch (f.widget) {
      case "text":
      case "textarea":
      case "case": {
        const s = text(v);
        if (!s) {
          if (f.required) errors[f.name] = m("required", lang, l);
        } else if (f.maxLength && s.length > f.maxLength) errors[f.name] = m("tooLong", lang, l, f.maxLength);
        else if (f.widget === "case" && !CASE_ID.test(s)) errors[f.name] = m("caseId", lang);
        break;
      }
      case "member":
      case "section":
      case "team": {
        const s = text(v);
        if (!s) {
          if (f.required) errors[f.name] = m("choose", lang, l);
        } else if (f.maxLength && s.length > f.maxLength) errors[f.name] = m("tooLong", lang, l, f.maxLength);
        else if (f.pattern && !new RegExp(f.pattern).test(s)) errors[f.name] = m("sectionId", lang);
        break;
      }
      case "choice":
        if (f.required && (typeof v !== "string" || !v)) errors[f.name] = m("choose", lang, l);
        break;
      case "bool":
        if (f.required && typeof v !== "boolean") errors[f.name] = m("choose", lang, l);
        break;
      case "unit":
        if (f.required && !(v && typeof v === "object" && "id" in v && v.id)) errors[f.name] = m("choose", lang, l);
        break;
      case "location": {
        const p = isPlace(v) ? v : emptyPlace();
        if (!placeGiven(p)) {
          if (f.required) errors[f.name] = m("place", lang);
        } else if (p.mode === "point") {
          const okLat = finite(p.lat) && p.lat >= -90 && p.lat <= 90;
          const okLon = finite(p.lon) && p.lon >= -180 && p.lon <= 180;
          if (!okLat || !okLon) errors[f.name] = m("point", lang);
        } else if (p.text.trim().length > ADDRESS_MAX) errors[f.name] = m("address", lang);
        break;
      }
      case "tasks": {
        const rows = Array.isArray(v) ? (v as TaskRow[]) : [];
        const seen = new Set<string>();
        rows.forEach((row, i) => {
          const key = `${row.unit_kind ?? "department"}:${row.department_id}`;
          if (!row.department_id) errors[`${f.name}.${i}.department_id`] = m("department", lang);
          else if (seen.has(key)) errors[`${f.name}.${i}.department_id`] = m("twice", lang);
          seen.add(key);
          if (!row.task.trim()) errors[`${f.name}.${i}.task`] = m("task", lang);
        });
        if (rows.length < (f.minItems ?? (f.required ? 1 : 0))) errors[f.name] = m("department", lang);
        if (f.maxItems && rows.length > f.maxItems) errors[f.name] = m("tooMany", lang, l, f.maxItems);
        break;
      }
      case "duration": {
        const d = (v ?? { days: 0, hours: 0 }) as DurationValue;
        if (f.required && isoDuration(d) === "PT0S") errors[f.name] = m("duration", lang);
        break;
      }
      case "refs": {
        const refs = Array.isArray(v) ? (v as string[]) : [];
        if (refs.some((r) => r.trim().length > REF_MAX)) errors[f.name] = m("ref", lang);
        else if (f.maxItems && refs.filter((r) => r.trim()).length > f.maxItems) errors[f.name] = m("tooMany", lang, l, f.maxItems);
        break;
      }
    }
  }
  const group = (action && ONE_OF[action]) || [];
  const present = group.filter((name) => fields.some((f) => f.name === name));
  if (present.length && present.every((name) => isEmpty(values[name]))) {
    errors[present[0]] = errors[present[0]] ?? m("handlerOrSection", lang);
  }
  return errors;
}

/** Nothing picked or typed (an empty text, an unpicked unit). */
function isEmpty(v: Value | undefined): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === "string") return !v.trim();
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object" && "id" in v) return !v.id;
  if (isPlace(v)) return !placeGiven(v);
  return false;
}

/** The request body of the form: typed text trimmed; an optional field left empty is left out
 *  (the API applies its default). */
export function toBody(fields: FieldSpec[], values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.name];
    switch (f.widget) {
      case "text":
      case "textarea":
      case "case": {
        const s = text(v);
        if (s || f.required) body[f.name] = s;
        break;
      }
      case "choice":
        if (typeof v === "string" && v) body[f.name] = v;
        break;
      case "bool":
        if (typeof v === "boolean") body[f.name] = v;
        break;
      case "unit":
        if (v && typeof v === "object" && "id" in v && v.id) body[f.name] = { kind: v.kind, id: v.id };
        break;
      case "location": {
        const place = isPlace(v) ? placeBody(v) : null;
        if (place) body[f.name] = place;
        break;
      }
      case "member": {
        const s = text(v);
        if (s) body[f.name] = { person_id: s };
        break;
      }
      case "section":
      case "team": {
        const s = text(v);
        if (s || f.required) body[f.name] = s;
        break;
      }
      case "tasks":
        body[f.name] = ((v as TaskRow[]) ?? []).map((r) => ({
          department_id: r.department_id,
          task: r.task.trim(),
          ...(r.unit_kind === "property" ? { unit_kind: "property" } : {}),
        }));
        break;
      case "duration":
        body[f.name] = isoDuration((v ?? { days: 0, hours: 0 }) as DurationValue);
        break;
      case "refs": {
        const refs = ((v as string[]) ?? []).map((r) => r.trim()).filter(Boolean);
        if (refs.length || f.required) body[f.name] = refs;
        break;
      }
    }
  }
  return body;
}

/**
 * An API refusal placed on the form: a 422 message naming a field of the form (``body.reason``,
 * ``body.tasks.1.department_id``) goes next to that field; anything else (a 409, a 403, a field the
 * form does not have) is the action's own message.
 */
export function splitErrors(err: ApiError, fields: FieldSpec[]): { fields: FieldErrors; action: string | null } {
  const names = new Set(fields.map((f) => f.name));
  const out: FieldErrors = {};
  const rest: string[] = [];
  for (const e of err.fieldErrors) {
    const path = e.field.startsWith("body.") ? e.field.slice(5) : e.field;
    const top = path.split(".")[0];
    if (e.field.startsWith("body.") && names.has(top)) out[path] = out[path] ?? e.message;
    else rest.push(e.message);
  }
  if (!err.fieldErrors.length) rest.push(err.message);
  return { fields: out, action: rest.length ? rest.join("; ") : null };
}

/** The message to show next to field ``name``: its own, or the first about something under it
 *  that no row shows itself. */
export function messageFor(errors: FieldErrors, name: string, rowsShown = false): string | undefined {
  if (errors[name]) return errors[name];
  if (rowsShown) return undefined;
  const key = Object.keys(errors).find((k) => k.startsWith(name + "."));
  return key ? errors[key] : undefined;
}
