// A deterministic embeddings server for tests and benchmarks, speaking the OpenAI wire protocol:
//   POST /v1/embeddings {model, input: string | string[], encoding_format?: "float" | "base64"}
//   → {object:"list", data:[{object:"embedding", index, embedding}], model, usage:{prompt_tokens, total_tokens}}
// Errors as OpenAI gives them: {error:{message, type, param, code}} with 400/401/404/429/500.
//
// The vectors are feature hashes of words, after a small table maps synonyms to one concept
// ("dad", "father", "papa" → father), so that a paraphrase sharing no word with a memory still
// lands near it — the one thing a vector adds over text search, made testable without a model.
// Never a runtime default: it lives under tests/ and the server is only pointed at it by tests
// and benchmarks.
//
// Use: import { startEmbedServer } from '…/tests/embed-server/server.mjs', or run
//   node tests/embed-server/server.mjs [--port N] [--dims D] [--key K]   (prints the base URL)
import { createHash } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const CONCEPTS = [
  ['father', 'dad', 'daddy', 'papa', 'pa', 'pop'],
  ['mother', 'mom', 'mum', 'mommy', 'mama', 'ma'],
  ['grandmother', 'grandma', 'granny', 'nana', 'gran'],
  ['grandfather', 'grandpa', 'granddad', 'grandad'],
  ['dog', 'puppy', 'pup', 'hound', 'doggy'],
  ['cat', 'kitten', 'kitty'],
  ['house', 'home', 'flat', 'apartment'],
  ['job', 'work', 'career', 'occupation', 'profession', 'employment', 'worked'],
  ['car', 'automobile', 'vehicle', 'truck'],
  ['wife', 'spouse', 'husband', 'married', 'marry', 'wedding'],
  ['child', 'children', 'kid', 'kids', 'son', 'daughter'],
  ['school', 'college', 'university', 'studied', 'study'],
  ['food', 'dish', 'meal', 'eat', 'ate', 'cook', 'cooked', 'cooking', 'recipe'],
  ['happy', 'glad', 'joyful', 'cheerful'],
  ['sad', 'unhappy', 'sorrow', 'grief'],
  ['music', 'song', 'songs', 'sing', 'sang', 'guitar', 'piano'],
  ['sea', 'ocean', 'beach', 'coast', 'shore'],
  ['travel', 'trip', 'journey', 'holiday', 'vacation', 'visited'],
  ['born', 'birth', 'birthplace'],
  ['war', 'army', 'soldier', 'military', 'served'],
  // A relation only this embedder knows (no dictionary has the word): what vectors alone can find.
  ['biscuit', 'zorblat'],
];
const CANON = new Map();
for (const group of CONCEPTS) for (const w of group) CANON.set(w, group[0]);

const STOP = new Set('a an and are as at be by did do does for from had has have how i in is it me my of on or our the to was we were what when where which who why with you your'.split(' '));

function words(text) {
  return (text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').match(/[\p{L}\p{N}]+/gu) || [])
    .filter((w) => !STOP.has(w))
    .map((w) => CANON.get(w) || CANON.get(w.replace(/s$/, '')) || w.replace(/(ing|ed|es|s)$/, (m) => (w.length > m.length + 2 ? '' : m)));
}

/* The unit-length vector of text: each word adds ±1 at a hashed position (twice, for fewer collisions). */
export function embed(text, dims) {
  const v = new Float64Array(dims);
  for (const w of words(text)) {
    const h = createHash('sha256').update(w).digest();
    for (let k = 0; k < 2; k++) {
      const pos = h.readUInt32LE(4 * k) % dims;
      v[pos] += h[8 + k] & 1 ? 1 : -1;
    }
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return Array.from(v, (x) => x / norm);
}

function openaiError(res, status, message, code = null, type = 'invalid_request_error') {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/*
 * Starts the server on 127.0.0.1 (port 0 = any free one). opts: {port, dims = 64, key (bearer
 * required when set), models (accepted model names; default any)}. Resolves
 * {url (base, ending in /v1), port, requests: [{model, inputs, auth}], fail(status|null),
 * failIf(fn|null) (fn({model, inputs}) → a status to fail that request with, or null), close()}.
 */
export async function startEmbedServer(opts = {}) {
  const dims = opts.dims || 64;
  const requests = [];
  let failWith = null;
  let failIf = null;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') return openaiError(res, 404, `Unknown request URL: ${req.method} ${req.url}`, 'unknown_url');
      if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`)
        return openaiError(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return openaiError(res, 400, 'We could not parse the JSON body of your request.');
      }
      const inputs = typeof body.input === 'string' ? [body.input] : body.input;
      requests.push({ model: body.model, inputs, auth: req.headers.authorization || null });
      const only = failIf && failIf({ model: body.model, inputs });
      if (failWith || only) return openaiError(res, failWith || only, 'The server had an error while processing your request.', null, 'server_error');
      if (typeof body.model !== 'string' || !body.model) return openaiError(res, 400, "you must provide a model parameter");
      if (opts.models && !opts.models.includes(body.model)) return openaiError(res, 404, `The model \`${body.model}\` does not exist`, 'model_not_found');
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 2048 || inputs.some((s) => typeof s !== 'string' || s === ''))
        return openaiError(res, 400, "'$.input' is invalid.");
      const base64 = body.encoding_format === 'base64';
      let tokens = 0;
      const data = inputs.map((s, index) => {
        tokens += words(s).length;
        const e = embed(s, dims);
        return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e };
      });
      const out = JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise((resolve) => server.listen(opts.port || 0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    fail(status) {
      failWith = status;
    },
    failIf(fn) {
      failIf = fn;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const s = await startEmbedServer({ port: Number(arg('--port', 0)), dims: Number(arg('--dims', 64)), key: arg('--key', undefined) });
  console.log(s.url);
}
