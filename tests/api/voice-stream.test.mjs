// A generative reply on the voice WebSocket is spoken while the model is still writing it: the
// scripted chat server of tests/llm-server/ streams the answer slowly, and the reply's first audio
// frame reaches the client before the model's last token (its first clause is synthesized beside
// the brain's task), the text deltas in order around it. Speaking over such a reply stops the
// model's stream and the synthesis, and the history keeps what was heard. Order of events, not
// timings, is asserted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLlmServer, tokens } from '../llm-server/server.mjs';
import { startSpeechServer } from '../speech-server/server.mjs';
import { api, cast, createAvatar, eventually, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, noise, speak, VoiceClient } from './lib/voice.mjs';

const SHORT = 'We rowed home, and the lake was still. Every summer we went back to the island cabin.';
const ANSWER = SHORT + ' My father built the jetty himself, plank by plank, the year before the war. ' +
  'We swam there until the water turned cold in September.';
const TOKENS = tokens(ANSWER);
let llm, sp, srv, c, av;

before(async () => {
  llm = await startLlmServer();
  sp = await startSpeechServer({});
  sp.stt.reply = { text: 'Tell me about the lake.' };
  srv = await startAvatars({
    args: ['--llm-provider', 'openai', '--llm-url', llm.url, '--llm-model', 'test-chat', '--llm-idle-timeout',
      String(scaled(5000)), '--stt-provider', 'openai', '--stt-url', sp.url, '--tts-provider', 'flite'],
  });
  c = await cast(srv);
  av = await createAvatar(srv, c.owner.token, { name: 'Margaret', brain: 'generative', visibility: 'private' });
});
after(async () => {
  await srv?.stop();
  await llm?.close();
  await sp?.close();
});

async function session() {
  const v = new VoiceClient();
  await v.connect(srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?token=${encodeURIComponent(c.owner.token)}`);
  const started = await v.start({ turn_detection: 'manual' });
  assert.equal(started.type, 'session.started', JSON.stringify(started));
  return v;
}

/* A push-to-talk turn (the question is what the scripted recogniser hears); the model's request. */
async function ask(v) {
  const n = llm.requests.length;
  v.ws.send(Buffer.from(noise(300, 30).buffer));
  v.send({ type: 'input.commit' });
  await v.waitFor('response.started', scaled(10000));
  const req = await eventually(() => llm.requests.slice(n).find((r) => r.stream), { timeoutMs: 10000 });
  assert.ok(req, 'the model was asked, streaming');
  return req;
}

const deltas = (v, from = 0) => v.events.filter((e, i) => i >= from && e.type === 'response.text.delta');

describe('a streamed reply spoken as it is written', () => {
  test('the first audio frame arrives before the model has written its last token', async () => {
    llm.reply = { tokens: tokens(SHORT), tokenDelayMs: scaled(120) };
    const v = await session();
    const req = await ask(v);
    const done = await v.waitFor('response.done', scaled(30000));
    llm.reply = null;
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.text, SHORT);
    const ds = deltas(v);
    assert.equal(ds.map((e) => e.text).join(''), SHORT, 'the deltas, in order, are the reply');
    const first = v.audio[0];
    assert.ok(first, 'reply audio came');
    // One socket, one order: audio went out while text deltas were still to come …
    assert.ok(first.at < ds.at(-1).at, `first audio at ${first.at} ms, last delta at ${ds.at(-1).at} ms`);
    // … and before the model wrote its last token (both clocks are this process's).
    assert.equal(req.tokenAt.length, tokens(SHORT).length);
    assert.ok(v.t0 + first.at < req.tokenAt.at(-1), 'first audio before the last token');
    // Its first clause ("We rowed home,") is what was spoken first: audio before the sentence's end came.
    const sentenceEnd = ds.findIndex((e) => e.text.endsWith('.'));
    assert.ok(first.at < ds[sentenceEnd + 1].at, 'the first clause is spoken before its sentence is whole');
    const start = v.events.find((e) => e.type === 'response.audio.start');
    assert.ok(start && v.events.indexOf(start) < v.events.indexOf(done));
    // The whole reply is spoken: about as long as flite takes for it, and stored whole.
    assert.ok(done.played_ms > 3000, `played ${done.played_ms} ms`);
    assert.ok(done.latency.tts_first_byte_ms >= 0, JSON.stringify(done.latency));
    const h = await api(srv, 'GET', `/conversations/${v.events[0].conversation_id}/messages`, { token: c.owner.token });
    const stored = h.json.items.find((x) => x.id === done.message_id);
    assert.equal(stored.text, SHORT);
    await v.close();
  });

  test('speaking over a reply the model is still writing stops the model and the speech; what was heard is kept', async () => {
    // The model writes slowly enough that the reply is still being written when the user speaks.
    llm.queue({ tokens: TOKENS, tokenDelayMs: scaled(400) }, { text: 'The lake, yes.' });
    const v = new VoiceClient();
    await v.connect(srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?token=${encodeURIComponent(c.owner.token)}`);
    await v.start();
    const cid = v.events[0].conversation_id;
    const n = llm.requests.length;
    await v.stream(concat(noise(300, 30), speak('Tell me about the lake.'), noise(900, 30)), {}, 2);
    await v.waitFor('response.audio.start', scaled(20000));
    const req = llm.requests[n];
    assert.ok(req?.stream, 'the reply is streamed');
    await new Promise((r) => setTimeout(r, 1200)); // a second of the first clause is heard
    assert.ok(!req.finished, 'the model is still writing');
    const m = v.events.length;
    await v.stream(concat(speak('No, tell me about the war instead.'), noise(800, 30)));
    const done = await v.waitFor('response.done', scaled(10000), m);
    assert.equal(done.status, 'interrupted', JSON.stringify(done));
    const barge = v.events.find((e, i) => i >= m && e.type === 'speech.started');
    assert.ok(barge && v.events.indexOf(barge) < v.events.indexOf(done), 'speech.started (flush) first');
    // The model's stream was given up: its connection closed before its last token.
    assert.ok(await eventually(() => req.aborted, { timeoutMs: 5000 }), 'the model stream was closed');
    assert.ok(req.tokenAt.length < TOKENS.length, `${req.tokenAt.length} of ${TOKENS.length} tokens written`);
    // Heard: a start of the answer, cut at a word.
    assert.ok(done.text.length > 0 && ANSWER.startsWith(done.text.replace(/…$/, '')), done.text);
    assert.ok(done.text.length < ANSWER.length);
    // Nothing of it is spoken after the flush, until the interruption's own reply.
    const nextReply = await v.waitFor('response.started', scaled(20000), v.events.indexOf(done));
    assert.equal(v.audio.filter((a) => a.at > done.at && a.at < nextReply.at).length, 0, 'no reply audio after the cut');
    const next = await v.waitFor((e) => e.type === 'response.done' && e !== done, scaled(30000), m);
    assert.equal(next.status, 'completed');
    // The history: the question, what was heard of the cut reply, the interruption and its reply.
    const h = await api(srv, 'GET', `/conversations/${cid}/messages?limit=50`, { token: c.owner.token });
    const avatar = h.json.items.filter((x) => x.role === 'avatar').map((x) => x.text);
    assert.ok(avatar.includes(done.text), JSON.stringify(avatar));
    assert.ok(!avatar.includes(ANSWER), 'the whole answer, never heard, is not kept');
    assert.ok(avatar.includes('The lake, yes.'));
    await v.close();
  });
});
