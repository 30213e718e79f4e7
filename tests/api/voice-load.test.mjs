// Voice sessions sharing few decoders: with one pocketsphinx decoder and two workers, sessions whose
// utterances end while another session holds the decoder wait without holding a worker, so the
// holder finishes and lends it on — every session hears its question (a worker blocked in the
// wait left the holder's turn queued behind it until the 15 s wait gave up: `unavailable`).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricsText, metricValue } from './lib/accounts.mjs';
import { api, cast, createAvatar, startAvatars } from './lib/avatars.mjs';
import { eventually, scaled } from './lib/server.mjs';
import { concat, noise, speak, VoiceClient } from './lib/voice.mjs';

let srv, c, av;
before(async () => {
  srv = await startAvatars({ args: ['--stt-pool', '1', '--workers', '2', '--voice-sessions-per-user', '8'] });
  c = await cast(srv);
  av = await createAvatar(srv, c.owner.token, { visibility: 'private' });
  const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text: 'My father was a fisherman.', kind: 'fact' } });
  assert.equal(r.status, 201, r.text);
});
after(async () => {
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
});

test('three sessions, one decoder: the holder finishes first, the others follow; nobody is refused', async () => {
  const url = srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?token=${encodeURIComponent(c.owner.token)}`;
  const vs = [new VoiceClient(), new VoiceClient(), new VoiceClient()];
  for (const v of vs) {
    await v.connect(url);
    assert.equal((await v.start({ turn_detection: 'manual' })).type, 'session.started');
  }
  // The first session takes the decoder with a long question; the others speak after it started
  // and commit first, while it still holds the decoder.
  const long = speak('What about your father and the boats he built in the winter by the river?');
  const short = speak('What about your father?');
  const t0 = performance.now();
  const holder = vs[0].stream(concat(noise(200, 30), long, noise(300, 30))).then(() => vs[0].send({ type: 'input.commit' }));
  await new Promise((r) => setTimeout(r, 600));
  await Promise.all(vs.slice(1).map((v) => v.stream(concat(noise(100, 30), short, noise(200, 30))).then(() => v.send({ type: 'input.commit' }))));
  await holder;
  const finals = await Promise.all(vs.map((v) => v.waitFor((e) => e.type === 'transcript.final' || e.type === 'error', scaled(20000))));
  const took = performance.now() - t0;
  for (const f of finals) assert.equal(f.type, 'transcript.final', JSON.stringify(f));
  for (const f of finals) assert.match(f.text, /father/, f.text);
  console.log(`three finals ${Math.round(took)} ms after the first sample: ${finals.map((f) => `"${f.text}"`).join(', ')}`);
  for (const v of vs) await v.waitFor('response.done', scaled(20000));
  for (const v of vs) await v.close();
});

test('decoders are loaded ahead, one per open session; finals of sessions speaking at once are not serialised', async () => {
  const srv2 = await startAvatars({ args: ['--stt-pool', '3', '--voice-sessions-per-user', '8'] });
  try {
    const c2 = await cast(srv2);
    const av2 = await createAvatar(srv2, c2.owner.token, { visibility: 'private' });
    const url = srv2.url.replace('http', 'ws') + `/api/v1/avatars/${av2.id}/voice?token=${encodeURIComponent(c2.owner.token)}`;
    const decoders = async (state) => metricValue(await metricsText(srv2), 'doppel_stt_decoders', { state });
    assert.equal(await decoders('loaded'), 0, 'nothing is loaded before a session opens');
    const vs = [new VoiceClient(), new VoiceClient(), new VoiceClient(), new VoiceClient()];
    for (const v of vs) {
      await v.connect(url);
      assert.equal((await v.start({ turn_detection: 'manual' })).type, 'session.started');
    }
    // Before anyone speaks: a decoder for each open session, up to the pool's 3; none lent.
    await eventually(async () => (await decoders('loaded')) === 3, { timeoutMs: 30000 });
    assert.equal(await decoders('loaded'), 3);
    assert.equal(await decoders('lent'), 0);
    // One long question, and two short ones that start after it and end before it.
    const long = speak('What about your father and the boats he built in the winter by the river behind the farm?');
    const short = speak('What about your father?');
    const abs = (v, e) => v.t0 + e.at; // events' times on one clock
    const holder = vs[0].stream(concat(noise(200, 30), long, noise(200, 30))).then(() => vs[0].send({ type: 'input.commit' }));
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all(vs.slice(1, 3).map((v) => v.stream(concat(noise(100, 30), short, noise(200, 30))).then(() => v.send({ type: 'input.commit' }))));
    const shortFinals = await Promise.all(vs.slice(1, 3).map((v) => v.waitFor((e) => e.type === 'transcript.final' || e.type === 'error', scaled(20000))));
    await holder;
    const longFinal = await vs[0].waitFor((e) => e.type === 'transcript.final' || e.type === 'error', scaled(20000));
    for (const f of [...shortFinals, longFinal]) assert.equal(f.type, 'transcript.final', JSON.stringify(f));
    console.log(`finals: long "${longFinal.text}", short ${shortFinals.map((f) => `"${f.text}"`).join(', ')}`);
    assert.match(longFinal.text, /father/, longFinal.text);
    for (const [i, f] of shortFinals.entries()) {
      assert.match(f.text, /father/, f.text);
      // Committed while the long question was still being spoken: heard before it ended.
      assert.ok(abs(vs[i + 1], f) < abs(vs[0], longFinal), `short final ${i} came after the long one`);
    }
    for (const v of vs) await v.close();
    await eventually(async () => (await decoders('lent')) === 0, { timeoutMs: 10000 });
    assert.equal(await decoders('lent'), 0, 'every decoder is given back');
    // Let the closed sessions' last tasks finish before the stop: a task still queued behind
    // another at shutdown is not freed (a known leak at exit, reported by LeakSanitizer).
    await eventually(async () => metricValue(await metricsText(srv2), 'doppel_websockets_open') === 0, { timeoutMs: 10000 });
    await new Promise((r) => setTimeout(r, scaled(500)));
  } finally {
    assert.equal(await srv2.stop('SIGTERM', 90000), 0);
  }
});
