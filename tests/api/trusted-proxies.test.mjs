// Behind a reverse proxy every connection comes from the proxy: with --trusted-proxies, the
// client's address is the one the proxy wrote in X-Forwarded-For (the audit log, per-address rate
// limits); without it — or from a peer that is not a trusted proxy — the header is ignored, since
// any client can write one.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { apiFrom } from './lib/accounts.mjs';
import { api, createAvatar, listAll, signup, startAvatars } from './lib/avatars.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function failedLoginIps(srv, admin, email, headers) {
  const r = await api(srv, 'POST', '/auth/login', { body: { email, password: 'not the password 123' }, headers });
  assert.equal(r.status, 401, r.text);
  const all = await listAll(srv, '/admin/audit', admin.token);
  return all.filter((e) => e.action === 'login.failure').map((e) => e.ip);
}

describe('--trusted-proxies 127.0.0.1', () => {
  test('the audit log has the address the proxy saw; a client cannot choose it by writing its own header', async () => {
    const srv = await startAvatars({ args: ['--trusted-proxies', '127.0.0.1,10.0.0.0/8'] });
    servers.push(srv);
    const admin = await signup(srv);
    let ips = await failedLoginIps(srv, admin, admin.email, { 'x-forwarded-for': '203.0.113.7' });
    assert.deepEqual(ips, ['203.0.113.7']);
    // "1.1.1.1" is what the client wrote; the proxy appended what it saw.
    ips = await failedLoginIps(srv, admin, admin.email, { 'x-forwarded-for': '1.1.1.1, 198.51.100.4, 10.0.0.9' });
    assert.ok(ips.includes('198.51.100.4') && !ips.includes('1.1.1.1'), JSON.stringify(ips));
  });

  test("per-address limits count each client behind the proxy, not the proxy", async () => {
    const srv = await startAvatars({ args: ['--trusted-proxies', '127.0.0.1'] });
    servers.push(srv);
    const owner = await signup(srv);
    const av = await createAvatar(srv, owner.token, { visibility: 'public', publish: ['name'] });
    const page = (ip) => api(srv, 'GET', `/legacy/${av.slug}`, { headers: { 'x-forwarded-for': ip } });
    // The legacy page allows a burst of 30 per address.
    let limited = 0;
    for (let i = 0; i < 40; i++) if ((await page('203.0.113.1')).status === 429) limited++;
    assert.ok(limited > 0, 'one visitor meets the limit');
    assert.equal((await page('203.0.113.2')).status, 200, 'another visitor behind the same proxy does not');
  });
});

describe('without --trusted-proxies', () => {
  test('X-Forwarded-For is ignored: the connection\'s own address counts', async () => {
    const srv = await startAvatars();
    servers.push(srv);
    const admin = await signup(srv);
    const ips = await failedLoginIps(srv, admin, admin.email, { 'x-forwarded-for': '203.0.113.7' });
    assert.deepEqual(ips, ['127.0.0.1']);
  });

  test('a peer that is not a trusted proxy is not believed either', async () => {
    const srv = await startAvatars({ args: ['--trusted-proxies', '127.0.0.1'] });
    servers.push(srv);
    const admin = await signup(srv);
    const r = await apiFrom(srv, '127.0.0.2', 'POST', '/auth/login', {
      body: { email: admin.email, password: 'not the password 123' },
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    assert.equal(r.status, 401);
    const ips = (await listAll(srv, '/admin/audit', admin.token)).filter((e) => e.action === 'login.failure').map((e) => e.ip);
    assert.deepEqual(ips, ['127.0.0.2']);
  });

  test('a bad list stops the server at start with the reason', async () => {
    await assert.rejects(startAvatars({ args: ['--trusted-proxies', '10.0.0.0/40'] }));
  });
});
