/**
 * Pages and who may open them. Pages are loaded when first visited (the map and the charts are
 * in their own chunks). A page that needs a session sends the user to /login?next=<page>.
 */
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
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

const STAFF: Role[] = ["dispatcher", "supervisor", "street", "community", "grid_worker", "department"];

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

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.token.value) return { name: "login", query: { next: to.fullPath } };
  if (!session.me.value) {
    const me = await session.load().catch(() => null);
    if (!me) return { name: "login", query: { next: to.fullPath } };
  }
  const role = session.role.value;
  if (to.meta.roles && role && !to.meta.roles.includes(role)) return session.home.value;
  return true;
});

// A token refused by the API mid-session: log in again, then come back here.
import { watch } from "vue";
watch(session.expiredAt, (at) => {
  const current = router.currentRoute.value;
  if (at !== null && !current.meta.public) {
    void router.push({ name: "login", query: { next: current.fullPath, expired: "1" } });
  }
});
