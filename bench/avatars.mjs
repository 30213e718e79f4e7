// Avatars/media/jobs benchmark: 1 GiB upload throughput and peak RSS, jobs/s through the queue,
// and cold vs warm GET /api/v1/avatars/{id} latency. Prints figures; never passes or fails.
// Usage: node bench/avatars.mjs [--database-url URL --redis-url URL]   (BENCH_UPLOAD_MIB, BENCH_JOBS)
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { startDoppel } from './lib/serve.mjs';

const extra = process.argv.slice(2);
const uploadMiB = Number(process.env.BENCH_UPLOAD_MIB || 1024);
const njobs = Number(process.env.BENCH_JOBS || 500);
const backend = extra.includes('--database-url') ? 'postgres' : 'sqlite';

const { url, proc, stop } = await startDoppel(['--test-routes', '--log-level', 'warn', '--argon2-memory-kib', '8192',
  '--argon2-ops', '1', '--api-rate', '1000000', '--search-rate', '0', '--auth-rate', '100000', '--job-workers', '2',
  ...extra], 'bench-av');
const api = `${url}/api/v1`;
const rss = () => Number((fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) || [0, 0])[1]) * 1024;

async function j(method, p, body, token) {
  const r = await fetch(api + p, { method, headers: token ? { Authorization: `Bearer ${token}` } : {}, body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${t}`);
  return t ? JSON.parse(t) : null;
}

const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (x) => x.toFixed(2);

try {
  const { access_token: token } = await j('POST', '/auth/signup', { email: 'bench@example.org', password: 'a long bench password', display_name: 'Bench' });
  const avatar = await j('POST', '/avatars', { name: 'Bench', description: 'x'.repeat(2000) }, token);
  console.log(`\nbackend: ${backend}`);

  // 1. Upload: a WAV header then zeros, generated on the fly, hashed as it goes.
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + uploadMiB * 1048576 - 44, 4); header.write('WAVE', 8);
  header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16000, 24); header.writeUInt32LE(32000, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34);
  header.write('data', 36); header.writeUInt32LE(uploadMiB * 1048576 - 44, 40);
  const chunk = Buffer.alloc(1048576);
  async function* body() {
    for (let i = 0; i < uploadMiB; i++) yield i === 0 ? Buffer.concat([header, chunk.subarray(44)]) : chunk;
  }
  const rssBefore = rss();
  let peak = rssBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 50);
  const t0 = performance.now();
  const r = await fetch(`${api}/avatars/${avatar.id}/media?filename=big.wav`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: Readable.from(body()), duplex: 'half' });
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const up = await r.json();
  console.log(`upload ${uploadMiB} MiB: ${r.status}, ${fmt(uploadMiB * 1.048576 / secs)} MB/s, ` +
    `RSS ${fmt(rssBefore / 1048576)} MiB idle → peak ${fmt(peak / 1048576)} MiB (size ${up.media?.size})`);

  // 2. Jobs through the queue: test.sleep with ms 0, two job workers.
  const t1 = performance.now();
  for (let i = 0; i < njobs; i++) await j('POST', '/_test/jobs', { ms: 0, owner_id: avatar.owner_id });
  const enq = (performance.now() - t1) / 1000;
  let done = 0;
  while (done < njobs) {
    const s = await j('GET', '/admin/stats', null, token);
    done = s.jobs.done || 0;
    if (done < njobs) await new Promise((res) => setTimeout(res, 100));
  }
  const all = (performance.now() - t1) / 1000;
  console.log(`jobs: ${njobs} enqueued in ${fmt(enq)} s (${fmt(njobs / enq)}/s), all done after ${fmt(all)} s ` +
    `→ ${fmt(njobs / all)} jobs/s end to end`);

  // 3. GET /avatars/{id}: cold (cache just invalidated by a PATCH) vs warm.
  const cold = [], warm = [];
  for (let i = 0; i < 100; i++) {
    await j('PATCH', `/avatars/${avatar.id}`, { scenario: `round ${i}` }, token);
    let t = performance.now();
    await j('GET', `/avatars/${avatar.id}`, null, token);
    cold.push(performance.now() - t);
    for (let k = 0; k < 5; k++) {
      t = performance.now();
      await j('GET', `/avatars/${avatar.id}`, null, token);
      warm.push(performance.now() - t);
    }
  }
  console.log(`GET /avatars/{id}: cold p50 ${fmt(pct(cold, 50))} ms p95 ${fmt(pct(cold, 95))} ms; ` +
    `warm p50 ${fmt(pct(warm, 50))} ms p95 ${fmt(pct(warm, 95))} ms (sequential, one client)`);
} finally {
  await stop();
}
