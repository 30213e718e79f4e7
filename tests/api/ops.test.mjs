// Operations routes (/health, /ready), the test routes' database read, and the worker pool
// keeping the event loop free while handlers block.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BACKEND, get, metrics, metricSum, start } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await start({ args: ['--workers', '4'] });
});
after(async () => srv && srv.cleanup());

test('GET /health → 200 {"status":"ok"}', async () => {
  const r = await get(srv.url, '/health');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(r.json, { status: 'ok' });
});

test('HEAD /health → 200 without a body', async () => {
  const r = await get(srv.url, '/health', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
});

test('GET /ready → 200 with every dependency up', async () => {
  const r = await get(srv.url, '/ready');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'ok');
  const { database, cache, blobs } = r.json.checks;
  assert.equal(database.status, 'up');
  assert.equal(database.backend, BACKEND === 'postgres' ? 'postgres' : 'sqlite');
  assert.equal(cache.status, 'up');
  assert.equal(cache.backend, BACKEND === 'postgres' ? 'redis' : 'memory');
  assert.equal(blobs.status, 'up');
  assert.equal(typeof blobs.backend, 'string');
});

test('GET /ready → 503 when the cache is down, naming it', async () => {
  // Nothing listens on port 1: Redis is unreachable, the rest is fine.
  const down = await start({ redisUrl: 'redis://127.0.0.1:1' });
  try {
    const r = await get(down.url, '/ready');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.checks.cache.status, 'down');
    assert.equal(r.json.checks.database.status, 'up');
    assert.notEqual(r.json.status, 'ok');
    // Liveness is not readiness: /health stays 200.
    assert.equal((await get(down.url, '/health')).status, 200);
  } finally {
    assert.equal(await down.stop(), 0);
  }
});

test('GET /api/v1/_test/row reads the instance row', async () => {
  const r = await get(srv.url, '/api/v1/_test/row');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, 'instance');
  assert.equal(r.json.name, 'doppel');
  assert.equal(typeof r.json.created_at, 'string');
  assert.ok(!Number.isNaN(Date.parse(r.json.created_at)), `created_at parses as a date: ${r.json.created_at}`);
});

test('GET /api/v1/_test/sleep validates ?ms=', async () => {
  assert.equal((await get(srv.url, '/api/v1/_test/sleep?ms=5')).status, 200);
  assert.equal((await get(srv.url, '/api/v1/_test/sleep?ms=abc')).status, 400);
  assert.equal((await get(srv.url, '/api/v1/_test/sleep?ms=-1')).status, 400);
  assert.equal((await get(srv.url, '/api/v1/_test/sleep?ms=10001')).status, 400);
});

test('slow handlers on the worker pool never stall the loop: /health stays fast', async () => {
  // 16 sleeps of 1.5 s on 4 workers keep the pool busy (and queued) for ~6 s.
  const t0 = Date.now();
  const sleeps = Array.from({ length: 16 }, () => get(srv.url, '/api/v1/_test/sleep?ms=1500'));
  await new Promise((r) => setTimeout(r, 150));
  const times = [];
  let sawQueue = false;
  for (let i = 0; i < 15; i++) {
    const h0 = performance.now();
    const r = await get(srv.url, '/health');
    times.push(performance.now() - h0);
    assert.equal(r.status, 200);
    if (i % 5 === 0) {
      const m = await metrics(srv.url);
      if (metricSum(m.samples, 'doppel_worker_queue_depth') > 0) sawQueue = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const slowest = Math.max(...times);
  assert.ok(slowest < 200, `/health took up to ${slowest.toFixed(1)} ms while workers were busy: ${times.map((t) => t.toFixed(1)).join(', ')}`);
  assert.ok(sawQueue, 'doppel_worker_queue_depth > 0 while 16 sleeps wait for 4 workers');
  const results = await Promise.all(sleeps);
  for (const r of results) assert.equal(r.status, 200, r.text);
  const total = Date.now() - t0;
  assert.ok(total >= 5500, `16 × 1.5 s on 4 workers cannot finish in ${total} ms`);
  // And the database is still reachable afterwards.
  assert.equal((await get(srv.url, '/api/v1/_test/row')).status, 200);
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
