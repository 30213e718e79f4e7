// People chat over HTTP: who may start a chat with whom (org, shared avatar, accepted contact,
// never a stranger), blocks, messages (idempotent by client_id, numbered per chat, replies,
// attachments of one's own media, edit, delete for everyone), history pages, unread counts,
// read state, leave, mute, limits. The live side is chat-events.test.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addMember, api, expectStatus, loginOk, makeOrg, signup, stopAll } from './lib/accounts.mjs';
import { createAvatar, share, uploadOk } from './lib/avatars.mjs';
import { newChat, send, startChat, team } from './lib/chat.mjs';

describe('chats', () => {
  let srv, admin, a, b, c;
  before(async () => {
    srv = await startChat({ args: ['--chat-group-max', '4'] });
    ({ admin, people: [a, b, c] } = await team(srv, 3));
  });
  after(async () => stopAll(srv));

  test('a one-to-one chat with someone of the same organisation; starting it again answers the same chat', async () => {
    const r = await api(srv, 'POST', '/chats', { token: a.token, body: { participants: [b.id] } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.kind, 'direct');
    assert.deepEqual(r.json.members.map((m) => m.id).sort(), [a.id, b.id].sort());
    assert.equal(r.json.unread, 0);
    assert.equal(r.json.last_message, null);
    const again = await api(srv, 'POST', '/chats', { token: b.token, body: { participants: [a.id, b.id] } });
    expectStatus(assert, again, 200);
    assert.equal(again.json.id, r.json.id);
  });

  test('strangers cannot message unasked; a shared avatar or an accepted contact request lets them', async () => {
    const stranger = await signup(srv); // an organisation of their own
    const other = await signup(srv);
    let r = await api(srv, 'POST', '/chats', { token: stranger.token, body: { participants: [a.id] } });
    expectStatus(assert, r, 404, 'not_found');
    r = await api(srv, 'POST', '/chats', { token: a.token, body: { participants: ['00000000-0000-7000-8000-000000000000'] } });
    expectStatus(assert, r, 404, 'not_found', 'an unknown id looks the same');
    // A contact request, accepted, opens the way.
    r = await api(srv, 'POST', '/contacts', { token: stranger.token, body: { user_id: a.id } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.status, 'pending');
    r = await api(srv, 'POST', '/chats', { token: stranger.token, body: { participants: [a.id] } });
    expectStatus(assert, r, 404, 'not_found', 'pending is not accepted');
    const list = await api(srv, 'GET', '/contacts', { token: a.token });
    assert.deepEqual(list.json.items.map((x) => [x.user.id, x.status, x.direction]), [[stranger.id, 'pending', 'incoming']]);
    r = await api(srv, 'POST', `/contacts/${stranger.id}/accept`, { token: a.token });
    expectStatus(assert, r, 200);
    r = await api(srv, 'POST', '/chats', { token: stranger.token, body: { participants: [a.id] } });
    expectStatus(assert, r, 201);
    r = await api(srv, 'POST', '/chats', { token: other.token, body: { participants: [stranger.id] } });
    expectStatus(assert, r, 404, 'not_found');
    // A shared avatar: shared within the organisation, then one of them moves to another.
    const owner = await addPerson(), viewer = await addPerson();
    const av = await createAvatar(srv, owner.token, { name: 'Shared' });
    await share(srv, owner.token, av.id, viewer.id, 'viewer');
    const org = await makeOrg(srv, admin.token);
    expectStatus(assert, await api(srv, 'PATCH', `/users/${viewer.id}`, { token: admin.token, body: { org_id: org.id } }), 200);
    viewer.token = (await loginOk(srv, viewer.email)).token; // the move ended the session
    r = await api(srv, 'POST', '/chats', { token: viewer.token, body: { participants: [owner.id] } });
    expectStatus(assert, r, 201);
    r = await api(srv, 'POST', '/chats', { token: viewer.token, body: { participants: [a.id] } });
    expectStatus(assert, r, 404, 'not_found', 'the move took the organisation away');
  });

  test('blocks: no new chat, no message in a one-to-one chat either way; unblocking lifts it', async () => {
    const x = await addPerson(), y = await addPerson();
    const chat = await newChat(srv, x, [y]);
    expectStatus(assert, await send(srv, y, chat.id, 'hi'), 201);
    expectStatus(assert, await api(srv, 'POST', '/chats/blocks', { token: x.token, body: { user_id: y.id } }), 204);
    expectStatus(assert, await send(srv, y, chat.id, 'hello?'), 403, 'forbidden');
    expectStatus(assert, await send(srv, x, chat.id, 'no'), 403, 'forbidden');
    const r = await api(srv, 'POST', '/chats', { token: y.token, body: { participants: [x.id], group: true } });
    expectStatus(assert, r, 403, 'forbidden');
    const blocks = await api(srv, 'GET', '/chats/blocks', { token: x.token });
    assert.deepEqual(blocks.json.items.map((i) => i.user.id), [y.id]);
    expectStatus(assert, await api(srv, 'DELETE', `/chats/blocks/${y.id}`, { token: x.token }), 204);
    expectStatus(assert, await send(srv, y, chat.id, 'back'), 201);
  });

  const addPerson = () => addMember(srv, admin.token);

  test('groups are capped (--chat-group-max, the creator included)', async () => {
    let r = await api(srv, 'POST', '/chats', { token: a.token, body: { participants: [b.id, c.id], title: 'Three' } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.kind, 'group');
    assert.equal(r.json.title, 'Three');
    const d = await addPerson(), e = await addPerson();
    r = await api(srv, 'POST', '/chats', { token: a.token, body: { participants: [b.id, c.id, d.id, e.id] } });
    expectStatus(assert, r, 413);
  });

  test('malformed bodies change nothing', async () => {
    for (const body of [{}, { participants: [] }, { participants: 'x' }, { participants: [42] }, { participants: [a.id] },
      { participants: [b.id], group: 'yes' }, { participants: [b.id], title: 7 }]) {
      const r = await api(srv, 'POST', '/chats', { token: a.token, body });
      assert.ok(r.status === 400 || r.status === 404, JSON.stringify(body) + ' → ' + r.status);
    }
  });

  test('messages: numbered per chat, idempotent by client_id, replies, edits, deletes with a marker', async () => {
    const chat = await newChat(srv, a, [b, c]);
    const m1 = await send(srv, a, chat.id, { text: 'one', client_id: 'c-1' });
    expectStatus(assert, m1, 201);
    assert.equal(m1.json.message.seq, 1);
    assert.equal(m1.json.duplicate, false);
    const retry = await send(srv, a, chat.id, { text: 'one', client_id: 'c-1' });
    expectStatus(assert, retry, 200);
    assert.equal(retry.json.duplicate, true);
    assert.equal(retry.json.message.id, m1.json.message.id);
    // Concurrent retries store one message.
    const many = await Promise.all([1, 2, 3, 4, 5].map(() => send(srv, b, chat.id, { text: 'race', client_id: 'c-race' })));
    assert.equal(new Set(many.map((r) => r.json.message.id)).size, 1);
    assert.equal(many.filter((r) => r.status === 201).length, 1);
    const m3 = await send(srv, c, chat.id, { text: 'three', reply_to: m1.json.message.id });
    expectStatus(assert, m3, 201);
    assert.equal(m3.json.message.seq, 3);
    assert.equal(m3.json.message.reply_to, m1.json.message.id);
    expectStatus(assert, await send(srv, c, chat.id, { text: 'x', reply_to: '00000000-0000-7000-8000-000000000000' }), 400);
    // Edit: only the sender.
    let r = await api(srv, 'PATCH', `/chats/${chat.id}/messages/${m1.json.message.id}`, { token: b.token, body: { text: 'mine now' } });
    expectStatus(assert, r, 404);
    r = await api(srv, 'PATCH', `/chats/${chat.id}/messages/${m1.json.message.id}`, { token: a.token, body: { text: 'one, edited' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.message.text, 'one, edited');
    assert.ok(r.json.message.edited_at);
    r = await api(srv, 'DELETE', `/chats/${chat.id}/messages/${m3.json.message.id}`, { token: c.token });
    expectStatus(assert, r, 200);
    assert.equal(r.json.message.deleted, true);
    assert.equal(r.json.message.text, null);
    r = await api(srv, 'DELETE', `/chats/${chat.id}/messages/${m3.json.message.id}`, { token: c.token });
    expectStatus(assert, r, 409);
    r = await api(srv, 'PATCH', `/chats/${chat.id}/messages/${m3.json.message.id}`, { token: c.token, body: { text: 'undo' } });
    expectStatus(assert, r, 409);
    // History: newest first, the deleted one a marker.
    r = await api(srv, 'GET', `/chats/${chat.id}/messages`, { token: b.token });
    assert.deepEqual(r.json.items.map((m) => [m.seq, m.text, m.deleted]), [[3, null, true], [2, 'race', false], [1, 'one, edited', false]]);
  });

  test('history pages with a cursor; someone outside the chat reads nothing, posts nothing', async () => {
    const chat = await newChat(srv, a, [b], { group: true });
    for (let i = 1; i <= 7; i++) await send(srv, a, chat.id, 'm' + i);
    let r = await api(srv, 'GET', `/chats/${chat.id}/messages?limit=3`, { token: b.token });
    assert.deepEqual(r.json.items.map((m) => m.seq), [7, 6, 5]);
    r = await api(srv, 'GET', `/chats/${chat.id}/messages?limit=3&cursor=${r.json.next_cursor}`, { token: b.token });
    assert.deepEqual(r.json.items.map((m) => m.seq), [4, 3, 2]);
    r = await api(srv, 'GET', `/chats/${chat.id}/messages?limit=3&cursor=${r.json.next_cursor}`, { token: b.token });
    assert.deepEqual(r.json.items.map((m) => m.seq), [1]);
    assert.equal(r.json.next_cursor, null);
    r = await api(srv, 'GET', `/chats/${chat.id}/messages?before=3`, { token: b.token });
    assert.deepEqual(r.json.items.map((m) => m.seq), [2, 1]);
    expectStatus(assert, await api(srv, 'GET', `/chats/${chat.id}/messages`, { token: c.token }), 404);
    expectStatus(assert, await send(srv, c, chat.id, 'let me in'), 404);
    expectStatus(assert, await api(srv, 'GET', `/chats/${chat.id}`, { token: c.token }), 404);
    expectStatus(assert, await api(srv, 'POST', `/chats/${chat.id}/read`, { token: c.token, body: { up_to: 3 } }), 404);
    expectStatus(assert, await api(srv, 'GET', `/chats/${chat.id}/messages?cursor=abc`, { token: b.token }), 400);
  });

  test('list: most recent first, last message, unread counts that reads lower; mute; leave', async () => {
    const x = await addPerson(), y = await addPerson(), z = await addPerson();
    const c1 = await newChat(srv, x, [y]);
    const c2 = await newChat(srv, x, [z]);
    await send(srv, y, c1.id, 'from y 1');
    await send(srv, y, c1.id, 'from y 2');
    await send(srv, z, c2.id, 'from z');
    await send(srv, x, c2.id, 'mine');
    let r = await api(srv, 'GET', '/chats', { token: x.token });
    assert.deepEqual(r.json.items.map((ch) => [ch.id, ch.unread, ch.last_message.text]), [[c2.id, 1, 'mine'], [c1.id, 2, 'from y 2']]);
    r = await api(srv, 'POST', `/chats/${c1.id}/read`, { token: x.token, body: { up_to: 1 } });
    assert.deepEqual(r.json, { chat_id: c1.id, last_read_seq: 1 });
    r = await api(srv, 'POST', `/chats/${c1.id}/read`, { token: x.token, body: { up_to: 99 } });
    assert.equal(r.json.last_read_seq, 2, 'clamped to the last message');
    r = await api(srv, 'POST', `/chats/${c1.id}/read`, { token: x.token, body: { up_to: 1 } });
    assert.equal(r.json.last_read_seq, 2, 'never goes back');
    expectStatus(assert, await api(srv, 'POST', `/chats/${c1.id}/read`, { token: x.token, body: { up_to: 'all' } }), 400);
    r = await api(srv, 'GET', `/chats/${c1.id}`, { token: x.token });
    assert.equal(r.json.unread, 0);
    assert.equal(r.json.members.find((m) => m.id === x.id).last_read_seq, 2);
    r = await api(srv, 'PATCH', `/chats/${c1.id}`, { token: x.token, body: { muted: true } });
    assert.equal(r.json.muted, true);
    expectStatus(assert, await api(srv, 'POST', `/chats/${c2.id}/leave`, { token: x.token }), 204);
    r = await api(srv, 'GET', '/chats?limit=1', { token: x.token });
    assert.deepEqual(r.json.items.map((ch) => ch.id), [c1.id]);
    expectStatus(assert, await send(srv, x, c2.id, 'still here?'), 404);
  });

  test('limits: text length, attachments only of one\'s own media', async () => {
    const chat = await newChat(srv, a, [b], { group: true });
    expectStatus(assert, await send(srv, a, chat.id, 'x'.repeat(4001)), 400);
    expectStatus(assert, await send(srv, a, chat.id, '   '), 400);
    expectStatus(assert, await send(srv, a, chat.id, { text: 'ok', client_id: 'x'.repeat(65) }), 400);
    const av = await createAvatar(srv, a.token, { name: 'Pics' });
    const { media } = await uploadOk(srv, a.token, av.id, Buffer.from('a note to share\n'), 'note.txt');
    let r = await send(srv, a, chat.id, { attachments: [media.id] });
    expectStatus(assert, r, 201);
    assert.equal(r.json.message.attachments[0].media_id, media.id);
    assert.equal(r.json.message.text, null);
    r = await send(srv, b, chat.id, { text: 'not mine', attachments: [media.id] });
    expectStatus(assert, r, 400);
    r = await send(srv, a, chat.id, { text: 'too many', attachments: Array(11).fill(media.id) });
    expectStatus(assert, r, 400);
  });

  test('settings: presence hidden, receipts off', async () => {
    let r = await api(srv, 'GET', '/chats/settings', { token: a.token });
    assert.deepEqual(r.json, { hide_presence: false, send_receipts: true });
    r = await api(srv, 'PATCH', '/chats/settings', { token: a.token, body: { send_receipts: false } });
    assert.deepEqual(r.json, { hide_presence: false, send_receipts: false });
    expectStatus(assert, await api(srv, 'PATCH', '/chats/settings', { token: a.token, body: { hide_presence: 1 } }), 400);
    r = await api(srv, 'PATCH', '/chats/settings', { token: a.token, body: { send_receipts: true } });
    assert.equal(r.json.send_receipts, true);
  });
});
