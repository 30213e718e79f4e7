// Access-token attacks on GET /auth/me: alg none, another key, tampered payload, expired,
// not yet valid, wrong typ, extra header fields, wrong token_use, forged sessions, Basic auth,
// malformed headers — all 401, never the data. The server runs with a --jwt-key chosen here so
// that tokens can be crafted with the real key.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { errorShape, start } from './lib/server.mjs';
import {
  api,
  b64url,
  decodeJwt,
  expectStatus,
  FAST_ARGON,
  randomKeyHex,
  signJwt,
  signup,
  startAccounts,
  stopAll,
} from './lib/accounts.mjs';

const KEY = randomKeyHex();
let srv;
let user; // a member
let claims; // the payload of a real token of user

before(async () => {
  srv = await startAccounts({ jwtKey: KEY });
  await signup(srv, { display_name: 'Admin' });
  user = await signup(srv, { display_name: 'Victim' });
  claims = decodeJwt(user.token).payload;
});
after(() => stopAll(srv));

const HDR = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);

async function me(token, extraHeaders = {}) {
  return api(srv, 'GET', '/auth/me', { headers: { authorization: `Bearer ${token}`, ...extraHeaders } });
}

async function rejected(token, what) {
  const r = await me(token);
  errorShape(assert, r, 401);
  assert.equal(r.json.error.code, 'unauthenticated', what);
  assert.ok(!r.text.includes(user.email), `${what}: leaks the user`);
  assert.match(r.headers.get('www-authenticate') || '', /^Bearer/, `${what}: WWW-Authenticate`);
}

test('the issued token is HS256 with the expected claims; one crafted with the same key passes', async () => {
  const { header, payload } = decodeJwt(user.token);
  assert.deepEqual(header, HDR);
  for (const k of ['sub', 'org', 'role', 'sid', 'iat', 'nbf', 'exp']) assert.ok(k in payload, `claim ${k}`);
  assert.equal(payload.sub, user.id);
  assert.equal(payload.role, 'member');
  assert.ok(payload.exp > now() && payload.exp - payload.iat === user.expires_in);
  assert.ok(!JSON.stringify(payload).includes(user.email), 'no e-mail in the token');
  // Sanity of the crafting: same claims, our signature, accepted.
  const t = signJwt(HDR, { ...payload, iat: now(), nbf: now(), exp: now() + 60 }, KEY);
  expectStatus(assert, await me(t), 200);
});

test('alg none (with and without a signature) → 401', async () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const p = { ...claims, role: 'admin' };
    await rejected(signJwt({ alg, typ: 'JWT' }, p, null), `alg ${alg}, empty signature`);
    await rejected(signJwt({ alg, typ: 'JWT' }, p, KEY), `alg ${alg}, HMAC signature`);
    await rejected(signJwt({ alg, typ: 'JWT' }, claims, null).slice(0, -1), `alg ${alg}, two segments`);
  }
});

test('other algorithms (RS256, HS512, …) → 401, even with an HMAC by the real key', async () => {
  for (const alg of ['RS256', 'ES256', 'HS384', 'HS512', 'PS256', 'EdDSA', 'hs256', '']) {
    await rejected(signJwt({ alg, typ: 'JWT' }, claims, KEY), `alg ${alg}`);
  }
});

test('HS256 signed with another key → 401', async () => {
  await rejected(signJwt(HDR, claims, randomKeyHex()), 'other key');
  await rejected(signJwt(HDR, { ...claims, role: 'admin' }, randomKeyHex()), 'other key, admin');
  await rejected(signJwt(HDR, claims, '00'.repeat(32)), 'zero key');
  // The key as a string secret (a classic mistake) is not the key either.
  const crypto = await import('node:crypto');
  const input = `${b64url(JSON.stringify(HDR))}.${b64url(JSON.stringify(claims))}`;
  const sig = crypto.createHmac('sha256', KEY).update(input).digest();
  await rejected(`${input}.${b64url(sig)}`, 'hex text as key');
});

test('tampered payload with the signature kept → 401', async () => {
  const [h, , sig] = user.token.split('.');
  for (const change of [
    { role: 'admin' },
    { role: 'manager' },
    { org: 'other-org' },
    { sub: '01900000-0000-7000-8000-000000000000' },
    { exp: claims.exp + 86400 },
  ]) {
    const p = b64url(JSON.stringify({ ...claims, ...change }));
    await rejected(`${h}.${p}.${sig}`, `tampered ${JSON.stringify(change)}`);
  }
  // The header re-encoded with a space (same meaning, other bytes).
  const h2 = b64url('{"alg":"HS256", "typ":"JWT"}');
  const p = user.token.split('.')[1];
  await rejected(`${h2}.${p}.${sig}`, 're-encoded header');
  // Signature bytes flipped / truncated / appended / removed.
  await rejected(`${h}.${user.token.split('.')[1]}.${sig.slice(0, -2)}`, 'truncated signature');
  await rejected(`${user.token}AA`, 'appended signature');
  await rejected(`${h}.${user.token.split('.')[1]}.`, 'no signature');
  await rejected(`${h}.${user.token.split('.')[1]}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`, 'flipped signature');
});

test('expired and not-yet-valid tokens, signed with the real key → 401', async () => {
  await rejected(signJwt(HDR, { ...claims, iat: now() - 1000, nbf: now() - 1000, exp: now() - 10 }, KEY), 'expired 10 s ago');
  await rejected(signJwt(HDR, { ...claims, iat: now() - 100, nbf: now() - 100, exp: now() }, KEY), 'expires now');
  await rejected(signJwt(HDR, { ...claims, nbf: now() + 600, exp: now() + 900 }, KEY), 'nbf in 10 minutes');
  await rejected(signJwt(HDR, { ...claims, iat: now() + 600, exp: now() + 900 }, KEY), 'iat in 10 minutes');
});

test('wrong typ, extra or missing header fields, duplicate keys → 401', async () => {
  for (const header of [
    { alg: 'HS256', typ: 'at+jwt' },
    { alg: 'HS256', typ: 'jwt' },
    { alg: 'HS256' },
    { alg: 'HS256', typ: 'JWT', kid: '1' },
    { alg: 'HS256', typ: 'JWT', jku: 'http://127.0.0.1:1/keys' },
    { alg: 'HS256', typ: 'JWT', crit: ['exp'] },
    { typ: 'JWT' },
  ]) {
    await rejected(signJwt(header, claims, KEY), `header ${JSON.stringify(header)}`);
  }
  await rejected(signJwt('{"alg":"HS256","typ":"JWT","alg":"none"}', claims, KEY), 'duplicate alg');
  await rejected(signJwt(HDR, JSON.stringify(claims).replace('{', '{"role":"admin",'), KEY), 'duplicate role claim');
});

test('missing, mistyped or extra-purpose claims → 401', async () => {
  for (const k of ['sub', 'org', 'role', 'sid', 'exp', 'iat', 'nbf', 'token_use']) {
    const p = { ...claims };
    delete p[k];
    await rejected(signJwt(HDR, p, KEY), `no ${k}`);
  }
  await rejected(signJwt(HDR, { ...claims, token_use: 'refresh' }, KEY), 'token_use refresh');
  await rejected(signJwt(HDR, { ...claims, exp: String(claims.exp) }, KEY), 'exp as a string');
  await rejected(signJwt(HDR, { ...claims, role: 'root' }, KEY), 'unknown role');
  await rejected(signJwt(HDR, [claims], KEY), 'payload not an object');
});

test('a well-signed token for a session that does not exist → 401', async () => {
  await rejected(signJwt(HDR, { ...claims, sid: '01900000-0000-7000-8000-000000000001', iat: now(), nbf: now(), exp: now() + 60 }, KEY),
    'forged sid');
});

test('malformed Authorization headers → 401', async () => {
  const cases = [
    `Basic ${Buffer.from(`${user.email}:x`).toString('base64')}`,
    `Basic ${user.token}`,
    `Token ${user.token}`,
    `Bearer`,
    `Bearer `,
    `Bearer  ${user.token}x`,
    `${user.token}`,
    `Bearer ${user.token}.`,
    `Bearer ${user.token}.${user.token}`,
    `Bearer ..`,
    `Bearer a.b.c`,
    `Bearer ${'A'.repeat(5000)}.${'A'.repeat(5000)}.${'A'.repeat(43)}`,
  ];
  for (const h of cases) {
    const r = await api(srv, 'GET', '/auth/me', { headers: { authorization: h } });
    errorShape(assert, r, 401);
    assert.ok(!r.text.includes(user.email), `${h.slice(0, 30)}: leaks`);
  }
  // The token in the query string is not accepted on HTTP routes.
  errorShape(assert, await api(srv, 'GET', `/auth/me?token=${user.token}`), 401);
  errorShape(assert, await api(srv, 'GET', `/auth/me?access_token=${user.token}`), 401);
  // The real token still works.
  expectStatus(assert, await me(user.token), 200);
});

test('--jwt-key must be 64 hex digits; without it the key is created in the data dir, 0600', async () => {
  await assert.rejects(start({ args: [...FAST_ARGON, '--jwt-key', 'zz'.repeat(32)] }), /exited/);
  await assert.rejects(start({ args: [...FAST_ARGON, '--jwt-key', 'ab'.repeat(16)] }), /exited/);
  const s = await start({ args: FAST_ARGON });
  try {
    const f = path.join(s.dataDir, 'jwt.key');
    const st = fs.statSync(f);
    assert.equal(st.mode & 0o777, 0o600, `mode ${(st.mode & 0o777).toString(8)}`);
    assert.match(fs.readFileSync(f, 'utf8').trim(), /^[0-9a-f]{64}$/);
    // Tokens of another server (another key) are refused here.
    const u = await signup(s);
    await rejected(u.token, 'token of another instance');
  } finally {
    await stopAll(s);
  }
});
