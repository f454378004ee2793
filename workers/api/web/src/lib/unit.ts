/**
 * The caller's own handling unit, for the roles that work cases inside a unit (分派 / 改派 / 认领):
 * a street office's users, a grid's workers, a department's users. Other roles have none here.
 */
import type { Me, Role } from "./session";

export type UnitKind = "street" | "grid" | "department";

/** The unit kind each unit role acts for. */
export const UNIT_ROLE_KIND: Partial<Record<Role, UnitKind>> = {
  street: "street",
  grid_worker: "grid",
  department: "department",
};

/** The caller's unit as ``{kind, id}``, or ``null`` (not a unit role, or no unit on the session). */
export function callerUnit(me: Pick<Me, "role" | "unit_id"> | null | undefined): { kind: UnitKind; id: string } | null {
  const kind = me ? UNIT_ROLE_KIND[me.role] : undefined;
  return kind && me?.unit_id ? { kind, id: me.unit_id } : null;
}
