// Static files of the browser UI: index, ETag revalidation, content types, path safety.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, errorShape, get, rawRequest, start } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await start();
});
after(async () => srv && srv.cleanup());

const index = fs.readFileSync(path.join(REPO, 'web', 'index.html'), 'utf8');

test('GET / → web/index.html as text/html with an ETag', async () => {
  const r = await get(srv.url, '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.text, index);
  assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(index));
  assert.ok(r.headers.get('etag'), 'has an ETag');
  assert.match(r.headers.get('cache-control') || '', /no-cache/);
  assert.match(r.headers.get('content-security-policy') || '', /frame-ancestors 'none'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
});

test('GET /index.html is the same file with the same ETag', async () => {
  const a = await get(srv.url, '/');
  const b = await get(srv.url, '/index.html');
  assert.equal(b.status, 200);
  assert.equal(b.text, index);
  assert.equal(b.headers.get('etag'), a.headers.get('etag'));
});

test('If-None-Match with the ETag → 304 without a body', async () => {
  const etag = (await get(srv.url, '/')).headers.get('etag');
  let r = await get(srv.url, '/', { headers: { 'if-none-match': etag } });
  assert.equal(r.status, 304);
  assert.equal(r.text, '');
  assert.equal(r.headers.get('etag'), etag);
  assert.ok(r.headers.get('x-request-id'));
  // A list containing it also matches; another tag does not.
  r = await get(srv.url, '/', { headers: { 'if-none-match': `"nope", ${etag}` } });
  assert.equal(r.status, 304);
  r = await get(srv.url, '/', { headers: { 'if-none-match': '"something-else"' } });
  assert.equal(r.status, 200);
  assert.equal(r.text, index);
});

test('HEAD / → 200 without a body', async () => {
  const r = await get(srv.url, '/', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  assert.match(r.headers.get('content-type'), /^text\/html/);
});

test('a missing file → 404 not_found', async () => {
  const r = await get(srv.url, '/no-such-file.js');
  errorShape(assert, r, 404, 'not_found');
});

test('client routes without a file extension fall back to index.html (single-page app)', async () => {
  for (const p of ['/legacy/some-slug', '/avatars/abc/talk', '/settings', '/admin/jobs']) {
    const r = await get(srv.url, p);
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-type'), /^text\/html/, p);
    assert.equal(r.text, index, p);
  }
  // A missing asset (with an extension) and the server's own prefixes stay 404 JSON.
  for (const p of ['/legacy/missing.js', '/api/v1/nope', '/v1/nope', '/ws_nope', '/healthz/x.txt']) {
    const r = await get(srv.url, p);
    assert.equal(r.status, 404, p);
    assert.match(r.headers.get('content-type'), /^application\/json/, p);
  }
});

test('paths with .. (raw or encoded), backslashes and dot-files → 404', async () => {
  const paths = [
    '/../Makefile',
    '/../../../../etc/passwd',
    '/%2e%2e/Makefile',
    '/%2E%2E/%2E%2E/etc/passwd',
    '/..%2fMakefile',
    '/..%2FMakefile',
    '/web/../Makefile',
    '/./index.html/..',
    '/..\\Makefile',
    '/%5c..%5cMakefile',
    '/.git/config',
    '/.gitignore',
  ];
  for (const p of paths) {
    const r = await rawRequest(srv.port, { path: p });
    assert.ok(!r.error, `${p}: ${r.error}`);
    assert.ok(r.status === 404 || r.status === 400, `${p} → ${r.status}: ${r.text.slice(0, 100)}`);
    assert.doesNotMatch(r.text, /root:|\[core\]|CFLAGS/, `${p} leaked a file`);
  }
});

test('NUL bytes in a path never reach a file outside web/', async () => {
  // libmicrohttpd decodes %00, so the C path ends there: at worst the index is served.
  for (const p of ['/%00index.html', '/index.html%00.js', '/%00../Makefile', '/..%00/Makefile']) {
    const r = await rawRequest(srv.port, { path: p });
    assert.ok(!r.error, `${p}: ${r.error}`);
    assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && r.text === index), `${p} → ${r.status}: ${r.text.slice(0, 100)}`);
  }
});

test('API paths never fall through to static files', async () => {
  for (const p of ['/api/v1/index.html', '/api/index.html', '/v1/index.html']) {
    const r = await get(srv.url, p);
    assert.equal(r.status, 404, p);
    assert.match(r.headers.get('content-type'), /^application\/json/);
  }
});

test('server stops cleanly (exit 0)', async () => {
  assert.equal(await srv.stop(), 0);
});
