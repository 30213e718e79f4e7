// The generative brain's legacy guard, against the scripted chat server of tests/llm-server/ making
// things up: a legacy avatar's reply that claims something about the person that no memory offered
// (nor the card) supports is asked again once with a stricter instruction; when the second answer
// still claims it, the reply is given with an honest prefix; a supported reply, a question back or
// "I don't remember" pass as they are, with one call. Other kinds of avatar, and --legacy-guard false,
// are not guarded. Also: the way of speaking in the prompt follows new training samples at once
// (it is remembered between turns with the generation of what it was read from).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLlmServer } from '../llm-server/server.mjs';
import { api, cast, createAvatar, expectStatus, startAvatars, stopAll } from './lib/avatars.mjs';

let llm, srv, off, c, co, grandma, character, grandmaOff;
const MADE_UP = 'I grew up in Lisbon and sailed a fishing boat every morning.';

before(async () => {
  llm = await startLlmServer({ models: ['test-chat'] });
  const args = ['--llm-provider', 'openai', '--llm-url', llm.url, '--llm-model', 'test-chat', '--llm-retries', '0'];
  srv = await startAvatars({ args, logLevel: 'info' });
  off = await startAvatars({ args: [...args, '--legacy-guard', 'false'] });
  c = await cast(srv);
  co = await cast(off);
  const body = { name: 'Margaret', kind: 'legacy', brain: 'generative', description: 'A retired nurse from Leeds.' };
  grandma = await createAvatar(srv, c.owner.token, body);
  character = await createAvatar(srv, c.owner.token, { ...body, kind: 'character' });
  grandmaOff = await createAvatar(off, co.owner.token, body);
  for (const [s, tok, a] of [[srv, c.owner.token, grandma], [srv, c.owner.token, character], [off, co.owner.token, grandmaOff]]) {
    const r = await api(s, 'POST', `/avatars/${a.id}/memories`, { token: tok, body: { text: 'Every summer we rowed across the lake to the island cabin' } });
    expectStatus(assert, r, 201);
  }
});
after(async () => {
  await stopAll(srv, off);
  await llm?.close();
});

async function ask(s, token, a, text, streamed = false) {
  const conv = await api(s, 'POST', `/avatars/${a.id}/conversations`, { token });
  expectStatus(assert, conv, 201);
  const n0 = llm.requests.length;
  const headers = streamed ? { accept: 'text/event-stream' } : {};
  const r = await api(s, 'POST', `/conversations/${conv.json.conversation.id}/messages`, { token, body: { text }, headers });
  assert.equal(r.status, streamed ? 200 : 201, r.text);
  return { r, calls: llm.requests.slice(n0) };
}

describe('legacy guard', () => {
  test('a made-up claim is asked again with a stricter instruction; the honest second answer is given', async () => {
    llm.queue({ text: MADE_UP }, { text: "I don't remember where I grew up, love." });
    const { r, calls } = await ask(srv, c.owner.token, grandma, 'Where did you grow up?');
    assert.equal(calls.length, 2, 'asked again once');
    assert.ok(!calls[0].messages[0].content.includes('Never make up a memory'));
    assert.match(calls[1].messages[0].content, /stated things about your life that none of your memories above say/);
    assert.equal(r.json.message.text, "I don't remember where I grew up, love.");
    assert.match(srv.stderr(), /legacy guard: no memory supports "I grew up in Lisbon/);
  });

  test('when the second answer makes it up too, the reply says so first; streamed, nothing unjudged reaches the client', async () => {
    llm.queue({ text: MADE_UP }, { text: 'I ran a bakery in Porto for thirty years.' });
    const { r, calls } = await ask(srv, c.owner.token, grandma, 'What did you do for work?', true);
    assert.equal(calls.length, 2);
    const blocks = r.text.trim().split('\n\n');
    const deltas = blocks.filter((b) => b.startsWith('event: delta')).map((b) => JSON.parse(b.match(/^data: (.*)$/m)[1]).text).join('');
    const done = JSON.parse(blocks.at(-1).match(/^data: (.*)$/m)[1]).message;
    assert.equal(done.text, `(I have no memory of this, so it may not be true.) ${MADE_UP}`);
    assert.equal(deltas, done.text, 'the stream carries the judged reply only');
  });

  test('supported claims, questions and "I don\'t remember" pass with one call; citations kept', async () => {
    llm.queue({ text: 'Every summer we rowed across the lake to the cabin on the island [1]. Do you row?' });
    let { r, calls } = await ask(srv, c.owner.token, grandma, 'Tell me about the lake');
    assert.equal(calls.length, 1);
    assert.equal(r.json.message.text, 'Every summer we rowed across the lake to the cabin on the island. Do you row?');
    assert.equal(r.json.message.citations.length, 1);
    llm.queue({ text: "I'm not sure I remember Lisbon at all. I was a nurse in Leeds, you know." });
    ({ r, calls } = await ask(srv, c.owner.token, grandma, 'Were you ever in Lisbon?'));
    assert.equal(calls.length, 1, 'the card says she was a nurse from Leeds');
    assert.match(r.json.message.text, /^I'm not sure/);
  });

  test('not a legacy avatar, or --legacy-guard false: the reply is the model\'s, one call', async () => {
    llm.queue({ text: MADE_UP });
    let { r, calls } = await ask(srv, c.owner.token, character, 'Where did you grow up?');
    assert.equal(calls.length, 1);
    assert.equal(r.json.message.text, MADE_UP);
    llm.queue({ text: MADE_UP });
    ({ r, calls } = await ask(off, co.owner.token, grandmaOff, 'Where did you grow up?'));
    assert.equal(calls.length, 1);
    assert.equal(r.json.message.text, MADE_UP);
  });
});

describe('way of speaking', () => {
  test('the prompt follows new training samples at the next turn', async () => {
    const sample = (text) => api(srv, 'POST', `/avatars/${character.id}/training/personality`, { token: c.owner.token, body: { text } });
    expectStatus(assert, await sample('Hey there! Hey, how is the garden doing? Hey, lovely to hear from you.'), 201);
    let { calls } = await ask(srv, c.owner.token, character, 'Hello');
    assert.match(calls[0].messages[0].content, /you often begin with "hey"/);
    ({ calls } = await ask(srv, c.owner.token, character, 'Hello again'));
    assert.match(calls[0].messages[0].content, /you often begin with "hey"/, 'remembered');
    for (let i = 0; i < 3; i++) expectStatus(assert, await sample('Morning! Morning, dear. Morning, how did you sleep? Morning to you.'), 201);
    ({ calls } = await ask(srv, c.owner.token, character, 'Hello once more'));
    assert.match(calls[0].messages[0].content, /you often begin with "morning"/);
  });
});
