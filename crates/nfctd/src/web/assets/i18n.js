// i18n: the English and French catalogs (/assets/i18n/LANG.json), the
// language chosen (remembered choice, else the browser's languages), t() and
// the data-i18n* attributes that the page's markup uses.

export const LANGS = ["en", "fr"];
const STORE = "nfctd-lang";
let catalog = {};
let lang = "en";

/** The language to start in: the remembered one, else the browser's first that we have. */
export function pick() {
  let saved = null;
  try { saved = localStorage.getItem(STORE); } catch (_) { /* storage disabled */ }
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || ""]) {
    const base = l.toLowerCase().split("-")[0];
    if (LANGS.includes(base)) return base;
  }
  return "en";
}

/** Loads a catalog and translates the page. */
export async function load(l) {
  const r = await fetch(`/assets/i18n/${l}.json`);
  catalog = await r.json();
  lang = l;
  document.documentElement.lang = l;
  apply(document);
}

/** Remembers the user's choice for the next visit. */
export function remember(l) {
  try { localStorage.setItem(STORE, l); } catch (_) { /* storage disabled */ }
}

export function current() { return lang; }

/** The text of `key`, with `{name}` replaced from `vars`. */
export function t(key, vars) {
  const text = Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translates data-i18n (text), data-i18n-placeholder and data-i18n-aria (aria-label) under root. */
export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

/** A number in the current language's digits and separators. */
export function num(n) {
  return new Intl.NumberFormat(lang).format(n);
}

/** A byte count with a binary unit. */
export function bytes(n) {
  if (n < 1024) return t("unit.b", { n: num(n) });
  const units = [t("unit.kib", { n: "{n}" }), t("unit.mib", { n: "{n}" }), t("unit.gib", { n: "{n}" }), t("unit.tib", { n: "{n}" })];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  const text = new Intl.NumberFormat(lang, { maximumFractionDigits: value < 10 ? 1 : 0 }).format(value);
  return units[i].replace("{n}", text);
}

/** A duration in seconds, in at most two units. */
export function duration(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return t("dur.s", { s });
  if (s < 3600) return t("dur.ms", { m: Math.floor(s / 60), s: s % 60 });
  if (s < 86400) return t("dur.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t("dur.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}
