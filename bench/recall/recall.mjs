// Quality of memory search and of the recall brain on the evaluation set of bench/recall/data and
// bench/recall/questions.json, against a running doppel (bench/recall/run.sh starts one).
// Prints figures; never passes or fails (exit 1 only when the set could not be loaded).
//
// Usage: node bench/recall/recall.mjs --url http://127.0.0.1:PORT [--backend NAME] [--verbose]
//
//  1. Signs up, creates the avatar, uploads the memoirs (Markdown) and chat transcripts (plain
//     text) as media and waits for their ingestion, posts the manual memories.
//  2. Lists every memory and finds, per question, the memories holding an expected phrase.
//  3. Search: GET /avatars/{id}/memories?q=&limit=10 per answerable question → hit@1, hit@5,
//     MRR (within the 10), next to a plain BM25 over the same listed texts (bm25.mjs).
//  4. Brain: a new conversation per question (a follow-up is sent after its `after` question
//     in the same one); the reply is right when it cites an expected memory.
import fs from 'node:fs';
import path from 'node:path';
import { apiClient } from './client.mjs';
import { bm25Index } from './bm25.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name, def) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : def);
const base = opt('--url');
const backend = opt('--backend', 'sqlite');
const verbose = flag('--verbose');
if (!base) {
  console.error('usage: node bench/recall/recall.mjs --url http://127.0.0.1:PORT [--backend NAME] [--verbose]');
  process.exit(2);
}
const K = 10;

const { call, setToken } = apiClient(base);

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const norm = (s) => s.replace(/\s+/g, ' ').trim().toLowerCase();
const pct = (xs, p) => (xs.length ? xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '  – ');
const rate = (n, d) => `${n}/${d} (${d ? ((100 * n) / d).toFixed(1) : '–'}%)`;
const clip = (s, n = 150) => {
  const t = (s || '').replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
};

/* ---- 1. the avatar and its memories ---- */

const set = JSON.parse(fs.readFileSync(path.join(here, 'questions.json'), 'utf8'));
const dataDir = path.join(here, 'data');
const files = fs.readdirSync(dataDir).filter((f) => /\.(md|txt)$/.test(f)).sort();
const manual = JSON.parse(fs.readFileSync(path.join(dataDir, 'manual.json'), 'utf8'));

const signup = await call('POST', '/auth/signup', {
  body: { email: `recall-bench-${process.pid}@example.org`, password: 'a long bench password', display_name: 'Recall Bench' },
});
setToken(signup.json.access_token);
const avatar = (await call('POST', '/avatars', { body: { ...set.avatar, brain: 'recall' } })).json;
const greeting = set.avatar.greeting;

const mediaOf = new Map(); // media id → file name
for (const f of files) {
  const type = f.endsWith('.md') ? 'text/markdown' : 'text/plain';
  const up = (await call('POST', `/avatars/${avatar.id}/media?filename=${encodeURIComponent(f)}`, { raw: fs.readFileSync(path.join(dataDir, f)), type })).json;
  mediaOf.set(up.media.id, f);
}
for (const [id, f] of mediaOf) {
  const end = Date.now() + 120000;
  for (;;) {
    const m = (await call('GET', `/media/${id}`)).json;
    if (m.status === 'ready') break;
    if (m.status === 'failed' || Date.now() > end) {
      console.error(`ingestion of ${f}: ${m.status} ${m.detail || ''}`);
      process.exit(1);
    }
    await sleep(100);
  }
}
for (const m of manual) await call('POST', `/avatars/${avatar.id}/memories`, { body: m });
/* Background work (e.g. the memory.embed job making vectors with --embed) finishes first: the
 * bench user is the instance admin and sees the queue. */
for (const end = Date.now() + 300000; ; await sleep(200)) {
  const stats = (await call('GET', '/admin/stats')).json;
  const j = stats.jobs || {};
  if (!(j.queued || j.running || j.retrying) || Date.now() > end) break;
}

const memories = [];
for (let cursor = null; ;) {
  const page = (await call('GET', `/avatars/${avatar.id}/memories?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json;
  memories.push(...page.items);
  if (!(cursor = page.next_cursor)) break;
}
const byId = new Map(memories.map((m) => [m.id, m]));
const kinds = {};
for (const m of memories) {
  const where = m.source?.media_id ? (mediaOf.get(m.source.media_id) || '?').replace(/^(memoir|chat).*/, '$1') : 'manual';
  kinds[`${where} ${m.kind}`] = (kinds[`${where} ${m.kind}`] || 0) + 1;
}

/* The turn before each utterance of a transcript (by position in its file), to tell a search that
 * found the question of a dialogue from one that found nothing. */
const turnBefore = new Map();
const byMedia = new Map();
for (const m of memories.filter((x) => x.kind === 'utterance' && x.source?.media_id)) {
  if (!byMedia.has(m.source.media_id)) byMedia.set(m.source.media_id, []);
  byMedia.get(m.source.media_id).push(m);
}
for (const turns of byMedia.values()) {
  turns.sort((a, b) => (a.source.char_start ?? 0) - (b.source.char_start ?? 0));
  for (let i = 1; i < turns.length; i++) turnBefore.set(turns[i].id, turns[i - 1].id);
}
const isOtherSpeaker = (m) => m && m.kind === 'utterance' && m.speaker && m.speaker !== set.avatar.name;

/* ---- 2. expected memories ---- */

const problems = [];
for (const q of set.answerable) {
  q.ids = new Set();
  for (const phrase of q.expect) {
    const hits = memories.filter((m) => norm(m.text).includes(norm(phrase)));
    if (!hits.length) problems.push(`${q.id}: no memory contains "${phrase}"`);
    for (const m of hits) q.ids.add(m.id);
  }
}

/* ---- 3. search: ours and BM25 ---- */

const bm25 = bm25Index(memories.map((m) => ({ id: m.id, text: m.text })));
const searchMs = [];
const rankOf = (ids, expected) => {
  const i = ids.findIndex((id) => expected.has(id));
  return i < 0 ? null : i + 1;
};
for (const q of set.answerable) {
  const query = q.after ? `${q.after} ${q.q}` : q.q;
  const r = await call('GET', `/avatars/${avatar.id}/memories?q=${encodeURIComponent(query)}&limit=${K}`);
  searchMs.push(r.ms);
  q.results = r.json.items;
  q.ours = rankOf(q.results.map((m) => m.id), q.ids);
  q.bm25list = bm25(query, K);
  q.bm25 = rankOf(q.bm25list, q.ids);
}

/* ---- 4. the recall brain ---- */

const REFUSAL = /don't remember|not sure what you mean|all i remember/i;
const replyMs = [];
async function ask(q) {
  const conv = (await call('POST', `/avatars/${avatar.id}/conversations`)).json.conversation.id;
  let r;
  for (const text of q.after ? [q.after, q.q] : [q.q]) {
    r = await call('POST', `/conversations/${conv}/messages`, { body: { text } });
    replyMs.push(r.ms);
  }
  return r.json.message;
}
/* correct | wrong (cites other memories) | abstain (an "I don't remember") | greeting | uncited (an answer without a citation) */
function verdict(msg, expected) {
  const cites = msg.citations || [];
  if (cites.length) return expected && cites.some((c) => expected.has(c.memory_id)) ? 'correct' : 'wrong';
  if (msg.text.trim() === greeting) return 'greeting';
  return REFUSAL.test(msg.text) ? 'abstain' : 'uncited';
}
for (const q of set.answerable) {
  q.reply = await ask(q);
  q.verdict = verdict(q.reply, q.ids);
}
for (const q of set.unanswerable) {
  q.reply = await ask(q);
  q.verdict = verdict(q.reply, null);
}

/* ---- report ---- */

const score = (qs, key) => {
  const n = qs.length || 1;
  return {
    h1: qs.filter((q) => q[key] === 1).length / n,
    h5: qs.filter((q) => q[key] && q[key] <= 5).length / n,
    mrr: qs.reduce((a, q) => a + (q[key] ? 1 / q[key] : 0), 0) / n,
  };
};
const row = (s) => `${f2(s.h1)}  ${f2(s.h5)}  ${f2(s.mrr)}`;
const count = (qs, v) => qs.filter((q) => q.verdict === v).length;
const A = set.answerable;
const U = set.unanswerable;

console.log(`\nbench/recall — backend ${backend}; ${files.length} files + ${manual.length} manual memories → ${memories.length} memories`);
console.log(`  ${Object.entries(kinds).sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
const utterances = memories.filter((m) => m.kind === 'utterance' && m.source).length;
console.log(`  transcripts are stored as ${utterances ? 'utterances (speaker and order)' : 'passages (no utterance ingestion yet)'}`);
for (const p of problems) console.log(`  SET PROBLEM ${p}`);

console.log(`\nSearch: GET /avatars/{id}/memories?q=…&limit=${K}, ${A.length} answerable questions (follow-ups searched with the question they follow)`);
console.log(`                       hit@1  hit@5  MRR@${K}`);
console.log(`  ours               ${row(score(A, 'ours'))}`);
console.log(`  BM25 baseline      ${row(score(A, 'bm25'))}`);
const groups = [
  ['memoir', A.filter((q) => q.source === 'memoir')],
  ['dialogue turns', A.filter((q) => q.source === 'dialogue')],
  ['manual', A.filter((q) => q.source === 'manual')],
  ['follow-ups', A.filter((q) => q.after)],
];
console.log(`  by source            n    ours hit@1 hit@5 MRR    BM25 hit@1 hit@5 MRR`);
for (const [name, qs] of groups)
  console.log(`    ${name.padEnd(16)} ${String(qs.length).padStart(3)}    ${row(score(qs, 'ours'))}        ${row(score(qs, 'bm25'))}`);
if (utterances) {
  const missed = A.filter((q) => q.source === 'dialogue' && q.ours !== 1);
  const onQuestion = missed.filter((q) => q.results[0] && [...q.ids].some((id) => turnBefore.get(id) === q.results[0].id));
  console.log(`  dialogue misses at 1 whose first result is the turn just before the answer: ${onQuestion.length} of ${missed.length}`);
}

console.log(`\nRecall brain: POST /conversations/{cid}/messages, a new conversation per question`);
const answered = A.filter((q) => q.verdict === 'correct' || q.verdict === 'wrong' || q.verdict === 'uncited').length;
console.log(`  answerable (${A.length}):`);
console.log(`    answer accuracy (cites an expected memory)   ${rate(count(A, 'correct'), A.length)}`);
console.log(`    cites another memory                         ${rate(count(A, 'wrong'), A.length)}`);
console.log(`    "I don't remember"                           ${rate(count(A, 'abstain'), A.length)}`);
console.log(`    greeting instead of an answer                ${rate(count(A, 'greeting'), A.length)}`);
console.log(`    answers without a citation (must be 0)       ${count(A, 'uncited')} of ${answered} answers`);
for (const [name, qs] of groups) console.log(`      ${name.padEnd(16)} accuracy ${rate(count(qs, 'correct'), qs.length)}`);
const searchFirst = A.filter((q) => q.ours === 1 && q.verdict !== 'correct');
console.log(`    not right although search ranked an expected memory first: ${searchFirst.length} ` +
  `(abstained ${count(searchFirst, 'abstain')}, cited another memory ${count(searchFirst, 'wrong')})`);
const others = [...A, ...U].filter((q) => (q.reply.citations || []).some((c) => isOtherSpeaker(byId.get(c.memory_id))));
console.log(`    replies quoting another speaker than ${set.avatar.name} (all questions): ${others.length}`);
console.log(`  unanswerable (${U.length}):`);
console.log(`    "I don't remember" (no citation, not a greeting) ${rate(U.filter((q) => q.verdict === 'abstain' || q.verdict === 'uncited').length, U.length)}`);
console.log(`    wrong confident answer (cites a memory)          ${rate(count(U, 'wrong'), U.length)}`);
console.log(`    greeting                                         ${rate(count(U, 'greeting'), U.length)}`);

console.log(`\nLatency (sequential, one client, loopback)`);
console.log(`  recall brain reply   p50 ${f2(pct(replyMs, 50))} ms   p95 ${f2(pct(replyMs, 95))} ms   (${replyMs.length} messages)`);
console.log(`  search               p50 ${f2(pct(searchMs, 50))} ms   p95 ${f2(pct(searchMs, 95))} ms   (${searchMs.length} queries)`);

if (verbose) {
  const first = (q) => q.results[0] ? `[${q.results[0].kind}] ${clip(q.results[0].highlight || q.results[0].text)}` : '(nothing)';
  const cited = (msg) => (msg.citations || []).map((c) => `[${byId.get(c.memory_id)?.kind || '?'}] ${clip(c.text, 100)}`).join(' | ');
  console.log(`\nFailures (search not first, or the brain not right)`);
  for (const q of A) {
    if (q.ours === 1 && q.verdict === 'correct') continue;
    console.log(`\n[${q.id} ${q.source}] ${q.after ? `(after "${q.after}") ` : ''}${q.q}`);
    console.log(`  expected: ${q.expect.map((e) => `"${e}"`).join(' or ')}`);
    console.log(`  search rank ${q.ours ?? `>${K}`} (BM25 ${q.bm25 ?? `>${K}`}); first: ${first(q)}`);
    if (q.verdict !== 'correct') console.log(`  brain ${q.verdict}: ${clip(q.reply.text)}${q.verdict === 'wrong' ? `\n    cited ${cited(q.reply)}` : ''}`);
  }
  for (const q of U.filter((x) => x.verdict === 'wrong' || x.verdict === 'greeting')) {
    console.log(`\n[${q.id} unanswerable] ${q.q}`);
    console.log(`  brain ${q.verdict}: ${clip(q.reply.text)}`);
  }
}
