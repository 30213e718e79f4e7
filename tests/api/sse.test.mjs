// Server-sent events: framing, order, the end event, and clients that leave mid-stream.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, get, metrics, metricSum, start } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await start();
});
after(async () => srv && srv.cleanup());

/* Parses an SSE text into [{event, data}] (ignores comments and ids). */
function parseSse(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length || event !== 'message') events.push({ event, data: data.join('\n') });
  }
  return events;
}

test('n delta events with {"i":k}, then done', async () => {
  const r = await get(srv.url, '/api/v1/_test/sse?n=5');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  assert.match(r.headers.get('cache-control') || '', /no-cache/);
  const ev = parseSse(r.text);
  assert.equal(ev.length, 6, r.text);
  for (let k = 0; k < 5; k++) {
    assert.equal(ev[k].event, 'delta');
    assert.deepEqual(JSON.parse(ev[k].data), { i: k });
  }
  assert.equal(ev[5].event, 'done');
});

test('n=0 → only done', async () => {
  const r = await get(srv.url, '/api/v1/_test/sse?n=0');
  assert.equal(r.status, 200);
  const ev = parseSse(r.text);
  assert.deepEqual(ev.map((e) => e.event), ['done']);
});

test('events arrive as they are produced, not at the end', async () => {
  const t0 = Date.now();
  const res = await fetch(srv.url + '/api/v1/_test/sse?n=4&interval_ms=300');
  const reader = res.body.getReader();
  const first = await reader.read();
  const firstMs = Date.now() - t0;
  assert.ok(!first.done);
  assert.match(Buffer.from(first.value).toString(), /event: delta/);
  assert.ok(firstMs < 900, `first event after ${firstMs} ms (the whole stream takes ≥ 1200 ms)`);
  let text = Buffer.from(first.value).toString();
  for (;;) {
    const c = await reader.read();
    if (c.done) break;
    text += Buffer.from(c.value).toString();
  }
  const ev = parseSse(text);
  assert.deepEqual(ev.map((e) => e.event), ['delta', 'delta', 'delta', 'delta', 'done']);
});

test('a large stream arrives complete and in order', async () => {
  const r = await get(srv.url, '/api/v1/_test/sse?n=5000');
  const ev = parseSse(r.text);
  assert.equal(ev.length, 5001);
  for (let k = 0; k < 5000; k++) assert.equal(JSON.parse(ev[k].data).i, k);
  assert.equal(ev[5000].event, 'done');
});

test('bad parameters → 400', async () => {
  for (const q of ['n=abc', 'n=-1', 'interval_ms=99999', 'n=100001']) {
    const r = await get(srv.url, '/api/v1/_test/sse?' + q);
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.error.code, 'invalid_input');
  }
});

test('a client that disconnects mid-stream increments doppel_sse_cancelled_total', async () => {
  const before = metricSum((await metrics(srv.url)).samples, 'doppel_sse_cancelled_total') || 0;
  const ac = new AbortController();
  const res = await fetch(srv.url + '/api/v1/_test/sse?n=1000&interval_ms=20', { signal: ac.signal });
  const reader = res.body.getReader();
  let got = '';
  while (!/"i":2\b/.test(got)) {
    const c = await reader.read();
    assert.ok(!c.done, 'stream ended early');
    got += Buffer.from(c.value).toString();
  }
  ac.abort();
  const after = await eventually(
    async () => {
      const v = metricSum((await metrics(srv.url)).samples, 'doppel_sse_cancelled_total') || 0;
      return v > before ? v : false;
    },
    { timeoutMs: 5000 },
  );
  assert.ok(after > before, `doppel_sse_cancelled_total went from ${before} to ${after}`);
  // The server still streams to others.
  const r = await get(srv.url, '/api/v1/_test/sse?n=2');
  assert.equal(parseSse(r.text).length, 3);
});

test('several concurrent streams', async () => {
  const rs = await Promise.all(Array.from({ length: 8 }, () => get(srv.url, '/api/v1/_test/sse?n=20&interval_ms=5')));
  for (const r of rs) {
    const ev = parseSse(r.text);
    assert.equal(ev.length, 21);
    assert.equal(ev[20].event, 'done');
  }
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
