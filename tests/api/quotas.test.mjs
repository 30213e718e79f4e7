// Per-user quotas (--quota-storage bytes of media, --quota-memories memories, across the avatars a
// user owns): refused with 413 quota_exceeded on upload, on manual memories and in ingestion (the
// media fails, its memories are not stored); GET /auth/me shows quota {storage_bytes, storage_used,
// memories, memories_used}; one user's usage does not count against another's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  blobFiles,
  cast,
  createAvatar,
  errorShape,
  eventually,
  expectStatus,
  fixture,
  listAll,
  share,
  signup,
  startAvatars,
  uploadRaw,
  waitMedia,
} from './lib/avatars.mjs';

let srv;
let c;
before(async () => {
  srv = await startAvatars({ args: ['--quota-storage', '1500', '--quota-memories', '4'] });
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const me = async (token) => (await api(srv, 'GET', '/auth/me', { token })).json;
const image = (i) => Buffer.concat([fixture('sample.png'), Buffer.from(`${i}`.repeat(300 + i))]); // PNG with a tail

describe('quotas', () => {
  test('GET /auth/me shows the limits and the usage; 0 bytes and 0 memories at first', async () => {
    const u = await signup(srv);
    const m = await me(u.token);
    assert.deepEqual(m.quota, { storage_bytes: 1500, storage_used: 0, memories: 4, memories_used: 0 });
    assert.ok(m.id && m.email, 'the user fields are still there');
  });

  test('storage: an upload past the owner\'s quota → 413 quota_exceeded, nothing kept; others unaffected', async () => {
    const u = c.owner; // owner and editor share an organisation, so they can share avatars
    const other = c.editor;
    const av = await createAvatar(srv, u.token);
    const a = await uploadRaw(srv, u.token, av.id, image(1), 'a.png'); // 434 bytes
    expectStatus(assert, a, 202);
    const b = await uploadRaw(srv, u.token, av.id, image(2), 'b.png'); // 435
    expectStatus(assert, b, 202);
    const used = a.json.media.size + b.json.media.size;
    await eventually(async () => (await me(u.token)).quota.storage_used === used, { timeoutMs: 8000 });
    // 869 used: 700 more would pass 1500 (Content-Length known: refused before the body is read)
    const big = await uploadRaw(srv, u.token, av.id, Buffer.concat([fixture('sample.png'), Buffer.alloc(700, 7)]), 'c.png');
    errorShape(assert, big, 413, 'quota_exceeded');
    assert.match(big.json.error.message, /quota/);
    // a chunked body (no Content-Length) is refused at its end, and leaves nothing behind
    const chunked = await fetch(`${srv.url}/api/v1/avatars/${av.id}/media?filename=d.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/octet-stream' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(fixture('sample.png'));
          c.enqueue(Buffer.alloc(900, 9));
          c.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
    assert.equal((await chunked.json()).error.code, 'quota_exceeded');
    assert.equal((await listAll(srv, `/avatars/${av.id}/media`, u.token)).length, 2);
    // A refused chunked upload's temporary file goes once the request has ended (a moment after
    // the 413 is sent while the client still streams).
    for (let i = 0; i < 100 && blobFiles(srv).tmp.length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(blobFiles(srv).tmp, []);
    // An editor's upload counts against the avatar's owner.
    const shared = await createAvatar(srv, u.token);
    await share(srv, u.token, shared.id, other.id, 'editor');
    const ed = await uploadRaw(srv, other.token, shared.id, Buffer.concat([fixture('sample.png'), Buffer.alloc(700, 3)]), 'e.png');
    errorShape(assert, ed, 413, 'quota_exceeded');
    // The other user's own avatars have their own quota.
    const own = await createAvatar(srv, other.token);
    expectStatus(assert, await uploadRaw(srv, other.token, own.id, image(3), 'f.png'), 202);
    // Deleting media makes room.
    expectStatus(assert, await api(srv, 'DELETE', `/media/${a.json.media.id}`, { token: u.token }), 204);
    expectStatus(assert, await uploadRaw(srv, u.token, av.id, Buffer.concat([fixture('sample.png'), Buffer.alloc(700, 7)]), 'c.png'), 202);
  });

  test('memories: the one past the quota → 413 quota_exceeded; ingestion past it fails the media', async () => {
    const u = await signup(srv);
    const av = await createAvatar(srv, u.token);
    for (let i = 0; i < 4; i++)
      expectStatus(assert, await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: u.token, body: { text: `fact ${i}` } }), 201);
    const over = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: u.token, body: { text: 'one too many' } });
    errorShape(assert, over, 413, 'quota_exceeded');
    assert.equal((await listAll(srv, `/avatars/${av.id}/memories`, u.token)).length, 4);
    await eventually(async () => (await me(u.token)).quota.memories_used === 4, { timeoutMs: 8000 });
    // A text file would add passages: the media is kept but fails, with no memories.
    const up = await uploadRaw(srv, u.token, av.id, Buffer.from('A short note about the garden and the apple trees.\n'), 'note.txt');
    expectStatus(assert, up, 202);
    const m = await waitMedia(srv, u.token, up.json.media.id, (x) => ['ready', 'failed'].includes(x.status));
    assert.equal(m.status, 'failed', JSON.stringify(m));
    assert.match(m.status_detail, /memory quota/);
    assert.equal((await listAll(srv, `/avatars/${av.id}/memories`, u.token)).length, 4);
    // Room again after a delete.
    const first = (await listAll(srv, `/avatars/${av.id}/memories`, u.token))[0];
    expectStatus(assert, await api(srv, 'DELETE', `/avatars/${av.id}/memories/${first.id}`, { token: u.token }), 204);
    expectStatus(assert, await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: u.token, body: { text: 'fits again' } }), 201);
  });
});

describe('quota 0 = unlimited', () => {
  test('--quota-storage 0 --quota-memories 0', async () => {
    const s = await startAvatars({ args: ['--quota-storage', '0', '--quota-memories', '0'] });
    try {
      const u = await signup(s);
      const m = (await api(s, 'GET', '/auth/me', { token: u.token })).json;
      assert.deepEqual(m.quota, { storage_bytes: 0, storage_used: 0, memories: 0, memories_used: 0 });
      const av = await createAvatar(s, u.token);
      expectStatus(assert, await uploadRaw(s, u.token, av.id, Buffer.alloc(5000, 65), 'a.txt'), 202);
    } finally {
      await s.stop();
    }
  });
});

describe('search cost cap (--search-rate)', () => {
  test('a user\'s searches beyond the rate → 429 with Retry-After; plain listing and other users are not held back', async () => {
    const s = await startAvatars({ searchRate: 1 }); // 1 a second, bursts of 5
    try {
      const u = await signup(s);
      const v = await signup(s);
      const av = await createAvatar(s, u.token);
      const search = (token, q) => api(s, 'GET', `/avatars/${av.id}/memories?q=${q}`, { token });
      const codes = [];
      for (let i = 0; i < 8; i++) codes.push((await search(u.token, `apple${i}`)).status);
      assert.deepEqual(codes.slice(0, 5), [200, 200, 200, 200, 200], codes.join(' '));
      const limited = await search(u.token, 'pear');
      errorShape(assert, limited, 429, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      expectStatus(assert, await api(s, 'GET', `/avatars/${av.id}/memories`, { token: u.token }), 200, undefined, 'a list is not a search');
      // Another user's budget is their own.
      const vav = await createAvatar(s, v.token);
      expectStatus(assert, await api(s, 'GET', `/avatars/${vav.id}/memories?q=pear`, { token: v.token }), 200);
    } finally {
      await s.stop();
    }
  });
});
