// Memory search right after a write, and across a restart, through the in-memory index of a large
// avatar (over 5,000 memories: its index is saved in <data-dir>/search-index/ and read back at the
// next start): a memory written is found by the next search, after an edit its old words are not,
// after a delete it is gone, several times over (each overlay made from the one before it); after a
// restart with memories written while the server was stopped (by the CLI), the saved index is read
// back and caught up with them before it answers, its words keyed by WordNet's saved tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binPath } from './lib/server.mjs';
import { BACKEND, FAST_ARGON, api, expectStatus, signup, startAccounts } from './lib/accounts.mjs';

const LARGE = 5100; // over the size whose index is built in the background and saved
const SCALE = Number(process.env.DOPPEL_TEST_TIME_SCALE || 1);
const WORDS = ['river', 'garden', 'harbour', 'orchard', 'meadow', 'bakery', 'lantern', 'violin', 'cellar', 'chapel'];

async function search(s, token, avatar, q) {
  const r = await api(s, 'GET', `/avatars/${avatar}/memories?q=${encodeURIComponent(q)}&limit=10`, { token });
  expectStatus(assert, r, 200);
  return r.json.items.map((m) => m.text);
}

test('a large avatar: written, edited and deleted memories show in the very next search; a restart reads the saved index and catches up with writes made while it was stopped', async () => {
  let first = await startAccounts({ logLevel: 'info' });
  let second = null;
  try {
    const { token } = await signup(first);
    const av = (await api(first, 'POST', '/avatars', { token, body: { name: 'Large' } })).json;
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < LARGE) {
        const i = next++;
        const text = `Memory ${i}: the ${WORDS[i % 10]} by the ${WORDS[(i * 7 + 3) % 10]} in spring`;
        expectStatus(assert, await api(first, 'POST', `/avatars/${av.id}/memories`, { token, body: { text } }), 201);
      }
    }));
    // Its first searches send it to the background builder (the engines answer meanwhile), which
    // saves the index it builds.
    const saved = path.join(first.dataDir, 'search-index', `${av.id}.tix`);
    for (const end = Date.now() + 60000 * SCALE; !fs.existsSync(saved) && Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
      assert.equal((await search(first, token, av.id, 'orchard meadow')).length, 10);
    assert.ok(fs.existsSync(saved), 'the builder saved the index of the large avatar');

    for (let round = 0; round < 3; round++) {
      const [a, b] = [`quokka${round}`, `wombat${round}`];
      const made = await api(first, 'POST', `/avatars/${av.id}/memories`, { token, body: { text: `A ${a} in the garden` } });
      expectStatus(assert, made, 201);
      assert.deepEqual(await search(first, token, av.id, a), [`A ${a} in the garden`], 'found by the next search');
      const edited = await api(first, 'PATCH', `/avatars/${av.id}/memories/${made.json.id}`, { token, body: { text: `A ${b} in the cellar` } });
      expectStatus(assert, edited, 200);
      assert.deepEqual(await search(first, token, av.id, a), [], 'the old words are gone after the edit');
      assert.deepEqual(await search(first, token, av.id, b), [`A ${b} in the cellar`]);
      if (round < 2) {
        expectStatus(assert, await api(first, 'DELETE', `/avatars/${av.id}/memories/${made.json.id}`, { token }), 204);
        assert.deepEqual(await search(first, token, av.id, b), [], 'gone after the delete');
      }
    }

    // Stopped; another process (the CLI) writes memories meanwhile.
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-fresh-')), 'axolotl.txt');
    fs.writeFileSync(file, 'The axolotl lived in the cellar of the old chapel with two geese.\n');
    const db = first.databaseUrl ? ['--database-url', first.databaseUrl] : [];
    const ing = spawnSync(path.resolve(binPath()), ['ingest', av.id, file, '--data-dir', first.dataDir, ...db, ...FAST_ARGON],
      { encoding: 'utf8', timeout: 60000 * SCALE });
    assert.equal(ing.status, 0, ing.stderr);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });

    const opts = { dataDir: first.dataDir, logLevel: 'info' };
    if (BACKEND === 'postgres') Object.assign(opts, { backend: 'sqlite', redisUrl: first.redisUrl, args: ['--database-url', first.databaseUrl] });
    second = await startAccounts(opts);
    first = null; // its data directory is the second's now
    const found = await search(second, token, av.id, 'axolotl');
    assert.equal(found.length, 1, 'the memory the CLI wrote while the server was stopped is found at once');
    assert.match(found[0], /axolotl/);
    // WordNet's tables, saved by the first server, mapped back: an irregular form meets its lemma.
    assert.ok(fs.existsSync(path.join(second.dataDir, 'search-index', 'wordnet.cache')));
    assert.deepEqual(await search(second, token, av.id, 'goose'), found);
    assert.deepEqual(await search(second, token, av.id, 'wombat2'), ['A wombat2 in the cellar']);
    assert.deepEqual(await search(second, token, av.id, 'wombat1'), [], 'a memory deleted before the restart stays gone');
    assert.equal((await search(second, token, av.id, 'orchard meadow')).length, 10);
    assert.match(second.stderr(), /read 1 saved search indexes/, 'the saved index was read back, not built again');
    assert.ok(fs.existsSync(saved));
  } finally {
    if (first) await first.stop();
    if (second) await second.stop();
  }
});
