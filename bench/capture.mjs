// Capture benchmark: N concurrent devices stream 16 kHz mono PCM16 in real time (100 ms chunks)
// to /ws_pcm of a fresh server; prints, per N, the ack latency (chunk sent → the ack that covers
// it, i.e. synced to disk) p50/p99/max, the server's CPU per stream-second of audio and the load
// client's own CPU — beside the disk's own ceiling measured in the same run (appends + fdatasync
// per second, one thread, same directory) — and the largest N whose ack p99 stays under the
// target (250 ms). The devices are bench/capture_load.c (one thread, epoll, built here): a client
// this light leaves the cores to the server. Figures only; never passes or fails. No STT (the
// server does none while streaming); the audio is speech-like (2 s of a voiced buzz, 1 s of
// noise) so that the VAD that ends conversations works as it would on real streams.
//
//   node bench/capture.mjs     BENCH_STREAMS=100,250,500,750,1000,1250,1500 BENCH_SECONDS=10 BENCH_SYNC_MS=200
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDoppel } from './lib/serve.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LEVELS = (process.env.BENCH_STREAMS || '100,250,500,750,1000,1250,1500').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const SYNC_MS = process.env.BENCH_SYNC_MS || '200';
const CHUNK_MS = 100;
const CHUNK = (16000 * CHUNK_MS) / 1000 * 2;
const TARGET_P99_MS = 250;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-bench-capture-'));
let server, stopServer;
process.on('exit', () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/* The disk's ceiling: 3200-byte appends, each followed by fdatasync, for 2 s. */
function fsyncCeiling() {
  const f = path.join(dir, 'ceiling.bin');
  const fd = fs.openSync(f, 'w');
  const b = Buffer.alloc(CHUNK);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    fs.writeSync(fd, b);
    fs.fdatasyncSync(fd);
    n++;
  }
  fs.closeSync(fd);
  fs.rmSync(f);
  return n / ((performance.now() - t0) / 1000);
}

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

async function startServer() {
  const srv = await startDoppel(['--log-level', 'warn', '--max-conns-per-ip', '0', '--max-connections', '20000',
    '--capture-sync-ms', SYNC_MS, '--api-rate', '1000000', '--auth-rate', '100000', '--argon2-memory-kib', '8192',
    '--argon2-ops', '1'], 'capture');
  server = srv.proc;
  stopServer = srv.stop;
  const r = await fetch(srv.url + '/api/v1/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password: 'Bench-Passw0rd-123', display_name: 'Bench' }) });
  const token = (await r.json()).access_token;
  return { url: srv.url, token };
}

/* One level: the C client streams n devices for SECONDS; the server's CPU is read while they stream. */
function level(n, url, token, tag) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const p = spawn(LOAD, [u.hostname, u.port, token, String(n), String(SECONDS), tag], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '', cpu0 = 0;
    p.stdout.on('data', (d) => {
      out += d;
      if (!cpu0 && /^go$/m.test(out)) cpu0 = cpuSeconds(server.pid);
    });
    p.on('exit', (code) => {
      if (code) return reject(new Error(`capture_load exited ${code}`));
      const r = Object.fromEntries(out.trim().split('\n').at(-1).split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
      r.n = n;
      r.cpu = (cpuSeconds(server.pid) - cpu0) / r.wall_s;
      // ms of server CPU per stream-second of audio acknowledged (a server that falls behind
      // has not done the work for what it has not acknowledged yet)
      r.cpuPerStreamS = ((cpuSeconds(server.pid) - cpu0) * 1000) / ((r.acked * CHUNK_MS) / 1000);
      r.clientCpu = r.client_cpu_s / r.wall_s;
      resolve(r);
    });
  });
}

const LOAD = path.join(REPO, 'build/bench/capture_load');
fs.mkdirSync(path.dirname(LOAD), { recursive: true });
execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', '-Wall', '-Wextra', '-o', LOAD, path.join(REPO, 'bench/capture_load.c'), '-lm']);
const ceiling = fsyncCeiling();
const { url, token } = await startServer();
const load = os.loadavg()[0];
console.log(`capture: ${SECONDS} s per level, 16 kHz PCM16 in ${CHUNK_MS} ms chunks, real-time pacing, --capture-sync-ms ${SYNC_MS}, ${os.cpus().length} cores, load average ${load.toFixed(1)} at the start`);
console.log(`ceiling: this disk does ${ceiling.toFixed(0)} appends+fdatasync/s on one thread; per-stream syncs would cap the streams near ${(ceiling * Number(SYNC_MS) / 1000).toFixed(0)} (the server makes one syncfs per round for all)`);
console.log(`target: ack p99 < ${TARGET_P99_MS} ms at >= 1000 streams on 2 cores`);
console.log('streams | ack p50 ms | ack p99 ms | max ms | chunks sent | unacked at end | errors | server CPU (cores) | server CPU ms per acked stream-s | client CPU (cores)');
let best = 0, cost = Infinity;
for (const n of LEVELS) {
  const r = await level(n, url, token, `l${n}`);
  console.log(`${String(r.n).padStart(7)} | ${r.p50_ms.toFixed(1).padStart(10)} | ${r.p99_ms.toFixed(1).padStart(10)} | ${r.max_ms.toFixed(0).padStart(6)} | ${String(r.chunks).padStart(11)} | ${String(r.unacked).padStart(14)} | ${String(r.errors).padStart(6)} | ${r.cpu.toFixed(2).padStart(18)} | ${r.cpuPerStreamS.toFixed(3).padStart(32)} | ${r.clientCpu.toFixed(2)}`);
  if (r.p99_ms < TARGET_P99_MS && !r.errors && !r.unacked) best = Math.max(best, n);
  if (!r.unacked && !r.errors) cost = Math.min(cost, r.cpuPerStreamS);
  await sleep(1000); // the closed streams' recordings are filed meanwhile
}
console.log(`largest stream count with ack p99 < ${TARGET_P99_MS} ms: ${best || 'none'} (target >= 1000: ${best >= 1000 ? 'met' : 'not met'}; load average now ${os.loadavg()[0].toFixed(1)})`);
if (cost < Infinity) console.log(`server CPU per stream-second (a level that kept up): ${cost.toFixed(3)} ms -> 1000 streams need ${cost.toFixed(2)} cores of CPU`);
await stopServer();
