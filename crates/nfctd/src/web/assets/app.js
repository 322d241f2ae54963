// app: the page's wiring: session (log in, out, expiry back to the form),
// the table (filter, sort, page, live re-fetch on the SSE counts), the row
// actions for admins, the overview (chart and kernel statistics), languages.

import * as i18n from "./i18n.js";
import { t, num } from "./i18n.js";
import * as api from "./api.js";
import { Chart, WINDOW_MS } from "./chart.js";
import * as dialogs from "./dialogs.js";
import { visible, renderHead, renderRows, describe } from "./table.js";

const $ = (id) => document.getElementById(id);

const state = {
  session: null,
  order: { by: "", dir: "asc" },
  start: 0,
  length: 100,
  filter: "",
  page: null,
  loading: false,
  again: false,
  timer: null,
  events: null,
  samples: [],
  ticks: 0,
  stats: null,
  status: null,
  head: "",
};

let charts = [];

function admin() { return state.session?.role === "admin"; }

function show(el, on) { el.hidden = !on; }

/** A message under the toolbar: key + vars, so it follows a language switch. */
function say(key, vars) {
  state.status = key ? { key, vars } : null;
  $("status").textContent = key ? t(key, vars) : "";
  show($("status"), !!key);
}

function fail(e) {
  if (e && e.status === 401) return;
  $("error").textContent = t("error.api", { message: e?.message || String(e) });
  show($("error"), true);
}

function clearError() { show($("error"), false); }

// ---- session ----

function showLogin(messageKey) {
  state.session = null;
  if (state.events) { state.events.close(); state.events = null; }
  clearTimeout(state.timer);
  state.timer = null;
  state.page = null;
  $("rows").replaceChildren();
  show($("table-view"), false);
  show($("who"), false);
  show($("logout"), false);
  show($("login-view"), true);
  const msg = $("login-message");
  msg.dataset.key = messageKey || "";
  msg.textContent = messageKey ? t(messageKey) : "";
  show(msg, !!messageKey);
  $("login-user").focus();
}

function renderWho() {
  if (!state.session) return;
  const role = admin() ? t("role.admin") : t("role.viewer");
  $("who").textContent = t("session.who", { user: state.session.user, role });
}

function enter(session) {
  api.setToken(session.csrf_token);
  state.session = session;
  state.head = "";
  document.body.classList.toggle("viewer", !admin());
  show($("kill-matching"), admin());
  $("autorefresh").checked = !!session.autorefresh;
  renderWho();
  show($("who"), true);
  show($("logout"), true);
  show($("login-view"), false);
  show($("table-view"), true);
  clearError();
  say(null);
  state.samples = [];
  openEvents();
  load();
  loadStats();
}

async function login(ev) {
  ev.preventDefault();
  const user = $("login-user").value;
  const password = $("login-password").value;
  try {
    const s = await api.call("POST", "/session", { body: { user: user || undefined, password: password || undefined } });
    $("login-password").value = "";
    enter(s);
  } catch (e) {
    const key = e.status === 401 ? "login.failed" : e.status === 429 ? "login.throttled" : "login.error";
    const msg = $("login-message");
    msg.dataset.key = key;
    msg.textContent = t(key);
    show(msg, true);
  }
}

async function logout() {
  try { await api.call("DELETE", "/session"); } catch (_) { /* gone already */ }
  showLogin("login.logged_out");
}

function expired() { if (state.session) showLogin("login.expired"); }

// ---- live events ----

function openEvents() {
  if (state.events) state.events.close();
  const es = new EventSource("/api/v1/events");
  state.events = es;
  es.addEventListener("counts", (e) => {
    let counts;
    try { counts = JSON.parse(e.data); } catch (_) { return; }
    state.samples.push(counts);
    const from = counts.at_ms - WINDOW_MS - 5000;
    while (state.samples.length && state.samples[0].at_ms < from) state.samples.shift();
    drawCharts();
    state.ticks += 1;
    if (state.ticks % 5 === 0) loadStats();
    if ($("autorefresh").checked && !document.hidden) schedule(200);
  });
  es.addEventListener("expired", () => expired());
  es.addEventListener("error", async () => {
    if (es.readyState !== EventSource.CLOSED || state.events !== es) return;
    try { await api.call("GET", "/session"); setTimeout(() => { if (state.events === es) openEvents(); }, 2000); } catch (e) { if (e.status === 401) expired(); }
  });
}

function drawCharts() { for (const c of charts) c.draw(state.samples); }

// ---- the table ----

function schedule(ms) {
  if (state.timer) return;
  state.timer = setTimeout(() => { state.timer = null; load(); }, ms);
}

function params() {
  const p = api.filterParams(state.filter);
  if (state.order.by) { p.set("order_by", state.order.by); p.set("order_dir", state.order.dir); }
  p.set("start", String(state.start));
  p.set("length", String(state.length));
  return p;
}

async function load() {
  if (!state.session) return;
  if (state.loading) { state.again = true; return; }
  state.loading = true;
  try {
    do {
      state.again = false;
      const asked = state.filter;
      const page = await api.call("GET", "/connections", { query: params() });
      // Asked again meanwhile (a new filter, sort or page): this answer is
      // for the old question; draw only the answer to the new one.
      if (state.again) continue;
      // Which filter the drawn page answers (tests wait for it).
      document.body.dataset.filter = asked;
      if (page.total > 0 && page.start >= page.total) {
        state.start = Math.floor((page.total - 1) / state.length) * state.length;
        state.again = true;
        continue;
      }
      state.page = page;
      clearError();
      render();
    } while (state.again && state.session);
  } catch (e) {
    fail(e);
  } finally {
    state.loading = false;
  }
}

function actions(c) {
  const edit = document.createElement("button");
  edit.type = "button";
  edit.className = "edit";
  edit.textContent = t("row.edit");
  edit.setAttribute("aria-label", t("row.edit_label", { id: c.id }));
  edit.addEventListener("click", () => editRow(c));
  const kill = document.createElement("button");
  kill.type = "button";
  kill.className = "kill danger";
  kill.textContent = t("row.kill");
  kill.setAttribute("aria-label", t("row.kill_label", { id: c.id }));
  kill.addEventListener("click", () => killRow(c));
  return [edit, kill];
}

/** While the first dump loads, a progress bar stands in for the table (whose
 * rows are only those read so far); it comes back once the answer is live. */
function renderLoading(loading) {
  show($("loading"), !!loading);
  show($("table-box"), !loading);
  show($("pager"), !loading);
  if (!loading) return false;
  show($("empty"), false);
  const bar = $("loading-bar");
  bar.max = Math.max(loading.expected, 1);
  bar.value = Math.min(loading.loaded, bar.max);
  const percent = new Intl.NumberFormat(i18n.current(), { style: "percent" }).format(bar.value / bar.max);
  $("loading-text").textContent = t("loading.progress", { loaded: num(loading.loaded), expected: num(loading.expected), percent });
  document.body.dataset.loading = "1";
  // Keep asking until the table is whole, whatever the autorefresh switch says.
  schedule(500);
  return true;
}

function render() {
  const page = state.page;
  if (!page) return;
  if (renderLoading(page.loading)) return;
  delete document.body.dataset.loading;
  const rows = page.connections;
  const columns = visible(rows);
  // Redraw the header only when it changes, and give focus back to the
  // row button that had it: a live page redraws every second.
  const head = [columns.map((c) => c.id).join(), state.order.by, state.order.dir, admin(), i18n.current()].join("|");
  const active = document.activeElement;
  if (head !== state.head) {
    state.head = head;
    const sortFocus = active?.closest?.("#head") ? active.dataset.sort : null;
    renderHead($("head"), columns, state.order, admin(), sortBy);
    if (sortFocus) document.querySelector(`#head button[data-sort="${sortFocus}"]`)?.focus();
  }
  const row = active?.closest?.("#rows tr");
  const focus = row ? `#rows tr[data-id="${row.dataset.id}"] button.${active.classList[0]}` : null;
  renderRows($("rows"), columns, rows, admin() ? actions : null);
  if (focus) document.querySelector(focus)?.focus();
  show($("empty"), rows.length === 0);
  const from = rows.length ? page.start + 1 : 0;
  const to = page.start + rows.length;
  $("range").textContent = page.total
    ? t("pager.range", { from: num(from), to: num(to), total: num(page.total), size: num(page.table_size) })
    : t("pager.none", { size: num(page.table_size) });
  $("first").disabled = $("prev").disabled = page.start === 0;
  $("next").disabled = $("last").disabled = to >= page.total;
  $("autorefresh").checked = page.autorefresh;
  const at = new Date(page.snapshot).toLocaleTimeString(i18n.current());
  $("snapshot").textContent = page.autorefresh ? t("table.live", { time: at }) : t("table.frozen", { time: at });
  document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
}

function sortBy(key) {
  if (state.order.by === key) state.order.dir = state.order.dir === "asc" ? "desc" : "asc";
  else state.order = { by: key, dir: "asc" };
  state.start = 0;
  load();
}

function go(where) {
  const total = state.page?.total || 0;
  const last = total ? Math.floor((total - 1) / state.length) * state.length : 0;
  const to = { first: 0, prev: state.start - state.length, next: state.start + state.length, last }[where];
  state.start = Math.max(0, Math.min(to, last));
  load();
}

// ---- actions ----

async function killRow(c) {
  const ok = await dialogs.confirm(t("kill.one_title"), t("kill.one_text", { what: describe(c) }), t("kill.one_ok"));
  if (!ok) return;
  try {
    const r = await api.call("DELETE", `/connections/${c.id}`);
    say(r.killed ? "kill.done_one" : "kill.gone");
  } catch (e) { fail(e); }
  load();
}

async function editRow(c) {
  const change = await dialogs.edit(c, describe(c));
  if (!change) return;
  try {
    await api.call("PATCH", `/connections/${c.id}`, { body: change });
    say("edit.done");
  } catch (e) { fail(e); }
  load();
}

async function killMatching() {
  const filter = api.filterParams(state.filter);
  if (![...filter.keys()].length) { say("kill.need_filter"); return; }
  try {
    const count = new URLSearchParams(filter);
    count.set("length", "0");
    const { total } = await api.call("GET", "/connections", { query: count });
    if (!total) { say("kill.none"); return; }
    const ok = await dialogs.confirm(
      t("kill.matching_title"),
      t(total === 1 ? "kill.matching_text_one" : "kill.matching_text_many", { n: num(total), filter: state.filter }),
      t("kill.matching_ok", { n: num(total) }),
    );
    if (!ok) return;
    const r = await api.call("POST", "/connections/kill", { query: filter });
    say(r.killed === 1 ? "kill.done_one" : "kill.done_many", { n: num(r.killed) });
  } catch (e) { fail(e); }
  load();
}

async function setAutorefresh() {
  const on = $("autorefresh").checked;
  try { await api.call("PUT", "/autorefresh", { body: { on } }); } catch (e) { fail(e); }
  load();
}

async function refresh() {
  try { await api.call("POST", "/refresh"); } catch (e) { fail(e); }
  load();
  loadStats();
}

// ---- statistics ----

async function loadStats() {
  if (!state.session) return;
  try {
    state.stats = await api.call("GET", "/stats");
    renderStats();
  } catch (e) { fail(e); }
}

function renderStats() {
  const s = state.stats;
  if (!s) return;
  const yes = (b) => (b ? t("stats.on") : t("stats.off"));
  const items = [
    ...(s.loading ? [[t("stats.loading"), t("stats.loading_value", { loaded: num(s.loading.loaded), expected: num(s.loading.expected) })]] : []),
    [t("stats.table_size"), num(s.table_size)],
    [t("stats.kernel_entries"), num(s.kernel_entries)],
    [t("stats.table_limit"), num(s.table_limit)],
    [t("stats.buckets"), s.buckets ? num(s.buckets) : "—"],
    [t("stats.accounting"), yes(s.accounting)],
    [t("stats.timestamps"), yes(s.timestamps)],
    [t("stats.found"), num(s.kernel.found)],
    [t("stats.invalid"), num(s.kernel.invalid)],
    [t("stats.insert_failed"), num(s.kernel.insert_failed)],
    [t("stats.drop"), num(s.kernel.drop)],
    [t("stats.early_drop"), num(s.kernel.early_drop)],
    [t("stats.error"), num(s.kernel.error)],
    [t("stats.search_restart"), num(s.kernel.search_restart)],
    [t("stats.clash_resolve"), num(s.kernel.clash_resolve)],
    [t("stats.chaintoolong"), num(s.kernel.chaintoolong)],
    [t("stats.events"), num(s.mirror.events)],
    [t("stats.resyncs"), num(s.mirror.resyncs)],
    [t("stats.overflows"), num(s.mirror.overflows)],
  ];
  $("stats").replaceChildren(...items.map(([k, v]) => {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    div.append(dt, dd);
    return div;
  }));
  renderPressure(s);
}

// The pressure warning, in the page's language, from the fields `stats`
// gives for machines (its `warnings` say the same in English).
function renderPressure(s) {
  const p = s.pressure;
  const box = $("pressure");
  const warn = p && (p.ratio_high || p.chaintoolong_recent > 0);
  show(box, Boolean(warn));
  if (!warn) {
    $("pressure-text").replaceChildren();
    return;
  }
  const para = (text) => {
    const el = document.createElement("p");
    el.textContent = text;
    return el;
  };
  const parts = [];
  if (p.ratio_high) {
    const ratio = new Intl.NumberFormat(i18n.current(), { maximumFractionDigits: 1 }).format(s.table_limit / s.buckets);
    parts.push(para(t("pressure.ratio", { max: num(s.table_limit), buckets: num(s.buckets), ratio, limit: num(p.ratio_limit) })));
  }
  if (p.chaintoolong_recent > 0) {
    parts.push(para(t("pressure.chaintoolong", { n: num(p.chaintoolong_recent), minutes: Math.round(p.window_secs / 60) })));
  }
  // The hash size goes into commands: plain digits, never grouped.
  const n = String(p.suggested_hashsize);
  const command = document.createElement("code");
  command.textContent = `echo ${n} > /sys/module/nf_conntrack/parameters/hashsize`;
  const advice = para(t("pressure.advice", { n: num(p.suggested_hashsize) }) + " ");
  advice.append(command);
  const option = document.createElement("code");
  option.textContent = `options nf_conntrack hashsize=${n}`;
  const keep = para(t("pressure.keep") + " ");
  keep.append(option);
  parts.push(advice, keep);
  $("pressure-text").replaceChildren(...parts);
}

// ---- language ----

async function switchLanguage() {
  const l = $("lang").value;
  i18n.remember(l);
  await i18n.load(l);
  relabel();
}

function relabel() {
  $("lang").value = i18n.current();
  renderWho();
  render();
  renderStats();
  drawCharts();
  if (state.status) say(state.status.key, state.status.vars);
  const msg = $("login-message");
  if (msg.dataset.key) msg.textContent = t(msg.dataset.key);
  show($("error"), false);
}

// ---- start ----

function wire() {
  charts = [
    new Chart($("chart-proto"), $("legend-proto"), "by_proto"),
    new Chart($("chart-state"), $("legend-state"), "by_state"),
  ];
  api.onSessionLost(expired);
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("change", switchLanguage);
  $("filter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.filter = $("filter").value.trim();
    state.start = 0;
    say(null);
    load();
  });
  $("filter-clear").addEventListener("click", () => {
    $("filter").value = "";
    state.filter = "";
    state.start = 0;
    load();
  });
  for (const where of ["first", "prev", "next", "last"]) $(where).addEventListener("click", () => go(where));
  $("page-size").addEventListener("change", () => {
    state.length = Number($("page-size").value);
    state.start = 0;
    load();
  });
  $("autorefresh").addEventListener("change", setAutorefresh);
  $("refresh").addEventListener("click", refresh);
  $("kill-matching").addEventListener("click", killMatching);
}

async function start() {
  await i18n.load(i18n.pick());
  $("lang").value = i18n.current();
  wire();
  state.length = Number($("page-size").value);
  try {
    enter(await api.call("GET", "/session"));
  } catch (_) {
    showLogin(null);
  }
  document.body.dataset.ready = "1";
}

start();
