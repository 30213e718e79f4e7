// /metrics: Prometheus text that promtool accepts, with the families operators rely on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { get, metrics, metricSum, start } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await start();
  // Some traffic of each kind, so that labelled series exist.
  await get(srv.url, '/health');
  await get(srv.url, '/api/v1/_test/row');
  await get(srv.url, '/api/v1/_test/sleep?ms=1');
  await get(srv.url, '/api/v1/nope');
  await get(srv.url, '/ready');
  await get(srv.url, '/api/v1/_test/sse?n=1');
});
after(async () => srv && srv.cleanup());

const promtool = spawnSync('promtool', ['--version']).status === 0;

test('GET /metrics → 200 Prometheus text', async () => {
  const r = await get(srv.url, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.ok(r.text.endsWith('\n'), 'ends with a newline');
});

test('promtool check metrics accepts it', { skip: promtool ? false : 'promtool not installed (Debian package prometheus)' }, async () => {
  // A WebSocket open while scraping, so that gauges are non-trivial.
  const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/_test/ws');
  await new Promise((r, j) => {
    ws.once('message', r);
    ws.once('error', j);
  });
  const { text } = await metrics(srv.url);
  ws.close();
  const p = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(p.status, 0, `promtool exit ${p.status}\nstdout: ${p.stdout}\nstderr: ${p.stderr}`);
  assert.equal((p.stdout + p.stderr).trim(), '', `promtool complained:\n${p.stdout}${p.stderr}`);
});

test('the expected families are there', async () => {
  const { text } = await metrics(srv.url);
  for (const name of [
    'doppel_http_requests_total',
    'doppel_http_request_duration_seconds_bucket',
    'doppel_http_request_duration_seconds_sum',
    'doppel_http_request_duration_seconds_count',
    'doppel_http_requests_in_flight',
    'doppel_websockets_open',
    'doppel_worker_queue_depth',
    'doppel_db_call_duration_seconds_bucket',
    'doppel_cache_call_duration_seconds_bucket',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
    'process_open_fds',
  ]) {
    assert.ok(new RegExp(`^${name}[ {]`, 'm').test(text), `missing ${name}`);
  }
  for (const fam of [
    'doppel_http_requests_total',
    'doppel_http_request_duration_seconds',
    'doppel_db_call_duration_seconds',
    'doppel_cache_call_duration_seconds',
    'process_open_fds',
  ]) {
    assert.ok(new RegExp(`^# HELP ${fam} \\S`, 'm').test(text), `HELP for ${fam}`);
    assert.ok(new RegExp(`^# TYPE ${fam} (counter|gauge|histogram)$`, 'm').test(text), `TYPE for ${fam}`);
  }
});

test('requests are counted by method, route template and status', async () => {
  const s0 = (await metrics(srv.url)).samples;
  const lbl = { method: 'GET', route: '/health', status: '200' };
  const before = metricSum(s0, 'doppel_http_requests_total', lbl) || 0;
  for (let i = 0; i < 5; i++) await get(srv.url, '/health');
  const s1 = (await metrics(srv.url)).samples;
  assert.equal(metricSum(s1, 'doppel_http_requests_total', lbl), before + 5);
  // 404s of unknown paths share one label value (no unbounded cardinality from URLs).
  await get(srv.url, '/random-' + Math.random());
  const s2 = (await metrics(srv.url)).samples;
  const routes = new Set(s2.filter((s) => s.name === 'doppel_http_requests_total').map((s) => s.labels.route));
  for (const r of routes) assert.doesNotMatch(r, /random-/, 'raw URLs must not become labels');
  assert.ok(metricSum(s2, 'doppel_http_requests_total', { status: '404' }) >= 2);
});

test('histograms are consistent: cumulative buckets, +Inf = count', async () => {
  const { samples } = await metrics(srv.url);
  const series = new Map();
  for (const s of samples) {
    if (!s.name.endsWith('_bucket')) continue;
    const { le, ...rest } = s.labels;
    const key = s.name.slice(0, -7) + JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, { base: s.name.slice(0, -7), labels: rest, buckets: [] });
    series.get(key).buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
  }
  assert.ok(series.size > 0);
  for (const { base, labels, buckets } of series.values()) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], `${base} buckets are cumulative`);
    assert.equal(buckets.at(-1)[0], Infinity, `${base} has a +Inf bucket`);
    assert.equal(metricSum(samples, base + '_count', labels), buckets.at(-1)[1], `${base}_count = +Inf bucket`);
  }
});

test('database and cache calls are observed', async () => {
  await get(srv.url, '/api/v1/_test/row');
  await get(srv.url, '/ready');
  const { samples } = await metrics(srv.url);
  assert.ok(metricSum(samples, 'doppel_db_call_duration_seconds_count') > 0, 'db calls counted');
  assert.ok(metricSum(samples, 'doppel_cache_call_duration_seconds_count') > 0, 'cache calls counted');
});

test('process metrics are plausible', async () => {
  const { samples } = await metrics(srv.url);
  assert.ok(metricSum(samples, 'process_resident_memory_bytes') > 1e6);
  assert.ok(metricSum(samples, 'process_open_fds') > 3);
  assert.ok(metricSum(samples, 'process_cpu_seconds_total') >= 0);
  // /metrics is being served, so at least one request is in flight.
  assert.ok(metricSum(samples, 'doppel_http_requests_in_flight') >= 1);
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
