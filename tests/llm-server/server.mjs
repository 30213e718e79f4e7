// A scripted chat-completions server for tests and benchmarks, speaking the OpenAI wire protocol:
//   POST /v1/chat/completions {model, messages, stream?, stream_options?: {include_usage}, max_tokens?}
//   → stream: false: {id, object:"chat.completion", created, model, choices:[{index, message:{role,
//     content, refusal}, logprobs, finish_reason}], usage:{prompt_tokens, completion_tokens, total_tokens}}
//   → stream: true: text/event-stream of "data: {chat.completion.chunk}" — the role first, one chunk per
//     token, one with finish_reason, a usage chunk (choices: []) when include_usage — then "data: [DONE]".
//   GET /v1/models → {object:"list", data:[{id, object:"model", created, owned_by}]}
// Errors as OpenAI gives them: {error:{message, type, param, code}}; 429 with Retry-After.
//
// What it answers is scripted per request: a test queues replies (llm.queue(spec, …)) or sets
// the default (llm.reply = spec | (request) => spec). A spec:
//   {text | tokens: [...], tokenDelayMs, firstTokenMs, status, retryAfter, message,
//    stallAfter: n (n tokens, then silence with the connection open), dropAfter: n (then hang up),
//    errorAfter: n (then an error object in the stream), finish: 'stop'}
// The default answer echoes the last user message. Never a runtime default: it lives under tests/.
//
// Use: import { startLlmServer } from '…/tests/llm-server/server.mjs', or run
//   node tests/llm-server/server.mjs [--port N] [--key K] [--first-token-ms N] [--token-delay-ms N]
import http from 'node:http';
import { pathToFileURL } from 'node:url';

function openaiError(res, status, message, code = null, type = 'invalid_request_error', headers = {}) {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/* Splits text into tokens the way a model streams them: words with their leading space. */
export function tokens(text) {
  return text.match(/\s*\S+/g) || [];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const countTokens = (s) => (s.match(/\S+/g) || []).length;

/*
 * Starts the server on 127.0.0.1 (port 0 = any free one). opts: {port, key (bearer required when
 * set), models (accepted names; default any), reply (default spec)}. Resolves {url (ending in /v1),
 * port, requests: [{model, messages, stream, max_tokens, auth, aborted, finished, tokenAt: [performance.now()
 * of each streamed token]}], queue(...specs),
 * reply, close()}.
 */
export async function startLlmServer(opts = {}) {
  const requests = [];
  const queued = [];
  const state = { reply: opts.reply || null };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy()));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req, res, raw) {
    if (req.method === 'GET' && req.url === '/v1/models') {
      const data = (opts.models || ['test-chat']).map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'test' }));
      const body = JSON.stringify({ object: 'list', data });
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(body);
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions')
      return openaiError(res, 404, `Unknown request URL: ${req.method} ${req.url}`, 'unknown_url');
    if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`)
      return openaiError(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return openaiError(res, 400, 'We could not parse the JSON body of your request.');
    }
    const r = {
      model: body.model, messages: body.messages, stream: !!body.stream, max_tokens: body.max_tokens,
      include_usage: !!body.stream_options?.include_usage, auth: req.headers.authorization || null,
      aborted: false, finished: false, at: Date.now(),
    };
    requests.push(r);
    res.on('close', () => { if (!res.writableFinished) r.aborted = true; });
    if (typeof body.model !== 'string' || !body.model) return openaiError(res, 400, 'you must provide a model parameter');
    if (opts.models && !opts.models.includes(body.model))
      return openaiError(res, 404, `The model \`${body.model}\` does not exist`, 'model_not_found');
    if (!Array.isArray(body.messages) || body.messages.length === 0 || body.messages.some((m) => !m || typeof m.role !== 'string'))
      return openaiError(res, 400, "Invalid 'messages': expected an array of messages.");
    let spec = queued.length ? queued.shift() : state.reply;
    if (typeof spec === 'function') spec = spec(r);
    spec = spec || {};
    if (spec.firstTokenMs) await sleep(spec.firstTokenMs);
    if (spec.status) {
      const headers = spec.retryAfter !== undefined ? { 'retry-after': String(spec.retryAfter) } : {};
      const type = spec.status === 429 ? 'requests' : spec.status >= 500 ? 'server_error' : 'invalid_request_error';
      return openaiError(res, spec.status, spec.message || (spec.status === 429 ? 'Rate limit reached for requests' : 'The server had an error while processing your request.'), spec.status === 429 ? 'rate_limit_exceeded' : null, type, headers);
    }
    const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
    const text = spec.text ?? `You said: ${typeof lastUser?.content === 'string' ? lastUser.content : ''}`;
    const toks = spec.tokens || tokens(text);
    const id = 'chatcmpl-' + Math.random().toString(36).slice(2);
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = body.messages.reduce((n, m) => n + countTokens(typeof m.content === 'string' ? m.content : ''), 0);
    const finish = spec.finish || 'stop';
    if (!body.stream) {
      const content = toks.join('');
      const out = JSON.stringify({
        id, object: 'chat.completion', created, model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: finish }],
        usage: { prompt_tokens: promptTokens, completion_tokens: toks.length, total_tokens: promptTokens + toks.length },
        system_fingerprint: null,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      r.finished = true;
      return res.end(out);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta, finishReason = null, extra = {}) =>
      'data: ' + JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: null,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...extra }) + '\n\n';
    res.write(': keep-alive\n\n');
    res.write(chunk({ role: 'assistant', content: '' }));
    for (let i = 0; i < toks.length; i++) {
      if (res.destroyed) return;
      if (spec.stallAfter === i) return; // silence, the connection left open
      if (spec.dropAfter === i) return res.socket.destroy();
      if (spec.errorAfter === i) {
        res.write('data: ' + JSON.stringify({ error: { message: 'The model overloaded mid-answer', type: 'server_error', param: null, code: null } }) + '\n\n');
        return res.end();
      }
      if (spec.tokenDelayMs && i > 0) await sleep(spec.tokenDelayMs);
      res.write(chunk({ content: toks[i] }));
      (r.tokenAt ||= []).push(performance.now()); // when each token went out (benchmarks time from it)
    }
    res.write(chunk({}, finish));
    if (body.stream_options?.include_usage)
      res.write('data: ' + JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: null, choices: [],
        usage: { prompt_tokens: promptTokens, completion_tokens: toks.length, total_tokens: promptTokens + toks.length } }) + '\n\n');
    res.write('data: [DONE]\n\n');
    r.finished = true;
    res.end();
  }

  await new Promise((resolve) => server.listen(opts.port || 0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    queue: (...specs) => queued.push(...specs),
    clearQueue: () => queued.splice(0),
    get reply() { return state.reply; },
    set reply(v) { state.reply = v; },
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const s = await startLlmServer({
    port: Number(arg('--port', 0)), key: arg('--key', undefined),
    reply: { firstTokenMs: Number(arg('--first-token-ms', 0)), tokenDelayMs: Number(arg('--token-delay-ms', 0)) },
  });
  console.log(s.url);
}
