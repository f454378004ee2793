/**
 * Pages and who may open them. Pages are loaded when first visited (the map and the charts are
 * in their own chunks). A page that needs a session sends the user to /login?next=<page>.
 */
import { watch } from "vue";
import { createRouter, createWebHistory, START_LOCATION, type RouteRecordRaw } from "vue-router";
import { i18n } from "@/i18n";
import { session, type Role } from "@/lib/session";

declare module "vue-router" {
  interface RouteMeta {
    /** Open without a session (login, the resident's progress page). */
    public?: boolean;
    /** Roles that may open the page (absent: every staff role). */
    roles?: Role[];
    /** The i18n key of the page's title. */
    title?: string;
  }
}

const STAFF: Role[] = ["dispatcher", "supervisor", "street", "community", "grid_worker", "department", "property", "volunteer"];

export const routes: RouteRecordRaw[] = [
  { path: "/", name: "home", redirect: () => session.home.value },
  { path: "/login", name: "login", component: () => import("@/views/LoginView.vue"), meta: { public: true } },
  {
    path: "/intake",
    name: "intake",
    component: () => import("@/views/IntakeView.vue"),
    meta: { roles: ["dispatcher", "street", "community", "grid_worker"], title: "nav.intake" },
  },
  { path: "/queue", name: "queue", component: () => import("@/views/QueueView.vue"), meta: { roles: STAFF, title: "nav.queue" } },
  {
    path: "/cases",
    name: "cases",
    component: () => import("@/views/CasesView.vue"),
    meta: { roles: STAFF, title: "nav.cases" },
  },
  {
    path: "/cases/:id",
    name: "case",
    component: () => import("@/views/CaseView.vue"),
    props: true,
    meta: { roles: [...STAFF, "resident"] },
  },
  { path: "/map", name: "map", component: () => import("@/views/MapView.vue"), meta: { roles: STAFF, title: "nav.map" } },
  {
    path: "/dashboard",
    name: "dashboard",
    component: () => import("@/views/DashboardView.vue"),
    meta: { roles: ["supervisor", "dispatcher"], title: "nav.dashboard" },
  },
  {
    path: "/admin",
    name: "admin",
    component: () => import("@/views/AdminView.vue"),
    meta: { roles: ["supervisor", "dispatcher"], title: "nav.admin" },
  },
  { path: "/track", name: "track", component: () => import("@/views/TrackView.vue"), meta: { public: true, title: "nav.track" } },
  { path: "/:rest(.*)*", name: "not-found", redirect: "/" },
];

export const router = createRouter({ history: createWebHistory("/app/"), routes });

/** The login page, to come back to ``fullPath`` afterwards (``expired``: say the session ended). */
function toLogin(fullPath: string, expired: boolean) {
  const query: Record<string, string> = { next: fullPath };
  if (expired) query.expired = "1";
  return { name: "login", query };
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.token.value) return toLogin(to.fullPath, session.expiredAt.value !== null);
  if (!session.me.value) {
    const me = await session.load().catch(() => null);
    if (!me) return toLogin(to.fullPath, session.expiredAt.value !== null);
  }
  const role = session.role.value;
  if (to.meta.roles && role && !to.meta.roles.includes(role)) return session.home.value;
  return true;
});

router.afterEach((to) => {
  const title = to.meta.title ? i18n.global.t(to.meta.title) : "";
  document.title = `${title ? `${title} · ` : ""}gridcase ${i18n.global.t("common.app")}`;
});

// A token refused by the API mid-session (any call answering 401): log in again, then come back
// here. During the first navigation the guard above already does so (the route is not settled yet).
watch(session.expiredAt, (at) => {
  const current = router.currentRoute.value;
  if (at === null || current === START_LOCATION || current.meta.public) return;
  void router.push(toLogin(current.fullPath, true));
});

/** The pages ``role`` may open that have a place in the navigation (title), in the router's order. */
export function navFor(role: Role | null): { path: string; title: string }[] {
  if (!role) return [];
  return routes
    .filter((r) => r.meta?.title && !r.meta.public && (!r.meta.roles || r.meta.roles.includes(role)))
    .map((r) => ({ path: r.path, title: r.meta!.title as string }));
}
