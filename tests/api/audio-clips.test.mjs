// Replies heard from the avatar's own recordings: memories with a source span of a recording,
// audio_url on replies that quote them (JSON, SSE done, history), GET /messages/{mid}/audio serving
// exactly that span of a PCM WAV, who may fetch it, and the spans that are refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  assertNoLeak,
  cast,
  createAvatar,
  errorShape,
  expectStatus,
  fixture,
  request,
  startAvatars,
  uploadOk,
  waitMedia,
} from './lib/avatars.mjs';
import { pcmWav } from './lib/wav.mjs';

const RATE = 16000;
const SECONDS = 2;

/* A 16-bit mono 16 kHz PCM WAV whose every sample differs from its neighbours, so that any
 * off-by-one in a cut shows. */
const makeWav = () => pcmWav(RATE * SECONDS, RATE, (i) => ((i * 7919) % 65536) - 32768);

/* The samples of [startMs, endMs) of a makeWav() file. */
const span = (wav, startMs, endMs) => wav.subarray(44 + (startMs * RATE * 2) / 1000, 44 + (endMs * RATE * 2) / 1000);

let srv, c, wav;
before(async () => {
  // Without speech synthesis, so that only replies quoting a recording have audio (spoken replies:
  // speech-replies.test.mjs).
  srv = await startAvatars({ args: ['--tts-provider', 'none'] });
  c = await cast(srv);
  wav = makeWav();
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
});

async function addMemory(av, body, token = c.owner.token) {
  const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token, body });
  expectStatus(assert, r, 201, undefined, `POST memory ${JSON.stringify(body)}`);
  return r.json;
}

async function start(av, token = c.owner.token) {
  const r = await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token });
  expectStatus(assert, r, 201, undefined, 'start a conversation');
  return r.json;
}

async function say(conv, text, token = c.owner.token) {
  const r = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { token, body: { text } });
  expectStatus(assert, r, 201, undefined, `say ${text}`);
  return r.json.message;
}

const audio = (url, token = c.owner.token, headers = {}) => request(srv, 'GET', url, { token, headers });
const audioPath = (mid) => `/api/v1/messages/${mid}/audio`;
/* audio_url is the path signed for an hour or two: ?exp=<unix seconds>&sig=<base64url HMAC>. */
function assertAudioUrl(url, mid) {
  const m = /^(.*)\?exp=(\d+)&sig=([A-Za-z0-9_-]{43})$/.exec(url || '');
  assert.ok(m, `a signed audio_url: ${url}`);
  assert.equal(m[1], audioPath(mid));
  const ttl = Number(m[2]) - Date.now() / 1000;
  assert.ok(ttl > 3000 && ttl <= 7200 + 5, `valid for one to two hours: ${ttl} s`);
}

/* Checks a canonical 16-bit mono 16 kHz WAV header; resolves the sample bytes. */
function wavSamples(buf) {
  assert.equal(buf.toString('latin1', 0, 4), 'RIFF');
  assert.equal(buf.readUInt32LE(4), buf.length - 8, 'RIFF size');
  assert.equal(buf.toString('latin1', 8, 16), 'WAVEfmt ');
  assert.equal(buf.readUInt32LE(16), 16);
  assert.equal(buf.readUInt16LE(20), 1, 'PCM');
  assert.equal(buf.readUInt16LE(22), 1, 'mono');
  assert.equal(buf.readUInt32LE(24), RATE);
  assert.equal(buf.readUInt32LE(28), RATE * 2, 'byte rate');
  assert.equal(buf.readUInt16LE(32), 2, 'block align');
  assert.equal(buf.readUInt16LE(34), 16);
  assert.equal(buf.toString('latin1', 36, 40), 'data');
  assert.equal(buf.readUInt32LE(40), buf.length - 44, 'data size');
  return buf.subarray(44);
}

describe('replies quoting a recording', () => {
  let av, rec, sail, bread;
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { visibility: 'org' });
    rec = (await uploadOk(srv, c.owner.token, av.id, wav, 'uncle.wav')).media;
    assert.equal(rec.kind, 'audio');
    sail = await addMemory(av, {
      text: 'I learned to sail on Lough Derg with my uncle.',
      kind: 'utterance',
      source: { media_id: rec.id, start_ms: 500, end_ms: 1250 },
    });
    bread = await addMemory(av, { text: 'My mother baked brown soda bread every Friday.', source: null });
  });

  test('a memory keeps its source span; without one, source is null', async () => {
    assert.deepEqual(
      { media_id: sail.source.media_id, start_ms: sail.source.start_ms, end_ms: sail.source.end_ms },
      { media_id: rec.id, start_ms: 500, end_ms: 1250 },
    );
    assert.equal(bread.source, null);
    const r = await api(srv, 'GET', `/avatars/${av.id}/memories`, { token: c.owner.token });
    const listed = r.json.items.find((m) => m.id === sail.id);
    assert.equal(listed.source.media_id, rec.id);
    assert.equal(listed.source.end_ms, 1250);
  });

  test('the reply carries audio_url, which serves exactly the span as a WAV', async () => {
    const conv = await start(av);
    const m = await say(conv, 'Where did you learn to sail?');
    assert.equal(m.citations[0].memory_id, sail.id, JSON.stringify(m));
    assertAudioUrl(m.audio_url, m.id);
    const r = await audio(m.audio_url, null); // what an <audio src> sends: no Authorization header
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^audio\/wav/);
    assert.equal(r.buf.length, 44 + 750 * 32);
    assert.ok(wavSamples(r.buf).equals(span(wav, 500, 1250)), 'the samples are the source span, frame-exact');
    const etag = r.headers.get('etag');
    assert.ok(etag, 'ETag');
    assert.match(r.headers.get('cache-control'), /private/);
    const again = await audio(m.audio_url, c.owner.token, { 'if-none-match': etag });
    assert.equal(again.status, 304);
  });

  test('SSE: the done event carries audio_url; the history carries it on that reply only', async () => {
    const conv = await start(av);
    const r = await fetch(`${srv.url}/api/v1/conversations/${conv.conversation.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.owner.token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Tell me about sailing on Lough Derg' }),
    });
    assert.equal(r.status, 200);
    const blocks = (await r.text()).trim().split('\n\n');
    const done = blocks.find((b) => /^event: done$/m.test(b));
    const msg = JSON.parse(done.match(/^data: (.*)$/m)[1]).message;
    assert.equal(msg.citations[0].memory_id, sail.id);
    assertAudioUrl(msg.audio_url, msg.id);
    await say(conv, 'What did your mother bake?');
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    const withAudio = h.json.items.filter((x) => x.audio_url).map((x) => x.id);
    assert.deepEqual(withAudio, [msg.id]);
    assertAudioUrl(h.json.items.find((x) => x.id === msg.id).audio_url, msg.id);
  });

  test('messages without audio → 404 not_found saying so; unknown ids → 404', async () => {
    const conv = await start(av);
    const m = await say(conv, 'What did your mother bake?');
    assert.equal(m.citations[0].memory_id, bread.id);
    assert.equal(m.audio_url, undefined);
    for (const mid of [m.id, conv.message.id]) {
      const r = await audio(audioPath(mid));
      errorShape(assert, r, 404, 'not_found');
      assert.match(r.json.error.message, /no audio/);
      assert.match(r.json.error.message, /speech synthesis/);
    }
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    const userMsg = h.json.items.find((x) => x.role === 'user');
    errorShape(assert, await audio(audioPath(userMsg.id)), 404, 'not_found');
    errorShape(assert, await audio(audioPath('01900000-0000-7000-8000-000000000000')), 404, 'not_found');
    errorShape(assert, await audio(audioPath('not-an-id')), 404, 'not_found');
  });

  test('only the conversation\'s user (by token or the signed link) may fetch it, and only while the avatar is visible to them', async () => {
    const conv = await start(av);
    const m = await say(conv, 'Where did you learn to sail?');
    for (const who of [c.member, c.outsider, c.admin]) {
      const r = await audio(audioPath(m.id), who.token);
      errorShape(assert, r, 404, 'not_found');
      assert.doesNotMatch(r.json.error.message, /no audio/, 'a stranger is not told whether the reply has audio');
    }
    assert.equal((await audio(audioPath(m.id), null)).status, 401, 'neither a token nor a signed link');
    assert.equal((await audio(audioPath(m.id), c.owner.token)).status, 200, 'the user, by token');
    const [, exp, sig] = /\?exp=(\d+)&sig=(.*)$/.exec(m.audio_url);
    const forged = [
      `${audioPath(m.id)}?exp=${exp}&sig=${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
      `${audioPath(m.id)}?exp=${Number(exp) + 3600}&sig=${sig}`,
      `${audioPath(m.id)}?exp=${Math.floor(Date.now() / 1000) - 10}&sig=${sig}`,
      `${audioPath(conv.message.id)}?exp=${exp}&sig=${sig}`,
    ];
    for (const url of forged) errorShape(assert, await audio(url, null), 404, 'not_found');
    // A member's own conversation with an org avatar: audible until the avatar turns private.
    const other = await createAvatar(srv, c.owner.token, { visibility: 'org' });
    const orec = (await uploadOk(srv, c.owner.token, other.id, wav, 'other.wav')).media;
    await addMemory(other, { text: 'The heron stood in the reeds at dawn.', source: { media_id: orec.id, start_ms: 0, end_ms: 100 } });
    const mconv = await start(other, c.member.token);
    const mm = await say(mconv, 'Tell me about the heron in the reeds', c.member.token);
    assert.ok(mm.audio_url, JSON.stringify(mm));
    const ok = await audio(mm.audio_url, c.member.token);
    assert.equal(ok.status, 200);
    assert.ok(wavSamples(ok.buf).equals(span(wav, 0, 100)));
    const p = await api(srv, 'PATCH', `/avatars/${other.id}`, { token: c.owner.token, body: { visibility: 'private' } });
    expectStatus(assert, p, 200, undefined, 'make the avatar private');
    errorShape(assert, await audio(audioPath(mm.id), c.member.token), 404, 'not_found');
    errorShape(assert, await audio(mm.audio_url, null), 404, 'not_found', 'the signed link dies with the access');
  });

  test('deleting the quoted memory takes the audio away from the reply', async () => {
    const m0 = await addMemory(av, {
      text: 'The kettle whistled on the range all winter long.',
      source: { media_id: rec.id, start_ms: 1000, end_ms: 2000 },
    });
    const conv = await start(av);
    const m = await say(conv, 'What whistled on the range?');
    assert.equal(m.citations[0].memory_id, m0.id);
    assert.equal((await audio(m.audio_url)).status, 200);
    const d = await api(srv, 'DELETE', `/avatars/${av.id}/memories/${m0.id}`, { token: c.owner.token });
    assert.equal(d.status, 204);
    errorShape(assert, await audio(m.audio_url), 404, 'not_found');
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    assert.equal(h.json.items.find((x) => x.id === m.id).audio_url, undefined);
  });

  test('recordings other than PCM WAV are decoded: the span as a 16 kHz WAV with faded ends', async () => {
    const mp3 = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.mp3'), 'lighthouse.mp3')).media;
    const mem = await addMemory(av, {
      text: 'The lighthouse keeper whistled every evening.',
      source: { media_id: mp3.id, start_ms: 0, end_ms: 300 },
    });
    const conv = await start(av);
    const m = await say(conv, 'Who whistled every evening?');
    assert.equal(m.citations[0].memory_id, mem.id);
    assertAudioUrl(m.audio_url, m.id);
    const r = await audio(m.audio_url);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^audio\/wav/);
    const samples = wavSamples(r.buf);
    assert.ok(Math.abs(samples.length / 2 - 4800) < 600, `${samples.length / 2} samples for 300 ms`);
    assert.equal(samples.readInt16LE(0), 0, 'faded in');
    assert.equal((await audio(m.audio_url)).headers.get('etag'), r.headers.get('etag'), 'made once, kept');
  });
});

describe('memory sources that are refused', () => {
  let av, rec, doc, theirs, outsiderAv;
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    rec = (await uploadOk(srv, c.owner.token, av.id, wav, 'rec.wav')).media;
    doc = (await uploadOk(srv, c.owner.token, av.id, Buffer.from('Plain notes about the farm.\n'), 'notes.txt')).media;
    // Its passages become memories in a job: let that finish before memories are counted.
    assert.equal((await waitMedia(srv, c.owner.token, doc.id, (m) => m.status === 'ready')).status, 'ready');
    outsiderAv = await createAvatar(srv, c.outsider.token);
    theirs = (await uploadOk(srv, c.outsider.token, outsiderAv.id, wav, 'secret-diary.wav')).media;
  });

  async function count() {
    const r = await api(srv, 'GET', `/avatars/${av.id}/memories?limit=200`, { token: c.owner.token });
    return r.json.items.length;
  }

  test('bad spans and fields → 400 with a message; nothing is stored', async () => {
    const before = await count();
    const bad = [
      [{ media_id: rec.id, start_ms: -1, end_ms: 100 }, /start_ms/],
      [{ media_id: rec.id, start_ms: 100, end_ms: 100 }, /start_ms < end_ms/],
      [{ media_id: rec.id, start_ms: 200, end_ms: 100 }, /start_ms < end_ms/],
      [{ media_id: rec.id, start_ms: 0, end_ms: 2001 }, /past the end.*2000 ms/],
      [{ media_id: rec.id, start_ms: 1500, end_ms: 1e9 }, /at most 10 minutes/],
      [{ media_id: rec.id, start_ms: 0.5, end_ms: 100 }, /whole milliseconds/],
      [{ media_id: rec.id, start_ms: '0', end_ms: 100 }, /whole milliseconds/],
      [{ media_id: rec.id, end_ms: 100 }, /whole milliseconds/],
      [{ start_ms: 0, end_ms: 100 }, /media_id/],
      [{ media_id: 42, start_ms: 0, end_ms: 100 }, /media_id/],
      [{ media_id: 'not-an-id', start_ms: 0, end_ms: 100 }, /not a recording of this avatar/],
      [{ media_id: doc.id, start_ms: 0, end_ms: 100 }, /audio or video/],
      ['rec.wav', /source must be an object/],
      [[rec.id, 0, 100], /source must be an object/],
    ];
    for (const [source, why] of bad) {
      const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text: 'A span', source } });
      errorShape(assert, r, 400, 'invalid_input');
      assert.match(r.json.error.message, why, JSON.stringify(source));
    }
    assert.equal(await count(), before);
    // The edge is allowed: the whole recording.
    await addMemory(av, { text: 'The whole recording', source: { media_id: rec.id, start_ms: 0, end_ms: 2000 } });
    assert.equal(await count(), before + 1);
  });

  test("another avatar's recording is refused exactly like an unknown id, leaking nothing", async () => {
    const unknown = '01900000-0000-7000-8000-000000000000';
    const a = await api(srv, 'POST', `/avatars/${av.id}/memories`, {
      token: c.owner.token,
      body: { text: 'Stolen span', source: { media_id: theirs.id, start_ms: 0, end_ms: 100 } },
    });
    const b = await api(srv, 'POST', `/avatars/${av.id}/memories`, {
      token: c.owner.token,
      body: { text: 'Stolen span', source: { media_id: unknown, start_ms: 0, end_ms: 100 } },
    });
    errorShape(assert, a, 400, 'invalid_input');
    errorShape(assert, b, 400, 'invalid_input');
    assert.equal(a.json.error.message, b.json.error.message);
    assert.ok(!a.text.includes('secret-diary'), a.text);
    assertNoLeak(assert, a, outsiderAv, 'source of another avatar');
    const r = await api(srv, 'GET', `/avatars/${av.id}/memories?q=Stolen`, { token: c.owner.token });
    assert.equal(r.json.items.length, 0);
  });
});
