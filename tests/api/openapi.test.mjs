// The OpenAPI 3.1 document: valid, complete for the contract, no hidden routes.
import { Validator } from '@seriousme/openapi-schema-validator';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get, start } from './lib/server.mjs';

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
