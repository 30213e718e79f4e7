// Starts the real doppel binary for a black-box test and talks to it.
//
//   DOPPEL_BIN           binary to run (default ./doppel from the repo root; relative paths are from the repo root)
//   DOPPEL_API_BACKEND   "sqlite" (default) or "postgres": PostgreSQL + Redis from DOPPEL_TEST_PG_URL and
//                        DOPPEL_TEST_REDIS_URL (scripts/test-servers.sh writes them); each start gets a fresh database
//   DOPPEL_API_LOG_DIR   when set, each server's stderr is also written there (server-<pid>.log)
//   DOPPEL_API_VERBOSE   when set, a server's stderr is printed at stop even when it exited 0
//   DOPPEL_TEST_TIME_SCALE  multiplies the harness's wall-clock limits (server start and stop, eventually(),
//                        waits of the helpers; default 1): the sanitizer builds and slow machines run with 3
//
// A server that exits non-zero, or whose stderr shows a sanitizer report, has its stderr printed at stop().
import { spawn, spawnSync, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkResponse } from './contract.mjs';

const execFileP = promisify(execFile);

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BACKEND = process.env.DOPPEL_API_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
/* How much longer than on a quick release build wall-clock waits may take here (never below 1). */
export const TIME_SCALE = Math.max(1, Number(process.env.DOPPEL_TEST_TIME_SCALE) || 1);
/* ms scaled by TIME_SCALE: what a test waits for something that must happen eventually. */
export const scaled = (ms) => Math.round(ms * TIME_SCALE);
const START_TIMEOUT_MS = scaled(30000);
const STOP_TIMEOUT_MS = scaled(8000); // a test server has nothing long in flight unless the test says so
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)/;

const running = new Set(); // child processes still alive
const dataDirs = new Set(); // data directories not yet removed
process.on('exit', () => {
  for (const p of running) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});

/* Every thread's stack of a live process (gdb, best effort): what a hung server was doing. */
export function backtrace(pid) {
  const r = spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt'], {
    encoding: 'utf8',
    timeout: 20000,
  });
  if (r.error) return `(no backtrace: ${r.error.code === 'ENOENT' ? 'gdb is not installed' : r.error.message})`;
  const lines = (r.stdout || '').split('\n').filter((l) => /^(Thread |#\d)/.test(l));
  return lines.length ? lines.join('\n') : `(no backtrace: ${(r.stderr || '').trim().split('\n').pop()})`;
}

export function binPath() {
  const b = process.env.DOPPEL_BIN || './doppel';
  return path.isAbsolute(b) ? b : path.resolve(REPO, b);
}

/* A fresh PostgreSQL database on the test cluster, so that test files do not see each other's rows. */
async function freshPgDatabase() {
  const base = process.env.DOPPEL_TEST_PG_URL;
  if (!base)
    throw new Error('DOPPEL_API_BACKEND=postgres but DOPPEL_TEST_PG_URL is not set (start scripts/test-servers.sh)');
  if (!process.env.DOPPEL_TEST_REDIS_URL)
    throw new Error('DOPPEL_API_BACKEND=postgres but DOPPEL_TEST_REDIS_URL is not set (start scripts/test-servers.sh)');
  const name = 't_' + randomBytes(6).toString('hex');
  await execFileP('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qAtc', `CREATE DATABASE ${name}`], { timeout: 30000 });
  const u = new URL(base);
  u.pathname = '/' + name;
  return u.toString();
}

/**
 * Starts `doppel serve` on 127.0.0.1:0 with a fresh data directory and --test-routes.
 * opts.args: extra flags (e.g. ['--http-timeout', '2']); opts.env: extra environment;
 * opts.testRoutes (default true); opts.backend (default from DOPPEL_API_BACKEND);
 * opts.redisUrl: override the Redis URL (e.g. an unreachable one).
 * Returns {url, port, proc, dataDir, databaseUrl, stderr(), stop(signal), kill(signal), exited}.
 */
export async function start(opts = {}) {
  const backend = opts.backend || BACKEND;
  // opts.dataDir: restart on a data directory an earlier (killed) server left (its owner removes it).
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-api-'));
  dataDirs.add(dataDir);
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', opts.logLevel || 'warn'];
  if (opts.testRoutes !== false) args.push('--test-routes');
  let databaseUrl = null;
  if (backend === 'postgres') {
    databaseUrl = await freshPgDatabase();
    args.push('--database-url', databaseUrl);
    args.push('--redis-url', opts.redisUrl || process.env.DOPPEL_TEST_REDIS_URL);
  } else if (opts.redisUrl) {
    args.push('--redis-url', opts.redisUrl);
  }
  args.push(...(opts.args || []));

  const bin = binPath();
  if (!fs.existsSync(bin)) throw new Error(`doppel binary not found at ${bin} (run make, or set DOPPEL_BIN)`);
  const proc = spawn(bin, args, {
    cwd: REPO,
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);

  let err = '';
  let out = '';
  let logFile = null;
  if (process.env.DOPPEL_API_LOG_DIR) {
    fs.mkdirSync(process.env.DOPPEL_API_LOG_DIR, { recursive: true });
    logFile = path.join(process.env.DOPPEL_API_LOG_DIR, `server-${proc.pid}.log`);
    fs.writeFileSync(logFile, `# ${bin} ${args.join(' ')}\n`);
  }
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    err += d;
    if (logFile) fs.appendFileSync(logFile, d);
  });
  proc.stdout.setEncoding('utf8');

  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code !== null ? code : `signal ${signal}`);
    });
  });

  const cmdline = `${path.relative(REPO, bin) || bin} ${args.join(' ')}`;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const bt = backtrace(proc.pid);
      proc.kill('SIGKILL');
      reject(new Error(`doppel did not print its address within ${START_TIMEOUT_MS} ms\n` +
        `command: ${cmdline}\nstdout:\n${out}\nstderr:\n${err}\nthreads:\n${bt}`));
    }, START_TIMEOUT_MS);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /Doppel is running: open http:\/\/[^\s/]+:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`doppel exited (${code}) before it was ready\ncommand: ${cmdline}\nstderr:\n${err}`));
    });
  });

  let stopping = null;
  let signalled = false;
  const report = (code) => {
    if (code !== 0 || SANITIZER_RE.test(err) || process.env.DOPPEL_API_VERBOSE) {
      process.stderr.write(`\n----- doppel stderr (exit ${code}; ${cmdline}) -----\n${err}` +
        `----- end of doppel stderr -----\n`);
    }
  };
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    dataDir,
    databaseUrl,
    backend,
    cmdline,
    exited,
    stderr: () => err,
    stdout: () => out,
    /* Sends a signal now (e.g. SIGTERM to start a graceful shutdown); a later stop() only waits. */
    signal(sig = 'SIGTERM') {
      signalled = true;
      proc.kill(sig);
    },
    /* Sends a signal (SIGTERM by default; none when signal() was already used — a second SIGTERM
     * may force the exit) and resolves with the exit code (or "signal X" / "timeout"). */
    stop(signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
      if (stopping) return stopping;
      stopping = (async () => {
        if (proc.exitCode === null && proc.signalCode === null && !signalled) proc.kill(signal);
        let timer;
        const code = await Promise.race([
          exited,
          new Promise((r) => {
            timer = setTimeout(() => r('timeout'), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (code === 'timeout') {
          const bt = backtrace(proc.pid);
          proc.kill('SIGKILL');
          await exited;
          err += `\n[test harness: no exit ${timeoutMs} ms after ${signalled ? 'the signal' : signal}: SIGKILLed; threads were:]\n${bt}\n`;
        }
        report(code);
        fs.rmSync(dataDir, { recursive: true, force: true });
        dataDirs.delete(dataDir);
        return code;
      })();
      return stopping;
    },
    /* Best-effort cleanup for after() hooks: stop if still running. */
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null && !stopping) await server.stop('SIGKILL', 5000);
      else if (stopping) await stopping;
    },
    /* Asserts nothing — returns true when the stderr shows a sanitizer report. */
    sanitizerReport: () => SANITIZER_RE.test(err),
  };
  return server;
}

/* ---- small HTTP helpers ---- */

/* fetch() that also returns the body as text and parsed JSON (when it is JSON). */
export async function get(base, p, init = {}) {
  const res = await fetch(base + p, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  const out = { status: res.status, headers: res.headers, text, json, res };
  await checkResponse(base, init.method, p, out, res.headers.get('content-type'), binPath());
  return out;
}

export async function postJson(base, p, body, headers = {}) {
  return get(base, p, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/*
 * A raw node:http request (no URL normalisation, custom headers, chunked bodies).
 * opts: {method, path, headers, body (string|Buffer|array of chunks => chunked), agent}
 * Resolves {status, headers, text, json} or {error} when the connection fails/closes; rejects when the
 * response does not match the OpenAPI document (lib/contract.mjs).
 */
export function rawRequest(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method || 'GET',
        path: opts.path || '/',
        headers: opts.headers || {},
        agent: false,
        setHost: opts.setHost !== false,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(data);
          } catch {}
          const out = { status: res.statusCode, headers: res.headers, text: data, json };
          checkResponse(null, opts.method || 'GET', opts.path || '/', out, res.headers['content-type'], binPath()).then(
            () => resolve(out),
            reject, // the contract check failed: the test that made the request fails
          );
        });
        res.on('error', (e) => resolve({ error: e }));
      },
    );
    req.on('error', (e) => resolve({ error: e }));
    if (Array.isArray(opts.body)) {
      (async () => {
        for (const c of opts.body) {
          if (req.destroyed) return;
          req.write(c);
          await new Promise((r) => setImmediate(r));
        }
        req.end();
      })();
    } else {
      req.end(opts.body);
    }
  });
}

/* Sends raw bytes on a fresh TCP connection; resolves with everything received until close, timeout,
 * or (with `until`, a RegExp) as soon as the received text matches. */
export function rawTcp(port, data, { timeoutMs = 5000, until = null } = {}) {
  timeoutMs = scaled(timeoutMs);
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t0 = Date.now();
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: buf, closed: false, ms: Date.now() - t0 });
    }, timeoutMs);
    s.on('connect', () => s.write(data));
    s.setEncoding('latin1');
    s.on('data', (d) => {
      buf += d;
      if (until && until.test(buf)) {
        clearTimeout(timer);
        s.destroy();
        resolve({ text: buf, closed: false, ms: Date.now() - t0 });
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: buf, closed: true, ms: Date.now() - t0 });
    });
  });
}

/* Resolves 'refused' when a TCP connect to the port is refused, 'connected' when it succeeds. */
export function tryConnect(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      resolve(e.code === 'ECONNREFUSED' ? 'refused' : e.code);
    });
  });
}

/* ---- Prometheus text ---- */

/* Parses Prometheus text into [{name, labels:{}, value}] (comments skipped). */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1], labels, value: Number(m[4] === '+Inf' ? Infinity : m[4]) });
  }
  return out;
}

/* The sum of the samples named `name` whose labels include `labels`. */
export function metricSum(samples, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : undefined;
}

export async function metrics(base) {
  const r = await get(base, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`);
  return { text: r.text, samples: parseMetrics(r.text) };
}

/* Polls fn() until it returns a truthy value or the time runs out; returns the last value. */
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 50 } = {}) {
  const end = Date.now() + scaled(timeoutMs);
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(intervalMs);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Asserts the shape of an error response: status, {"error":{code,message,request_id}}, request id header. */
export function errorShape(assert, r, status, code) {
  assert.equal(r.status, status, `expected HTTP ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && r.json.error, `expected an error object, got: ${r.text}`);
  if (code) assert.equal(r.json.error.code, code);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  const hdr = typeof r.headers.get === 'function' ? r.headers.get('x-request-id') : r.headers['x-request-id'];
  assert.equal(r.json.error.request_id, hdr, 'error.request_id equals the X-Request-Id header');
}
