// The events log read back on reconnect (?since=N): every event after N, across all of the user's
// chats, in the order it happened, numbered without a gap — those of a chat the user has left
// since included, none from after they left — wherever N falls; and the numbers go on where they
// were after the server is killed and started again (on SQLite they are counted in memory and
// read back from the stored events).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, expectStatus, startAccounts, stopAll } from './lib/accounts.mjs';
import { events, newChat, send, startChat, team } from './lib/chat.mjs';
import { BACKEND } from './lib/server.mjs';

const isNew = (chatId, text) => (f) => f.type === 'message.new' && f.data.chat_id === chatId && (!text || f.data.text === text);
const logged = (ev) => ev.frames.filter((f) => f.seq);

describe('the event log on reconnect', () => {
  const servers = [];
  let srv, x, y, z, direct, group, seen;
  const expected = []; // what x must get after `seen`: [chat_id, text] in send order
  before(async () => {
    srv = await startChat();
    servers.push(srv);
    ({ people: [x, y, z] } = await team(srv, 3));
    direct = await newChat(srv, y, [x]);
    group = await newChat(srv, y, [x, z], { group: true });
  });
  after(async () => stopAll(...servers));

  test('since=N: every event after N from every chat, in order, with no gap; a chat left since gives what came before', async () => {
    const ev = await events(srv, x);
    await send(srv, y, direct.id, 'first');
    seen = (await ev.wait(isNew(direct.id, 'first'))).seq;
    await ev.close();
    // More than one mark's worth (a mark every 32nd number) while x is away, in both chats.
    for (let i = 0; i < 40; i++) {
      const chat = i % 3 ? direct : group;
      expectStatus(assert, await send(srv, y, chat.id, 'away ' + i), 201);
      expected.push([chat.id, 'away ' + i]);
    }
    expectStatus(assert, await api(srv, 'POST', `/chats/${group.id}/leave`, { token: x.token }), 204);
    for (let i = 0; i < 8; i++) {
      expectStatus(assert, await send(srv, y, group.id, 'after x left ' + i), 201);
      expectStatus(assert, await send(srv, y, direct.id, 'still direct ' + i), 201);
      expected.push([direct.id, 'still direct ' + i]);
    }
    const back = await events(srv, x, { since: seen });
    const got = logged(back);
    assert.deepEqual(got.map((f) => f.seq), expected.map((_, i) => seen + 1 + i), 'numbered without a gap');
    assert.deepEqual(got.map((f) => [f.data.chat_id, f.data.text]), expected, 'in send order, nothing after the leave');
    assert.equal(back.ready().data.seq, seen + expected.length);
    await back.close();
    // From the middle (between two marks) and from just before the end.
    for (const k of [17, 33, expected.length - 1]) {
      const mid = await events(srv, x, { since: seen + k });
      assert.deepEqual(logged(mid).map((f) => f.data.text), expected.slice(k).map((e) => e[1]), `since = seen + ${k}`);
      assert.equal(mid.ready().data.seq, seen + expected.length);
      await mid.close();
    }
    // z stayed in the group: its log has the group's messages only, the ones after x left too.
    const zs = await events(srv, z, { since: 0 });
    const zt = logged(zs).map((f) => f.data.text);
    assert.deepEqual(zt, expected.filter((e) => e[0] === group.id).map((e) => e[1]).concat([0, 1, 2, 3, 4, 5, 6, 7].map((i) => 'after x left ' + i)));
    assert.deepEqual(logged(zs).map((f) => f.seq), zt.map((_, i) => i + 1));
    await zs.close();
  });

  test('the numbers go on after the server is killed and started again', async () => {
    const last = seen + expected.length;
    srv.proc.kill('SIGKILL');
    await srv.exited;
    const opts = { dataDir: srv.dataDir, args: ['--chat-presence-grace', '300'] };
    if (BACKEND === 'postgres') {
      opts.backend = 'sqlite'; // the first server's database, given explicitly
      opts.redisUrl = srv.redisUrl;
      opts.args.push('--database-url', srv.databaseUrl);
    }
    srv = await startAccounts(opts);
    servers.push(srv);
    const ev = await events(srv, x, { since: last });
    assert.equal(logged(ev).length, 0, 'nothing new to replay');
    assert.equal(ev.ready().data.seq, last);
    await send(srv, y, direct.id, 'after the restart');
    assert.equal((await ev.wait(isNew(direct.id, 'after the restart'))).seq, last + 1);
    const again = await events(srv, x, { since: last - 1 });
    assert.deepEqual(logged(again).map((f) => f.data.text), ['still direct 7', 'after the restart']);
    await again.close();
    await ev.close();
  });
});
