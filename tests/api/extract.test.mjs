// LLM memory extraction (--llm-extract) against the scripted chat server of tests/llm-server/: an
// ingested text's facts become fact memories — the model's broken JSON (a code fence, trailing
// commas) repaired; a fact a memory already holds left alone; one that completes a similar memory
// makes a new version of it (the old text kept); a proposed DELETE never carried out — and a second
// run of the same text changes nothing. An uploaded recording's transcript goes the same way, each
// fact citing the span of the utterances it shares its words with.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, createAvatar, eventually, expectStatus, uploadOk, waitJob } from './lib/avatars.mjs';
import { factsOf, startExtracting } from './lib/extract.mjs';
import { concat, say, silence, wav, words } from './lib/speech.mjs';

let llm, srv, c;
const TEXT = 'I was born in Leeds in 1941. I worked as a nurse at the county hospital for thirty years. ' +
  'Every summer we rowed across the lake to the island cabin.\n';

/* The scripted model: an extraction answer in a code fence with trailing commas; decisions by the fact. */
function script(req) {
  const sys = req.messages[0].content;
  const user = req.messages.at(-1).content;
  if (sys.startsWith('You extract facts') && !user.includes('Leeds')) // the recording's transcript, however heard
    return { text: '{"facts": [{"text": "I grew roses in my garden.", "importance": 0.6}]}' };
  if (sys.startsWith('You extract facts'))
    return { text: 'Here are the facts:\n```json\n{"facts": [\n {"text": "I was born in Leeds in 1941.", "importance": 0.9},\n' +
      ' {"text": "I worked as a nurse for thirty years.", "importance": 0.7},\n {"text": "We rowed to the island cabin every summer.",},\n]}\n```' };
  if (/New fact: I worked as a nurse/.test(user))
    return { text: '{"action": "UPDATE", "text": "I worked as a nurse at the county hospital for thirty years."}' };
  if (/New fact: We rowed/.test(user)) return { text: '{"action": "DELETE"}' };
  return { text: '{"action": "ADD"}' };
}

let env;
before(async () => {
  env = await startExtracting(script);
  ({ llm, srv, c } = env);
});
after(async () => env?.stop());

const facts = (av) => factsOf(srv, c.owner.token, av);

async function ingest(av, name, query = '') {
  const up = await uploadOk(srv, c.owner.token, av.id, Buffer.from(TEXT), name, { query });
  assert.equal((await waitJob(srv, c.owner.token, up.job.id)).status, 'done');
  const job = await eventually(async () => {
    const r = await api(srv, 'GET', `/jobs?media_id=${up.media.id}&limit=10`, { token: c.owner.token });
    return r.json.items.find((j) => j.kind === 'memory.extract');
  });
  assert.ok(job, 'ingestion queued the extraction');
  const done = await waitJob(srv, c.owner.token, job.id);
  assert.equal(done.status, 'done', JSON.stringify(done));
  return up.media;
}

describe('LLM memory extraction', () => {
  test('facts added, a known one left, a similar one updated as a new version, a DELETE not carried out; a second run changes nothing', async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Margaret' });
    const add = async (text) => {
      const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text, kind: 'fact' } });
      expectStatus(assert, r, 201);
      return r.json;
    };
    const nurse = await add('I worked as a nurse.');
    const lake = await add('We rowed to the island cabin every summer.');
    await ingest(av, 'memoir.txt');
    let f = await facts(av);
    const texts = f.map((m) => m.text).sort();
    assert.deepEqual(texts, ['I was born in Leeds in 1941.', 'I worked as a nurse at the county hospital for thirty years.',
      'We rowed to the island cabin every summer.']);
    const updated = f.find((m) => m.id === nurse.id);
    assert.equal(updated.text, 'I worked as a nurse at the county hospital for thirty years.');
    assert.equal(updated.version, 2);
    const v = await api(srv, 'GET', `/avatars/${av.id}/memories/${nurse.id}/versions`, { token: c.owner.token });
    expectStatus(assert, v, 200);
    assert.equal(v.json.items[0].text, 'I worked as a nurse.', 'the old text is kept');
    assert.ok(f.some((m) => m.id === lake.id), 'the DELETE the model proposed was not carried out');
    const born = f.find((m) => m.text.startsWith('I was born'));
    assert.equal(born.importance, 0.9);
    // The model saw the text and was asked in the avatar's name.
    const ex = llm.requests.find((r) => r.messages[0].content.startsWith('You extract facts'));
    assert.match(ex.messages[0].content, /Margaret/);
    assert.ok(ex.messages[1].content.includes('born in Leeds'));
    // The same text again (stored as a copy): nothing new, nothing changed.
    await ingest(av, 'memoir-copy.txt', 'duplicate=copy');
    f = await facts(av);
    assert.equal(f.length, 3);
    assert.equal(f.find((m) => m.id === nurse.id).version, 2);
  });

  test("an uploaded recording's transcript: its facts cite the recording and the span they were read from", async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Rosa' });
    const pcm = concat(silence(500), say('i grew roses in my garden'), silence(1500), say('every morning in summer'), silence(500));
    const up = await uploadOk(srv, c.owner.token, av.id, wav(pcm), 'garden.wav');
    assert.equal((await waitJob(srv, c.owner.token, up.job.id, 60000)).status, 'done');
    const job = await eventually(async () => {
      const r = await api(srv, 'GET', `/jobs?media_id=${up.media.id}&limit=10`, { token: c.owner.token });
      return r.json.items.find((j) => j.kind === 'memory.extract');
    });
    assert.ok(job, 'the transcription queued the extraction');
    assert.equal((await waitJob(srv, c.owner.token, job.id)).status, 'done');
    const r = await api(srv, 'GET', `/avatars/${av.id}/memories?limit=200`, { token: c.owner.token });
    const utterances = r.json.items.filter((m) => m.kind === 'utterance' && m.source?.media_id === up.media.id)
      .sort((a, b) => a.source.start_ms - b.source.start_ms);
    assert.ok(utterances.length >= 1, 'the recording was transcribed');
    const read = llm.requests.filter((q) => q.messages[0].content.startsWith('You extract facts'))
      .map((q) => q.messages.at(-1).content).find((u) => !u.includes('Leeds'));
    assert.deepEqual(read.split('\n'), utterances.map((m) => m.text), 'the transcript went to the model, one utterance a line');
    const f = r.json.items.filter((m) => m.kind === 'fact');
    assert.deepEqual(f.map((m) => m.text), ['I grew roses in my garden.']);
    assert.equal(f[0].source.media_id, up.media.id, 'the fact cites the recording');
    // It cites the utterances that share its words (all of them when none does: however it was heard).
    const sharing = utterances.filter((u) => words(u.text).some((w) => ['grew', 'roses', 'rose', 'garden'].includes(w)));
    const cited = sharing.length ? sharing : utterances;
    assert.equal(f[0].source.start_ms, cited[0].source.start_ms, 'from the first utterance it came from');
    assert.equal(f[0].source.end_ms, cited.at(-1).source.end_ms, 'to the last');
  });
});
