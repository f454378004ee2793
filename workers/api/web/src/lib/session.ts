/**
 * The session: the API token (kept in sessionStorage), the caller (GET /me), and where each role's
 * home page is. A token that the API refuses (401) ends the session; the login page then returns to
 * the page the user was on.
 */
import { computed, ref } from "vue";

export type Role =
  | "dispatcher"
  | "supervisor"
  | "street"
  | "community"
  | "grid_worker"
  | "department"
  | "resident"
  | "system";

export interface Me {
  person_id: string;
  role: Role;
  unit_id: string | null;
  name: string | null;
  via: string;
  sees_personal_data: boolean;
}

const KEY = "gridcase.token";
const token = ref<string>(sessionStorage.getItem(KEY) ?? "");
const me = ref<Me | null>(null);
/** Set when the API refused the token: the router sends the user to log in again. */
const expiredAt = ref<number | null>(null);

/** Each role's home page (the login link lands there). */
export const HOME: Record<Role, string> = {
  dispatcher: "/intake",
  supervisor: "/dashboard",
  street: "/queue",
  community: "/queue",
  grid_worker: "/queue",
  department: "/queue",
  resident: "/track",
  system: "/queue",
};

export const session = {
  token,
  me,
  expiredAt,
  role: computed<Role | null>(() => me.value?.role ?? null),
  home: computed(() => (me.value ? HOME[me.value.role] : "/login")),
  setToken(value: string) {
    token.value = value;
    expiredAt.value = null;
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  async load(): Promise<Me | null> {
    if (!token.value) return null;
    const res = await fetch("/me", { headers: { Authorization: `Bearer ${token.value}` } });
    if (res.status === 401) {
      this.expired();
      return null;
    }
    if (!res.ok) throw new Error(`GET /me: HTTP ${res.status}`);
    me.value = (await res.json()) as Me;
    return me.value;
  },
  logout() {
    this.setToken("");
    me.value = null;
  },
  /** The API refused the token: forget it; the router's guard shows the login page. */
  expired() {
    if (!token.value) return;
    token.value = "";
    me.value = null;
    sessionStorage.removeItem(KEY);
    expiredAt.value = Date.now();
  },
};
