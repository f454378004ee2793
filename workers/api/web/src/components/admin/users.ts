/**
 * The admin page's pure parts: the rules of a new user as ``gridcase users add`` checks them
 * (``workers/api/users.py``: the id's form, a unit for the roles that act for one and none for the
 * others), which kinds of unit each role picks from the registry, and a user's token counts.
 */
import type { components } from "@/api/schema";
import { STAFF_ROLES } from "@/lib/session";

export type UserItem = components["schemas"]["UserItem"];
export type TokenItem = components["schemas"]["TokenItem"];
export type PolicyView = components["schemas"]["PolicyView"];
export type RegistrySummary = components["schemas"]["RegistrySummary"];
export type UserRole = components["schemas"]["NewUser"]["role"];

/** The roles a user may be given: every staff role, then residents. */
export const ROLES: readonly UserRole[] = [...(STAFF_ROLES as readonly UserRole[]), "resident"];

/** The registry's kind of unit a role acts for (``supervisor``: a district id or ``city``, typed). */
export const UNIT_KIND: Partial<
  Record<UserRole, "grid" | "community" | "street" | "department" | "property" | "volunteer_team" | "district">
> = {
  grid_worker: "grid",
  community: "community",
  street: "street",
  department: "department",
  property: "property",
  volunteer: "volunteer_team",
  supervisor: "district",
};

const USER_ID = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;

export interface NewUserForm {
  userId: string;
  name: string;
  role: UserRole | "";
  unit: string;
}

export type NewUserField = keyof NewUserForm;

/** The i18n key of each field's problem (``admin.errors.*``); empty when the form may be sent. */
export function newUserErrors(f: NewUserForm): Partial<Record<NewUserField, string>> {
  const out: Partial<Record<NewUserField, string>> = {};
  const id = f.userId.trim();
  if (!id) out.userId = "admin.errors.userIdRequired";
  else if (!USER_ID.test(id)) out.userId = "admin.errors.userIdFormat";
  if (f.name.trim().length > 128) out.name = "admin.errors.nameTooLong";
  if (!f.role) out.role = "admin.errors.roleRequired";
  else if (UNIT_KIND[f.role] && !f.unit.trim()) out.unit = "admin.errors.unitRequired";
  return out;
}

/** The body of ``POST /admin/users``: the unit only for a role that has one. */
export function newUserBody(f: NewUserForm, token: boolean): components["schemas"]["NewUser"] {
  const role = f.role as UserRole;
  return {
    user_id: f.userId.trim(),
    name: f.name.trim() || null,
    role,
    unit: UNIT_KIND[role] ? f.unit.trim() : null,
    token,
    duties: [],
  };
}

/** The form's field an API field error names (``body.unit`` → ``unit``). */
export function formField(apiField: string): NewUserField | null {
  const map: Record<string, NewUserField> = {
    "body.user_id": "userId",
    "body.name": "name",
    "body.role": "role",
    "body.unit": "unit",
  };
  return map[apiField] ?? null;
}

export function activeTokens(u: UserItem): number {
  return u.tokens.filter((t) => t.active).length;
}
