// Network hardening (issue 9): slow clients (header deadline, body rate, per-IP caps with a reserve),
// WebSocket slow consumers, SSE streams that must not take every worker, CORS "*" without
// credentials, and routing on the raw path (an encoded "/" never selects another route).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { api, createAvatar, signup, startAvatars } from './lib/avatars.mjs';
import { eventually, get, metrics, metricSum, sleep, start } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});
async function server(opts) {
  const s = await start(opts);
  servers.push(s);
  return s;
}

/* ---- routing on the raw path ---- */

test('an encoded "/" stays inside its path segment', async () => {
  const srv = await server();
  let r = await get(srv.url, '/api/v1/_test/params/x%2Fy/z');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { a: 'x/y', b: 'z' });
  // Decoded, this would be /params/x/y/z (no such route) or /params/x/y: neither may match.
  r = await get(srv.url, '/api/v1/_test/params/x%2Fy%2Fz');
  assert.equal(r.status, 404, r.text);
  r = await get(srv.url, '/api/v1/_test/params/x/y%2Fz');
  assert.deepEqual(r.json, { a: 'x', b: 'y/z' });
  // Other escapes in a parameter are still decoded; %00 is kept as it is.
  r = await get(srv.url, '/api/v1/_test/params/%C3%A9t%C3%A9%20x/%00a');
  assert.deepEqual(r.json, { a: 'été x', b: '%00a' });
  // Literal segments are matched as sent: an encoded separator is not one.
  r = await get(srv.url, '/api%2Fv1/_test/params/a/b');
  assert.equal(r.status, 404);
  assert.equal(await srv.stop(), 0);
});

test('/api/v1/avatars/{id}%2Fmemories is the avatar "{id}/memories" (404), never its memories', async () => {
  const srv = await startAvatars();
  servers.push(srv);
  const u = await signup(srv);
  const av = await createAvatar(srv, u.token);
  let r = await api(srv, 'GET', `/avatars/${av.id}/memories`, { token: u.token });
  assert.equal(r.status, 200, r.text);
  r = await api(srv, 'GET', `/avatars/${av.id}%2Fmemories`, { token: u.token });
  assert.equal(r.status, 404, `decoded before routing? ${r.text}`);
  assert.equal(r.json.error.code, 'not_found');
  r = await api(srv, 'GET', `/avatars/a%2Fb/memories`, { token: u.token });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'not_found');
  r = await api(srv, 'GET', `/avatars/${av.id}`, { token: u.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(await srv.stop(), 0);
});

/* ---- CORS ---- */

test('--cors-origins "*": any origin may read, never with credentials; a listed origin keeps them', async () => {
  const srv = await server({ args: ['--cors-origins', 'https://app.example, *'] });
  let r = await get(srv.url, '/health', { headers: { origin: 'https://evil.example' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  r = await get(srv.url, '/api/v1/_test/echo', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  // The listed origin is reflected, with credentials.
  r = await get(srv.url, '/health', { headers: { origin: 'https://app.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(await srv.stop(), 0);

  const star = await server({ args: ['--cors-origins', '*'] });
  r = await get(star.url, '/health', { headers: { origin: 'https://app.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  r = await get(star.url, '/health');
  assert.equal(r.headers.get('access-control-allow-origin'), null, 'no Origin, no CORS headers');
  assert.equal(await star.stop(), 0);
});
