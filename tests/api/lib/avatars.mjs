// Helpers of the avatars and media suites (avatars*.test.mjs, media*.test.mjs): a cast of users in
// every relation to an avatar, avatar/share/media calls, uploads (raw, multipart, streamed), polling
// of media processing, the fixtures of tests/fixtures/media/, a server's resident memory.
//
// Uses lib/accounts.mjs (servers with cheap password hashing and generous rate limits, users, orgs).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { addMember, api, makeOrg, makeUser, signup, startAccounts } from './accounts.mjs';
import { binPath, REPO, scaled, sleep } from './server.mjs';
import { checkResponse } from './contract.mjs';

export { addMember, api, BACKEND, expectStatus, listAll, loginOk, makeOrg, makeUser, signup, stopAll } from './accounts.mjs';
export { errorShape, eventually, get, rawRequest, sleep } from './server.mjs';

export const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'media');

/* The bytes of tests/fixtures/media/NAME. */
export function fixture(name) {
  return fs.readFileSync(path.join(FIXTURES, name));
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/* A server for these suites: startAccounts (fast argon2, generous rate limits) plus opts.args. */
export async function startAvatars(opts = {}) {
  return startAccounts(opts);
}

/*
 * Everyone an avatar can meet, on a fresh server:
 *   admin     the first signup (instance admin, org "default")
 *   owner     a member of the default org who will own the avatars (added by the admin)
 *   editor    a member of the default org (to be shared as editor; added by the admin)
 *   viewer    a member of the default org (to be shared as viewer; added by the admin)
 *   member    a member of the default org with no share (sees `org` avatars only; added by the admin)
 *   outsider  a member of another organisation
 * Each: {token, id, email, user}. Also `org` (the other organisation).
 */
export async function cast(srv) {
  const admin = await signup(srv, { display_name: 'Admin' });
  // Self sign-ups get an organisation of their own: the admin adds the default org's people.
  const owner = await addMember(srv, admin.token, { display_name: 'Owner' });
  const editor = await addMember(srv, admin.token, { display_name: 'Editor' });
  const viewer = await addMember(srv, admin.token, { display_name: 'Viewer' });
  const member = await addMember(srv, admin.token, { display_name: 'Member' });
  const org = await makeOrg(srv, admin.token);
  const outsider = await makeUser(srv, admin.token, { org_id: org.id, display_name: 'Outsider' });
  return { admin, owner, editor, viewer, member, outsider, org };
}

/* A unique avatar name / description, so that a leak of either is recognisable in any body. */
export function secretFields(tag = 'av') {
  const r = randomBytes(5).toString('hex');
  return { name: `Zyx ${tag} ${r}`, description: `desc-${tag}-${r}-confidential` };
}

/* POST /avatars, expecting 201; resolves the avatar JSON. */
export async function createAvatar(srv, token, body = {}) {
  const b = { ...secretFields(), ...body };
  const r = await api(srv, 'POST', '/avatars', { token, body: b });
  if (r.status !== 201) throw new Error(`POST /avatars ${JSON.stringify(b)} → ${r.status}: ${r.text}`);
  return r.json;
}

/* A memory of the avatar (POST /avatars/{id}/memories, expecting 201). */
export async function addMemory(srv, token, av, text, kind = 'fact') {
  const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token, body: { text, kind } });
  if (r.status !== 201) throw new Error(`POST memories → ${r.status}: ${r.text}`);
  return r.json;
}

/* A new conversation with the avatar, expecting 201. */
export async function startConversation(srv, token, av) {
  const r = await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token });
  if (r.status !== 201) throw new Error(`POST conversations → ${r.status}: ${r.text}`);
  return r.json;
}

/* Says text in the conversation (expecting 201); the avatar's reply message. */
export async function sayTo(srv, token, conv, text) {
  const r = await api(srv, 'POST', `/conversations/${conv.conversation.id}/messages`, { token, body: { text } });
  if (r.status !== 201) throw new Error(`POST messages → ${r.status}: ${r.text}`);
  return r.json.message;
}

/* POST /avatars/{id}/shares as the owner, expecting 201. */
export async function share(srv, ownerToken, avatarId, userId, role) {
  const r = await api(srv, 'POST', `/avatars/${avatarId}/shares`, { token: ownerToken, body: { user_id: userId, role } });
  if (r.status !== 201) throw new Error(`share ${avatarId} with ${userId} as ${role} → ${r.status}: ${r.text}`);
  return r.json;
}

/* An avatar owned by cast.owner, shared with cast.editor (editor) and cast.viewer (viewer). */
export async function sharedAvatar(srv, c, body = {}) {
  const a = await createAvatar(srv, c.owner.token, body);
  await share(srv, c.owner.token, a.id, c.editor.id, 'editor');
  await share(srv, c.owner.token, a.id, c.viewer.id, 'viewer');
  return a;
}

/* fetch() an arbitrary request and read the body as text (+ JSON when it parses). */
export async function request(srv, method, p, { token, headers = {}, body, duplex } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  const init = { method, headers: h, body, redirect: 'manual' };
  if (duplex) init.duplex = duplex;
  const res = await fetch(srv.url + (p.startsWith('/api/') ? p : '/api/v1' + p), init);
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  const out = { status: res.status, headers: res.headers, text, json, buf, res };
  await checkResponse(srv.url, method, p.startsWith('/api/') ? p : '/api/v1' + p, out, res.headers.get('content-type'), binPath());
  return out;
}

/* A raw-body upload: POST /avatars/{id}/media?filename=NAME with the bytes as the body; query
 * ("duplicate=copy") adds to the query string. */
export async function uploadRaw(srv, token, avatarId, bytes, filename, { headers = {}, query = '' } = {}) {
  const params = [];
  if (filename !== undefined && filename !== null) params.push(`filename=${encodeURIComponent(filename)}`);
  if (query) params.push(query);
  const q = params.length ? `?${params.join('&')}` : '';
  return request(srv, 'POST', `/avatars/${avatarId}/media${q}`, {
    token,
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: bytes,
  });
}

/* A multipart/form-data body: fields before the file part(s). parts: [{name, filename?, type?, data}] */
export function multipartBody(parts, boundary = '----doppel' + randomBytes(8).toString('hex')) {
  const chunks = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    head += '\r\n';
    chunks.push(Buffer.from(head), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}

/* A multipart upload of one file (plus optional leading text fields). */
export async function uploadMultipart(srv, token, avatarId, bytes, filename, { fields = {}, type } = {}) {
  const parts = Object.entries(fields).map(([name, data]) => ({ name, data: String(data) }));
  parts.push({ name: 'file', filename, type: type || 'application/octet-stream', data: bytes });
  const mp = multipartBody(parts);
  return request(srv, 'POST', `/avatars/${avatarId}/media`, {
    token,
    headers: { 'content-type': mp.contentType },
    body: mp.body,
  });
}

/* Uploads a fixture (raw) and asserts 202; resolves {media, job}. opts as uploadRaw's. */
export async function uploadOk(srv, token, avatarId, bytes, filename, opts = {}) {
  const r = await uploadRaw(srv, token, avatarId, bytes, filename, opts);
  if (r.status !== 202) throw new Error(`upload ${filename} → ${r.status}: ${r.text}`);
  return r.json;
}

/* Polls GET /media/{id} until pred(media) holds (or the time runs out); resolves the last media JSON. */
export async function waitMedia(srv, token, mediaId, pred, timeoutMs = 10000) {
  const end = Date.now() + scaled(timeoutMs);
  let last;
  for (;;) {
    const r = await api(srv, 'GET', `/media/${mediaId}`, { token });
    last = r.json;
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > end) return last;
    await sleep(100);
  }
}

/* Polls GET /jobs/{id} until it is done or dead, or the time runs out; resolves the last job JSON. */
export async function waitJob(srv, token, jobId, timeoutMs = 10000) {
  const end = Date.now() + scaled(timeoutMs);
  let last;
  for (;;) {
    const r = await api(srv, 'GET', `/jobs/${jobId}`, { token });
    last = r.json;
    if (r.status === 200 && (r.json.status === 'done' || r.json.status === 'dead')) return last;
    if (Date.now() > end) return last;
    await sleep(100);
  }
}

/* The files of the server's blob store (data-dir/blobs): committed blobs and leftover temp files. */
export function blobFiles(srv) {
  const root = path.join(srv.dataDir, 'blobs');
  const blobs = [];
  const tmp = [];
  const walk = (d, rel) => {
    let ents;
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (r.startsWith('tmp/')) tmp.push(r);
      else blobs.push(r);
    }
  };
  walk(root, '');
  return { blobs: blobs.sort(), tmp: tmp.sort() };
}

/* The resident set size of a process in bytes (VmRSS), or null when it cannot be read. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/* A 44-byte canonical WAV header (PCM 16-bit mono 16 kHz) announcing dataBytes of samples. */
export function wavHeader(dataBytes) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(36 + dataBytes, 0xffffffff), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(16000, 24);
  h.writeUInt32LE(32000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(dataBytes, 0xffffffff), 40);
  return h;
}

/*
 * Streams a generated body of `total` bytes (prefix, then zeros) to the server with node:http and
 * chunked transfer encoding (or a Content-Length when opts.contentLength), honouring backpressure.
 * opts.chunk (default 1 MiB). Resolves {status, headers, text, json, sha256, sent} or {error, sent}.
 */
export function streamUpload(srv, token, p, total, { prefix = Buffer.alloc(0), chunk = 1 << 20, contentLength = false, headers = {} } = {}) {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let sent = 0;
    const h = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers };
    if (contentLength) h['content-length'] = String(total);
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/api/v1' + p, headers: h, agent: false });
    let done = false;
    const finish = (v) => {
      if (!done) {
        done = true;
        resolve({ ...v, sha256: hash.digest('hex'), sent });
      }
    };
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(data);
        } catch {}
        finish({ status: res.statusCode, headers: res.headers, text: data, json });
      });
      res.on('error', (e) => finish({ error: e }));
    });
    req.on('error', (e) => finish({ error: e }));
    const zeros = Buffer.alloc(chunk);
    const pump = () => {
      while (sent < total && !req.destroyed) {
        let buf;
        if (sent < prefix.length) buf = prefix.subarray(sent, Math.min(prefix.length, total));
        else buf = total - sent >= chunk ? zeros : zeros.subarray(0, total - sent);
        hash.update(buf);
        sent += buf.length;
        if (!req.write(buf)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

/* Asserts that none of the avatar's identifying strings appear in a response body. */
export function assertNoLeak(assert, r, avatar, what) {
  for (const field of ['name', 'description']) {
    const v = avatar[field];
    if (v) assert.ok(!r.text.includes(v), `${what}: the refused response leaks the avatar's ${field}: ${r.text}`);
  }
}
