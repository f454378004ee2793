import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ref } from "vue";

const fake = vi.hoisted(() => ({ status: null as unknown as { value: string }, start: vi.fn(), stop: vi.fn() }));
vi.mock("@/lib/live", async () => {
  const { ref: vref } = await import("vue");
  fake.status = vref("offline");
  return { live: { status: fake.status, on: () => () => {}, onResync: () => () => {}, start: fake.start, stop: fake.stop } };
});

import AppShell from "@/components/shell/AppShell.vue";
import OfflineBanner from "@/components/shell/OfflineBanner.vue";
import ScaleNote from "@/components/shell/ScaleNote.vue";
import TemporalLink from "@/components/shell/TemporalLink.vue";
import { i18n, setLocale } from "@/i18n";
import { session, type Me, type Role } from "@/lib/session";
import { navFor, router, routes } from "@/router";

function who(role: Role, unit: string | null = null): Me {
  return { person_id: `${role}-1`, role, unit_id: unit, name: null, via: "token", sees_personal_data: role === "dispatcher" };
}

const mounted: { unmount(): void }[] = [];

async function shellAs(role: Role, path = "/queue") {
  session.setToken("gct_test");
  session.me.value = who(role);
  await router.push(path);
  await router.isReady();
  const wrapper = mount(AppShell, { global: { plugins: [i18n, router] }, attachTo: document.body });
  mounted.push(wrapper);
  await flushPromises();
  return wrapper;
}

beforeEach(() => {
  fake.start.mockClear();
  fake.stop.mockClear();
  fake.status.value = "offline";
  setLocale("zh-CN");
});
afterEach(() => {
  while (mounted.length) mounted.pop()!.unmount();
  document.body.innerHTML = "";
  session.logout();
});

describe("navigation by role", () => {
  it.each<[Role, string[]]>([
    ["dispatcher", ["/intake", "/queue", "/cases", "/map", "/dashboard", "/admin"]],
    ["supervisor", ["/queue", "/cases", "/map", "/dashboard", "/admin"]],
    ["street", ["/intake", "/queue", "/cases", "/map"]],
    ["grid_worker", ["/intake", "/queue", "/cases", "/map"]],
    ["department", ["/queue", "/cases", "/map"]],
    ["resident", []],
  ])("%s sees exactly the pages the router lets it open", (role, pages) => {
    const links = navFor(role).map((l) => l.path);
    expect(links).toEqual(pages);
    for (const r of routes.filter((x) => x.meta?.title && !x.meta.public)) {
      const allowed = !r.meta!.roles || r.meta!.roles.includes(role);
      expect(links.includes(r.path)).toBe(allowed);
    }
  });

  it("the header lists them, with the user and the role in words", async () => {
    const w = await shellAs("department");
    const hrefs = w.findAll("nav a").map((a) => a.attributes("href"));
    expect(hrefs).toEqual(["/app/queue", "/app/cases", "/app/map"]);
    expect(w.get('[data-testid="who"]').text()).toContain("department-1 · 职能部门");
    expect(w.find("main#main").exists()).toBe(true);
  });

  it("no header on the login page", async () => {
    session.setToken("");
    session.me.value = null;
    await router.push("/login");
    const w = mount(AppShell, { global: { plugins: [i18n, router] } });
    mounted.push(w);
    await flushPromises();
    expect(w.find("header").exists()).toBe(false);
    expect(w.find('[data-testid="live-status"]').exists()).toBe(false);
  });
});

describe("language", () => {
  it("switches between 中文 and English and keeps the choice", async () => {
    const w = await shellAs("street");
    expect(w.get('[data-testid="logout"]').text()).toBe("退出");
    await w.get('[data-testid="lang"]').trigger("click");
    expect(w.get('[data-testid="logout"]').text()).toBe("Log out");
    expect(document.documentElement.lang).toBe("en");
    expect(localStorage.getItem("gridcase.lang")).toBe("en");
    expect(w.get('[data-testid="who"]').text()).toContain("Street office");
    await w.get('[data-testid="lang"]').trigger("click");
    expect(w.get('[data-testid="logout"]').text()).toBe("退出");
  });
});

describe("the live feed", () => {
  it.each<[Role, boolean]>([
    ["dispatcher", true],
    ["grid_worker", true],
    ["supervisor", true],
  ])("starts for %s and shows its state", async (role, started) => {
    const w = await shellAs(role);
    expect(fake.start).toHaveBeenCalledTimes(started ? 1 : 0);
    expect(fake.stop).not.toHaveBeenCalled();
    const dot = w.get('[data-testid="live-status"]');
    expect(dot.attributes("data-state")).toBe("offline");
    fake.status.value = "connecting";
    await flushPromises();
    expect(dot.attributes("data-state")).toBe("connecting");
    fake.status.value = "live";
    await flushPromises();
    expect(dot.attributes("data-state")).toBe("live");
    expect(dot.text()).toBe("实时");
  });

  it("does not start for a resident", async () => {
    const w = await shellAs("resident", "/track");
    expect(fake.start).not.toHaveBeenCalled();
    expect(w.find('[data-testid="live-status"]').exists()).toBe(false);
  });

  it("logout stops it and goes to the login page", async () => {
    const w = await shellAs("street");
    await w.get('[data-testid="logout"]').trigger("click");
    await flushPromises();
    expect(fake.stop).toHaveBeenCalled();
    expect(session.token.value).toBe("");
    expect(router.currentRoute.value.name).toBe("login");
  });
});

describe("the banner of a lost connection", () => {
  it("shows while offline, says when it is back, and nothing when inactive", async () => {
    vi.useFakeTimers();
    try {
      const active = ref(true);
      fake.status.value = "live";
      const w = mount(OfflineBanner, { props: { active: active.value }, global: { plugins: [i18n] } });
      expect(w.find('[data-testid="offline-banner"]').exists()).toBe(false);
      fake.status.value = "offline";
      await flushPromises();
      expect(w.get('[data-testid="offline-banner"]').text()).toContain("正在自动重连");
      fake.status.value = "connecting";
      await flushPromises();
      expect(w.find('[data-testid="offline-banner"]').exists()).toBe(true); // still down
      fake.status.value = "live";
      await flushPromises();
      expect(w.find('[data-testid="offline-banner"]').exists()).toBe(false);
      expect(w.find('[data-testid="online-banner"]').exists()).toBe(true);
      vi.advanceTimersByTime(5000);
      await flushPromises();
      expect(w.find('[data-testid="online-banner"]').exists()).toBe(false);
      fake.status.value = "offline";
      await w.setProps({ active: false });
      expect(w.find('[data-testid="offline-banner"]').exists()).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("an expired session mid-page", () => {
  it("goes to the login page with the page to come back to", async () => {
    await shellAs("street", "/cases?state=handling");
    session.expired();
    await flushPromises();
    const here = router.currentRoute.value;
    expect(here.name).toBe("login");
    expect(here.query).toEqual({ next: "/cases?state=handling", expired: "1" });
  });

  it("a page asked for without a session also comes back after login", async () => {
    session.logout();
    await router.push("/map");
    await flushPromises();
    expect(router.currentRoute.value.name).toBe("login");
    expect(router.currentRoute.value.query).toEqual({ next: "/map" });
  });

  it("a role is sent home from a page it may not open", async () => {
    session.setToken("gct_test");
    session.me.value = who("department");
    await router.push("/intake");
    await flushPromises();
    expect(router.currentRoute.value.fullPath).toBe("/queue");
  });
});

describe("small parts for the case page", () => {
  it("the Temporal link opens the workflow in a new window", () => {
    const w = mount(TemporalLink, { props: { href: "http://localhost:8233/namespaces/default/workflows/case-C1" }, global: { plugins: [i18n] } });
    const a = w.get("a");
    expect(a.attributes("href")).toBe("http://localhost:8233/namespaces/default/workflows/case-C1");
    expect(a.attributes("target")).toBe("_blank");
    expect(a.attributes("rel")).toContain("noopener");
  });
  it.each([
    [30, "压缩时间：1 个政策小时 = 30 秒"],
    [0.5, "压缩时间：1 个政策小时 = 0.5 秒"],
    [null, ""],
    [undefined, ""],
    [0, ""],
  ])("the compressed-time note for %s", (seconds, text) => {
    const w = mount(ScaleNote, { props: { seconds }, global: { plugins: [i18n] } });
    expect(w.text()).toBe(text);
  });
});
