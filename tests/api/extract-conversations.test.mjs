// LLM memory extraction from conversations with an avatar (--llm-extract) against the scripted chat
// server of tests/llm-server/: what the avatar's owner says becomes fact memories naming the
// messages it came from (those of the turns read that share its words) — once the conversation has been quiet for --llm-extract-idle, or at once
// after --llm-extract-turns new turns; no turn is read twice (a high-water mark per conversation);
// the avatar's own replies and other people's words are never read. The same pass gives evidence of
// the person's personality, blended into the profile beside the heuristic score.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, cast, createAvatar, eventually, expectStatus, share, sleep, startAvatars, startConversation } from './lib/avatars.mjs';
import { extractArgs, factsOf, startExtracting } from './lib/extract.mjs';

const IDLE_S = 2, TURNS = 3;
let llm, srv, c;
const asked = []; // what the model was given to extract from

/* The scripted model: one fact for each line it recognises; the decision step adds. */
const KNOWN = { porto: 'I grew up in Porto.', biscuit: 'My dog is called Biscuit.', violin: 'I play the violin.',
  chess: 'I play chess on Sundays.', garden: 'I keep a vegetable garden.', rex: 'I had a dog named Rex.' };
function script(req) {
  const sys = req.messages[0].content;
  const user = req.messages.at(-1).content;
  if (sys.startsWith('You extract facts')) {
    asked.push(user);
    const facts = Object.entries(KNOWN).filter(([k]) => user.toLowerCase().includes(k)).map(([, text]) => ({ text, importance: 0.6 }));
    // Trait evidence: laughter is humour; an unknown trait and a score out of range are dropped.
    const traits = /haha/i.test(user) ? [{ trait: 'humour', score: 0.9, evidence: 'Haha, that dog!' },
      { trait: 'malice', score: 0.5, evidence: 'x' }, { trait: 'warmth', score: 7, evidence: 'y' }] : [];
    // In a code fence with a trailing comma, as local models write it: repaired.
    return { text: 'Here you go:\n```json\n' + JSON.stringify({ facts, traits }).replace(/\]\}$/, ',]}') + '\n```' };
  }
  if (/New fact: I had a dog named Rex/.test(user)) return { text: '{"action": "UPDATE", "text": "I had a dog named Rex."}' };
  return { text: '{"action": "ADD"}' };
}

let env;
before(async () => {
  env = await startExtracting(script, ['--llm-extract-idle', String(IDLE_S), '--llm-extract-turns', String(TURNS)]);
  ({ llm, srv, c } = env);
});
after(async () => env?.stop());

const facts = (av) => factsOf(srv, c.owner.token, av);
const extractJobs = async (av, token = c.owner.token) => {
  const r = await api(srv, 'GET', `/jobs?avatar_id=${av.id}&limit=50`, { token });
  expectStatus(assert, r, 200);
  return r.json.items.filter((j) => j.kind === 'conversation.extract');
};
/* Says text in conversation conv as token's user; the user's message id and the reply. */
async function say(conv, text, token = c.owner.token) {
  const r = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { token, body: { text } });
  expectStatus(assert, r, 201);
  const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages?order=desc&limit=2`, { token });
  const mine = h.json.items.find((m) => m.role === 'user');
  assert.equal(mine.text, text);
  return { id: mine.id, created_at: mine.created_at, reply: r.json.message };
}
/* Waits until every conversation.extract job of av is done and there are n of them done. */
const settled = (av, n) => eventually(async () => {
  const j = await extractJobs(av);
  return j.filter((x) => x.status === 'done').length >= n && j.every((x) => x.status === 'done') ? j : null;
}, 20000);

describe('LLM memory extraction from conversations', () => {
  test("a self avatar's conversation, once quiet: the owner's words become facts citing their messages, read once", async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Ines', kind: 'self' });
    const conv = await startConversation(srv, c.owner.token, av);
    const a = await say(conv, 'I grew up in Porto, by the river.');
    const b = await say(conv, 'My dog is called Biscuit.');
    const queued = await extractJobs(av);
    assert.equal(queued.length, 1, 'one job waits for the conversation, however many turns');
    assert.ok(Date.parse(queued[0].run_at) - Date.parse(queued[0].created_at) >= IDLE_S * 1000 - 50, 'it waits for quiet');
    await settled(av, 1);
    const f = await facts(av);
    assert.deepEqual(f.map((m) => m.text).sort(), ['I grew up in Porto.', 'My dog is called Biscuit.']);
    // Each fact cites the message it shares its words with, and was said when that one was.
    for (const [m, from] of [[f.find((x) => /Porto/.test(x.text)), a], [f.find((x) => /Biscuit/.test(x.text)), b]]) {
      assert.deepEqual(m.messages, { conversation_id: conv.conversation.id, message_ids: [from.id] });
      assert.equal(m.source, null);
      assert.equal(m.occurred_at, from.created_at);
    }
    const read = asked.filter((u) => u.includes('Porto'));
    assert.equal(read.length, 1, 'the turns were read once');
    assert.match(read[0], /"I" is Ines/);
    assert.ok(read[0].includes('I grew up in Porto, by the river.\nMy dog is called Biscuit.'), read[0]);
    for (const r of [a.reply, b.reply])
      assert.ok(!read[0].includes(r.text), "the avatar's replies are not read");

    // A later turn: only it is read (the high-water mark), its fact cites it alone.
    const d = await say(conv, 'I play the violin in a small orchestra.');
    await settled(av, 2);
    const later = asked.filter((u) => u.includes('violin'));
    assert.equal(later.length, 1);
    assert.ok(!later[0].includes('Porto'), 'turns already read are not read again');
    const violin = (await facts(av)).find((m) => m.text === 'I play the violin.');
    assert.deepEqual(violin.messages.message_ids, [d.id]);
    assert.equal((await facts(av)).length, 3);
  });

  test(`${TURNS} new turns are read at once, without waiting for quiet`, async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Tomas', kind: 'self' });
    const conv = await startConversation(srv, c.owner.token, av);
    await say(conv, 'I play chess on Sundays.');
    await say(conv, 'I keep a vegetable garden.');
    await say(conv, 'That is all for today.');
    const jobs = await extractJobs(av);
    assert.ok(jobs.some((j) => Date.parse(j.run_at) - Date.parse(j.created_at) < IDLE_S * 1000 - 50),
      `an immediate job was queued: ${JSON.stringify(jobs)}`);
    await settled(av, 1);
    assert.deepEqual((await facts(av)).map((m) => m.text).sort(), ['I keep a vegetable garden.', 'I play chess on Sundays.']);
    await sleep(IDLE_S * 1000 + 500); // the waiting job runs too, and finds nothing new
    await settled(av, 1);
    assert.equal(asked.filter((u) => u.includes('chess')).length, 1, 'read once');
  });

  test("the owner tells a legacy avatar about its person; a sharer's words are never read", async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Grandpa Joe', kind: 'legacy' });
    await share(srv, c.owner.token, av.id, c.viewer.id, 'viewer');
    const theirs = await startConversation(srv, c.viewer.token, av);
    await say(theirs, 'You had a dog named Rex.', c.viewer.token);
    await sleep(IDLE_S * 1000 + 500);
    assert.equal((await extractJobs(av)).length, 0, "a sharer's turn queues nothing");
    const dog = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text: 'I had a dog.', kind: 'fact' } });
    expectStatus(assert, dog, 201);
    const conv = await startConversation(srv, c.owner.token, av);
    await say(conv, 'You had a dog named Rex.');
    await settled(av, 1);
    const read = asked.find((u) => u.includes('Rex'));
    assert.match(read, /What Grandpa Joe was told in a conversation \("you" is Grandpa Joe\)/);
    // The model said the new fact completes the similar memory: a new version of it, the old text kept.
    const f = await facts(av);
    assert.deepEqual(f.map((x) => [x.id, x.text, x.version]), [[dog.json.id, 'I had a dog named Rex.', 2]]);
    const v = await api(srv, 'GET', `/avatars/${av.id}/memories/${dog.json.id}/versions`, { token: c.owner.token });
    assert.equal(v.json.items[0].text, 'I had a dog.');
    // Another user never sees the facts nor the job.
    const other = await api(srv, 'GET', `/avatars/${av.id}/memories`, { token: c.outsider.token });
    assert.equal(other.status, 404);
  });

  test('trait evidence from the same pass refreshes the personality profile, once, beside the heuristic score', async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Lola', kind: 'self' });
    const r0 = await api(srv, 'POST', `/avatars/${av.id}/training/personality`, { token: c.owner.token, body: { text: 'Hello there. I like quiet mornings.' } });
    expectStatus(assert, r0, 201);
    const before = (await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token })).json.personality;
    const conv = await startConversation(srv, c.owner.token, av);
    await say(conv, 'Haha, that dog! My dog is called Biscuit.');
    await settled(av, 1);
    const p = await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token });
    expectStatus(assert, p, 200);
    const h = p.json.personality.traits.humour;
    assert.deepEqual(h.model, { score: 0.9, evidence: 1, quotes: ['Haha, that dog!'] });
    assert.equal(h.heuristic_score, before.traits.humour.score, 'the heuristic score is kept beside');
    const s = before.samples;
    assert.equal(h.score, Math.round(((before.traits.humour.score * s + 0.9) / (s + 1)) * 1000) / 1000);
    assert.equal(p.json.personality.sources.model_evidence, 1, 'the unknown trait and the score out of range were dropped');
    assert.equal(p.json.personality.traits.warmth.model, undefined);
    // The same words again (another turn, read later): the evidence is not counted twice.
    await say(conv, 'Haha, that dog!');
    await settled(av, 2);
    const again = (await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token })).json.personality;
    assert.equal(again.traits.humour.model.evidence, 1);
    // Another user sees no profile of it.
    assert.equal((await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.outsider.token })).status, 404);
  });
});

describe('LLM memory extraction from conversations within the memory quota', () => {
  let q, qc;
  before(async () => {
    q = await startAvatars({ args: extractArgs(llm, ['--llm-extract-idle', '1', '--quota-memories', '2']) });
    qc = await cast(q);
  });
  after(async () => q?.stop());

  test("facts stop at the owner's memory quota; the job says so and is tried again", async () => {
    const av = await createAvatar(q, qc.owner.token, { name: 'Quinn', kind: 'self' });
    const cv = await api(q, 'POST', `/avatars/${av.id}/conversations`, { token: qc.owner.token });
    const r = await api(q, 'POST', `/conversations/${cv.json.conversation.id}/messages`, { token: qc.owner.token,
      body: { text: 'I play chess on Sundays, I keep a vegetable garden and I play the violin.' } });
    expectStatus(assert, r, 201);
    const job = await eventually(async () => {
      const j = (await api(q, 'GET', `/jobs?avatar_id=${av.id}&limit=10`, { token: qc.owner.token })).json.items
        .find((x) => x.kind === 'conversation.extract' && x.last_error);
      return j;
    }, 20000);
    assert.match(job.last_error, /quota/);
    assert.notEqual(job.status, 'done');
    const m = await api(q, 'GET', `/avatars/${av.id}/memories?limit=50`, { token: qc.owner.token });
    assert.equal(m.json.items.filter((x) => x.kind === 'fact').length, 2, 'the facts that fit are kept');
  });
});
