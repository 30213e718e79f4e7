// doppel capture FILE|-: the reference device client streams a WAV file or stdin, and after the
// server is killed (SIGKILL) and restarted it reconnects and resumes: the recording is the file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { api, signup, startAccounts } from './lib/accounts.mjs';
import { blobFiles } from './lib/avatars.mjs';
import { BACKEND, binPath, eventually, metricSum, metrics, sleep } from './lib/server.mjs';
import { pcmWav } from './lib/wav.mjs';

const servers = [];
let srv, user, tmp;
before(async () => {
  srv = await startAccounts();
  servers.push(srv);
  user = await signup(srv);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-capture-cli-'));
});
after(async () => {
  for (const s of servers) await s.cleanup();
  if (servers[0]) fs.rmSync(servers[0].dataDir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

/* Runs doppel capture; resolves {code, out, err}. */
function capture(args, { input } = {}) {
  const p = spawn(path.resolve(binPath()), ['capture', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  if (input) p.stdin.end(input);
  else p.stdin.end();
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, out, err })));
}

/* Speech-like noise (not a tone: every chunk differs, so a lost or doubled chunk shows). */
const noiseWav = (seconds, seed = 7) => {
  let x = seed;
  return pcmWav(16000 * seconds, 16000, () => ((x = (x * 1103515245 + 12345) >>> 0) % 20000) - 10000);
};

async function storedPcm(s, id) {
  const rec = (await api(s, 'GET', `/recordings/${id}`, { token: user.token })).json;
  assert.equal(rec.status, 'closed');
  const file = blobFiles(s).blobs.find((f) => f.endsWith(rec.sha256));
  return fs.readFileSync(path.join(s.dataDir, 'blobs', file)).subarray(44);
}

test('a WAV file is streamed, acknowledged and closed into one recording', async () => {
  const wav = noiseWav(3);
  const file = path.join(tmp, 'a.wav');
  fs.writeFileSync(file, wav);
  const r = await capture([file, '--url', srv.url, '--token', user.token, '--device', 'wavfile', '--speed', '0', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.bytes, wav.length - 44);
  assert.ok((await storedPcm(srv, out.recording_id)).equals(wav.subarray(44)));
});

test('raw PCM16 on stdin', async () => {
  const pcm = noiseWav(1, 99).subarray(44);
  const r = await capture(['-', '--url', srv.url, '--token', user.token, '--device', 'stdin', '--speed', '0'], { input: pcm });
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.bytes, pcm.length);
  assert.ok((await storedPcm(srv, out.recording_id)).equals(pcm));
});

test('bad arguments and a bad token fail with a message', async () => {
  assert.equal((await capture(['--url', srv.url])).code, 2);
  const r = await capture([path.join(tmp, 'a.wav'), '--url', srv.url, '--token', 'nope', '--retry-for', '0']);
  assert.equal(r.code, 1);
  assert.match(r.err, /401/);
});

test('the server is killed mid-stream and restarted: the client resumes and nothing is lost', { timeout: 120000 }, async () => {
  const wav = noiseWav(8, 3);
  const file = path.join(tmp, 'b.wav');
  fs.writeFileSync(file, wav);
  const port = srv.port;
  const run = capture([file, '--url', srv.url, '--token', user.token, '--device', 'killed', '--speed', '8', '--retry-for', '60']);
  for (let round = 0; round < 2; round++) {
    // Killed while the client streams to it: a fixed wait could end before a slow (sanitizer,
    // loaded) client had even connected, and then nothing was interrupted.
    await eventually(async () => metricSum((await metrics(srv.url)).samples, 'doppel_websockets_open') > 0, { timeoutMs: 10000, intervalMs: 20 });
    await sleep(Math.random() * 150);
    srv.proc.kill('SIGKILL');
    await srv.exited;
    const opts = { dataDir: servers[0].dataDir, args: ['--listen', `127.0.0.1:${port}`] };
    if (BACKEND === 'postgres') {
      opts.backend = 'sqlite'; // the first server's database, given explicitly
      opts.redisUrl = servers[0].redisUrl;
      opts.args.push('--database-url', servers[0].databaseUrl);
    }
    srv = await startAccounts(opts);
    servers.push(srv);
  }
  const r = await run;
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.ok(out.reconnects >= 1, 'it reconnected');
  assert.equal(out.bytes, wav.length - 44);
  assert.ok((await storedPcm(srv, out.recording_id)).equals(wav.subarray(44)), 'the recording is the file, byte for byte');
});

test('--opus streams 20 ms Opus packets to /ws_omi; the recording holds the decoded audio', async () => {
  // A 300 Hz tone: Opus keeps its level, so the decoded recording's energy matches the input's.
  const seconds = 2;
  const wav = pcmWav(16000 * seconds, 16000, (i) => 8000 * Math.sin((2 * Math.PI * 300 * i) / 16000));
  const file = path.join(tmp, 'c.wav');
  fs.writeFileSync(file, wav);
  const r = await capture([file, '--url', srv.url, '--token', user.token, '--device', 'omi', '--opus', '--speed', '0', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.chunks, seconds * 50, 'one packet every 20 ms');
  assert.equal(out.bytes, wav.length - 44, 'every packet decoded to its 320 samples');
  const rec = (await api(srv, 'GET', `/recordings/${out.recording_id}`, { token: user.token })).json;
  assert.equal(rec.codec, 'opus');
  const pcm = await storedPcm(srv, out.recording_id);
  const rms = (b) => {
    let s = 0;
    for (let i = 0; i < b.length; i += 2) s += b.readInt16LE(i) ** 2;
    return Math.sqrt(s / (b.length / 2));
  };
  const ratio = rms(pcm.subarray(3200)) / rms(wav.subarray(44 + 3200));
  assert.ok(ratio > 0.7 && ratio < 1.3, `decoded level ${ratio.toFixed(2)} of the input's`);
});
