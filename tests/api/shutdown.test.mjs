// Graceful shutdown on SIGTERM: in-flight requests finish, WebSockets get 1001, no new
// connections, exit code 0; the shutdown deadline bounds the wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { get, sleep, start, tryConnect } from './lib/server.mjs';

test('an idle server exits 0 promptly on SIGTERM', async () => {
  const srv = await start();
  assert.equal((await get(srv.url, '/health')).status, 200);
  const t0 = Date.now();
  assert.equal(await srv.stop('SIGTERM'), 0);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.equal(await tryConnect(srv.port), 'refused');
});

test('SIGINT also stops it with exit 0', async () => {
  const srv = await start();
  assert.equal(await srv.stop('SIGINT'), 0);
});

test('an in-flight request completes after SIGTERM; new connections are refused; exit 0', async () => {
  const srv = await start();
  const t0 = Date.now();
  const inflight = get(srv.url, '/api/v1/_test/sleep?ms=1000');
  await sleep(200); // the request is on a worker now
  srv.signal('SIGTERM');
  await sleep(150);
  // While draining, the listening socket is gone.
  assert.equal(await tryConnect(srv.port), 'refused', 'a new connection during the drain is refused');
  const r = await inflight;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { slept_ms: 1000 });
  assert.ok(Date.now() - t0 >= 1000);
  assert.equal(await srv.stop(), 0);
  assert.equal(await tryConnect(srv.port), 'refused', 'and after the exit');
});

test('an open WebSocket receives close 1001 on SIGTERM; exit 0', async () => {
  const srv = await start();
  const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/_test/ws', { perMessageDeflate: false });
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => {});
  await new Promise((r, j) => {
    ws.once('message', r);
    ws.once('error', j);
  });
  ws.send('still here');
  await new Promise((r) => ws.once('message', r));
  srv.signal('SIGTERM');
  const code = await Promise.race([closed, sleep(5000).then(() => 'no close within 5 s')]);
  assert.equal(code, 1001);
  assert.equal(await srv.stop(), 0);
});

test('an SSE stream is ended on SIGTERM; exit 0', async () => {
  const srv = await start();
  const res = await fetch(srv.url + '/api/v1/_test/sse?n=100000&interval_ms=50');
  const reader = res.body.getReader();
  await reader.read();
  srv.signal('SIGTERM');
  const ended = (async () => {
    try {
      for (;;) if ((await reader.read()).done) return 'ended';
    } catch {
      return 'ended (reset)';
    }
  })();
  const how = await Promise.race([ended, sleep(5000).then(() => 'still streaming after 5 s')]);
  assert.match(how, /^ended/);
  assert.equal(await srv.stop(), 0);
});

test('keep-alive connections do not hold the shutdown', async () => {
  const srv = await start();
  // fetch keeps its connection alive in its pool after this.
  assert.equal((await get(srv.url, '/health')).status, 200);
  const t0 = Date.now();
  assert.equal(await srv.stop(), 0);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('--shutdown-timeout bounds the wait for a request that does not finish', async () => {
  const srv = await start({ args: ['--shutdown-timeout', '1'] });
  const inflight = get(srv.url, '/api/v1/_test/sleep?ms=5000').catch((e) => ({ error: e }));
  await sleep(200);
  const t0 = Date.now();
  srv.signal('SIGTERM');
  const code = await srv.stop();
  const ms = Date.now() - t0;
  await inflight;
  assert.ok(ms < 4000, `exited ${ms} ms after SIGTERM with --shutdown-timeout 1 (a handler sleeps 5 s)`);
  assert.equal(code, 0);
});
