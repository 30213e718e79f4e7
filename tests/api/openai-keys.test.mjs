// API keys of the OpenAI-compatible facade: a user makes one (shown once, sk-dp-…), lists theirs
// (never the key again) and revokes one; the official openai SDK talks to an avatar with it; a key
// opens /v1/ only, sees only its user's avatars, and is refused at once after revocation — on
// PostgreSQL + Redis by the other instance too (sharing the database and Redis); the API rate
// limit counts a key's requests as its user's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { randomKeyHex, startPeer } from './lib/accounts.mjs';
import { api, BACKEND, cast, createAvatar, expectStatus, startAvatars, stopAll } from './lib/avatars.mjs';

const KEY = randomKeyHex();
let A, B, c, rowan;

before(async () => {
  A = await startAvatars({ jwtKey: KEY, redisDb: 11 });
  B = BACKEND === 'postgres' ? await startPeer(A, { jwtKey: KEY }) : A;
  c = await cast(A);
  rowan = await createAvatar(A, c.owner.token, { name: 'Rowan' });
  const m = await api(A, 'POST', `/avatars/${rowan.id}/memories`, { token: c.owner.token, body: { text: 'Every summer we rowed across the lake to the island cabin' } });
  expectStatus(assert, m, 201);
});
after(async () => stopAll(B === A ? null : B, A));

const makeKey = async (token, name = 'laptop') => {
  const r = await api(A, 'POST', '/auth/api-keys', { token, body: { name } });
  expectStatus(assert, r, 201);
  return r.json;
};
const sdk = (srv, apiKey) => new OpenAI({ apiKey, baseURL: `${srv.url}/v1`, maxRetries: 0 });

describe('facade API keys', () => {
  test('made once, listed without the secret, stored hashed', async () => {
    const k = await makeKey(c.owner.token, 'Open WebUI');
    assert.match(k.key, /^sk-dp-[A-Za-z0-9_-]{43}$/);
    assert.equal(k.prefix, k.key.slice(0, 12));
    assert.equal(k.name, 'Open WebUI');
    assert.equal(k.last_used_at, null);
    const list = await api(A, 'GET', '/auth/api-keys', { token: c.owner.token });
    expectStatus(assert, list, 200);
    const mine = list.json.items.find((x) => x.id === k.id);
    assert.ok(mine);
    assert.ok(!list.text.includes(k.key.slice(12)), 'the list never shows the key');
    const other = await api(A, 'GET', '/auth/api-keys', { token: c.viewer.token });
    assert.ok(!other.json.items.some((x) => x.id === k.id), 'another user does not see it');
  });

  test('bad names change nothing', async () => {
    const before = (await api(A, 'GET', '/auth/api-keys', { token: c.member.token })).json.items.length;
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 7 }]) {
      const r = await api(A, 'POST', '/auth/api-keys', { token: c.member.token, body });
      expectStatus(assert, r, 400, undefined, JSON.stringify(body));
    }
    assert.equal((await api(A, 'GET', '/auth/api-keys', { token: c.member.token })).json.items.length, before);
  });

  test('the openai SDK talks to an avatar with a key; the key sees only its user\'s avatars', async () => {
    const k = await makeKey(c.owner.token, 'sdk');
    const models = await sdk(B, k.key).models.list();
    assert.ok(models.data.some((m) => m.id === rowan.id));
    const done = await sdk(B, k.key).chat.completions.create({ model: rowan.id, messages: [{ role: 'user', content: 'Tell me about the lake' }] });
    assert.match(done.choices[0].message.content, /lake/i);
    const stream = await sdk(A, k.key).chat.completions.create({ model: rowan.id, stream: true, messages: [{ role: 'user', content: 'Tell me about the lake' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
    assert.match(text, /lake/i);
    const outsiderKey = await makeKey(c.outsider.token);
    const theirs = await sdk(A, outsiderKey.key).models.list();
    assert.ok(!theirs.data.some((m) => m.id === rowan.id));
    await assert.rejects(
      sdk(A, outsiderKey.key).chat.completions.create({ model: rowan.id, messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 404 && e.code === 'model_not_found',
    );
    const used = (await api(A, 'GET', '/auth/api-keys', { token: c.owner.token })).json.items.find((x) => x.id === k.id);
    assert.ok(used.last_used_at, 'the use is noted');
  });

  test('a key limited to some avatars reaches only those', async () => {
    const other = await createAvatar(A, c.owner.token, { name: 'Other' });
    const r = await api(A, 'POST', '/auth/api-keys', { token: c.owner.token, body: { name: 'rowan only', avatars: [rowan.id] } });
    expectStatus(assert, r, 201);
    assert.deepEqual(r.json.avatars, [rowan.id]);
    const k = r.json;
    const models = await sdk(B, k.key).models.list();
    assert.deepEqual(models.data.map((m) => m.id), [rowan.id]);
    await assert.rejects(sdk(A, k.key).chat.completions.create({ model: other.id, messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 404 && e.code === 'model_not_found');
    const ok = await sdk(A, k.key).chat.completions.create({ model: rowan.id, messages: [{ role: 'user', content: 'Tell me about the lake' }] });
    assert.match(ok.choices[0].message.content, /lake/i);
    const all = (await sdk(A, (await makeKey(c.owner.token, 'all')).key).models.list()).data.map((m) => m.id);
    assert.ok(all.includes(rowan.id) && all.includes(other.id), 'an unlimited key sees both');
    // Only avatars the user may talk to, each once; nothing is made otherwise.
    const n0 = (await api(A, 'GET', '/auth/api-keys', { token: c.viewer.token })).json.items.length;
    for (const avatars of [[rowan.id], ['not-an-id'], [], [other.id, other.id], 'x']) {
      const bad = await api(A, 'POST', '/auth/api-keys', { token: c.viewer.token, body: { name: 'x', avatars } });
      expectStatus(assert, bad, 400, undefined, JSON.stringify(avatars));
    }
    assert.equal((await api(A, 'GET', '/auth/api-keys', { token: c.viewer.token })).json.items.length, n0);
  });

  test('a key opens /v1/ only, never the account', async () => {
    const k = await makeKey(c.owner.token);
    for (const [m, p] of [['GET', '/auth/me'], ['GET', '/auth/api-keys'], ['POST', '/auth/api-keys'], ['GET', `/avatars/${rowan.id}`]]) {
      const r = await api(A, m, p, { token: k.key, body: m === 'POST' ? { name: 'more' } : undefined });
      expectStatus(assert, r, 401, undefined, `${m} ${p}`);
      assert.match(r.json.error.message, /\/v1\//);
    }
    for (const bad of ['sk-dp-' + 'A'.repeat(43), 'sk-dp-', 'sk-dp-' + 'x'.repeat(500)]) {
      await assert.rejects(sdk(A, bad).models.list(), (e) => e.status === 401, bad.slice(0, 12));
    }
  });

  test('revocation: refused at once on every instance; someone else\'s key is a 404', async () => {
    const k = await makeKey(c.owner.token, 'to revoke');
    await sdk(A, k.key).models.list();
    await sdk(B, k.key).models.list(); // both instances have looked it up (and may remember it)
    expectStatus(assert, await api(A, 'DELETE', `/auth/api-keys/${k.id}`, { token: c.viewer.token }), 404);
    await sdk(B, k.key).models.list(); // still works
    expectStatus(assert, await api(A, 'DELETE', `/auth/api-keys/${k.id}`, { token: c.owner.token }), 204);
    for (const srv of [A, B]) {
      const r = await api(srv, 'GET', '/v1/models', { token: k.key });
      expectStatus(assert, r, 401);
      assert.match(r.json.error.message, /revoked/);
    }
    expectStatus(assert, await api(A, 'DELETE', `/auth/api-keys/${k.id}`, { token: c.owner.token }), 404);
    assert.ok(!(await api(A, 'GET', '/auth/api-keys', { token: c.owner.token })).json.items.some((x) => x.id === k.id));
  });

  test('ending every session of the user (a password reset, a deleted account) ends their keys', async () => {
    const u = await api(A, 'POST', '/users', { token: c.admin.token, body: { email: `keys-${Date.now()}@example.com`, password: 'Sekrit-Test-Passw0rd-9', display_name: 'Temp' } });
    expectStatus(assert, u, 201);
    const login = await api(A, 'POST', '/auth/login', { body: { email: u.json.email, password: 'Sekrit-Test-Passw0rd-9' } });
    expectStatus(assert, login, 200);
    const k = await makeKey(login.json.access_token);
    await sdk(B, k.key).models.list();
    expectStatus(assert, await api(A, 'DELETE', `/users/${u.json.id}`, { token: c.admin.token }), 204);
    await assert.rejects(sdk(B, k.key).models.list(), (e) => e.status === 401);
  });
});

describe('facade API keys and the rate limit', () => {
  let S;
  before(async () => {
    S = await startAvatars({ apiRate: 1 });
  });
  after(async () => stopAll(S));
  test('a key\'s requests count against its user\'s API rate', async () => {
    const s = await api(S, 'POST', '/auth/signup', { body: { email: `rl-${Date.now()}@example.com`, password: 'Sekrit-Test-Passw0rd-9', display_name: 'R' } });
    expectStatus(assert, s, 201);
    const k = await makeKeyOn(S, s.json.access_token);
    const codes = [];
    for (let i = 0; i < 12; i++) codes.push((await api(S, 'GET', '/v1/models', { token: k.key })).status);
    assert.ok(codes.includes(429), codes.join(','));
    assert.equal(codes[0], 200);
  });
});

async function makeKeyOn(srv, token) {
  const r = await api(srv, 'POST', '/auth/api-keys', { token, body: { name: 'rl' } });
  expectStatus(assert, r, 201);
  return r.json;
}
