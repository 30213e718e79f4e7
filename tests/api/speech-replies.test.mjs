// Replies in the avatar's voice and voice profiles: a reply without a clip is spoken by speech
// synthesis (WAV or Ogg/Opus by Accept, Range, made once and kept); hearing it back through
// POST /transcriptions finds its words; voice samples (flite's CLI asked for a known pitch, made
// at test time) build a profile whose pitch is what was asked, ready after three.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, cast, createAvatar, errorShape, expectStatus, request, sharedAvatar, startAvatars } from './lib/avatars.mjs';
import { concat, say, silence, wav, words } from './lib/speech.mjs';

let srv, c;
before(async () => {
  srv = await startAvatars({ args: ['--transcribe-rate', '1000'] });
  c = await cast(srv);
});
after(async () => {
  // A transcription or synthesis still running when the test ends holds the shutdown a while
  // (job workers finish their attempt; slower under the sanitizers on a loaded machine).
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
});

const audio = (url, headers = {}, token = null) => request(srv, 'GET', url, { token, headers });

async function converse(av, text) {
  const conv = await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token: c.owner.token });
  expectStatus(assert, conv, 201);
  const r = await api(srv, 'POST', `/conversations/${conv.json.conversation.id}/messages`, { token: c.owner.token, body: { text } });
  expectStatus(assert, r, 201);
  return { conv: conv.json, reply: r.json.message };
}

const sample = (pitch, text) => wav(concat(silence(300), say(text, { voice: 'kal16', pitch }), silence(300)));
const SAMPLES = [
  'I grew up on a farm near the river, and every morning I fed the chickens before school.',
  'My father built boats in the winter and sold them in the spring to the fishermen.',
  'We walked to church on Sundays and visited my grandmother in the afternoon.',
];

describe('spoken replies', () => {
  let av, reply, conv;
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    const m = await api(srv, 'POST', `/avatars/${av.id}/memories`, {
      token: c.owner.token, body: { text: 'My mother baked brown bread every Friday morning.' },
    });
    expectStatus(assert, m, 201);
    ({ reply, conv } = await converse(av, 'What did your mother bake?'));
  });

  test('a reply without a clip carries audio_url and is heard saying its own words', async () => {
    assert.ok(reply.audio_url, JSON.stringify(reply));
    const r = await audio(reply.audio_url);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^audio\/wav/);
    assert.equal(r.buf.toString('latin1', 0, 4), 'RIFF');
    assert.equal(r.buf.readUInt32LE(24), 16000);
    const heard = await request(srv, 'POST', '/transcriptions', {
      token: c.owner.token, headers: { 'content-type': 'audio/wav' }, body: r.buf,
    });
    expectStatus(assert, heard, 200);
    const said = words(reply.text), got = words(heard.json.text);
    const content = said.filter((w) => w.length > 3);
    const found = content.filter((w) => got.includes(w));
    assert.ok(found.length >= Math.min(2, content.length), `said "${reply.text}", heard "${heard.json.text}"`);
    // The greeting is spoken too; the user's own message is not.
    assert.ok(conv.message.audio_url);
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    const mine = h.json.items.find((x) => x.role === 'user');
    assert.equal(mine.audio_url, undefined);
    errorShape(assert, await audio(`/api/v1/messages/${mine.id}/audio`, {}, c.owner.token), 404, 'not_found');
  });

  test('Ogg/Opus by Accept; Range; made once (the same ETag), 304 when unchanged', async () => {
    const w = await audio(reply.audio_url);
    const o = await audio(reply.audio_url, { accept: 'audio/ogg; codecs=opus' });
    assert.equal(o.status, 200);
    assert.match(o.headers.get('content-type'), /^audio\/ogg/);
    assert.equal(o.buf.toString('latin1', 0, 4), 'OggS');
    assert.ok(o.buf.length < w.buf.length / 4, `${o.buf.length} bytes of Opus against ${w.buf.length} of WAV`);
    assert.notEqual(o.headers.get('etag'), w.headers.get('etag'));
    assert.equal((await audio(reply.audio_url)).headers.get('etag'), w.headers.get('etag'));
    const part = await audio(reply.audio_url, { range: 'bytes=44-143' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 44-143/${w.buf.length}`);
    assert.ok(part.buf.equals(w.buf.subarray(44, 144)));
    const bad = await audio(reply.audio_url, { range: `bytes=${w.buf.length + 10}-` });
    assert.equal(bad.status, 416);
    const same = await audio(reply.audio_url, { 'if-none-match': w.headers.get('etag') });
    assert.equal(same.status, 304);
  });
});

describe('voice profile', () => {
  test('three samples: progress 33 → 67 → 100, ready, the pitch asked for, and replies change voice', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const before = await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token });
    expectStatus(assert, before, 200);
    assert.equal(before.json.voice.status, 'untrained');
    assert.equal(before.json.voice.progress, 0);
    const { reply } = await converse(av, 'Hello there');
    const stock = await audio(reply.audio_url);
    const progress = [];
    let last;
    for (const text of SAMPLES) {
      const r = await request(srv, 'POST', `/avatars/${av.id}/training/voice`, {
        token: c.owner.token, headers: { 'content-type': 'audio/wav' }, body: sample(120, text),
      });
      expectStatus(assert, r, 201);
      assert.ok(Math.abs(r.json.sample.f0_mean_hz - 120) < 12, `sample pitch ${r.json.sample.f0_mean_hz}`);
      progress.push(r.json.voice.progress);
      last = r.json.voice;
    }
    assert.deepEqual(progress, [33, 66, 100]);
    assert.equal(last.status, 'ready');
    const p = await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token });
    const v = p.json.voice;
    assert.equal(v.status, 'ready');
    assert.equal(v.samples, 3);
    assert.ok(Math.abs(v.f0_mean_hz - 120) < 12, `profile pitch ${v.f0_mean_hz} Hz for 120 asked`);
    assert.ok(v.speech_seconds > 9, `${v.speech_seconds} s of speech`);
    assert.ok(v.rate_sps > 1 && v.rate_sps < 10);
    assert.equal(v.mfcc_means.length, 13);
    // The same reply is now spoken in the profile's voice: other audio.
    const now = await audio(reply.audio_url);
    assert.equal(now.status, 200);
    assert.notEqual(now.headers.get('etag'), stock.headers.get('etag'));
  });

  test('refusals: too little speech, not audio, too long; viewers and strangers may not train', async () => {
    const av = await sharedAvatar(srv, c);
    const post = (body, token = c.owner.token) => request(srv, 'POST', `/avatars/${av.id}/training/voice`, {
      token, headers: { 'content-type': 'application/octet-stream' }, body,
    });
    const short = await post(wav(concat(silence(200), say('Hi.', { voice: 'kal16' }), silence(200))));
    errorShape(assert, short, 422);
    assert.match(short.json.error.message, /at least 3 s/);
    errorShape(assert, await post(wav(silence(5000))), 422);
    errorShape(assert, await post(Buffer.from('no audio here\n'.repeat(50))), 415);
    errorShape(assert, await post(wav(silence(61000))), 413);
    errorShape(assert, await post(Buffer.alloc(0)), 400);
    errorShape(assert, await post(sample(150, SAMPLES[0]), c.viewer.token), 403);
    errorShape(assert, await post(sample(150, SAMPLES[0]), c.outsider.token), 404);
    const p = await api(srv, 'GET', `/avatars/${av.id}/profile`, { token: c.owner.token });
    assert.equal(p.json.voice.samples, 0, 'nothing was kept');
    expectStatus(assert, await post(sample(150, SAMPLES[0]), c.editor.token), 201);
  });
});
