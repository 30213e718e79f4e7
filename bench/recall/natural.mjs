// The recall brain on natural questions (bench/recall/natural/): a legacy avatar fed a memoir and a
// WhatsApp export, asked what a grieving grandchild asks, conversation by conversation. Prints
// right / wrong / don't-know counts and every reply that was not right; never passes or fails.
//
// Usage: node bench/recall/natural.mjs --url http://127.0.0.1:PORT [--backend NAME] [--verbose]
//
// A turn is judged by its reply text (what the grandchild reads or hears):
//   phrases   right when the reply holds one of them (every one with "all"); an honest
//             "I don't remember" or a question back without a citation is don't-know; anything
//             else is wrong
//   dontknow  right when the reply is an honest refusal or a question back and cites no memory
//   warm      right when the reply is not a refusal and cites no memory (the card is allowed)
import fs from 'node:fs';
import path from 'node:path';
import { apiClient } from './client.mjs';

const here = path.join(path.dirname(new URL(import.meta.url).pathname), 'natural');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : def);
const base = opt('--url');
const backend = opt('--backend', 'sqlite');
const verbose = argv.includes('--verbose');
if (!base) {
  console.error('usage: node bench/recall/natural.mjs --url http://127.0.0.1:PORT [--backend NAME] [--verbose]');
  process.exit(2);
}

const { call, setToken } = apiClient(base);
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
/* Apostrophes and spaces as typed or as printed are the same for matching. */
const norm = (s) => s.replace(/[\u2018\u2019]/g, "'").replace(/\s+/g, ' ').trim().toLowerCase();
const clip = (s, n = 160) => {
  const t = (s || '').replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
};
const pct = (n, d) => `${n}/${d} (${d ? ((100 * n) / d).toFixed(1) : '–'} %)`;

const set = JSON.parse(fs.readFileSync(path.join(here, 'questions.json'), 'utf8'));
const files = fs.readdirSync(here).filter((f) => /\.(md|txt)$/.test(f)).sort();

const signup = await call('POST', '/auth/signup', {
  body: { email: `natural-bench-${process.pid}@example.org`, password: 'a long bench password', display_name: 'Natural Bench' },
});
setToken(signup.json.access_token);
const avatar = (await call('POST', '/avatars', { body: { ...set.avatar, brain: 'recall' } })).json;
for (const f of files) {
  const type = f.endsWith('.md') ? 'text/markdown' : 'text/plain';
  const up = (await call('POST', `/avatars/${avatar.id}/media?filename=${encodeURIComponent(f)}`, { raw: fs.readFileSync(path.join(here, f)), type })).json;
  for (const end = Date.now() + 120000; ; await sleep(100)) {
    const m = (await call('GET', `/media/${up.media.id}`)).json;
    if (m.status === 'ready') break;
    if (m.status === 'failed' || Date.now() > end) {
      console.error(`ingestion of ${f}: ${m.status} ${m.detail || ''}`);
      process.exit(1);
    }
  }
}
let nmem = 0;
for (let cursor = null; ;) {
  const page = (await call('GET', `/avatars/${avatar.id}/memories?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json;
  nmem += page.items.length;
  if (!(cursor = page.next_cursor)) break;
}

/* An honest "I don't remember", or a question back (the reply asks instead of answering). */
const REFUSAL = /\b(don't|do not|can't|cannot) (remember|recall)\b|\bnot sure\b|\bno memory of\b|\bslipped my mind\b/i;
const isRefusal = (text) => REFUSAL.test(text) || /\?\s*$/.test(text.trim());
const memoryCites = (msg) => (msg.citations || []).filter((c) => c.memory_id);

function judge(turn, msg) {
  const text = norm(msg.text);
  const cites = memoryCites(msg);
  if (turn.expect === 'dontknow') return !cites.length && isRefusal(msg.text) ? 'right' : 'wrong';
  if (turn.expect === 'warm') {
    if (cites.length) return 'wrong';
    return REFUSAL.test(msg.text) ? 'dontknow' : 'right';
  }
  const has = (p) => text.includes(norm(p));
  if (turn.all ? turn.expect.every(has) : turn.expect.some(has)) return 'right';
  return !cites.length && isRefusal(msg.text) ? 'dontknow' : 'wrong';
}

const results = [];
const ms = [];
for (const conv of set.conversations) {
  const cid = (await call('POST', `/avatars/${avatar.id}/conversations`)).json.conversation.id;
  for (const turn of conv.turns) {
    const r = await call('POST', `/conversations/${cid}/messages`, { body: { text: turn.q } });
    ms.push(r.ms);
    const msg = r.json.message;
    results.push({ turn, msg, verdict: judge(turn, msg), followUp: turn !== conv.turns[0] });
  }
}

const count = (rs, v) => rs.filter((r) => r.verdict === v).length;
const kinds = [
  ['answerable', results.filter((r) => Array.isArray(r.turn.expect))],
  ['  of them follow-ups', results.filter((r) => Array.isArray(r.turn.expect) && r.followUp)],
  ['social turns', results.filter((r) => r.turn.expect === 'warm')],
  ['unanswerable controls', results.filter((r) => r.turn.expect === 'dontknow')],
];
console.log(`\nbench/recall natural questions — backend ${backend}; ${files.length} files → ${nmem} memories; ${set.conversations.length} conversations, ${results.length} turns`);
console.log(`                           n   right  wrong  don't-know`);
const line = (name, rs) =>
  console.log(`  ${name.padEnd(22)} ${String(rs.length).padStart(3)}   ${String(count(rs, 'right')).padStart(5)}  ${String(count(rs, 'wrong')).padStart(5)}  ${String(count(rs, 'dontknow')).padStart(10)}`);
line('all turns', results);
for (const [name, rs] of kinds) line(name, rs);
console.log(`  right ${pct(count(results, 'right'), results.length)}   wrong ${pct(count(results, 'wrong'), results.length)}   (targets: right ≥ 80 %, wrong ≤ 5 %, every control refused)`);
ms.sort((a, b) => a - b);
console.log(`  reply latency p50 ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms, max ${ms[ms.length - 1].toFixed(1)} ms (sequential, loopback)`);

const show = (r) => {
  const want = Array.isArray(r.turn.expect) ? `${r.turn.all ? 'all of' : 'one of'} ${r.turn.expect.map((e) => `"${e}"`).join(', ')}` : r.turn.expect;
  console.log(`  ${r.followUp ? '  ↳ ' : ''}"${r.turn.q}" (wants ${want})\n      → ${clip(r.msg.text)}`);
};
console.log(`\nWrong answers (${count(results, 'wrong')}):`);
for (const r of results.filter((x) => x.verdict === 'wrong')) show(r);
if (verbose) {
  console.log(`\nDon't-know where an answer was wanted (${count(results, 'dontknow')}):`);
  for (const r of results.filter((x) => x.verdict === 'dontknow')) {
    show(r);
    /* what search ranks first for it: tells a search miss from a brain that judged the hit too weak */
    const hits = (await call('GET', `/avatars/${avatar.id}/memories?q=${encodeURIComponent(r.turn.q)}&limit=2`)).json.items || [];
    for (const h of hits) console.log(`        search: ${clip(h.text, 110)}`);
  }
}
