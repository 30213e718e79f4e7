// Device capture: the Wyoming-style framing of /ws_pcm and /ws_omi, acks after sync, resume with
// duplicates dropped, the error events of bad framing, recordings and connected devices.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, expectStatus, signup, startAccounts } from './lib/accounts.mjs';
import { ackFor, chunkBytes, device } from './lib/capture.mjs';
import { scaled } from './lib/server.mjs';
import { blobFiles } from './lib/avatars.mjs';
import fs from 'node:fs';
import path from 'node:path';

let srv, alice, bob;
before(async () => {
  srv = await startAccounts({ args: ['--capture-sync-ms', '20'] });
  alice = await signup(srv);
  bob = await signup(srv);
});
after(async () => srv && srv.cleanup());

const recording = async (token, id) => (await api(srv, 'GET', `/recordings/${id}`, { token })).json;

/* The PCM16 of a closed recording: its WAV in the blob store, without the 44-byte header. */
function recordedPcm(rec) {
  const file = blobFiles(srv).blobs.find((f) => f.endsWith(rec.sha256));
  assert.ok(file, 'the recording is in the blob store');
  const wav = fs.readFileSync(path.join(srv.dataDir, 'blobs', file));
  assert.equal(wav.subarray(0, 4).toString(), 'RIFF');
  return wav.subarray(44);
}

test('ready, an ack of the resume point after audio-start, acks after sync, audio-stop closes', async () => {
  const ws = await device(srv, alice.token, { name: 'pendant' });
  ws.start();
  const first = await ws.next('ack');
  assert.deepEqual({ bytes: first.data.bytes, samples: first.data.samples, seq: first.data.seq }, { bytes: 0, samples: 0, seq: null });
  const id = first.data.recording_id;
  for (let s = 0; s < 10; s++) ws.chunk(chunkBytes(s), s);
  const ack = await ackFor(ws, { seq: 9 });
  assert.equal(ack.bytes, 6400);
  assert.equal(ack.samples, 3200);
  assert.equal(ack.recording_id, id);
  const active = await api(srv, 'GET', '/clients/active', { token: alice.token });
  expectStatus(assert, active, 200);
  assert.equal(active.json.items.length, 1);
  assert.equal(active.json.items[0].device_name, 'pendant');
  assert.equal(active.json.items[0].client_id, `${alice.id.slice(-6)}-pendant`);
  assert.equal(active.json.items[0].recording_id, id);
  ws.stop();
  const closed = await ws.next('recording.closed');
  assert.equal(closed.data.recording_id, id);
  const rec = await recording(alice.token, id);
  assert.equal(rec.status, 'closed');
  assert.equal(rec.bytes, 6400);
  assert.equal(rec.last_seq, 9);
  assert.equal(rec.close_reason, 'audio-stop');
  assert.deepEqual(recordedPcm(rec), Buffer.concat([...Array(10).keys()].map((s) => chunkBytes(s))));
  ws.close();
  await ws.closed;
});

test('a reconnecting device resumes from its last ack; resent chunks are dropped', async () => {
  let ws = await device(srv, alice.token, { name: 'resumer' });
  ws.start();
  const id = (await ws.next('ack')).data.recording_id;
  for (let s = 0; s < 8; s++) ws.chunk(chunkBytes(s), s);
  await ackFor(ws, { seq: 7 });
  ws.terminate();
  await ws.closed;
  ws = await device(srv, alice.token, { name: 'resumer' });
  ws.start();
  const resume = (await ws.next('ack')).data;
  assert.equal(resume.recording_id, id, 'the same recording continues');
  assert.equal(resume.seq, 7);
  assert.equal(resume.bytes, 8 * 640);
  for (let s = 4; s < 12; s++) ws.chunk(chunkBytes(s), s); // 4..7 again: duplicates
  await ackFor(ws, { seq: 11 });
  ws.stop();
  await ws.next('recording.closed');
  const rec = await recording(alice.token, id);
  assert.equal(rec.bytes, 12 * 640);
  assert.deepEqual(recordedPcm(rec), Buffer.concat([...Array(12).keys()].map((s) => chunkBytes(s))));
  ws.close();
});

test('framing errors are clear error events and the connection stays usable', async () => {
  const ws = await device(srv, alice.token, { name: 'errors' });
  ws.send('{not json');
  let m = await ws.next();
  assert.equal(m.type, 'error');
  assert.equal(m.data.code, 'bad_header');
  ws.header({ type: 'audio-chunk', payload_length: 1 << 30 });
  ws.send(Buffer.alloc(100)); // the payload of the refused header: dropped, never taken for PCM
  m = await ws.next();
  assert.deepEqual([m.type, m.data.code], ['error', 'too_large']);
  ws.header({ type: 'audio-chunk', data: { rate: 16000, width: 2, channels: 1 }, payload_length: 640 });
  ws.send(Buffer.alloc(10)); // payload_length lies
  m = await ws.next();
  assert.deepEqual([m.type, m.data.code], ['error', 'payload_mismatch']);
  ws.header({ type: 'audio-chunk', data: { rate: 16000, width: 3, channels: 1 }, payload_length: 4 });
  m = await ws.next();
  assert.deepEqual([m.type, m.data.code], ['error', 'bad_header']);
  assert.match(m.data.message, /width/);
  ws.send(Buffer.alloc(4));
  ws.header({ type: 'dance' });
  m = await ws.next();
  assert.deepEqual([m.type, m.data.code], ['error', 'unknown_type']);
  ws.header({ type: 'ping' });
  assert.equal((await ws.next()).type, 'pong');
  // Still usable: Wyoming's separate data block (data_length), then raw PCM frames.
  const data = JSON.stringify({ rate: 16000, width: 2, channels: 1, mode: 'streaming' });
  ws.send(JSON.stringify({ type: 'audio-start', data_length: Buffer.byteLength(data) }) + '\n' + data);
  const start = (await ws.next('ack')).data;
  assert.equal(start.bytes, 0, 'nothing of the refused frames was stored');
  ws.send(chunkBytes(1));
  ws.send(chunkBytes(2));
  const ack = await ackFor(ws, { bytes: 1280 });
  assert.equal(ack.bytes, 1280);
  ws.stop();
  await ws.next('recording.closed');
  const rec = await recording(alice.token, start.recording_id);
  assert.deepEqual(recordedPcm(rec), Buffer.concat([chunkBytes(1), chunkBytes(2)]));
  ws.close();
});

test('/ws_omi refuses a binary frame without a header', async () => {
  const ws = await device(srv, alice.token, { name: 'omi', path: '/ws_omi' });
  ws.send(Buffer.alloc(40));
  const m = await ws.next();
  assert.deepEqual([m.type, m.data.code], ['error', 'no_header']);
  ws.header({ type: 'ping' });
  assert.equal((await ws.next()).type, 'pong');
  ws.close();
});

test('one connection per device; bad device names and no token are refused at the handshake', async () => {
  const ws = await device(srv, alice.token, { name: 'solo' });
  await assert.rejects(device(srv, alice.token, { name: 'solo' }), (e) => e.status === 409);
  await assert.rejects(device(srv, alice.token, { name: 'no/slash' }), (e) => e.status === 400);
  await assert.rejects(device(srv, 'nonsense', { name: 'x' }), (e) => e.status === 401);
  // Another user's device of the same name is another client.
  const other = await device(srv, bob.token, { name: 'solo' });
  other.close();
  ws.close();
  await ws.closed;
});

test("recordings: listed for their owner, another user's is a 404, close on request", async () => {
  const ws = await device(srv, alice.token, { name: 'closer' });
  ws.start();
  const id = (await ws.next('ack')).data.recording_id;
  ws.chunk(chunkBytes(0), 0);
  await ackFor(ws, { seq: 0 });
  expectStatus(assert, await api(srv, 'GET', `/recordings/${id}`, { token: bob.token }), 404, 'not_found');
  expectStatus(assert, await api(srv, 'POST', `/recordings/${id}/close`, { token: bob.token }), 404, 'not_found');
  const list = await api(srv, 'GET', '/recordings', { token: alice.token });
  expectStatus(assert, list, 200);
  assert.ok(list.json.items.some((r) => r.id === id && r.status === 'open'));
  assert.ok(!(await api(srv, 'GET', '/recordings', { token: bob.token })).json.items.some((r) => r.id === id));
  // While the device is connected, the close is its session's: after its next sync or event.
  const deferred = await api(srv, 'POST', `/recordings/${id}/close`, { token: alice.token });
  expectStatus(assert, deferred, 202);
  assert.equal(deferred.json.status, 'closing');
  ws.header({ type: 'ping' }); // an idle device still pings: the session closes it then
  const closed = await ws.next('recording.closed');
  assert.equal(closed.data.reason, 'request');
  assert.equal((await recording(alice.token, id)).status, 'closed');
  expectStatus(assert, await api(srv, 'POST', `/recordings/${id}/close`, { token: alice.token }), 409, 'conflict');
  // A device gone: the close happens at once.
  ws.chunk(chunkBytes(2), 2); // opens a new recording implicitly
  const id2 = (await ws.next('ack')).data.recording_id;
  assert.notEqual(id2, id);
  ws.terminate();
  await ws.closed;
  // The server notices the hang-up a moment after the client's side has closed: until then the
  // session still holds the recording and the close is deferred (202) to it.
  let now;
  for (let i = 0; i < 100; i++) {
    now = await api(srv, 'POST', `/recordings/${id2}/close`, { token: alice.token });
    if (now.status !== 202) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (now.status === 409) assert.equal((await recording(alice.token, id2)).status, 'closed', 'closed by the session as asked');
  else {
    expectStatus(assert, now, 200);
    assert.equal(now.json.status, 'closed');
  }
});

test('a batch back-fill keeps the device time it started at', async () => {
  const ws = await device(srv, alice.token, { name: 'backfill' });
  const t = Date.parse('2026-01-02T03:04:05.000Z');
  ws.start({ mode: 'batch', timestamp: t });
  const id = (await ws.next('ack')).data.recording_id;
  ws.chunk(chunkBytes(0), 0);
  await ackFor(ws, { seq: 0 });
  const rec = await recording(alice.token, id);
  assert.equal(rec.mode, 'batch');
  assert.equal(rec.started_at, '2026-01-02T03:04:05.000Z');
  ws.close();
});

test('a device that goes away and does not come back: its recording closes after --capture-idle-close', async () => {
  const s2 = await startAccounts({ args: ['--capture-idle-close', '2', '--capture-sync-ms', '20'] });
  try {
    const u = await signup(s2);
    const ws = await device(s2, u.token, { name: 'gone' });
    ws.start();
    const id = (await ws.next('ack')).data.recording_id;
    ws.chunk(chunkBytes(0), 0);
    await ackFor(ws, { seq: 0 });
    ws.terminate();
    await ws.closed;
    const get = async () => (await api(s2, 'GET', `/recordings/${id}`, { token: u.token })).json;
    assert.equal((await get()).status, 'open', 'open at first: the device may come back and resume');
    const deadline = Date.now() + scaled(8000);
    let rec;
    while ((rec = await get()).status !== 'closed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(rec.status, 'closed');
    assert.equal(rec.close_reason, 'idle');
    assert.equal(rec.bytes, 640);
  } finally {
    await s2.stop();
  }
});

test('a recording closes at --capture-max-seconds and the stream goes on in the next one', async () => {
  const s2 = await startAccounts({ args: ['--capture-max-seconds', '1', '--capture-sync-ms', '20'] });
  try {
    const u = await signup(s2);
    const ws = await device(s2, u.token, { name: 'long' });
    ws.start();
    const first = (await ws.next('ack')).data.recording_id;
    // A second (20 chunks of 50 ms), synced: the recording is long enough and closes.
    for (let s = 0; s < 20; s++) ws.chunk(chunkBytes(s, 1600), s);
    const closed = await ws.next('recording.closed');
    assert.equal(closed.data.recording_id, first);
    assert.equal(closed.data.reason, 'max-length');
    for (let s = 20; s < 30; s++) ws.chunk(chunkBytes(s, 1600), s);
    const last = await ackFor(ws, { seq: 29 });
    assert.notEqual(last.recording_id, first, 'the rest went to a new recording');
    const rec = (await api(s2, 'GET', `/recordings/${first}`, { token: u.token })).json;
    assert.equal(rec.bytes, 32000, 'the first second in the first');
    assert.equal(rec.close_reason, 'max-length');
  } finally {
    await s2.stop();
  }
});
