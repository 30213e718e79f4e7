// Memory benchmark: grows ONE avatar's memories (1k → 10k → 100k by default) through the HTTP API
// and at each size measures warm search latency (GET …/memories?q=&limit=10, by query class),
// list latency (?limit=50, no q) and the recall brain's reply latency; plus the insert rate and the first searches after a restart.
// Prints figures; never passes or fails.
// Usage: node bench/memory.mjs [--sizes 1000,10000,100000] [--quick] [--keep]   (DOPPEL_BIN: the binary, default ./doppel)
//                              [--database-url URL --redis-url URL]
//   --quick: sizes 1000,10000.  --keep: leave the data directory (SQLite) and print its path,
//   e.g. to profile queries on the full database with the sqlite3 CLI.
// Environment: BENCH_SEARCHES (timed searches per size, default 360), BENCH_REPLIES (50).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { makeCorpus, makeQueries, VOCABULARY_SIZE } from './memory-corpus.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const flag = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const sizes = argv.includes('--quick') ? [1000, 10000]
  : (flag('--sizes') || '1000,10000,100000').split(',').map(Number);
if (!sizes.length || sizes.some((n, i) => !Number.isInteger(n) || n < 1 || n > 1e7 || (i && n <= sizes[i - 1]))) {
  console.error('--sizes takes increasing counts, e.g. 1000,10000,100000');
  process.exit(2);
}
const serverArgs = [];
for (const f of ['--database-url', '--redis-url']) if (flag(f)) serverArgs.push(f, flag(f));
const backend = flag('--database-url') ? 'postgres' : 'sqlite';
const keep = argv.includes('--keep');
const nsearch = Number(process.env.BENCH_SEARCHES || 360);
const nreply = Number(process.env.BENCH_REPLIES || 50);
const nfresh = Number(process.env.BENCH_FRESH || 40);
const INSERT_CONCURRENCY = 8;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-bench-mem-'));
let proc, host, port;
// Starts the server on dataDir (again, for the restart figure); sets proc, host and port.
async function startServer() {
  proc = spawn(process.env.DOPPEL_BIN || path.join(root, 'doppel'), ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--log-level', 'warn', '--argon2-memory-kib', '8192', '--argon2-ops', '1', '--api-rate', '1000000',
    '--search-rate', '0', '--auth-rate', '100000', '--access-ttl', '86400', ...serverArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/open http:\/\/(127\.0\.0\.1:\d+)\//);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  [host, port] = base.split(':');
}
async function stopServer() {
  if (proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((res) => proc.on('exit', res));
}
await startServer();

// Keep-alive connections: the figures are the server's, not TCP handshakes'.
let agent = new http.Agent({ keepAlive: true, maxSockets: INSERT_CONCURRENCY });
let token = null;
function call(method, p, body) {
  const data = body ? JSON.stringify(body) : null;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host, port, agent, method, path: `/api/v1${p}`,
      headers: { ...(token && { Authorization: `Bearer ${token}` }),
        ...(data && { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 300) return reject(new Error(`${method} ${p} → ${res.statusCode} ${text}`));
        resolve({ ms, json: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const rss = () => Number((fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) || [0, 0])[1]) / 1024;
/* The server's CPU time so far (user + system, ms; /proc/PID/stat fields 14 and 15 in clock ticks
 * of 10 ms): per request, the figure a shared machine does not distort as it does wall-clock. */
const cpuMs = () => {
  const f = fs.readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const dbBytes = () => ['doppel.db', 'doppel.db-wal'].reduce((n, f) => n + (fs.statSync(path.join(dataDir, f), { throwIfNoEntry: false })?.size || 0), 0);
const say = (s) => process.stderr.write(`[bench] ${s}\n`);
const rows = [];
const targets = [];
let freshAt = null;
function row(size, what, xs) {
  rows.push([size, what, xs.length, pct(xs, 50), pct(xs, 95), pct(xs, 99), Math.max(...xs)]);
}

try {
  ({ json: { access_token: token } } = await call('POST', '/auth/signup',
    { email: 'bench@example.org', password: 'a long bench password', display_name: 'Bench' }));
  const { json: avatar } = await call('POST', '/avatars', { name: 'Bench', brain: 'recall', greeting: 'Hello.' });
  const corpus = makeCorpus(1);
  const queries = makeQueries(corpus.vocab);
  const flat = Object.entries(queries).flatMap(([cls, qs]) => qs.map((q) => ({ cls, q })));
  const questions = [...queries['2w'], ...queries['3w'], ...queries['6w'], ...queries.question];
  const rates = [];
  let have = 0, insertSecs = 0;
  const searchPath = (q) => `/avatars/${avatar.id}/memories?q=${encodeURIComponent(q)}&limit=10`;

  // Inserts `n` memories, INSERT_CONCURRENCY requests in flight; returns seconds taken.
  async function insert(n) {
    let left = n;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: INSERT_CONCURRENCY }, async () => {
      while (left > 0) {
        left--;
        await call('POST', `/avatars/${avatar.id}/memories`, { text: corpus.next(), kind: 'fact' });
      }
    }));
    return (performance.now() - t0) / 1000;
  }

  for (const size of sizes) {
    // The first 1000 are timed on their own: the rate into a small index.
    if (have === 0 && size >= 1000) {
      const s = await insert(1000);
      insertSecs += s;
      have = 1000;
      rates.push(`first 1000: ${(1000 / s).toFixed(0)}/s`);
    }
    const s = await insert(size - have);
    insertSecs += s;
    if (size > have) rates.push(`${have}→${size}: ${((size - have) / s).toFixed(0)}/s`);
    have = size;
    say(`${size} memories (${insertSecs.toFixed(1)} s of inserts so far), RSS ${rss().toFixed(0)} MiB`);

    // Warm means the index has caught up with the bulk inserts (an avatar that far behind is
    // rebuilt in the background while the database engines answer): wait until a search is fast.
    const waitWarm = async () => {
      for (const end = Date.now() + 20000; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
        if ((await call('GET', searchPath(flat[0].q))).ms < 3) break;
    };
    await waitWarm();
    // A search right after each write: the index catches up with the memory just written (an
    // overlay of the changed memories). Its ceiling is the warm search below (nothing changed).
    const fresh = [];
    let found = 0, writeCpu = 0, searchCpu = 0;
    for (let i = 0; i < nfresh; i++) {
      const word = `zq${size}x${i}`; // a word only this memory holds: found means indexed
      const c0 = cpuMs();
      await call('POST', `/avatars/${avatar.id}/memories`, { text: `${corpus.next()} ${word}`, kind: 'fact' });
      const c1 = cpuMs();
      const r = await call('GET', searchPath(`${flat[i % flat.length].q} ${word}`));
      writeCpu += c1 - c0;
      searchCpu += cpuMs() - c1;
      fresh.push(r.ms);
      found += !!(r.json && r.json.items && r.json.items.some((m) => m.text.includes(word)));
    }
    row(size, `search right after a write (${found}/${nfresh} found)`, fresh);
    // CPU of the whole server meanwhile (a background merge included), in 10 ms ticks: a mean.
    say(`search right after a write at ${size}: server CPU ${(searchCpu / nfresh).toFixed(2)} ms per search, ` +
      `${(writeCpu / nfresh).toFixed(2)} ms per write (mean of ${nfresh}; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
    freshAt = { size, p95: pct(fresh, 95), cpu: searchCpu / nfresh };
    await waitWarm();
    for (const { q } of flat) await call('GET', searchPath(q)); // warm-up: each query once
    const all = [], byClass = {};
    const cpu0 = cpuMs();
    for (let i = 0; i < nsearch; i++) {
      const { cls, q } = flat[i % flat.length];
      const { ms } = await call('GET', searchPath(q));
      all.push(ms);
      (byClass[cls] ||= []).push(ms);
    }
    row(size, 'search (q, limit 10), all', all);
    say(`search at ${size}: server CPU ${((cpuMs() - cpu0) / nsearch).toFixed(2)} ms per search (user + system, mean of ${nsearch}; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
    for (const [cls, xs] of Object.entries(byClass)) row(size, `  search ${cls}`, xs);

    const list = [];
    await call('GET', `/avatars/${avatar.id}/memories?limit=50`);
    for (let i = 0; i < nsearch; i++) list.push((await call('GET', `/avatars/${avatar.id}/memories?limit=50`)).ms);
    row(size, 'list (no q, limit 50)', list);

    const { json: conv } = await call('POST', `/avatars/${avatar.id}/conversations`);
    const reply = [];
    let cited = 0;
    for (let i = 0; i < nreply; i++) {
      const { ms, json } = await call('POST', `/conversations/${conv.conversation.id}/messages`, { text: questions[i % questions.length] });
      reply.push(ms);
      cited += json.message.citations.length > 0;
    }
    row(size, `reply (recall brain; ${cited}/${nreply} cited)`, reply);
  }

  // A restart: the first searches of the avatar, whose in-memory index does not exist yet.
  await stopServer();
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: INSERT_CONCURRENCY });
  await startServer();
  const restart = [];
  const restartCpu0 = cpuMs();
  for (let i = 0; i < 5; i++) restart.push((await call('GET', searchPath(flat[i % flat.length].q))).ms);
  say(`restart: server CPU ${restartCpu0} ms from its start to the first search, ${cpuMs() - restartCpu0} ms for the first 5 searches ` +
    `(load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
  row(have, 'first 5 searches after a restart', restart);
  // Issue 14's targets beside the figures (at the largest size run; they are stated at 100k).
  targets.push(`first search after a restart at ${have}: ${restart[0].toFixed(1)} ms (target < 100 ms at 100k; ` +
    'the large index is read from the file the builder saved, caught up with later writes)');
  if (freshAt) targets.push(`search right after a write at ${freshAt.size}: p95 ${freshAt.p95.toFixed(2)} ms (target < 5 ms at 100k); ` +
    `server CPU ${freshAt.cpu.toFixed(2)} ms per search`);

  console.log(`\nbackend: ${backend}; one avatar; memories of 10–60 words, Zipf over ${VOCABULARY_SIZE} words ` +
    '(+ names, places); sequential warm requests over keep-alive; times in ms');
  console.log(`inserts (concurrency ${INSERT_CONCURRENCY}): ${rates.join(', ')}; overall ${(have / insertSecs).toFixed(0)}/s ` +
    `(${have} in ${insertSecs.toFixed(1)} s)`);
  if (insertSecs > 180) console.log(`note: the inserts over HTTP took ${(insertSecs / 60).toFixed(1)} min (over 3 min)`);
  console.log(`${'memories'.padStart(9)}  ${'request'.padEnd(36)} ${'n'.padStart(4)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ` +
    `${'p99'.padStart(7)} ${'max'.padStart(7)}`);
  for (const [size, what, n, ...ms] of rows)
    console.log(`${String(size).padStart(9)}  ${what.padEnd(36)} ${String(n).padStart(4)} ${ms.map((x) => x.toFixed(2).padStart(7)).join(' ')}`);
  for (const t of targets) console.log(`target: ${t}`);
  console.log(`server RSS at the end: ${rss().toFixed(0)} MiB` +
    (backend === 'sqlite' ? `; doppel.db (+ WAL) ${(dbBytes() / 1048576).toFixed(0)} MiB` : ''));
} finally {
  agent.destroy();
  await stopServer();
  if (keep) console.log(`data directory kept: ${dataDir}`);
  else fs.rmSync(dataDir, { recursive: true, force: true });
}
