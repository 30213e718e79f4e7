// The OpenAPI 3.1 document: valid, complete for the contract, no hidden routes.
import { Validator } from '@seriousme/openapi-schema-validator';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkResponse, ContractError } from './lib/contract.mjs';
import { binPath, get, start } from './lib/server.mjs';

let srv, doc, res;
before(async () => {
  srv = await start();
  res = await get(srv.url, '/api/v1/openapi.json');
  doc = res.json;
});
after(async () => srv && srv.cleanup());

test('GET /api/v1/openapi.json → 200 JSON', () => {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.ok(doc && typeof doc === 'object', 'parses as JSON');
});

test('it is OpenAPI 3.1 and validates against the 3.1 schema', async () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  const v = new Validator();
  const r = await v.validate(structuredClone(doc));
  assert.ok(r.valid, 'validation errors: ' + JSON.stringify(r.errors, null, 2));
  assert.equal(v.version, '3.1');
});

test('info and paths are filled in', () => {
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  assert.ok(doc.paths && Object.keys(doc.paths).length > 50, 'documents the whole contract');
});

test('the operations and contract routes are documented', () => {
  const want = {
    '/health': ['get'],
    '/ready': ['get'],
    '/metrics': ['get'],
    '/api/v1/openapi.json': ['get'],
    '/api/v1/auth/signup': ['post'],
    '/api/v1/auth/login': ['post'],
    '/api/v1/avatars': ['get', 'post'],
    '/api/v1/avatars/{id}': ['get', 'patch', 'delete'],
    '/api/v1/conversations/{cid}/messages': ['get', 'post'],
    '/v1/chat/completions': ['post'],
    '/v1/models': ['get'],
  };
  for (const [p, methods] of Object.entries(want)) {
    assert.ok(doc.paths[p], `missing path ${p}`);
    for (const m of methods) assert.ok(doc.paths[p][m], `missing ${m.toUpperCase()} ${p}`);
  }
});

test('every operation has responses and a unique operationId; path params are declared', () => {
  const ids = new Set();
  for (const [p, item] of Object.entries(doc.paths)) {
    const params = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [m, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m)) continue;
      assert.ok(op.responses && Object.keys(op.responses).length, `${m} ${p} has responses`);
      if (op.operationId) {
        assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
      }
      const declared = [...(item.parameters || []), ...(op.parameters || [])]
        .filter((x) => x.in === 'path')
        .map((x) => x.name);
      for (const name of params) assert.ok(declared.includes(name), `${m} ${p} declares path param ${name}`);
    }
  }
});

test('every documented status has a response schema; bodies are described, not just "an object"', () => {
  const noBody = new Set(['101', '204', '304']);
  const problems = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      const at = `${m.toUpperCase()} ${p}`;
      const statuses = Object.keys(op.responses);
      if (statuses.includes('default')) problems.push(`${at}: a "default" response hides which statuses it answers`);
      if (!statuses.some((s) => /^(2..|101|501)$/.test(s))) problems.push(`${at}: no success status`);
      for (const [status, r] of Object.entries(op.responses)) {
        if (!r.description) problems.push(`${at} ${status}: no description`);
        if (noBody.has(status)) {
          if (r.content) problems.push(`${at} ${status}: a ${status} has no body`);
          continue;
        }
        const types = Object.keys(r.content || {});
        if (!types.length) problems.push(`${at} ${status}: no response schema (no content)`);
        for (const t of types) {
          const s = r.content[t].schema;
          if (/json/.test(t) && (!s || (!s.$ref && !s.properties && !s.required && !s.items && !s.oneOf && !s.allOf)))
            problems.push(`${at} ${status} ${t}: the schema says nothing about the body (${JSON.stringify(s)})`);
        }
        if (/^[45]/.test(status) && `${at} ${status}` !== 'GET /ready 503') { // readiness reports every dependency
          const s = r.content && r.content['application/json'] && r.content['application/json'].schema;
          const named = s && /^#\/components\/schemas\/(Error\d*)$/.exec(s.$ref);
          // The OpenAI-compatible facade answers in OpenAI's error shape, which OpenAI clients read.
          const openai = p.startsWith('/v1/') && s && s.$ref === '#/components/schemas/OpenAIError';
          if (!openai && (!named || (named[1] !== 'Error' && doc.components.schemas[named[1]].$ref !== '#/components/schemas/Error')))
            problems.push(`${at} ${status}: errors use the Error schema (${JSON.stringify(s)})`);
        }
      }
      const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      if (body && (!body.schema || (!body.schema.$ref && !body.schema.properties)))
        problems.push(`${at}: the JSON request body is not described (${JSON.stringify(body.schema)})`);
    }
  }
  assert.deepEqual(problems, []);
});

test('statuses the server really answers are documented: 201 for creations, 202 for accepted work', () => {
  const want = [
    ['post', '/api/v1/auth/signup', ['201', '202', '400', '429']],
    ['post', '/api/v1/avatars', ['201', '400', '401', '422']],
    ['delete', '/api/v1/avatars/{id}', ['202', '401', '403', '404']],
    ['post', '/api/v1/avatars/{id}/media', ['202', '200', '413', '415', '422']],
    ['post', '/api/v1/avatars/{id}/memories', ['201', '413', '422']],
    ['post', '/api/v1/avatars/{id}/conversations', ['201']],
    ['post', '/api/v1/conversations/{cid}/messages', ['201', '200']],
    ['delete', '/api/v1/media/{id}', ['204']],
    ['get', '/api/v1/media/{id}/content', ['200', '206', '304', '416']],
    ['post', '/v1/chat/completions', ['501']],
  ];
  for (const [m, p, statuses] of want) {
    const op = doc.paths[p] && doc.paths[p][m];
    assert.ok(op, `${m} ${p} is documented`);
    for (const s of statuses) assert.ok(op.responses[s], `${m.toUpperCase()} ${p} documents ${s}`);
  }
  // The error codes of a status are listed with it.
  const ref = doc.paths['/api/v1/auth/login'].post.responses['401'].content['application/json'].schema.$ref;
  const e = doc.components.schemas[ref.split('/').pop()];
  assert.ok(e.properties.error.properties.code.enum.includes('invalid_credentials'), JSON.stringify(e));
});

test('the contract check rejects what the document does not say', async () => {
  const bin = binPath();
  const me = (status, json) => ({ status, text: JSON.stringify(json), json });
  const user = {
    id: 'u1', email: 'a@example.test', display_name: 'A', role: 'member', org_id: 'o1', totp_enabled: false,
    created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
    quota: { storage_bytes: 0, storage_used: 0, memories: 0, memories_used: 0 },
  };
  const ct = 'application/json; charset=utf-8';
  await checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(200, user), ct, bin);
  await assert.rejects(checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(418, {}), ct, bin), (e) =>
    e instanceof ContractError && /GET \/api\/v1\/auth\/me → 418.*not documented/.test(e.message));
  await assert.rejects(checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(200, { ...user, role: 'king' }), ct, bin),
    (e) => e instanceof ContractError && /\/role/.test(e.message));
  await assert.rejects(checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(200, { ...user, secret: 1 }), ct, bin),
    (e) => e instanceof ContractError && /additional properties \(secret\)/.test(e.message));
  await assert.rejects(checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(200, user), 'text/html', bin),
    (e) => e instanceof ContractError && /Content-Type text\/html/.test(e.message));
  await assert.rejects(checkResponse(srv.url, 'GET', '/api/v1/auth/me', me(401, { error: { code: 'nope' } }), ct, bin),
    (e) => e instanceof ContractError && /error/.test(e.message));
  // Test routes are exempt; static files (not API paths) are not the API's.
  await checkResponse(srv.url, 'GET', '/api/v1/_test/echo', me(200, { anything: 1 }), ct, bin);
  await checkResponse(srv.url, 'GET', '/index.html', { status: 200, text: '<html>' }, 'text/html', bin);
});

test('GET /api/docs: a readable HTML page whose assets are all same-origin and served by the binary', async () => {
  const r = await get(srv.url, '/api/docs');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.text, /<title>[^<]*API[^<]*<\/title>/);
  assert.match(r.headers.get('content-security-policy') || '', /default-src 'self'/);
  const refs = [...r.text.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)].map((m) => m[1]);
  assert.ok(refs.length >= 2, `the page loads its script and style sheet: ${refs}`);
  assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>[^<]/, 'no inline script (the CSP forbids it)');
  assert.doesNotMatch(r.text, /<style/, 'no inline style (the CSP forbids it)');
  for (const ref of refs) {
    if (ref.startsWith('#')) continue;
    assert.match(ref, /^\/(?!\/)/, `a same-origin path, not another host: ${ref}`);
    const a = await get(srv.url, ref);
    assert.equal(a.status, 200, `${ref} is served`);
    if (/\.js$/.test(ref)) {
      assert.match(a.headers.get('content-type'), /javascript/);
      assert.doesNotMatch(a.text, /https?:\/\//, 'the script fetches nothing from elsewhere');
      assert.match(a.text, /\/api\/v1\/openapi\.json/, 'it renders the document');
    }
    if (/\.css$/.test(ref)) {
      assert.match(a.headers.get('content-type'), /text\/css/);
      assert.doesNotMatch(a.text, /@import|url\(\s*['"]?(https?:)?\/\//, 'the style sheet loads nothing from elsewhere');
    }
  }
  const again = await get(srv.url, '/api/docs', { headers: { 'if-none-match': r.headers.get('etag') } });
  assert.equal(again.status, 304);
  assert.equal((await get(srv.url, '/api/docs/nope.js')).status, 404);
});

test('test routes are hidden from the document', () => {
  for (const p of Object.keys(doc.paths)) assert.doesNotMatch(p, /_test/);
});

test('the document is stable between calls', async () => {
  const again = await get(srv.url, '/api/v1/openapi.json');
  assert.equal(again.text, res.text);
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
