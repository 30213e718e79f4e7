// Wyoming speech services (TCP) against the scripted service of tests/speech-server/wyoming.mjs:
// recognition (transcribe, audio-start/-chunk/-stop → transcript), synthesis with Wyoming 1.7's
// streamed text (synthesize-start/-chunk/-stop, and the whole synthesize older services act on)
// when the service's info says it takes it, plain synthesize otherwise; an error event, a hang-up
// and a stall answered by the local engines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWyomingServer } from '../speech-server/wyoming.mjs';
import { api, cast, createAvatar, expectStatus, request, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, say, silence, wav, words } from './lib/speech.mjs';

let wy, wyOld, srv, srvOld, c, cOld;
before(async () => {
  wy = await startWyomingServer({ streaming: true });
  wyOld = await startWyomingServer({ streaming: false });
  srv = await startAvatars({
    args: ['--transcribe-rate', '1000', '--stt-provider', 'wyoming', '--stt-url', `tcp://${wy.address}`, '--stt-language', 'en',
      '--stt-model', 'tiny-int8', '--stt-timeout', String(scaled(2000)), '--tts-provider', 'wyoming', '--tts-url', wy.address,
      '--tts-voice', 'en_US-lessac-medium', '--tts-timeout', String(scaled(3000))],
  });
  srvOld = await startAvatars({ args: ['--stt-provider', 'none', '--tts-provider', 'wyoming', '--tts-url', wyOld.address] });
  c = await cast(srv);
  cOld = await cast(srvOld);
});
after(async () => {
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
  if (srvOld) assert.equal(await srvOld.stop('SIGTERM', 90000), 0);
  await wy?.close();
  await wyOld?.close();
});

const SENTENCE = concat(silence(400), say('My grandmother grew roses in her garden.'), silence(400));
/* What the local fallback hears: short, since pocketsphinx is slow on a loaded machine. */
const SHORT = concat(silence(300), say('Roses in the garden.'), silence(300));
const transcribe = (bytes) => request(srv, 'POST', '/transcriptions', { token: c.owner.token, headers: { 'content-type': 'audio/wav' }, body: bytes });

/* Whether a 16 kHz WAV is the service's 440 Hz tone: zero crossings of each loud 100 ms window. */
function isTone(buf) {
  const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset + 44, buf.byteOffset + buf.length - ((buf.length - 44) % 2)));
  let windows = 0;
  for (let at = 0; at + 1600 <= pcm.length; at += 1600) {
    let z = 0, loud = 0;
    for (let i = at + 1; i < at + 1600; i++) {
      if ((pcm[i - 1] < 0) !== (pcm[i] < 0)) z++;
      loud = Math.max(loud, Math.abs(pcm[i]));
    }
    if (loud < 1000) continue;
    windows++;
    if (Math.abs(z * 10 - 880) > 40) return false;
  }
  return windows > 0;
}

let memo = 0;
const RUN = Date.now() % 1000000; // reply audio is also kept across runs (Redis on PostgreSQL lanes)
async function replyAudio(s, cc) {
  const av = await createAvatar(s, cc.owner.token);
  await api(s, 'POST', `/avatars/${av.id}/memories`, { token: cc.owner.token, body: { text: `We sailed to the island number ${RUN + memo++}.` } });
  const conv = await api(s, 'POST', `/avatars/${av.id}/conversations`, { token: cc.owner.token });
  const r = await api(s, 'POST', `/conversations/${conv.json.conversation.id}/messages`, { token: cc.owner.token, body: { text: 'Where did we sail?' } });
  expectStatus(assert, r, 201);
  const a = await request(s, 'GET', r.json.message.audio_url, {});
  assert.equal(a.status, 200, a.text);
  return a.buf;
}

describe('Wyoming', () => {
  test('recognition: transcribe with language and model, 16 kHz mono audio in chunks, the transcript back', async () => {
    const n = wy.requests.length;
    wy.asr.queue({ text: 'Grandmother grew roses.' });
    const r = await transcribe(wav(SENTENCE));
    expectStatus(assert, r, 200);
    assert.equal(r.json.text, 'Grandmother grew roses.');
    assert.equal(r.json.engine, 'wyoming');
    const got = wy.requests.slice(n).filter((q) => q.kind === 'stt:wyoming');
    assert.equal(got.length, 1);
    assert.deepEqual([got[0].language, got[0].name], ['en', 'tiny-int8']);
    assert.deepEqual(got[0].format, { rate: 16000, width: 2, channels: 1 });
    assert.deepEqual(got[0].events.slice(0, 3), ['transcribe', 'audio-start', 'audio-chunk']);
    assert.equal(got[0].events.at(-1), 'audio-stop');
    assert.ok(got[0].audioBytes > 0 && got[0].audioBytes % 2 === 0);
  });

  for (const [what, spec] of [['an error event', { error: 'model not loaded' }], ['a hang-up', { hangUp: true }], ['a stall', { stall: true }]]) {
    test(`recognition: ${what} is answered by pocketsphinx`, async () => {
      wy.asr.queue(spec, spec);
      const r = await transcribe(wav(SHORT));
      expectStatus(assert, r, 200);
      const w = words(r.json.text);
      assert.ok(w.includes('garden') || w.includes('roses'), r.json.text);
      wy.asr.queue({ text: 'ok' }); // a success: five failures in a row would open the breaker
      expectStatus(assert, await transcribe(wav(SHORT)), 200);
    });
  }

  test("synthesis with streamed text (the service's info says it takes it): the reply is the service's audio", async () => {
    const n = wy.requests.length;
    const audio = await replyAudio(srv, c);
    const got = wy.requests.slice(n).filter((q) => q.kind === 'tts:wyoming');
    assert.ok(got.length >= 1);
    assert.ok(got[0].streamed);
    assert.equal(got[0].voice, 'en_US-lessac-medium');
    assert.deepEqual(got[0].events.filter((e) => e.startsWith('synth')), ['synthesize-start', 'synthesize-chunk', 'synthesize', 'synthesize-stop']);
    assert.ok(got[0].text.length > 0);
    assert.equal(audio.readUInt32LE(24), 16000);
    assert.ok(isTone(audio), '22.05 kHz tone resampled to 16 kHz');
  });

  test('synthesis from an older service: a plain synthesize', async () => {
    const n = wyOld.requests.length;
    const audio = await replyAudio(srvOld, cOld);
    const got = wyOld.requests.slice(n).filter((q) => q.kind === 'tts:wyoming');
    assert.ok(got.length >= 1);
    assert.ok(!got[0].streamed);
    assert.deepEqual(got[0].events.filter((e) => e.startsWith('synth')), ['synthesize']);
    assert.ok(isTone(audio));
  });

  test('synthesis: a service that hangs up is replaced by flite', async () => {
    wy.tts.reply = { hangUp: true };
    const audio = await replyAudio(srv, c);
    wy.tts.reply = null;
    assert.ok(audio.length > 44 + 3200);
    assert.ok(!isTone(audio));
  });
});
