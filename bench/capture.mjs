// Capture benchmark: N concurrent devices stream 16 kHz mono PCM16 in real time (100 ms chunks)
// to /ws_pcm of a fresh server; prints, per N, the ack latency (chunk sent → the ack that covers
// it, i.e. synced to disk) p50/p99/max, audio persisted, and the server's CPU — beside the disk's
// own ceiling measured in the same run (appends + fdatasync per second, one thread, same
// directory). Figures only; never passes or fails. No STT (the server does none while streaming);
// the audio is speech-like (2 s of a voiced buzz, 1 s of noise) so that the VAD that ends
// conversations works as it would on real streams.
//
//   node bench/capture.mjs            BENCH_STREAMS=100,500,1000 BENCH_SECONDS=10 BENCH_SYNC_MS=200
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startDoppel } from './lib/serve.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WebSocket = createRequire(path.join(REPO, 'tests/api/package.json'))('ws');
const LEVELS = (process.env.BENCH_STREAMS || '100,500,1000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const SYNC_MS = process.env.BENCH_SYNC_MS || '200';
const CHUNK_MS = 100;
const CHUNK = (16000 * CHUNK_MS) / 1000 * 2;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))] : NaN);

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
  const srv = await startDoppel(['--log-level', 'warn', '--max-conns-per-ip', '0', '--max-connections', '5000',
    '--capture-sync-ms', SYNC_MS, '--api-rate', '1000000', '--auth-rate', '100000', '--argon2-memory-kib', '8192',
    '--argon2-ops', '1'], 'capture');
  server = srv.proc;
  stopServer = srv.stop;
  const r = await fetch(srv.url + '/api/v1/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password: 'Bench-Passw0rd-123', display_name: 'Bench' }) });
  const token = (await r.json()).access_token;
  return { url: srv.url, token };
}

function openDevice(url, token, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws_pcm?token=${token}&device_name=${name}`, { perMessageDeflate: false });
    ws.sent = new Map(); // seq → send time
    ws.seq = 0;
    ws.ackedBytes = 0;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'ready') {
        ws.send(JSON.stringify({ type: 'audio-start', data: { rate: 16000, width: 2, channels: 1 } }) + '\n');
      } else if (m.type === 'ack') {
        if (!ws.started) {
          ws.started = true;
          return resolve(ws);
        }
        const now = performance.now();
        for (const [s, t] of ws.sent) {
          if (s > m.data.seq) break;
          ws.lat.push(now - t);
          ws.sent.delete(s);
        }
        ws.ackedBytes = m.data.bytes;
      } else if (m.type === 'error') ws.errors = (ws.errors || 0) + 1;
    });
    ws.on('error', reject);
  });
}

/* Speech-like audio for the server's VAD (it runs on every stream): a 150 Hz buzz with a
 * harmonic over low noise for two seconds, then a second of the noise alone. */
function speechLike(voiced, seed) {
  const b = Buffer.alloc(CHUNK);
  let s = seed >>> 0;
  for (let i = 0; i < CHUNK / 2; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    let v = ((s >>> 16) % 401) - 200;
    if (voiced) v += 3000 * Math.sin((2 * Math.PI * 150 * i) / 16000) + 1500 * Math.sin((2 * Math.PI * 300 * i) / 16000);
    b.writeInt16LE(Math.round(v), i * 2);
  }
  return b;
}
const VOICED = speechLike(true, 7);
const QUIET = speechLike(false, 9);

async function level(n, url, token, tag) {
  const devices = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 50); k++) batch.push(openDevice(url, token, `${tag}-${k}`));
    devices.push(...(await Promise.all(batch)));
  }
  const lat = [];
  for (const d of devices) d.lat = lat;
  const cpu0 = cpuSeconds(server.pid);
  const self0 = process.cpuUsage();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const t0 = performance.now();
  // Each device sends a chunk every 100 ms, the devices' phases spread over the period.
  let sentChunks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const due = Math.floor((now - t0) / CHUNK_MS);
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i];
      const mine = Math.floor((now - t0 - (i * CHUNK_MS) / devices.length) / CHUNK_MS);
      while (d.seq <= mine && d.seq <= due) {
        d.send(JSON.stringify({ type: 'audio-chunk', data: { rate: 16000, width: 2, channels: 1, seq: d.seq }, payload_length: CHUNK }) + '\n');
        d.send(d.seq % 30 < 20 ? VOICED : QUIET);
        d.sent.set(d.seq, performance.now());
        d.seq++;
        sentChunks++;
      }
    }
  }, 5);
  await sleep(SECONDS * 1000);
  clearInterval(timer);
  await sleep(Number(SYNC_MS) + 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu = (cpuSeconds(server.pid) - cpu0) / wall;
  lag.disable();
  const self = process.cpuUsage(self0);
  const clientCpu = (self.user + self.system) / 1e6 / wall;
  const clientLag = lag.percentile(99) / 1e6;
  lat.sort((a, b) => a - b);
  const unacked = devices.reduce((a, d) => a + d.sent.size, 0);
  const errors = devices.reduce((a, d) => a + (d.errors || 0), 0);
  const persisted = devices.reduce((a, d) => a + d.ackedBytes, 0);
  for (const d of devices) d.terminate();
  await sleep(500);
  return { n, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], sentChunks, unacked, errors,
    audioMin: persisted / 32000 / 60, cpu, clientCpu, clientLag };
}

const ceiling = fsyncCeiling();
const { url, token } = await startServer();
console.log(`capture: ${SECONDS} s per level, 16 kHz PCM16 in ${CHUNK_MS} ms chunks, real-time pacing, --capture-sync-ms ${SYNC_MS}, ${os.cpus().length} cores`);
console.log(`ceiling: this disk does ${ceiling.toFixed(0)} appends+fdatasync/s on one thread; per-stream syncs would cap the streams near ${(ceiling * Number(SYNC_MS) / 1000).toFixed(0)} (the server makes one syncfs per round for all)`);
console.log('streams | ack p50 ms | ack p99 ms | max ms | chunks sent | unacked at end | errors | audio persisted (min) | server CPU (cores) | client CPU, loop lag p99 ms');
for (const n of LEVELS) {
  const r = await level(n, url, token, `l${n}`);
  console.log(`${String(r.n).padStart(7)} | ${r.p50.toFixed(1).padStart(10)} | ${r.p99.toFixed(1).padStart(10)} | ${r.max.toFixed(0).padStart(6)} | ${String(r.sentChunks).padStart(11)} | ${String(r.unacked).padStart(14)} | ${String(r.errors).padStart(6)} | ${r.audioMin.toFixed(1).padStart(21)} | ${r.cpu.toFixed(2).padStart(18)} | ${r.clientCpu.toFixed(2)}, ${r.clientLag.toFixed(0)}`);
}
await stopServer();
