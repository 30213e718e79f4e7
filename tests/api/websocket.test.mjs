// WebSocket echo route: handshake, ready message, text/binary/fragmented echo, ping, limits
// (1009 over --ws-message-max, 1007 on invalid UTF-8), clean close, the open-sockets gauge.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { eventually, get, metrics, metricSum, rawTcp, start } from './lib/server.mjs';

const MAX = 4096;
let srv, wsUrl;
before(async () => {
  srv = await start({ args: ['--ws-message-max', String(MAX)] });
  wsUrl = srv.url.replace('http', 'ws') + '/api/v1/_test/ws';
});
after(async () => srv && srv.cleanup());

/* Opens a socket and collects messages; resolves once the server's {"type":"ready"} has arrived. */
function open(url = wsUrl, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    const queue = [];
    const waiters = [];
    ws.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift()(m);
      else queue.push(m);
    });
    ws.next = (timeoutMs = 5000) =>
      new Promise((res, rej) => {
        if (queue.length) return res(queue.shift());
        const t = setTimeout(() => rej(new Error('no message within ' + timeoutMs + ' ms')), timeoutMs);
        waiters.push((m) => {
          clearTimeout(t);
          res(m);
        });
      });
    ws.on('error', reject);
    ws.on('open', async () => {
      try {
        const first = await ws.next();
        resolve({ ws, first });
      } catch (e) {
        reject(e);
      }
    });
  });
}

test('the server says {"type":"ready"} first', async () => {
  const { ws, first } = await open();
  assert.equal(first.isBinary, false);
  assert.deepEqual(JSON.parse(first.data.toString()), { type: 'ready' });
  ws.close(1000);
  assert.equal((await ws.closed).code, 1000);
});

test('text and binary messages are echoed, in order', async () => {
  const { ws } = await open();
  ws.send('hello');
  ws.send('{"json":true,"ü":"✓"}');
  const bin = Buffer.from([0, 1, 2, 255, 254, 0, 10]);
  ws.send(bin);
  ws.send('');
  let m = await ws.next();
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString(), 'hello');
  m = await ws.next();
  assert.equal(m.data.toString(), '{"json":true,"ü":"✓"}');
  m = await ws.next();
  assert.equal(m.isBinary, true);
  assert.deepEqual(Buffer.from(m.data), bin);
  m = await ws.next();
  assert.equal(m.data.toString(), '');
  // Many small messages.
  for (let i = 0; i < 200; i++) ws.send(`m${i}`);
  for (let i = 0; i < 200; i++) assert.equal((await ws.next()).data.toString(), `m${i}`);
  ws.close(1000, 'bye');
  const c = await ws.closed;
  assert.equal(c.code, 1000);
});

test('a message of exactly --ws-message-max bytes is echoed', async () => {
  const { ws } = await open();
  const big = Buffer.alloc(MAX, 0x61);
  ws.send(big, { binary: true });
  const m = await ws.next();
  assert.equal(m.data.length, MAX);
  ws.send(big.toString());
  assert.equal((await ws.next()).data.length, MAX);
  ws.close(1000);
  await ws.closed;
});

test('a fragmented message is reassembled and echoed whole', async () => {
  const { ws } = await open();
  ws.send('frag-', { fin: false });
  ws.send('ment-', { fin: false });
  ws.send('ed', { fin: true });
  const m = await ws.next();
  assert.equal(m.data.toString(), 'frag-ment-ed');
  ws.close(1000);
  await ws.closed;
});

test('ping → pong', async () => {
  const { ws } = await open();
  const pong = new Promise((r) => ws.once('pong', (d) => r(d.toString())));
  ws.ping('are-you-there');
  assert.equal(await pong, 'are-you-there');
  ws.close(1000);
  await ws.closed;
});

test('a message over --ws-message-max closes the connection with 1009', async () => {
  const { ws } = await open();
  ws.on('error', () => {});
  ws.send(Buffer.alloc(MAX + 1, 0x62), { binary: true });
  const c = await ws.closed;
  assert.equal(c.code, 1009);
});

test('a fragmented message growing over --ws-message-max closes with 1009', async () => {
  const { ws } = await open();
  ws.on('error', () => {});
  const part = 'c'.repeat(1000);
  for (let i = 0; i < 6; i++) ws.send(part, { fin: false });
  ws.send(part, { fin: true });
  const c = await ws.closed;
  assert.equal(c.code, 1009);
});

test('invalid UTF-8 in a text message closes the connection with 1007', async () => {
  const { ws } = await open();
  ws.on('error', () => {});
  // ws does not validate outgoing text: these bytes go out as a text frame.
  ws.send(Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff]), { binary: false });
  const c = await ws.closed;
  assert.equal(c.code, 1007);
});

test('plain GET on the WebSocket route → 426 upgrade_required', async () => {
  const r = await get(srv.url, '/api/v1/_test/ws');
  assert.equal(r.status, 426, r.text);
  assert.equal(r.json.error.code, 'upgrade_required');
});

test('a bad handshake (wrong version) → 400', async () => {
  const r = await rawTcp(
    srv.port,
    'GET /api/v1/_test/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n',
    { timeoutMs: 3000, until: /\r\n\r\n/ },
  );
  assert.match(r.text, /^HTTP\/1\.1 400 /);
});

test('the handshake answer is RFC 6455 (Sec-WebSocket-Accept)', async () => {
  const r = await rawTcp(
    srv.port,
    'GET /api/v1/_test/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    { timeoutMs: 3000, until: /\r\n\r\n/ },
  );
  assert.match(r.text, /^HTTP\/1\.1 101 /);
  assert.match(r.text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
});

test('doppel_websockets_open follows open sockets', async () => {
  // Earlier tests' sockets must have been closed and counted down.
  const base = await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') === 0);
  assert.ok(base, 'no socket left open by earlier tests (doppel_websockets_open = 0)');
  const socks = await Promise.all([open(), open(), open()]);
  const three = await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') === 3);
  assert.ok(three, 'gauge shows 3 open sockets');
  for (const { ws } of socks) ws.close(1000);
  await Promise.all(socks.map(({ ws }) => ws.closed));
  const zero = await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') === 0);
  assert.ok(zero, 'gauge back to 0');
});

test('a client that vanishes (no close frame) does not hurt the server', async () => {
  const { ws } = await open();
  ws.terminate();
  await ws.closed;
  const zero = await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') === 0);
  assert.ok(zero, 'gauge back to 0 after an abrupt disconnect');
  assert.equal((await get(srv.url, '/health')).status, 200);
});

test('work handed to a worker (ws_submit) comes back to its connection in order; the loop keeps echoing meanwhile', async () => {
  const { ws } = await open();
  ws.send('work:300');
  ws.send('work:0');
  ws.send('work:50');
  ws.send('echo while the workers sleep');
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await ws.next(10000)).data.toString());
  assert.equal(got[0], 'echo while the workers sleep', 'the loop answers at once: no worker is held by the connection');
  assert.deepEqual(got.slice(1), ['done:300', 'done:0', 'done:50'], 'one task at a time, in the order sent');
  ws.close(1000);
  await ws.closed;
});

test('a connection that goes away while its work runs is freed only after the work is done', async () => {
  for (let i = 0; i < 5; i++) {
    const { ws } = await open();
    ws.send('work:200');
    ws.send('work:10');
    ws.terminate(); // gone before either task is done: their results must not reach a freed connection
  }
  await new Promise((r) => setTimeout(r, 800));
  const { ws } = await open();
  ws.send('still here');
  assert.equal((await ws.next()).data.toString(), 'still here');
  ws.close(1000);
  await ws.closed;
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
