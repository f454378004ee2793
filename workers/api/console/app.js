// gridcase dispatcher console: plain JavaScript, no build step.
// Reads the API with the caller's token, follows live events (server-sent events fed from Kafka)
// and keeps every SLA countdown ticking locally.
"use strict";

const I18N = {
  en: {
    title: "gridcase dispatcher console", login: "Log in", logout: "Log out", offline: "offline", live: "live",
    liveHint: "Live updates from Kafka", loginHint: "Paste your API token (gridcase users token USER) or a signed JWT.",
    tokenPlaceholder: "gct_...", status: "Status", allOpen: "all open", street: "Street", department: "Department",
    category: "Category", breachedOnly: "breached only", case: "Case", titleCol: "Title", unit: "Unit", sla: "SLA",
    due: "Due in", dueAt: "Due at", back: "← Back", temporal: "Workflow in Temporal ↗", clocks: "Clocks",
    clock: "Clock", actions: "Actions", timeline: "Timeline", register: "Register (立案)", dispatch: "Dispatch (派单)",
    dispatchBtn: "Dispatch", review: "Review a return (退单审核)", redispatch: "re-dispatch", insist: "insist (final ruling)",
    reviewBtn: "Review", whistle: "Whistle on behalf of the street (吹哨)", whistleBtn: "Blow the whistle",
    supervise: "Supervise (催办 / 督办 / 通报)", superviseBtn: "Supervise", reminder: "reminder (催办)",
    supervision: "supervision (督办)", public_notice: "public notice (通报)", note: "note", reason: "reason",
    ruling: "ruling", unitId: "unit id", grid: "Grid", cases: "cases", done: "Done", refused: "Refused",
    readModelDown: "The read model is not available: showing cases as they arrive live.",
    sla_on_time: "on time", sla_warned: "warned", sla_breached: "breached", sla_paused: "paused", sla_stopped: "stopped",
    sla_none: "—", st_received: "received", st_registered: "registered", st_dispatched: "dispatched",
    st_returned: "returned", st_handling: "handling", st_resolved: "resolved", st_verified: "verified",
    st_called_back: "called back", st_shelved: "shelved", st_closed: "closed", st_rejected: "rejected",
    st_merged: "merged", opened: "opened", where: "where", contact: "resident", compressed: "compressed time",
    noActions: "Nothing for you to do on this case now.", alsoAvailable: "Also available to you",
  },
  zh: {
    title: "gridcase 12345 派单台", login: "登录", logout: "退出", offline: "离线", live: "实时",
    liveHint: "来自 Kafka 的实时更新", loginHint: "粘贴 API 令牌（gridcase users token 用户）或签名的 JWT。",
    tokenPlaceholder: "gct_...", status: "状态", allOpen: "全部在办", street: "街道", department: "部门",
    category: "类别", breachedOnly: "仅超时", case: "工单", titleCol: "标题", unit: "承办单位", sla: "时限",
    due: "剩余时间", dueAt: "截止时间", back: "← 返回", temporal: "在 Temporal 中查看流程 ↗", clocks: "计时器",
    clock: "计时", actions: "操作", timeline: "办理过程", register: "立案", dispatch: "派单",
    dispatchBtn: "派单", review: "退单审核", redispatch: "改派", insist: "维持（审定）",
    reviewBtn: "审核", whistle: "代街道吹哨", whistleBtn: "吹哨",
    supervise: "督办（催办 / 督办 / 通报）", superviseBtn: "督办", reminder: "催办",
    supervision: "督办", public_notice: "通报", note: "备注", reason: "原因",
    ruling: "审核意见", unitId: "单位编号", grid: "网格", cases: "件", done: "已完成", refused: "被拒绝",
    readModelDown: "读模型暂不可用：仅显示实时到达的工单。",
    sla_on_time: "正常", sla_warned: "预警", sla_breached: "超时", sla_paused: "暂停", sla_stopped: "已停止",
    sla_none: "—", st_received: "已受理", st_registered: "已立案", st_dispatched: "已派单",
    st_returned: "已退单", st_handling: "办理中", st_resolved: "已办结", st_verified: "已核查",
    st_called_back: "已回访", st_shelved: "挂账", st_closed: "已结案", st_rejected: "不予受理",
    st_merged: "已合并", opened: "受理时间", where: "位置", contact: "诉求人", compressed: "压缩时间",
    noActions: "此工单当前没有您可办理的操作。", alsoAvailable: "您还可办理",
  },
};
const TERMINAL = new Set(["closed", "rejected", "merged"]);
const $ = (sel) => document.querySelector(sel);

let lang = localStorage.getItem("gridcase.lang") || "en";
let token = sessionStorage.getItem("gridcase.token") || "";
let me = null;
let streamAbort = null;
let currentCase = null; // id of the case page shown
const cases = new Map(); // case_id -> list row
const refreshTimers = new Map();

function t(key) { return (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key; }

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
  setLive(!!(streamAbort && $("#live").classList.contains("on")));
  render();
  if (currentCase) showCase(currentCase, false);
}

// --- API -----------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    const rule = body && (body.rule || (body.errors && body.errors.map((e) => `${e.field}: ${e.rule}`).join("; ")));
    const msg = body && (body.message || (body.errors && body.errors.map((e) => `${e.field}: ${e.message}`).join("; ")));
    super(`${status} ${rule || ""} ${msg || ""}`.trim());
    this.status = status; this.body = body; this.rule = rule;
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${token}` }, options.headers || {});
  if (options.body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (res.status === 401) { logout(); }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function requestId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2)).replace(/[^A-Za-z0-9-]/g, "");
}

// --- login ---------------------------------------------------------------------------------------
async function login(candidate) {
  token = candidate;
  try {
    me = await api("/me");
  } catch (err) {
    token = "";
    $("#login-error").textContent = err.message;
    return false;
  }
  sessionStorage.setItem("gridcase.token", token);
  $("#who").textContent = `${me.person_id} · ${me.role}${me.unit_id ? "@" + me.unit_id : ""}`;
  $("#login").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  startStream();
  await loadList();
  route();
  return true;
}

function logout() {
  token = ""; me = null;
  sessionStorage.removeItem("gridcase.token");
  if (streamAbort) { streamAbort.abort(); streamAbort = null; }
  cases.clear();
  setLive(false);
  $("#app").hidden = true; $("#logout").hidden = true; $("#login").hidden = false; $("#who").textContent = "";
}

// --- the list ------------------------------------------------------------------------------------
function rowFromDetail(v) {
  return {
    case_id: v.case_id, title: v.title, category: v.category, street: v.location ? v.location.street_id : "",
    status: v.status, unit: v.unit ? `${v.unit.kind}:${v.unit.id}` : "", sla_state: v.sla_state,
    next_due_at: v.next_due_at, breached: v.breached, units: v.units_involved || [], detailed: true,
    time_scale: v.time_scale,
  };
}

function rowFromReadModel(r) {
  return {
    case_id: r.case_id, title: r.title || "", category: r.category || "", street: r.street_id || "",
    status: r.status, unit: r.unit_kind ? `${r.unit_kind}:${r.unit_id}` : "",
    sla_state: r.breached ? "breached" : (r.next_due_at ? "on_time" : "none"), next_due_at: r.next_due_at,
    breached: r.breached, units: [], detailed: false,
  };
}

function filterParams() {
  const p = new URLSearchParams({ limit: "200" });
  const st = $("#f-status").value;
  if (st) p.set("state", st); else p.set("open_only", "true");
  for (const [id, key] of [["#f-street", "street"], ["#f-department", "department"], ["#f-category", "category"]]) {
    const v = $(id).value.trim();
    if (v) p.set(key, v);
  }
  if ($("#f-breached").checked) p.set("breached", "true");
  return p;
}

async function loadList() {
  $("#list-note").textContent = "";
  try {
    const data = await api(`/cases?${filterParams()}`);
    for (const r of data.items) {
      const known = cases.get(r.case_id);
      if (!known || !known.detailed) cases.set(r.case_id, rowFromReadModel(r));
    }
    render();
    // the read model has no warning state: fetch each listed case's clocks, a few at a time
    const ids = data.items.map((r) => r.case_id);
    const workers = Array.from({ length: 4 }, async () => {
      while (ids.length) { await refreshCase(ids.shift()); }
    });
    await Promise.all(workers);
  } catch (err) {
    if (err.status === 503) $("#list-note").textContent = t("readModelDown");
    else $("#list-note").textContent = err.message;
  }
}

function visible(row) {
  const st = $("#f-status").value;
  if (st ? row.status !== st : TERMINAL.has(row.status)) return false;
  const street = $("#f-street").value.trim();
  if (street && row.street !== street) return false;
  const dept = $("#f-department").value.trim();
  if (dept && !(row.units.includes(`department:${dept}`) || row.unit === `department:${dept}`)) return false;
  const cat = $("#f-category").value.trim();
  if (cat && row.category !== cat) return false;
  if ($("#f-breached").checked && !row.breached) return false;
  return true;
}

function slaState(row, now) {
  let s = row.sla_state || "none";
  if (row.next_due_at && s !== "paused" && new Date(row.next_due_at).getTime() <= now) s = "breached";
  return s;
}

function fmtRemaining(due, now) {
  if (!due) return "—";
  let ms = new Date(due).getTime() - now;
  const sign = ms < 0 ? "-" : "";
  ms = Math.abs(ms);
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return sign + (d ? `${d}d ` : "") + `${pad(h)}:${pad(m)}:${pad(sec)}`;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function render() {
  const tbody = $("#case-list tbody");
  if (!tbody) return;
  const now = Date.now();
  const rows = [...cases.values()].filter(visible).sort((a, b) => {
    const da = a.next_due_at ? new Date(a.next_due_at).getTime() : Infinity;
    const db = b.next_due_at ? new Date(b.next_due_at).getTime() : Infinity;
    return da - db || a.case_id.localeCompare(b.case_id);
  });
  tbody.replaceChildren(...rows.map((r) => {
    const s = slaState(r, now);
    const tr = el("tr", { "data-case-id": r.case_id, class: `sla-${s}` });
    const link = el("a", { href: `#/case/${r.case_id}` }, r.case_id);
    const td0 = el("td"); td0.append(link);
    tr.append(td0, el("td", {}, r.title), el("td", {}, r.category), el("td", {}, r.street),
      el("td", { class: "status" }, t(`st_${r.status}`)), el("td", {}, r.unit),
      el("td", { class: "sla" }, t(`sla_${s}`)),
      el("td", { class: "countdown", "data-due": r.next_due_at || "" }, fmtRemaining(r.next_due_at, now)));
    return tr;
  }));
  $("#count").textContent = `${rows.length} ${t("cases")}`;
  const scales = [...new Set(rows.map((r) => r.time_scale).filter(Boolean))];
  $("#scale-note").textContent = scales.length ? `${t("compressed")}: 1 h = ${scales.join(" / ")} s` : "";
}

function tick() {
  const now = Date.now();
  document.querySelectorAll("#case-list tbody tr").forEach((tr) => {
    const row = cases.get(tr.dataset.caseId);
    if (!row) return;
    const s = slaState(row, now);
    tr.className = `sla-${s}`;
    tr.querySelector(".sla").textContent = t(`sla_${s}`);
    tr.querySelector(".countdown").textContent = fmtRemaining(row.next_due_at, now);
  });
  document.querySelectorAll("#clocks tbody tr[data-due]").forEach((tr) => {
    const due = tr.dataset.due;
    const base = tr.dataset.state;
    const s = base === "stopped" || base === "paused" ? base : (new Date(due).getTime() <= now ? "breached" : base);
    tr.className = `sla-${s}`;
    tr.querySelector(".countdown").textContent = base === "stopped" ? "—" : fmtRemaining(due, now);
    tr.querySelector(".sla").textContent = t(`sla_${s}`);
  });
}

async function refreshCase(id) {
  try {
    const v = await api(`/cases/${encodeURIComponent(id)}`);
    cases.set(id, rowFromDetail(v));
    render();
    if (currentCase === id) renderCase(v);
  } catch (err) {
    if (err.status === 403 || err.status === 404) { cases.delete(id); render(); }
  }
}

function scheduleRefresh(id) {
  clearTimeout(refreshTimers.get(id));
  refreshTimers.set(id, setTimeout(() => { refreshTimers.delete(id); refreshCase(id); }, 150));
}

// --- live events (SSE over fetch, so the token travels in a header) -------------------------------
function setLive(on) {
  const live = $("#live");
  live.classList.toggle("on", on); live.classList.toggle("off", !on);
  $("#live-text").textContent = t(on ? "live" : "offline");
}

async function startStream() {
  if (streamAbort) streamAbort.abort();
  const ctrl = new AbortController();
  streamAbort = ctrl;
  while (!ctrl.signal.aborted && token) {
    try {
      const res = await fetch("/events", { headers: { Authorization: `Bearer ${token}` }, signal: ctrl.signal });
      if (!res.ok) throw new Error(`events: ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          let type = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (type === "ready") setLive(true);
          if (type === "case" && data) {
            const n = JSON.parse(data);
            scheduleRefresh(n.case_id);
          }
        }
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// --- the case page --------------------------------------------------------------------------------
function route() {
  const m = location.hash.match(/^#\/case\/([A-Za-z0-9_.-]+)$/);
  if (m) showCase(m[1], true); else { currentCase = null; $("#case-panel").hidden = true; $("#list-panel").hidden = false; }
}

async function showCase(id, fresh) {
  currentCase = id;
  $("#list-panel").hidden = true; $("#case-panel").hidden = false;
  if (fresh) $("#action-result").textContent = "";
  try {
    renderCase(await api(`/cases/${encodeURIComponent(id)}`));
  } catch (err) {
    $("#case-title").textContent = `${id}: ${err.message}`;
  }
}

function renderCase(v) {
  $("#case-title").textContent = `${v.case_id} · ${v.title}`;
  $("#temporal-link").href = v.temporal_ui;
  const loc = v.location;
  const parts = [
    [t("status"), t(`st_${v.status}`)], [t("category"), `${v.category} / ${v.urgency}`],
    [t("unit"), v.unit ? `${v.unit.kind}:${v.unit.id}` : "—"],
    [t("where"), loc ? `${loc.grid_id} / ${loc.community_id} / ${loc.street_id} / ${loc.district_id}` : "—"],
    [t("opened"), v.opened_at ? new Date(v.opened_at).toLocaleString() : "—"],
    [t("sla"), t(`sla_${v.sla_state}`)],
  ];
  if (v.contact && (v.contact.name || v.contact.phone)) parts.push([t("contact"), `${v.contact.name || ""} ${v.contact.phone || ""}`]);
  if (v.time_scale) parts.push([t("compressed"), `1 h = ${v.time_scale} s`]);
  const summary = $("#case-summary");
  summary.replaceChildren(...parts.map(([k, val]) => { const d = el("div"); d.append(el("b", {}, k + ": "), el("span", {}, val)); return d; }));
  summary.dataset.status = v.status;
  const now = Date.now();
  $("#clocks tbody").replaceChildren(...v.clocks.map((c) => {
    const tr = el("tr", { "data-due": c.due_at, "data-state": c.sla_state, "data-clock": c.kind, class: `sla-${c.sla_state}` });
    tr.append(el("td", {}, c.kind), el("td", {}, c.unit),
      el("td", { class: "countdown" }, c.sla_state === "stopped" ? "—" : fmtRemaining(c.due_at, now)),
      el("td", {}, new Date(c.due_at).toLocaleString()), el("td", { class: "sla" }, t(`sla_${c.sla_state}`)));
    return tr;
  }));
  loadActions(v.case_id, v.status);
  $("#timeline").replaceChildren(...v.timeline.slice().reverse().map((e) => {
    const li = el("li");
    li.append(el("time", {}, new Date(e.occurred_at).toLocaleString()), el("b", {}, ` ${e.type} `),
      el("span", { class: "muted" }, e.actor), el("code", {}, " " + JSON.stringify(e.details).slice(0, 200)));
    return li;
  }));
}

// The forms shown are exactly the actions GET /cases/{id}/actions offers the caller now (the domain
// decides); the other actions it offers are listed by name. A received case is registered on the
// way to its first dispatch, so its dispatch form shows while "register" is offered.
async function loadActions(id, status) {
  let offered = [];
  try {
    offered = (await api(`/cases/${encodeURIComponent(id)}/actions`)).actions;
  } catch (err) {
    offered = [];
  }
  if (currentCase !== id) return;
  const names = new Set(offered.map((a) => a.name));
  document.querySelectorAll("form.action").forEach((f) => {
    const name = f.dataset.action;
    f.hidden = !(names.has(name) || (name === "dispatch" && status === "received" && names.has("register")));
  });
  const withForm = new Set([...document.querySelectorAll("form.action")].map((f) => f.dataset.action));
  const others = offered.filter((a) => !withForm.has(a.name));
  $("#available").textContent = offered.length === 0 ? t("noActions")
    : others.length ? `${t("alsoAvailable")}: ${others.map((a) => (lang === "zh" ? a.summary_zh : a.path)).join(" · ")}` : "";
}

function unitOf(form) {
  const id = form.unit.value.trim();
  return id ? { kind: form.kind.value, id } : null;
}

function bodyFor(action, form) {
  switch (action) {
    case "register": return {};
    case "dispatch": return { unit: unitOf(form), note: form.note.value.trim() || null };
    case "review_return": return { decision: form.decision.value, ruling: form.ruling.value.trim(), redispatch_to: unitOf(form) };
    case "whistle": {
      const tasks = form.tasks.value.split(/\n|;/).map((s) => s.trim()).filter(Boolean).map((s) => {
        const [dept, ...rest] = s.split("=");
        return { department_id: dept.trim(), task: rest.join("=").trim() || dept.trim() };
      });
      return { tasks, reason: form.reason.value.trim() || null };
    }
    case "supervise": return { level: form.level.value, note: form.note.value.trim() };
  }
  return {};
}

async function act(id, action, body) {
  return api(`/cases/${encodeURIComponent(id)}/${action.replace(/_/g, "-")}`, {
    method: "POST", body: JSON.stringify(body), headers: { "Request-Id": requestId() },
  });
}

async function onAction(ev) {
  ev.preventDefault();
  const form = ev.target;
  const action = form.dataset.action;
  const out = $("#action-result");
  out.className = ""; out.textContent = "…";
  try {
    // a received case is registered (立案) on the way to its first dispatch
    if (action === "dispatch" && $("#case-summary").dataset.status === "received") await act(currentCase, "register", {});
    const r = await act(currentCase, action, bodyFor(action, form));
    out.className = "ok"; out.textContent = `${t("done")}: ${t("st_" + r.status)} (${r.events.join(", ")})`;
    await refreshCase(currentCase);
  } catch (err) {
    out.className = "error"; out.textContent = `${t("refused")}: ${err.message}`;
  }
}

// --- wiring ---------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("gridcase.lang", lang); applyLang(); });
  $("#logout").addEventListener("click", logout);
  $("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("#token").value.trim()); });
  $("#back").addEventListener("click", () => { location.hash = ""; });
  document.querySelectorAll("form.action").forEach((f) => f.addEventListener("submit", onAction));
  $("#filters").addEventListener("change", () => { render(); loadList(); });
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  window.addEventListener("hashchange", route);
  setInterval(tick, 1000);
  applyLang();
  // a one-click link may carry the token in the fragment (never sent to the server): take it, then drop it
  const fromLink = location.hash.match(/^#token=([A-Za-z0-9_.-]+)$/);
  if (fromLink) { token = fromLink[1]; history.replaceState(null, "", location.pathname); }
  if (token) login(token).then((ok) => { if (!ok) logout(); }); else logout();
});
