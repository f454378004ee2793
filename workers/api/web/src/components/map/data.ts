/**
 * The map's data from the API: the grids (GeoJSON, fetched once per session and revalidated by the
 * browser with the ETag), the open/breached counts per grid, and case points.
 */
import { http, ok } from "@/api/client";
import { session } from "@/lib/session";
import type { components } from "@/api/schema";

export type GridCollection = components["schemas"]["GridCollection"];
export type GridFeature = components["schemas"]["GridFeature"];
export type GridStats = components["schemas"]["GridStats"];
export type CasePoint = components["schemas"]["CasePoint"];
export type CasePoints = components["schemas"]["CasePoints"];

let cached: { token: string; grids: Promise<GridCollection> } | null = null;

/** The grids of the caller's jurisdiction (one request per session token). */
export function loadGrids(): Promise<GridCollection> {
  const token = session.token.value;
  if (cached && cached.token === token) return cached.grids;
  const grids = ok(http.GET("/map/grids")) as Promise<GridCollection>;
  cached = { token, grids };
  grids.catch(() => {
    if (cached?.grids === grids) cached = null; // try again next time
  });
  return grids;
}

/** Open, breached and warned cases per grid. */
export function loadStats(): Promise<GridStats> {
  return ok(http.GET("/map/stats"));
}

/** Case points (of one grid when ``gridId`` is given), open ones unless ``openOnly`` is false. */
export function loadPoints(options: { gridId?: string; openOnly?: boolean; limit?: number } = {}): Promise<CasePoints> {
  return ok(
    http.GET("/map/points", {
      params: {
        query: {
          grid_id: options.gridId,
          open_only: options.openOnly === false ? "false" : "true",
          limit: options.limit,
        },
      },
    }),
  );
}

declare global {
  interface Window {
    /** The map drawn last (end-to-end tests read its feature-state). */
    __gridcaseMap?: unknown;
    /** ``performance.now()`` when the last map drawn was first fully rendered (the web benchmark). */
    __gridcaseMapReady?: number;
  }
}
