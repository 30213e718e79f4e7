// Hybrid memory search: with an embedding provider configured (here the deterministic
// OpenAI-compatible test server of tests/embed-server/), memories get vectors, searches fuse the
// text ranking with an exact vector scan (reciprocal rank fusion), and a provider that fails
// never loses a memory or breaks a search. The same searches on a server without a provider
// are the control: what only the vectors can find is not found there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmbedServer } from '../embed-server/server.mjs';
import { api, cast, createAvatar, eventually, expectStatus, startAvatars } from './lib/avatars.mjs';

const KEY = 'sk-test-embeddings';
let embedder, srv, plain, c, cp;

before(async () => {
  embedder = await startEmbedServer({ dims: 256, key: KEY, models: ['test-hash'] });
  srv = await startAvatars({
    args: ['--embed-provider', 'openai', '--embed-url', embedder.url, '--embed-model', 'test-hash', '--embed-api-key', KEY,
      // The test embedder's cosines run lower than a real model's (few words, hashed): calibrated for it.
      '--search-vector-min-similarity', '15'],
  });
  plain = await startAvatars();
  c = await cast(srv);
  cp = await cast(plain);
});
after(async () => {
  await srv?.stop();
  await plain?.stop();
  await embedder?.close();
});

const add = async (s, token, av, text, extra = {}) => {
  const r = await api(s, 'POST', `/avatars/${av.id}/memories`, { token, body: { text, ...extra } });
  expectStatus(assert, r, 201);
  return r.json;
};
const search = async (s, token, av, q) => {
  const r = await api(s, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent(q)}&limit=10`, { token });
  expectStatus(assert, r, 200, undefined, `search ${q}`);
  return r.json.items;
};

const FACTS = [
  'My father taught me to fish on the lake every summer',
  'We kept a puppy called Biscuit who chewed every shoe in the hall',
  'I worked as a nurse at the county hospital for thirty years',
  'Our house had a red door and a pear tree in the garden',
  'In winter the lake froze and we skated until dark',
];

describe('hybrid memory search', () => {
  test('a paraphrase with no word in common finds the memory through its vector; the text-only server finds nothing for a word no dictionary relates', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const ids = [];
    for (const t of FACTS) ids.push((await add(srv, c.owner.token, av, t)).id);
    const dad = await search(srv, c.owner.token, av, 'dad');
    assert.equal(dad[0]?.id, ids[0], 'father ≈ dad');
    const dog = await search(srv, c.owner.token, av, 'doggy');
    assert.equal(dog[0]?.id, ids[1], 'puppy ≈ doggy');
    const job = await search(srv, c.owner.token, av, 'what was your profession');
    assert.equal(job[0]?.id, ids[2], 'worked ≈ profession');

    const odd = await search(srv, c.owner.token, av, 'zorblat');
    assert.equal(odd[0]?.id, ids[1], 'Biscuit ≈ zorblat (a relation only the embedder knows)');

    // Without vectors, words meet only through WordNet (dad ~ father does: see memory-words), which
    // does not know that word: text alone finds nothing.
    const pav = await createAvatar(plain, cp.owner.token);
    for (const t of FACTS) await add(plain, cp.owner.token, pav, t);
    assert.deepEqual(await search(plain, cp.owner.token, pav, 'zorblat'), [], 'no vectors: no match');
  });

  test('exact words still lead: the memory holding the query words ranks first; scores never increase', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const lake = await add(srv, c.owner.token, av, 'The lake froze hard in the winter of 1963');
    await add(srv, c.owner.token, av, 'Dad loved the sea more than anything');
    await add(srv, c.owner.token, av, 'My father fixed clocks in his shed');
    const items = await search(srv, c.owner.token, av, 'lake froze winter');
    assert.equal(items[0].id, lake.id);
    for (let i = 1; i < items.length; i++) assert.ok(items[i].score <= items[i - 1].score, 'scores non-increasing');
    assert.ok(items.every((m) => typeof m.highlight === 'string'));
    assert.match(items[0].highlight, /«lake»/);
  });

  test('the provider gets the configured model and bearer key, and whole memory texts', async () => {
    const seen = embedder.requests.find((r) => r.inputs.includes(FACTS[3]));
    assert.ok(seen, 'the memory text was sent');
    assert.equal(seen.model, 'test-hash');
    assert.equal(seen.auth, `Bearer ${KEY}`);
  });

  test('a failing provider: the memory is stored (201), search falls back to text; the vector follows once it recovers', async () => {
    const av = await createAvatar(srv, c.owner.token);
    embedder.fail(500);
    let m;
    try {
      m = await add(srv, c.owner.token, av, 'Grandma baked bread every Sunday morning');
      const items = await search(srv, c.owner.token, av, 'bread');
      assert.deepEqual(items.map((x) => x.id), [m.id], 'text search still works');
    } finally {
      embedder.fail(null);
    }
    // The memory.embed job (queued when the vector could not be made) fills it in: then the
    // paraphrase finds it.
    const found = await eventually(async () => (await search(srv, c.owner.token, av, 'granny'))[0]?.id === m.id, {
      timeoutMs: 40000,
      intervalMs: 500,
    });
    assert.ok(found, 'the vector was made after the provider recovered');
  });

  test('an edit re-embeds: the old meaning is no longer found by paraphrase, the new one is', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const m = await add(srv, c.owner.token, av, 'My mother sang in the church choir');
    assert.equal((await search(srv, c.owner.token, av, 'mum'))[0]?.id, m.id);
    const r = await api(srv, 'PATCH', `/avatars/${av.id}/memories/${m.id}`, {
      token: c.owner.token,
      body: { text: 'Our old automobile broke down on every hill' },
    });
    expectStatus(assert, r, 200);
    assert.equal((await search(srv, c.owner.token, av, 'truck'))[0]?.id, m.id, 'car ≈ truck after the edit');
    assert.deepEqual(await search(srv, c.owner.token, av, 'mum'), [], 'the old meaning is gone');
  });

  test("vectors never cross avatars: another avatar's memories are not found by paraphrase", async () => {
    const a = await createAvatar(srv, c.owner.token);
    const b = await createAvatar(srv, c.owner.token);
    await add(srv, c.owner.token, a, 'The ocean was grey the day we left');
    assert.deepEqual(await search(srv, c.owner.token, b, 'sea'), []);
    const r = await api(srv, 'GET', `/avatars/${a.id}/memories?q=sea`, { token: c.viewer.token });
    expectStatus(assert, r, 404, undefined, 'a private avatar without a share is not there');
  });

  test('bad provider settings stop the server at start with a clear message', async () => {
    await assert.rejects(
      startAvatars({ args: ['--embed-provider', 'magic'] }),
      (e) => /embed-provider must be none or openai/.test(e.message),
    );
  });
});
