// Nothing acknowledged is ever lost: a device streams while the server is killed (SIGKILL) at
// random points, TRIALS times over one recording; after every restart the server's resume point
// covers every ack the device had, the device resumes from it, and at the end the recording holds
// exactly the chunks sent, in order, once each (no gap, no duplicate, no torn tail).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { api, signup, startAccounts } from './lib/accounts.mjs';
import { blobFiles } from './lib/avatars.mjs';
import { ackFor, chunkBytes, device } from './lib/capture.mjs';
import { BACKEND, sleep, TIME_SCALE } from './lib/server.mjs';

// The soak: DOPPEL_CAPTURE_TRIALS=1000. Under the sanitizers (a slow binary, TIME_SCALE > 1) a
// dozen trials look for memory errors in recovery; the release runs do the fifty.
const TRIALS = Number(process.env.DOPPEL_CAPTURE_TRIALS) || (TIME_SCALE > 1 ? 12 : 50);
const CHUNK = 640; // 20 ms of 16 kHz PCM16
const ARGS = ['--capture-sync-ms', '10'];
const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
  if (servers[0]) fs.rmSync(servers[0].dataDir, { recursive: true, force: true });
});

/* A server on the first one's data directory (and database). */
async function restart(first) {
  const opts = { dataDir: first.dataDir, args: ARGS };
  if (BACKEND === 'postgres') {
    opts.backend = 'sqlite'; // i.e. no fresh database: the first one's, given explicitly
    opts.redisUrl = first.redisUrl;
    opts.args = [...ARGS, '--database-url', first.databaseUrl];
  }
  const s = await startAccounts(opts);
  servers.push(s);
  return s;
}

/* A seeded generator, so that a failing run can be replayed (DOPPEL_CAPTURE_SEED). */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

test(`kill -9 at random points while streaming, ${TRIALS} times: every acked byte survives`, { timeout: 600000 }, async () => {
  const seed = Number(process.env.DOPPEL_CAPTURE_SEED) || Date.now() % 100000;
  const rand = rng(seed);
  let srv = await startAccounts({ args: ARGS });
  servers.push(srv);
  const user = await signup(srv);
  let acked = { seq: -1, bytes: 0 };
  let recordingId = null;
  let next = 0; // the next chunk the device has not sent yet
  let killedAfterAck = 0; // trials killed with acks received that the restart must honour
  for (let trial = 0; trial < TRIALS; trial++) {
    const ws = await device(srv, user.token, { name: 'crashy' });
    ws.start();
    const resume = (await ws.next('ack')).data;
    const what = `trial ${trial} (seed ${seed})`;
    if (recordingId) assert.equal(resume.recording_id, recordingId, `${what}: the same recording resumes`);
    recordingId = resume.recording_id;
    const resumeSeq = resume.seq === null ? -1 : resume.seq;
    assert.ok(resumeSeq >= acked.seq, `${what}: resume seq ${resumeSeq} covers the last ack ${acked.seq}`);
    assert.ok(resume.bytes >= acked.bytes, `${what}: resume bytes ${resume.bytes} cover the last ack ${acked.bytes}`);
    assert.equal(resume.bytes, (resumeSeq + 1) * CHUNK, `${what}: the file ends at a chunk boundary`);
    // Resume from the server's point, sometimes re-sending a few chunks it has (dropped as duplicates).
    next = Math.max(0, resumeSeq + 1 - Math.floor(rand() * 3));
    ws.on('message', () => {});
    const killAt = Date.now() + 5 + rand() * 120;
    while (Date.now() < killAt) {
      for (let k = 0; k < 4; k++, next++) ws.chunk(chunkBytes(next, CHUNK), next);
      await sleep(1);
    }
    srv.proc.kill('SIGKILL');
    await srv.exited;
    const last = ws.acks.reduce((a, b) => (b.seq !== null && b.seq > (a.seq ?? -1) ? b : a), { seq: -1, bytes: 0 });
    if (last.seq > acked.seq) {
      acked = { seq: last.seq, bytes: last.bytes };
      killedAfterAck++;
    }
    ws.terminate();
    srv = await restart(servers[0]);
  }
  // Most kills must land mid-stream after some acks, or the trials proved little.
  assert.ok(killedAfterAck >= TRIALS / 2, `${killedAfterAck} of ${TRIALS} trials were killed after new acks`);
  // The last round ends cleanly: resume, finish, stop; the recording is every chunk once.
  const ws = await device(srv, user.token, { name: 'crashy' });
  ws.start();
  const resume = (await ws.next('ack')).data;
  assert.ok((resume.seq ?? -1) >= acked.seq);
  const total = Math.max(next, (resume.seq ?? -1) + 1) + 5;
  for (let s = (resume.seq ?? -1) + 1; s < total; s++) ws.chunk(chunkBytes(s, CHUNK), s);
  await ackFor(ws, { seq: total - 1 });
  ws.stop();
  await ws.next('recording.closed');
  const rec = (await api(srv, 'GET', `/recordings/${recordingId}`, { token: user.token })).json;
  assert.equal(rec.status, 'closed');
  assert.equal(rec.bytes, total * CHUNK);
  const file = blobFiles(srv).blobs.find((f) => f.endsWith(rec.sha256));
  const pcm = fs.readFileSync(path.join(srv.dataDir, 'blobs', file)).subarray(44);
  assert.equal(pcm.length, total * CHUNK);
  for (let s = 0; s < total; s++)
    assert.ok(pcm.subarray(s * CHUNK, (s + 1) * CHUNK).equals(chunkBytes(s, CHUNK)), `chunk ${s} in place (seed ${seed})`);
  ws.close();
});
