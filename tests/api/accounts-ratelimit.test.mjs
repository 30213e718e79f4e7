// Rate limits: --auth-rate (per minute, per client IP, on login/signup/refresh) and --api-rate
// (per second, per user, bursts of 5 s worth), answered with 429 + Retry-After and counted in
// doppel_rate_limited_total. On the postgres backend the servers use their own flushed Redis
// database so that the per-IP buckets (all clients here are 127.0.0.1) are not shared with
// other test files.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorShape, sleep } from './lib/server.mjs';
import {
  api,
  expectStatus,
  login,
  metricValue,
  metricsText,
  PASSWORD,
  signup,
  startAccounts,
  stopAll,
  uniqEmail,
} from './lib/accounts.mjs';

describe('--auth-rate 5', () => {
  let srv;
  before(async () => {
    srv = await startAccounts({ authRate: 5, redisDb: 14 });
  });
  after(() => stopAll(srv));

  test('a burst of logins from one IP: the 6th → 429 with Retry-After, counted in /metrics', async () => {
    const before0 = metricValue(await metricsText(srv), 'doppel_rate_limited_total', { scope: 'login' });
    // Different (unknown) e-mails, so that the per-account back-off plays no part.
    for (let i = 0; i < 5; i++) errorShape(assert, await login(srv, uniqEmail('burst'), 'wrong-password'), 401, 'invalid_credentials');
    const r = await login(srv, uniqEmail('burst'), 'wrong-password');
    errorShape(assert, r, 429, 'rate_limited');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 13, `Retry-After ${r.headers.get('retry-after')} (5/min → ~12 s)`);
    // Still refused right after, whatever the credentials.
    errorShape(assert, await login(srv, uniqEmail('burst'), PASSWORD), 429, 'rate_limited');
    // A spoofed X-Forwarded-For does not buy a new bucket.
    for (const xff of ['10.0.0.1', '203.0.113.7, 127.0.0.1']) {
      const r2 = await api(srv, 'POST', '/auth/login', {
        body: { email: uniqEmail('burst'), password: 'wrong-password' },
        headers: { 'x-forwarded-for': xff, 'x-real-ip': xff.split(',')[0] },
      });
      errorShape(assert, r2, 429, 'rate_limited');
    }
    const after0 = metricValue(await metricsText(srv), 'doppel_rate_limited_total', { scope: 'login' });
    assert.ok(after0 >= before0 + 4, `doppel_rate_limited_total{scope="login"} ${before0} → ${after0}`);
  });

  test('signups from one IP are limited too (their own bucket)', async () => {
    const codes = [];
    for (let i = 0; i < 6; i++) {
      const r = await api(srv, 'POST', '/auth/signup', { body: { email: uniqEmail('sg'), password: PASSWORD, display_name: 'S' } });
      codes.push(r.status);
      if (r.status === 429) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        errorShape(assert, r, 429, 'rate_limited');
      }
    }
    assert.deepEqual(codes, [201, 201, 201, 201, 201, 429]);
  });
});

describe('--api-rate 2 (per user, burst 10)', () => {
  let srv;
  before(async () => {
    srv = await startAccounts({ apiRate: 2, redisDb: 14 });
  });
  after(() => stopAll(srv));

  test('a burst of authenticated calls → 429 with Retry-After; other users are not affected; it recovers', async () => {
    const a = await signup(srv);
    const b = await signup(srv);
    const started = Date.now();
    const rs = await Promise.all(Array.from({ length: 25 }, () => api(srv, 'GET', '/auth/me', { token: a.token })));
    const seconds = (Date.now() - started) / 1000;
    const ok = rs.filter((r) => r.status === 200).length;
    const limited = rs.filter((r) => r.status === 429);
    // The bucket refills at 2/s while the burst is served: a slow (ASan, loaded) server lets a few more through.
    const most = 10 + Math.ceil(2 * seconds) + 1;
    assert.ok(ok >= 9 && ok <= most, `${ok} of 25 passed in ${seconds.toFixed(2)} s (burst 10, at most ${most})`);
    assert.ok(limited.length > 0, 'some of the burst is limited');
    assert.equal(ok + limited.length, 25, rs.map((r) => r.status).join(','));
    for (const r of limited) {
      errorShape(assert, r, 429, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: b.token }), 200);
    const m = await metricsText(srv);
    assert.ok(metricValue(m, 'doppel_rate_limited_total', { scope: 'api' }) >= limited.length);
    await sleep(1100);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: a.token }), 200);
  });

  test('anonymous calls are not charged to anyone (401, not 429)', async () => {
    const rs = await Promise.all(Array.from({ length: 30 }, () => api(srv, 'GET', '/auth/me')));
    assert.ok(rs.every((r) => r.status === 401), rs.map((r) => r.status).join(','));
  });
});
