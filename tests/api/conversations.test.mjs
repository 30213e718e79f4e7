// Conversations with an avatar and the recall brain: greeting, cited answers, follow-ups,
// "I don't remember", SSE event order, persistence, access.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { api, createAvatar } from './lib/avatars.mjs';
import { startTalkingAvatar } from './lib/talking.mjs';

const talk = startTalkingAvatar();
let srv, c;
before(async () => ({ srv, c } = await talk.ready()));
const { memory, start, say, ingest } = talk;

describe('recall brain', () => {
  let av;
  const facts = {};
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { greeting: 'Hello, love! Come in.', visibility: 'org' });
    facts.born = await memory(av, 'I was born in Cork in 1932.');
    facts.trees = await memory(av, 'My father planted apple trees by the river behind the farm.');
    facts.lake = await memory(av, 'We spent every summer at the lake in Killarney.');
    facts.food = await memory(av, "Q: What was your favourite food? A: My mother's brown bread with butter.", 'qa');
  });

  test('a new conversation opens with the greeting', async () => {
    const conv = await start(av);
    assert.equal(conv.message.role, 'avatar');
    assert.equal(conv.message.text, 'Hello, love! Come in.');
  });

  test('answers quote the matching memory and cite it; Q&A answers with the answer part', async () => {
    const conv = await start(av);
    let m = await say(conv, 'Where were you born?');
    assert.equal(m.text, facts.born.text);
    assert.deepEqual(m.citations.map((x) => x.memory_id), [facts.born.id]);
    m = await say(conv, 'What did your father plant?');
    assert.equal(m.text, facts.trees.text);
    m = await say(conv, 'What was your favourite food?');
    assert.equal(m.text, "My mother's brown bread with butter.");
    assert.equal(m.citations[0].memory_id, facts.food.id);
  });

  test('greetings get the greeting; unanswerable questions get "I don\'t remember", uncited', async () => {
    const conv = await start(av);
    let m = await say(conv, 'hi there');
    assert.equal(m.text, 'Hello, love! Come in.');
    for (const q of ['Did you ever fly to the moon?', 'What is quantum chromodynamics?', 'Who won the 2030 cup final?']) {
      m = await say(conv, q);
      assert.match(m.text, /don't remember/i, q);
      assert.deepEqual(m.citations, []);
    }
  });

  test('the brain sees the words search sees: "MÜLLER" finds and answers with "Herr Müller …" (and Greek, Cyrillic)', async () => {
    const own = await createAvatar(srv, c.owner.token);
    const muller = await memory(own, 'Herr Müller fixed my bike');
    const greek = await memory(own, 'Η γιαγιά μου έλεγε ιστορίες');
    const russian = await memory(own, 'Бабушка жила в Ёлкино');
    await memory(own, 'The bakery on the corner sold rye bread');
    for (const [q, m] of [['MÜLLER', muller], ['Who is MÜLLER?', muller], ['müller', muller], ['ΓΙΑΓΙΑ', greek], ['елкино', russian]]) {
      const r = await api(srv, 'GET', `/avatars/${own.id}/memories?q=${encodeURIComponent(q)}`, { token: c.owner.token });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.items.map((x) => x.id), [m.id], `search ${q}`);
      const reply = await say(await start(own), q.endsWith('?') ? q : `Who is ${q}?`);
      assert.doesNotMatch(reply.text, /don't remember/, `brain: ${q}`);
      assert.deepEqual(reply.citations.map((x) => x.memory_id), [m.id], `brain: ${q} → ${reply.text}`);
      assert.equal(reply.text, m.text);
    }
  });

  test('every reply that is not small talk or "don\'t remember" is cited', async () => {
    const conv = await start(av);
    for (const q of ['Tell me about the lake', 'apple trees?', 'Cork', 'brown bread']) {
      const m = await say(conv, q);
      assert.ok(m.citations.length >= 1, `${q}: ${m.text}`);
      assert.ok(m.text.length > 0);
    }
  });

  test('history is stored in order, user and avatar alternating', async () => {
    const conv = await start(av);
    await say(conv, 'Where were you born?');
    await say(conv, 'Tell me about the lake');
    const r = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.items.map((m) => m.role), ['avatar', 'user', 'avatar', 'user', 'avatar']);
    assert.equal(r.json.items[1].text, 'Where were you born?');
    const list = await api(srv, 'GET', `/avatars/${av.id}/conversations`, { token: c.owner.token });
    assert.ok(list.json.items.some((x) => x.id === conv.conversation.id));
  });

  test('history pages from the newest end: order=desc and ?before= walk back to the greeting; bad values → 400', async () => {
    const conv = await start(av);
    for (const q of ['Where were you born?', 'Tell me about the lake', 'What did your father plant?']) await say(conv, q);
    const base = `/conversations/${conv.conversation.id}/messages`;
    const all = (await api(srv, 'GET', base, { token: c.owner.token })).json.items.map((m) => m.id);
    assert.equal(all.length, 7);
    const newest = all.slice().reverse();
    // The first page (cached) and a page from a cursor both go newest first.
    const first = await api(srv, 'GET', `${base}?order=desc&limit=3`, { token: c.owner.token });
    assert.equal(first.status, 200);
    assert.deepEqual(first.json.items.map((m) => m.id), newest.slice(0, 3));
    assert.equal(first.json.next_cursor, newest[2]);
    const second = await api(srv, 'GET', `${base}?order=desc&limit=3&cursor=${first.json.next_cursor}`, { token: c.owner.token });
    assert.deepEqual(second.json.items.map((m) => m.id), newest.slice(3, 6));
    const rest = await api(srv, 'GET', `${base}?before=${newest[5]}&limit=3`, { token: c.owner.token });
    assert.deepEqual(rest.json.items.map((m) => m.id), newest.slice(6));
    assert.equal(rest.json.next_cursor, null);
    // A new turn shows at once on the cached newest-first page; the oldest-first one is unchanged.
    const again = await api(srv, 'GET', `${base}?order=desc&limit=3`, { token: c.owner.token });
    assert.deepEqual(again.json.items.map((m) => m.id), newest.slice(0, 3));
    const reply = await say(conv, 'Tell me about the lake');
    const after = await api(srv, 'GET', `${base}?order=desc&limit=3`, { token: c.owner.token });
    assert.equal(after.json.items[0].id, reply.id);
    assert.equal(after.json.items[1].role, 'user');
    const asc = await api(srv, 'GET', `${base}?limit=3`, { token: c.owner.token });
    assert.deepEqual(asc.json.items.map((m) => m.id), all.slice(0, 3));
    for (const q of ['order=up', 'before=nope', `before=${newest[1]}&order=asc`, `before=${newest[1]}&cursor=${newest[2]}`]) {
      const bad = await api(srv, 'GET', `${base}?${q}`, { token: c.owner.token });
      assert.equal(bad.status, 400, q);
    }
    const outsider = await api(srv, 'GET', `${base}?order=desc`, { token: c.outsider.token });
    assert.equal(outsider.status, 404);
  });

  test('SSE: delta events spell the reply, then citation, then done with the stored message', async () => {
    const conv = await start(av);
    const r = await fetch(`${srv.url}/api/v1/conversations/${conv.conversation.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.owner.token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Tell me about the lake' }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    const events = (await r.text()).trim().split('\n\n').map((block) => {
      const ev = block.match(/^event: (.*)$/m)[1];
      const data = JSON.parse(block.match(/^data: (.*)$/m)[1]);
      return { ev, data };
    });
    const kinds = events.map((e) => e.ev);
    const firstCitation = kinds.indexOf('citation');
    assert.ok(kinds.indexOf('delta') === 0 && firstCitation > 0 && kinds.at(-1) === 'done', kinds.join(','));
    assert.ok(kinds.slice(0, firstCitation).every((k) => k === 'delta'));
    const text = events.filter((e) => e.ev === 'delta').map((e) => e.data.text).join('');
    const done = events.at(-1).data.message;
    assert.equal(text, done.text);
    assert.equal(done.text, facts.lake.text);
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    assert.equal(h.json.items.at(-1).id, done.id); // stored
  });

  test('SSE: a client that goes away mid-stream leaves the question stored and at most one whole, cited reply', async () => {
    const conv = await start(av);
    for (let i = 0; i < 5; i++) {
      const ctl = new AbortController();
      const r = await fetch(`${srv.url}/api/v1/conversations/${conv.conversation.id}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${c.owner.token}`, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: "Tell me about the lake" }),
        signal: ctl.signal,
      });
      assert.equal(r.status, 200);
      ctl.abort(); // gone before reading a byte of the stream
      await r.text().catch(() => {});
    }
    await new Promise((res) => setTimeout(res, 300));
    const h = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages?limit=100`, { token: c.owner.token });
    assert.equal(h.status, 200);
    const asked = h.json.items.filter((m) => m.role === 'user');
    assert.equal(asked.length, 5, 'every question was stored before the stream began');
    for (const m of h.json.items.filter((x) => x.role === 'avatar').slice(1)) {
      assert.equal(m.text, facts.lake.text, 'a stored reply is whole');
      assert.equal(m.citations[0].memory_id, facts.lake.id);
    }
    // The server is well and still answers on the same conversation.
    assert.equal((await say(conv, 'Tell me about the lake')).text, facts.lake.text);
  });

  test('access: a same-org member may talk to an org avatar; an outsider and strangers get 404', async () => {
    const conv = await start(av, c.member.token);
    const m = await say(conv, 'Where were you born?', c.member.token);
    assert.equal(m.text, facts.born.text);
    const r = await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token: c.outsider.token });
    assert.equal(r.status, 404);
    // Someone else's conversation is not visible, even to the avatar's owner.
    const other = await api(srv, 'GET', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token });
    assert.equal(other.status, 404);
    const post = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { token: c.outsider.token, body: { text: 'hi' } });
    assert.equal(post.status, 404);
    const anon = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { body: { text: 'hi' } });
    assert.equal(anon.status, 401);
  });

  test('bad input: empty or oversize text → 400', async () => {
    const conv = await start(av);
    for (const text of ['', '   ', 'x'.repeat(4001)]) {
      const r = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { token: c.owner.token, body: { text } });
      assert.equal(r.status, 400, JSON.stringify(text.slice(0, 10)));
    }
  });
});

describe('recall over documents', () => {
  test('"tell me more" continues the passage quoted, then the next passage of the same document', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const paras = [];
    for (let i = 0; i < 8; i++) {
      paras.push(`Chapter ${i} words: ${Array.from({ length: 90 }, (_, k) => `w${i}x${k}`).join(' ')}.`);
    }
    paras[0] = `The lighthouse keeper rowed to the island every morning. ${paras[0]}`;
    const mediaId = await ingest(av, paras.join('\n\n'), 'story.txt');
    const conv = await start(av);
    const first = await say(conv, 'Who rowed to the island?');
    assert.match(first.text, /lighthouse keeper/);
    assert.equal(first.citations[0].source.media_id, mediaId);
    // the rest of the passage the first answer quoted from: what follows the quote, not the quote again
    const rest = await say(conv, 'Tell me more');
    assert.equal(rest.citations[0].memory_id, first.citations[0].memory_id);
    assert.match(rest.text, /^Chapter 0 words: w0x0 /);
    assert.ok(!rest.text.includes('lighthouse keeper'), rest.text);
    // that passage said (never a piece twice), the next one of the same document
    const said = [first.text, rest.text];
    let next = rest;
    for (let i = 0; i < 6 && next.citations[0].memory_id === first.citations[0].memory_id; i++) {
      next = await say(conv, 'Tell me more');
      assert.ok(!said.includes(next.text), next.text);
      said.push(next.text);
    }
    assert.equal(next.citations[0].source.media_id, mediaId);
    assert.ok(next.citations[0].source.char_start > first.citations[0].source.char_start);
  });
});
