// Remote speech providers against the protocol-faithful server of tests/speech-server/: OpenAI /
// Whisper-compatible transcription (verbose_json words, or whisper.cpp's words inside segments),
// Deepgram pre-recorded, OpenAI and ElevenLabs streamed synthesis (a tone the local engine never
// makes); a 429 with Retry-After tried again, failures, stalls and hang-ups answered by the local
// engines (pocketsphinx, flite); the keys never in the log; /api/v1/admin/stats per provider; the
// breaker opening (last: it stays open).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { startSpeechServer } from '../speech-server/server.mjs';
import { api, cast, createAvatar, expectStatus, request, signup, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, say, silence, wav, words } from './lib/speech.mjs';

const KEY = 'sk-speech-secret-0123456789abcdef';
let sp, srv, srv2, c, c2;

before(async () => {
  sp = await startSpeechServer({ key: KEY });
  srv = await startAvatars({
    args: ['--transcribe-rate', '1000', '--stt-provider', 'openai', '--stt-url', sp.url, '--stt-api-key', KEY,
      '--stt-timeout', String(scaled(2000)), '--tts-provider', 'openai', '--tts-url', sp.url,
      '--tts-timeout', String(scaled(3000))],
    env: { DOPPEL_TTS_API_KEY: KEY },
    logLevel: 'info',
  });
  srv2 = await startAvatars({
    args: ['--transcribe-rate', '1000', '--stt-provider', 'deepgram', '--stt-url', sp.url, '--stt-model', 'nova-3',
      '--stt-language', 'en', '--stt-api-key', KEY, '--tts-provider', 'elevenlabs', '--tts-url', sp.url,
      '--tts-voice', 'voice-xyz', '--tts-api-key', KEY],
    logLevel: 'info',
  });
  c = await cast(srv);
  c2 = await cast(srv2);
});
after(async () => {
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
  if (srv2) assert.equal(await srv2.stop('SIGTERM', 90000), 0);
  await sp?.close();
});

const SENTENCE = concat(silence(400), say('My grandmother grew roses in her garden.'), silence(400));
/* What the local fallback hears: short, since pocketsphinx is slow on a loaded machine. */
const SHORT = concat(silence(300), say('Roses in the garden.'), silence(300));
const transcribe = (s, bytes, token) => request(s, 'POST', '/transcriptions', { token, headers: { 'content-type': 'audio/wav' }, body: bytes });
/* A success closes the count of failures in a row (five open the breaker). */
const closeBreaker = async () => expectStatus(assert, await transcribe(srv, wav(SHORT), c.owner.token), 200);
const since = (n, kind) => sp.requests.slice(n).filter((r) => r.kind === kind);

/* Zero crossings per second in each 100 ms window of 16 kHz PCM16 (a WAV's data). */
function crossings(buf) {
  const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset + 44, buf.byteOffset + buf.length - ((buf.length - 44) % 2)));
  const out = [];
  for (let at = 0; at + 1600 <= pcm.length; at += 1600) {
    let z = 0, loud = 0;
    for (let i = at + 1; i < at + 1600; i++) {
      if ((pcm[i - 1] < 0) !== (pcm[i] < 0)) z++;
      loud = Math.max(loud, Math.abs(pcm[i]));
    }
    if (loud > 1000) out.push(z * 10);
  }
  return out;
}
const isTone = (buf, hz = 440) => {
  const z = crossings(buf);
  return z.length > 0 && z.every((x) => Math.abs(x - 2 * hz) <= 40);
};

/* A reply spoken by the server's synthesizer (each call's memory differs: reply audio is kept by
 * what was said, so the same words would not be spoken again). */
let replies = 0;
const RUN = Date.now() % 1000000;
async function spokenReply(s, cc, text = 'Tell me about the garden', avatar = null) {
  const av = avatar || await createAvatar(s, cc.owner.token);
  // A number of this run's own: reply audio is also kept across runs (Redis on PostgreSQL lanes).
  const mark = RUN + replies++;
  const m = await api(s, 'POST', `/avatars/${av.id}/memories`, { token: cc.owner.token, body: { text: `My mother grew roses in the garden by the river, house number ${mark}.` } });
  expectStatus(assert, m, 201);
  const conv = await api(s, 'POST', `/avatars/${av.id}/conversations`, { token: cc.owner.token });
  const r = await api(s, 'POST', `/conversations/${conv.json.conversation.id}/messages`, { token: cc.owner.token, body: { text } });
  expectStatus(assert, r, 201);
  const reply = r.json.message;
  const a = await request(s, 'GET', reply.audio_url, {});
  assert.equal(a.status, 200, a.text);
  return { reply, audio: a.buf };
}

describe('remote speech recognition', () => {
  test('OpenAI-compatible: the scripted words come back at their times, sent as a 16 kHz WAV with the key', async () => {
    const n = sp.requests.length;
    sp.stt.queue({ text: 'Grandmother grew roses.' });
    const r = await transcribe(srv, wav(SENTENCE), c.owner.token);
    expectStatus(assert, r, 200);
    assert.equal(r.json.text, 'Grandmother grew roses.');
    assert.equal(r.json.engine, 'openai');
    const sent = since(n, 'stt:openai');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].headers.authorization, `Bearer ${KEY}`);
    assert.equal(sent[0].model, 'whisper-1');
    assert.equal(sent[0].format, 'verbose_json');
    assert.deepEqual(sent[0].granularities, ['word', 'segment']);
    assert.deepEqual([sent[0].wav.rate, sent[0].wav.channels, sent[0].wav.bits], [16000, 1, 16]);
    const seg = r.json.segments[0];
    assert.ok(seg.end_ms > seg.start_ms && seg.start_ms >= 0, JSON.stringify(seg));
    assert.ok(seg.end_ms <= r.json.duration_ms + 10);
  });

  test("whisper.cpp's answer (words inside segments) gives the same", async () => {
    sp.stt.queue({ text: 'roses in the garden', personality: 'whisper.cpp' });
    const r = await transcribe(srv, wav(SENTENCE), c.owner.token);
    expectStatus(assert, r, 200);
    assert.equal(r.json.text, 'roses in the garden');
  });

  test('a 429 with Retry-After is waited for and tried again', async () => {
    const n = sp.requests.length;
    sp.stt.queue({ status: 429, retryAfter: 1 }, { text: 'after the wait' });
    const t0 = Date.now();
    const r = await transcribe(srv, wav(SENTENCE), c.owner.token);
    expectStatus(assert, r, 200);
    assert.equal(r.json.text, 'after the wait');
    assert.equal(since(n, 'stt:openai').length, 2);
    assert.ok(Date.now() - t0 >= 950, `${Date.now() - t0} ms`);
  });

  for (const [what, spec] of [['errors twice', { status: 500 }], ['stalls', { stall: true }], ['hangs up', { hangUp: true }]]) {
    test(`a provider that ${what} is replaced by pocketsphinx for that utterance`, async () => {
      const n = sp.requests.length;
      // A hang-up on a kept-alive connection is sent again once by libcurl itself (a dead reused
      // connection), so a hang-up may be seen up to twice per try: enough are queued for both tries.
      const hangUp = !!spec.hangUp;
      sp.stt.queue(...Array(hangUp ? 4 : 2).fill(spec));
      const r = await transcribe(srv, wav(SHORT), c.owner.token);
      expectStatus(assert, r, 200);
      const w = words(r.json.text);
      assert.ok(w.includes('garden') || w.includes('roses'), r.json.text);
      const tries = since(n, 'stt:openai').length;
      if (hangUp) assert.ok(tries >= 2 && tries <= 4, `tried twice before falling back (${tries} requests)`);
      else assert.equal(tries, 2, 'tried twice before falling back');
      sp.stt.clear();
      await closeBreaker();
    });
  }

  test('Deepgram pre-recorded: Token auth, model and language in the query, punctuated words', async () => {
    const n = sp.requests.length;
    sp.stt.queue({ text: 'Hello, Deepgram world.' });
    const r = await transcribe(srv2, wav(SENTENCE), c2.owner.token);
    expectStatus(assert, r, 200);
    assert.equal(r.json.text, 'Hello, Deepgram world.');
    assert.equal(r.json.engine, 'deepgram');
    const sent = since(n, 'stt:deepgram');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].headers.authorization, `Token ${KEY}`);
    assert.equal(sent[0].query.model, 'nova-3');
    assert.equal(sent[0].query.language, 'en');
    assert.equal(sent[0].wav.rate, 16000);
  });

  test('a Deepgram refusal (400) falls back at once, without a retry', async () => {
    const n = sp.requests.length;
    sp.stt.queue({ status: 400, message: 'corrupt or unsupported data' });
    const r = await transcribe(srv2, wav(SHORT), c2.owner.token);
    expectStatus(assert, r, 200);
    assert.ok(words(r.json.text).length > 0, r.json.text);
    assert.equal(since(n, 'stt:deepgram').length, 1);
  });
});

describe('remote speech synthesis', () => {
  test('a voice per avatar: tts_voice on PATCH, shown by GET, spoken by the provider; bad ones refused', async () => {
    const av = await createAvatar(srv2, c2.owner.token);
    let r = await api(srv2, 'PATCH', `/avatars/${av.id}`, { token: c2.owner.token, body: { tts_voice: 'JBFqnCBsd6RMkjVDRZzb' } });
    expectStatus(assert, r, 200);
    r = await api(srv2, 'GET', `/avatars/${av.id}`, { token: c2.owner.token });
    assert.equal(r.json.tts_voice, 'JBFqnCBsd6RMkjVDRZzb');
    for (const bad of ['', 'a/../b', 'x'.repeat(129), 7]) {
      r = await api(srv2, 'PATCH', `/avatars/${av.id}`, { token: c2.owner.token, body: { tts_voice: bad } });
      expectStatus(assert, r, 400, 'invalid_input', JSON.stringify(bad));
    }
    const n = sp.requests.length;
    await spokenReply(srv2, c2, 'Tell me about the garden', av);
    assert.deepEqual(since(n, 'tts:elevenlabs').map((q) => q.voice), ['JBFqnCBsd6RMkjVDRZzb']);
    r = await api(srv2, 'PATCH', `/avatars/${av.id}`, { token: c2.owner.token, body: { tts_voice: null } });
    expectStatus(assert, r, 200);
    r = await api(srv2, 'GET', `/avatars/${av.id}`, { token: c2.owner.token });
    assert.equal(r.json.tts_voice, null);
  });

  test("OpenAI: a reply's audio is the provider's, streamed as 24 kHz PCM and kept at 16 kHz", async () => {
    const n = sp.requests.length;
    const { audio } = await spokenReply(srv, c);
    const sent = since(n, 'tts:openai');
    assert.ok(sent.length >= 1);
    assert.equal(sent[0].headers.authorization, `Bearer ${KEY}`);
    assert.deepEqual([sent[0].model, sent[0].voice, sent[0].format], ['tts-1', 'alloy', 'pcm']);
    assert.equal(audio.readUInt32LE(24), 16000);
    assert.ok(isTone(audio), `a 440 Hz tone: ${crossings(audio).slice(0, 8)}`);
  });

  test('a failing synthesizer (503 twice) is replaced by flite', async () => {
    const n = sp.requests.length;
    sp.tts.reply = { status: 503 };
    const { audio } = await spokenReply(srv, c, 'What did your mother grow?');
    sp.tts.reply = null;
    assert.ok(since(n, 'tts:openai').length >= 2, JSON.stringify(since(n, 'tts:openai')));
    assert.ok(crossings(audio).length > 5, `audible: ${audio.length} bytes, ${crossings(audio)}`);
    assert.ok(!isTone(audio), 'speech, not the tone');
  });

  test('a synthesizer that hangs up mid-sentence: flite speaks the rest', async () => {
    sp.tts.reply = { dropAfter: 4800 * 2 };
    const { audio } = await spokenReply(srv, c, 'Where was the garden? Tell me more.');
    sp.tts.reply = null;
    assert.ok(crossings(audio).length > 3);
  });

  test('ElevenLabs: the voice id in the path, xi-api-key, 16 kHz PCM', async () => {
    const n = sp.requests.length;
    const { audio } = await spokenReply(srv2, c2);
    const sent = since(n, 'tts:elevenlabs');
    assert.ok(sent.length >= 1);
    assert.equal(sent[0].headers['xi-api-key'], KEY);
    assert.deepEqual([sent[0].voice, sent[0].format, sent[0].model], ['voice-xyz', 'pcm_16000', 'eleven_flash_v2_5']);
    assert.ok(isTone(audio));
  });
});

describe('the facade: /v1/audio/* with the openai SDK', () => {
  let av;
  const client = (token = c.owner.token) => new OpenAI({ apiKey: token, baseURL: `${srv.url}/v1`, maxRetries: 0 });
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Iris', visibility: 'link', slug: 'iris-speaks' });
  });

  test('transcriptions: json, text, verbose_json with words, srt and vtt', async () => {
    const file = () => toFile(wav(SENTENCE), 'talk.wav', { type: 'audio/wav' });
    sp.stt.reply = { text: 'roses grew in the garden' };
    try {
      const j = await client().audio.transcriptions.create({ file: await file(), model: 'whisper-1' });
      assert.deepEqual(j, { text: 'roses grew in the garden' });
      const t = await client().audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'text' });
      assert.equal(t.trim(), 'roses grew in the garden');
      const v = await client().audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'verbose_json',
        timestamp_granularities: ['word', 'segment'], language: 'en' });
      assert.equal(v.task, 'transcribe');
      assert.equal(v.language, 'en');
      assert.ok(Math.abs(v.duration - SENTENCE.length / 16000) < 0.1, String(v.duration));
      assert.equal(v.segments.length, 1);
      assert.deepEqual(v.words.map((w) => w.word), ['roses', 'grew', 'in', 'the', 'garden']);
      assert.ok(v.words.every((w, i) => w.end > w.start && (i === 0 || w.start >= v.words[i - 1].end)), JSON.stringify(v.words));
      const srt = await client().audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'srt' });
      assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\nroses grew in the garden\n/);
      const vtt = await client().audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'vtt' });
      assert.match(vtt, /^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> /);
    } finally {
      sp.stt.reply = null;
    }
  });

  test('transcriptions: refusals in OpenAI\'s shape', async () => {
    await assert.rejects(client().audio.transcriptions.create({ file: await toFile(Buffer.from('not audio at all'), 'x.wav'), model: 'whisper-1' }),
      (e) => e.status === 415 && e.error?.code === 'invalid_file_format');
    await assert.rejects(client().audio.transcriptions.create({ file: await toFile(wav(SENTENCE), 'a.wav'), model: 'whisper-1', response_format: 'diarized' }),
      (e) => e.status === 400 && e.error?.param === 'response_format');
    await assert.rejects(client('not-a-token').audio.transcriptions.create({ file: await toFile(wav(SENTENCE), 'a.wav'), model: 'whisper-1' }),
      (e) => e.status === 401);
  });

  test('speech: the avatar named by voice (id or slug), wav, pcm at 24 kHz and opus, from the remote synthesizer', async () => {
    const n = sp.requests.length;
    const w = Buffer.from(await (await client().audio.speech.create({ model: 'tts-1', voice: av.id, input: 'Good morning to you', response_format: 'wav' })).arrayBuffer());
    assert.equal(w.toString('latin1', 0, 4), 'RIFF');
    assert.ok(isTone(w), 'the provider\'s tone');
    const p = Buffer.from(await (await client().audio.speech.create({ model: 'tts-1', voice: 'iris-speaks', input: 'Good morning to you', response_format: 'pcm', speed: 1.5 })).arrayBuffer());
    assert.ok(Math.abs(p.length / 2 - 24000 * 1.0) < 2400, `${p.length / 2} samples at 24 kHz for 4 words of 250 ms`);
    const o = Buffer.from(await (await client().audio.speech.create({ model: 'tts-1', voice: av.id, input: 'Good night', response_format: 'opus' })).arrayBuffer());
    assert.equal(o.toString('latin1', 0, 4), 'OggS');
    const sent = since(n, 'tts:openai');
    assert.equal(sent.length, 3);
    assert.equal(sent[1].speed, 1.5);
  });

  test('speech: refusals in OpenAI\'s shape, nothing sent to the provider', async () => {
    const n = sp.requests.length;
    const other = { owner: await signup(srv, { display_name: 'Stranger' }) };
    await assert.rejects(client(other.owner.token).audio.speech.create({ model: 'tts-1', voice: av.id, input: 'hi' }),
      (e) => e.status === 404 && e.error?.param === 'voice');
    const other2 = await createAvatar(srv, c.owner.token, { name: 'Other' });
    const key = await api(srv, 'POST', '/auth/api-keys', { token: c.owner.token, body: { name: 'iris only', avatars: [av.id] } });
    expectStatus(assert, key, 201);
    await assert.rejects(client(key.json.key).audio.speech.create({ model: 'tts-1', voice: other2.id, input: 'hi' }),
      (e) => e.status === 404 && e.error?.param === 'voice', 'a key limited to other avatars');
    await assert.rejects(client().audio.speech.create({ model: 'tts-1', voice: av.id, input: 'hi', response_format: 'mp3' }),
      (e) => e.status === 400 && e.error?.param === 'response_format');
    await assert.rejects(client().audio.speech.create({ model: 'tts-1', voice: av.id, input: 'x'.repeat(4097) }),
      (e) => e.status === 400 && e.error?.param === 'input');
    await assert.rejects(client().audio.speech.create({ model: 'tts-1', voice: av.id, input: 'hi', speed: 9 }),
      (e) => e.status === 400 && e.error?.param === 'speed');
    assert.equal(since(n, 'tts:openai').length, 0);
  });
});

describe('operations', () => {
  test('the keys never reach the log', () => {
    assert.ok(!srv.stderr().includes(KEY));
    assert.ok(!srv2.stderr().includes(KEY));
    assert.match(srv.stderr(), /\[stt\] openai/);
  });

  test('/api/v1/admin/stats shows each provider with calls, failures and latency', async () => {
    const r = await api(srv, 'GET', '/admin/stats', { token: c.admin.token });
    expectStatus(assert, r, 200);
    const p = r.json.providers;
    for (const name of ['stt:openai', 'tts:openai']) {
      assert.ok(p[name], JSON.stringify(p));
      assert.ok(p[name].calls >= 2 && p[name].failures >= 1, JSON.stringify(p[name]));
      assert.ok(p[name].latency_ms.p50 >= 0);
    }
  });

  test('five failures in a row open the breaker: the fallback answers without calling the provider', async () => {
    sp.stt.reply = { status: 502 };
    for (let i = 0; i < 3; i++) await transcribe(srv, wav(SHORT), c.owner.token);
    const n = sp.requests.length;
    const r = await transcribe(srv, wav(SHORT), c.owner.token);
    sp.stt.reply = null;
    expectStatus(assert, r, 200);
    assert.ok(words(r.json.text).length > 0);
    assert.equal(since(n, 'stt:openai').length, 0, 'the open breaker sent nothing');
    const st = await api(srv, 'GET', '/admin/stats', { token: c.admin.token });
    assert.equal(st.json.providers['stt:openai'].circuit, 'open');
  });
});
