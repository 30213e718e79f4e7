// Capture conversations cropped to speech, with wall-clock times: a closed conversation is filed
// as its self avatar's media without its long silences (pauses kept, the original recording
// untouched), its crop map says which piece of the recording each stretch of the media is, the
// memories' spans play the words they hold, and each memory carries when it was said — the
// recording's start plus its place in the recording, or a back-filling device's own clock —
// which a "when" question to the self avatar is answered with.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, signup, startAccounts } from './lib/accounts.mjs';
import { request } from './lib/avatars.mjs';
import { converse } from './lib/capture.mjs';
import { RATE, concat, say, silence, wav, withNoise, words } from './lib/speech.mjs';

let srv, alice;
before(async () => {
  srv = await startAccounts({ args: ['--capture-sync-ms', '20', '--capture-silence-close', '600'] });
  alice = await signup(srv);
});
after(async () => srv && srv.cleanup());

const get = async (p) => (await api(srv, 'GET', p, { token: alice.token })).json;

/* One conversation of alice's device; resolves to its recording once processed. */
async function processed(name, pcm, start = {}) {
  const id = await converse(srv, alice.token, name, pcm, start);
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await get(`/recordings/${id}`);
    if (!['recording', 'pending', 'transcribing'].includes(r.conversation.state)) return r;
    if (Date.now() > deadline) assert.fail(`conversation ${id} still ${r.conversation.state}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/* The media's PCM (its WAV's samples after the 44-byte header). */
async function mediaPcm(mediaId) {
  const r = await request(srv, 'GET', `/media/${mediaId}/content`, { token: alice.token });
  assert.equal(r.status, 200);
  assert.equal(r.buf.toString('latin1', 0, 4), 'RIFF');
  return new Int16Array(r.buf.buffer.slice(r.buf.byteOffset + 44, r.buf.byteOffset + r.buf.length));
}

const ms = (n) => Math.round((n * RATE) / 1000);

test('a conversation is filed cropped to its speech; each piece is the recording audio it says it is', async () => {
  const first = 'my brother bought a boat in october';
  const second = 'the garden needs water every morning';
  // 3 s of room, speech, 9 s of room (a long silence: dropped), speech, 1 s of room.
  const pcm = withNoise(concat(silence(3000), say(first), silence(9000), say(second), silence(1000)), 60, 11);
  const rec = await processed('pendant', pcm);
  assert.equal(rec.conversation.state, 'ready', JSON.stringify(rec.conversation));
  const crop = rec.conversation.crop;
  assert.ok(Array.isArray(crop) && crop.length === 2, `two pieces kept: ${JSON.stringify(crop)} of ${JSON.stringify(rec.conversation.segments)}`);
  // Each piece is a speech segment with its padding; the long silences are gone.
  const [s0] = rec.conversation.segments[0];
  assert.ok(crop[0][1] >= 2000 && crop[0][1] <= s0, `leading quiet dropped but for the padding: ${crop[0][1]} (speech at ${s0})`);
  assert.equal(crop[0][0], 0);
  assert.equal(crop[1][0], crop[0][2], 'the pieces follow one another in the media');
  assert.ok(crop[1][1] - (crop[0][1] + crop[0][2]) >= 7000, 'most of the 9 s silence is dropped');
  const kept = crop.reduce((n, p) => n + p[2], 0);
  const media = await mediaPcm(rec.conversation.media_id);
  assert.equal(media.length, ms(kept), 'the media is as long as its pieces');
  assert.ok(kept < rec.duration_ms - 8000, `${kept} ms kept of ${rec.duration_ms}`);
  for (const [m, r, len] of crop)
    assert.deepEqual(media.subarray(ms(m), ms(m + len)), pcm.subarray(ms(r), ms(r + len)), `piece at ${m} is recording ${r}`);
  // The original recording is kept whole.
  assert.equal(rec.bytes, pcm.length * 2);

  // Memories: spans in the media's time that play their own words, said at the recording's time.
  assert.ok(rec.memories.length >= 2, JSON.stringify(rec.memories));
  const started = Date.parse(rec.started_at);
  // Which sentence a span plays is told by what the recogniser hears in it: its own sentence's
  // words, none of the other's (each piece holds one sentence).
  const sentences = [first, second].map((t) => new Set(words(t)));
  for (const mem of rec.memories) {
    const { start_ms: s, end_ms: e } = mem.source;
    assert.ok(s >= 0 && e <= kept && s < e);
    const k = crop.findLastIndex((p) => p[0] <= s);
    const piece = crop[k];
    assert.equal(Date.parse(mem.occurred_at), started + piece[1] + (s - piece[0]), `${mem.text}: said at the recording's time`);
    const clip = wav(media.subarray(ms(s), ms(e)));
    const heard = await request(srv, 'POST', '/transcriptions', { token: alice.token, headers: { 'content-type': 'audio/wav' }, body: clip });
    assert.equal(heard.status, 200, heard.text);
    const got = words(heard.json.text);
    const own = got.filter((w) => sentences[k].has(w) && !sentences[1 - k].has(w));
    const other = got.filter((w) => sentences[1 - k].has(w) && !sentences[k].has(w));
    assert.ok(own.length >= 2 && other.length === 0, `the span of "${mem.text}" plays sentence ${k + 1} (heard "${heard.json.text}")`);
  }
  const late = rec.memories.filter((m) => words(m.text).some((w) => ['garden', 'water', 'morning'].includes(w)));
  assert.ok(late.length, 'the second sentence was heard');
  for (const m of late) assert.ok(Date.parse(m.occurred_at) >= started + 3000 + (say(first).length * 1000) / RATE + 8000, 'after the long silence');

  // The self avatar's memories show the times too (what "when" questions read).
  const listed = await get(`/avatars/${rec.conversation.avatar_id}/memories?limit=100`);
  for (const mem of rec.memories) assert.equal(listed.items.find((x) => x.id === mem.id).occurred_at, mem.occurred_at);
});

test("a back-fill's memories carry the device's own clock", async () => {
  const when = Date.parse('2026-03-14T09:30:00.000Z');
  const pcm = withNoise(concat(silence(1000), say('we met at the library on saturday'), silence(800)), 60, 5);
  const rec = await processed('watch', pcm, { mode: 'batch', timestamp: when });
  assert.equal(rec.mode, 'batch');
  assert.equal(Date.parse(rec.started_at), when);
  assert.equal(rec.conversation.state, 'ready', JSON.stringify(rec.conversation));
  assert.ok(rec.memories.length >= 1);
  const [[m0, r0]] = rec.conversation.crop;
  for (const mem of rec.memories) {
    assert.equal(Date.parse(mem.occurred_at), when + r0 + (mem.source.start_ms - m0));
    assert.ok(mem.occurred_at.startsWith('2026-03-14T09:30:0'), mem.occurred_at);
  }
  // A "when" question to the self avatar is answered with the day it was said (the question
  // without the weekday the sentence ends with: recall reads a weekday as a recent one).
  const mem = rec.memories[0];
  const conv = await api(srv, 'POST', `/avatars/${rec.conversation.avatar_id}/conversations`, { token: alice.token });
  assert.equal(conv.status, 201);
  const r = await api(srv, 'POST', `/conversations/${conv.json.conversation.id}/messages`, { token: alice.token, body: { text: `When did ${mem.text.replace(/ on \w+day$/, '')}?` } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const found = await get(`/avatars/${rec.conversation.avatar_id}/memories?q=${encodeURIComponent(mem.text)}`);
  assert.equal(r.json.message.citations[0]?.memory_id, mem.id, `${r.json.message.text} / ${mem.text} / ${JSON.stringify(found.items.map((x) => x.text))}`);
  assert.ok(r.json.message.text.endsWith('(14 March 2026)'), r.json.message.text);
});
