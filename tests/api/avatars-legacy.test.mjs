// The legacy page: GET /api/v1/legacy/{slug} without an account, for link/public avatars only,
// showing only the fields the owner chose to publish (never the internal id); rate limited per IP
// (5/s, burst 30). Visitors' conversations on it: a token instead of an account, the owner reads
// them and may turn them off.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  cast,
  createAvatar,
  errorShape,
  expectStatus,
  request,
  sharedAvatar,
  startAvatars,
  uploadOk,
  wavHeader,
} from './lib/avatars.mjs';

const FIELDS = ['name', 'kind', 'description', 'personality', 'scenario', 'greeting'];
const PRIVATE_KEYS = ['owner_id', 'org_id', 'extensions', 'publish', 'brain', 'created_at', 'updated_at', 'access', 'stats'];

let srv;
let c;
// Each legacy GET spends one token of the per-IP bucket (burst 30, 5/s): pace the calls of the
// functional tests so that only the rate-limit test meets the limit.
let calls = 0;
async function legacy(slug, opts = {}) {
  calls++;
  if (calls % 20 === 0) await new Promise((r) => setTimeout(r, 4200));
  return api(srv, 'GET', `/legacy/${encodeURIComponent(slug)}`, opts);
}

before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

describe('legacy page', () => {
  test('a public avatar: slug, visibility, visitor_talk and exactly the published fields, without an account', async () => {
    const a = await createAvatar(srv, c.owner.token, {
      kind: 'legacy',
      personality: 'private personality notes',
      scenario: 'private scenario',
      greeting: 'Hello, dear.',
      visibility: 'public',
      publish: ['name', 'greeting'],
    });
    assert.ok(a.slug, 'a public avatar has a slug');
    const r = await legacy(a.slug);
    expectStatus(assert, r, 200);
    assert.deepEqual(Object.keys(r.json).sort(), ['greeting', 'name', 'slug', 'visibility', 'visitor_talk']);
    assert.equal(r.json.slug, a.slug);
    assert.ok(!r.text.includes(a.id), 'the page never hands out the internal id');
    assert.equal(r.json.visitor_talk, true);
    assert.equal(r.json.visibility, 'public');
    assert.equal(r.json.name, a.name);
    assert.equal(r.json.greeting, 'Hello, dear.');
    for (const secret of [a.description, 'private personality notes', 'private scenario', c.owner.id, c.owner.email])
      assert.ok(!r.text.includes(secret), `the page does not contain ${secret}`);
  });

  test('every publishable field, and none: the page follows the owner\'s publish list', async () => {
    const body = { kind: 'self', personality: 'P', scenario: 'S', greeting: 'G', visibility: 'link', publish: FIELDS };
    const a = await createAvatar(srv, c.owner.token, body);
    const r = await legacy(a.slug);
    expectStatus(assert, r, 200);
    assert.deepEqual(Object.keys(r.json).sort(), [...FIELDS, 'slug', 'visibility', 'visitor_talk'].sort());
    for (const f of FIELDS) assert.equal(r.json[f], a[f], f);
    for (const k of PRIVATE_KEYS) assert.ok(!(k in r.json), `no ${k}`);
    assert.equal(r.json.visibility, 'link');

    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { publish: [] } });
    expectStatus(assert, p, 200);
    const none = await legacy(a.slug);
    expectStatus(assert, none, 200);
    assert.deepEqual(Object.keys(none.json).sort(), ['slug', 'visibility', 'visitor_talk'], 'nothing published: only the address');

    const q = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { publish: ['description'] } });
    expectStatus(assert, q, 200);
    const one = await legacy(a.slug);
    assert.deepEqual(Object.keys(one.json).sort(), ['description', 'slug', 'visibility', 'visitor_talk']);
    assert.equal(one.json.description, a.description);
  });

  test('content edits show on the page at once', async () => {
    const a = await sharedAvatar(srv, c, { visibility: 'public', publish: ['name', 'greeting'] });
    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body: { greeting: 'Edited greeting' } });
    expectStatus(assert, p, 200);
    const r = await legacy(a.slug);
    assert.equal(r.json.greeting, 'Edited greeting');
  });

  test('private and org avatars have no page (404); going private removes the page, going public again restores it', async () => {
    const a = await createAvatar(srv, c.owner.token, { visibility: 'link', publish: ['name'] });
    const slug = a.slug;
    expectStatus(assert, await legacy(slug), 200);
    for (const vis of ['private', 'org']) {
      const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: vis } });
      expectStatus(assert, p, 200);
      const r = await legacy(slug);
      errorShape(assert, r, 404);
      assert.ok(!r.text.includes(a.name), `a ${vis} avatar's 404 does not name it`);
    }
    const back = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'public' } });
    assert.equal(back.json.slug, slug);
    const r = await legacy(slug);
    expectStatus(assert, r, 200);
    assert.equal(r.json.visibility, 'public');
  });

  test('a private avatar\'s id or name is not a slug; unknown slugs → 404', async () => {
    const a = await createAvatar(srv, c.owner.token, { visibility: 'private' });
    for (const s of [a.id, a.name, 'no-such-slug', 'x'.repeat(65), 'x'.repeat(1000), "' OR 1=1 --", '%00']) {
      const r = await legacy(s);
      errorShape(assert, r, 404);
      assert.ok(!r.text.includes(a.description));
    }
  });

  test('a deleted avatar\'s page is gone at once', async () => {
    const a = await createAvatar(srv, c.owner.token, { visibility: 'public', publish: ['name'] });
    expectStatus(assert, await legacy(a.slug), 200);
    const d = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token });
    expectStatus(assert, d, 202);
    errorShape(assert, await legacy(a.slug), 404);
  });

  test('the page is readable with any (or a bogus) token too', async () => {
    const a = await createAvatar(srv, c.owner.token, { visibility: 'public', publish: ['name'] });
    expectStatus(assert, await legacy(a.slug, { token: c.outsider.token }), 200);
    expectStatus(assert, await legacy(a.slug, { token: 'not-a-jwt' }), 200);
  });

  test('slugs are URL-safe and differ between avatars of the same name', async () => {
    const name = 'Ünïcødé  Name / with ? odd & chars';
    const a = await createAvatar(srv, c.owner.token, { name, visibility: 'public' });
    const b = await createAvatar(srv, c.owner.token, { name, visibility: 'public' });
    for (const x of [a, b]) assert.match(x.slug, /^[a-z0-9-]{6,64}$/);
    assert.notEqual(a.slug, b.slug);
    expectStatus(assert, await legacy(a.slug), 200);
  });

  test('a private avatar made public gets its address from its name, not from "avatar"', async () => {
    const a = await createAvatar(srv, c.owner.token, { name: 'Grandpa Joe', visibility: 'private' });
    assert.equal(a.slug ?? null, null);
    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'link' } });
    expectStatus(assert, p, 200);
    assert.match(p.json.slug, /^grandpa-joe-[a-z2-7]{6}$/);
  });

  test('the owner chooses the address: taken → 409, malformed → 400, editors → 403, the old one is gone', async () => {
    const a = await sharedAvatar(srv, c, { visibility: 'public' });
    const b = await createAvatar(srv, c.owner.token, { visibility: 'public' });
    const chosen = `in-memory-of-ada-${Date.now().toString(36)}`;
    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { slug: chosen } });
    expectStatus(assert, p, 200);
    assert.equal(p.json.slug, chosen);
    expectStatus(assert, await legacy(chosen), 200);
    expectStatus(assert, await legacy(a.slug), 404, 'not_found', 'the old address is gone');
    const taken = await api(srv, 'PATCH', `/avatars/${b.id}`, { token: c.owner.token, body: { slug: chosen } });
    expectStatus(assert, taken, 409, 'conflict');
    assert.match(taken.json.error.message, /taken/);
    for (const slug of ['ab', 'Has-Caps', '-lead', 'trail-', 'sp ace', 'x'.repeat(61), 'ünï', 7])
      expectStatus(assert, await api(srv, 'PATCH', `/avatars/${b.id}`, { token: c.owner.token, body: { slug } }), 400, 'invalid_input', String(slug));
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body: { slug: 'editor-was-here' } }), 403);
    const created = await createAvatar(srv, c.owner.token, { visibility: 'link', slug: `chosen-at-birth-${Date.now().toString(36)}` });
    assert.match(created.slug, /^chosen-at-birth-/);
    const dup = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: { name: 'Dup', visibility: 'link', slug: chosen } });
    expectStatus(assert, dup, 409, 'conflict');
  });
});

describe('visitors talk on the legacy page', () => {
  let a; // a public avatar with a memory
  before(async () => {
    a = await sharedAvatar(srv, c, { kind: 'legacy', visibility: 'public', greeting: 'Hello, dear.', publish: ['name'] });
    const m = await api(srv, 'POST', `/avatars/${a.id}/memories`, {
      token: c.owner.token,
      body: { text: 'I sailed on Lough Derg every summer with my uncle.' },
    });
    expectStatus(assert, m, 201);
  });
  const visit = (slug) => api(srv, 'POST', `/legacy/${slug}/conversations`);
  const say = (slug, cid, token, text, headers = {}) =>
    api(srv, 'POST', `/legacy/${slug}/conversations/${cid}/messages`, {
      body: { text },
      headers: token === undefined ? headers : { authorization: `Visitor ${token}`, ...headers },
    });

  test('a visitor starts a conversation, asks, and is answered from the memories; nothing hands out the id', async () => {
    const v = await visit(a.slug);
    expectStatus(assert, v, 201);
    assert.match(v.json.visitor_token, /^[A-Za-z0-9_-]{40,}$/);
    assert.equal(v.json.message.text, 'Hello, dear.');
    assert.ok(!v.text.includes(a.id), 'no internal id');
    const r = await say(a.slug, v.json.conversation.id, v.json.visitor_token, 'Where did you sail every summer?');
    expectStatus(assert, r, 201);
    assert.match(r.json.message.text, /Lough Derg/);
    const h = await api(srv, 'GET', `/legacy/${a.slug}/conversations/${v.json.conversation.id}/messages`, {
      headers: { authorization: `Visitor ${v.json.visitor_token}` },
    });
    expectStatus(assert, h, 200);
    assert.deepEqual(
      h.json.items.map((m) => m.role),
      ['avatar', 'user', 'avatar'],
    );
  });

  test('a reply quoting a recording carries a signed audio_url the visitor plays without an account', async () => {
    const pcm = Buffer.alloc(16000 * 2, 3);
    const rec = (await uploadOk(srv, c.owner.token, a.id, Buffer.concat([wavHeader(pcm.length), pcm]), 'heron.wav')).media;
    const m = await api(srv, 'POST', `/avatars/${a.id}/memories`, {
      token: c.owner.token,
      body: { text: 'The heron stood in the reeds at dawn.', source: { media_id: rec.id, start_ms: 0, end_ms: 250 } },
    });
    expectStatus(assert, m, 201);
    const v = (await visit(a.slug)).json;
    const r = await say(a.slug, v.conversation.id, v.visitor_token, 'Tell me about the heron in the reeds');
    expectStatus(assert, r, 201);
    assert.match(r.json.message.audio_url || '', /\/audio\?exp=\d+&sig=/);
    const heard = await request(srv, 'GET', r.json.message.audio_url);
    assert.equal(heard.status, 200, heard.text);
    assert.equal(heard.buf.length, 44 + 250 * 32);
  });

  test('without the token, with another one, or on another page: 404; bad text: 400', async () => {
    const v1 = (await visit(a.slug)).json;
    const v2 = (await visit(a.slug)).json;
    const other = await createAvatar(srv, c.owner.token, { visibility: 'link' });
    const cid = v1.conversation.id;
    for (const [token, slug, what] of [
      [undefined, a.slug, 'no token'],
      ['nonsense', a.slug, 'a made-up token'],
      [v2.visitor_token, a.slug, "another visitor's token"],
      [v1.visitor_token, other.slug, 'another page'],
    ])
      expectStatus(assert, await say(slug, cid, token, 'hello?'), 404, 'not_found', what);
    const bearer = await say(a.slug, cid, undefined, 'hello?', { authorization: `Bearer ${c.owner.token}` });
    expectStatus(assert, bearer, 404, 'not_found', "an account's token is not the visitor's");
    // a user's own conversation cannot be reached as a visitor's
    const mine = (await api(srv, 'POST', `/avatars/${a.id}/conversations`, { token: c.owner.token })).json.conversation;
    expectStatus(assert, await say(a.slug, mine.id, v1.visitor_token, 'hello?'), 404);
    expectStatus(assert, await say(a.slug, cid, v1.visitor_token, '   '), 400, 'invalid_input');
    expectStatus(assert, await say(a.slug, cid, v1.visitor_token, 'x'.repeat(4001)), 400, 'invalid_input');
  });

  test('the owner reads the visitors\' conversations; nobody else does', async () => {
    const v = (await visit(a.slug)).json;
    await say(a.slug, v.conversation.id, v.visitor_token, 'Do you remember the lake?');
    const list = await api(srv, 'GET', `/avatars/${a.id}/conversations?visitors=true`, { token: c.owner.token });
    expectStatus(assert, list, 200);
    assert.ok(list.json.items.some((x) => x.id === v.conversation.id && x.visitor === true));
    const msgs = await api(srv, 'GET', `/conversations/${v.conversation.id}/messages`, { token: c.owner.token });
    expectStatus(assert, msgs, 200);
    assert.ok(msgs.json.items.some((m) => m.role === 'user' && m.text === 'Do you remember the lake?'));
    // the owner reads; writing into a visitor's conversation is not theirs
    const write = await api(srv, 'POST', `/conversations/${v.conversation.id}/messages`, { token: c.owner.token, body: { text: 'hi' } });
    expectStatus(assert, write, 404);
    expectStatus(assert, await api(srv, 'GET', `/avatars/${a.id}/conversations?visitors=true`, { token: c.editor.token }), 403);
    for (const who of ['editor', 'viewer', 'member', 'outsider'])
      expectStatus(assert, await api(srv, 'GET', `/conversations/${v.conversation.id}/messages`, { token: c[who].token }), 404, 'not_found', who);
    const own = await api(srv, 'GET', `/avatars/${a.id}/conversations`, { token: c.owner.token });
    assert.ok(!own.json.items.some((x) => x.id === v.conversation.id), "the owner's own list holds only their conversations");
  });

  test('the owner turns visitors off (and on); going private closes the page to them', async () => {
    const v = (await visit(a.slug)).json;
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body: { visitor_talk: false } }), 403);
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visitor_talk: 'no' } }), 400);
    const off = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visitor_talk: false } });
    expectStatus(assert, off, 200);
    assert.equal(off.json.visitor_talk, false);
    assert.equal((await legacy(a.slug)).json.visitor_talk, false);
    expectStatus(assert, await visit(a.slug), 403, 'forbidden');
    expectStatus(assert, await say(a.slug, v.conversation.id, v.visitor_token, 'still there?'), 404);
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visitor_talk: true } }), 200);
    expectStatus(assert, await say(a.slug, v.conversation.id, v.visitor_token, 'still there?'), 201);
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'private' } }), 200);
    expectStatus(assert, await visit(a.slug), 404);
    expectStatus(assert, await say(a.slug, v.conversation.id, v.visitor_token, 'still there?'), 404);
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'public' } }), 200);
  });

  test('starting conversations is rate limited per address', async () => {
    const statuses = [];
    for (let i = 0; i < 14; i++) statuses.push((await visit(a.slug)).status);
    assert.ok(statuses.includes(429), `no 429 in 14 starts: ${statuses.join(',')}`);
  });
});

describe('legacy page rate limit', () => {
  test('more than the burst from one IP → 429 with Retry-After; the page comes back later', async () => {
    await new Promise((r) => setTimeout(r, 6500)); // a full bucket
    const a = await createAvatar(srv, c.owner.token, { visibility: 'public', publish: ['name'] });
    const statuses = [];
    let limited;
    const t0 = performance.now();
    for (let i = 0; i < 45; i++) {
      const r = await api(srv, 'GET', `/legacy/${a.slug}`);
      statuses.push(r.status);
      if (r.status === 429 && !limited) limited = r;
    }
    const ok = statuses.filter((s) => s === 200).length;
    assert.ok(limited, `no 429 in 45 requests: ${statuses.join(',')}`);
    errorShape(assert, limited, 429, 'rate_limited');
    const ra = limited.headers.get('retry-after');
    assert.match(ra || '', /^\d+$/, 'Retry-After in whole seconds');
    assert.ok(Number(ra) >= 1 && Number(ra) <= 60, `Retry-After ${ra}`);
    // The bucket refills at 5 a second while the requests go out (slowly under the sanitizers).
    const refilled = Math.ceil((5 * (performance.now() - t0)) / 1000);
    assert.ok(ok >= 25 && ok <= 32 + refilled, `about the burst (30) answered before the limit: ${ok} (${refilled} refilled)`);
    // unknown slugs are limited too (no free enumeration)
    const misses = await Promise.all(Array.from({ length: 10 }, () => api(srv, 'GET', '/legacy/no-such-slug-at-all')));
    const limitedMisses = misses.filter((m) => m.status === 429).length;
    assert.ok(limitedMisses >= 5, `unknown slugs while limited: ${misses.map((m) => m.status).join(',')}`);
    await new Promise((r) => setTimeout(r, (Number(ra) || 1) * 1000 + 300));
    const back = await api(srv, 'GET', `/legacy/${a.slug}`);
    expectStatus(assert, back, 200);
    // the limit is the legacy page's own: the API itself still answers
    const me = await api(srv, 'GET', '/auth/me', { token: c.owner.token });
    expectStatus(assert, me, 200);
  });
});
