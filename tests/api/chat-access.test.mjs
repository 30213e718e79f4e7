// Who may see what around a chat: the bytes of attachments (members of the chat, only the media
// attached, only while a member), blocks hiding presence and typing both ways, and sockets closed
// when their session ends (logout, password change, deletion), on every instance.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { addMember, api, expectStatus, loginOk, PASSWORD, randomKeyHex, SHARED_SKIP, startPeer, stopAll } from './lib/accounts.mjs';
import { createAvatar, fixture, uploadOk, waitMedia } from './lib/avatars.mjs';
import { events, newChat, send, startChat, team } from './lib/chat.mjs';
import { scaled, sleep } from './lib/server.mjs';

const SESSION_ENDED = 4401;
const presenceOf = (id) => (f) => f.type === 'presence' && f.data.user_id === id;
const typingOf = (id) => (f) => f.type === 'typing.start' && f.data.user_id === id;
/* The close code of an events socket, which must close within ms. */
const closeCode = (ev, ms = 5000) =>
  Promise.race([ev.closed.then((c) => c.code), sleep(scaled(ms)).then(() => { throw new Error('the socket stayed open'); })]);

describe('chat access', () => {
  let srv, admin, a, b, c;
  before(async () => {
    srv = await startChat({ args: ['--chat-frame-rate', '30'] });
    ({ admin, people: [a, b, c] } = await team(srv, 3));
  });
  after(async () => stopAll(srv));

  test('attachments: members read the bytes (Range, thumbnail); not members, not other media, not after leaving or deletion', async () => {
    const av = await createAvatar(srv, a.token);
    const png = fixture('sample.png');
    const note = Buffer.from('a note only for this chat ' + randomKeyHex() + '\n');
    const { media: img } = await uploadOk(srv, a.token, av.id, png, 'picture.png');
    const { media: txt } = await uploadOk(srv, a.token, av.id, note, 'note.txt');
    const { media: secret } = await uploadOk(srv, a.token, av.id, Buffer.from('never attached ' + randomKeyHex()), 'secret.txt');
    const chat = await newChat(srv, a, [b, c], { group: true });
    const other = await newChat(srv, a, [c]);
    const sent = await send(srv, a, chat.id, { text: 'look', client_id: 'att-1', attachments: [img.id, txt.id] });
    expectStatus(assert, sent, 201);
    const mid = sent.json.message.id;
    const url = (m, media, q = '') => `/chats/${chat.id}/messages/${m}/attachments/${media}${q}`;

    let r = await api(srv, 'GET', url(mid, txt.id), { token: b.token });
    expectStatus(assert, r, 200);
    assert.equal(r.text, note.toString());
    assert.match(r.headers.get('content-disposition'), /^attachment; filename="note.txt"/, 'documents are downloads');
    r = await api(srv, 'GET', url(mid, img.id), { token: b.token, headers: { range: 'bytes=0-7' } });
    expectStatus(assert, r, 206);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('content-range'), `bytes 0-7/${png.length}`);
    await waitMedia(srv, a.token, img.id, (m) => m.status === 'ready');
    r = await api(srv, 'GET', url(mid, img.id, '?variant=thumbnail'), { token: c.token });
    expectStatus(assert, r, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    expectStatus(assert, await api(srv, 'GET', url(mid, img.id, '?variant=poster'), { token: b.token }), 400, 'invalid_input');
    // The sender's own media not attached, through a message that exists: as unknown.
    expectStatus(assert, await api(srv, 'GET', url(mid, secret.id), { token: b.token }), 404, 'not_found');
    // The attachment through the wrong chat, or the media route of an avatar b cannot see.
    expectStatus(assert, await api(srv, 'GET', `/chats/${other.id}/messages/${mid}/attachments/${txt.id}`, { token: c.token }), 404);
    expectStatus(assert, await api(srv, 'GET', `/media/${txt.id}/content`, { token: b.token }), 404);
    // Someone outside the chat: 404, the same as an unknown id.
    const d = await addMember(srv, admin.token);
    expectStatus(assert, await api(srv, 'GET', url(mid, txt.id), { token: d.token }), 404, 'not_found');
    expectStatus(assert, await api(srv, 'GET', url(mid, '00000000-0000-7000-8000-000000000000'), { token: b.token }), 404);
    // Leaving ends it, as it ends reading the history.
    expectStatus(assert, await api(srv, 'POST', `/chats/${chat.id}/leave`, { token: c.token }), 204);
    expectStatus(assert, await api(srv, 'GET', url(mid, txt.id), { token: c.token }), 404, 'not_found');
    // Deleted for everyone: the attachments are gone with it.
    expectStatus(assert, await api(srv, 'DELETE', `/chats/${chat.id}/messages/${mid}`, { token: a.token }), 200);
    expectStatus(assert, await api(srv, 'GET', url(mid, txt.id), { token: b.token }), 404, 'not_found');
    // A media the sender deleted is gone from the chat too.
    const again = await send(srv, a, chat.id, { client_id: 'att-2', attachments: [secret.id] });
    expectStatus(assert, await api(srv, 'GET', url(again.json.message.id, secret.id), { token: b.token }), 200);
    expectStatus(assert, await api(srv, 'DELETE', `/media/${secret.id}`, { token: a.token }), 204);
    expectStatus(assert, await api(srv, 'GET', url(again.json.message.id, secret.id), { token: b.token }), 404);
  });

  test('blocks: neither sees the other\'s presence or typing; the rest of the chat still does', async () => {
    const [p, q, r] = [await addMember(srv, admin.token), await addMember(srv, admin.token), await addMember(srv, admin.token)];
    const chat = await newChat(srv, p, [q, r], { group: true });
    expectStatus(assert, await api(srv, 'POST', '/chats/blocks', { token: q.token, body: { user_id: p.id } }), 204);
    const r1 = await events(srv, r), p1 = await events(srv, p);
    await sleep(400);
    const q1 = await events(srv, q);
    // Snapshots on connect: r is shown to both, p and q never to each other.
    await q1.wait(presenceOf(r.id));
    await p1.wait(presenceOf(r.id));
    await r1.wait((f) => presenceOf(q.id)(f) && f.data.status === 'online', 4000);
    assert.ok(!q1.frames.some(presenceOf(p.id)), 'q blocked p: no presence of p');
    await p1.none(presenceOf(q.id), 1500);
    // Typing, both ways.
    p1.send({ type: 'typing.start', chat_id: chat.id });
    await r1.wait(typingOf(p.id));
    q1.send({ type: 'typing.start', chat_id: chat.id });
    await r1.wait(typingOf(q.id));
    await q1.none(typingOf(p.id));
    assert.ok(!p1.frames.some(typingOf(q.id)), 'the blocked one does not see the blocker type');
    // Going offline is not told either.
    await q1.close();
    await r1.wait((f) => presenceOf(q.id)(f) && f.data.status === 'offline', 4000);
    assert.ok(!p1.frames.some(presenceOf(q.id)));
    // Unblocked: typing reaches p again.
    expectStatus(assert, await api(srv, 'DELETE', `/chats/blocks/${p.id}`, { token: q.token }), 204);
    const q2 = await events(srv, q);
    q2.send({ type: 'typing.start', chat_id: chat.id });
    await p1.wait(typingOf(q.id));
    for (const ev of [p1, q2, r1]) await ev.close();
  });

  test('a session that ends closes its sockets (4401): logout closes that session\'s, a password change and deletion all', async () => {
    const u = await addMember(srv, admin.token);
    const second = await loginOk(srv, u.email);
    const s1 = await events(srv, u), s1b = await events(srv, u), s2 = await events(srv, second);
    expectStatus(assert, await api(srv, 'POST', '/auth/logout', { token: u.token }), 204);
    for (const ev of [s1, s1b]) {
      assert.equal(await closeCode(ev), SESSION_ENDED);
      assert.equal(ev.frames.at(-1).data.code, 'session_ended');
    }
    s2.send({ type: 'ping' });
    await s2.wait((f) => f.type === 'pong');
    await assert.rejects(events(srv, u), 'the revoked token opens no socket');
    // A password change ends every session of the user.
    const pw = await api(srv, 'PATCH', `/users/${u.id}`, { token: second.token, body: { password: PASSWORD + '-new', current_password: PASSWORD } });
    expectStatus(assert, pw, 200);
    assert.equal(await closeCode(s2), SESSION_ENDED);
    // Deleting the account.
    const v = await addMember(srv, admin.token);
    const v1 = await events(srv, v);
    expectStatus(assert, await api(srv, 'DELETE', `/users/${v.id}`, { token: admin.token }), 204);
    assert.equal(await closeCode(v1), SESSION_ENDED);
  });
});

describe('session ends across instances (PostgreSQL + Redis)', { skip: SHARED_SKIP }, () => {
  const KEY = randomKeyHex();
  let A, B, admin;
  before(async () => {
    A = await startChat({ jwtKey: KEY, redisDb: 13 });
    B = await startPeer(A, { jwtKey: KEY });
    ({ admin } = await team(A, 0));
  });
  after(async () => stopAll(A, B));

  test('logout on one instance closes the session\'s socket on the other; another session\'s stays', async () => {
    const u = await addMember(A, admin.token);
    const other = await loginOk(A, u.email);
    const onB = await events(B, u), onA = await events(A, u), keep = await events(B, other);
    expectStatus(assert, await api(A, 'POST', '/auth/logout', { token: u.token }), 204);
    assert.equal(await closeCode(onB), SESSION_ENDED);
    assert.equal(await closeCode(onA), SESSION_ENDED);
    keep.send({ type: 'ping' });
    await keep.wait((f) => f.type === 'pong');
    await keep.close();
  });
});
