// Capture conversations: the VAD over a device's stream closes a conversation after a silence
// following speech (per user and device), a closed one is transcribed into timestamped utterance
// memories of the user's self avatar citing spans of the recording, reprocess makes the next
// version; silence alone makes no conversation. Audio is sent faster than real time: the
// silence is counted in the audio's time, not the wall clock.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, expectStatus, signup, startAccounts } from './lib/accounts.mjs';
import { device } from './lib/capture.mjs';
import { concat, say, silence, withNoise, words } from './lib/speech.mjs';

let srv, alice, bob;
before(async () => {
  srv = await startAccounts({ args: ['--capture-sync-ms', '20', '--capture-silence-close', '600'] });
  alice = await signup(srv);
  bob = await signup(srv);
});
after(async () => srv && srv.cleanup());

const get = async (token, p) => (await api(srv, 'GET', p, { token })).json;

/* Sends pcm as 100 ms chunks numbered from seq0; resolves to the next seq. */
function stream(ws, pcm, seq0 = 0) {
  const b = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.length * 2);
  let seq = seq0;
  for (let at = 0; at < b.length; at += 3200) ws.chunk(b.subarray(at, Math.min(at + 3200, b.length)), seq++);
  return seq;
}

/* Waits until the recording's conversation leaves pending/transcribing. */
async function settled(token, id, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(token, `/recordings/${id}`);
    if (!['recording', 'pending', 'transcribing'].includes(r.conversation.state)) return r;
    if (Date.now() > deadline) assert.fail(`conversation of ${id} still ${r.conversation.state}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('settings: the silence close per user and per device, checked', async () => {
  let r = await api(srv, 'GET', '/capture/settings', { token: alice.token });
  expectStatus(assert, r, 200);
  assert.deepEqual(r.json, { silence_close_s: 600, server_default: 600, devices: [] });
  for (const body of [{ silence_close_s: 1 }, { silence_close_s: 14401 }, { silence_close_s: '5' }, {},
    { silence_close_s: 5, device_name: 'bad name!' }, { silence_close_s: 5, device_name: 'x'.repeat(65) }]) {
    r = await api(srv, 'PUT', '/capture/settings', { token: alice.token, body });
    expectStatus(assert, r, 400);
  }
  r = await api(srv, 'PUT', '/capture/settings', { token: alice.token, body: { silence_close_s: 120 } });
  expectStatus(assert, r, 200);
  r = await api(srv, 'PUT', '/capture/settings', { token: alice.token, body: { silence_close_s: 2, device_name: 'pendant' } });
  expectStatus(assert, r, 200);
  assert.deepEqual(r.json, { silence_close_s: 120, server_default: 600, devices: [{ device_name: 'pendant', silence_close_s: 2 }] });
  r = await api(srv, 'GET', '/capture/settings', { token: bob.token });
  assert.equal(r.json.silence_close_s, 600, "another user's settings are their own");
});

let spoken; // the first conversation: {id, text}
test('a silence after speech closes the conversation; the stream goes on in the next one', async () => {
  const first = 'my sister lives in lisbon and plays the cello';
  const second = 'tomorrow we are flying to berlin';
  assert.deepEqual((await get(alice.token, '/avatars')).items, [], 'no avatar yet (and the list cached)');
  const ws = await device(srv, alice.token, { name: 'pendant' });
  ws.start();
  const id1 = (await ws.next('ack')).data.recording_id;
  // Quiet room, speech, then 2.5 s of quiet: more than the device's 2 s.
  let seq = stream(ws, withNoise(concat(silence(800), say(first), silence(2500)), 60));
  const closed = await ws.next('recording.closed', 10000);
  assert.deepEqual([closed.data.recording_id, closed.data.reason], [id1, 'silence']);
  seq = stream(ws, withNoise(concat(say(second), silence(300)), 60, 9), seq);
  const ack = await ws.next('ack');
  assert.notEqual(ack.data.recording_id, id1, 'the next chunk starts the next conversation');
  const id2 = ack.data.recording_id;
  ws.stop();
  const closed2 = await ws.next('recording.closed');
  assert.deepEqual([closed2.data.recording_id, closed2.data.reason], [id2, 'audio-stop']);
  ws.close();

  const rec = await settled(alice.token, id1);
  assert.equal(rec.conversation.state, 'ready', JSON.stringify(rec.conversation));
  assert.equal(rec.close_reason, 'silence');
  assert.ok(rec.conversation.speech_ms > 1000 && rec.conversation.speech_ms < rec.duration_ms);
  const [s0, e0] = rec.conversation.segments[0];
  assert.ok(s0 >= 600 && s0 <= 1200, `speech starts after the 800 ms of quiet (${s0})`);
  assert.ok(e0 > s0);
  assert.ok(rec.transcript && rec.transcript.version === 1, 'the first transcript version');
  const heard = new Set(words(rec.transcript.text));
  assert.ok(['sister', 'lisbon', 'cello'].filter((w) => heard.has(w)).length >= 2, rec.transcript.text);
  assert.ok(rec.memories.length >= 1);
  for (const m of rec.memories) {
    assert.equal(m.kind, 'utterance');
    assert.equal(m.source.media_id, rec.conversation.media_id);
    assert.ok(m.source.start_ms >= 0 && m.source.end_ms <= rec.duration_ms && m.source.start_ms < m.source.end_ms);
  }
  // The user's self avatar holds them: created on first use, cited and searchable.
  const avatar = await get(alice.token, `/avatars/${rec.conversation.avatar_id}`);
  assert.equal(avatar.kind, 'self');
  assert.deepEqual((await get(alice.token, '/avatars')).items.map((a) => a.id), [avatar.id], 'the avatar list shows it at once');
  const found = await get(alice.token, `/avatars/${avatar.id}/memories?q=${encodeURIComponent('lisbon cello sister')}`);
  assert.ok(found.items.some((m) => m.source && m.source.media_id === rec.conversation.media_id));
  const rec2 = await settled(alice.token, id2);
  assert.equal(rec2.conversation.state, 'ready');
  assert.equal(rec2.conversation.avatar_id, avatar.id, 'one self avatar for all conversations');
  spoken = { id: id1, media: rec.conversation.media_id, memories: rec.memories.length };

  // The list shows the conversations too.
  const list = await get(alice.token, '/recordings');
  assert.ok(list.items.find((r) => r.id === id1).conversation.state === 'ready');
  // Nobody else sees them.
  expectStatus(assert, await api(srv, 'GET', `/recordings/${id1}`, { token: bob.token }), 404);
});

test('audio without speech makes no conversation (and no memory)', async () => {
  const ws = await device(srv, alice.token, { name: 'kitchen' });
  ws.start();
  const id = (await ws.next('ack')).data.recording_id;
  stream(ws, withNoise(silence(3000), 300, 3));
  ws.stop();
  await ws.next('recording.closed');
  ws.close();
  const rec = await settled(alice.token, id);
  assert.equal(rec.conversation.state, 'silent');
  assert.equal(rec.conversation.speech_ms, 0);
  assert.equal(rec.conversation.media_id, undefined);
  assert.deepEqual(rec.memories, []);
});

test('reprocess makes the next transcript version; refused while open, 404 for others', async () => {
  assert.ok(spoken, 'the conversation test ran');
  expectStatus(assert, await api(srv, 'POST', `/recordings/${spoken.id}/reprocess`, { token: bob.token }), 404);
  const r = await api(srv, 'POST', `/recordings/${spoken.id}/reprocess`, { token: alice.token });
  expectStatus(assert, r, 202);
  assert.equal(r.json.id, spoken.id);
  let rec;
  const deadline = Date.now() + 60000;
  do {
    await new Promise((res) => setTimeout(res, 100));
    rec = await get(alice.token, `/recordings/${spoken.id}`);
  } while (!(rec.conversation.state === 'ready' && rec.transcript && rec.transcript.version === 2) && Date.now() < deadline);
  assert.equal(rec.transcript.version, 2);
  assert.equal(rec.memories.length, spoken.memories, 'memories replaced, not doubled');
  assert.equal(rec.conversation.media_id, spoken.media);

  const ws = await device(srv, alice.token, { name: 'open' });
  ws.start();
  const open = (await ws.next('ack')).data.recording_id;
  const refused = await api(srv, 'POST', `/recordings/${open}/reprocess`, { token: alice.token });
  expectStatus(assert, refused, 409);
  ws.terminate();
});

test('a conversation over the storage quota fails with the reason, and is not retried', async () => {
  const small = await startAccounts({ args: ['--capture-sync-ms', '20', '--capture-silence-close', '2', '--quota-storage', '20000'] });
  try {
    const carol = await signup(small);
    const ws = await device(small, carol.token, { name: 'phone' });
    ws.start();
    const id = (await ws.next('ack')).data.recording_id;
    stream(ws, withNoise(concat(silence(300), say('the garden gate is green'), silence(300)), 60));
    ws.stop();
    await ws.next('recording.closed');
    ws.close();
    let rec;
    const deadline = Date.now() + 30000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      rec = (await api(small, 'GET', `/recordings/${id}`, { token: carol.token })).json;
    } while (['pending', 'recording'].includes(rec.conversation.state) && Date.now() < deadline);
    assert.equal(rec.conversation.state, 'failed');
    assert.match(rec.conversation.detail, /quota|storage/i);
    assert.ok(rec.conversation.speech_ms > 1000, 'the speech was found');
    const jobs = (await api(small, 'GET', '/jobs', { token: carol.token })).json.items.filter((j) => j.kind === 'capture.transcribe');
    assert.deepEqual(jobs.map((j) => [j.status, j.attempts]), [['done', 1]]);
  } finally {
    await small.cleanup();
  }
});
