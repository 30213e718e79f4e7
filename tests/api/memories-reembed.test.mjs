// A change of embedding model: vectors remember the model that made them, a search compares only
// vectors of the configured model (never an old one, even of the same length), and at start the
// memory.reembed job makes the missing vectors for every avatar with its progress — here against the
// deterministic embedder of tests/embed-server/, whose vectors are the same whatever the model name,
// so that a search mixing models would find what only the old vectors hold.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmbedServer } from '../embed-server/server.mjs';
import { api, BACKEND, cast, createAvatar, eventually, expectStatus, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';

const FACTS = [
  'My father taught me to fish on the lake every summer',
  'We kept a puppy called Biscuit who chewed every shoe in the hall',
  'I worked as a nurse at the county hospital for thirty years',
];
let embedder, first, second, c, shared;

const embedArgs = (model) => ['--embed-provider', 'openai', '--embed-url', embedder.url, '--embed-model', model, '--search-vector-min-similarity', '15'];
const search = async (s, token, av, q) => {
  const r = await api(s, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent(q)}&limit=10`, { token });
  expectStatus(assert, r, 200);
  return r.json.items;
};

before(async () => {
  embedder = await startEmbedServer({ dims: 256, models: ['hash-a', 'hash-b'] });
});
after(async () => {
  await second?.stop();
  await first?.stop();
  await embedder?.close();
});

describe('changing the embedding model', () => {
  test('old vectors are never compared; memory.reembed makes new ones for every avatar, with progress', async () => {
    first = await startAvatars({ args: embedArgs('hash-a') });
    shared = { databaseUrl: first.databaseUrl, redisUrl: first.redisUrl };
    c = await cast(first);
    const avs = [await createAvatar(first, c.owner.token), await createAvatar(first, c.editor.token)];
    const ids = [];
    for (const av of avs)
      for (const text of FACTS) {
        const r = await api(first, 'POST', `/avatars/${av.id}/memories`, { token: av === avs[0] ? c.owner.token : c.editor.token, body: { text } });
        expectStatus(assert, r, 201);
        if (av === avs[0]) ids.push(r.json.id);
      }
    assert.equal((await search(first, c.owner.token, avs[0], 'zorblat'))[0]?.id, ids[1], 'found by its hash-a vector');
    // The same data, the model changed; the new model's batches fail for now (one text, a query, passes).
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0);
    embedder.failIf(({ model, inputs }) => (model === 'hash-b' && inputs.length > 1 ? 500 : null));
    const opts = { dataDir: first.dataDir, args: embedArgs('hash-b'), logLevel: 'info' };
    if (BACKEND === 'postgres') Object.assign(opts, { backend: 'sqlite', redisUrl: shared.redisUrl, args: [...opts.args, '--database-url', shared.databaseUrl] });
    second = await startAvatars(opts);
    first = null; // its data directory is the second's now
    assert.deepEqual(await search(second, c.owner.token, avs[0], 'zorblat'), [], 'hash-a vectors are not compared with a hash-b query');
    assert.equal((await search(second, c.owner.token, avs[0], 'county hospital'))[0]?.id, ids[2], 'text search still finds it');
    const jobs = async () => (await api(second, 'GET', '/jobs?limit=200', { token: c.admin.token })).json.items.filter((j) => j.kind === 'memory.reembed');
    const [job] = await jobs();
    assert.ok(job, 'queued at start');
    assert.notEqual(job.status, 'done');
    assert.match(second.stderr(), /memories without a vector of model hash-b: job memory.reembed/);
    embedder.failIf(null);
    assert.ok(await eventually(async () => (await jobs()).some((j) => j.id === job.id && j.status === 'done'), { timeoutMs: scaled(30000) }), 'the job ends');
    const done = (await jobs()).find((j) => j.id === job.id);
    assert.equal(done.progress, 100);
    assert.equal((await search(second, c.owner.token, avs[0], 'zorblat'))[0]?.id, ids[1], 'found by its hash-b vector');
    assert.ok((await search(second, c.editor.token, avs[1], 'zorblat')).length > 0, 'the other avatar too');
    for (const t of FACTS) assert.ok(embedder.requests.some((r) => r.model === 'hash-b' && r.inputs.includes(t)), t);
    // The embedding provider is one of the providers admin stats show: its circuit, calls, failures.
    const stats = await api(second, 'GET', '/admin/stats', { token: c.admin.token });
    const p = stats.json.providers['embed:openai'];
    assert.equal(p.circuit, 'closed');
    assert.ok(p.calls >= 3 && p.failures >= 1, JSON.stringify(p));
  });

  test('a restart with the same model queues nothing', async () => {
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0);
    const n0 = embedder.requests.length;
    const opts = { dataDir: second.dataDir, args: embedArgs('hash-b'), logLevel: 'info' };
    if (BACKEND === 'postgres') Object.assign(opts, { backend: 'sqlite', redisUrl: shared.redisUrl, args: [...opts.args, '--database-url', shared.databaseUrl] });
    const third = await startAvatars(opts);
    second = third;
    const r = await api(third, 'GET', '/jobs?limit=200', { token: c.admin.token });
    assert.equal(r.json.items.filter((j) => j.kind === 'memory.reembed').length, 1, 'only the first one');
    assert.doesNotMatch(third.stderr(), /job memory.reembed/);
    assert.equal(embedder.requests.length, n0);
  });
});
