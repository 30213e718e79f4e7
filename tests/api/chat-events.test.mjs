// The events WebSocket (/api/v1/events): message.new exactly once on every device of every
// member, message.updated, typing that expires on its own and reaches only the chat, receipts
// (none when turned off), presence only to people who share a chat (none when hidden),
// job.updated, reconnect with ?since= after messages arrived while away, malformed frames.
// Two instances on PostgreSQL + Redis: a message sent on one arrives live on the other.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { addMember, api, expectStatus, randomKeyHex, SHARED_SKIP, startPeer, stopAll } from './lib/accounts.mjs';
import { events, newChat, send, startChat, team } from './lib/chat.mjs';
import { sleep } from './lib/server.mjs';

const TYPING_TTL = 1000;
const isNew = (chatId, text) => (f) => f.type === 'message.new' && f.data.chat_id === chatId && (!text || f.data.text === text);

describe('events WebSocket', () => {
  let srv, admin, a, b, c;
  before(async () => {
    srv = await startChat({ args: ['--chat-typing-ttl', String(TYPING_TTL), '--chat-frame-rate', '30'] });
    ({ admin, people: [a, b, c] } = await team(srv, 3));
  });
  after(async () => stopAll(srv));

  test('authentication: no token is a 401 before any upgrade; a ticket works once', async () => {
    const status = await new Promise((res, rej) => {
      const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/events');
      ws.on('unexpected-response', (req, r) => res(r.statusCode));
      ws.on('open', () => rej(new Error('upgraded without a token')));
    });
    assert.equal(status, 401);
    const t = await api(srv, 'POST', '/auth/ws-ticket', { token: a.token });
    const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/events?ticket=' + t.json.ticket);
    const first = await new Promise((res, rej) => { ws.on('message', (d) => res(JSON.parse(d))); ws.on('error', rej); });
    assert.equal(first.type, 'ready');
    ws.close();
  });

  test('message.new arrives once on every device of every member (the sender\'s other device too), with the user\'s seq', async () => {
    const chat = await newChat(srv, a, [b]);
    const a1 = await events(srv, a), a2 = await events(srv, a), b1 = await events(srv, b), c1 = await events(srv, c);
    const r = await send(srv, a, chat.id, { text: 'hello b', client_id: 'ev-1' });
    expectStatus(assert, r, 201);
    for (const ev of [a1, a2, b1]) {
      const f = await ev.wait(isNew(chat.id, 'hello b'));
      assert.equal(f.data.id, r.json.message.id);
      assert.ok(Number.isInteger(f.seq) && f.seq > 0);
    }
    await send(srv, a, chat.id, { text: 'hello b', client_id: 'ev-1' }); // a retry: nothing new
    await b1.none((f) => f.type === 'message.new');
    assert.equal(b1.frames.filter(isNew(chat.id)).length, 1);
    assert.equal(c1.frames.filter((f) => f.type === 'message.new').length, 0, 'not a member: nothing');
    // Edits and deletes go out as message.updated.
    await api(srv, 'PATCH', `/chats/${chat.id}/messages/${r.json.message.id}`, { token: a.token, body: { text: 'hello, b' } });
    assert.equal((await b1.wait((f) => f.type === 'message.updated')).data.text, 'hello, b');
    await api(srv, 'DELETE', `/chats/${chat.id}/messages/${r.json.message.id}`, { token: a.token });
    assert.equal((await b1.wait((f) => f.type === 'message.updated')).data.deleted, true);
    for (const ev of [a1, a2, b1, c1]) await ev.close();
  });

  test('message.send on the socket: acknowledged once stored, retries by client_id answered with the first, errors named', async () => {
    const chat = await newChat(srv, a, [b], { group: true });
    const a1 = await events(srv, a), b1 = await events(srv, b), c1 = await events(srv, c);
    for (let i = 0; i < 20; i++) a1.send({ type: 'message.send', chat_id: chat.id, client_id: 'ws-' + i, text: 'over the socket ' + i });
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(await a1.wait((f) => f.type === 'message.ack' && f.data.client_id === 'ws-' + i));
    assert.deepEqual(acks.map((f) => f.data.message.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'stored in the order sent');
    assert.ok(acks.every((f) => f.data.duplicate === false));
    for (let i = 0; i < 20; i++) await b1.wait(isNew(chat.id, 'over the socket ' + i));
    const hist = await api(srv, 'GET', `/chats/${chat.id}/messages`, { token: b.token });
    assert.equal(hist.json.items.length, 20, 'persisted');
    a1.send({ type: 'message.send', chat_id: chat.id, client_id: 'ws-3', text: 'over the socket 3' });
    const dup = await a1.wait((f) => f.type === 'message.ack' && f.data.client_id === 'ws-3');
    assert.equal(dup.data.duplicate, true);
    assert.equal(dup.data.message.id, acks[3].data.message.id);
    await b1.none((f) => f.type === 'message.new' && f.data.client_id === 'ws-3');
    c1.send({ type: 'message.send', chat_id: chat.id, client_id: 'intruder', text: 'let me in' });
    const err = await c1.wait((f) => f.type === 'message.error');
    assert.deepEqual([err.data.client_id, err.data.code], ['intruder', 'not_found']);
    a1.send({ type: 'message.send', chat_id: chat.id, text: 'no client id' });
    assert.equal((await a1.wait((f) => f.type === 'error')).data.code, 'invalid');
    a1.send({ type: 'message.send', chat_id: chat.id, client_id: 'long', text: 'x'.repeat(4001) });
    assert.equal((await a1.wait((f) => f.type === 'error')).data.code, 'invalid');
    await b1.none((f) => f.type === 'message.new' && f.data.text === 'let me in');
    for (const ev of [a1, b1, c1]) await ev.close();
  });

  test('message.send burst over one socket to several chats: each chat numbered in send order without gaps', async () => {
    // Sends queued behind the one being written go in together (one transaction): the checks and
    // the seqs of a run of sends to one chat are shared, which must not mix chats, skip a
    // stranger's chat or leave a number unused.
    const group = await newChat(srv, a, [b], { group: true }), direct = await newChat(srv, a, [c]);
    const strangers = await newChat(srv, b, [c]);
    const a1 = await events(srv, a);
    const plan = [];
    for (let i = 0; i < 24; i++) plan.push(i % 3 === 2 ? direct : group);
    plan.splice(10, 0, strangers);
    plan.forEach((ch, i) => a1.send({ type: 'message.send', chat_id: ch.id, client_id: 'mix-' + i, text: 'mix ' + i }));
    a1.send({ type: 'message.send', chat_id: group.id, client_id: 'mix-0', text: 'mix 0' }); // a retry in the burst
    const acks = [];
    for (let i = 0; i < plan.length; i++) {
      if (plan[i] === strangers) {
        const err = await a1.wait((f) => f.type === 'message.error' && f.data.client_id === 'mix-' + i);
        assert.equal(err.data.code, 'not_found');
        continue;
      }
      acks.push([plan[i], await a1.wait((f) => f.type === 'message.ack' && f.data.client_id === 'mix-' + i)]);
    }
    for (const ch of [group, direct]) {
      const seqs = acks.filter(([c]) => c === ch).map(([, f]) => f.data.message.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'consecutive, in send order');
      assert.ok(acks.filter(([c]) => c === ch).every(([, f]) => f.data.message.chat_id === ch.id));
    }
    const retry = await a1.wait((f) => f.type === 'message.ack' && f.data.client_id === 'mix-0');
    assert.equal(retry.data.duplicate, true);
    assert.equal(retry.data.message.id, acks[0][1].data.message.id);
    // The same client id for another chat is not a retry: refused, nothing stored.
    a1.send({ type: 'message.send', chat_id: direct.id, client_id: 'mix-0', text: 'mix 0 elsewhere' });
    a1.send({ type: 'message.send', chat_id: direct.id, client_id: 'mix-new', text: 'after it' });
    assert.equal((await a1.wait((f) => f.type === 'message.error' && f.data.client_id === 'mix-0')).data.code, 'conflict');
    const after = await a1.wait((f) => f.type === 'message.ack' && f.data.client_id === 'mix-new');
    assert.equal(after.data.message.seq, acks.filter(([c]) => c === direct).length + 1);
    const hist = await api(srv, 'GET', `/chats/${group.id}/messages?limit=100`, { token: b.token });
    assert.equal(hist.json.items.length, 16, 'stored once each');
    assert.equal((await api(srv, 'GET', `/chats/${strangers.id}/messages`, { token: b.token })).json.items.length, 0);
    await a1.close();
  });

  test('ordering: a burst arrives in send order with consecutive seqs', async () => {
    const chat = await newChat(srv, a, [b, c], { group: true });
    const b1 = await events(srv, b);
    const N = 30;
    await Promise.all(Array.from({ length: N }, (_, i) => send(srv, [a, c][i % 2], chat.id, { text: 'n' + i, client_id: 'burst-' + i })));
    await b1.wait((f) => b1.frames.filter(isNew(chat.id)).length >= N || false, 10000).catch(() => {});
    const got = b1.frames.filter(isNew(chat.id));
    assert.equal(got.length, N);
    const chatSeqs = got.map((f) => f.data.seq);
    assert.deepEqual(chatSeqs, [...chatSeqs].sort((x, y) => x - y), 'in chat order');
    const userSeqs = got.map((f) => f.seq);
    for (let i = 1; i < userSeqs.length; i++) assert.equal(userSeqs[i], userSeqs[i - 1] + 1);
    await b1.close();
  });

  test('reconnect with ?since= gets everything that arrived while away, in order, then live', async () => {
    const chat = await newChat(srv, a, [c]);
    let c1 = await events(srv, c);
    await send(srv, a, chat.id, 'before');
    const seen = (await c1.wait(isNew(chat.id, 'before'))).seq;
    await c1.close();
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await send(srv, a, chat.id, 'away ' + i)).json.message);
    await api(srv, 'PATCH', `/chats/${chat.id}/messages/${sent[0].id}`, { token: a.token, body: { text: 'away 0 (edited)' } });
    c1 = await events(srv, c, { since: seen });
    const missed = c1.frames.filter((f) => f.seq);
    assert.deepEqual(missed.map((f) => f.type), ['message.new', 'message.new', 'message.new', 'message.new', 'message.new', 'message.updated']);
    assert.deepEqual(missed.map((f) => f.seq), [1, 2, 3, 4, 5, 6].map((i) => seen + i));
    assert.equal(c1.ready().data.seq, seen + 6);
    const readyAt = c1.frames.indexOf(c1.ready());
    assert.ok(c1.frames.slice(0, readyAt).every((f) => f.type !== 'ready'), 'missed events come before ready');
    await send(srv, a, chat.id, 'live again');
    assert.equal((await c1.wait(isNew(chat.id, 'live again'))).seq, seen + 7);
    // since=0: the whole log; a since beyond the log: from now on.
    const all = await events(srv, c, { since: 0 });
    assert.ok(all.frames.filter((f) => f.seq).length >= 8);
    const ahead = await events(srv, c, { since: 1e9 });
    assert.equal(ahead.ready().data.seq, seen + 7);
    await send(srv, a, chat.id, 'after ahead');
    await ahead.wait(isNew(chat.id, 'after ahead'));
    for (const ev of [c1, all, ahead]) await ev.close();
  });

  test('typing reaches the chat\'s other members only, and stops on its own', async () => {
    const chat = await newChat(srv, a, [b], { group: true });
    const a1 = await events(srv, a), b1 = await events(srv, b), c1 = await events(srv, c);
    a1.send({ type: 'typing.start', chat_id: chat.id });
    const start = await b1.wait((f) => f.type === 'typing.start');
    assert.deepEqual(start.data, { chat_id: chat.id, user_id: a.id, expires_in_ms: TYPING_TTL });
    assert.equal(start.seq, undefined, 'typing is never logged');
    const t0 = Date.now();
    const stop = await b1.wait((f) => f.type === 'typing.stop', TYPING_TTL * 4);
    assert.ok(Date.now() - t0 >= TYPING_TTL * 0.7, 'expired after about the TTL');
    assert.equal(stop.data.user_id, a.id);
    assert.ok(!a1.frames.some((f) => f.type === 'typing.start'), 'not echoed to the typist');
    assert.ok(!c1.frames.some((f) => f.type.startsWith('typing')), 'outside the chat: nothing');
    // An explicit stop goes out at once; refreshes inside half the TTL are not sent again.
    a1.send({ type: 'typing.start', chat_id: chat.id });
    a1.send({ type: 'typing.start', chat_id: chat.id });
    await b1.wait((f) => f.type === 'typing.start');
    a1.send({ type: 'typing.stop', chat_id: chat.id });
    await b1.wait((f) => f.type === 'typing.stop', 500);
    assert.equal(b1.frames.filter((f) => f.type === 'typing.start').length, 2);
    // A chat the typist is not in: an error, nobody hears.
    c1.send({ type: 'typing.start', chat_id: chat.id });
    assert.equal((await c1.wait((f) => f.type === 'error')).data.code, 'not_found');
    await b1.none((f) => f.type === 'typing.start' && f.data.user_id === c.id);
    // Closing the socket stops its typing at once.
    a1.send({ type: 'typing.start', chat_id: chat.id });
    await b1.wait((f) => f.type === 'typing.start');
    await a1.close();
    await b1.wait((f) => f.type === 'typing.stop', 500);
    for (const ev of [b1, c1]) await ev.close();
  });

  test('read receipts reach the others; with receipts off none are sent', async () => {
    const chat = await newChat(srv, a, [b], { group: true });
    await send(srv, a, chat.id, 'read me');
    const a1 = await events(srv, a), b1 = await events(srv, b);
    await api(srv, 'POST', `/chats/${chat.id}/read`, { token: b.token, body: { up_to: 1 } });
    const rc = await a1.wait((f) => f.type === 'receipt.read');
    assert.deepEqual(rc.data, { chat_id: chat.id, user_id: b.id, up_to: 1 });
    assert.ok(rc.seq > 0, 'receipts are logged: a reconnecting client gets them');
    await api(srv, 'PATCH', '/chats/settings', { token: b.token, body: { send_receipts: false } });
    await send(srv, a, chat.id, 'read me too');
    await api(srv, 'POST', `/chats/${chat.id}/read`, { token: b.token, body: { up_to: 2 } });
    await b1.wait((f) => f.type === 'receipt.read' && f.data.up_to === 2); // the reader's own devices still sync
    await a1.none((f) => f.type === 'receipt.read' && f.data.up_to === 2);
    const r = await api(srv, 'GET', `/chats/${chat.id}`, { token: a.token });
    assert.equal(r.json.members.find((m) => m.id === b.id).last_read_seq, 2, 'the state is kept; only the receipt is not sent');
    await api(srv, 'PATCH', '/chats/settings', { token: b.token, body: { send_receipts: true } });
    await a1.close();
    await b1.close();
  });

  test('presence: online and offline (after the grace) to people who share a chat, never to others; hidden sends nothing', async () => {
    const [p, q, r] = [await addMember(srv, admin.token), await addMember(srv, admin.token), await addMember(srv, admin.token)]; // r shares no chat with p
    await newChat(srv, p, [q]);
    const q1 = await events(srv, q), r1 = await events(srv, r);
    const snap = await q1.wait((f) => f.type === 'presence' && f.data.user_id === p.id);
    assert.deepEqual(snap.data, { user_id: p.id, status: 'offline', last_seen: null }, 'the snapshot on connect');
    await sleep(600); // q's own presence is counted by the next sweep
    const p1 = await events(srv, p);
    const on = await q1.wait((f) => f.type === 'presence' && f.data.user_id === p.id);
    assert.equal(on.data.status, 'online');
    await p1.wait((f) => f.type === 'presence' && f.data.user_id === q.id && f.data.status === 'online'); // the snapshot
    // A second device changes nothing; away only when every device is away.
    const p2 = await events(srv, p);
    p2.send({ type: 'presence', status: 'away' });
    await q1.none((f) => f.type === 'presence' && f.data.user_id === p.id, 1500);
    p1.send({ type: 'presence', status: 'away' });
    assert.equal((await q1.wait((f) => f.type === 'presence' && f.data.user_id === p.id, 4000)).data.status, 'away');
    await p1.close();
    await p2.close();
    const off = await q1.wait((f) => f.type === 'presence' && f.data.user_id === p.id, 4000);
    assert.equal(off.data.status, 'offline');
    assert.ok(off.data.last_seen);
    const q2 = await events(srv, q); // a new device's snapshot has the time p was last seen
    const snap2 = await q2.wait((f) => f.type === 'presence' && f.data.user_id === p.id);
    assert.deepEqual(snap2.data, { user_id: p.id, status: 'offline', last_seen: off.data.last_seen });
    await q2.close();
    assert.ok(!r1.frames.some((f) => f.type === 'presence' && f.data.user_id === p.id), 'no shared chat: nothing');
    // A quick reconnect inside the grace is no change at all.
    const p3 = await events(srv, p);
    await q1.wait((f) => f.type === 'presence' && f.data.status === 'online', 4000);
    await p3.close();
    const p4 = await events(srv, p);
    await q1.none((f) => f.type === 'presence' && f.data.user_id === p.id, 1500);
    await p4.close();
    await q1.wait((f) => f.type === 'presence' && f.data.status === 'offline', 4000);
    // Hidden: nothing at all.
    await api(srv, 'PATCH', '/chats/settings', { token: p.token, body: { hide_presence: true } });
    const q3 = await events(srv, q); // nor in a snapshot
    await q3.none((f) => f.type === 'presence' && f.data.user_id === p.id);
    await q3.close();
    const p5 = await events(srv, p);
    await q1.none((f) => f.type === 'presence' && f.data.user_id === p.id, 1500);
    await p5.close();
    await q1.none((f) => f.type === 'presence' && f.data.user_id === p.id, 1500);
    for (const ev of [q1, r1]) await ev.close();
  });

  test('job.updated reaches the job\'s owner', async () => {
    const a1 = await events(srv, a);
    const r = await api(srv, 'POST', '/_test/jobs', { body: { ms: 10, owner_id: a.id } });
    expectStatus(assert, r, 201);
    const f = await a1.wait((x) => x.type === 'job.updated' && x.data.id === r.json.id && x.data.status === 'done', 10000);
    assert.equal(f.data.kind, 'test.sleep');
    await a1.close();
  });

  test('malformed frames get an error frame; binary frames and a bad since close the socket; floods are limited', async () => {
    const a1 = await events(srv, a);
    for (const bad of ['not json', '[]', '{"type":"nope"}', '{"type":"typing.start"}', '{"type":"typing.start","chat_id":"x"}',
      '{"type":"presence","status":"busy"}', '{"type":"ping","type":"ping"}', JSON.stringify({ type: 'ping', pad: 'x'.repeat(17000) })]) {
      a1.send(bad);
      const e = await a1.wait((f) => f.type === 'error');
      assert.equal(e.data.code, 'invalid', bad);
    }
    await sleep(2500); // the bucket refills
    a1.send({ type: 'ping' });
    await a1.wait((f) => f.type === 'pong');
    for (let i = 0; i < 100; i++) a1.send({ type: 'ping' }); // over --chat-frame-rate 30 (bursts of 60)
    await a1.wait((f) => f.type === 'error' && f.data.code === 'rate_limited');
    a1.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await a1.closed).code, 1003);
    await assert.rejects(events(srv, a, { query: '&since=-4' }));
    await assert.rejects(events(srv, a, { query: '&since=abc' }));
  });
});

describe('two instances on PostgreSQL + Redis', { skip: SHARED_SKIP }, () => {
  const KEY = randomKeyHex();
  let A, B, a, b;
  before(async () => {
    A = await startChat({ jwtKey: KEY, redisDb: 14 });
    B = await startPeer(A, { jwtKey: KEY, args: ['--chat-presence-grace', '300'] });
    ({ people: [a, b] } = await team(A, 2));
  });
  after(async () => stopAll(A, B));

  test('a message sent on one instance arrives live on the other; presence and typing cross too', async () => {
    const chat = await newChat(A, a, [b]);
    const b1 = await events(B, b);
    const a1 = await events(A, a);
    await b1.wait((f) => f.type === 'presence' && f.data.user_id === a.id && f.data.status === 'online', 4000);
    const r = await send(A, a, chat.id, 'across');
    expectStatus(assert, r, 201);
    const f = await b1.wait(isNew(chat.id, 'across'));
    assert.equal(f.data.id, r.json.message.id);
    a1.send({ type: 'typing.start', chat_id: chat.id });
    await b1.wait((x) => x.type === 'typing.start' && x.data.user_id === a.id);
    await send(B, b, chat.id, 'and back');
    await a1.wait(isNew(chat.id, 'and back'));
    // b away on B, messages on A, back on A with since: nothing lost.
    const seen = f.seq + 1;
    await b1.close();
    for (let i = 0; i < 3; i++) await send(A, a, chat.id, 'while away ' + i);
    const b2 = await events(A, b, { since: seen });
    assert.deepEqual(b2.frames.filter(isNew(chat.id)).map((x) => x.data.text), ['while away 0', 'while away 1', 'while away 2']);
    await a1.close();
    await b2.close();
  });
});
