// The voice WebSocket beyond 16 kHz PCM and beyond its owner: pcm16 in at a sound card's rate
// (44.1 kHz, 8 kHz) resampled for recognition, replies as pcm16 at the rate asked for; replies
// spoken in the avatar's voice profile, the same audio as the message's own (GET
// /messages/{mid}/audio); and a legacy page's visitors talking by voice in their conversation,
// checked exactly as their text turns are. Replies are kept to one short sentence: the server paces
// reply audio in real time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { api, cast, createAvatar, request, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { say, silence, wav } from './lib/speech.mjs';
import { concat, noise, RATE, speak, VoiceClient } from './lib/voice.mjs';

let srv, c, av;
const FACT = 'My father was a fisherman.';

before(async () => {
  srv = await startAvatars({ args: ['--voice-sessions-per-user', '8', '--ws-message-max', '65536'] });
  c = await cast(srv);
  av = await createAvatar(srv, c.owner.token, { visibility: 'private' });
  const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text: FACT, kind: 'fact' } });
  assert.equal(r.status, 201, r.text);
});
after(async () => {
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
});

const base = () => srv.url.replace('http', 'ws');
const ownerUrl = (avatarId = av.id) => `${base()}/api/v1/avatars/${avatarId}/voice?token=${encodeURIComponent(c.owner.token)}`;

/* pcm (Int16Array at `from` Hz) at `to` Hz, by ffmpeg's resampler (what a sound card would give). */
function resample(pcm, from, to) {
  const out = execFileSync('ffmpeg', ['-v', 'error', '-f', 's16le', '-ar', String(from), '-ac', '1', '-i', 'pipe:0', '-ar', String(to), '-f', 's16le', 'pipe:1'], {
    input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength),
    maxBuffer: 64 << 20,
  });
  return new Int16Array(out.buffer.slice(out.byteOffset, out.byteOffset + (out.length & ~1)));
}

const QUESTION = speak('What about your father?');

/* One VAD-ended turn asking QUESTION at the client's rate; resolves with the turn's events. */
async function turn(v) {
  const n = v.events.length;
  const pcm = concat(noise(300, 30), QUESTION, noise(500, 30));
  await v.stream(v.rate === RATE ? pcm : resample(pcm, RATE, v.rate));
  const done = await v.waitFor('response.done', scaled(40000), n);
  return { evs: v.events.slice(n), done };
}

/* Mean F0 (Hz) of the voiced 40 ms frames of pcm at rate: the autocorrelation peak between 70 and
 * 400 Hz where it is strong. */
function meanF0(pcm, rate) {
  const win = Math.round(rate * 0.04), f0s = [];
  for (let at = 0; at + win * 2 < pcm.length; at += win) {
    let energy = 0;
    for (let i = 0; i < win; i++) energy += pcm[at + i] * pcm[at + i];
    if (energy / win < 500 * 500) continue;
    let best = 0, lag = 0;
    for (let l = Math.floor(rate / 400); l <= Math.ceil(rate / 70); l++) {
      let s = 0, e1 = 0, e2 = 0;
      for (let i = 0; i < win; i++) {
        s += pcm[at + i] * pcm[at + i + l];
        e1 += pcm[at + i] * pcm[at + i];
        e2 += pcm[at + i + l] * pcm[at + i + l];
      }
      const r = s / Math.sqrt(e1 * e2 + 1);
      if (r > best) (best = r), (lag = l);
    }
    if (best > 0.7) f0s.push(rate / lag);
  }
  f0s.sort((a, b) => a - b);
  return f0s.length ? f0s[Math.floor(f0s.length / 2)] : 0;
}

describe('rates', () => {
  test('pcm16 in at 44.1 kHz, the reply as pcm16 at 48 kHz: heard, answered, paced at the rate asked', async () => {
    const v = new VoiceClient({ rate: 44100 });
    await v.connect(ownerUrl());
    const started = await v.start({ reply_audio: { format: 'pcm16', rate: 48000 } });
    assert.equal(started.type, 'session.started', JSON.stringify(started));
    assert.deepEqual(started.audio, { format: 'pcm16', rate: 44100 });
    assert.deepEqual(started.reply_audio, { format: 'pcm16', rate: 48000 });
    const { evs, done } = await turn(v);
    const final = evs.find((e) => e.type === 'transcript.final');
    console.log(`heard at 44.1 kHz: "${final.text}"`);
    assert.match(final.text, /father/);
    const start = evs.find((e) => e.type === 'response.audio.start');
    assert.deepEqual([start.format, start.rate], ['pcm16', 48000]);
    assert.equal(done.status, 'completed');
    assert.equal(done.text, FACT);
    // 48 kHz audio: as many samples as the reply lasts, in 40 ms chunks of 48 kHz.
    const audio = v.audioSince(start.at);
    const ms = (audio.length / 48000) * 1000;
    assert.ok(Math.abs(ms - done.played_ms) < 60, `${ms} ms of audio, ${done.played_ms} ms played`);
    const frames = v.audio.filter((a) => a.at >= start.at);
    assert.ok(frames.every((f) => f.bytes.length <= 2 * 48000 * 0.04), 'chunks of at most 40 ms at 48 kHz');
    assert.ok(frames.some((f) => f.bytes.length > 2 * RATE * 0.04), 'more bytes a chunk than at 16 kHz');
    // The voice is the voice: its pitch is the same whatever the rate (slt speaks near 170 Hz).
    const f0 = meanF0(audio, 48000);
    assert.ok(f0 > 130 && f0 < 230, `reply pitch at 48 kHz: ${f0} Hz`);
    await v.close();
  });

  test('pcm16 in at 8 kHz (a telephone line): speech found where it is, recognised, answered', async () => {
    const v = new VoiceClient({ rate: 8000 });
    await v.connect(ownerUrl());
    const started = await v.start();
    assert.deepEqual(started.audio, { format: 'pcm16', rate: 8000 });
    const { evs, done } = await turn(v);
    // The VAD's times are the audio's own: resampling kept them (300 ms of noise, then the question).
    const s = evs.find((e) => e.type === 'speech.started'), e = evs.find((x) => x.type === 'speech.stopped');
    const spoken = 300 + (QUESTION.length / RATE) * 1000;
    assert.ok(Math.abs(s.audio_start_ms - 300) <= 60, `speech found at ${s.audio_start_ms} ms, said at 300`);
    assert.ok(Math.abs(e.audio_end_ms - spoken) <= 80, `speech ends at ${e.audio_end_ms} ms, said until ${spoken}`);
    // Narrowband speech through a wideband model: heard worse than at 16 kHz (printed, not asserted).
    const final = evs.find((x) => x.type === 'transcript.final');
    console.log(`heard at 8 kHz: "${final.text}"`);
    assert.ok(final.words.length >= 2, 'words were recognised');
    assert.equal(done.status, 'completed');
    await v.close();
  });

  test('rates no sound card uses are refused with unsupported_audio; the session goes on', async () => {
    const v = new VoiceClient();
    await v.connect(ownerUrl());
    for (const bad of [{ audio: { format: 'pcm16', rate: 44000 } }, { reply_audio: { format: 'pcm16', rate: 12345 } }]) {
      const e = await v.start(bad);
      assert.equal(e.type, 'error');
      assert.equal(e.code, 'unsupported_audio', JSON.stringify(e));
      assert.match(e.message, /44100/);
    }
    assert.equal((await v.start({ audio: { format: 'pcm16', rate: 22050 } })).type, 'session.started');
    await v.close();
  });
});

describe("the avatar's voice", () => {
  test('after voice training, replies on the WebSocket are the message audio: the profile pitch', async () => {
    const a = await createAvatar(srv, c.owner.token, { visibility: 'private' });
    const m = await api(srv, 'POST', `/avatars/${a.id}/memories`, { token: c.owner.token, body: { text: FACT, kind: 'fact' } });
    assert.equal(m.status, 201);
    const samples = [
      'I grew up on a farm near the river, and every morning I fed the chickens before school.',
      'My father built boats in the winter and sold them in the spring to the fishermen.',
      'We walked to church on Sundays and visited my grandmother in the afternoon.',
    ];
    /* Synthesised before the uploads: flite and ffmpeg run synchronously and block this process's
     * HTTP client, which on a loaded machine could then send on a keep-alive connection the server
     * had closed meanwhile (its --http-header-timeout counts an idle connection's wait). */
    const bodies = samples.map((text) => wav(concat(silence(300), say(text, { voice: 'kal16', pitch: 110 }), silence(300))));
    for (const body of bodies) {
      const r = await request(srv, 'POST', `/avatars/${a.id}/training/voice`, {
        token: c.owner.token,
        headers: { 'content-type': 'audio/wav' },
        body,
      });
      assert.equal(r.status, 201, r.text);
    }
    const v = new VoiceClient();
    await v.connect(ownerUrl(a.id));
    await v.start();
    const { evs, done } = await turn(v);
    assert.equal(done.status, 'completed', JSON.stringify(evs.filter((e) => e.type === 'error')));
    const start = evs.find((e) => e.type === 'response.audio.start');
    const heard = v.audioSince(start.at);
    const f0 = meanF0(heard, RATE);
    console.log(`reply pitch on the WebSocket: ${f0.toFixed(1)} Hz for a 110 Hz profile`);
    assert.ok(Math.abs(f0 - 110) < 15, `reply pitch ${f0} Hz, profile 110 Hz`);
    // One code path: the message's own audio is the same speech — as long to the sample (the same
    // voice, pitch and rate; flite's unvoiced noise is random, so samples are not compared) and at
    // the same pitch.
    const h = await api(srv, 'GET', `/conversations/${v.events[0].conversation_id}/messages`, { token: c.owner.token });
    const msg = h.json.items.find((x) => x.id === done.message_id);
    const w = await request(srv, 'GET', msg.audio_url);
    assert.equal(w.status, 200);
    const file = new Int16Array(w.buf.buffer.slice(w.buf.byteOffset + 44, w.buf.byteOffset + w.buf.length - (w.buf.length & 1)));
    assert.equal(heard.length, file.length, 'as long as the message audio');
    assert.ok(Math.abs(meanF0(file, RATE) - f0) < 3, `message audio at ${meanF0(file, RATE)} Hz, WebSocket at ${f0} Hz`);
    await v.close();
  });
});

describe('legacy page visitors', () => {
  let pub;
  before(async () => {
    pub = await createAvatar(srv, c.owner.token, { kind: 'legacy', visibility: 'public', publish: ['name'] });
    const r = await api(srv, 'POST', `/avatars/${pub.id}/memories`, { token: c.owner.token, body: { text: FACT, kind: 'fact' } });
    assert.equal(r.status, 201);
  });
  const visit = async (slug) => {
    const r = await api(srv, 'POST', `/legacy/${slug}/conversations`);
    assert.equal(r.status, 201, r.text);
    return { cid: r.json.conversation.id, token: r.json.visitor_token };
  };
  const visitorUrl = (slug, cid, token) =>
    `${base()}/api/v1/legacy/${slug}/conversations/${cid}/voice` + (token == null ? '' : `?visitor_token=${encodeURIComponent(token)}`);
  const tryOpen = (url) =>
    new VoiceClient().connect(url).then(
      (v) => (v.close(), 101),
      (e) => e.status,
    );

  test('a visitor talks by voice in their conversation; it is stored there, as their text turns are', async () => {
    const { cid, token } = await visit(pub.slug);
    const v = new VoiceClient();
    await v.connect(visitorUrl(pub.slug, cid, token));
    const started = await v.start();
    assert.equal(started.type, 'session.started', JSON.stringify(started));
    assert.equal(started.conversation_id, cid);
    assert.ok(!JSON.stringify(started).includes(pub.id), 'no internal id');
    const { done } = await turn(v);
    assert.equal(done.status, 'completed');
    assert.equal(done.text, FACT);
    const h = await api(srv, 'GET', `/legacy/${pub.slug}/conversations/${cid}/messages`, { headers: { authorization: `Visitor ${token}` } });
    assert.equal(h.status, 200, h.text);
    const last = h.json.items.slice(-2);
    assert.deepEqual(last.map((x) => x.role), ['user', 'avatar']);
    assert.equal(last[1].id, done.message_id);
    // The owner turns visitors' talk off: the next turn is refused, as a text turn would be.
    const off = await api(srv, 'PATCH', `/avatars/${pub.id}`, { token: c.owner.token, body: { visitor_talk: false } });
    assert.equal(off.status, 200, off.text);
    const n = v.events.length;
    await v.stream(concat(noise(300, 30), QUESTION, noise(500, 30)));
    const err = await v.waitFor('error', scaled(30000), n);
    assert.equal(err.code, 'not_found');
    assert.equal((await v.waitFor('response.done', scaled(5000), n)).status, 'failed');
    assert.equal(await tryOpen(visitorUrl(pub.slug, cid, token)), 404, 'no new session either');
    await v.close();
    const on = await api(srv, 'PATCH', `/avatars/${pub.id}`, { token: c.owner.token, body: { visitor_talk: true } });
    assert.equal(on.status, 200);
  });

  test('only with its token, on its own page, for a visitor conversation', async () => {
    const { cid, token } = await visit(pub.slug);
    const other = await createAvatar(srv, c.owner.token, { kind: 'legacy', visibility: 'public' });
    const theirs = await visit(other.slug);
    assert.equal(await tryOpen(visitorUrl(pub.slug, cid, null)), 404);
    assert.equal(await tryOpen(visitorUrl(pub.slug, cid, 'x'.repeat(43))), 404);
    assert.equal(await tryOpen(visitorUrl(pub.slug, cid, theirs.token)), 404, "another visitor's token");
    assert.equal(await tryOpen(visitorUrl(other.slug, cid, token)), 404, "another page's address");
    assert.equal(await tryOpen(visitorUrl(pub.slug, cid, 'y'.repeat(300))), 404);
    // A user's own conversation is never a visitor's, whatever token is shown.
    const own = await api(srv, 'POST', `/avatars/${pub.id}/conversations`, { token: c.owner.token });
    assert.equal(own.status, 201);
    assert.equal(await tryOpen(visitorUrl(pub.slug, own.json.conversation.id, c.owner.token)), 404);
    // A private avatar has no page.
    assert.equal(await tryOpen(visitorUrl(av.slug || 'nothing-here', cid, token)), 404);
    const plain = await api(srv, 'GET', `/legacy/${pub.slug}/conversations/${cid}/voice?visitor_token=${token}`);
    assert.equal(plain.status, 426);
    // A session.start naming another conversation is refused; its own is fine.
    const v = new VoiceClient();
    await v.connect(visitorUrl(pub.slug, cid, token));
    const e = await v.start({ conversation_id: theirs.cid });
    assert.equal(e.type, 'error');
    assert.equal(e.code, 'not_found');
    assert.equal((await v.start({ conversation_id: cid })).type, 'session.started');
    await v.close();
  });
});
