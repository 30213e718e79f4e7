// Fault injection over the write paths (POST /api/v1/_test/fault, --test-routes only): the Nth
// database write (INSERT, UPDATE, DELETE, COMMIT), blob write or cache write fails, for every N a
// path makes. Each failure must be a clean error — the JSON error shape, nothing acknowledged that
// was not stored — and leave no partial state: a memory exists exactly when its write was
// acknowledged; every media settles (ready or failed, or waits for its retried job) with its
// memories made once; no blob file without a row, no temp file left.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, blobFiles, cast, createAvatar, listAll, request, sleep, startAvatars } from './lib/avatars.mjs';

let srv, c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
});

/* Arms site to fail its nth write from now on (0 disarms); resolves what the previous arming counted. */
async function arm(site, nth) {
  const r = await api(srv, 'POST', '/_test/fault', { body: { site, nth } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/* A failure answer: the error shape, a server-side status, no id of anything. */
function assertCleanError(r, what) {
  assert.ok(r.status >= 500 && r.status < 600, `${what}: expected a clean 5xx, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(typeof r.json?.error?.code, 'string', `${what}: the error shape`);
  assert.ok(!r.json?.id && !r.json?.media, `${what}: an error acknowledges nothing`);
}

describe('faults: a memory write', () => {
  test('each failing database write is a clean error; exactly the acknowledged memories exist', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const acked = [];
    let walked = 0;
    for (let n = 1; n <= 30; n++) {
      await arm('db', n);
      const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, {
        token: c.owner.token,
        body: { text: `The lighthouse keeper number ${n} kept a log of every ship.` },
      });
      const { fired } = await arm('db', 0);
      if (r.status === 201) acked.push(r.json.id);
      else assertCleanError(r, `write ${n} failing`);
      if (!fired) {
        assert.equal(r.status, 201, 'with no fault the write succeeds');
        walked = n - 1;
        break;
      }
    }
    assert.ok(walked >= 1, `the path makes a write (${walked})`);
    const listed = (await listAll(srv, `/avatars/${av.id}/memories`, c.owner.token)).map((m) => m.id).sort();
    assert.deepEqual(listed, [...acked].sort(), 'no memory from a failed write, none lost from an acknowledged one');
    const found = await api(srv, 'GET', `/avatars/${av.id}/memories?q=lighthouse`, { token: c.owner.token });
    assert.equal(found.status, 200);
    assert.equal(found.json.items.length, Math.min(acked.length, 50), 'search sees exactly those');
  });
});

/* Waits until every media of the avatar has settled (ready or failed); a media whose job failed
 * waits for its retry (the job's backoff), so this may take a few seconds. */
async function settled(av, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const items = await listAll(srv, `/avatars/${av.id}/media`, c.owner.token);
    const open = items.filter((m) => m.status !== 'ready' && m.status !== 'failed');
    if (!open.length) return items;
    if (Date.now() > end) throw new Error(`media not settled: ${JSON.stringify(open.map((m) => [m.filename, m.status]))}`);
    await sleep(200);
  }
}

for (const site of ['db', 'blob']) {
  describe(`faults: an upload and its ingestion, ${site} writes`, () => {
    test('each failure is a clean error or a job retried; every media settles whole; no stray blob', async () => {
      const av = await createAvatar(srv, c.owner.token);
      const acked = new Map(); // media id → its text
      let walked = 0;
      for (let n = 1; n <= 40; n++) {
        await arm(site, n);
        const text = `Upload ${site} ${n}: the harbour froze in the winter of the great storm.\n`;
        const r = await request(srv, 'POST', `/avatars/${av.id}/media?filename=${site}-${n}.txt`, {
          token: c.owner.token,
          headers: { 'content-type': 'text/plain' },
          body: text,
        });
        if (r.status === 202) acked.set(r.json.media.id, text);
        else assertCleanError(r, `${site} write ${n} failing`);
        await settled(av); // the Nth write may be the ingestion job's
        const { fired } = await arm(site, 0);
        if (!fired) {
          assert.equal(r.status, 202, 'with no fault the upload is accepted');
          walked = n - 1;
          break;
        }
      }
      assert.ok(walked >= 1, `the path makes writes at ${site} (${walked})`);
      const media = await settled(av);
      assert.deepEqual(media.map((m) => m.id).sort(), [...acked.keys()].sort(), 'exactly the acknowledged uploads');
      for (const m of media) {
        const mem = await listAll(srv, `/avatars/${av.id}/memories`, c.owner.token);
        const mine = mem.filter((x) => x.source?.media_id === m.id || x.media_id === m.id);
        if (m.status === 'ready') assert.ok(mine.length >= 1, `${m.filename}: ready with its memories`);
        assert.ok(mine.length <= 1, `${m.filename}: its passage stored once, not once per attempt (${mine.length})`);
      }
      const files = blobFiles(srv);
      assert.deepEqual(files.tmp, [], 'no temp file left');
      const keys = new Set();
      for (const a of await listAll(srv, '/avatars', c.owner.token))
        for (const m of await listAll(srv, `/avatars/${a.id}/media`, c.owner.token)) keys.add(m.sha256);
      for (const f of files.blobs) {
        const key = f.replace(/\//g, '').slice(-64);
        if (!keys.has(key)) {
          // a derived file (a thumbnail) belongs to its media; text uploads make none
          assert.fail(`a blob no media refers to: ${f}`);
        }
      }
    });
  });
}

describe('faults: cache writes', () => {
  test('a failing cache write never fails a request: the cache is a copy', async () => {
    const av = await createAvatar(srv, c.owner.token);
    for (let n = 1; n <= 3; n++) {
      await arm('cache', n);
      const r = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
      await arm('cache', 0);
      assert.equal(r.status, 200, `cache write ${n} failing: ${r.text.slice(0, 200)}`);
      assert.equal(r.json.id, av.id);
    }
  });
});
