// chart: the live overview, a line per protocol (or state) over the last
// minutes, drawn as SVG from the `counts` events the page receives.

import { t, num } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
/** How much history a chart shows. */
export const WINDOW_MS = 5 * 60 * 1000;
const W = 600;
const H = 200;
const PAD = { left: 48, right: 8, top: 8, bottom: 22 };
const COLORS = 8;

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

/** One chart over one field of the samples (`by_proto` or `by_state`). */
export class Chart {
  constructor(svg, legend, field) {
    this.svg = svg;
    this.legend = legend;
    this.field = field;
    this.colors = new Map();
  }

  color(key) {
    if (!this.colors.has(key)) this.colors.set(key, this.colors.size % COLORS);
    return this.colors.get(key);
  }

  /** Draws `samples` ({at_ms, by_proto, by_state}), oldest first. */
  draw(samples) {
    const svg = this.svg;
    svg.replaceChildren();
    const now = samples.length ? samples[samples.length - 1].at_ms : Date.now();
    const from = now - WINDOW_MS;
    const shown = samples.filter((s) => s.at_ms >= from);
    const keys = new Set();
    let max = 1;
    for (const s of shown) {
      for (const [k, v] of Object.entries(s[this.field] || {})) {
        keys.add(k);
        if (v > max) max = v;
      }
    }
    const x = (at) => PAD.left + ((at - from) / WINDOW_MS) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
    svg.append(el("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "axis" }));
    svg.append(el("line", { x1: PAD.left, y1: y(max), x2: W - PAD.right, y2: y(max), class: "grid" }));
    const top = el("text", { x: PAD.left - 4, y: y(max) + 4, class: "tick end" });
    top.textContent = num(max);
    const zero = el("text", { x: PAD.left - 4, y: y(0) + 4, class: "tick end" });
    zero.textContent = "0";
    const ago = el("text", { x: PAD.left, y: H - 4, class: "tick" });
    ago.textContent = t("chart.ago", { n: WINDOW_MS / 60000 });
    const nowText = el("text", { x: W - PAD.right, y: H - 4, class: "tick end" });
    nowText.textContent = t("chart.now");
    svg.append(top, zero, ago, nowText);
    const latest = shown.length ? shown[shown.length - 1][this.field] || {} : {};
    const ordered = [...keys].sort((a, b) => (latest[b] || 0) - (latest[a] || 0) || a.localeCompare(b));
    for (const k of ordered) {
      const points = shown.map((s) => `${x(s.at_ms).toFixed(1)},${y((s[this.field] || {})[k] || 0).toFixed(1)}`);
      if (points.length === 1) points.push(`${(W - PAD.right).toFixed(1)},${points[0].split(",")[1]}`);
      svg.append(el("polyline", { points: points.join(" "), class: `line c${this.color(k)}` }));
    }
    this.legend.replaceChildren(...ordered.map((k) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch c${this.color(k)}`;
      swatch.setAttribute("aria-hidden", "true");
      li.append(swatch, t("chart.item", { key: k, n: num(latest[k] || 0) }));
      return li;
    }));
  }
}
