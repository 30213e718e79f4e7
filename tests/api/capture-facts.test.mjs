// Facts from device conversations (--llm-extract) against the scripted chat server of
// tests/llm-server/: a transcribed conversation's utterances go to the model, and the people,
// places and plans it lists become fact memories of the user's self avatar, each citing the
// stretch of the conversation it was said in (the utterances sharing its words) and when; a
// reprocess adds nothing twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLlmServer } from '../llm-server/server.mjs';
import { api, signup, startAccounts } from './lib/accounts.mjs';
import { converse } from './lib/capture.mjs';
import { concat, say, silence, withNoise, words } from './lib/speech.mjs';

let llm, srv, alice;
const asked = []; // what the model was given to extract from

/* The scripted model: facts only when it was given the conversation (its transcript's words). */
function script(req) {
  const sys = req.messages[0].content;
  const user = req.messages.at(-1).content;
  if (sys.startsWith('You extract facts')) {
    asked.push(user);
    const heard = words(user);
    if (!heard.includes('lisbon') && !heard.includes('sister')) return { text: '{"facts": []}' };
    return { text: '{"facts": [{"text": "My sister Ana lives in Lisbon.", "importance": 0.8}, ' +
      '{"text": "I plan to visit Lisbon in May.", "importance": 0.6}]}' };
  }
  return { text: '{"action": "ADD"}' };
}

before(async () => {
  llm = await startLlmServer({ reply: script });
  srv = await startAccounts({ args: ['--capture-sync-ms', '20', '--capture-silence-close', '600', '--llm-provider', 'openai',
    '--llm-url', llm.url, '--llm-model', 'test-chat', '--llm-extract', 'true'] });
  alice = await signup(srv);
});
after(async () => {
  await srv?.cleanup();
  await llm?.close();
});

const get = async (p) => (await api(srv, 'GET', p, { token: alice.token })).json;

async function until(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a conversation's people, places and plans become cited facts of the self avatar", async () => {
  const pcm = withNoise(concat(silence(2000), say('my sister lives in lisbon'), silence(6000), say('i will visit her in may'), silence(800)), 60, 3);
  const id = await converse(srv, alice.token, 'pendant', pcm);

  const rec = await until('the facts', async () => {
    const r = await get(`/recordings/${id}`);
    return r.conversation.state === 'ready' && r.memories.some((m) => m.kind === 'fact') ? r : null;
  });
  const mediaId = rec.conversation.media_id;
  const jobs = await until('the extraction job', async () => {
    const j = (await get(`/jobs?media_id=${mediaId}&limit=10`)).items.filter((x) => x.kind === 'memory.extract');
    return j.length && j.every((x) => x.status === 'done') ? j : null;
  });
  assert.equal(jobs.length, 1);
  // The model read the conversation: its transcript, both sentences.
  const read = asked.find((u) => words(u).includes('lisbon'));
  assert.ok(read, `the transcript went to the model: ${JSON.stringify(asked)}`);
  assert.deepEqual(read.split('\n'), rec.memories.filter((m) => m.kind === 'utterance').map((m) => m.text), 'one utterance a line, in order');

  const utterances = rec.memories.filter((m) => m.kind === 'utterance');
  const facts = (await get(`/avatars/${rec.conversation.avatar_id}/memories?limit=100`)).items.filter((m) => m.kind === 'fact');
  assert.deepEqual(facts.map((f) => f.text).sort(), ['I plan to visit Lisbon in May.', 'My sister Ana lives in Lisbon.']);
  // Each fact cites the utterances that share its words (all the model read when none does),
  // from the first one's start to the last one's end, said when the first of them was.
  const KEYS = { 'My sister Ana lives in Lisbon.': ['sister', 'lives', 'live', 'lisbon'],
    'I plan to visit Lisbon in May.': ['plan', 'visit', 'lisbon'] };
  for (const f of facts) {
    assert.equal(f.source.media_id, mediaId, 'the fact cites the conversation');
    const sharing = utterances.filter((u) => words(u.text).some((w) => KEYS[f.text].includes(w)));
    const from = sharing.length ? sharing : utterances;
    assert.equal(f.source.start_ms, from[0].source.start_ms, `${f.text}: from the first utterance it came from`);
    if (sharing.length <= 1) assert.equal(f.source.end_ms, from.at(-1).source.end_ms, `${f.text}: to the last`);
    assert.equal(f.occurred_at, from[0].occurred_at, 'said when that utterance was');
  }
  // GET /recordings/{id} lists them beside the utterances.
  const shown = await get(`/recordings/${id}`);
  assert.deepEqual(shown.memories.filter((m) => m.kind === 'fact').map((m) => m.id).sort(), facts.map((f) => f.id).sort());

  // Reprocessing transcribes again and extracts again: the same facts are not added twice.
  const r = await api(srv, 'POST', `/recordings/${id}/reprocess`, { token: alice.token });
  assert.equal(r.status, 202);
  await until('the second extraction', async () => {
    const j = (await get(`/jobs?media_id=${mediaId}&limit=10`)).items.filter((x) => x.kind === 'memory.extract');
    return j.length === 2 && j.every((x) => x.status === 'done');
  });
  const again = (await get(`/avatars/${rec.conversation.avatar_id}/memories?limit=100`)).items.filter((m) => m.kind === 'fact');
  assert.deepEqual(again.map((f) => f.id).sort(), facts.map((f) => f.id).sort());
});
