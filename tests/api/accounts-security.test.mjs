// Account security (issue 9): security state that cached responses cannot evict; sign-ups that
// land in an organisation of their own and say nothing about taken addresses; addresses compare
// case-insensitively; login back-off per (address, account) pair with a per-account ceiling that
// a known device passes; the refresh-token reuse grace; a default display name.
//
// Other client addresses are real: requests leave from 127.0.0.x (apiFrom), so no header is
// trusted. On the postgres backend the servers use their own flushed Redis database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorShape, sleep } from './lib/server.mjs';
import {
  addMember,
  api,
  apiFrom,
  BACKEND,
  expectStatus,
  listAll,
  login,
  loginOk,
  PASSWORD,
  signup,
  startAccounts,
  stopAll,
  uniqEmail,
} from './lib/accounts.mjs';

const REDIS_DB = 13;

/* n wrong passwords for email from address `from`; each must be refused as such. */
async function failFrom(srv, from, email, n) {
  for (let i = 0; i < n; i++) {
    const r = await apiFrom(srv, from, 'POST', '/auth/login', { body: { email, password: `wrong-${from}-${i}` } });
    errorShape(assert, r, 401, 'invalid_credentials', `wrong password ${i + 1} from ${from}`);
  }
}

/* 100 failures (the per-account ceiling) from 20 addresses, 5 each: no pair backs off before. */
async function reachCeiling(srv, email, net = 1) {
  for (let i = 1; i <= 20; i++) await failFrom(srv, `127.0.${net}.${i}`, email, 5);
}

/* A Character Card V2 whose mes_example (kept in the avatar's extensions) is `bytes` long. */
function bigCard(name, bytes) {
  return {
    spec: 'chara_card_v2',
    spec_version: '2.0',
    data: { name, description: 'big', personality: '', scenario: '', first_mes: 'hi', mes_example: 'x'.repeat(bytes) },
  };
}

describe('security state vs. the response cache', () => {
  let srv;
  before(async () => {
    // A 2 MiB budget for cached copies, so that a flood of a few MiB overflows it.
    srv = await startAccounts({ redisDb: REDIS_DB, args: ['--cache-memory-max', String(2 << 20)] });
  });
  after(() => stopAll(srv));

  test('flooding the cache with large avatars read many times does not lift a lock-out', async () => {
    const admin = await signup(srv, { display_name: 'Admin' });
    const victim = await signup(srv, { display_name: 'Victim' });
    await reachCeiling(srv, victim.email);
    const locked = await apiFrom(srv, '127.0.2.1', 'POST', '/auth/login', { body: { email: victim.email, password: PASSWORD } });
    errorShape(assert, locked, 429, 'rate_limited', 'the account is locked for unknown devices');

    // 24 avatars of ~200 KiB (under the 256 KiB cap, so each is cached), each read 3 times:
    // ~5 MiB through a 2 MiB budget. Before cache spaces, the lock went with the LRU.
    const ids = [];
    for (let i = 0; i < 24; i++) {
      const r = await api(srv, 'POST', '/avatars/import', { token: admin.token, body: bigCard(`Big ${i}`, 200 << 10) });
      expectStatus(assert, r, 201, undefined, `import ${i}`);
      ids.push(r.json.id);
    }
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        const g = await api(srv, 'GET', `/avatars/${id}`, { token: admin.token });
        expectStatus(assert, g, 200);
        assert.ok(g.text.length > 200 << 10, 'the avatar carries its big extensions');
      }
    }
    // And a few over the cap: served, never cached.
    const huge = await api(srv, 'POST', '/avatars/import', { token: admin.token, body: bigCard('Huge', 600 << 10) });
    expectStatus(assert, huge, 201);
    for (let i = 0; i < 3; i++) expectStatus(assert, await api(srv, 'GET', `/avatars/${huge.json.id}`, { token: admin.token }), 200);

    const still = await apiFrom(srv, '127.0.2.1', 'POST', '/auth/login', { body: { email: victim.email, password: PASSWORD } });
    errorShape(assert, still, 429, 'rate_limited', 'after the flood, the lock-out holds');
    assert.ok(Number(still.headers.get('retry-after')) > 60, `Retry-After ${still.headers.get('retry-after')}`);
  });
});

describe('--auth-rate 5: WebSocket tickets (security state) per user', () => {
  let srv;
  before(async () => {
    srv = await startAccounts({ redisDb: REDIS_DB, authRate: 5 });
  });
  after(() => stopAll(srv));

  test('one account cannot fill the security space with tickets: the 6th in a burst → 429', async () => {
    const u = await signup(srv);
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await api(srv, 'POST', '/auth/ws-ticket', { token: u.token })).status);
    assert.deepEqual(codes, [201, 201, 201, 201, 201, 429]);
  });
});

describe('login back-off: per (address, account), with a per-account ceiling', () => {
  let srv;
  before(async () => {
    srv = await startAccounts({ redisDb: REDIS_DB });
    await signup(srv, { display_name: 'Admin' });
  });
  after(() => stopAll(srv));

  test('wrong passwords from one address do not lock the right password out from another', async () => {
    const u = await signup(srv);
    await failFrom(srv, '127.0.0.2', u.email, 5);
    // That pair backs off, even with the right password …
    const r = await apiFrom(srv, '127.0.0.2', 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } });
    errorShape(assert, r, 429, 'rate_limited');
    assert.equal(r.headers.get('retry-after'), '1');
    // … the owner elsewhere does not.
    const ok = await apiFrom(srv, '127.0.0.3', 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } });
    expectStatus(assert, ok, 200, undefined, 'the right password from another address');
    // Once the pair's delay has passed, the right password gets through there too.
    await sleep(1100);
    expectStatus(assert, await apiFrom(srv, '127.0.0.2', 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } }), 200);
  });

  test('past the per-account ceiling, only a known device gets in; a failure there still counts', async () => {
    const u = await signup(srv); // holds a refresh token: a known device
    const other = await signup(srv);
    await reachCeiling(srv, u.email, 3);
    const fresh = '127.0.4.1';
    const r = await apiFrom(srv, fresh, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } });
    errorShape(assert, r, 429, 'rate_limited', 'a new device, right password, account under attack');
    assert.ok(Number(r.headers.get('retry-after')) > 60);
    // Someone else's (valid) refresh token, or a made-up one, is no pass.
    for (const t of [other.refresh_token, 'A'.repeat(43)]) {
      const x = await apiFrom(srv, fresh, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD, refresh_token: t } });
      errorShape(assert, x, 429, 'rate_limited');
    }
    // The refresh cookie of this account: the right password gets in, from any address.
    const viaCookie = await apiFrom(srv, fresh, 'POST', '/auth/login', {
      body: { email: u.email, password: PASSWORD },
      headers: { cookie: `doppel_refresh=${u.refresh_token}` },
    });
    expectStatus(assert, viaCookie, 200, undefined, 'known device (cookie)');
    const viaBody = await apiFrom(srv, '127.0.4.2', 'POST', '/auth/login', {
      body: { email: u.email, password: PASSWORD, refresh_token: viaCookie.json.refresh_token },
    });
    expectStatus(assert, viaBody, 200, undefined, 'known device (refresh_token in the body)');
    // A known device with a wrong password is refused as such.
    const wrong = await apiFrom(srv, '127.0.4.3', 'POST', '/auth/login', {
      body: { email: u.email, password: 'still-wrong', refresh_token: u.refresh_token },
    });
    errorShape(assert, wrong, 401, 'invalid_credentials');
    // Other accounts are not affected.
    expectStatus(assert, await apiFrom(srv, fresh, 'POST', '/auth/login', { body: { email: other.email, password: PASSWORD } }), 200);
  });
});

describe('sign-up: organisations of their own, taken addresses, case, display name', () => {
  let srv, admin;
  before(async () => {
    srv = await startAccounts({ redisDb: REDIS_DB });
    admin = await signup(srv, { display_name: 'Admin' });
  });
  after(() => stopAll(srv));

  test('a stranger signing up sees none of the default org: avatars, people, e-mail fragments', async () => {
    const member = await addMember(srv, admin.token, { display_name: 'Zelda Default' });
    const orgAv = await api(srv, 'POST', '/avatars', { token: member.token, body: { name: 'Team bot', kind: 'character', visibility: 'org' } });
    expectStatus(assert, orgAv, 201);
    expectStatus(assert, await api(srv, 'GET', `/avatars/${orgAv.json.id}`, { token: admin.token }), 200);

    const stranger = await signup(srv, { display_name: 'Stranger' });
    assert.notEqual(stranger.user.org_id, 'default');
    assert.equal(stranger.user.role, 'member');
    const list = await listAll(srv, '/avatars', stranger.token);
    assert.ok(!list.some((a) => a.id === orgAv.json.id), 'the stranger lists the org avatar');
    errorShape(assert, await api(srv, 'GET', `/avatars/${orgAv.json.id}`, { token: stranger.token }), 404);
    errorShape(assert, await api(srv, 'GET', '/orgs/default', { token: stranger.token }), 404);

    // Search: no partial e-mail for anyone, no name across organisations.
    const domain = member.email.split('@')[1];
    const local = member.email.split('@')[0];
    for (const q of [domain, local.slice(0, 8), '@example', 'Zelda', member.email]) {
      const r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(q)}`, { token: stranger.token });
      expectStatus(assert, r, 200);
      assert.deepEqual(r.json.items, [], `stranger searching ${q}`);
    }
    // Inside the org: names and exact addresses (any case), never a part of one.
    const mate = await addMember(srv, admin.token, { display_name: 'Mate' });
    const byName = await api(srv, 'GET', '/users/search?q=zeld', { token: mate.token });
    assert.deepEqual(byName.json.items.map((i) => i.id), [member.id]);
    const exact = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(member.email.toUpperCase())}`, { token: mate.token });
    assert.deepEqual(exact.json.items.map((i) => i.id), [member.id]);
    for (const q of [domain, local.slice(0, 8), member.email.slice(0, -1)]) {
      const r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(q)}`, { token: mate.token });
      assert.deepEqual(r.json.items, [], `member searching the e-mail fragment ${q}`);
    }
  });

  test('an invited address joins the inviting org on sign-up, its invitation a share; a stranger does not', async () => {
    const inviter = await addMember(srv, admin.token, { display_name: 'Inviter' });
    const av = await api(srv, 'POST', '/avatars', { token: inviter.token, body: { name: 'Invited bot', kind: 'character' } });
    expectStatus(assert, av, 201);
    const invitee = uniqEmail('invitee');
    const sh = await api(srv, 'POST', `/avatars/${av.json.id}/shares`, { token: inviter.token, body: { email: invitee.toUpperCase(), role: 'viewer' } });
    expectStatus(assert, sh, 202);
    assert.match(sh.json.invitation_token, /^[A-Za-z0-9_-]{43}$/);
    // the address alone proves nothing: without the token (or with another) it is a stranger
    for (const invitation of [undefined, 'x'.repeat(43)]) {
      const squatter = await api(srv, 'POST', '/auth/signup', {
        body: { email: invitee, password: PASSWORD, display_name: 'Squatter', invitation },
        headers: {},
      });
      if (squatter.status === 201) {
        assert.notEqual(squatter.json.user.org_id, 'default', 'no token: an org of its own');
        const g0 = await api(srv, 'GET', `/avatars/${av.json.id}`, { token: squatter.json.access_token });
        expectStatus(assert, g0, 404, 'not_found');
        await api(srv, 'DELETE', `/users/${squatter.json.user.id}`, { token: admin.token });
      }
    }
    const again = await api(srv, 'POST', `/avatars/${av.json.id}/shares`, { token: inviter.token, body: { email: invitee, role: 'viewer' } });
    expectStatus(assert, again, 202);
    assert.notEqual(again.json.invitation_token, sh.json.invitation_token, 'inviting again makes a new token');
    const stale = await api(srv, 'POST', '/auth/signup', {
      body: { email: invitee, password: PASSWORD, display_name: 'Stale', invitation: sh.json.invitation_token },
    });
    expectStatus(assert, stale, 201);
    assert.notEqual(stale.json.user.org_id, 'default', 'the first token stopped working');
    await api(srv, 'DELETE', `/users/${stale.json.user.id}`, { token: admin.token });
    const u = await signup(srv, {
      email: invitee.replace('invitee', 'INVITEE'),
      display_name: 'Invitee',
      invitation: again.json.invitation_token,
    });
    assert.equal(u.user.org_id, 'default', 'joins the org that invited the address');
    assert.equal(u.user.role, 'member');
    const g = await api(srv, 'GET', `/avatars/${av.json.id}`, { token: u.token });
    expectStatus(assert, g, 200);
    assert.equal(g.json.access, 'viewer');
    const l = await api(srv, 'GET', `/avatars/${av.json.id}/shares`, { token: inviter.token });
    assert.ok(l.json.items.some((x) => x.user_id === u.id && x.role === 'viewer'), JSON.stringify(l.json));
    assert.ok(!l.json.items.some((x) => x.status === 'invited'), 'the invitation is spent');
    const stranger = await signup(srv, { display_name: 'Not Invited' });
    assert.notEqual(stranger.user.org_id, 'default');
  });

  test('a taken address (any case) → 202 pending, the same with any password; nothing changes', async () => {
    const email = uniqEmail('taken');
    const first = await api(srv, 'POST', '/auth/signup', { body: { email, password: PASSWORD, display_name: 'Owner Of It' } });
    expectStatus(assert, first, 201);
    const orgs0 = (await listAll(srv, '/orgs', admin.token)).length;
    const answers = [];
    for (const [e, pw] of [[email, PASSWORD], [email.toUpperCase(), 'another-password-1'], [` ${email} `, 'x'.repeat(12)]]) {
      const r = await api(srv, 'POST', '/auth/signup', { body: { email: e, password: pw, display_name: 'Squatter' } });
      expectStatus(assert, r, 202, undefined, `sign-up again as ${e}`);
      answers.push(r.text);
      assert.ok(!/exist|taken|already|conflict/i.test(r.text), r.text);
      assert.equal(r.json.access_token, undefined);
    }
    assert.equal(new Set(answers).size, 1, 'every taken-address answer is the same');
    assert.equal((await listAll(srv, '/orgs', admin.token)).length, orgs0, 'no org left behind');
    const l = await loginOk(srv, email.toUpperCase());
    assert.equal(l.user.id, first.json.user.id);
    assert.equal(l.user.display_name, 'Owner Of It');
    errorShape(assert, await login(srv, email, 'another-password-1'), 401, 'invalid_credentials');
  });

  test('addresses are one account whatever their case; stored lower-cased', async () => {
    const local = `CaSe-${Date.now()}`;
    const r = await api(srv, 'POST', '/auth/signup', { body: { email: `${local}@Example.TEST`, password: PASSWORD } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.user.email, `${local.toLowerCase()}@example.test`);
    for (const e of [`${local.toLowerCase()}@example.test`, `${local.toUpperCase()}@EXAMPLE.TEST`]) {
      const l = await login(srv, e);
      expectStatus(assert, l, 200, undefined, `login as ${e}`);
      assert.equal(l.json.user.id, r.json.user.id);
    }
    // POST /users as well.
    const dup = await api(srv, 'POST', '/users', { token: admin.token, body: { email: `${local.toUpperCase()}@example.test`, password: PASSWORD, display_name: 'Dup' } });
    errorShape(assert, dup, 409);
  });

  test('display_name defaults to the e-mail\'s local part', async () => {
    const email = uniqEmail('noname');
    const r = await api(srv, 'POST', '/auth/signup', { body: { email, password: PASSWORD } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.user.display_name, email.split('@')[0]);
    const u = await api(srv, 'POST', '/users', { token: admin.token, body: { email: uniqEmail('noname2'), password: PASSWORD } });
    expectStatus(assert, u, 201);
    assert.equal(u.json.display_name, u.json.email.split('@')[0]);
    // Given, it is still checked.
    errorShape(assert, await api(srv, 'POST', '/auth/signup', { body: { email: uniqEmail('n'), password: PASSWORD, display_name: '' } }), 400);
  });
});

describe('--signup-org default (a single-team instance)', () => {
  let srv, admin;
  before(async () => {
    srv = await startAccounts({ redisDb: REDIS_DB, args: ['--signup-org', 'default'] });
    admin = await signup(srv, { display_name: 'Admin' });
  });
  after(() => stopAll(srv));

  test('sign-ups join default; in that open org, people are found by exact address or a share only', async () => {
    const a = await signup(srv, { display_name: 'Quentin Open' });
    const b = await signup(srv, { display_name: 'Rhea Open' });
    assert.equal(a.user.org_id, 'default');
    assert.equal(b.user.org_id, 'default');
    let r = await api(srv, 'GET', '/users/search?q=rhea', { token: a.token });
    assert.deepEqual(r.json.items, [], 'no names across the open default org');
    r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(b.email.toUpperCase())}`, { token: a.token });
    assert.deepEqual(r.json.items.map((i) => i.id), [b.id]);
    // Once a shares an avatar with b, they find each other by name.
    const av = await api(srv, 'POST', '/avatars', { token: a.token, body: { name: 'Shared', kind: 'character' } });
    expectStatus(assert, av, 201);
    expectStatus(assert, await api(srv, 'POST', `/avatars/${av.json.id}/shares`, { token: a.token, body: { user_id: b.id, role: 'viewer' } }), 201);
    r = await api(srv, 'GET', '/users/search?q=rhea', { token: a.token });
    assert.deepEqual(r.json.items.map((i) => i.id), [b.id]);
    r = await api(srv, 'GET', '/users/search?q=quentin', { token: b.token });
    assert.deepEqual(r.json.items.map((i) => i.id), [a.id]);
    assert.ok(admin.id);
  });
});

describe('refresh: the reuse grace', () => {
  let srv;
  before(async () => {
    srv = await startAccounts({ redisDb: REDIS_DB, args: ['--refresh-reuse-grace', '2'] });
    await signup(srv, { display_name: 'Admin' });
  });
  after(() => stopAll(srv));

  test('two refreshes at the same moment by one client: both get a working pair, the session lives', async () => {
    const u = await signup(srv);
    const rs = await Promise.all([0, 1, 2].map(() => api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } })));
    for (const r of rs) expectStatus(assert, r, 200, undefined, 'concurrent refresh');
    assert.equal(new Set(rs.map((r) => r.json.refresh_token)).size, 3, 'each answer is a fresh pair');
    for (const r of rs) {
      assert.equal(r.json.user.id, u.id);
      expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: r.json.access_token }), 200);
    }
    // Whichever answer the client kept, it goes on rotating.
    for (const r of rs) expectStatus(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: r.json.refresh_token } }), 200);
  });

  test('the same spent token again after the grace is reuse: the session is revoked', async () => {
    const u = await signup(srv);
    const r1 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expectStatus(assert, r1, 200);
    const r2 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expectStatus(assert, r2, 200, undefined, 'within the grace, from the same client');
    await sleep(2600);
    errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401, 'invalid_refresh_token');
    for (const r of [r1, r2]) {
      errorShape(assert, await api(srv, 'GET', '/auth/me', { token: r.json.access_token }), 401);
      errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: r.json.refresh_token } }), 401);
    }
  });

  test('within the grace but from another address: reuse, revoked', async () => {
    const u = await signup(srv);
    const r1 = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expectStatus(assert, r1, 200);
    errorShape(assert, await apiFrom(srv, '127.0.0.9', 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401,
      'invalid_refresh_token');
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: r1.json.access_token }), 401);
  });
});

test('backend', () => assert.ok(['sqlite', 'postgres'].includes(BACKEND)));
