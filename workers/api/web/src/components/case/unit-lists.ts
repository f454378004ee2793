/**
 * The lists a form picks from inside the unit handling a case: its members (``GET
 * /units/{kind}/{unit_id}/members``, for a ``member`` field) and its sections (科室, ``GET
 * /registry/sections?unit=<kind>:<id>``, for a ``section`` field). A list that cannot be loaded
 * (no unit yet, the hotline, an API without the SQL registry: 503) throws; the form then takes a
 * typed id instead.
 */
import { http, ok } from "@/api/client";
import type { components } from "@/api/schema";

export type UnitList = "members" | "sections";
type UnitKind = components["schemas"]["UnitKind"];

export interface UnitRefValue {
  kind: string;
  id: string;
}

/** One entry of a list: the value the form keeps (a person id, a section id) and its name. */
export interface ListOption {
  value: string;
  name: string;
}

/** Unit kinds that have members and sections. */
export const LIST_UNIT_KINDS: readonly string[] = ["grid", "street", "department"];

/** The list has nothing to load for this unit (none, or the hotline). */
export class NoUnitList extends Error {
  constructor(unit: UnitRefValue | null | undefined) {
    super(unit ? `${unit.kind}:${unit.id} has no members or sections` : "the case has no handling unit");
  }
}

/** The members or sections of ``unit``, in the API's order. */
export async function loadUnitList(list: UnitList, unit: UnitRefValue | null | undefined): Promise<ListOption[]> {
  if (!unit || !unit.id || !LIST_UNIT_KINDS.includes(unit.kind)) throw new NoUnitList(unit);
  if (list === "members") {
    const r = await ok(
      http.GET("/units/{kind}/{unit_id}/members", { params: { path: { kind: unit.kind as UnitKind, unit_id: unit.id } } }),
    );
    return r.members.map((m) => ({ value: m.person_id, name: m.name || m.person_id }));
  }
  const r = await ok(http.GET("/registry/sections", { params: { query: { unit: `${unit.kind}:${unit.id}` } } }));
  return r.items.map((s) => ({ value: s.id, name: s.name || s.id }));
}
