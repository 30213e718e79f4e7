// Accounts: signup, login (and its failure back-off), refresh rotation with reuse detection,
// logout, me, ws-ticket, the refresh cookie, metrics. One server; every test makes its own users.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorShape, sleep, start } from './lib/server.mjs';
import {
  api,
  apiFrom,
  expectStatus,
  FAST_ARGON,
  login,
  loginOk,
  metricValue,
  metricsText,
  PASSWORD,
  signup,
  startAccounts,
  stopAll,
  uniqEmail,
} from './lib/accounts.mjs';

let srv;
let admin; // the first signup
before(async () => {
  srv = await startAccounts();
  admin = await signup(srv, { email: uniqEmail('first'), display_name: 'First' });
});
after(() => stopAll(srv));

const USER_KEYS = ['created_at', 'display_name', 'email', 'id', 'org_id', 'role', 'totp_enabled', 'updated_at'];

function checkUser(u) {
  assert.deepEqual(Object.keys(u).sort(), USER_KEYS, `user fields: ${JSON.stringify(u)}`);
  assert.match(u.id, /^[0-9a-f-]{36}$/);
  assert.match(u.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.equal(typeof u.totp_enabled, 'boolean');
}

/* ---- signup ---- */

test('first signup of an empty instance is admin of default; later ones are members of an org of their own', async () => {
  assert.equal(admin.user.role, 'admin');
  assert.equal(admin.user.org_id, 'default');
  const m = await signup(srv, { display_name: 'Second' });
  assert.equal(m.user.role, 'member');
  assert.notEqual(m.user.org_id, 'default');
  const third = await signup(srv, { display_name: 'Third' });
  assert.notEqual(third.user.org_id, m.user.org_id);
  const org = await api(srv, 'GET', `/orgs/${m.user.org_id}`, { token: m.token });
  expectStatus(assert, org, 200);
  assert.equal(org.json.name, 'Second (personal)');
});

test('signup → 201 {user, access_token, refresh_token, token_type Bearer, expires_in}', async () => {
  const email = uniqEmail('shape');
  const r = await api(srv, 'POST', '/auth/signup', { body: { email, password: PASSWORD, display_name: 'Shape Test' } });
  expectStatus(assert, r, 201);
  assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type', 'user']);
  assert.equal(r.json.token_type, 'Bearer');
  assert.ok(Number.isInteger(r.json.expires_in) && r.json.expires_in > 0);
  assert.equal(r.json.access_token.split('.').length, 3);
  assert.match(r.json.refresh_token, /^[A-Za-z0-9_-]{20,}$/);
  checkUser(r.json.user);
  assert.equal(r.json.user.email, email);
  assert.equal(r.json.user.display_name, 'Shape Test');
  assert.equal(r.json.user.totp_enabled, false);
  assert.ok(!/password|hash|secret/i.test(JSON.stringify(r.json.user)), 'no secrets in the user object');
  assert.match(r.headers.get('cache-control') || '', /no-store/);
  // The access token works at once.
  const me = await api(srv, 'GET', '/auth/me', { token: r.json.access_token });
  expectStatus(assert, me, 200);
  assert.equal(me.json.id, r.json.user.id);
});

test('signup: e-mail trimmed and lower-cased; a taken address (any spelling) → 202 pending, nothing changes', async () => {
  const local = `Mixed.Case-${Date.now()}`;
  const r = await api(srv, 'POST', '/auth/signup', {
    body: { email: `  ${local}@Example.TEST \t`, password: PASSWORD, display_name: 'Mixed' },
  });
  expectStatus(assert, r, 201);
  assert.equal(r.json.user.email, `${local.toLowerCase()}@example.test`);
  // Same address again, in any spelling → the answer that says nothing (see accounts-security).
  for (const email of [`${local}@example.test`, `${local.toUpperCase()}@EXAMPLE.test`, ` ${local.toLowerCase()}@example.TEST`]) {
    const d = await api(srv, 'POST', '/auth/signup', { body: { email, password: PASSWORD + 'x', display_name: 'Dup' } });
    expectStatus(assert, d, 202);
    assert.deepEqual(Object.keys(d.json).sort(), ['message', 'status']);
    assert.equal(d.json.status, 'pending');
  }
  // Login works with any spelling; the account kept its password.
  const l = await login(srv, ` ${local.toUpperCase()}@EXAMPLE.TEST`);
  expectStatus(assert, l, 200);
  assert.equal(l.json.user.id, r.json.user.id);
  assert.equal(l.json.user.display_name, 'Mixed');
  errorShape(assert, await login(srv, `${local}@example.test`, PASSWORD + 'x'), 401, 'invalid_credentials');
});

test('signup: password 10–1024 bytes', async () => {
  const cases = [
    ['123456789', 400],
    ['1234567890', 201],
    ['p'.repeat(1024), 201],
    ['p'.repeat(1025), 400],
    ['p'.repeat(5000), 400],
    ['ééééé', 201], // 10 bytes in 5 characters: the rule is bytes
    ['éééé', 400], // 8 bytes
  ];
  for (const [password, status] of cases) {
    const r = await api(srv, 'POST', '/auth/signup', { body: { email: uniqEmail('pw'), password, display_name: 'Pw' } });
    expectStatus(assert, r, status, status === 400 ? 'invalid_input' : undefined, `password of ${Buffer.byteLength(password)} bytes`);
  }
});

test('signup: invalid input → 400 with the error shape', async () => {
  const good = { email: uniqEmail('bad'), password: PASSWORD, display_name: 'Ok' };
  const cases = [
    {},
    { ...good, email: undefined },
    { ...good, password: undefined },
    { ...good, email: 'not-an-email' },
    { ...good, email: 'a@b@c.d' },
    { ...good, email: 'has space@x.test' },
    { ...good, email: '' },
    { ...good, email: 42 },
    { ...good, password: 1234567890 },
    { ...good, display_name: '' },
    { ...good, display_name: 'tab\there' },
    { ...good, display_name: 'x'.repeat(101) },
    { ...good, email: 'a'.repeat(250) + '@x.test' },
  ];
  for (const body of cases) {
    const r = await api(srv, 'POST', '/auth/signup', { body });
    errorShape(assert, r, 400);
  }
  // Not JSON / not an object.
  errorShape(assert, await api(srv, 'POST', '/auth/signup', { body: 'nope' }), 400);
  errorShape(assert, await api(srv, 'POST', '/auth/signup', { body: '[1]' }), 400);
});

/* ---- login ---- */

test('login → 200 with the same shape as signup', async () => {
  const u = await signup(srv);
  const r = await login(srv, u.email);
  expectStatus(assert, r, 200);
  assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type', 'user']);
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(r.json.user.id, u.id);
  checkUser(r.json.user);
  assert.notEqual(r.json.refresh_token, u.refresh_token);
  // Both sessions are live.
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200);
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: r.json.access_token }), 200);
});

test('login: wrong password and unknown e-mail → same 401 invalid_credentials', async () => {
  const u = await signup(srv);
  const wrong = await login(srv, u.email, PASSWORD + 'x');
  const unknown = await login(srv, uniqEmail('nobody'), PASSWORD);
  const malformed = await login(srv, 'not-an-email', PASSWORD);
  for (const r of [wrong, unknown, malformed]) errorShape(assert, r, 401, 'invalid_credentials');
  assert.equal(wrong.json.error.message, unknown.json.error.message);
  assert.equal(wrong.json.error.message, malformed.json.error.message);
  assert.ok(!/totp|unknown|exist|not found/i.test(wrong.json.error.message), wrong.json.error.message);
  // Missing fields are input errors.
  errorShape(assert, await api(srv, 'POST', '/auth/login', { body: { email: u.email } }), 400);
  errorShape(assert, await api(srv, 'POST', '/auth/login', { body: { password: PASSWORD } }), 400);
});

test('login: after 5 failures for one e-mail, back-off 429 with Retry-After (1 s, then 2 s), even with the right password', async () => {
  const u = await signup(srv);
  for (let i = 1; i <= 5; i++) errorShape(assert, await login(srv, u.email, 'wrong-password-' + i), 401, 'invalid_credentials');
  let r = await login(srv, u.email); // right password, but in back-off
  errorShape(assert, r, 429, 'rate_limited');
  assert.equal(r.headers.get('retry-after'), '1');
  await sleep(1100);
  errorShape(assert, await login(srv, u.email, 'wrong-again'), 401, 'invalid_credentials'); // 6th failure → 2 s
  r = await login(srv, u.email);
  errorShape(assert, r, 429, 'rate_limited');
  assert.equal(r.headers.get('retry-after'), '2');
  // Another account is not affected.
  const other = await signup(srv);
  expectStatus(assert, await login(srv, other.email), 200);
  // Unknown e-mails back off the same way (nothing to tell them apart).
  const ghost = uniqEmail('ghost');
  for (let i = 0; i < 5; i++) errorShape(assert, await login(srv, ghost, 'wrong-password'), 401, 'invalid_credentials');
  const g = await login(srv, ghost, 'wrong-password');
  errorShape(assert, g, 429, 'rate_limited');
  assert.equal(g.headers.get('retry-after'), '1');
  // After the wait, the right password works and clears the count.
  await sleep(2100);
  expectStatus(assert, await login(srv, u.email), 200);
  errorShape(assert, await login(srv, u.email, 'wrong-once-more'), 401, 'invalid_credentials');
  expectStatus(assert, await login(srv, u.email), 200);
});

/* ---- me ---- */

test('GET /auth/me → the caller; without a token → 401 with WWW-Authenticate', async () => {
  const u = await signup(srv, { display_name: 'Me Myself' });
  const r = await api(srv, 'GET', '/auth/me', { token: u.token });
  expectStatus(assert, r, 200);
  const { quota, ...user } = r.json; // me adds the caller's quotas (quotas.test.mjs)
  assert.deepEqual(Object.keys(quota).sort(), ['memories', 'memories_used', 'storage_bytes', 'storage_used']);
  checkUser(user);
  assert.equal(r.json.id, u.id);
  assert.equal(r.json.display_name, 'Me Myself');
  const anon = await api(srv, 'GET', '/auth/me');
  errorShape(assert, anon, 401, 'unauthenticated');
  assert.match(anon.headers.get('www-authenticate') || '', /^Bearer/);
});

/* ---- refresh ---- */

test('refresh → a new pair; the old refresh token is spent', async () => {
  const u = await signup(srv);
  const r1 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
  expectStatus(assert, r1, 200);
  assert.deepEqual(Object.keys(r1.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type', 'user']);
  assert.notEqual(r1.json.refresh_token, u.refresh_token);
  assert.equal(r1.json.user.id, u.id);
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: r1.json.access_token }), 200);
  // The next rotation works too.
  const r2 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: r1.json.refresh_token } });
  expectStatus(assert, r2, 200);
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: r2.json.access_token }), 200);
});

test('refresh: reuse of a spent token → 401 invalid_refresh_token and the whole session is revoked', async () => {
  const u = await signup(srv);
  const other = await loginOk(srv, u.email); // a second, unrelated session of the same user
  const r1 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
  expectStatus(assert, r1, 200);
  const newest = r1.json;
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: newest.access_token }), 200);
  // The spent token comes back from another address (someone copied it): the reuse grace is
  // for the client that spent it only (accounts-security.test.mjs tests the grace itself).
  const reuse = await apiFrom(srv, '127.0.0.2', 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
  errorShape(assert, reuse, 401, 'invalid_refresh_token');
  // The newest pair of that session is dead.
  errorShape(assert, await api(srv, 'GET', '/auth/me', { token: newest.access_token }), 401);
  errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: newest.refresh_token } }), 401,
    'invalid_refresh_token');
  errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
  // The other session is untouched.
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: other.token }), 200);
  expectStatus(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: other.refresh_token } }), 200);
});

test('refresh: unknown, malformed or missing token', async () => {
  for (const t of ['x'.repeat(43), 'short', 'A'.repeat(500), '']) {
    const r = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: t } });
    assert.ok(r.status === 401 || r.status === 400, `refresh_token ${JSON.stringify(t.slice(0, 10))}: ${r.status} ${r.text}`);
    if (r.status === 401) assert.equal(r.json.error.code, 'invalid_refresh_token');
  }
  errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: {} }), 400);
  errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: 5 } }), 400);
  // An access token is not a refresh token.
  const u = await signup(srv);
  errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.token } }), 401, 'invalid_refresh_token');
});

test('refresh: concurrent uses of one token from two addresses — one is a copy: the session is revoked', async () => {
  const u = await signup(srv);
  const rs = await Promise.all(
    ['127.0.0.1', '127.0.0.2', '127.0.0.1', '127.0.0.2'].map((from) =>
      apiFrom(srv, from, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } })),
  );
  for (const r of rs) assert.ok(r.status === 200 || r.status === 401, `${r.status} ${r.text}`);
  assert.ok(rs.some((r) => r.status === 401), rs.map((r) => r.status).join(','));
  // A reuse from elsewhere happened, so the session is revoked: even the winners' pairs are dead.
  for (const r of rs.filter((x) => x.status === 200))
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: r.json.access_token }), 401);
});

/* ---- the refresh cookie ---- */

function refreshCookie(r) {
  const sc = r.headers.getSetCookie ? r.headers.getSetCookie() : [r.headers.get('set-cookie')].filter(Boolean);
  const c = sc.find((x) => x.startsWith('doppel_refresh='));
  return c;
}

test('?cookie=1: refresh token in an HttpOnly, Secure, SameSite=Strict cookie, not in the body', async () => {
  const email = uniqEmail('cookie');
  const r = await api(srv, 'POST', '/auth/signup?cookie=1', { body: { email, password: PASSWORD, display_name: 'C' } });
  expectStatus(assert, r, 201);
  assert.equal(r.json.refresh_token, undefined, 'no refresh_token in the body');
  assert.ok(r.json.access_token);
  const c = refreshCookie(r);
  assert.ok(c, `Set-Cookie doppel_refresh: ${r.headers.get('set-cookie')}`);
  assert.match(c, /;\s*HttpOnly/i);
  assert.match(c, /;\s*Secure/i);
  assert.match(c, /;\s*SameSite=Strict/i);
  const token = /^doppel_refresh=([^;]*)/.exec(c)[1];
  assert.match(token, /^[A-Za-z0-9_-]{20,}$/);

  // /auth/refresh reads the cookie.
  const r2 = await api(srv, 'POST', '/auth/refresh?cookie=1', { body: {}, headers: { cookie: `other=1; doppel_refresh=${token}` } });
  expectStatus(assert, r2, 200);
  assert.equal(r2.json.refresh_token, undefined);
  const c2 = refreshCookie(r2);
  assert.ok(c2);
  const token2 = /^doppel_refresh=([^;]*)/.exec(c2)[1];
  assert.notEqual(token2, token);
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: r2.json.access_token }), 200);
  // The spent cookie, from another address, is refused (and revokes the session).
  errorShape(assert, await apiFrom(srv, '127.0.0.2', 'POST', '/auth/refresh', { body: {}, headers: { cookie: `doppel_refresh=${token}` } }), 401,
    'invalid_refresh_token');
  errorShape(assert, await api(srv, 'GET', '/auth/me', { token: r2.json.access_token }), 401);

  // Login with ?cookie=1 likewise.
  const l = await api(srv, 'POST', '/auth/login?cookie=1', { body: { email, password: PASSWORD } });
  expectStatus(assert, l, 200);
  assert.equal(l.json.refresh_token, undefined);
  assert.ok(refreshCookie(l));
});

test('cookie refresh needs no body: POST /auth/refresh with only the Cookie header', async () => {
  // What a browser sends: fetch('/api/v1/auth/refresh', {method: 'POST', credentials: 'same-origin'}).
  const r = await api(srv, 'POST', '/auth/signup?cookie=1', { body: { email: uniqEmail('ck'), password: PASSWORD, display_name: 'C' } });
  expectStatus(assert, r, 201);
  const token = /^doppel_refresh=([^;]*)/.exec(refreshCookie(r))[1];
  const r2 = await api(srv, 'POST', '/auth/refresh?cookie=1', { headers: { cookie: `doppel_refresh=${token}` } });
  expectStatus(assert, r2, 200, undefined, 'POST /api/v1/auth/refresh?cookie=1 with a Cookie header and no body');
  assert.ok(refreshCookie(r2));
});

/* ---- logout ---- */

test('logout → 204; the access token and the session\'s refresh token stop working at once', async () => {
  const u = await signup(srv);
  const other = await loginOk(srv, u.email);
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200); // (caches the session as live)
  const r = await api(srv, 'POST', '/auth/logout', { token: u.token });
  assert.equal(r.status, 204, r.text);
  assert.equal(r.text, '');
  errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401, 'unauthenticated');
  errorShape(assert, await api(srv, 'POST', '/auth/logout', { token: u.token }), 401);
  errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401,
    'invalid_refresh_token');
  // Only that session ended.
  expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: other.token }), 200);
  // Without a token.
  errorShape(assert, await api(srv, 'POST', '/auth/logout'), 401, 'unauthenticated');
});

/* ---- ws-ticket ---- */

test('POST /auth/ws-ticket → 201 {ticket, expires_in: 30}; needs a token', async () => {
  const u = await signup(srv);
  const r = await api(srv, 'POST', '/auth/ws-ticket', { token: u.token });
  expectStatus(assert, r, 201);
  assert.equal(r.json.expires_in, 30);
  assert.match(r.json.ticket, /^[A-Za-z0-9_-]{16,}$/);
  const r2 = await api(srv, 'POST', '/auth/ws-ticket', { token: u.token });
  assert.notEqual(r2.json.ticket, r.json.ticket);
  errorShape(assert, await api(srv, 'POST', '/auth/ws-ticket'), 401, 'unauthenticated');
  // A ticket is not a bearer token.
  errorShape(assert, await api(srv, 'GET', '/auth/me', { token: r.json.ticket }), 401);
});

/* ---- metrics ---- */

test('/metrics: doppel_logins_total{result}, doppel_sessions_active, doppel_rate_limited_total', async () => {
  const u = await signup(srv);
  let text = await metricsText(srv);
  const success0 = metricValue(text, 'doppel_logins_total', { result: 'success' });
  const bad0 = metricValue(text, 'doppel_logins_total', { result: 'invalid_credentials' });
  const l = await loginOk(srv, u.email);
  await login(srv, u.email, 'not-the-password');
  text = await metricsText(srv);
  assert.match(text, /^# TYPE doppel_logins_total counter$/m);
  assert.match(text, /^# TYPE doppel_sessions_active gauge$/m);
  assert.equal(metricValue(text, 'doppel_logins_total', { result: 'success' }), success0 + 1);
  assert.equal(metricValue(text, 'doppel_logins_total', { result: 'invalid_credentials' }), bad0 + 1);
  const active = metricValue(text, 'doppel_sessions_active');
  assert.ok(active >= 2, `doppel_sessions_active ${active}`);
  expectStatus(assert, await api(srv, 'POST', '/auth/logout', { token: l.token }), 204);
  text = await metricsText(srv);
  assert.equal(metricValue(text, 'doppel_sessions_active'), active - 1);
  // The back-off test above refused logins: the refusal counter exists.
  assert.match(text, /^doppel_rate_limited_total\{scope="[a-z_]+"\} \d+/m);
  assert.ok(!text.includes(PASSWORD), 'no password in /metrics');
});

/* ---- closed sign-up ---- */

test('--signup false: the first account may still sign up (admin), later ones → 403', async () => {
  const s = await start({ args: [...FAST_ARGON, '--signup', 'false', '--auth-rate', '1000'] });
  try {
    const first = await signup(s);
    assert.equal(first.user.role, 'admin');
    const r = await api(s, 'POST', '/auth/signup', { body: { email: uniqEmail('closed'), password: PASSWORD, display_name: 'No' } });
    errorShape(assert, r, 403, 'forbidden');
    // The admin can still add people.
    const c = await api(s, 'POST', '/users', { token: first.token, body: { email: uniqEmail('added'), password: PASSWORD, display_name: 'Added' } });
    expectStatus(assert, c, 201);
  } finally {
    await stopAll(s);
  }
});

/* ---- the first account, under concurrency ---- */

test('concurrent signups on an empty instance: exactly one becomes admin', async () => {
  for (let round = 0; round < 4; round++) {
    const s = await startAccounts({ args: ['--workers', '8'] });
    try {
      const rs = await Promise.all(
        Array.from({ length: 6 }, () =>
          api(s, 'POST', '/auth/signup', { body: { email: uniqEmail('race'), password: PASSWORD, display_name: 'Racer' } })),
      );
      for (const r of rs) expectStatus(assert, r, 201);
      const roles = rs.map((r) => r.json.user.role);
      assert.equal(roles.filter((x) => x === 'admin').length, 1,
        `round ${round}: 6 concurrent POST /api/v1/auth/signup on an empty instance → roles ${roles.join(', ')}`);
    } finally {
      await stopAll(s);
    }
  }
});
