/**
 * The session: the API token (kept in sessionStorage), the caller (GET /me), and where each role's
 * home page is. A token that the API refuses (401) ends the session; the login page then returns to
 * the page the user was on.
 *
 * A login link carries the token in the address's fragment (``/app/login#token=<token>``), which
 * browsers never send to a server. It is taken out of the address as soon as this module loads,
 * before the router reads the address, so it stays in neither the history nor a bookmark.
 */
import { computed, ref } from "vue";

export type Role =
  | "dispatcher"
  | "supervisor"
  | "street"
  | "community"
  | "grid_worker"
  | "department"
  | "property"
  | "volunteer"
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

/** Roles that work cases (the live feed, the queue, the map); residents only follow their own. */
export const STAFF_ROLES: readonly Role[] = [
  "dispatcher",
  "supervisor",
  "street",
  "community",
  "grid_worker",
  "department",
  "property",
  "volunteer",
];

/** Each role's home page (the login link lands there). */
export const HOME: Record<Role, string> = {
  dispatcher: "/intake",
  supervisor: "/dashboard",
  street: "/queue",
  community: "/queue",
  grid_worker: "/queue",
  department: "/queue",
  property: "/queue",
  volunteer: "/queue",
  resident: "/track",
  system: "/queue",
};

const KEY = "gridcase.token";

/**
 * The token of a login link in ``hash`` (``#token=...``, possibly among other ``&``-separated
 * fields), and the fragment that remains without it.
 */
export function splitLinkToken(hash: string): { token: string | null; rest: string } {
  const fields = hash.replace(/^#/, "").split("&").filter(Boolean);
  let found: string | null = null;
  const rest: string[] = [];
  for (const f of fields) {
    if (f.startsWith("token=")) {
      try {
        found = decodeURIComponent(f.slice("token=".length)).trim() || null;
      } catch {
        found = null; // a malformed escape: not a usable token
      }
    } else rest.push(f);
  }
  return { token: found, rest: rest.length ? `#${rest.join("&")}` : "" };
}

/** Take a login link's token out of the address bar (history entry replaced, state kept). */
function takeLinkToken(): string | null {
  if (typeof window === "undefined" || !window.location.hash.includes("token=")) return null;
  const { token, rest } = splitLinkToken(window.location.hash);
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, "", pathname + search + rest);
  return token;
}

/**
 * Where to go after logging in: ``next`` when it is a page of the workspace (a path, never another
 * site or the login page itself), else the role's home page.
 */
export function safeNext(next: unknown, home: string): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return home;
  if (next === "/login" || next.startsWith("/login?") || next.startsWith("/login#")) return home;
  return next;
}

const linked = takeLinkToken();
if (linked) sessionStorage.setItem(KEY, linked);

const token = ref<string>(sessionStorage.getItem(KEY) ?? "");
const me = ref<Me | null>(null);
/** Set when the API refused the token: the router sends the user to log in again. */
const expiredAt = ref<number | null>(null);
/** The token came from a login link on this load (the login page then signs in by itself). */
const fromLink = ref<boolean>(linked !== null);

export const session = {
  token,
  me,
  expiredAt,
  fromLink,
  role: computed<Role | null>(() => me.value?.role ?? null),
  home: computed(() => (me.value ? HOME[me.value.role] : "/login")),
  /**
   * Take a login link's token from the address now (a link opened in a tab already on the
   * workspace changes only the fragment, so the page does not load again): kept as this tab's
   * token, and the address cleaned. Returns the token, or null when the address has none.
   */
  takeLink(): string | null {
    const found = takeLinkToken();
    if (found) {
      this.setToken(found);
      me.value = null;
      fromLink.value = true;
    }
    return found;
  },
  /** A staff role (live feed, queue, map), as opposed to a resident. */
  isStaff: computed(() => !!me.value && STAFF_ROLES.includes(me.value.role)),
  setToken(value: string) {
    token.value = value;
    expiredAt.value = null;
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  async load(): Promise<Me | null> {
    if (!token.value) return null;
    const sent = token.value;
    const res = await fetch("/me", { headers: { Authorization: `Bearer ${sent}` } });
    if (res.status === 401) {
      if (token.value === sent) this.expired();
      return null;
    }
    if (!res.ok) throw new Error(`GET /me: HTTP ${res.status}`);
    const body = (await res.json()) as Me;
    if (token.value !== sent) return null; // logged out or in as someone else meanwhile
    me.value = body;
    return me.value;
  },
  logout() {
    fromLink.value = false;
    this.setToken("");
    me.value = null;
  },
  /** The API refused the token: forget it; the router's guard shows the login page. */
  expired() {
    if (!token.value) return;
    fromLink.value = false;
    token.value = "";
    me.value = null;
    sessionStorage.removeItem(KEY);
    expiredAt.value = Date.now();
  },
};
