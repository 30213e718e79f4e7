// Connected devices across instances: on PostgreSQL + Redis two instances share the devices' state
// through Redis — each lists the devices connected to the other with their recording and durable
// bytes, a device held by one is refused by the other, a device that leaves is gone from both at
// once, and the devices of an instance killed with -9 expire after --capture-device-ttl. On SQLite
// (one instance) the same listing is checked on the one server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, BACKEND, expectStatus, randomKeyHex, signup, startAccounts, startPeer } from './lib/accounts.mjs';
import { ackFor, chunkBytes, device } from './lib/capture.mjs';

const TWO = BACKEND === 'postgres';
const ARGS = ['--capture-sync-ms', '20', '--capture-device-ttl', '3'];
const KEY = randomKeyHex();
let A, B, alice;
before(async () => {
  A = await startAccounts({ jwtKey: KEY, redisDb: 11, args: ARGS });
  B = TWO ? await startPeer(A, { jwtKey: KEY, args: ARGS }) : A;
  alice = await signup(A);
});
after(async () => {
  if (B && B !== A) await B.cleanup();
  if (A) await A.cleanup();
});

const active = async (srv) => {
  const r = await api(srv, 'GET', '/clients/active', { token: alice.token });
  expectStatus(assert, r, 200);
  return Object.fromEntries(r.json.items.map((d) => [d.device_name, d]));
};

/* Polls until check(list) holds on srv (the shared state is written at most once a second). */
async function until(srv, check, what, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await active(srv);
    if (check(list)) return list;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('each instance lists the devices of both, with their recording and durable bytes', async () => {
  const left = await device(A, alice.token, { name: 'left' });
  const right = await device(B, alice.token, { name: 'right' });
  left.start();
  right.start();
  const lrec = (await left.next('ack')).data.recording_id;
  const rrec = (await right.next('ack')).data.recording_id;
  for (let s = 0; s < 5; s++) left.chunk(chunkBytes(s), s);
  for (let s = 0; s < 3; s++) right.chunk(chunkBytes(s), s);
  await ackFor(left, { seq: 4 });
  await ackFor(right, { seq: 2 });
  for (const srv of [A, B]) {
    const list = await until(srv, (l) => l.left && l.right && l.left.bytes === 3200 && l.right.bytes === 1920, 'both devices with their bytes');
    assert.deepEqual([list.left.recording_id, list.left.seq, list.right.recording_id, list.right.seq], [lrec, 4, rrec, 2]);
    assert.equal(list.left.client_id, `${alice.id.slice(-6)}-left`);
    assert.equal(Object.keys(list).length, 2);
  }
  if (TWO) {
    // One connection per device, whichever instance it reaches.
    await assert.rejects(device(B, alice.token, { name: 'left' }), (e) => e.status === 409);
  }
  // A device that leaves is gone from every list at once (not after the TTL).
  left.close();
  await left.closed;
  for (const srv of [A, B]) await until(srv, (l) => !l.left && l.right, 'left gone', 2000);
  // It may connect to the other instance now.
  const again = await device(B, alice.token, { name: 'left' });
  await until(A, (l) => l.left && l.right, 'left back, through B');
  again.close();
  right.close();
  await Promise.all([again.closed, right.closed]);
  for (const srv of [A, B]) await until(srv, (l) => Object.keys(l).length === 0, 'none left', 2000);
});

test('the devices of an instance killed with -9 expire after --capture-device-ttl', { skip: !TWO && 'one instance on SQLite' }, async () => {
  const C = await startPeer(A, { jwtKey: KEY, args: ARGS });
  try {
    const d = await device(C, alice.token, { name: 'orphan' });
    d.start();
    await d.next('ack');
    await until(A, (l) => l.orphan, 'orphan listed on A');
    // Kept alive by C's refreshes past its TTL …
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok((await active(A)).orphan, 'refreshed while its instance lives');
    C.signal('SIGKILL');
    await C.exited;
    // … and gone within the TTL once C is dead; then it may connect elsewhere.
    await until(A, (l) => !l.orphan, 'orphan expired', 6000);
    const back = await device(A, alice.token, { name: 'orphan' });
    back.close();
    await back.closed;
  } finally {
    await C.cleanup();
  }
});
