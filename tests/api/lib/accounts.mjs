// Helpers of the accounts suites (accounts*.test.mjs): servers with cheap password hashing,
// users in each role, TOTP codes (RFC 6238), hand-made JWTs, a second instance sharing the
// first one's PostgreSQL database and Redis.
//
// Uses lib/server.mjs (start/stop, HTTP helpers) and adds:
//   startAccounts(opts)  a server with --argon2-memory-kib 8192 --argon2-ops 1 and generous rate
//                        limits (opts.authRate / opts.apiRate to lower them), opts.jwtKey (hex),
//                        opts.redisDb (postgres backend: a dedicated, flushed Redis database, so
//                        that per-IP buckets are not shared with other test files).
//   startPeer(a, opts)   a second instance on a's database and Redis (postgres backend only).
//   apiFrom(srv, addr, …) an API call from another loopback address (another client IP).
//   addMember(srv, adminToken, opts) a member of the admin's org (self sign-ups get orgs of their own).
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { BACKEND, binPath, get, start } from './server.mjs';
import { checkResponse } from './contract.mjs';

export { BACKEND };
export const FAST_ARGON = ['--argon2-memory-kib', '8192', '--argon2-ops', '1'];
export const PASSWORD = 'Sekrit-Test-Passw0rd-' + randomBytes(4).toString('hex');
export const BASE = '/api/v1';

export const randomKeyHex = () => randomBytes(32).toString('hex');

let counter = 0;
/* A unique e-mail address (unique across runs and servers, so that Redis keys never collide). */
export function uniqEmail(tag = 'u') {
  counter++;
  return `${tag}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}@example.test`;
}

/* ---- a minimal Redis client (RESP), used to give a test file its own flushed database ---- */

function respEncode(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
  return s;
}

/* Runs commands in order on one connection; resolves with the raw reply text. */
export function redisCommands(url, commands, timeoutMs = 5000) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port || 6379), u.hostname);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`redis ${url}: no reply in ${timeoutMs} ms (got ${JSON.stringify(buf)})`));
    }, timeoutMs);
    s.on('connect', () => s.write(commands.map(respEncode).join('')));
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      // Every command here answers one simple line (+OK / :n / -ERR).
      const lines = buf.split('\r\n').filter(Boolean);
      if (lines.length >= commands.length) {
        clearTimeout(timer);
        s.end();
        if (lines.some((l) => l.startsWith('-'))) reject(new Error(`redis error: ${buf}`));
        else resolve(lines);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/* The Redis URL of database n of the test Redis, flushed. */
export async function freshRedisDb(n) {
  const base = process.env.DOPPEL_TEST_REDIS_URL;
  if (!base) throw new Error('DOPPEL_TEST_REDIS_URL is not set (start scripts/test-servers.sh)');
  // A lane of the suite may be given a base database (redis://…/16): its numbers count from there,
  // so lanes running side by side never flush each other's databases.
  const u = new URL(base);
  const db = (parseInt(u.pathname.slice(1), 10) || 0) + n;
  u.pathname = '/' + db;
  await redisCommands(u.toString(), [['SELECT', db], ['FLUSHDB']]);
  return u.toString();
}

/* ---- servers ---- */

function accountArgs(opts) {
  const args = [...FAST_ARGON];
  args.push('--auth-rate', String(opts.authRate ?? 100000));
  args.push('--api-rate', String(opts.apiRate ?? 100000));
  args.push('--search-rate', String(opts.searchRate ?? 100000));
  if (opts.jwtKey) args.push('--jwt-key', opts.jwtKey);
  return [...args, ...(opts.args || [])];
}

export async function startAccounts(opts = {}) {
  const o = { ...opts, args: accountArgs(opts) };
  if (BACKEND === 'postgres' && opts.redisDb !== undefined) o.redisUrl = await freshRedisDb(opts.redisDb);
  const s = await start(o);
  s.redisUrl = o.redisUrl || (BACKEND === 'postgres' ? process.env.DOPPEL_TEST_REDIS_URL : null);
  return s;
}

/* A second instance sharing a's PostgreSQL database, Redis and blob store (pass the same jwtKey):
 * either instance's job workers may claim a job about a file the other stored. */
export async function startPeer(a, opts = {}) {
  if (!a.databaseUrl || !a.redisUrl) throw new Error('startPeer needs a postgres-backed first instance');
  const s = await start({
    ...opts,
    backend: 'sqlite', // i.e. "do not make a fresh database": the URLs are given explicitly
    redisUrl: a.redisUrl,
    args: [...accountArgs(opts), '--database-url', a.databaseUrl, '--blob-url', path.join(a.dataDir, 'blobs')],
  });
  s.redisUrl = a.redisUrl;
  s.databaseUrl = a.databaseUrl;
  return s;
}

export const SHARED_SKIP =
  BACKEND === 'postgres' ? false : 'needs two instances sharing PostgreSQL + Redis (run with DOPPEL_API_BACKEND=postgres)';

/* ---- HTTP ---- */

/* One API call: api(srv, 'GET', '/users', {token, body, headers}) → {status, headers, text, json}.
 * The path is taken under /api/v1 unless it already starts with /api/, /v1/ or /metrics. */
export async function api(srv, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let b;
  if (body !== undefined) {
    b = typeof body === 'string' ? body : JSON.stringify(body);
    if (!('content-type' in h)) h['content-type'] = 'application/json';
  }
  const p = path.startsWith('/api/') || path.startsWith('/metrics') || path.startsWith('/v1/') ? path : BASE + path;
  return get(srv.url, p, { method, headers: h, body: b, redirect: 'manual' });
}

/* The same call from another loopback address, e.g. '127.0.0.2': Linux routes all of 127/8 to
 * lo, so the server sees another client IP without trusting any header. Same result shape. */
export function apiFrom(srv, localAddress, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let b;
  if (body !== undefined) {
    b = typeof body === 'string' ? body : JSON.stringify(body);
    if (!('content-type' in h)) h['content-type'] = 'application/json';
  }
  const p = path.startsWith('/api/') || path.startsWith('/metrics') || path.startsWith('/v1/') ? path : BASE + path;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: srv.port, localAddress, method, path: p, headers: h, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {}
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const x of Array.isArray(v) ? v : [v]) headers.append(k, x);
          }
          const out = { status: res.statusCode, headers, text, json };
          checkResponse(srv.url, method, p, out, headers.get('content-type'), binPath()).then(() => resolve(out), reject);
        });
      },
    );
    req.on('error', reject);
    if (b !== undefined) req.write(b);
    req.end();
  });
}

/* Asserts status (and error code when given); the message on failure shows the request. */
export function expectStatus(assert, r, status, code, what = '') {
  assert.equal(r.status, status, `${what ? what + ': ' : ''}expected HTTP ${status}, got ${r.status}: ${r.text}`);
  if (code) {
    assert.ok(r.json && r.json.error, `${what}: expected an error body, got ${r.text}`);
    assert.equal(r.json.error.code, code, `${what}: error code`);
  }
}

export async function signup(srv, { email = uniqEmail(), password = PASSWORD, display_name = 'Test User', query = '', invitation } = {}) {
  const r = await api(srv, 'POST', '/auth/signup' + query, { body: { email, password, display_name, invitation } });
  if (r.status !== 201) throw new Error(`signup ${email} → ${r.status}: ${r.text}`);
  return { ...r.json, email, password, token: r.json.access_token, id: r.json.user.id };
}

export async function login(srv, email, password = PASSWORD, extra = {}) {
  return api(srv, 'POST', '/auth/login', { body: { email, password, ...extra } });
}

export async function loginOk(srv, email, password = PASSWORD, extra = {}) {
  const r = await login(srv, email, password, extra);
  if (r.status !== 200) throw new Error(`login ${email} → ${r.status}: ${r.text}`);
  return { ...r.json, token: r.json.access_token, id: r.json.user.id, email, password };
}

/* Creates a user through POST /users as `by` (a token) and logs them in. */
export async function makeUser(srv, byToken, { role = 'member', org_id, display_name, email = uniqEmail(role) } = {}) {
  const body = { email, password: PASSWORD, display_name: display_name || `${role} ${email.slice(0, 12)}`, role };
  if (org_id) body.org_id = org_id;
  const r = await api(srv, 'POST', '/users', { token: byToken, body });
  if (r.status !== 201) throw new Error(`POST /users ${JSON.stringify(body)} → ${r.status}: ${r.text}`);
  const l = await loginOk(srv, email);
  return { ...l, user: r.json, id: r.json.id };
}

/* A member of the admin's organisation ("default" for the first account), logged in: what a
 * sign-up was before self sign-ups got organisations of their own. */
export async function addMember(srv, adminToken, opts = {}) {
  return makeUser(srv, adminToken, { role: 'member', ...opts });
}

export async function makeOrg(srv, adminToken, name = 'Org ' + randomBytes(3).toString('hex')) {
  const r = await api(srv, 'POST', '/orgs', { token: adminToken, body: { name } });
  if (r.status !== 201) throw new Error(`POST /orgs → ${r.status}: ${r.text}`);
  return r.json;
}

/* Every item of a list route, following next_cursor. */
export async function listAll(srv, path, token, limit = 200) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(srv, 'GET', `${path}${sep}limit=${limit}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`, { token });
    if (r.status !== 200) throw new Error(`GET ${path} → ${r.status}: ${r.text}`);
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (!cursor) return items;
  }
  throw new Error(`GET ${path}: pagination does not end`);
}

/* ---- TOTP (RFC 6238: HMAC-SHA-1, 30 s, 6 digits) ---- */

export function base32Decode(s) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let val = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const i = alpha.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${s}`);
    val = (val << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((val >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function totpAt(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = mac[19] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, '0');
}

export const currentStep = () => Math.floor(Date.now() / 1000 / 30);

/* Waits until at least `seconds` remain in the current 30 s step; returns that step. */
export async function stepWithRoom(seconds) {
  const into = (Date.now() / 1000) % 30;
  if (30 - into < seconds) await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 200));
  return currentStep();
}

/* ---- JWTs by hand ---- */

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

/* header/payload: objects or raw JSON strings; keyHex: the HS256 key, or null for an empty signature. */
export function signJwt(header, payload, keyHex) {
  const enc = (x) => b64url(typeof x === 'string' ? x : JSON.stringify(x));
  const input = `${enc(header)}.${enc(payload)}`;
  if (keyHex === null) return `${input}.`;
  const sig = createHmac('sha256', Buffer.from(keyHex, 'hex')).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

/* Reads a metric sample sum from /metrics text (0 when absent). */
export function metricValue(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = {};
    for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) ls[k] = v;
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function metricsText(srv) {
  const r = await get(srv.url, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics → ${r.status}`);
  return r.text;
}

/* Stops servers gracefully (SIGTERM; SIGKILL after 5 s — the launcher then prints their stderr). */
export async function stopAll(...servers) {
  await Promise.all(servers.filter(Boolean).map((s) => s.stop('SIGTERM', 5000)));
}
