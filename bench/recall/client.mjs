// The HTTP client of the bench/recall scripts: JSON or raw bodies, the bearer token once signed
// up, the time each call took; a status of 300 or more throws with the body.
export function apiClient(base) {
  const api = `${base}/api/v1`;
  let token = null;
  async function call(method, p, { body, raw, type } = {}) {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (raw !== undefined) headers['Content-Type'] = type;
    const t0 = performance.now();
    const r = await fetch(api + p, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await r.text();
    const ms = performance.now() - t0;
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${text}`);
    return { json: text ? JSON.parse(text) : null, ms };
  }
  return { call, setToken: (t) => (token = t) };
}
