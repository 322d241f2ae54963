// dialogs: the confirmation and the mark/timeout editor, as modal <dialog>s
// (focus stays inside, Escape cancels).

import { t } from "./i18n.js";

/** Asks to confirm; resolves to true when the user chose the OK button. */
export function confirm(title, text, ok) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    dialog.querySelector("button[value=cancel]").focus();
  });
}

/** Reads an unsigned 32-bit value: decimal or 0x hex; null when invalid. */
export function u32(text) {
  const s = text.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s)) return null;
  const v = Number(s);
  return Number.isSafeInteger(v) && v >= 0 && v <= 4294967295 ? v : null;
}

/** Edits a connection's mark and timeout; resolves to the changed fields, or null. */
export function edit(conn, what) {
  const dialog = document.getElementById("edit-dialog");
  const form = document.getElementById("edit-form");
  const mark = document.getElementById("edit-mark");
  const timeout = document.getElementById("edit-timeout");
  const error = document.getElementById("edit-error");
  document.getElementById("edit-what").textContent = what;
  mark.value = String(conn.mark);
  timeout.value = String(conn.timeout);
  error.hidden = true;
  dialog.returnValue = "";
  let change = null;
  const check = (e) => {
    if (e.submitter?.value !== "ok") return;
    const m = u32(mark.value);
    const to = u32(timeout.value);
    if (m === null || to === null) {
      e.preventDefault();
      error.textContent = t(m === null ? "edit.bad_mark" : "edit.bad_timeout");
      error.hidden = false;
      (m === null ? mark : timeout).focus();
      return;
    }
    change = {};
    if (m !== conn.mark) change.mark = m;
    if (mark.value.trim() !== String(conn.mark) && m === conn.mark) change.mark = m;
    if (to !== conn.timeout || timeout.value.trim() !== String(conn.timeout)) change.timeout = to;
  };
  form.addEventListener("submit", check);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      form.removeEventListener("submit", check);
      resolve(dialog.returnValue === "ok" && change && Object.keys(change).length ? change : null);
    }, { once: true });
    dialog.showModal();
    mark.focus();
    mark.select();
  });
}
