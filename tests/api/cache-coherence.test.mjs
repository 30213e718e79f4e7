// Cached hot reads never outlive a write: every write that changes what the avatar list, an
// avatar's GET or /auth/me shows is followed by a read that shows it. On PostgreSQL + Redis the
// writes go to instance A and the reads to instance B (sharing the database and Redis), each read
// warmed first so that B holds a cached copy the write must make unreachable; on SQLite both are
// the same instance. Correctness only, never speed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricsText, metricValue, randomKeyHex, startPeer } from './lib/accounts.mjs';
import {
  addMember,
  api,
  BACKEND,
  cast,
  createAvatar,
  errorShape,
  eventually,
  expectStatus,
  loginOk,
  makeOrg,
  share,
  startAvatars,
  stopAll,
  fixture,
  uploadOk,
  uploadRaw,
  waitMedia,
} from './lib/avatars.mjs';

const names = (r) => r.json.items.map((a) => a.name);
const accessOf = (r, id) => (r.json.items.find((a) => a.id === id) || {}).access;

describe(`cached reads follow every write (${BACKEND === 'postgres' ? 'write on A, read on B' : 'one instance'})`, () => {
  const KEY = randomKeyHex();
  let A, B, c;
  // W: where writes go; R: where reads go.
  let W, R;
  before(async () => {
    A = await startAvatars({ jwtKey: KEY, redisDb: 12 });
    B = BACKEND === 'postgres' ? await startPeer(A, { jwtKey: KEY }) : A;
    W = A;
    R = B;
    c = await cast(A);
  });
  after(() => stopAll(...new Set([A, B])));

  /* Reads twice on R (the second answer comes from the cache when the first filled it). */
  async function read(path, token) {
    await api(R, 'GET', path, { token });
    return api(R, 'GET', path, { token });
  }

  test('avatar list: create, rename, visibility, delete', async () => {
    const before0 = await read('/avatars', c.member.token);
    expectStatus(assert, before0, 200);
    await read('/avatars', c.owner.token);
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    assert.ok(names(await read('/avatars', c.owner.token)).includes(a.name), 'create → the owner\'s list');
    assert.ok(names(await read('/avatars', c.member.token)).includes(a.name), 'create → an org member\'s list');

    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { name: `${a.name} renamed` } }), 200);
    assert.ok(names(await read('/avatars', c.member.token)).includes(`${a.name} renamed`), 'rename → shown');
    assert.ok(names(await read('/avatars?limit=5', c.owner.token)).length <= 5);

    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'private' } }), 200);
    assert.ok(!(await read('/avatars', c.member.token)).json.items.some((x) => x.id === a.id), 'private → gone from the member\'s list');
    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'org' } }), 200);
    assert.ok((await read('/avatars', c.member.token)).json.items.some((x) => x.id === a.id), 'org again → back');

    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token })).status, 202);
    assert.ok(!(await read('/avatars', c.owner.token)).json.items.some((x) => x.id === a.id), 'delete → gone from the owner\'s list');
    assert.ok(!(await read('/avatars', c.member.token)).json.items.some((x) => x.id === a.id), 'delete → gone from the member\'s list');
  });

  test('avatar list and GET: share, role change, unshare', async () => {
    const a = await createAvatar(W, c.owner.token);
    expectStatus(assert, await read('/avatars', c.viewer.token), 200);
    errorShape(assert, await read(`/avatars/${a.id}`, c.viewer.token), 404, 'not_found');

    await share(W, c.owner.token, a.id, c.viewer.id, 'viewer');
    assert.equal(accessOf(await read('/avatars', c.viewer.token), a.id), 'viewer', 'share → in the list');
    const g = await read(`/avatars/${a.id}`, c.viewer.token);
    expectStatus(assert, g, 200);
    assert.equal(g.json.access, 'viewer');

    await share(W, c.owner.token, a.id, c.viewer.id, 'editor');
    assert.equal(accessOf(await read('/avatars', c.viewer.token), a.id), 'editor', 'role change → in the list');
    assert.equal((await read(`/avatars/${a.id}`, c.viewer.token)).json.access, 'editor', 'role change → in the GET');

    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}/shares/${c.viewer.id}`, { token: c.owner.token })).status, 204);
    assert.equal(accessOf(await read('/avatars', c.viewer.token), a.id), undefined, 'unshare → gone from the list');
    errorShape(assert, await read(`/avatars/${a.id}`, c.viewer.token), 404, 'not_found');
    // The owner's own view was cached all along and is still the owner's.
    assert.equal((await read(`/avatars/${a.id}`, c.owner.token)).json.access, 'owner');
  });

  test('avatar GET: fields, an editor\'s change, memories and media in its stats, delete', async () => {
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    await share(W, c.owner.token, a.id, c.editor.id, 'editor');
    let g = await read(`/avatars/${a.id}`, c.member.token);
    expectStatus(assert, g, 200);
    assert.deepEqual(g.json.stats, { media: 0, memories: 0 });

    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.editor.token, body: { description: 'changed by the editor' } }), 200);
    assert.equal((await read(`/avatars/${a.id}`, c.member.token)).json.description, 'changed by the editor');
    assert.ok((await read('/avatars', c.owner.token)).json.items.some((x) => x.description === 'changed by the editor'),
      'an editor\'s change → the owner\'s list');

    const m = await api(W, 'POST', `/avatars/${a.id}/memories`, { token: c.owner.token, body: { text: 'The lighthouse keeper whistled.' } });
    expectStatus(assert, m, 201);
    assert.equal((await read(`/avatars/${a.id}`, c.member.token)).json.stats.memories, 1, 'memory added → stats');
    expectStatus(assert, await api(W, 'DELETE', `/avatars/${a.id}/memories/${m.json.id}`, { token: c.owner.token }), 204);
    assert.equal((await read(`/avatars/${a.id}`, c.member.token)).json.stats.memories, 0, 'memory deleted → stats');

    const up = await uploadRaw(W, c.owner.token, a.id, Buffer.from('a note about the lighthouse\n'), 'note.txt');
    assert.ok([200, 201, 202].includes(up.status), `upload → ${up.status}`);
    assert.equal((await read(`/avatars/${a.id}`, c.member.token)).json.stats.media, 1, 'media added → stats');

    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { visibility: 'private' } }), 200);
    errorShape(assert, await read(`/avatars/${a.id}`, c.member.token), 404, 'not_found');
    assert.equal((await read(`/avatars/${a.id}`, c.editor.token)).json.access, 'editor', 'the share still holds');

    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token })).status, 202);
    errorShape(assert, await read(`/avatars/${a.id}`, c.owner.token), 404, 'not_found');
    errorShape(assert, await read(`/avatars/${a.id}`, c.editor.token), 404, 'not_found');
  });

  test('memory and media lists: first pages follow adds, edits, ingestion, deletes and access', async () => {
    const a = await createAvatar(W, c.owner.token);
    await share(W, c.owner.token, a.id, c.viewer.id, 'viewer');
    const texts = async () => (await read(`/avatars/${a.id}/memories`, c.viewer.token)).json.items.map((m) => m.text);
    assert.deepEqual(await texts(), []);
    const m = await api(W, 'POST', `/avatars/${a.id}/memories`, { token: c.owner.token, body: { text: 'The first lighthouse.' } });
    expectStatus(assert, m, 201);
    assert.deepEqual(await texts(), ['The first lighthouse.'], 'add → listed');
    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}/memories/${m.json.id}`, { token: c.owner.token, body: { text: 'The second lighthouse.' } }), 200);
    assert.deepEqual(await texts(), ['The second lighthouse.'], 'edit → listed');
    expectStatus(assert, await api(W, 'DELETE', `/avatars/${a.id}/memories/${m.json.id}`, { token: c.owner.token }), 204);
    assert.deepEqual(await texts(), [], 'delete → gone');

    const media = async () => (await read(`/avatars/${a.id}/media`, c.viewer.token)).json.items;
    assert.deepEqual(await media(), []);
    const up = await uploadRaw(W, c.owner.token, a.id, Buffer.from('The keeper lit the lamp every evening at dusk.\n'), 'lamp.txt');
    assert.ok([200, 201, 202].includes(up.status), `upload → ${up.status}`);
    const id = up.json.id || up.json.media?.id;
    assert.equal((await media()).length, 1, 'upload → listed');
    const done = await waitMedia(W, c.owner.token, id, (x) => x.status === 'ready' || x.status === 'failed', 30000);
    assert.equal(done.status, 'ready');
    assert.equal((await media())[0].status, 'ready', 'ingestion → the listed status');
    assert.ok((await texts()).some((t) => t.includes('lit the lamp')), 'ingestion → its passages listed');
    expectStatus(assert, await api(W, 'DELETE', `/media/${id}`, { token: c.owner.token }), 204);
    assert.deepEqual(await media(), [], 'media delete → gone');

    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}/shares/${c.viewer.id}`, { token: c.owner.token })).status, 204);
    errorShape(assert, await read(`/avatars/${a.id}/memories`, c.viewer.token), 404, 'not_found');
    errorShape(assert, await read(`/avatars/${a.id}/media`, c.viewer.token), 404, 'not_found');
  });

  test('a conversation\'s messages: a turn (plain and streamed) shows at once; an unshare hides them', async () => {
    const a = await createAvatar(W, c.owner.token, { greeting: 'Hello there.' });
    await share(W, c.owner.token, a.id, c.viewer.id, 'viewer');
    expectStatus(assert, await api(W, 'POST', `/avatars/${a.id}/memories`, { token: c.owner.token, body: { text: 'The lighthouse stood on the northern cape.' } }), 201);
    const conv = await api(W, 'POST', `/avatars/${a.id}/conversations`, { token: c.viewer.token });
    expectStatus(assert, conv, 201);
    const path = `/conversations/${conv.json.conversation.id}/messages`;
    const count = async () => (await read(path, c.viewer.token)).json.items.length;
    const n0 = await count();
    expectStatus(assert, await api(W, 'POST', path, { token: c.viewer.token, body: { text: 'Where was the lighthouse?' } }), 201);
    assert.equal(await count(), n0 + 2, 'a turn → its two messages');
    const r = await fetch(`${W.url}/api/v1${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.viewer.token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Tell me about the lighthouse' }),
    });
    assert.equal(r.status, 200);
    const done = JSON.parse((await r.text()).trim().split('\n\n').at(-1).match(/^data: (.*)$/m)[1]).message;
    const items = (await read(path, c.viewer.token)).json.items;
    assert.equal(items.length, n0 + 4, 'a streamed turn → its two messages');
    assert.equal(items.at(-1).id, done.id);
    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}/shares/${c.viewer.id}`, { token: c.owner.token })).status, 204);
    errorShape(assert, await read(path, c.viewer.token), 404, 'not_found');
  });

  test('portrait: set, cleared and its image deleted show in the list and the GET', async () => {
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    const img = (await uploadOk(W, c.owner.token, a.id, fixture('sample.png'), 'face.png')).media;
    const inList = async () => ((await read('/avatars', c.member.token)).json.items.find((x) => x.id === a.id) || {}).portrait_media_id;
    const inGet = async () => (await read(`/avatars/${a.id}`, c.member.token)).json.portrait_media_id;
    assert.equal(await inList(), null);
    assert.equal(await inGet(), null);
    await waitMedia(W, c.owner.token, img.id, (x) => x.status === 'ready' || x.status === 'failed', 30000);
    expectStatus(assert, await api(W, 'PUT', `/avatars/${a.id}/portrait`, { token: c.owner.token, body: { media_id: img.id } }), 200);
    assert.equal(await inList(), img.id, 'set → the list');
    assert.equal(await inGet(), img.id, 'set → the GET');
    assert.equal((await api(W, 'DELETE', `/avatars/${a.id}/portrait`, { token: c.owner.token })).status, 204);
    assert.equal(await inList(), null, 'cleared → the list');
    expectStatus(assert, await api(W, 'PUT', `/avatars/${a.id}/portrait`, { token: c.owner.token, body: { media_id: img.id } }), 200);
    assert.equal(await inList(), img.id);
    expectStatus(assert, await api(W, 'DELETE', `/media/${img.id}`, { token: c.owner.token }), 204);
    assert.equal(await inList(), null, 'its image deleted → the list');
    assert.equal(await inGet(), null, 'its image deleted → the GET');
  });

  test('auth/me: a changed name; a logout refuses the cached reads at once', async () => {
    const u = await addMember(W, c.admin.token, { display_name: 'Before' });
    assert.equal((await read('/auth/me', u.token)).json.display_name, 'Before');
    expectStatus(assert, await api(W, 'PATCH', `/users/${u.id}`, { token: c.admin.token, body: { display_name: 'After' } }), 200);
    assert.equal((await read('/auth/me', u.token)).json.display_name, 'After');

    expectStatus(assert, await read('/avatars', u.token), 200);
    assert.equal((await api(W, 'POST', '/auth/logout', { token: u.token })).status, 204);
    errorShape(assert, await api(R, 'GET', '/avatars', { token: u.token }), 401, 'unauthenticated');
    errorShape(assert, await api(R, 'GET', '/auth/me', { token: u.token }), 401, 'unauthenticated');
  });

  test('organisation change: the moved user sees the new organisation\'s avatars only', async () => {
    const org = await makeOrg(W, c.admin.token);
    const u = await addMember(W, c.admin.token);
    const home = await createAvatar(W, c.owner.token, { visibility: 'org' });
    assert.ok((await read('/avatars', u.token)).json.items.some((x) => x.id === home.id));
    expectStatus(assert, await api(W, 'PATCH', `/users/${u.id}`, { token: c.admin.token, body: { org_id: org.id } }), 200);
    errorShape(assert, await api(R, 'GET', '/avatars', { token: u.token }), 401, 'unauthenticated');
    const again = await loginOk(R, u.email);
    const list = await read('/avatars', again.token);
    expectStatus(assert, list, 200);
    assert.ok(!list.json.items.some((x) => x.id === home.id), 'the old organisation\'s avatar is gone');
    errorShape(assert, await read(`/avatars/${home.id}`, again.token), 404, 'not_found');
  });

  test('user deletion: their avatars leave the lists and GETs of others', async () => {
    const gone = await addMember(W, c.admin.token);
    const a = await createAvatar(W, gone.token, { visibility: 'org' });
    assert.ok((await read('/avatars', c.member.token)).json.items.some((x) => x.id === a.id));
    expectStatus(assert, await read(`/avatars/${a.id}`, c.member.token), 200);
    assert.equal((await api(W, 'DELETE', `/users/${gone.id}`, { token: c.admin.token })).status, 204);
    assert.ok(!(await read('/avatars', c.member.token)).json.items.some((x) => x.id === a.id), 'gone from the list');
    errorShape(assert, await read(`/avatars/${a.id}`, c.member.token), 404, 'not_found');
    errorShape(assert, await api(R, 'GET', '/avatars', { token: gone.token }), 401, 'unauthenticated');
  });

  // With Redis, B answers warm reads from near copies (session state, generations, a lease of rate
  // tokens) without a Redis round trip; A's write returns only once B has dropped its copies. Many
  // write → read turns in a row, each read at once after the write's answer.
  test('near copies: warm reads on B skip Redis, and each write on A shows in B\'s very next read', { skip: BACKEND !== 'postgres' && 'one instance' }, async () => {
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    await read('/avatars', c.member.token);
    // B serves warm reads from its near copies: most of these never reach Redis.
    let hits = 0;
    await eventually(async () => {
      const hits0 = metricValue(await metricsText(R), 'doppel_near_auth_total', { result: 'hit' });
      for (let i = 0; i < 10; i++) expectStatus(assert, await api(R, 'GET', '/avatars', { token: c.member.token }), 200);
      hits = metricValue(await metricsText(R), 'doppel_near_auth_total', { result: 'hit' }) - hits0;
      return hits >= 5;
    });
    assert.ok(hits >= 5, `B authenticated ${hits} of 10 warm reads from near copies`);
    for (let i = 0; i < 12; i++) {
      const name = `${a.name} v${i}`;
      expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { name } }), 200);
      const got = await api(R, 'GET', '/avatars', { token: c.member.token });
      assert.ok(names(got).includes(name), `turn ${i}: B's next read shows the rename`);
      expectStatus(assert, await api(R, 'GET', '/avatars', { token: c.member.token }), 200); // warm again
    }
    // A session revoked on A is refused by B's very next request, though B held it as live.
    const u = await addMember(W, c.admin.token);
    for (let i = 0; i < 3; i++) expectStatus(assert, await api(R, 'GET', '/avatars', { token: u.token }), 200);
    assert.equal((await api(W, 'POST', '/auth/logout', { token: u.token })).status, 204);
    errorShape(assert, await api(R, 'GET', '/avatars', { token: u.token }), 401, 'unauthenticated');
  });

  // A member that dies without leaving (kill -9) is waited for at most the trust period (0.5 s):
  // writes still complete, and the live members still follow them.
  test('near copies: a member killed without leaving delays writes by at most the trust period', { skip: BACKEND !== 'postgres' && 'one instance' }, async () => {
    const C = await startPeer(A, { jwtKey: KEY });
    expectStatus(assert, await api(C, 'GET', '/avatars', { token: c.member.token }), 200);
    C.signal('SIGKILL');
    await C.exited;
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    await read('/avatars', c.member.token);
    const t0 = Date.now();
    expectStatus(assert, await api(W, 'PATCH', `/avatars/${a.id}`, { token: c.owner.token, body: { name: `${a.name} after` } }), 200);
    const took = Date.now() - t0;
    assert.ok(took < 4000, `the write took ${took} ms with a dead member`);
    assert.ok(names(await api(R, 'GET', '/avatars', { token: c.member.token })).includes(`${a.name} after`));
  });

  test('the cache is keyed by caller: two callers of one avatar never get each other\'s answer', async () => {
    const a = await createAvatar(W, c.owner.token, { visibility: 'org' });
    await share(W, c.owner.token, a.id, c.editor.id, 'editor');
    for (let i = 0; i < 2; i++) {
      assert.equal((await read(`/avatars/${a.id}`, c.owner.token)).json.access, 'owner');
      assert.equal((await read(`/avatars/${a.id}`, c.editor.token)).json.access, 'editor');
      assert.equal((await read(`/avatars/${a.id}`, c.member.token)).json.access, 'viewer');
      errorShape(assert, await read(`/avatars/${a.id}`, c.outsider.token), 404, 'not_found');
      assert.ok(!(await read('/avatars', c.outsider.token)).json.items.some((x) => x.id === a.id));
    }
    // Pages of other sizes are other answers; a malformed limit is refused, never served a cached page.
    const all = (await read('/avatars', c.owner.token)).json.items.length;
    assert.ok(all >= 2);
    assert.equal((await read('/avatars?limit=1', c.owner.token)).json.items.length, 1);
    assert.equal((await read('/avatars', c.owner.token)).json.items.length, all);
    errorShape(assert, await read('/avatars?limit=1x', c.owner.token), 400, 'invalid_input');
  });
});
