import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HOME, safeNext, splitLinkToken, type Role } from "@/lib/session";

describe("a login link's token", () => {
  it.each([
    ["", null, ""],
    ["#", null, ""],
    ["#token=gct_abc", "gct_abc", ""],
    ["token=gct_abc", "gct_abc", ""],
    ["#token=gct_a%2Bb%3D", "gct_a+b=", ""],
    ["#view=map&token=eyJ.x.y&tab=2", "eyJ.x.y", "#view=map&tab=2"],
    ["#token=", null, ""],
    ["#token=%E0%A4%A", null, ""], // a malformed escape is no token
    ["#section", null, "#section"],
  ])("%j gives token %j and leaves %j", (hash, token, rest) => {
    expect(splitLinkToken(hash)).toEqual({ token, rest });
  });
});

describe("where to go after logging in", () => {
  const home = "/queue";
  it.each([
    ["/cases/C1", "/cases/C1"],
    ["/map?grid=G-1", "/map?grid=G-1"],
    ["/", "/"],
  ])("a page of the workspace (%s) is kept", (next, want) => {
    expect(safeNext(next, home)).toBe(want);
  });
  it.each([
    [undefined],
    [null],
    [["/cases"]],
    [""],
    ["cases"],
    ["https://evil.example/"],
    ["//evil.example/x"],
    ["/\\evil.example"],
    ["/login"],
    ["/login?next=/x"],
  ])("anything else (%j) goes to the role's home", (next) => {
    expect(safeNext(next, home)).toBe(home);
  });
});

describe("home pages", () => {
  it("every role has one, inside the workspace", () => {
    const roles: Role[] = ["dispatcher", "supervisor", "street", "community", "grid_worker", "department", "resident", "system"];
    for (const r of roles) expect(HOME[r]).toMatch(/^\/[a-z]+$/);
    expect(HOME.dispatcher).toBe("/intake");
    expect(HOME.supervisor).toBe("/dashboard");
    expect(HOME.grid_worker).toBe("/queue");
  });
});

describe("the session module on a login link", () => {
  beforeEach(() => {
    sessionStorage.clear();
    vi.resetModules();
  });
  afterEach(() => {
    window.history.replaceState(null, "", "/");
  });

  it("takes the token out of the address at once and keeps it for this tab", async () => {
    window.history.replaceState({ keep: 1 }, "", "/app/login?next=%2Fmap#token=gct_link");
    const { session } = await import("@/lib/session");
    expect(window.location.hash).toBe("");
    expect(window.location.href).not.toContain("gct_link");
    expect(window.location.search).toBe("?next=%2Fmap");
    expect(window.history.state).toEqual({ keep: 1 });
    expect(session.token.value).toBe("gct_link");
    expect(session.fromLink.value).toBe(true);
    expect(sessionStorage.getItem("gridcase.token")).toBe("gct_link");
  });

  it("leaves an address without a token alone", async () => {
    sessionStorage.setItem("gridcase.token", "gct_kept");
    window.history.replaceState(null, "", "/app/cases/C1#timeline");
    const { session } = await import("@/lib/session");
    expect(window.location.pathname + window.location.hash).toBe("/app/cases/C1#timeline");
    expect(session.token.value).toBe("gct_kept");
    expect(session.fromLink.value).toBe(false);
  });
});

describe("the session's token", () => {
  beforeEach(() => {
    sessionStorage.clear();
    vi.resetModules();
    window.history.replaceState(null, "", "/");
  });
  afterEach(() => vi.unstubAllGlobals());

  const me = { person_id: "op-1", role: "dispatcher", unit_id: null, name: "坐席一", via: "token", sees_personal_data: true };

  it("loads the caller and knows the role's home", async () => {
    const { session } = await import("@/lib/session");
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(me), { status: 200 }));
    vi.stubGlobal("fetch", fetchMock);
    session.setToken("gct_x");
    expect(await session.load()).toEqual(me);
    expect(fetchMock.mock.calls[0][1]).toEqual({ headers: { Authorization: "Bearer gct_x" } });
    expect(session.role.value).toBe("dispatcher");
    expect(session.home.value).toBe("/intake");
    expect(session.isStaff.value).toBe(true);
  });

  it("a refused token (401) ends the session and marks it expired", async () => {
    const { session } = await import("@/lib/session");
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 401 })));
    session.setToken("gct_old");
    expect(await session.load()).toBeNull();
    expect(session.token.value).toBe("");
    expect(session.expiredAt.value).not.toBeNull();
    expect(sessionStorage.getItem("gridcase.token")).toBeNull();
    session.setToken("gct_new"); // logging in again clears the mark
    expect(session.expiredAt.value).toBeNull();
  });

  it("a server error is an error, not an expired session", async () => {
    const { session } = await import("@/lib/session");
    vi.stubGlobal("fetch", vi.fn(async () => new Response("oops", { status: 503 })));
    session.setToken("gct_x");
    await expect(session.load()).rejects.toThrow("HTTP 503");
    expect(session.token.value).toBe("gct_x");
    expect(session.expiredAt.value).toBeNull();
  });

  it("an answer for a token no longer in use is dropped", async () => {
    const { session } = await import("@/lib/session");
    let release: (r: Response) => void = () => {};
    vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>((r) => (release = r))));
    session.setToken("gct_a");
    const pending = session.load();
    session.logout();
    release(new Response(JSON.stringify(me), { status: 200 }));
    expect(await pending).toBeNull();
    expect(session.me.value).toBeNull();
  });
});
