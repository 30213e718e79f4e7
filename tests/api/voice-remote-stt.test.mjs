// Remote speech recognition on the voice WebSocket, against the protocol-faithful server of
// tests/speech-server/: Deepgram live streaming (deepgram-live) gives transcript.partial from its
// interim results and transcript.final from the Finalize answer, the audio streamed as linear16 on
// one WebSocket per utterance with the key in the handshake; a refused handshake (bad key), a close
// 1008 and a hang-up before the first result are heard by the local fallback (pocketsphinx); a
// hang-up after results keeps what was heard; slow results still arrive. An OpenAI/Whisper-
// compatible recogniser gives the final only. The key never reaches the log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSpeechServer } from '../speech-server/server.mjs';
import { api, cast, createAvatar, request, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, noise, speak, VoiceClient } from './lib/voice.mjs';
import { wav } from './lib/speech.mjs';

const KEY = 'dg-live-secret-0123456789abcdef';
const SCRIPT = 'What about your father?';
let sp, live, whisper, cl, cw, avl, avw;

before(async () => {
  sp = await startSpeechServer({ key: KEY });
  sp.stt.reply = (r) => (r.kind === 'stt:deepgram-live' ? { text: SCRIPT } : {});
  live = await startAvatars({
    args: ['--stt-provider', 'deepgram-live', '--stt-url', sp.url, '--stt-model', 'nova-3', '--stt-language', 'en',
      '--stt-timeout', String(scaled(3000))],
    env: { DOPPEL_STT_API_KEY: KEY },
    logLevel: 'info',
  });
  // One worker: a recognition that held it would hold every other request too.
  whisper = await startAvatars({ args: ['--workers', '1', '--stt-provider', 'openai', '--stt-url', sp.url, '--stt-api-key', KEY] });
  cl = await cast(live);
  cw = await cast(whisper);
  avl = await createAvatar(live, cl.owner.token, { visibility: 'private' });
  avw = await createAvatar(whisper, cw.owner.token, { visibility: 'private' });
});
after(async () => {
  if (live) assert.equal(await live.stop('SIGTERM', 90000), 0);
  if (whisper) assert.equal(await whisper.stop('SIGTERM', 90000), 0);
  await sp?.close();
});

const QUESTION = concat(noise(300, 30), speak('What about your father?'), noise(500, 30));

async function session(srv, c, av) {
  const v = new VoiceClient();
  await v.connect(srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?token=${encodeURIComponent(c.owner.token)}`);
  const started = await v.start();
  assert.equal(started.type, 'session.started', JSON.stringify(started));
  return v;
}

/* A short utterance, for tests that need many turns. */
const SHORT = concat(noise(200, 30), speak('Hello there.'), noise(450, 30));

/* Says pcm on a new session; the session's events up to its transcript.final. */
async function turn(srv = live, c = cl, av = avl, pcm = QUESTION, speed = 1) {
  const v = await session(srv, c, av);
  await v.stream(pcm, {}, speed);
  const final = await v.waitFor('transcript.final', scaled(20000));
  v.ws.close();
  return { v, final, partials: v.events.filter((e) => e.type === 'transcript.partial') };
}

const liveSince = (n) => sp.requests.slice(n).filter((r) => r.kind === 'stt:deepgram-live');

describe('Deepgram live streaming', () => {
  test('interim results are partials, the Finalize answer is the final, with word times', async () => {
    const n = sp.requests.length;
    const { v, final, partials } = await turn();
    assert.equal(final.text, SCRIPT);
    assert.ok(partials.length >= 1, 'interim results reach the client as partials');
    for (const p of partials) assert.ok(SCRIPT.startsWith(p.text), p.text); // one more word each time
    assert.ok(v.events.indexOf(partials[0]) < v.events.indexOf(final));
    assert.equal(final.words.length, 4);
    for (const w of final.words) assert.ok(w.end_ms >= w.start_ms && w.confidence > 0.9, JSON.stringify(w));
    assert.ok(Math.abs(final.confidence - 0.96) < 0.01);
    const [r] = liveSince(n);
    assert.ok(r, 'one stream opened');
    assert.equal(r.headers.authorization, `Token ${KEY}`);
    assert.deepEqual(
      [r.query.model, r.query.encoding, r.query.sample_rate, r.query.channels, r.query.interim_results, r.query.language],
      ['nova-3', 'linear16', '16000', '1', 'true', 'en'],
    );
    assert.deepEqual(r.messages.slice(-2), ['Finalize', 'CloseStream']);
    // Every sample of the utterance went out (the VAD's pre-roll included): about the spoken length.
    assert.ok(r.audioBytes / 32000 > 1 && r.audioBytes / 32000 < QUESTION.length / 16000 + 0.5, String(r.audioBytes));
  });

  test('a refused handshake (bad key), a close 1008 or a hang-up before any result: the local engine hears it', async () => {
    for (const spec of [{ status: 401, message: 'Invalid credentials.' }, { closeCode: 1008 }, { dropAfterMs: 100 }]) {
      sp.stt.queue(spec);
      const n = sp.requests.length;
      const { final, partials } = await turn(live, cl, avl, QUESTION, 4);
      assert.equal(liveSince(n).length, 1, JSON.stringify(spec));
      assert.notEqual(final.text, SCRIPT, JSON.stringify(spec));
      assert.ok(final.text.length > 0, 'pocketsphinx heard the question: ' + JSON.stringify(spec));
      assert.equal(partials.length, 0);
    }
  });

  test('a hang-up after interim results keeps what was heard; slow results still arrive', async () => {
    sp.stt.queue({ text: SCRIPT, dropAfterMs: 1300 });
    const cut = await turn();
    assert.ok(cut.partials.length >= 1);
    assert.equal(cut.final.text, cut.partials.at(-1).text);
    assert.ok(SCRIPT.startsWith(cut.final.text) && cut.final.text !== SCRIPT, cut.final.text);

    sp.stt.queue({ text: SCRIPT, resultDelayMs: 700 });
    const slow = await turn();
    assert.equal(slow.final.text, SCRIPT);
  });

  test('a whole recording (POST /transcriptions) is streamed utterance by utterance as fast as it goes', async () => {
    const n = sp.requests.length;
    const r = await request(live, 'POST', '/transcriptions', { token: cl.owner.token, headers: { 'content-type': 'audio/wav' }, body: wav(QUESTION) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.text, SCRIPT);
    assert.ok(liveSince(n).length >= 1);
  });

  test('five streams that fail open the breaker: the next utterance is heard locally without a connection', async () => {
    const stats = async () => (await api(live, 'GET', '/admin/stats', { token: cl.admin.token })).json.providers['stt:deepgram-live'];
    // A success closes any count of failures in a row; then five hang-ups (down, not a refusal).
    await turn(live, cl, avl, SHORT, 4);
    for (let i = 0; i < 5; i++) sp.stt.queue({ dropAfterMs: 0 });
    for (let i = 0; i < 5; i++) assert.notEqual((await turn(live, cl, avl, SHORT, 4)).final.text, SCRIPT);
    assert.equal((await stats()).circuit, 'open');
    const n = sp.requests.length;
    const { final } = await turn(live, cl, avl, SHORT, 4);
    assert.equal(liveSince(n).length, 0, 'no stream opened while the breaker is open');
    assert.ok(final.text.length > 0 && final.text !== SCRIPT, final.text);
  });

  test('the key is never logged; the provider shows in the admin stats', async () => {
    assert.ok(!live.stderr().includes(KEY), 'the key leaked into the log');
    const stats = await api(live, 'GET', '/admin/stats', { token: cl.admin.token });
    assert.equal(stats.status, 200, stats.text);
    assert.ok(stats.json.providers['stt:deepgram-live'].calls >= 1, JSON.stringify(stats.json.providers));
  });
});

describe('OpenAI / Whisper-compatible', () => {
  test('the final only (no partials), the utterance sent whole', async () => {
    const n = sp.requests.length;
    sp.stt.queue({ text: 'Tell me about the farm.' });
    const { final, partials } = await turn(whisper, cw, avw);
    assert.equal(final.text, 'Tell me about the farm.');
    assert.equal(partials.length, 0);
    const r = sp.requests.slice(n).find((x) => x.kind === 'stt:openai');
    assert.ok(r && r.wav.rate === 16000 && r.wav.samples > 16000, JSON.stringify(r?.wav));
  });

  test('waiting for the recogniser holds no worker: other requests are served meanwhile', async () => {
    sp.stt.queue({ text: 'A slow answer.', firstByteMs: scaled(2500) });
    const v = await session(whisper, cw, avw);
    await v.stream(QUESTION);
    await v.waitFor('speech.stopped', scaled(5000));
    const r = await api(whisper, 'POST', `/avatars/${avw.id}/memories`, { token: cw.owner.token, body: { text: 'I kept bees.', kind: 'fact' } });
    assert.equal(r.status, 201, r.text);
    const asked = sp.requests.filter((x) => x.kind === 'stt:openai').at(-1);
    assert.ok(asked && !asked.finished, 'the request waited for the recogniser to answer');
    const final = await v.waitFor('transcript.final', scaled(20000));
    assert.equal(final.text, 'A slow answer.');
    v.ws.close();
  });
});
