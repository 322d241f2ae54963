// table: the connections table's columns, its header (sort buttons with
// aria-sort) and its rows (a page at a time, built with textContent only).

import { t, num, bytes, duration } from "./i18n.js";

/** ICMP has no ports: its id travels in the port fields. */
function ported(c) { return !c.proto.startsWith("icmp"); }

function endpoint(addr, port, family) {
  if (port === undefined || port === null) return addr;
  return family === "ipv6" ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function flow(c, side) {
  const p = ported(c);
  const src = endpoint(c[`${side}_src`], p ? c[`${side}_sport`] : null, c.family);
  const dst = endpoint(c[`${side}_dst`], p ? c[`${side}_dport`] : null, c.family);
  return `${src} → ${dst}`;
}

/** Source, then "→ destination" below it: two narrow lines, one text. */
function flowCell(td, c, side) {
  const src = document.createElement("span");
  const p = ported(c);
  src.textContent = endpoint(c[`${side}_src`], p ? c[`${side}_sport`] : null, c.family);
  const dst = document.createElement("span");
  dst.className = "to";
  dst.textContent = `→ ${endpoint(c[`${side}_dst`], p ? c[`${side}_dport`] : null, c.family)}`;
  td.append(src, " ", dst);
}

/** A connection as one line (for confirmations). */
export function describe(c) {
  return `${c.proto} ${flow(c, "orig")}`;
}

/** NAT shows as a reply tuple that is not the original one reversed. */
function natted(c) {
  return c.repl_src !== c.orig_dst || c.repl_dst !== c.orig_src
    || c.repl_sport !== c.orig_dport || c.repl_dport !== c.orig_sport;
}

/** The columns: label, the key the server sorts by, and the cell's content. */
export const COLUMNS = [
  { id: "proto", label: () => t("col.proto"), sort: "proto", cell: (td, c) => {
    td.textContent = c.proto;
    const fam = document.createElement("span");
    fam.className = "sub";
    fam.textContent = c.family;
    td.append(" ", fam);
  } },
  { id: "orig", label: () => t("col.orig"), sort: "orig_src", cell: (td, c) => { flowCell(td, c, "orig"); } },
  { id: "repl", label: () => t("col.repl"), sort: "repl_src", cell: (td, c) => {
    flowCell(td, c, "repl");
    if (natted(c)) {
      const nat = document.createElement("span");
      nat.className = "badge";
      nat.textContent = t("table.nat");
      td.append(" ", nat);
    }
  } },
  { id: "state", label: () => t("col.state"), sort: "state", cell: (td, c) => {
    td.textContent = c.state || "—";
    if (c.status && c.status.length) {
      const flags = document.createElement("span");
      flags.className = "sub flags";
      flags.textContent = c.status.join(" ").toLowerCase();
      td.append(" ", flags);
    }
  } },
  { id: "mark", label: () => t("col.mark"), sort: "mark", num: true, cell: (td, c) => { td.textContent = String(c.mark); } },
  { id: "timeout", label: () => t("col.timeout"), sort: "timeout", num: true, cell: (td, c) => { td.textContent = duration(c.timeout); } },
  { id: "orig_bytes", label: () => t("col.orig_bytes"), sort: "orig_bytes", num: true, cell: (td, c) => { td.textContent = bytes(c.orig_bytes); } },
  { id: "repl_bytes", label: () => t("col.repl_bytes"), sort: "repl_bytes", num: true, cell: (td, c) => { td.textContent = bytes(c.repl_bytes); } },
  { id: "rate", label: () => t("col.rate"), sort: "rate", num: true, cell: (td, c) => { td.textContent = t("unit.rate", { v: bytes(Math.round(c.rate)) }); } },
  { id: "age", label: () => t("col.age"), sort: "age", num: true, cell: (td, c) => { td.textContent = duration(c.age); } },
  { id: "user", label: () => t("col.user"), sort: "user", optional: true, cell: (td, c) => { td.textContent = c.user ?? (c.uid === undefined ? "" : String(c.uid)); } },
];

/** The columns shown for these rows: `user` only when the rows carry it. */
export function visible(rows) {
  const users = rows.some((c) => "user" in c || "uid" in c);
  return COLUMNS.filter((col) => !col.optional || users);
}

/** Draws the header row: one sort button per column, aria-sort on the sorted one. */
export function renderHead(tr, columns, order, admin, onSort) {
  tr.replaceChildren();
  for (const col of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.dataset.col = col.id;
    if (col.num) th.className = "num";
    const sorted = order.by === col.sort;
    th.setAttribute("aria-sort", sorted ? (order.dir === "desc" ? "descending" : "ascending") : "none");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.sort = col.sort;
    b.textContent = col.label();
    const arrow = document.createElement("span");
    arrow.className = "arrow";
    arrow.setAttribute("aria-hidden", "true");
    arrow.textContent = sorted ? (order.dir === "desc" ? "▼" : "▲") : "↕";
    b.append(" ", arrow);
    b.addEventListener("click", () => onSort(col.sort));
    th.append(b);
    tr.append(th);
  }
  if (admin) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = t("col.actions");
    tr.append(th);
  }
}

/** Draws a page of rows; `actions(c)` gives the action buttons of a row (admins). */
export function renderRows(tbody, columns, rows, actions) {
  const frag = document.createDocumentFragment();
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    for (const col of columns) {
      const td = document.createElement("td");
      td.dataset.label = col.label();
      td.dataset.col = col.id;
      if (col.num) td.className = "num";
      // One wrapper per cell, so a phone's card layout sees label + value.
      const value = document.createElement("span");
      value.className = "v";
      col.cell(value, c);
      td.append(value);
      tr.append(td);
    }
    if (actions) {
      const td = document.createElement("td");
      td.className = "actions";
      td.dataset.label = t("col.actions");
      td.append(...actions(c));
      tr.append(td);
    }
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
}

export { num };
