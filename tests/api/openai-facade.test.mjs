// The OpenAI-compatible facade, driven by the official openai SDK (tests/api/package.json, unmodified)
// and checked field by field on the wire: GET /v1/models lists the avatars the caller may talk to;
// POST /v1/chat/completions answers as the avatar named by model (id or slug), whole or streamed as
// chat.completion.chunk events ending in [DONE], through the same turn as conversations (a recall
// avatar here, and a generative one against tests/llm-server/); errors in OpenAI's shape.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startLlmServer } from '../llm-server/server.mjs';
import { api, cast, createAvatar, expectStatus, startAvatars } from './lib/avatars.mjs';

let llm, srv, c, recall, gen, lake;

before(async () => {
  llm = await startLlmServer({ models: ['test-chat'] });
  srv = await startAvatars({ args: ['--llm-provider', 'openai', '--llm-url', llm.url, '--llm-model', 'test-chat'] });
  c = await cast(srv);
  recall = await createAvatar(srv, c.owner.token, { name: 'Rowan', visibility: 'link', slug: 'rowan-the-rower' });
  gen = await createAvatar(srv, c.owner.token, { name: 'Gwen', brain: 'generative' });
  for (const a of [recall, gen]) {
    const r = await api(srv, 'POST', `/avatars/${a.id}/memories`, { token: c.owner.token, body: { text: 'Every summer we rowed across the lake to the island cabin' } });
    expectStatus(assert, r, 201);
    if (a === recall) lake = r.json;
  }
});
after(async () => {
  await srv?.stop();
  await llm?.close();
});

const client = (token = c.owner.token) => new OpenAI({ apiKey: token, baseURL: `${srv.url}/v1`, maxRetries: 0 });

describe('OpenAI-compatible facade', () => {
  test('GET /v1/models: the caller\'s avatars as models, nobody else\'s', async () => {
    const r = await api(srv, 'GET', '/v1/models', { token: c.owner.token });
    expectStatus(assert, r, 200);
    assert.equal(r.json.object, 'list');
    const mine = r.json.data.filter((m) => [recall.id, gen.id].includes(m.id));
    assert.equal(mine.length, 2);
    for (const m of mine) {
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'doppel');
      assert.ok(Number.isInteger(m.created) && Math.abs(m.created - Date.now() / 1000) < 600);
    }
    assert.equal(mine.find((m) => m.id === recall.id).name, 'Rowan');
    const sdk = await client().models.list();
    assert.ok(sdk.data.some((m) => m.id === gen.id));
    const other = await api(srv, 'GET', '/v1/models', { token: c.outsider.token });
    expectStatus(assert, other, 200);
    assert.ok(!other.json.data.some((m) => [recall.id, gen.id].includes(m.id)));
  });

  test('chat completion, not streamed: OpenAI\'s fields one by one, the recall avatar\'s cited answer', async () => {
    const r = await api(srv, 'POST', '/v1/chat/completions', {
      token: c.owner.token,
      body: { model: recall.id, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me about the lake' }], temperature: 0.2 },
    });
    expectStatus(assert, r, 200);
    const j = r.json;
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.object, 'chat.completion');
    assert.ok(Number.isInteger(j.created) && Math.abs(j.created - Date.now() / 1000) < 60);
    assert.equal(j.model, recall.id);
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].index, 0);
    assert.equal(j.choices[0].finish_reason, 'stop');
    assert.equal(j.choices[0].message.role, 'assistant');
    assert.equal(j.choices[0].message.content, lake.text);
    assert.equal(j.choices[0].message.refusal, null);
    assert.equal(j.doppel.citations[0].memory_id, lake.id);
    assert.equal(j.usage, undefined, 'no model answered: no token counts made up');
    // The turn is stored as a conversation of the caller.
    const h = await api(srv, 'GET', `/conversations/${j.doppel.conversation_id}/messages`, { token: c.owner.token });
    expectStatus(assert, h, 200);
    assert.deepEqual(h.json.items.map((m) => m.role), ['user', 'avatar']);
    assert.equal(h.json.items[1].id, j.doppel.message_id);
  });

  test('the SDK names an avatar by its slug; content given as text parts is read', async () => {
    const out = await client().chat.completions.create({
      model: 'rowan-the-rower',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me about ' }, { type: 'text', text: 'the lake' }] }],
    });
    assert.equal(out.choices[0].message.content, lake.text);
  });

  test('streamed through the SDK: the role first, the generative avatar\'s tokens in order, stop, [DONE]', async () => {
    llm.queue({ tokens: ['We', ' rowed', ' to', ' the', ' island', '.'] });
    const stream = await client().chat.completions.create({
      model: gen.id, stream: true,
      messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi dear.' }, { role: 'user', content: 'Tell me about the lake' }],
    });
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const pieces = chunks.map((ch) => ch.choices[0]?.delta?.content).filter(Boolean);
    assert.deepEqual(pieces, ['We', ' rowed', ' to', ' the', ' island', '.']);
    const last = chunks.at(-1);
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.ok(chunks.every((ch) => ch.object === 'chat.completion.chunk' && ch.id === chunks[0].id && ch.model === gen.id));
    // The client's earlier turns reached the model as the conversation.
    const sent = llm.requests.at(-1).messages;
    assert.deepEqual(sent.slice(-3).map((m) => [m.role, m.content]), [['user', 'Hello'], ['assistant', 'Hi dear.'], ['user', 'Tell me about the lake']]);
  });

  test('the model\'s token counts: usage of a whole answer; a last chunk with no choices when stream_options.include_usage', async () => {
    llm.queue({ text: 'Three words here.' });
    const r = await api(srv, 'POST', '/v1/chat/completions', { token: c.owner.token, body: { model: gen.id, messages: [{ role: 'user', content: 'Hello there' }] } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.usage.completion_tokens, 3);
    assert.ok(r.json.usage.prompt_tokens > 2);
    assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens + 3);
    llm.queue({ text: 'Two words.' });
    const stream = await client().chat.completions.create({ model: gen.id, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(chunks.at(-1).usage.completion_tokens, 2);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  });

  test('the wire of a stream: data lines only, each a chunk, ending with data: [DONE]', async () => {
    llm.queue({ text: 'Short answer.' });
    const r = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.owner.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: gen.id, stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/event-stream/);
    const blocks = (await r.text()).trim().split('\n\n');
    assert.ok(blocks.every((b) => /^data: /.test(b) && !b.includes('\nevent:')), blocks.join('|'));
    assert.equal(blocks.at(-1), 'data: [DONE]');
    const chunks = blocks.slice(0, -1).map((b) => JSON.parse(b.slice(6)));
    assert.equal(chunks.map((ch) => ch.choices[0].delta.content || '').join(''), 'Short answer.');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.ok(Array.isArray(chunks.at(-1).doppel.citations));
  });

  test('errors in OpenAI\'s shape: unknown or unseen model 404, bad messages 400, no token 401', async () => {
    let r = await api(srv, 'POST', '/v1/chat/completions', { token: c.outsider.token, body: { model: recall.id, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 404);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.json.error.code, 'model_not_found');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, 'model');
    await assert.rejects(client().chat.completions.create({ model: 'no-such-avatar', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 404 && e.code === 'model_not_found');
    r = await api(srv, 'POST', '/v1/chat/completions', { token: c.owner.token, body: { model: recall.id, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'x' }] } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'messages');
    r = await api(srv, 'POST', '/v1/chat/completions', { token: c.owner.token, body: { model: recall.id, messages: [] } });
    assert.equal(r.status, 400);
    r = await api(srv, 'POST', '/v1/chat/completions', { token: c.owner.token, body: { model: recall.id, n: 2, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'n');
    r = await api(srv, 'POST', '/v1/chat/completions', { token: c.owner.token, body: { model: recall.id, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] } });
    assert.equal(r.status, 400);
    r = await api(srv, 'POST', '/v1/chat/completions', { body: { model: recall.id, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 401);
    assert.equal(typeof r.json.error.message, 'string');
    await assert.rejects(client('not-a-token').models.list(), (e) => e.status === 401);
  });

  test('/v1/audio/speech speaks with the local engine (remote providers: speech-remote.test.mjs)', async () => {
    const r = await client().audio.speech.create({ model: 'tts-1', input: 'Hello from the lake.', voice: recall.id, response_format: 'wav' });
    const wav = Buffer.from(await r.arrayBuffer());
    assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
    assert.ok(wav.length > 44 + 16000, `${wav.length} bytes`);
  });
});

describe('OpenAI-compatible facade: a chat in a client is one conversation', () => {
  const messagesOf = async (conv) => (await api(srv, 'GET', `/conversations/${conv}/messages`, { token: c.owner.token })).json.items;

  test('the same history sent back continues its conversation; a changed one starts another', async () => {
    const first = await client().chat.completions.create({ model: recall.id, messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Tell me about the lake' }] });
    const conv = first.doppel.conversation_id;
    const history = [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Tell me about the lake' }, { role: 'assistant', content: first.choices[0].message.content }];
    const second = await client().chat.completions.create({ model: recall.id, messages: [...history, { role: 'user', content: 'And the island?' }] });
    assert.equal(second.doppel.conversation_id, conv, 'continued');
    const third = await client().chat.completions.create({
      model: recall.id,
      messages: [...history, { role: 'user', content: 'And the island?' }, { role: 'assistant', content: second.choices[0].message.content }, { role: 'user', content: 'Who rowed?' }],
    });
    assert.equal(third.doppel.conversation_id, conv, 'continued again');
    assert.equal((await messagesOf(conv)).length, 6, 'each turn stored once');
    // An edited earlier answer is another history: another conversation.
    const edited = await client().chat.completions.create({
      model: recall.id, messages: [{ role: 'user', content: 'Tell me about the lake' }, { role: 'assistant', content: 'Something else.' }, { role: 'user', content: 'And the island?' }],
    });
    assert.notEqual(edited.doppel.conversation_id, conv);
  });

  test('streamed replies continue the same way; metadata.conversation_id names one; someone else\'s is a 404', async () => {
    llm.queue({ text: 'We rowed every summer.' });
    const stream = await client().chat.completions.create({ model: gen.id, stream: true, messages: [{ role: 'user', content: 'Tell me about the lake' }] });
    let text = '';
    let conv;
    for await (const ch of stream) {
      text += ch.choices[0]?.delta?.content || '';
      conv = ch.doppel?.conversation_id || conv;
    }
    llm.queue({ text: 'The island, yes.' });
    const next = await client().chat.completions.create({ model: gen.id, messages: [{ role: 'user', content: 'Tell me about the lake' }, { role: 'assistant', content: text }, { role: 'user', content: 'The island?' }] });
    assert.equal(next.doppel.conversation_id, conv);
    const named = await client().chat.completions.create({ model: recall.id, messages: [{ role: 'user', content: 'Tell me about the lake' }] });
    llm.queue({ text: 'Named.' });
    const again = await client().chat.completions.create({ model: gen.id, metadata: { conversation_id: conv }, messages: [{ role: 'user', content: 'Anything' }] });
    assert.equal(again.doppel.conversation_id, conv);
    assert.equal((await messagesOf(conv)).length, 6);
    // A conversation with another avatar, someone else's, or no conversation at all: 404.
    for (const [token, id] of [[c.owner.token, named.doppel.conversation_id], [c.outsider.token, conv], [c.owner.token, 'not-an-id']]) {
      const r = await api(srv, 'POST', '/v1/chat/completions', { token, body: { model: gen.id, metadata: { conversation_id: id }, messages: [{ role: 'user', content: 'hi' }] } });
      if (token === c.outsider.token) {
        assert.equal(r.status, 404); // the outsider does not see the avatar at all
        continue;
      }
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.error.code, 'conversation_not_found');
    }
  });
});
