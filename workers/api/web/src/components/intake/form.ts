/**
 * The intake form's model, its checks before sending, the request body, and the API's field
 * errors mapped back onto the form's fields. Pure functions (no Vue, no network).
 */
import { isValidPhone } from "./phone";

export type Channel = "hotline" | "web" | "grid_patrol" | "proactive";
export type Urgency = "urgent" | "ordinary";
export type Role = "dispatcher" | "street" | "community" | "grid_worker" | string;

/** The place a call is about: a grid of the registry, with the address or point that found it. */
export interface PickedPlace {
  grid_id: string;
  grid_name: string;
  community_name: string;
  street_id: string;
  street_name: string;
  address: string | null;
  lat: number | null;
  lon: number | null;
  /** Whether the point was picked on the map (sent as the case's coordinates). */
  picked: boolean;
}

export interface IntakeForm {
  name: string;
  phone: string;
  channel: Channel;
  category: string;
  urgency: Urgency;
  title: string;
  description: string;
  place: PickedPlace | null;
}

/** The form's fields that can carry a message. ``general``: the submission as a whole. */
export type FieldName =
  | "name"
  | "phone"
  | "channel"
  | "category"
  | "urgency"
  | "title"
  | "description"
  | "place"
  | "general";

/** ``{field: i18n key}`` of the problems found before sending. */
export type Problems = Partial<Record<FieldName, string>>;

export const LIMITS = { name: 64, phone: 32, title: 200, description: 4000, address: 500 } as const;

/** The channels each intake role may use, the role's default first (the domain's ``intake.channel``). */
export const CHANNELS: Record<string, Channel[]> = {
  dispatcher: ["hotline", "web"],
  grid_worker: ["grid_patrol", "proactive"],
  street: ["proactive"],
  community: ["proactive"],
};

export function channelsFor(role: Role | null | undefined): Channel[] {
  return CHANNELS[role ?? ""] ?? ["hotline"];
}

export function emptyForm(role: Role | null | undefined): IntakeForm {
  return {
    name: "",
    phone: "",
    channel: channelsFor(role)[0],
    category: "",
    urgency: "ordinary",
    title: "",
    description: "",
    place: null,
  };
}

/** What is wrong with the form before it is sent (empty: nothing). Each value is an i18n key. */
export function validate(form: IntakeForm): Problems {
  const p: Problems = {};
  const name = form.name.trim();
  const phone = form.phone.trim();
  if (name.length > LIMITS.name) p.name = "intake.error.tooLong";
  if (phone && !isValidPhone(phone)) p.phone = "intake.error.phone";
  if (!form.category) p.category = "intake.error.category";
  const title = form.title.trim();
  if (!title) p.title = "intake.error.required";
  else if (title.length > LIMITS.title) p.title = "intake.error.tooLong";
  const description = form.description.trim();
  if (!description) p.description = "intake.error.required";
  else if (description.length > LIMITS.description) p.description = "intake.error.tooLong";
  if (!form.place) p.place = "intake.error.place";
  else if ((form.place.address ?? "").length > LIMITS.address) p.place = "intake.error.tooLong";
  return p;
}

export interface IntakeBody {
  channel: Channel;
  category: string;
  urgency: Urgency;
  title: string;
  description: string;
  location: { grid_id: string; address?: string; lat?: number; lon?: number };
  contact?: { name?: string; phone?: string };
  attachments: string[];
  self_handle: boolean;
}

/** The ``POST /cases`` body of a valid form (blanks trimmed, empty optional fields left out). */
export function toBody(form: IntakeForm): IntakeBody {
  if (!form.place) throw new Error("toBody: the form has no place (validate it first)");
  const location: IntakeBody["location"] = { grid_id: form.place.grid_id };
  const address = form.place.address?.trim();
  if (address) location.address = address;
  if (form.place.picked && form.place.lat !== null && form.place.lon !== null) {
    location.lat = form.place.lat;
    location.lon = form.place.lon;
  }
  const body: IntakeBody = {
    channel: form.channel,
    category: form.category,
    urgency: form.urgency,
    title: form.title.trim(),
    description: form.description.trim(),
    location,
    attachments: [],
    self_handle: false,
  };
  const name = form.name.trim();
  const phone = form.phone.trim();
  if (name || phone) body.contact = { ...(name ? { name } : {}), ...(phone ? { phone } : {}) };
  return body;
}

/** The form field an API error's ``field`` (``body.contact.phone``, ``body.location.grid_id``...) is about. */
export function formFieldOf(apiField: string): FieldName {
  const path = apiField.replace(/^body\./, "");
  if (path === "contact.phone" || path.startsWith("contact.phone.")) return "phone";
  if (path === "contact.name" || path.startsWith("contact.name.")) return "name";
  if (path === "contact") return "phone";
  if (path === "location" || path.startsWith("location.")) return "place";
  for (const f of ["channel", "category", "urgency", "title", "description"] as const) {
    if (path === f || path.startsWith(`${f}.`)) return f;
  }
  return "general";
}

/** The API's field errors as messages on the form's fields (the first message of each field). */
export function apiProblems(errors: { field: string; message: string }[]): Partial<Record<FieldName, string>> {
  const out: Partial<Record<FieldName, string>> = {};
  for (const e of errors) {
    const f = formFieldOf(e.field);
    if (!(f in out)) out[f] = e.message;
  }
  return out;
}

/**
 * One idempotency key per submission: the same body sent again (a double click, a retry after a
 * lost answer) carries the same key, so it opens one case; a changed body is a new submission.
 */
export class SubmissionKey {
  private body: string | null = null;
  private key = "";

  constructor(private readonly make: () => string) {}

  for(body: unknown): string {
    const text = JSON.stringify(body);
    if (text !== this.body) {
      this.body = text;
      this.key = this.make();
    }
    return this.key;
  }

  /** Forget the submission (after a case was opened: the next form is a new call). */
  reset(): void {
    this.body = null;
    this.key = "";
  }
}

/** The text the similar-case lookup compares titles with: the title, then the description. */
export function similarText(form: Pick<IntakeForm, "title" | "description">, max = 500): string {
  return `${form.title.trim()} ${form.description.trim()}`.trim().slice(0, max);
}
