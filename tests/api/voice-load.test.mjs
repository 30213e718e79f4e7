// Voice sessions sharing few decoders: with one pocketsphinx decoder and two workers, sessions whose
// utterances end while another session holds the decoder wait without holding a worker, so the
// holder finishes and lends it on — every session hears its question (a worker blocked in the
// wait left the holder's turn queued behind it until the 15 s wait gave up: `unavailable`).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, cast, createAvatar, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
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
