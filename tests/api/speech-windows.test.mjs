// Media transcription a window at a time (--transcribe-window): a recording is decoded and heard
// in windows (here 5 s, so that a 40 s file takes several), never whole in memory. Sentences that
// straddle a window's end are heard once and whole — the transcript of the upload is the one POST
// /transcriptions makes of the same file in one piece, segment for segment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cast, createAvatar, request, startAvatars, uploadOk, waitMedia } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, say, silence, wav, withNoise, words } from './lib/speech.mjs';

const SENTENCES = [
  'When I was young we lived on a farm.',
  'Every morning I fed the chickens before school.',
  'My father built boats in the winter.',
  'The market was busy on Saturday morning.',
  'She wrote letters to her sister every week.',
];
const PAUSES = [1400, 3000, 2500, 3700, 10000]; // ms after each: starts and ends fall on both sides of 5 s edges

let srv, c, file, total, at;
before(async () => {
  // Made first: a client connection left idle while flite speaks may be closed by the server.
  const parts = [silence(600)];
  at = [];
  let ms = 600;
  SENTENCES.forEach((s, i) => {
    const pcm = say(s, { voice: 'rms' });
    at.push(ms);
    parts.push(pcm, silence(PAUSES[i]));
    ms += pcm.length / 16 + PAUSES[i];
  });
  file = wav(withNoise(concat(...parts), 60));
  total = ms;
  srv = await startAvatars({ args: ['--transcribe-window', '5', '--transcribe-rate', '1000'] });
  c = await cast(srv);
});
after(async () => {
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
});


test('a recording longer than several windows: every sentence heard once, where it was said, as in one piece', async () => {
  assert.ok(total > 30000, `${total} ms: more than the first window and its overlap`);

  const whole = await request(srv, 'POST', '/transcriptions', { token: c.owner.token, headers: { 'content-type': 'audio/wav' }, body: file });
  assert.equal(whole.status, 200, whole.text);

  const av = await createAvatar(srv, c.owner.token);
  const up = await uploadOk(srv, c.owner.token, av.id, file, 'farm.wav');
  const m = await waitMedia(srv, c.owner.token, up.media.id, (x) => x.status !== 'queued' && x.status !== 'processing', scaled(300000));
  assert.equal(m.status, 'ready', JSON.stringify(m));
  const t = m.transcript;
  console.log(`windows: ${t.segments.map((s) => `[${s.start_ms}-${s.end_ms}] ${s.text}`).join(' | ')}`);
  assert.equal(t.truncated, false);
  assert.ok(Math.abs(t.duration_ms - total) < 50, `duration ${t.duration_ms} of ${total}`);
  // One segment a sentence, in order, starting where it was said.
  assert.equal(t.segments.length, SENTENCES.length, JSON.stringify(t.segments));
  let last = -1;
  t.segments.forEach((s, i) => {
    assert.ok(s.start_ms >= last && s.end_ms > s.start_ms);
    assert.ok(Math.abs(s.start_ms - at[i]) < 400, `sentence ${i} said at ${at[i]} ms, heard at ${s.start_ms}`);
    last = s.end_ms;
  });
  // The same as the recording heard in one piece (a window's edge may move a pause's boundary by a
  // frame or two: the words are the same).
  assert.deepEqual(t.segments.map((s) => s.text), whole.json.segments.map((s) => s.text));
  t.segments.forEach((s, i) => {
    const w = whole.json.segments[i];
    assert.ok(Math.abs(s.start_ms - w.start_ms) <= 50 && Math.abs(s.end_ms - w.end_ms) <= 50, `${JSON.stringify(s)} against ${JSON.stringify(w)}`);
  });
  const heard = words(t.text);
  const content = SENTENCES.flatMap((s) => words(s).filter((w) => w.length > 4));
  const found = content.filter((w) => heard.includes(w)).length;
  console.log(`content words heard: ${found} of ${content.length}`);
  assert.ok(found >= content.length / 2);
});
