// The generative brain against the scripted chat server of tests/llm-server/: replies streamed
// token by token through SSE, citations of the memories offered (a made-up one dropped), the recall
// brain answering when the model fails before its first token, retries (5xx, stalls, 429 with
// Retry-After), the client going away cancelling the upstream call, and the breaker opening (last:
// it stays open for 30 s). A server without a model refuses the generative brain, naming the setting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLlmServer } from '../llm-server/server.mjs';
import { api, cast, createAvatar, eventually, expectStatus, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';

const KEY = 'sk-test-chat-secret-0123456789';
let llm, srv, plain, c, cp, av, facts;

before(async () => {
  llm = await startLlmServer({ key: KEY, models: ['test-chat'] });
  srv = await startAvatars({
    args: ['--llm-provider', 'openai', '--llm-url', llm.url, '--llm-model', 'test-chat', '--llm-api-key', KEY,
      '--llm-idle-timeout', String(scaled(1500)), '--llm-retries', '1', '--llm-retry-wait-max', '3000',
      '--llm-circuit-cooldown', '2'],
    logLevel: 'info',
  });
  plain = await startAvatars();
  c = await cast(srv);
  cp = await cast(plain);
  av = await createAvatar(srv, c.owner.token, { name: 'Margaret', brain: 'generative', description: 'A retired nurse from Leeds.', personality: 'warm, dry humour' });
  facts = {};
  for (const [k, text] of Object.entries({ lake: 'Every summer we rowed across the lake to the island cabin', born: 'I was born in Leeds in 1941' })) {
    const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text } });
    expectStatus(assert, r, 201);
    facts[k] = r.json;
  }
});
after(async () => {
  await srv?.stop();
  await plain?.stop();
  await llm?.close();
});

const start = async (a = av, token = c.owner.token) => {
  const r = await api(srv, 'POST', `/avatars/${a.id}/conversations`, { token });
  expectStatus(assert, r, 201);
  return r.json.conversation;
};
const say = async (conv, text, token = c.owner.token) => {
  const r = await api(srv, 'POST', `/conversations/${conv.id}/messages`, { token, body: { text } });
  return r;
};
/* The SSE events of a streamed reply, in order. */
async function sayStreamed(conv, text, token = c.owner.token) {
  const r = await fetch(`${srv.url}/api/v1/conversations/${conv.id}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  assert.equal(r.status, 200);
  return (await r.text()).trim().split('\n\n').map((block) => ({
    ev: block.match(/^event: (.*)$/m)[1],
    data: JSON.parse(block.match(/^data: (.*)$/m)[1]),
  }));
}
/* The number the prompt gave memory m, read from the system message the model received. */
function numberOf(request, m) {
  const sys = request.messages[0].content;
  const hit = sys.match(new RegExp(`\\[(\\d+)\\] \\(id ${m.id};`));
  return hit ? Number(hit[1]) : null;
}
const history = async (conv) => (await api(srv, 'GET', `/conversations/${conv.id}/messages?limit=200`, { token: c.owner.token })).json.items;

describe('generative brain', () => {
  test('without a language model the generative brain is refused, naming the setting', async () => {
    let r = await api(plain, 'POST', '/avatars', { token: cp.owner.token, body: { name: 'G', brain: 'generative' } });
    expectStatus(assert, r, 400, 'invalid_input');
    assert.match(r.json.error.message, /--llm-provider/);
    const a = await createAvatar(plain, cp.owner.token, { name: 'R' });
    r = await api(plain, 'PATCH', `/avatars/${a.id}`, { token: cp.owner.token, body: { brain: 'generative' } });
    expectStatus(assert, r, 400, 'invalid_input');
    assert.match(r.json.error.message, /DOPPEL_LLM_PROVIDER/);
  });

  test('SSE: the model\'s tokens arrive as deltas in order; its marks become citations of offered memories, a made-up one is dropped', async () => {
    const conv = await start();
    const seen = [];
    llm.reply = (req) => {
      seen.push(req);
      const n = numberOf(req, facts.lake);
      return { tokens: ['We', ' row', 'ed', ' to', ' the', ' island', ` [${n}]`, ' every', ' summer', ' [42]', '.'] };
    };
    const events = await sayStreamed(conv, 'Tell me about the lake');
    llm.reply = null;
    const kinds = events.map((e) => e.ev);
    assert.equal(kinds.at(-1), 'done', kinds.join(','));
    const deltas = events.filter((e) => e.ev === 'delta').map((e) => e.data.text);
    assert.ok(deltas.length >= 7, `token by token: ${JSON.stringify(deltas)}`);
    assert.deepEqual(deltas.slice(0, 3), ['We', ' row', 'ed'], 'pieces as the model sent them, not re-split');
    const text = deltas.join('');
    assert.equal(text, 'We rowed to the island every summer.');
    const cites = events.filter((e) => e.ev === 'citation').map((e) => e.data);
    assert.deepEqual(cites.map((x) => x.memory_id), [facts.lake.id], 'the made-up [42] is dropped');
    assert.equal(cites[0].text, facts.lake.text);
    const done = events.at(-1).data.message;
    assert.equal(done.text, text);
    assert.deepEqual(done.citations.map((x) => x.memory_id), [facts.lake.id]);
    assert.equal((await history(conv)).at(-1).id, done.id, 'stored');
    // What the model was sent: the key, streaming, the persona, the memory with its id, the question last.
    const req = seen[0];
    assert.equal(req.auth, `Bearer ${KEY}`);
    assert.equal(req.stream, true);
    assert.equal(req.model, 'test-chat');
    assert.match(req.messages[0].content, /You are Margaret/);
    assert.match(req.messages[0].content, /A retired nurse from Leeds/);
    assert.ok(req.messages[0].content.includes(facts.lake.id));
    assert.deepEqual(req.messages.at(-1), { role: 'user', content: 'Tell me about the lake' });
  });

  test('the conversation so far reaches the model as user and assistant turns', async () => {
    const conv = await start();
    llm.queue({ text: 'Hello there.' }, { text: 'Leeds, dear.' });
    expectStatus(assert, await say(conv, 'Hello'), 201);
    const before = llm.requests.length;
    const r = await say(conv, 'Where were you born?');
    expectStatus(assert, r, 201);
    assert.equal(r.json.message.text, 'Leeds, dear.');
    const msgs = llm.requests[before].messages;
    assert.deepEqual(msgs.slice(-3).map((m) => [m.role, m.content]), [['user', 'Hello'], ['assistant', 'Hello there.'], ['user', 'Where were you born?']]);
  });

  test('a model failing before its first token is retried once, then the recall brain answers', async () => {
    const conv = await start();
    const n0 = llm.requests.length;
    llm.queue({ status: 500 }, { status: 503 });
    const r = await say(conv, 'Where were you born?');
    expectStatus(assert, r, 201);
    assert.equal(llm.requests.length - n0, 2, 'one retry');
    assert.equal(r.json.message.text, facts.born.text, 'the recall brain quotes the memory');
    assert.equal(r.json.message.citations[0].memory_id, facts.born.id);
  });

  test('429: Retry-After is honoured within --llm-retry-wait-max; a longer one falls back at once', async () => {
    const conv = await start();
    let n0 = llm.requests.length;
    llm.queue({ status: 429, retryAfter: 1 }, { text: 'After the wait.' });
    let r = await say(conv, 'Hello again');
    expectStatus(assert, r, 201);
    assert.equal(r.json.message.text, 'After the wait.');
    assert.equal(llm.requests.length - n0, 2);
    const waited = llm.requests[n0 + 1].at - llm.requests[n0].at;
    assert.ok(waited >= 950, `waited ${waited} ms for Retry-After: 1`);
    n0 = llm.requests.length;
    llm.queue({ status: 429, retryAfter: 60 });
    const t0 = Date.now();
    r = await say(conv, 'Where were you born?');
    expectStatus(assert, r, 201);
    assert.equal(llm.requests.length - n0, 1, 'no retry past the maximum wait');
    assert.equal(r.json.message.text, facts.born.text);
    assert.ok(Date.now() - t0 < 2000);
  });

  test('a stream that stalls before its first token is retried; one that stalls mid-answer ends in an error and stores nothing', async () => {
    const conv = await start();
    llm.queue({ stallAfter: 0 }, { text: 'Second try.' });
    let r = await say(conv, 'Hello once more');
    expectStatus(assert, r, 201);
    assert.equal(r.json.message.text, 'Second try.');
    llm.queue({ text: 'One two three four', stallAfter: 2 });
    const before = (await history(conv)).length;
    const events = await sayStreamed(conv, 'Count for me');
    assert.deepEqual(events.filter((e) => e.ev === 'delta').map((e) => e.data.text), ['One', ' two']);
    assert.equal(events.at(-1).ev, 'error');
    const h = await history(conv);
    assert.equal(h.length, before + 1, 'the question stored, no half reply');
    assert.equal(h.at(-1).role, 'user');
  });

  test('the client going away mid-stream cancels the upstream call; nothing is stored', async () => {
    const conv = await start();
    llm.queue({ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), tokenDelayMs: 100 });
    const ctl = new AbortController();
    const r = await fetch(`${srv.url}/api/v1/conversations/${conv.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.owner.token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Talk for a while' }),
      signal: ctl.signal,
    });
    const reader = r.body.getReader();
    await reader.read(); // the first delta
    ctl.abort();
    const upstream = llm.requests.at(-1);
    assert.ok(await eventually(() => upstream.aborted, { timeoutMs: 3000 }), 'the model\'s connection was closed');
    assert.equal(upstream.finished, false);
    const h = await history(conv);
    assert.equal(h.at(-1).role, 'user');
  });

  test('admin stats show the model\'s circuit and latency; five failures open it, the recall brain answers without calling; after the cooldown one trial closes it', async () => {
    let s = await api(srv, 'GET', '/admin/stats', { token: c.admin.token });
    expectStatus(assert, s, 200);
    const p = s.json.providers['llm:openai'];
    assert.equal(p.circuit, 'closed');
    assert.ok(p.calls > 5 && p.failures >= 1 && p.latency_ms.p50 > 0 && p.latency_ms.window > 0, JSON.stringify(p));
    assert.ok(!JSON.stringify(s.json).includes(KEY));
    const conv = await start();
    llm.reply = { status: 500 };
    for (let i = 0; i < 3; i++) expectStatus(assert, await say(conv, 'Where were you born?'), 201); // 2 attempts each
    const n0 = llm.requests.length;
    const r = await say(conv, 'Where were you born?');
    expectStatus(assert, r, 201);
    assert.equal(r.json.message.text, facts.born.text);
    assert.equal(llm.requests.length, n0, 'the open breaker refuses the call at once');
    s = await api(srv, 'GET', '/admin/stats', { token: c.admin.token });
    assert.equal(s.json.providers['llm:openai'].circuit, 'open');
    assert.equal(s.json.circuits['llm:openai'], 'open');
    llm.reply = null;
    await new Promise((res) => setTimeout(res, 2100)); // --llm-circuit-cooldown 2
    llm.queue({ text: 'Back again.' });
    const back = await say(conv, 'Are you there?');
    expectStatus(assert, back, 201);
    assert.equal(back.json.message.text, 'Back again.', 'the half-open trial went to the model');
    s = await api(srv, 'GET', '/admin/stats', { token: c.admin.token });
    assert.equal(s.json.providers['llm:openai'].circuit, 'closed');
    // The key never reaches a log line, though the model's failures were logged.
    assert.match(srv.stderr(), /\[llm\] openai model test-chat/);
    assert.match(srv.stderr(), /the language model answered 500/);
    assert.ok(!srv.stderr().includes(KEY), 'the API key is never logged');
  });
});
