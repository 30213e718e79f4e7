// Input limits: JSON bodies (syntax, shape, duplicates, depth, size by Content-Length and chunked),
// header count, query count, slow clients. None of the bad inputs may change state.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { errorShape, get, postJson, rawRequest, rawTcp, start } from './lib/server.mjs';

const CAP = 2048;
let srv;
before(async () => {
  srv = await start({ args: ['--json-body-max', String(CAP), '--http-timeout', '2'] });
});
after(async () => srv && srv.cleanup());

const nest = (depth) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

test('POST /api/v1/_test/echo echoes a JSON object', async () => {
  const body = { a: 1, s: 'héllo ✓ 😀', nested: { b: [1, 2, { c: null }], t: true }, f: 1.5 };
  const r = await postJson(srv.url, '/api/v1/_test/echo', body);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(r.json, { echo: body });
});

test('bad JSON → 400 invalid_json', async () => {
  for (const body of ['{', '{"a":}', 'nope', '{"a":1}garbage', "{'a':1}", '{"a":1,}', '']) {
    const r = await postJson(srv.url, '/api/v1/_test/echo', body);
    errorShape(assert, r, 400, 'invalid_json');
  }
});

test('invalid UTF-8 in a JSON body → 400', async () => {
  const r = await postJson(srv.url, '/api/v1/_test/echo', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
  errorShape(assert, r, 400);
});

test('a JSON body that is not an object → 400', async () => {
  for (const body of ['[1,2]', '"str"', '42', 'null', 'true']) {
    const r = await postJson(srv.url, '/api/v1/_test/echo', body);
    errorShape(assert, r, 400);
  }
});

test('duplicate keys → 400', async () => {
  let r = await postJson(srv.url, '/api/v1/_test/echo', '{"a":1,"a":2}');
  errorShape(assert, r, 400);
  r = await postJson(srv.url, '/api/v1/_test/echo', '{"x":{"b":1,"b":1}}');
  errorShape(assert, r, 400);
});

test('nesting: 32 levels accepted, 33 refused with 400', async () => {
  let r = await postJson(srv.url, '/api/v1/_test/echo', nest(32));
  assert.equal(r.status, 200, r.text);
  r = await postJson(srv.url, '/api/v1/_test/echo', nest(33));
  errorShape(assert, r, 400);
  // Brackets inside strings do not count.
  r = await postJson(srv.url, '/api/v1/_test/echo', JSON.stringify({ s: '['.repeat(100) + '{'.repeat(100) }));
  assert.equal(r.status, 200, r.text);
  // Very deep input is refused, not a crash.
  r = await postJson(srv.url, '/api/v1/_test/echo', '['.repeat(1000) + ']'.repeat(1000));
  errorShape(assert, r, 400);
});

function bodyOfSize(n) {
  const base = '{"p":""}';
  return `{"p":"${'x'.repeat(n - base.length)}"}`;
}

test('a body at the cap is accepted', async () => {
  const body = bodyOfSize(CAP);
  assert.equal(Buffer.byteLength(body), CAP);
  const r = await postJson(srv.url, '/api/v1/_test/echo', body);
  assert.equal(r.status, 200, r.text);
});

test('a body over the cap (Content-Length) → 413 too_large', async () => {
  const body = bodyOfSize(CAP + 1);
  const r = await rawRequest(srv.port, {
    method: 'POST',
    path: '/api/v1/_test/echo',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    body,
  });
  assert.ok(!r.error, `request failed: ${r.error}`);
  errorShape(assert, { ...r, headers: r.headers }, 413, 'too_large');
  // A huge declared length is refused up front (the body is never sent).
  const r2 = await rawTcp(
    srv.port,
    'POST /api/v1/_test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{',
    { timeoutMs: 3000 },
  );
  assert.match(r2.text, /^HTTP\/1\.1 413 /);
});

test('a chunked body over the cap → 413 too_large', async () => {
  const body = bodyOfSize(CAP * 3);
  const chunks = [];
  for (let i = 0; i < body.length; i += 500) chunks.push(body.slice(i, i + 500));
  const r = await rawRequest(srv.port, {
    method: 'POST',
    path: '/api/v1/_test/echo',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: chunks,
  });
  assert.ok(!r.error, `request failed: ${r.error}`);
  errorShape(assert, r, 413, 'too_large');
});

test('a chunked body under the cap is accepted', async () => {
  const body = JSON.stringify({ a: 'y'.repeat(1000), b: [1, 2, 3] });
  const chunks = [body.slice(0, 10), body.slice(10, 600), body.slice(600)];
  const r = await rawRequest(srv.port, {
    method: 'POST',
    path: '/api/v1/_test/echo',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: chunks,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { echo: JSON.parse(body) });
});

test('200 request headers → 431 (or the connection is closed)', async () => {
  const headers = {};
  for (let i = 0; i < 200; i++) headers[`x-h-${i}`] = `v${i}`;
  const r = await rawRequest(srv.port, { path: '/health', headers });
  if (r.error) {
    assert.match(r.error.code || String(r.error), /ECONNRESET|EPIPE|socket hang up|ERR_/);
  } else {
    assert.equal(r.status, 431, r.text);
  }
});

test('too many query arguments → 400', async () => {
  const q = Array.from({ length: 40 }, (_, i) => `k${i}=${i}`).join('&');
  const r = await get(srv.url, `/api/v1/_test/sleep?ms=1&${q}`);
  errorShape(assert, r, 400);
});

test('a slow client (partial request line, then silence) is disconnected within ~3 s', async () => {
  const t0 = Date.now();
  const closed = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /hea'));
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 6000);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  const ms = Date.now() - t0;
  assert.ok(closed, 'the connection is closed by the server');
  assert.ok(ms >= 1500 && ms <= 4000, `closed after ${ms} ms (--http-timeout 2)`);
});

test('an idle connection (nothing sent) is disconnected within ~3 s', async () => {
  const r = await rawTcp(srv.port, '', { timeoutMs: 6000 });
  assert.ok(r.closed, 'closed by the server');
  assert.ok(r.ms <= 4000, `closed after ${r.ms} ms`);
});

test('a slow body (headers, then silence) is disconnected within ~3 s', async () => {
  const r = await rawTcp(
    srv.port,
    'POST /api/v1/_test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    { timeoutMs: 6000 },
  );
  assert.ok(r.closed, 'closed by the server');
  assert.ok(r.ms <= 4000, `closed after ${r.ms} ms`);
});

test('garbage on the wire → 400 or closed, server unharmed', async () => {
  for (const junk of ['\x00\x01\x02\x03\r\n\r\n', 'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'G'.repeat(100000) + '\r\n\r\n']) {
    const r = await rawTcp(srv.port, junk, { timeoutMs: 4000 });
    if (r.text) assert.match(r.text, /^HTTP\/1\.[01] (400|404|413|414|431|505) /, `answer to junk: ${r.text.slice(0, 80)}`);
  }
  assert.equal((await get(srv.url, '/health')).status, 200);
});

test('none of the bad inputs changed state', async () => {
  const r = await get(srv.url, '/api/v1/_test/row');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'doppel');
  assert.equal((await get(srv.url, '/ready')).status, 200);
  const e = await postJson(srv.url, '/api/v1/_test/echo', { still: 'fine' });
  assert.deepEqual(e.json, { echo: { still: 'fine' } });
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
