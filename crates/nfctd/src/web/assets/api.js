// api: every call to the JSON API under /api/v1, with the session's CSRF
// token on state-changing calls; a 401 anywhere but /session means the
// session is gone, and the page is told once.

let csrf = "";
let lost = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setToken(token) { csrf = token || ""; }

/** `fn(error)` runs when a call finds the session gone. */
export function onSessionLost(fn) { lost = fn; }

/** Calls `method path?query` with an optional JSON body; resolves to the JSON answer (null for 204). */
export async function call(method, path, { query, body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const qs = query && String(query) ? `?${query}` : "";
  let r;
  try {
    r = await fetch(`/api/v1${path}${qs}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, "network", String(e));
  }
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const err = new ApiError(r.status, data?.error?.code || "http", data?.error?.message || `HTTP ${r.status}`);
    if (r.status === 401 && path !== "/session") lost(err);
    throw err;
  }
  return data;
}

/** The filter language typed in the filter bar as query parameters:
 * `key=value` tokens become parameters (repeated keys are ANDed by the
 * server, a comma lists alternatives), any other word a `q` free-text term. */
export function filterParams(text) {
  const params = new URLSearchParams();
  for (const token of text.trim().split(/\s+/)) {
    if (!token) continue;
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(.*)$/.exec(token);
    if (m) params.append(m[1].toLowerCase(), m[2]);
    else params.append("q", token);
  }
  return params;
}
