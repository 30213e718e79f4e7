// TOTP two-factor: setup, enable (recovery codes), login with a code, replay protection,
// recovery codes (once each), disable; and the audit entries, with no secret in them.
// Codes are computed here (RFC 6238, HMAC-SHA-1, 30 s steps, 6 digits). A code's step is
// accepted once and the server accepts steps now-1..now+1, so a test that needs several codes
// uses step-1, step, step+1 in that order, after making sure the current step has room left.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorShape } from './lib/server.mjs';
import {
  api,
  expectStatus,
  listAll,
  login,
  loginOk,
  PASSWORD,
  signup,
  startAccounts,
  stepWithRoom,
  stopAll,
  totpAt,
  uniqEmail,
} from './lib/accounts.mjs';

let srv;
let admin;
const secrets = new Set([PASSWORD]);

before(async () => {
  srv = await startAccounts();
  admin = await signup(srv, { email: uniqEmail('admin'), display_name: 'Admin' });
});
after(() => stopAll(srv));

/* A fresh user with TOTP set up (not enabled): {user…, secret, otpauth_uri}. */
async function withSetup() {
  const u = await signup(srv);
  secrets.add(u.token).add(u.refresh_token);
  const r = await api(srv, 'POST', '/auth/totp/setup', { token: u.token });
  expectStatus(assert, r, 200);
  secrets.add(r.json.secret);
  return { ...u, secret: r.json.secret, otpauth_uri: r.json.otpauth_uri };
}

test('setup → {secret (base32), otpauth_uri}; needs a token', async () => {
  const u = await withSetup();
  assert.match(u.secret, /^[A-Z2-7]{16,}$/);
  const uri = new URL(u.otpauth_uri);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(uri.searchParams.get('secret'), u.secret);
  assert.ok(decodeURIComponent(uri.pathname).includes(u.email), uri.pathname);
  assert.equal(uri.searchParams.get('issuer'), 'Doppel');
  for (const [k, v] of [['algorithm', 'SHA1'], ['digits', '6'], ['period', '30']]) {
    const got = uri.searchParams.get(k);
    assert.ok(got === null || got === v, `${k}=${got}`);
  }
  errorShape(assert, await api(srv, 'POST', '/auth/totp/setup'), 401);
  // Not enabled yet: login needs no code; /me says totp_enabled false.
  expectStatus(assert, await login(srv, u.email), 200);
  assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.totp_enabled, false);
  // A second setup replaces the secret.
  const again = await api(srv, 'POST', '/auth/totp/setup', { token: u.token });
  expectStatus(assert, again, 200);
  assert.notEqual(again.json.secret, u.secret);
  secrets.add(again.json.secret);
});

test('enable: a wrong code → 422; enable without setup → 409; a missing code → 400', async () => {
  const u = await withSetup();
  const step = await stepWithRoom(5);
  const right = totpAt(u.secret, step);
  const wrong = String((Number(right) + 1) % 1000000).padStart(6, '0');
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: wrong } }), 422);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: 'abcdef' } }), 422);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, step + 3) } }), 422);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: {} }), 400);
  assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.totp_enabled, false);
  const fresh = await signup(srv);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: fresh.token, body: { code: '123456' } }), 409);
});

test('the full life: enable → login needs the code → replay refused → recovery codes once → disable', async () => {
  const u = await withSetup();
  const s = await stepWithRoom(15);

  // enable with the code of step s-1 (inside the ±1 window).
  const en = await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, s - 1) } });
  expectStatus(assert, en, 200);
  assert.equal(en.json.totp_enabled, true);
  assert.ok(Array.isArray(en.json.recovery_codes));
  assert.equal(en.json.recovery_codes.length, 10);
  assert.equal(new Set(en.json.recovery_codes).size, 10);
  for (const c of en.json.recovery_codes) {
    assert.equal(typeof c, 'string');
    assert.ok(c.length >= 8, c);
    secrets.add(c);
  }
  assert.match(en.headers.get('cache-control') || '', /no-store/);
  assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.totp_enabled, true);
  // Twice → 409; setup while enabled → 409.
  errorShape(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, s) } }), 409);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/setup', { token: u.token }), 409);

  // Login: no code → totp_required (a right password is not enough); wrong → invalid_totp.
  errorShape(assert, await login(srv, u.email), 401, 'totp_required');
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: '' }), 401, 'totp_required');
  const wrong = String((Number(totpAt(u.secret, s)) + 7) % 1000000).padStart(6, '0');
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: wrong }), 401, 'invalid_totp');
  // A wrong password with a right code is still invalid_credentials (and spends nothing).
  errorShape(assert, await login(srv, u.email, 'not-the-password', { totp: totpAt(u.secret, s) }), 401, 'invalid_credentials');
  // The enable step (s-1) is spent: replay refused.
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: totpAt(u.secret, s - 1) }), 401, 'invalid_totp');

  // The code of step s works once.
  const code = totpAt(u.secret, s);
  const ok = await login(srv, u.email, PASSWORD, { totp: code });
  expectStatus(assert, ok, 200);
  assert.equal(ok.json.user.totp_enabled, true);
  secrets.add(ok.json.access_token).add(ok.json.refresh_token);
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: code }), 401, 'invalid_totp');

  // A recovery code works once in place of a code.
  const rc = en.json.recovery_codes[0];
  const viaRc = await login(srv, u.email, PASSWORD, { totp: rc });
  expectStatus(assert, viaRc, 200);
  secrets.add(viaRc.json.access_token).add(viaRc.json.refresh_token);
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: rc }), 401, 'invalid_totp');

  // Refresh does not ask for a code again.
  expectStatus(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: ok.json.refresh_token } }), 200);

  // Disable: needs the password and a code.
  errorShape(assert, await api(srv, 'POST', '/auth/totp/disable', { token: u.token, body: { password: PASSWORD } }), 400);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/disable', {
    token: u.token, body: { password: 'not-the-password', code: totpAt(u.secret, s + 1) },
  }), 422);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/disable', { token: u.token, body: { password: PASSWORD, code } }), 422); // spent step
  const dis = await api(srv, 'POST', '/auth/totp/disable', { token: u.token, body: { password: PASSWORD, code: totpAt(u.secret, s + 1) } });
  expectStatus(assert, dis, 200);
  assert.equal(dis.json.totp_enabled, false);
  errorShape(assert, await api(srv, 'POST', '/auth/totp/disable', { token: u.token, body: { password: PASSWORD, code: '000000' } }), 409);
  // Login without a code again; the old recovery codes are gone with it.
  expectStatus(assert, await login(srv, u.email), 200);
  assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.totp_enabled, false);
});

test('disable with a recovery code; recovery codes are per user', async () => {
  const u = await withSetup();
  const other = await withSetup();
  const s = await stepWithRoom(10);
  const en = await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, s) } });
  expectStatus(assert, en, 200);
  const en2 = await api(srv, 'POST', '/auth/totp/enable', { token: other.token, body: { code: totpAt(other.secret, s) } });
  expectStatus(assert, en2, 200);
  for (const c of [...en.json.recovery_codes, ...en2.json.recovery_codes]) secrets.add(c);
  // other's recovery code does not log u in.
  errorShape(assert, await login(srv, u.email, PASSWORD, { totp: en2.json.recovery_codes[0] }), 401, 'invalid_totp');
  // u disables with a recovery code.
  const dis = await api(srv, 'POST', '/auth/totp/disable', { token: u.token, body: { password: PASSWORD, code: en.json.recovery_codes[3] } });
  expectStatus(assert, dis, 200);
  expectStatus(assert, await login(srv, u.email), 200);
  // other's code still works for other.
  expectStatus(assert, await login(srv, other.email, PASSWORD, { totp: en2.json.recovery_codes[0] }), 200);
});

test('wrong second factors count towards the login back-off', async () => {
  const u = await withSetup();
  const s = await stepWithRoom(10);
  expectStatus(assert, await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, s) } }), 200);
  for (let i = 0; i < 5; i++) errorShape(assert, await login(srv, u.email, PASSWORD, { totp: '000000' === totpAt(u.secret, s + 1) ? '111111' : '000000' }), 401, 'invalid_totp');
  const r = await login(srv, u.email, PASSWORD, { totp: totpAt(u.secret, s + 1) });
  errorShape(assert, r, 429, 'rate_limited');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
});

test('one code or one recovery code used by concurrent logins: exactly one wins', async () => {
  const u = await withSetup();
  const s = await stepWithRoom(10);
  const en = await api(srv, 'POST', '/auth/totp/enable', { token: u.token, body: { code: totpAt(u.secret, s - 1) } });
  expectStatus(assert, en, 200);
  for (const c of en.json.recovery_codes) secrets.add(c);
  for (const code of [totpAt(u.secret, s), en.json.recovery_codes[5]]) {
    const rs = await Promise.all([0, 1, 2, 3].map(() => login(srv, u.email, PASSWORD, { totp: code })));
    const statuses = rs.map((r) => r.status);
    assert.equal(statuses.filter((x) => x === 200).length, 1, `4 concurrent logins with one code → ${statuses.join(',')}`);
    for (const r of rs) if (r.status !== 200) assert.equal(r.json.error.code, 'invalid_totp');
    for (const r of rs) if (r.status === 200) secrets.add(r.json.access_token).add(r.json.refresh_token);
  }
});

test('audit: totp.enable and totp.disable recorded, without secrets, codes or tokens', async () => {
  const all = await listAll(srv, '/admin/audit', admin.token);
  assert.ok(all.some((e) => e.action === 'totp.enable'), 'totp.enable entry');
  assert.ok(all.some((e) => e.action === 'totp.disable'), 'totp.disable entry');
  assert.ok(all.some((e) => e.action === 'login.failure' && e.detail && e.detail.reason === 'totp'), 'failed second factor recorded');
  const text = JSON.stringify(all);
  for (const sec of secrets) assert.ok(!text.includes(sec), `the audit log contains a secret (${sec.slice(0, 8)}…)`);
});
