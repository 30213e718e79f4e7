// The HTTP client of the UI: tokens (access in memory, refresh in the httpOnly cookie), silent refresh,
// JSON calls with human error messages, SSE replies and uploads with progress.
const BASE = '/api/v1';

let access = null; // the access token, only ever in memory
let refreshTimer = 0;
let user = null;
const listeners = new Set();

export const session = {
  get user() {
    return user;
  },
  get token() {
    return access;
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

const FRIENDLY = {
  invalid_credentials: 'That e-mail and password do not match an account.',
  totp_required: 'Enter the 6-digit code from your authenticator app.',
  invalid_totp: 'That code is not valid. Try the current code, or a recovery code.',
  invalid_refresh_token: 'Your session has ended. Please log in again.',
  unauthenticated: 'Your session has ended. Please log in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'This could not be found — it may have been deleted, or it is not shared with you.',
  rate_limited: 'Too many attempts. Please wait a moment and try again.',
  too_large: 'That is too large for this server.',
  unsupported_media_type: 'This kind of file is not supported.',
  not_implemented: 'This feature is coming in a later release.',
  unavailable: 'The server is busy or a service it needs is down. Try again shortly.',
  internal_error: 'Something went wrong on the server. Try again.',
  database_error: 'Something went wrong on the server. Try again.',
  network: 'Cannot reach the server. Check your connection.',
};

/* An API failure: .status, .code, .message (for a person), .detail (the server's own words). */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    let msg = FRIENDLY[code];
    if (!msg || code === 'invalid_input' || code === 'conflict' || code === 'unprocessable' || code === 'forbidden') {
      msg = detail ? detail.charAt(0).toUpperCase() + detail.slice(1) + (/[.!?]$/.test(detail) ? '' : '.') : msg;
    }
    if (code === 'rate_limited' && retryAfter) msg = `Too many attempts. Try again in ${retryAfter} s.`;
    super(msg || 'Something went wrong.');
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

async function errorOf(res) {
  let code = 'http_' + res.status;
  let detail = '';
  try {
    const j = await res.json();
    if (j && j.error) ({ code, message: detail } = j.error);
  } catch {}
  return new ApiError(res.status, code, detail, res.headers.get('retry-after'));
}

const HINT = 'doppel.signed-in'; // not a secret: only whether a refresh cookie is worth trying

function setTokens(body) {
  access = body.access_token;
  try {
    localStorage.setItem(HINT, '1');
  } catch {}
  user = body.user || user;
  clearTimeout(refreshTimer);
  // Refresh a minute before expiry (or at three quarters of a short life), so calls never meet a 401.
  const life = body.expires_in || 900;
  const at = life > 240 ? life - 60 : life * 0.75;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), at * 1000);
  for (const fn of listeners) fn(user);
}

function clearTokens() {
  access = null;
  try {
    localStorage.removeItem(HINT);
  } catch {}
  user = null;
  clearTimeout(refreshTimer);
  for (const fn of listeners) fn(null);
}

/* One refresh at a time, across tabs too: the cookie's token is spent on use. */
let refreshing = null;
export function refresh() {
  if (refreshing) return refreshing;
  const run = async () => {
    const res = await fetch(`${BASE}/auth/refresh?cookie=1`, { method: 'POST', credentials: 'same-origin' });
    if (!res.ok) {
      const e = await errorOf(res);
      if (res.status === 401) clearTokens();
      throw e;
    }
    setTokens(await res.json());
    return user;
  };
  const locked = navigator.locks ? () => navigator.locks.request('doppel-refresh', run) : run;
  refreshing = locked().finally(() => (refreshing = null));
  return refreshing;
}

/* Restores the session from the cookie at start; resolves with the user or null. */
export async function restore() {
  try {
    if (!localStorage.getItem(HINT)) return null;
  } catch {}
  try {
    return await refresh();
  } catch {
    return null;
  }
}

export function headers(extra = {}) {
  const h = { ...extra };
  if (access) h.authorization = `Bearer ${access}`;
  return h;
}

/*
 * A JSON call. body: an object (sent as JSON), a Blob/FormData (sent as is) or undefined.
 * opts.headers, opts.auth (default true), opts.raw (return the Response).
 * Throws ApiError; retries once after a silent refresh on 401.
 */
export async function api(method, path, body, opts = {}) {
  const url = path.startsWith('/') && !path.startsWith('/api/') ? BASE + path : path;
  const send = async () => {
    const h = opts.auth === false ? { ...(opts.headers || {}) } : headers(opts.headers);
    let b = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body !== 'string') {
      h['content-type'] = 'application/json';
      b = JSON.stringify(body);
    }
    try {
      return await fetch(url, { method, headers: h, body: b, credentials: 'same-origin', signal: opts.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', '');
    }
  };
  let res = await send();
  if (res.status === 401 && opts.auth !== false && access) {
    try {
      await refresh();
      res = await send();
    } catch {}
  }
  if (!res.ok) throw await errorOf(res);
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

/* The URL of a WebSocket route (path with its own query, if any) with a fresh one-time ticket:
 * browsers cannot set an Authorization header on a WebSocket. Throws ApiError. */
export async function wsUrl(path) {
  const { ticket } = await api('POST', '/auth/ws-ticket', {});
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}${path}${path.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const patch = (p, b, o) => api('PATCH', p, b, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

/* Creates an account and signs in. invitation: the token of an invitation link, if any.
 * Resolves with the user, or with {pending: message} when the server has nothing more to say
 * (an address that may already have an account: it never tells which). */
export async function signup(email, password, display_name, invitation) {
  const b = { email, password };
  if (display_name) b.display_name = display_name;
  if (invitation) b.invitation = invitation;
  const r = await api('POST', '/auth/signup?cookie=1', b, { auth: false });
  if (!r || !r.access_token) return { pending: (r && r.message) || 'Check your details and log in.' };
  setTokens(r);
  return user;
}

export async function login(email, password, totp) {
  const b = { email, password };
  if (totp) b.totp = totp;
  setTokens(await api('POST', '/auth/login?cookie=1', b, { auth: false }));
  return user;
}

export async function logout() {
  try {
    await api('POST', '/auth/logout?cookie=1', {});
  } catch {}
  clearTokens();
}

export async function reloadMe() {
  user = await get('/auth/me');
  for (const fn of listeners) fn(user);
  return user;
}

/*
 * Sends a message and reads the reply as Server-Sent Events.
 * on: {delta(text), citation(c), done(message), error(err)}. auth: header value (Bearer/Visitor).
 * Resolves with the final message.
 */
export async function streamMessage(url, text, on, auth) {
  const h = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (auth) h.authorization = auth;
  else if (access) h.authorization = `Bearer ${access}`;
  let res;
  try {
    res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ text }) });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (res.status === 401 && !auth && access) {
    await refresh();
    return streamMessage(url, text, on, auth);
  }
  if (!res.ok) throw await errorOf(res);
  const ct = res.headers.get('content-type') || '';
  if (!ct.includes('event-stream')) {
    const j = await res.json();
    on.done && on.done(j.message);
    return j.message;
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let final = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
      let ev = 'message';
      let data = '';
      for (const line of chunk.split(/\r?\n/)) {
        if (line.startsWith('event:')) ev = line.slice(6).trim();
        else if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(5).replace(/^ /, '');
      }
      let j = {};
      try {
        j = JSON.parse(data);
      } catch {}
      if (ev === 'delta') on.delta && on.delta(j.text || '');
      else if (ev === 'citation') on.citation && on.citation(j);
      else if (ev === 'done') {
        final = j.message;
        on.done && on.done(final);
      } else if (ev === 'error') {
        const e = new ApiError(500, j.code || 'internal_error', j.message || '');
        throw e;
      }
    }
  }
  return final;
}

/*
 * Uploads a file with XMLHttpRequest so that the bytes sent can be shown.
 * onProgress(sent, total). Resolves with the parsed JSON answer; rejects with ApiError.
 */
export function upload(path, file, onProgress, fields = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', BASE + path);
    if (access) xhr.setRequestHeader('authorization', `Bearer ${access}`);
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    fd.append('file', file, file.name);
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let j = null;
      try {
        j = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status >= 200 && xhr.status < 300) resolve(j);
      else {
        const er = (j && j.error) || {};
        reject(new ApiError(xhr.status, er.code || 'http_' + xhr.status, er.message || '', xhr.getResponseHeader('retry-after')));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', ''));
    xhr.send(fd);
  });
}
