// Network hardening (issue 9): slow clients (header deadline, body rate, per-IP caps with a reserve),
// WebSocket slow consumers, SSE streams that must not take every worker, CORS "*" without
// credentials, and routing on the raw path (an encoded "/" never selects another route).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { api, createAvatar, rssBytes, signup, startAvatars } from './lib/avatars.mjs';
import { eventually, get, metrics, metricSum, sleep, start } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});
async function server(opts) {
  const s = await start(opts);
  servers.push(s);
  return s;
}

/* ---- routing on the raw path ---- */

test('an encoded "/" stays inside its path segment', async () => {
  const srv = await server();
  let r = await get(srv.url, '/api/v1/_test/params/x%2Fy/z');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { a: 'x/y', b: 'z' });
  // Decoded, this would be /params/x/y/z (no such route) or /params/x/y: neither may match.
  r = await get(srv.url, '/api/v1/_test/params/x%2Fy%2Fz');
  assert.equal(r.status, 404, r.text);
  r = await get(srv.url, '/api/v1/_test/params/x/y%2Fz');
  assert.deepEqual(r.json, { a: 'x', b: 'y/z' });
  // Other escapes in a parameter are still decoded; %00 is kept as it is.
  r = await get(srv.url, '/api/v1/_test/params/%C3%A9t%C3%A9%20x/%00a');
  assert.deepEqual(r.json, { a: 'été x', b: '%00a' });
  // Literal segments are matched as sent: an encoded separator is not one.
  r = await get(srv.url, '/api%2Fv1/_test/params/a/b');
  assert.equal(r.status, 404);
  assert.equal(await srv.stop(), 0);
});

test('/api/v1/avatars/{id}%2Fmemories is the avatar "{id}/memories" (404), never its memories', async () => {
  const srv = await startAvatars();
  servers.push(srv);
  const u = await signup(srv);
  const av = await createAvatar(srv, u.token);
  let r = await api(srv, 'GET', `/avatars/${av.id}/memories`, { token: u.token });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'GET', `/avatars/${av.id}%2Fmemories`, { token: u.token });
  assert.equal(r.status, 404, `decoded before routing? ${r.text}`);
  assert.equal(r.json.error.code, 'not_found');
  r = await api(srv, 'GET', `/avatars/a%2Fb/memories`, { token: u.token });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'not_found');
  r = await api(srv, 'GET', `/avatars/${av.id}`, { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(await srv.stop(), 0);
});

/* ---- CORS ---- */

test('--cors-origins "*": any origin may read, never with credentials; a listed origin keeps them', async () => {
  const srv = await server({ args: ['--cors-origins', 'https://app.example, *'] });
  let r = await get(srv.url, '/health', { headers: { origin: 'https://evil.example' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  r = await get(srv.url, '/api/v1/_test/echo', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  // The listed origin is reflected, with credentials.
  r = await get(srv.url, '/health', { headers: { origin: 'https://app.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(await srv.stop(), 0);

  const star = await server({ args: ['--cors-origins', '*'] });
  r = await get(star.url, '/health', { headers: { origin: 'https://app.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  r = await get(star.url, '/health');
  assert.equal(r.headers.get('access-control-allow-origin'), null, 'no Origin, no CORS headers');
  assert.equal(await star.stop(), 0);
});

/* ---- slow clients ---- */

/* A TCP connection from the given local address; resolves once connected. s.gone resolves at close. */
function connectFrom(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.on('error', () => {});
    s.gone = new Promise((r) => s.on('close', r));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/* GET path on a fresh connection (no pooled keep-alive sockets to race a server-side close). */
function freshGet(port, path, localAddress = '127.0.0.1') {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
  });
}

const isClosed = (s) => s.destroyed || s.readyState === 'closed';

test('per-address cap: sockets over --max-conns-per-ip are closed; other addresses are served', async () => {
  const CAP = 8;
  const srv = await server({ args: ['--max-conns-per-ip', String(CAP), '--http-header-timeout', '3'] });
  // 127.0.0.2 is another address on the loopback interface.
  const socks = [];
  for (let i = 0; i < 2 * CAP + 4; i++) socks.push(await connectFrom(srv.port, '127.0.0.2'));
  const over = await eventually(() => socks.filter(isClosed).length >= CAP + 4, { timeoutMs: 3000 });
  assert.ok(over, `${socks.filter(isClosed).length} of ${socks.length} sockets closed; expected all but ${CAP}`);
  assert.equal(socks.filter((s) => !isClosed(s)).length, CAP, 'the first CAP sockets stay');
  // The address holding its whole share does not keep anyone else out.
  const r = await freshGet(srv.port, '/health', '127.0.0.1');
  assert.equal(r.status, 200, JSON.stringify(r));
  const refused = metricSum((await metrics(srv.url)).samples, 'doppel_http_connections_refused_total');
  assert.equal(refused, CAP + 4);
  // Idle sockets are dropped at the header deadline; then that address is served again.
  await Promise.all(socks.map((s) => s.gone));
  const again = await freshGet(srv.port, '/health', '127.0.0.2');
  assert.equal(again.status, 200, JSON.stringify(again));
  assert.equal(await srv.stop(), 0);
});

test('one address never takes every slot: a quarter of --max-connections is kept for others', async () => {
  const srv = await server({ args: ['--max-connections', '16', '--max-conns-per-ip', '1000', '--http-header-timeout', '30'] });
  assert.match(srv.stderr(), /leaves no reserve/);
  const socks = [];
  for (let i = 0; i < 16; i++) socks.push(await connectFrom(srv.port, '127.0.0.2'));
  await eventually(() => socks.filter(isClosed).length >= 4, { timeoutMs: 3000 });
  assert.equal(socks.filter((s) => !isClosed(s)).length, 12);
  const r = await freshGet(srv.port, '/health', '127.0.0.1');
  assert.equal(r.status, 200, JSON.stringify(r));
  for (const s of socks) s.destroy();
  assert.equal(await srv.stop(), 0);
});

test('an idle keep-alive connection is announced to close a second before --http-header-timeout, and closes then', async () => {
  const srv = await server({ args: ['--http-header-timeout', '2'] });
  const s = await connectFrom(srv.port);
  let received = '';
  s.on('data', (d) => (received += d));
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => received.includes('\r\n\r\n'), { timeoutMs: 3000 }), 'answered');
  assert.match(received, /^HTTP\/1\.1 200/);
  assert.match(received, /\r\nKeep-Alive: timeout=1\r\n/i, 'the hint a client stops reusing the connection by');
  const t0 = Date.now();
  await s.gone;
  const idle = Date.now() - t0;
  assert.ok(idle >= 1000 && idle < 6000, `closed by the server after ${idle} ms idle`);
  assert.equal(await srv.stop(), 0);
});

test('a client dribbling header lines past --http-header-timeout is closed', async () => {
  const srv = await server({ args: ['--http-header-timeout', '1', '--http-timeout', '30'] });
  const s = await connectFrom(srv.port);
  let received = '';
  s.on('data', (d) => (received += d));
  s.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  const t0 = Date.now();
  let sent = 0;
  while (!isClosed(s) && Date.now() - t0 < 8000) {
    await sleep(300);
    if (!isClosed(s)) s.write(`X-Dribble-${sent++}: y\r\n`);
  }
  assert.ok(isClosed(s), `still open after ${Date.now() - t0} ms of dribbling (${sent} header lines)`);
  assert.equal(received, '', 'no answer to an incomplete request');
  // Honest requests still work, and a response longer than the deadline is not cut.
  const r = await freshGet(srv.port, '/health');
  assert.equal(r.status, 200);
  const sse = await freshGet(srv.port, '/api/v1/_test/sse?n=10&interval_ms=200');
  assert.equal(sse.status, 200);
  assert.match(sse.text, /event: done/);
  const m = await metrics(srv.url);
  assert.ok(metricSum(m.samples, 'doppel_http_slow_clients_closed_total', { reason: 'headers' }) >= 1);
  assert.equal(await srv.stop(), 0);
});

test('a body slower than --http-min-body-rate is cut off; fast bodies and streamed uploads pass', async () => {
  const srv = await server({ args: ['--http-min-body-rate', '1000', '--http-body-rate-window', '1', '--http-timeout', '30'] });
  const s = await connectFrom(srv.port);
  s.write('POST /api/v1/_test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"');
  const t0 = Date.now();
  while (!isClosed(s) && Date.now() - t0 < 8000) {
    await sleep(300);
    if (!isClosed(s)) s.write('xxxxxxxxxx');
  }
  assert.ok(isClosed(s), `a 33 bytes/s body still open after ${Date.now() - t0} ms`);
  // A fast body under the same settings.
  const big = JSON.stringify({ a: 'y'.repeat(200000) });
  const r = await fetch(srv.url + '/api/v1/_test/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
  assert.equal(r.status, 200);
  // A streamed upload (workers write each chunk while the client waits) is not counted as slow.
  const chunk = Buffer.alloc(1 << 20, 7);
  const up = await fetch(srv.url + '/api/v1/_test/upload', {
    method: 'POST',
    body: (async function* () {
      for (let i = 0; i < 32; i++) yield chunk;
    })(),
    duplex: 'half',
  });
  assert.equal(up.status, 201, await up.text());
  const m = await metrics(srv.url);
  assert.equal(metricSum(m.samples, 'doppel_http_slow_clients_closed_total', { reason: 'body' }), 1);
  assert.equal(await srv.stop(), 0);
});

/* ---- WebSocket slow consumers ---- */

test('a WebSocket client that does not read is closed with 1008 once its queue passes --ws-send-queue-max', async () => {
  const CAP = 256 * 1024;
  const srv = await server({ args: ['--ws-send-queue-max', String(CAP)] });
  const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/_test/ws', { perMessageDeflate: false });
  ws.on('error', () => {});
  const closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const rss0 = rssBytes(srv.proc.pid);
  ws._socket.pause(); // read nothing: every echo stays with the server
  const msg = Buffer.alloc(64 * 1024, 1);
  const slow = async () => metricSum((await metrics(srv.url)).samples, 'doppel_ws_slow_consumers_total') || 0;
  let sent = 0;
  // The kernel's socket buffers take some megabytes first; the server's queue only grows after.
  while (!(await slow()) && sent < 4096 && ws.readyState === WebSocket.OPEN) {
    for (let i = 0; i < 32 && ws.readyState === WebSocket.OPEN; i++, sent++) ws.send(msg);
    await sleep(20);
  }
  assert.equal(await slow(), 1, `no slow-consumer close after ${sent} echoes of 64 KiB`);
  const grown = rssBytes(srv.proc.pid) - rss0;
  assert.ok(grown < 64 * 1024 * 1024, `the server grew by ${(grown / 1048576).toFixed(1)} MB for one slow consumer`);
  ws._socket.resume(); // now read: what was on the wire, then the close frame
  let received = 0;
  ws.on('message', (d) => (received += d.length));
  const c = await closed;
  assert.equal(c.code, 1008, `close ${c.code} ${c.reason}`);
  assert.ok(received < sent * msg.length, `the queue was dropped: ${received} of ${sent * msg.length} bytes came back`);
  // The server is unharmed and holds no socket for it.
  const r = await get(srv.url, '/health');
  assert.equal(r.status, 200);
  assert.ok(await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') === 0));
  assert.equal(await srv.stop(), 0);
});

test('a WebSocket is not a request waiting for headers: it outlives --http-header-timeout', async () => {
  const srv = await server({ args: ['--http-header-timeout', '1'] });
  const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/_test/ws', { perMessageDeflate: false });
  const msgs = [];
  ws.on('message', (d) => msgs.push(d.toString()));
  let closed = null;
  ws.on('close', (code) => (closed = code));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  await sleep(2500);
  ws.send('still here');
  assert.ok(await eventually(() => msgs.includes('still here'), { timeoutMs: 3000 }), `messages: ${msgs}, closed: ${closed}`);
  assert.equal(closed, null);
  ws.close(1000);
  assert.equal(await srv.stop(), 0);
});

/* ---- SSE streams and the worker pool ---- */

test('more slow SSE streams than workers leave workers for ordinary requests', async () => {
  const srv = await server({ args: ['--workers', '2'] });
  // Each stream's producer takes 10 s (100 events 100 ms apart: long enough that the first is still
  // producing when the sixth arrives, even on the sanitizer build); the clients do not read.
  const streams = [];
  for (let i = 0; i < 6; i++) {
    streams.push(
      new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: srv.port, path: '/api/v1/_test/sse?n=100&interval_ms=100', agent: false }, (res) => {
          res.pause();
          resolve({ req, res });
        });
        req.on('error', () => {});
      }),
    );
  }
  const open = await Promise.all(streams);
  for (const { res } of open) assert.equal(res.statusCode, 200);
  // One slot (half of 2 workers) produces; the other streams wait without a worker.
  assert.ok(await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_sse_streams_waiting') === 5));
  // A request that needs a worker (the database) answers while the streams are produced.
  const t0 = Date.now();
  const r = await get(srv.url, '/api/v1/_test/row');
  const ms = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.ok(ms < 4000, `GET /api/v1/_test/row took ${ms} ms behind 6 streams of 10 s on 2 workers`);
  // Clients that leave free their turn; a new stream is still served completely.
  for (const { req } of open) req.destroy();
  const s = await get(srv.url, '/api/v1/_test/sse?n=3');
  assert.equal(s.status, 200);
  assert.match(s.text, /event: done/);
  assert.equal(await srv.stop(), 0);
});

test('WebSockets count against --max-conns-per-ip and --max-connections after the upgrade (they leave libmicrohttpd\'s count)', async () => {
  const CAP = 3;
  const srv = await server({ args: ['--max-conns-per-ip', String(CAP), '--max-connections', '40'] });
  const url = srv.url.replace('http', 'ws') + '/api/v1/_test/ws';
  const open = (localAddress) => new Promise((res, rej) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('message', () => res(ws)); // the route's ready message
    ws.once('unexpected-response', (req, r) => rej(Object.assign(new Error('refused'), { status: r.statusCode })));
    ws.once('error', rej);
  });
  const held = [];
  for (let i = 0; i < CAP; i++) held.push(await open('127.0.0.2'));
  await assert.rejects(open('127.0.0.2'), (e) => e.status === 503, 'one over the cap is refused at the handshake');
  const other = await open('127.0.0.1'); // another address is not held back
  held.pop().close();
  await eventually(async () => {
    try {
      held.push(await open('127.0.0.2'));
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 3000 });
  for (const ws of [...held, other]) ws.terminate();
  assert.equal(await srv.stop(), 0);
});
