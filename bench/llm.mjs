// Generative replies against the scripted chat server of tests/llm-server/ (fixed latency), two figures:
//  1. Slow model calls in flight: N replies whose model takes FIRST_MS to its first token, while a
//     database-backed route (a memory search, GET /api/v1/avatars/{id}/memories?q=, which needs a worker) is timed — with the provider pool (the default)
//     and, as the peer, with --provider-workers 0 (the replies wait on the CPU workers). Also how
//     long the N replies take together, and the same route with nothing in flight (the ceiling).
//  2. Time to first token: the chat server's own (a client straight to it) next to the first
//     delta event of a streamed reply through Doppel (memory search, prompt, storing the question,
//     the SSE hop): the difference is Doppel's overhead; and the same turn by the recall brain.
//     Measured warm: the provider pool's threads open their database connections on first use.
//  3. First clause to first audio byte (target < 50 ms with a local TTS): a voice WebSocket turn
//     (push-to-talk; the question recognised by the scripted speech server, so no recogniser time)
//     answered by the generative brain, the model streaming a clause then the rest a token every
//     TOKEN_MS; from the moment the model's first clause went out to the first reply audio frame
//     (flite, the local engine), beside the same from the model's last token (negative: the reply
//     is heard before the model has finished it), and the CPU time of the first clause's synthesis.
//  4. Concurrent streamed conversations on this machine's cores: K streamed replies at once (each
//     model answer 30 tokens, TOKEN_MS apart): first delta and whole-stream p50/p95 beside the
//     model's own duration (the ceiling), and the server's CPU time per conversation.
// Prints figures; never passes or fails. Usage: node bench/llm.mjs [--database-url URL --redis-url URL]
import fs from 'node:fs';
import os from 'node:os';
import { startLlmServer } from '../tests/llm-server/server.mjs';
import { startDoppel } from './lib/serve.mjs';
import { startSpeechServer } from '../tests/speech-server/server.mjs';
import { noise, VoiceClient } from '../tests/api/lib/voice.mjs';

const extra = process.argv.slice(2);
const N = Number(process.env.BENCH_LLM_N || 16);
const FIRST_MS = Number(process.env.BENCH_LLM_FIRST_MS || 2000);
const backend = extra.includes('--database-url') ? 'postgres' : 'sqlite';
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const f1 = (x) => x.toFixed(1);
/* The server's CPU time so far, ms, summed over its threads (schedstat: nanoseconds on a CPU):
 * what a turn costs it, whatever the machine's load. */
const cpuMs = (pid) => {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* a thread that ended meanwhile */ }
  }
  return ns / 1e6;
};

async function startServer(llmUrl, more = []) {
  const { url, stop, proc } = await startDoppel(['--log-level', 'error', '--argon2-memory-kib', '8192', '--argon2-ops', '1',
    '--api-rate', '1000000', '--search-rate', '0', '--auth-rate', '100000', '--llm-provider', 'openai', '--llm-url', llmUrl,
    '--llm-model', 'bench', '--llm-idle-timeout', '60000', ...more, ...extra], 'bench-llm');
  const j = async (method, p, body, token) => {
    const r = await fetch(url + '/api/v1' + p, { method, headers: { 'content-type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const t = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${t}`);
    return t ? JSON.parse(t) : null;
  };
  const s = await j('POST', '/auth/signup', { email: `b${Date.now()}@bench.test`, password: 'a long bench password 1' });
  const token = s.access_token;
  const av = await j('POST', '/avatars', { name: 'Bench', brain: 'generative' }, token);
  for (const text of ['Every summer we rowed across the lake to the island cabin', 'I was born in Leeds in 1941'])
    await j('POST', `/avatars/${av.id}/memories`, { text }, token);
  return { url, j, token, av, stop, pid: proc.pid };
}

/* n searches, one every 50 ms, each timed on its own (a request that waits for a worker shows). */
async function timeRoute(s, n = 20) {
  const all = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    all.push(s.j('GET', `/avatars/${s.av.id}/memories?q=rowed`, null, s.token).then(() => performance.now() - t0));
    await new Promise((r) => setTimeout(r, 50));
  }
  return Promise.all(all);
}

async function reply(s, conv, stream) {
  const r = await fetch(`${s.url}/api/v1/conversations/${conv}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json', ...(stream ? { Accept: 'text/event-stream' } : {}) },
    body: JSON.stringify({ text: 'Tell me about the lake' }),
  });
  return r;
}

async function inFlight(llm, label, more) {
  const s = await startServer(llm.url, more);
  const idle = await timeRoute(s);
  const convs = [];
  for (let i = 0; i < N; i++) convs.push((await s.j('POST', `/avatars/${s.av.id}/conversations`, {}, s.token)).conversation.id);
  llm.reply = { firstTokenMs: FIRST_MS, text: 'We rowed to the island [1].' };
  const t0 = performance.now();
  const all = convs.map((c) => reply(s, c, false).then((r) => r.text()).then(() => performance.now() - t0));
  await new Promise((r) => setTimeout(r, 300));
  const busy = await timeRoute(s);
  const done = await Promise.all(all);
  llm.reply = null;
  await s.stop();
  console.log(`  ${label.padEnd(34)} memory search idle p50 ${f1(pct(idle, 50))} ms · with ${N} replies in flight p50 ${f1(pct(busy, 50))} ms, p95 ${f1(pct(busy, 95))} ms, max ${f1(Math.max(...busy))} ms · ${N} replies done in ${(Math.max(...done) / 1000).toFixed(2)} s`);
}

async function ttft(llm) {
  const s = await startServer(llm.url);
  llm.reply = { firstTokenMs: 100, tokens: ['We', ' rowed', ' home', '.'] };
  const direct = [], via = [], recall = [], facade = [];
  let viaCpu = 0, recallCpu = 0, facadeCpu = 0;
  const rav = await s.j('POST', '/avatars', { name: 'Recall' }, s.token);
  await s.j('POST', `/avatars/${rav.id}/memories`, { text: 'Every summer we rowed across the lake to the island cabin' }, s.token);
  // Warm: each of the provider pool's 32 threads opens its database connection on its first reply.
  const warm = [];
  for (let i = 0; i < 32; i++) warm.push((await s.j('POST', `/avatars/${rav.id}/conversations`, {}, s.token)).conversation.id);
  await Promise.all(warm.map((c) => reply(s, c, false).then((r) => r.text())));
  for (let i = 0; i < 20; i++) {
    let t0 = performance.now();
    const r = await fetch(`${llm.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    const rd = r.body.getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await rd.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      if (buf.includes('"content":"We"')) { direct.push(performance.now() - t0); break; }
    }
    await rd.cancel();
    const conv = (await s.j('POST', `/avatars/${s.av.id}/conversations`, {}, s.token)).conversation.id;
    let c0 = cpuMs(s.pid);
    t0 = performance.now();
    const r2 = await reply(s, conv, true);
    const rd2 = r2.body.getReader();
    buf = '';
    let got = false;
    for (;;) {
      const { value, done } = await rd2.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      if (!got && buf.includes('event: delta')) { via.push(performance.now() - t0); got = true; }
    }
    viaCpu += cpuMs(s.pid) - c0;
    // The same turn through the OpenAI-compatible facade (POST /v1/chat/completions, stream: true).
    c0 = cpuMs(s.pid);
    t0 = performance.now();
    const r4 = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: s.av.id, stream: true, messages: [{ role: 'user', content: 'Tell me about the lake' }] }),
    });
    const rd4 = r4.body.getReader();
    buf = '';
    got = false;
    for (;;) {
      const { value, done } = await rd4.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      if (!got && buf.includes('"content":"We"')) { facade.push(performance.now() - t0); got = true; }
    }
    facadeCpu += cpuMs(s.pid) - c0;
    // The same turn answered by the recall brain (no model): what the turn costs without one.
    const rconv = (await s.j('POST', `/avatars/${rav.id}/conversations`, {}, s.token)).conversation.id;
    c0 = cpuMs(s.pid);
    t0 = performance.now();
    const r3 = await reply(s, rconv, true);
    const rd3 = r3.body.getReader();
    buf = '';
    got = false;
    for (;;) {
      const { value, done } = await rd3.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      if (!got && buf.includes('event: delta')) { recall.push(performance.now() - t0); got = true; }
    }
    recallCpu += cpuMs(s.pid) - c0;
  }
  llm.reply = null;
  await s.stop();
  const d = pct(direct, 50), v = pct(via, 50);
  console.log(`  time to first token, p50 of 20: the chat server alone ${f1(d)} ms · through Doppel ${f1(v)} ms · Doppel's overhead ${f1(v - d)} ms (target < 5 ms); p95 ${f1(pct(direct, 95))} / ${f1(pct(via, 95))} ms`);
  console.log(`  through the OpenAI-compatible facade (/v1/chat/completions, stream): first content p50 ${f1(pct(facade, 50))} ms · overhead ${f1(pct(facade, 50) - d)} ms; p95 ${f1(pct(facade, 95))} ms`);
  console.log(`  the same turn by the recall brain (no model), first delta p50 ${f1(pct(recall, 50))} ms, p95 ${f1(pct(recall, 95))} ms`);
  console.log(`  the server's CPU time per whole streamed turn (mean of 20): generative ${f1(viaCpu / 20)} ms · facade ${f1(facadeCpu / 20)} ms · recall ${f1(recallCpu / 20)} ms · load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
}

const TOKEN_MS = Number(process.env.BENCH_LLM_TOKEN_MS || 30);

async function firstAudio(llm) {
  const sp = await startSpeechServer({});
  sp.stt.reply = { text: 'Tell me about the lake.' };
  const s = await startServer(llm.url, ['--stt-provider', 'openai', '--stt-url', sp.url, '--tts-provider', 'flite']);
  const answer = 'We rowed home, and the lake was still. Every summer we went back to the island cabin.';
  llm.reply = { tokens: answer.match(/\s*\S+/g), tokenDelayMs: TOKEN_MS };
  const fromClause = [], fromLast = [], ttsFirst = [], ttsCpu = [];
  let cpu = 0;
  const TURNS = 12;
  for (let i = 0; i < TURNS; i++) {
    const v = new VoiceClient();
    await v.connect(s.url.replace('http', 'ws') + `/api/v1/avatars/${s.av.id}/voice?token=${encodeURIComponent(s.token)}`);
    await v.start({ turn_detection: 'manual' });
    v.ws.send(Buffer.from(noise(300, 30).buffer));
    const n = llm.requests.length;
    const c0 = cpuMs(s.pid);
    v.send({ type: 'input.commit' });
    const done = await v.waitFor('response.done', 30000);
    cpu += cpuMs(s.pid) - c0;
    const req = llm.requests.slice(n).find((r) => r.stream && r.tokenAt);
    const first = v.audio[0];
    if (req && first) {
      const clause = req.tokenAt[answer.match(/\s*\S+/g).findIndex((t) => t.endsWith(','))];
      const audioAt = v.t0 + first.at;
      fromClause.push(audioAt - clause);
      fromLast.push(audioAt - req.tokenAt.at(-1));
      if (done.latency?.tts_first_byte_ms !== undefined) ttsFirst.push(done.latency.tts_first_byte_ms);
      if (done.latency?.tts_cpu_ms !== undefined) ttsCpu.push(done.latency.tts_cpu_ms);
    }
    v.ws.close();
  }
  llm.reply = null;
  await s.stop();
  await sp.close();
  console.log(`  first clause → first audio byte (voice WebSocket, flite, a token every ${TOKEN_MS} ms), p50 of ${fromClause.length}: ${f1(pct(fromClause, 50))} ms (target < 50 ms), p95 ${f1(pct(fromClause, 95))} ms · from the model's last token ${f1(pct(fromLast, 50))} ms · response.done tts_first_byte_ms p50 ${ttsFirst.length ? pct(ttsFirst, 50) : '-'} (first clause's synthesis: CPU p50 ${ttsCpu.length ? pct(ttsCpu, 50) : '-'} ms) · server CPU per turn ${f1(cpu / TURNS)} ms`);
}

async function concurrent(llm) {
  const s = await startServer(llm.url);
  const toks = Array.from({ length: 30 }, (_, i) => (i ? ' word' : 'We'));
  llm.reply = { tokens: toks, tokenDelayMs: TOKEN_MS };
  const own = TOKEN_MS * (toks.length - 1);
  // Warm, unreported: the first reply loads WordNet; each provider-pool thread opens its database connection.
  for (const K of [1, 32, ...(process.env.BENCH_LLM_K || '8,32,128').split(',').map(Number)]) {
    const warm = K === 1 || (K === 32 && !concurrent.warmed);
    if (K === 32) concurrent.warmed = true;
    const convs = [];
    for (let i = 0; i < K; i++) convs.push((await s.j('POST', `/avatars/${s.av.id}/conversations`, {}, s.token)).conversation.id);
    const c0 = cpuMs(s.pid);
    const t0 = performance.now();
    const res = await Promise.all(convs.map(async (c) => {
      const r = await reply(s, c, true);
      const rd = r.body.getReader();
      let buf = '', first = null;
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        buf += Buffer.from(value).toString();
        if (first === null && buf.includes('event: delta')) first = performance.now() - t0;
      }
      return { first, done: performance.now() - t0, ok: buf.includes('event: done') };
    }));
    const cpu = cpuMs(s.pid) - c0;
    const firsts = res.map((r) => r.first ?? Infinity), dones = res.map((r) => r.done);
    if (warm) continue;
    console.log(`  ${String(K).padStart(3)} streamed conversations at once: ${res.filter((r) => r.ok).length}/${K} completed · first delta p50 ${f1(pct(firsts, 50))} / p95 ${f1(pct(firsts, 95))} ms · whole stream p50 ${f1(pct(dones, 50))} / p95 ${f1(pct(dones, 95))} ms (the model's own ${own} ms) · server CPU ${f1(cpu / K)} ms per conversation · load average ${os.loadavg()[0].toFixed(1)}`);
  }
  llm.reply = null;
  await s.stop();
}

const llm = await startLlmServer({});
console.log(`bench/llm (${backend}, ${os.cpus().length} cores, default workers; the model's first token after ${FIRST_MS} ms)`);
// BENCH_LLM_PARTS=ttft (or inflight, voice, concurrent) runs those parts only.
const parts = (process.env.BENCH_LLM_PARTS || 'inflight,ttft,voice,concurrent').split(',');
if (parts.includes('inflight')) {
  await inFlight(llm, 'provider pool (default)', []);
  await inFlight(llm, 'peer: --provider-workers 0', ['--provider-workers', '0']);
}
if (parts.includes('ttft')) await ttft(llm);
if (parts.includes('voice')) await firstAudio(llm);
if (parts.includes('concurrent')) await concurrent(llm);
await llm.close();
