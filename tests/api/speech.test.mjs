// Speech to text through the API: POST /transcriptions of synthesized speech (flite's CLI with a
// voice other than the server's; made at test time) in several containers, mixed with silence and
// noise; audio media transcribed by the
// media.ingest job into utterance memories with their spans; re-transcription as a new version;
// the caps and refusals. The word error rate is measured by bench/voice/wer.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, cast, createAvatar, errorShape, expectStatus, listAll, request, startAvatars, uploadOk, waitMedia } from './lib/avatars.mjs';
import { multipartBody } from './lib/avatars.mjs';
import { concat, encode, say, silence, wav, withNoise, words } from './lib/speech.mjs';

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

const transcribe = (bytes, { token = c.owner.token, headers = { 'content-type': 'application/octet-stream' } } = {}) =>
  request(srv, 'POST', '/transcriptions', { token, headers, body: bytes });

function checkSegments(t) {
  let last = -1;
  for (const s of t.segments) {
    assert.ok(s.start_ms >= last && s.end_ms > s.start_ms, JSON.stringify(t.segments));
    assert.ok(s.confidence >= 0 && s.confidence <= 1);
    assert.ok(s.end_ms <= t.duration_ms + 10, `${s.end_ms} within ${t.duration_ms}`);
    last = s.end_ms;
  }
}

describe('POST /transcriptions', () => {
  test('a spoken sentence comes back with its key words, in every container', async () => {
    const pcm = concat(silence(500), say('My grandmother grew roses in her garden.'), silence(500));
    for (const [name, bytes] of [['wav', wav(pcm)], ['mp3', encode(wav(pcm), 'mp3')], ['ogg', encode(wav(pcm), 'ogg')],
      ['m4a', encode(wav(pcm), 'm4a')], ['webm', encode(wav(pcm), 'webm')]]) {
      const r = await transcribe(bytes);
      expectStatus(assert, r, 200, undefined, name);
      const w = words(r.json.text);
      assert.ok(w.includes('garden') || w.includes('roses') || w.includes('grandmother'), `${name}: "${r.json.text}"`);
      assert.equal(r.json.engine, 'pocketsphinx');
      assert.ok(Math.abs(r.json.duration_ms - (pcm.length / 16)) < 150, `${name}: ${r.json.duration_ms} ms`);
      assert.equal(r.json.segments.length, 1, `${name}: ${JSON.stringify(r.json.segments)}`);
      checkSegments(r.json);
    }
  });

  test('two sentences with a pause between, under noise, are two segments at their times', async () => {
    const a = say('Good morning everyone.'), b = say('The train leaves at seven in the evening.');
    const pcm = withNoise(concat(silence(1000), a, silence(2000), b, silence(800)));
    const mp = multipartBody([{ name: 'file', filename: 'two.wav', type: 'audio/wav', data: wav(pcm) }]);
    const r = await transcribe(mp.body, { headers: { 'content-type': mp.contentType } });
    expectStatus(assert, r, 200);
    const segs = r.json.segments;
    assert.equal(segs.length, 2, JSON.stringify(segs));
    checkSegments(r.json);
    const secondAt = 1000 + a.length / 16 + 2000;
    assert.ok(segs[0].start_ms >= 800 && segs[0].start_ms < 1400, `first at ${segs[0].start_ms}`);
    assert.ok(segs[0].end_ms < secondAt, `first ends ${segs[0].end_ms} before ${secondAt}`);
    assert.ok(Math.abs(segs[1].start_ms - secondAt) < 400, `second at ${segs[1].start_ms}, spoken at ${secondAt}`);
    assert.ok(words(segs[1].text).some((w) => ['train', 'seven', 'evening', 'leaves'].includes(w)), segs[1].text);
    assert.equal(r.json.text, segs.map((s) => s.text).join(' '));
  });

  test('silence has no segments', async () => {
    const r = await transcribe(wav(withNoise(silence(3000), 30)));
    expectStatus(assert, r, 200);
    assert.deepEqual(r.json.segments, []);
    assert.equal(r.json.text, '');
  });

  test('refusals: no token, empty, not audio, too long; nothing is kept', async () => {
    errorShape(assert, await transcribe(wav(silence(100)), { token: null }), 401);
    const empty = await transcribe(Buffer.alloc(0));
    errorShape(assert, empty, 400);
    const text = await transcribe(Buffer.from('this is not audio at all\n'.repeat(20)));
    errorShape(assert, text, 415);
    assert.match(text.json.error.message, /no audio ffmpeg can decode/);
    const long = await transcribe(wav(silence(10 * 60 * 1000 + 2000)));
    errorShape(assert, long, 413);
    assert.match(long.json.error.message, /longer than 10 minutes/);
  });
});

describe('audio media into memories', () => {
  test('an uploaded recording becomes utterances with their spans, and a transcript; reprocessing is version 2', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const a = say('When I was young we lived on a farm.'), b = say('Every morning I fed the chickens before school.');
    const pcm = withNoise(concat(silence(700), a, silence(1500), b, silence(700)));
    const up = await uploadOk(srv, c.owner.token, av.id, encode(wav(pcm), 'mp3'), 'farm.mp3');
    const m = await waitMedia(srv, c.owner.token, up.media.id, (x) => x.status !== 'queued' && x.status !== 'processing', 60000);
    assert.equal(m.status, 'ready', JSON.stringify(m));
    assert.match(m.status_detail, /transcribed into 2 segments/);
    assert.equal(m.transcript.version, 1);
    assert.equal(m.meta.transcript_version, 1);
    assert.equal(m.transcript.segments.length, 2);
    checkSegments(m.transcript);
    const mems = await listAll(srv, `/api/v1/avatars/${av.id}/memories`, c.owner.token);
    assert.equal(mems.length, 2);
    const bySpan = mems.sort((x, y) => x.source.start_ms - y.source.start_ms);
    for (let i = 0; i < 2; i++) {
      assert.equal(bySpan[i].kind, 'utterance');
      assert.equal(bySpan[i].source.media_id, m.id);
      assert.equal(bySpan[i].source.start_ms, m.transcript.segments[i].start_ms);
      assert.equal(bySpan[i].source.end_ms, m.transcript.segments[i].end_ms);
      assert.equal(bySpan[i].text, m.transcript.segments[i].text);
    }
    assert.ok(words(bySpan[1].text).some((w) => ['chickens', 'morning', 'school'].includes(w)), bySpan[1].text);
    // The job reported its progress on the way.
    const job = await api(srv, 'GET', `/jobs/${up.job.id}`, { token: c.owner.token });
    assert.equal(job.json.status, 'done');
    assert.equal(job.json.progress, 100);

    // Others cannot see the transcript, nor reprocess.
    errorShape(assert, await api(srv, 'GET', `/media/${m.id}`, { token: c.outsider.token }), 404);
    errorShape(assert, await api(srv, 'POST', `/media/${m.id}/reprocess`, { token: c.outsider.token }), 404);

    const re = await api(srv, 'POST', `/media/${m.id}/reprocess`, { token: c.owner.token });
    expectStatus(assert, re, 202);
    assert.ok(['queued', 'processing'].includes(re.json.media.status), re.json.media.status); // a free worker may have it already
    const m2 = await waitMedia(srv, c.owner.token, m.id, (x) => x.transcript?.version === 2 && x.status === 'ready', 60000);
    assert.equal(m2.transcript.version, 2, JSON.stringify(m2));
    assert.deepEqual(m2.transcript.segments, m.transcript.segments, 'the same engine hears the same');
    const again = await listAll(srv, `/api/v1/avatars/${av.id}/memories`, c.owner.token);
    assert.equal(again.length, 2, 'the utterances were replaced, not added');
  });
});
