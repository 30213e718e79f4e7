// Two instances sharing one PostgreSQL database and one Redis (and the same --jwt-key):
// logout, refresh-token reuse and role changes take effect on the other instance at once;
// the login back-off and the per-IP rate limit are shared. PostgreSQL backend only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorShape } from './lib/server.mjs';
import {
  apiFrom,
  api,
  expectStatus,
  login,
  loginOk,
  makeUser,
  PASSWORD,
  randomKeyHex,
  SHARED_SKIP,
  signup,
  startAccounts,
  startPeer,
  stepWithRoom,
  stopAll,
  totpAt,
  uniqEmail,
} from './lib/accounts.mjs';

describe('two instances, one database + Redis', { skip: SHARED_SKIP }, () => {
  const KEY = randomKeyHex();
  let A, B, admin;
  before(async () => {
    A = await startAccounts({ jwtKey: KEY, redisDb: 15 });
    B = await startPeer(A, { jwtKey: KEY });
    admin = await signup(A, { display_name: 'Admin' });
  });
  after(() => stopAll(A, B));

  test('a token issued by A works on B (shared key and database)', async () => {
    const u = await signup(A);
    const r = await api(B, 'GET', '/auth/me', { token: u.token });
    expectStatus(assert, r, 200);
    assert.equal(r.json.id, u.id);
    // And a login on B is seen on A.
    const l = await loginOk(B, u.email);
    expectStatus(assert, await api(A, 'GET', '/auth/me', { token: l.token }), 200);
  });

  test('logout on A → the access token fails on B immediately', async () => {
    const u = await signup(A);
    // B has seen the session live (and may have cached that).
    expectStatus(assert, await api(B, 'GET', '/auth/me', { token: u.token }), 200);
    expectStatus(assert, await api(A, 'GET', '/auth/me', { token: u.token }), 200);
    assert.equal((await api(A, 'POST', '/auth/logout', { token: u.token })).status, 204);
    errorShape(assert, await api(B, 'GET', '/auth/me', { token: u.token }), 401, 'unauthenticated');
    errorShape(assert, await api(A, 'GET', '/auth/me', { token: u.token }), 401, 'unauthenticated');
    errorShape(assert, await api(B, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401, 'invalid_refresh_token');
  });

  test('refresh on A, reuse of the spent token on B → the whole session is revoked on both', async () => {
    const u = await signup(A);
    const r1 = await api(A, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expectStatus(assert, r1, 200);
    expectStatus(assert, await api(B, 'GET', '/auth/me', { token: r1.json.access_token }), 200);
    // From another address: the reuse grace is for the client that spent the token only.
    errorShape(assert, await apiFrom(B, '127.0.0.2', 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401, 'invalid_refresh_token');
    errorShape(assert, await api(A, 'GET', '/auth/me', { token: r1.json.access_token }), 401);
    errorShape(assert, await api(B, 'GET', '/auth/me', { token: r1.json.access_token }), 401);
    errorShape(assert, await api(A, 'POST', '/auth/refresh', { body: { refresh_token: r1.json.refresh_token } }), 401);
  });

  test('a role change on A ends the target\'s sessions on B', async () => {
    const u = await makeUser(A, admin.token, { role: 'member' });
    expectStatus(assert, await api(B, 'GET', '/auth/me', { token: u.token }), 200);
    expectStatus(assert, await api(A, 'PATCH', `/users/${u.id}`, { token: admin.token, body: { role: 'manager' } }), 200);
    errorShape(assert, await api(B, 'GET', '/auth/me', { token: u.token }), 401);
    // A deleted user's token fails on the other instance too.
    const v = await makeUser(A, admin.token, { role: 'member' });
    expectStatus(assert, await api(B, 'GET', '/auth/me', { token: v.token }), 200);
    assert.equal((await api(A, 'DELETE', `/users/${v.id}`, { token: admin.token })).status, 204);
    errorShape(assert, await api(B, 'GET', '/auth/me', { token: v.token }), 401);
  });

  test('a rename on A is seen by /auth/me on B at once (no stale cached user)', async () => {
    const u = await signup(A, { display_name: 'Before' });
    assert.equal((await api(B, 'GET', '/auth/me', { token: u.token })).json.display_name, 'Before');
    assert.equal((await api(A, 'GET', '/auth/me', { token: u.token })).json.display_name, 'Before');
    expectStatus(assert, await api(A, 'PATCH', `/users/${u.id}`, { token: u.token, body: { display_name: 'After' } }), 200);
    assert.equal((await api(B, 'GET', '/auth/me', { token: u.token })).json.display_name, 'After');
    assert.equal((await api(B, 'GET', `/users/${u.id}`, { token: u.token })).json.display_name, 'After');
  });

  test('the login back-off is shared: 5 failures on A → the next attempt on B is refused', async () => {
    const u = await signup(A);
    for (let i = 0; i < 5; i++) errorShape(assert, await login(A, u.email, 'wrong-password-' + i), 401, 'invalid_credentials');
    const r = await login(B, u.email);
    errorShape(assert, r, 429, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  test('a TOTP code used on A is refused on B', async () => {
    const u = await signup(A);
    const setup = await api(A, 'POST', '/auth/totp/setup', { token: u.token });
    expectStatus(assert, setup, 200);
    const s = await stepWithRoom(8);
    expectStatus(assert, await api(B, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(setup.json.secret, s - 1) } }), 200);
    const code = totpAt(setup.json.secret, s);
    expectStatus(assert, await login(A, u.email, PASSWORD, { totp: code }), 200);
    errorShape(assert, await login(B, u.email, PASSWORD, { totp: code }), 401, 'invalid_totp');
  });
});

describe('two instances with --auth-rate 5 sharing Redis', { skip: SHARED_SKIP }, () => {
  let A, B;
  before(async () => {
    const key = randomKeyHex();
    A = await startAccounts({ jwtKey: key, authRate: 5, redisDb: 13 });
    B = await startPeer(A, { jwtKey: key, authRate: 5 });
  });
  after(() => stopAll(A, B));

  test('5 logins on A from one IP → the 6th, on B, is refused (429, Retry-After)', async () => {
    for (let i = 0; i < 5; i++) errorShape(assert, await login(A, uniqEmail('ip'), 'wrong-password'), 401, 'invalid_credentials');
    const r = await login(B, uniqEmail('ip'), 'wrong-password');
    errorShape(assert, r, 429, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    errorShape(assert, await login(A, uniqEmail('ip'), 'wrong-password'), 429, 'rate_limited');
  });
});
