// Avatars: create (defaults, every field, validation), list (own, shared, org; pagination), get
// (stats, profile, recent conversation; cache freshness), patch (editors vs owner), delete (gone at
// once; the avatar.delete job), shares (owner only, same organisation only).
// The access matrix of every route is in avatars-access.test.mjs; the legacy page in
// avatars-legacy.test.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  addMember,
  api,
  assertNoLeak,
  blobFiles,
  cast,
  createAvatar,
  errorShape,
  expectStatus,
  fixture,
  listAll,
  loginOk,
  share,
  sharedAvatar,
  signup,
  sleep,
  startAvatars,
  uploadOk,
} from './lib/avatars.mjs';

let srv;
let c; // the cast: admin, owner, editor, viewer, member, outsider

before(async () => {
  // A language model configured (never called here) makes the generative brain a valid choice.
  srv = await startAvatars({ args: ['--llm-provider', 'openai', '--llm-url', 'http://127.0.0.1:9/v1', '--llm-model', 'unused'] });
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const ids = (items) => items.map((a) => a.id);

describe('create', () => {
  test('defaults: kind character, visibility private, brain recall, no slug; 201 with access owner', async () => {
    const r = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: { name: 'Ada' } });
    expectStatus(assert, r, 201);
    const a = r.json;
    assert.equal(typeof a.id, 'string');
    assert.ok(a.id.length > 0);
    assert.equal(a.name, 'Ada');
    assert.equal(a.kind, 'character');
    assert.equal(a.visibility, 'private');
    assert.equal(a.brain, 'recall');
    assert.equal(a.access, 'owner');
    assert.equal(a.owner_id, c.owner.id);
    assert.equal(a.slug ?? null, null, 'a private avatar has no legacy address');
    for (const f of ['description', 'personality', 'scenario', 'greeting']) assert.equal(a[f], '', f);
    assert.ok(!Number.isNaN(Date.parse(a.created_at)), 'created_at is a time');
    assert.match(a.created_at, /Z$/, 'times are UTC');
  });

  test('every field is stored and echoed; link/public get a slug', async () => {
    const body = {
      name: 'Grandma Ada',
      kind: 'legacy',
      description: 'She baked rye bread.',
      personality: 'warm, dry humour',
      scenario: 'a kitchen in 1962',
      greeting: 'Come in, sit down.',
      visibility: 'public',
      brain: 'generative',
      publish: ['name', 'kind', 'greeting'],
    };
    const r = await api(srv, 'POST', '/avatars', { token: c.owner.token, body });
    expectStatus(assert, r, 201);
    for (const [k, v] of Object.entries(body)) assert.deepEqual(r.json[k], v, k);
    assert.match(r.json.slug, /^[a-z0-9-]{6,64}$/, 'a public avatar has a slug');
    const g = await api(srv, 'GET', `/avatars/${r.json.id}`, { token: c.owner.token });
    expectStatus(assert, g, 200);
    for (const [k, v] of Object.entries(body)) assert.deepEqual(g.json[k], v, `GET ${k}`);
    assert.equal(g.json.slug, r.json.slug);

    for (const kind of ['self', 'character', 'trainer']) {
      const k = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: { name: `K ${kind}`, kind, visibility: 'link' } });
      expectStatus(assert, k, 201, undefined, kind);
      assert.equal(k.json.kind, kind);
      assert.match(k.json.slug, /^[a-z0-9-]{6,64}$/, 'a link avatar has a slug');
    }
    const o = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: { name: 'Org one', visibility: 'org' } });
    expectStatus(assert, o, 201);
    assert.equal(o.json.slug ?? null, null, 'an org avatar has no legacy address');
  });

  test('invalid input → 400 with the error shape, and nothing is created', async () => {
    const before = ids(await listAll(srv, '/avatars', c.owner.token));
    const long = 'x'.repeat(20001);
    const cases = [
      [{}, 'no name'],
      [{ name: '' }, 'empty name'],
      [{ name: 'n'.repeat(101) }, 'name over 100 characters'],
      [{ name: 42 }, 'name not a string'],
      [{ name: 'A', kind: 'robot' }, 'unknown kind'],
      [{ name: 'A', kind: '' }, 'empty kind'],
      [{ name: 'A', visibility: 'secret' }, 'unknown visibility'],
      [{ name: 'A', visibility: 7 }, 'visibility not a string'],
      [{ name: 'A', brain: 'psychic' }, 'unknown brain'],
      [{ name: 'A', publish: ['password'] }, 'publish of an unknown field'],
      [{ name: 'A', publish: ['owner_id'] }, 'publish of a private field'],
      [{ name: 'A', publish: 'name' }, 'publish not a list'],
      [{ name: 'A', publish: [1] }, 'publish of a number'],
      [{ name: 'A', description: long }, 'description over 20000 characters'],
      [{ name: 'A', greeting: ['hi'] }, 'greeting not a string'],
      [{ name: 'A', personality: { a: 1 } }, 'personality not a string'],
    ];
    for (const [body, what] of cases) {
      const r = await api(srv, 'POST', '/avatars', { token: c.owner.token, body });
      assert.equal(r.status, 400, `${what}: expected 400, got ${r.status}: ${r.text}`);
      errorShape(assert, r, 400);
    }
    const bad = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: '{"name": "A",' });
    assert.equal(bad.status, 400, `malformed JSON: ${bad.text}`);
    const arr = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: '["name"]' });
    assert.equal(arr.status, 400, `a JSON array body: ${arr.text}`);
    const after = ids(await listAll(srv, '/avatars', c.owner.token));
    assert.deepEqual(after, before, 'no avatar was created by an invalid request');
  });

  test('a name of 100 characters (multi-byte) is accepted', async () => {
    const name = 'é'.repeat(100);
    const r = await api(srv, 'POST', '/avatars', { token: c.owner.token, body: { name } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.name, name);
  });

  test('anonymous → 401', async () => {
    const r = await api(srv, 'POST', '/avatars', { body: { name: 'Nobody' } });
    errorShape(assert, r, 401);
    const l = await api(srv, 'GET', '/avatars');
    errorShape(assert, l, 401);
  });
});

describe('list and get', () => {
  let priv, orgAv, pub, shared, other;
  before(async () => {
    priv = await createAvatar(srv, c.owner.token, { visibility: 'private' });
    orgAv = await createAvatar(srv, c.owner.token, { visibility: 'org' });
    pub = await createAvatar(srv, c.owner.token, { visibility: 'public' });
    shared = await sharedAvatar(srv, c, { visibility: 'private' });
    other = await createAvatar(srv, c.outsider.token, { visibility: 'org' });
  });

  test('each caller lists own, shared and same-org avatars that are not private, each with its access', async () => {
    const byId = async (who) => Object.fromEntries((await listAll(srv, '/avatars', who.token)).map((a) => [a.id, a]));
    const owner = await byId(c.owner);
    for (const a of [priv, orgAv, pub, shared]) assert.equal(owner[a.id]?.access, 'owner', `owner lists ${a.visibility}`);
    assert.equal(owner[other.id], undefined, 'not another org\'s avatar');

    const editor = await byId(c.editor);
    assert.equal(editor[shared.id]?.access, 'editor');
    assert.equal(editor[orgAv.id]?.access, 'viewer', 'same-org org avatar');
    assert.equal(editor[priv.id], undefined, 'not a private avatar that is not shared');

    const viewer = await byId(c.viewer);
    assert.equal(viewer[shared.id]?.access, 'viewer');

    const member = await byId(c.member);
    assert.equal(member[orgAv.id]?.access, 'viewer');
    assert.equal(member[pub.id]?.access, 'viewer', 'a public avatar of the same org');
    assert.equal(member[priv.id], undefined);
    assert.equal(member[shared.id], undefined);
    assert.equal(member[other.id], undefined);

    const outsider = await byId(c.outsider);
    assert.deepEqual(Object.keys(outsider), [other.id], 'an outsider lists only their own org\'s avatars');
    assert.equal(outsider[other.id].access, 'owner');
  });

  test('pagination: limit and cursor cover everything once; bad limit → 400', async () => {
    const all = await listAll(srv, '/avatars', c.owner.token);
    assert.ok(all.length >= 5);
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 100; i++) {
      const r = await api(srv, 'GET', `/avatars?limit=2${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`, { token: c.owner.token });
      expectStatus(assert, r, 200);
      assert.ok(r.json.items.length <= 2);
      seen.push(...ids(r.json.items));
      cursor = r.json.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual([...seen].sort(), ids(all).sort(), 'every avatar once');
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'limit=-1']) {
      const r = await api(srv, 'GET', `/avatars?${q}`, { token: c.owner.token });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
    }
  });

  test('GET an avatar: stats, profile null, recent_conversation null, access', async () => {
    const r = await api(srv, 'GET', `/avatars/${shared.id}`, { token: c.owner.token });
    expectStatus(assert, r, 200);
    assert.deepEqual(r.json.stats, { media: 0, memories: 0 });
    assert.ok('profile' in r.json && r.json.profile === null, 'profile: null');
    assert.ok('recent_conversation' in r.json && r.json.recent_conversation === null, 'recent_conversation: null');
    assert.equal(r.json.access, 'owner');
    assert.equal(r.json.name, shared.name);
    for (const [who, access] of [['editor', 'editor'], ['viewer', 'viewer']]) {
      const g = await api(srv, 'GET', `/avatars/${shared.id}`, { token: c[who].token });
      expectStatus(assert, g, 200, undefined, who);
      assert.equal(g.json.access, access, `${who}'s access (the cache holds no one's access)`);
    }
    const m = await api(srv, 'GET', `/avatars/${orgAv.id}`, { token: c.member.token });
    expectStatus(assert, m, 200);
    assert.equal(m.json.access, 'viewer');
    const o = await api(srv, 'GET', `/avatars/${pub.id}`, { token: c.outsider.token });
    expectStatus(assert, o, 404, 'not_found', 'a public avatar for a signed-in user of another org: only its legacy page');
  });

  test('unknown and malformed ids → 404', async () => {
    for (const id of ['01a20000-0000-7000-8000-000000000000', 'nope', '..%2F..%2Fetc', 'x'.repeat(300)]) {
      const r = await api(srv, 'GET', `/avatars/${id}`, { token: c.owner.token });
      errorShape(assert, r, 404);
    }
  });

  test('stats follow uploads and deletions even when the avatar is cached', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const g0 = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token }); // warms the cache
    assert.equal(g0.json.stats.media, 0);
    const up = await uploadOk(srv, c.owner.token, a.id, fixture('sample.png'), 'p.png');
    const g1 = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token });
    assert.equal(g1.json.stats.media, 1, 'stats.media after an upload');
    const d = await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.owner.token });
    expectStatus(assert, d, 204);
    const g2 = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token });
    assert.equal(g2.json.stats.media, 0, 'stats.media after a deletion');
  });
});

describe('patch', () => {
  test('the owner edits content fields; the change shows at once (the cache is refreshed)', async () => {
    const a = await createAvatar(srv, c.owner.token);
    await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token }); // warm
    await sleep(5);
    const body = { name: 'Renamed', description: 'new description', personality: 'p2', scenario: 's2', greeting: 'g2', kind: 'trainer', brain: 'generative' };
    const r = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body });
    expectStatus(assert, r, 200);
    for (const [k, v] of Object.entries(body)) assert.equal(r.json[k], v, k);
    assert.equal(r.json.access, 'owner');
    assert.ok(r.json.updated_at > a.updated_at, 'updated_at moves forward');
    assert.equal(r.json.created_at, a.created_at);
    const g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token });
    for (const [k, v] of Object.entries(body)) assert.equal(g.json[k], v, `GET ${k}`);
    const l = (await listAll(srv, '/avatars', c.owner.token)).find((x) => x.id === a.id);
    assert.equal(l.name, 'Renamed', 'the list shows the new name');
  });

  test('a partial patch leaves the other fields alone', async () => {
    const a = await createAvatar(srv, c.owner.token, { personality: 'keep me', greeting: 'hello' });
    const r = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { greeting: 'bye' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.greeting, 'bye');
    assert.equal(r.json.personality, 'keep me');
    assert.equal(r.json.name, a.name);
    assert.equal(r.json.description, a.description);
  });

  test('an editor edits content but not visibility or publish (403); a viewer edits nothing (403)', async () => {
    const a = await sharedAvatar(srv, c);
    const e = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body: { personality: 'edited by editor' } });
    expectStatus(assert, e, 200);
    assert.equal(e.json.personality, 'edited by editor');
    assert.equal(e.json.access, 'editor');
    for (const body of [{ visibility: 'public' }, { publish: ['name'] }, { visibility: 'org', greeting: 'x' }]) {
      const r = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body });
      errorShape(assert, r, 403, 'forbidden');
    }
    const v = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.viewer.token, body: { personality: 'viewer was here' } });
    errorShape(assert, v, 403, 'forbidden');
    const g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token });
    assert.equal(g.json.visibility, 'private', 'the refused patches changed nothing');
    assert.equal(g.json.greeting, '', 'a refused patch changed no field of it either');
    assert.equal(g.json.personality, 'edited by editor');
  });

  test('invalid patches → 400 and change nothing', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const cases = [{ name: '' }, { kind: 'robot' }, { visibility: 'everyone' }, { brain: 'x' }, { publish: ['secret'] }, { description: 'd'.repeat(20001) }];
    for (const body of cases) {
      const r = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
    }
    const g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token });
    assert.equal(g.json.name, a.name);
    assert.equal(g.json.kind, a.kind);
    assert.equal(g.json.visibility, a.visibility);
  });

  test('visibility: link/public give a slug that stays when it goes private and back', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'link' } });
    expectStatus(assert, p, 200);
    assert.match(p.json.slug, /^[a-z0-9-]{6,64}$/);
    const slug = p.json.slug;
    const back = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'private' } });
    expectStatus(assert, back, 200);
    const again = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'public' } });
    expectStatus(assert, again, 200);
    assert.equal(again.json.slug, slug, 'the address stays once given');
  });
});

describe('delete', () => {
  test('only the owner deletes (editor/viewer/member 403 or 404); then it is gone for everyone at once', async () => {
    const a = await sharedAvatar(srv, c, { visibility: 'org' });
    const up = await uploadOk(srv, c.owner.token, a.id, fixture('sample.txt'), 'notes.txt');
    for (const who of ['editor', 'viewer', 'member']) {
      const r = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c[who].token });
      errorShape(assert, r, 403, 'forbidden');
    }
    const o = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.outsider.token });
    errorShape(assert, o, 404);
    assertNoLeak(assert, o, a, 'outsider DELETE');

    const d = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token });
    expectStatus(assert, d, 202);
    assert.equal(d.json.deleted, a.id);
    assert.equal(d.json.job?.kind, 'avatar.delete');
    assert.equal(typeof d.json.job.id, 'string');

    for (const who of ['owner', 'editor', 'viewer', 'member']) {
      const g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c[who].token });
      errorShape(assert, g, 404);
      const l = await listAll(srv, '/avatars', c[who].token);
      assert.ok(!ids(l).includes(a.id), `${who} no longer lists it`);
    }
    const routes = [
      ['PATCH', `/avatars/${a.id}`, { greeting: 'x' }],
      ['DELETE', `/avatars/${a.id}`],
      ['GET', `/avatars/${a.id}/shares`],
      ['POST', `/avatars/${a.id}/shares`, { user_id: c.member.id, role: 'viewer' }],
      ['GET', `/avatars/${a.id}/media`],
      ['GET', `/media/${up.media.id}`],
      ['GET', `/media/${up.media.id}/content`],
      ['DELETE', `/media/${up.media.id}`],
    ];
    for (const [m, p, body] of routes) {
      const r = await api(srv, m, p, { token: c.owner.token, body });
      assert.equal(r.status, 404, `${m} ${p} after deletion: ${r.status} ${r.text}`);
    }
    const u = await api(srv, 'POST', `/avatars/${a.id}/media?filename=a.txt`, {
      token: c.owner.token,
      body: 'more text',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(u.status, 404, `upload to a deleted avatar: ${u.text}`);
  });

  test('the avatar.delete job removes its media rows and blobs', async (t) => {
    const a = await createAvatar(srv, c.owner.token);
    const bytes = Buffer.from(`unique text for the delete job ${Date.now()} ${Math.random()}\n`);
    const up = await uploadOk(srv, c.owner.token, a.id, bytes, 'unique.txt');
    const key = up.media.sha256;
    const has = () => blobFiles(srv).blobs.some((b) => b.endsWith(key));
    assert.ok(has(), 'the blob is stored');
    const d = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token });
    expectStatus(assert, d, 202);
    const unwired = () => /kind "avatar\.delete" are due but no handler/.test(srv.stderr());
    let job;
    for (let i = 0; i < 100; i++) {
      job = (await api(srv, 'GET', `/jobs/${d.json.job.id}`, { token: c.owner.token })).json;
      if (job?.status === 'done' || job?.status === 'dead' || unwired()) break;
      await sleep(100);
    }
    const noHandler = unwired() || /no handler/i.test(job?.last_error || '');
    if (noHandler) {
      t.todo(`avatar.delete is not wired yet: job ${job?.status}${job?.last_error ? ' (' + job.last_error + ')' : ''}`);
    }
    assert.equal(job?.status, 'done', `avatar.delete job: ${JSON.stringify(job)}`);
    assert.ok(!has(), 'the blob of its media is removed');
  });

  test('the avatar.delete job keeps blobs that another avatar\'s media shares', async (t) => {
    const a = await createAvatar(srv, c.owner.token);
    const b = await createAvatar(srv, c.editor.token);
    const bytes = Buffer.from(`bytes in two avatars ${Date.now()} ${Math.random()}\n`);
    await uploadOk(srv, c.owner.token, a.id, bytes, 'a.txt');
    await uploadOk(srv, c.owner.token, a.id, fixture('sample.png'), 'a.png');
    const mb = (await uploadOk(srv, c.editor.token, b.id, bytes, 'b.txt')).media;
    const d = await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token });
    expectStatus(assert, d, 202);
    let job;
    for (let i = 0; i < 100; i++) {
      job = (await api(srv, 'GET', `/jobs/${d.json.job.id}`, { token: c.owner.token })).json;
      if (job?.status === 'done' || job?.status === 'dead' || /kind "avatar\.delete" are due but no handler/.test(srv.stderr())) break;
      await sleep(100);
    }
    if (/kind "avatar\.delete" are due but no handler/.test(srv.stderr())) t.todo('avatar.delete is not wired yet');
    assert.equal(job?.status, 'done', `avatar.delete job: ${JSON.stringify(job)}`);
    const r = await api(srv, 'GET', `/media/${mb.id}/content`, { token: c.editor.token });
    expectStatus(assert, r, 200, undefined, 'the other avatar\'s copy of the same bytes');
    assert.equal(r.text, bytes.toString());
    const g = await api(srv, 'GET', `/avatars/${b.id}`, { token: c.editor.token });
    assert.equal(g.json.stats.media, 1);
  });
});

describe('shares', () => {
  test('the owner shares with a same-org user; owner and editors list shares; viewers 403', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const s = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body: { user_id: c.editor.id, role: 'editor' } });
    expectStatus(assert, s, 201);
    assert.equal(s.json.user_id, c.editor.id);
    assert.equal(s.json.role, 'editor');
    await share(srv, c.owner.token, a.id, c.viewer.id, 'viewer');

    for (const who of ['owner', 'editor']) {
      const l = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c[who].token });
      expectStatus(assert, l, 200, undefined, who);
      const roles = Object.fromEntries(l.json.items.map((x) => [x.user_id, x.role]));
      assert.deepEqual(roles, { [c.editor.id]: 'editor', [c.viewer.id]: 'viewer' }, who);
    }
    const v = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c.viewer.token });
    errorShape(assert, v, 403, 'forbidden');
    const m = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c.member.token });
    errorShape(assert, m, 404);
  });

  test('sharing again changes the role; removing a share takes the access away', async () => {
    const a = await createAvatar(srv, c.owner.token);
    await share(srv, c.owner.token, a.id, c.member.id, 'viewer');
    let g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.member.token });
    assert.equal(g.json.access, 'viewer');
    const up = await share(srv, c.owner.token, a.id, c.member.id, 'editor');
    assert.equal(up.role, 'editor');
    g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.member.token });
    assert.equal(g.json.access, 'editor');
    const l = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c.owner.token });
    assert.equal(l.json.items.length, 1, 'one share, not two');
    const d = await api(srv, 'DELETE', `/avatars/${a.id}/shares/${c.member.id}`, { token: c.owner.token });
    expectStatus(assert, d, 204);
    g = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.member.token });
    errorShape(assert, g, 404);
    const again = await api(srv, 'DELETE', `/avatars/${a.id}/shares/${c.member.id}`, { token: c.owner.token });
    errorShape(assert, again, 404);
  });

  test('only the owner adds or removes shares', async () => {
    const a = await sharedAvatar(srv, c);
    for (const who of ['editor', 'viewer']) {
      const p = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c[who].token, body: { user_id: c.member.id, role: 'viewer' } });
      errorShape(assert, p, 403, 'forbidden');
      const d = await api(srv, 'DELETE', `/avatars/${a.id}/shares/${c.viewer.id}`, { token: c[who].token });
      errorShape(assert, d, 403, 'forbidden');
    }
    const m = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.member.token });
    errorShape(assert, m, 404);
  });

  test('a user of another organisation, an unknown user or the owner → 422; bad input → 400', async () => {
    const a = await createAvatar(srv, c.owner.token);
    for (const [user_id, what] of [
      [c.outsider.id, 'another org'],
      ['01a20000-0000-7000-8000-000000000000', 'unknown user'],
      [c.owner.id, 'the owner'],
    ]) {
      const r = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body: { user_id, role: 'viewer' } });
      assert.equal(r.status, 422, `${what}: ${r.text}`);
      errorShape(assert, r, 422);
    }
    for (const body of [{ user_id: c.member.id, role: 'owner' }, { user_id: c.member.id, role: 'admin' }, { role: 'viewer' }, { user_id: 5, role: 'viewer' }]) {
      const r = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    const o = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.outsider.token });
    errorShape(assert, o, 404);
    const l = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c.owner.token });
    assert.deepEqual(l.json.items, [], 'no share was made');
  });

  test('share by e-mail: a same-org account is shared with at once (any case); another address is invited (202), listed, removable', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const byMail = await api(srv, 'POST', `/avatars/${a.id}/shares`, {
      token: c.owner.token,
      body: { email: c.member.email.toUpperCase(), role: 'editor' },
    });
    expectStatus(assert, byMail, 201);
    assert.deepEqual(byMail.json, { avatar_id: a.id, user_id: c.member.id, role: 'editor' });
    expectStatus(assert, await api(srv, 'PATCH', `/avatars/${a.id}`, { token: c.member.token, body: { greeting: 'hi' } }), 200);
    // an address without an account here — or with one in another organisation — gets the same answer
    const answers = [];
    for (const email of ['Nobody.Yet@Example.TEST', c.outsider.email]) {
      const r = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body: { email, role: 'viewer' } });
      expectStatus(assert, r, 202, undefined, email);
      answers.push(Object.keys(r.json).sort().join(','));
      assert.equal(r.json.status, 'invited');
      assert.equal(r.json.email, email.toLowerCase());
    }
    assert.equal(answers[0], answers[1], 'nothing tells an account of another organisation from no account');
    expectStatus(assert, await api(srv, 'GET', `/avatars/${a.id}`, { token: c.outsider.token }), 404, 'not_found', 'an invitation grants nothing');
    const l = await api(srv, 'GET', `/avatars/${a.id}/shares`, { token: c.owner.token });
    const invited = l.json.items.filter((x) => x.status === 'invited').map((x) => x.email).sort();
    assert.deepEqual(invited, ['nobody.yet@example.test', c.outsider.email.toLowerCase()].sort());
    assert.ok(l.json.items.some((x) => x.user_id === c.member.id && x.role === 'editor'));
    const d = await api(srv, 'DELETE', `/avatars/${a.id}/shares/nobody.yet@example.test`, { token: c.owner.token });
    expectStatus(assert, d, 204);
    expectStatus(assert, await api(srv, 'DELETE', `/avatars/${a.id}/shares/nobody.yet@example.test`, { token: c.owner.token }), 404);
    for (const body of [
      { email: 'not-an-address', role: 'viewer' },
      { email: 'a b@example.test' },
      { email: c.member.email, user_id: c.member.id },
      { email: 'x'.repeat(300) + '@example.test' },
    ]) {
      const r = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    }
    const owner = await api(srv, 'POST', `/avatars/${a.id}/shares`, { token: c.owner.token, body: { email: c.owner.email } });
    expectStatus(assert, owner, 422, undefined, 'not with its owner');
  });

  test('a share does not follow its user into another organisation', async () => {
    const mover = await addMember(srv, c.admin.token, { display_name: 'Mover' }); // in the owner's org
    const a = await createAvatar(srv, c.owner.token, { visibility: 'org' });
    await share(srv, c.owner.token, a.id, mover.id, 'editor');
    expectStatus(assert, await api(srv, 'GET', `/avatars/${a.id}`, { token: mover.token }), 200);
    const mv = await api(srv, 'PATCH', `/users/${mover.id}`, { token: c.admin.token, body: { org_id: c.org.id } });
    expectStatus(assert, mv, 200, undefined, 'the admin moves the user to another organisation');
    const fresh = await loginOk(srv, mover.email); // a token that carries the new organisation
    const wrong = [];
    const g = await api(srv, 'GET', `/avatars/${a.id}`, { token: fresh.token });
    if (g.status !== 404) wrong.push(`GET /avatars/{id} → ${g.status} (access ${g.json?.access})`);
    const p = await api(srv, 'PATCH', `/avatars/${a.id}`, { token: fresh.token, body: { greeting: 'edited from another org' } });
    if (p.status !== 404) wrong.push(`PATCH /avatars/{id} → ${p.status}`);
    const u = await api(srv, 'POST', `/avatars/${a.id}/media?filename=x.txt`, { token: fresh.token, body: 'from another org', headers: { 'content-type': 'text/plain' } });
    if (u.status !== 404) wrong.push(`POST /avatars/{id}/media → ${u.status}`);
    const l = await listAll(srv, '/avatars', fresh.token);
    if (ids(l).includes(a.id)) wrong.push('GET /avatars still lists it');
    assert.deepEqual(wrong, [], `a user moved to another organisation keeps their editor share:\n${wrong.join('\n')}`);
  });

  test('an avatar of another organisation cannot be shared into this one', async () => {
    const theirs = await createAvatar(srv, c.outsider.token);
    const r = await api(srv, 'POST', `/avatars/${theirs.id}/shares`, { token: c.outsider.token, body: { user_id: c.member.id, role: 'editor' } });
    errorShape(assert, r, 422);
    const g = await api(srv, 'GET', `/avatars/${theirs.id}`, { token: c.member.token });
    errorShape(assert, g, 404);
  });
});
