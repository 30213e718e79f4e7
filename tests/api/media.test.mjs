// Media: uploads (raw and multipart) sniffed from the bytes, refusals that leave nothing behind
// (415, 422, 400, 413), metadata and listing, content with ETag and Range, deletion with blobs
// shared by content.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  api,
  blobFiles,
  cast,
  createAvatar,
  errorShape,
  expectStatus,
  fixture,
  listAll,
  multipartBody,
  request,
  sha256,
  sharedAvatar,
  signup,
  startAvatars,
  streamUpload,
  uploadMultipart,
  uploadOk,
  uploadRaw,
} from './lib/avatars.mjs';

let srv;
let c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const ELF = fs.readFileSync('/bin/true');

/* Deterministic noise (a SHA-256 chain), so that no run meets a lucky magic number. */
function noise(n) {
  const out = [];
  let h = Buffer.from('doppel noise');
  for (let len = 0; len < n; len += 32) out.push((h = createHash('sha256').update(h).digest()));
  return Buffer.concat(out).subarray(0, n);
}

/* Media ids of an avatar (every page). */
const mediaIds = async (avatarId, token = c.owner.token) => (await listAll(srv, `/avatars/${avatarId}/media`, token)).map((m) => m.id).sort();

/* Asserts that a refused upload left no media row, no new blob and no temp file. */
async function nothingLeft(avatarId, beforeIds, beforeBlobs, what) {
  assert.deepEqual(await mediaIds(avatarId), beforeIds, `${what}: the media list is unchanged`);
  // Background deletions of earlier tests may remove blobs meanwhile; a new one would be a leak.
  // A temp file may belong to an earlier test's aborted upload, cleaned up just after its client
  // left: give those a moment.
  let now = blobFiles(srv);
  for (let i = 0; i < 20 && now.tmp.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    now = blobFiles(srv);
  }
  assert.deepEqual(now.blobs.filter((b) => !beforeBlobs.includes(b)), [], `${what}: no blob is left behind`);
  assert.deepEqual(now.tmp, [], `${what}: no temporary file is left behind`);
}

const TYPES = [
  ['sample.txt', 'text/plain', 'text'],
  ['sample.md', 'text/markdown', 'text'],
  ['sample.html', 'text/html', 'document'],
  ['sample.pdf', 'application/pdf', 'document'],
  ['sample.epub', 'application/epub+zip', 'document'],
  ['sample.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'document'],
  ['sample.wav', /^audio\/(x-)?wav$/, 'audio'],
  ['sample.mp3', 'audio/mpeg', 'audio'],
  ['sample.ogg', 'audio/ogg', 'audio'],
  ['sample.flac', /^audio\/(x-)?flac$/, 'audio'],
  ['sample.m4a', /^audio\/(x-m4a|mp4)$/, 'audio'],
  ['sample.mp4', 'video/mp4', 'video'],
  ['sample.webm', 'video/webm', 'video'],
  ['sample.mov', 'video/quicktime', 'video'],
  ['sample.png', 'image/png', 'image'],
  ['sample.jpg', 'image/jpeg', 'image'],
  ['sample.webp', 'image/webp', 'image'],
  ['sample.gif', 'image/gif', 'image'],
];

describe('upload', () => {
  test('every accepted type is sniffed from its bytes → 202 {media, job}', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const got = [];
    for (const [file, mime, kind] of TYPES) {
      const bytes = fixture(file);
      const r = await uploadRaw(srv, c.owner.token, av.id, bytes, file);
      expectStatus(assert, r, 202, undefined, file);
      const m = r.json.media;
      if (mime instanceof RegExp) assert.match(m.mime, mime, `${file} mime`);
      else assert.equal(m.mime, mime, `${file} mime`);
      assert.equal(m.kind, kind, `${file} kind`);
      assert.equal(m.size, bytes.length, `${file} size`);
      assert.equal(m.sha256, sha256(bytes), `${file} sha256`);
      assert.equal(m.filename, file);
      assert.equal(m.avatar_id, av.id);
      assert.equal(typeof m.id, 'string');
      assert.ok(['queued', 'processing', 'ready', 'stored'].includes(m.status), `${file} status ${m.status}`);
      assert.equal(typeof m.meta, 'object');
      assert.equal(r.json.job?.kind, 'media.ingest', `${file} job`);
      assert.equal(m.job_id, r.json.job.id);
      got.push(m.id);
    }
    assert.deepEqual(await mediaIds(av.id), got.sort(), 'the list holds every upload');
    const g = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    assert.equal(g.json.stats.media, TYPES.length);
  });

  test('the name refines, never overrides, the bytes; the client\'s Content-Type is ignored', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const cases = [
      ['sample.png', 'notes.txt', 'image/png', 'image'],
      ['sample.txt', 'photo.png', 'text/plain', 'text'],
      ['sample.txt', 'README.MD', 'text/markdown', 'text'],
      ['sample.md', 'plain.txt', 'text/plain', 'text'],
      ['sample.pdf', 'book.epub', 'application/pdf', 'document'],
      ['sample.webm', 'voice.weba', 'audio/webm', 'audio'],
      ['sample.mp4', 'song.m4a', 'audio/mp4', 'audio'],
      ['sample.jpg', 'run.exe', 'image/jpeg', 'image'],
    ];
    for (const [file, name, mime, kind] of cases) {
      const r = await uploadRaw(srv, c.owner.token, av.id, fixture(file), name, {
        headers: { 'content-type': 'image/png' },
        query: 'duplicate=copy', // the same fixture under another name
      });
      expectStatus(assert, r, 202, undefined, `${file} as ${name}`);
      assert.equal(r.json.media.mime, mime, `${file} as ${name}`);
      assert.equal(r.json.media.kind, kind, `${file} as ${name}`);
    }
  });

  test('plain text that libmagic calls CSV (comma-separated lines) is accepted as text', async () => {
    // e.g. a diary of "Monday, rain, cold" lines: still a text file; the extractor reads text/csv too
    const av = await createAvatar(srv, c.owner.token);
    const diary = Buffer.from('Monday, rain, cold\nTuesday, sun, warm\nWednesday, fog, mild\nThursday, rain, cold\n');
    const r = await uploadRaw(srv, c.owner.token, av.id, diary, 'diary.txt');
    assert.equal(r.status, 202, `a .txt diary → ${r.status}: ${r.text}`);
    assert.equal(r.json.media.kind, 'text');
  });

  test('multipart: the first part with a file name is the upload, fields before it are ignored', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const png = fixture('sample.png');
    const mp = multipartBody([
      { name: 'title', data: 'A title field' },
      { name: 'note', data: Buffer.from('x'.repeat(10000)) },
      { name: 'file', filename: 'first.png', type: 'image/png', data: png },
      { name: 'file2', filename: 'second.txt', type: 'text/plain', data: 'second file' },
    ]);
    const r = await request(srv, 'POST', `/avatars/${av.id}/media`, { token: c.owner.token, headers: { 'content-type': mp.contentType }, body: mp.body });
    expectStatus(assert, r, 202);
    assert.equal(r.json.media.filename, 'first.png');
    assert.equal(r.json.media.mime, 'image/png');
    assert.equal(r.json.media.size, png.length);
    assert.equal(r.json.media.sha256, sha256(png));
    const content = await request(srv, 'GET', `/media/${r.json.media.id}/content`, { token: c.owner.token });
    assert.ok(content.buf.equals(png), 'the stored bytes are the file part\'s, exactly');
    assert.equal((await mediaIds(av.id)).length, 1, 'one media item per request');

    // a file part whose bytes contain CRLF and the boundary's prefix
    const tricky = Buffer.concat([Buffer.from('line one\r\n--not-the-boundary\r\n\r\n'), Buffer.from('line two\r\n')]);
    const t = await uploadMultipart(srv, c.owner.token, av.id, tricky, 'tricky.txt');
    expectStatus(assert, t, 202);
    assert.equal(t.json.media.size, tricky.length);
    assert.equal(t.json.media.sha256, sha256(tricky));
  });

  test('file names are cleaned: no path, no control characters, at most 255 bytes', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const copy = { query: 'duplicate=copy' }; // the same bytes under each name
    const raw = async (name) => (await uploadOk(srv, c.owner.token, av.id, fixture('sample.png'), name, copy)).media;
    assert.equal((await raw('../../etc/passwd.png')).filename, 'passwd.png');
    assert.equal((await raw('C:\\Users\\ada\\photo.png')).filename, 'photo.png');
    const crlf = await raw('evil\r\nSet-Cookie: a=1\r\n.png');
    assert.ok(!/[\r\n]/.test(crlf.filename), `no CR/LF in ${JSON.stringify(crlf.filename)}`);
    const content = await request(srv, 'GET', `/media/${crlf.id}/content`, { token: c.owner.token });
    expectStatus(assert, content, 200);
    assert.equal(content.headers.get('set-cookie'), null, 'no header injection through the file name');
    const long = await raw('n'.repeat(400) + '.png');
    assert.ok(Buffer.byteLength(long.filename) <= 255, `length ${Buffer.byteLength(long.filename)}`);
    const multi = await raw('é'.repeat(200) + '.png');
    assert.ok(Buffer.byteLength(multi.filename) <= 255);
    assert.ok(!multi.filename.includes('\ufffd'), 'not cut inside a UTF-8 character');
    const mp = await uploadMultipart(srv, c.owner.token, await createAvatar(srv, c.owner.token).then((a) => a.id),
      fixture('sample.png'), '/tmp/dir/../up.png');
    expectStatus(assert, mp, 202);
    assert.equal(mp.json.media.filename, 'up.png');
    const unnamed = await uploadRaw(srv, c.owner.token, av.id, fixture('sample.png'), null, copy);
    expectStatus(assert, unnamed, 202);
    assert.ok(unnamed.json.media.filename === null || unnamed.json.media.filename === undefined || unnamed.json.media.filename === '',
      `a raw upload without ?filename= has no name: ${JSON.stringify(unnamed.json.media.filename)}`);
  });
});

/* Waits until the owner's background jobs are all finished (earlier uploads make thumbnails
 * and passages in jobs: blobs they add are not a refused upload's leftovers). */
async function jobsSettled() {
  for (let i = 0; i < 100; i++) {
    const jobs = await listAll(srv, '/jobs', c.owner.token);
    if (!jobs.some((j) => ['queued', 'running', 'retrying'].includes(j.status))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('refused uploads leave nothing behind', () => {
  let av;
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    await uploadOk(srv, c.owner.token, av.id, fixture('sample.gif'), 'keep.gif'); // something that must stay
    await jobsSettled();
  });

  test('an ELF binary named .png → 415 (raw and multipart)', async () => {
    const ids = await mediaIds(av.id);
    const blobs = blobFiles(srv).blobs;
    const r = await uploadRaw(srv, c.owner.token, av.id, ELF, 'cat.png');
    errorShape(assert, r, 415, 'unsupported_media_type');
    const m = await uploadMultipart(srv, c.owner.token, av.id, ELF, 'cat.png', { type: 'image/png' });
    errorShape(assert, m, 415, 'unsupported_media_type');
    await nothingLeft(av.id, ids, blobs, 'ELF');
  });

  test('zeros, noise, a bare ZIP header, a gzip → 415 whatever their names', async () => {
    const ids = await mediaIds(av.id);
    const blobs = blobFiles(srv).blobs;
    const zip = fixture('sample.docx').subarray(0, 4); // "PK\3\4" alone
    const bodies = [
      [Buffer.alloc(65536), 'zeros.wav'],
      [noise(20000), 'noise.mp3'],
      [Buffer.concat([zip, noise(100)]), 'archive.docx'],
      [Buffer.from('1f8b0800000000000003010000ffff0300000000000000000000', 'hex'), 'x.txt.gz'],
    ];
    for (const [bytes, name] of bodies) {
      const r = await uploadRaw(srv, c.owner.token, av.id, bytes, name);
      assert.equal(r.status, 415, `${name}: ${r.status} ${r.text}`);
    }
    await nothingLeft(av.id, ids, blobs, 'unaccepted types');
  });

  test('an empty file → 422 (raw and multipart)', async () => {
    const ids = await mediaIds(av.id);
    const blobs = blobFiles(srv).blobs;
    const r = await uploadRaw(srv, c.owner.token, av.id, Buffer.alloc(0), 'empty.txt');
    errorShape(assert, r, 422);
    const m = await uploadMultipart(srv, c.owner.token, av.id, Buffer.alloc(0), 'empty.txt');
    errorShape(assert, m, 422);
    const chunked = await streamUpload(srv, c.owner.token, `/avatars/${av.id}/media?filename=empty.txt`, 0);
    assert.equal(chunked.status, 422, `chunked empty body: ${chunked.status} ${chunked.text}`);
    await nothingLeft(av.id, ids, blobs, 'empty');
  });

  test('malformed multipart → 400', async () => {
    const ids = await mediaIds(av.id);
    const blobs = blobFiles(srv).blobs;
    const png = fixture('sample.png');
    const good = multipartBody([{ name: 'file', filename: 'a.png', data: png }], 'bnd123');
    const cases = [
      ['no boundary parameter', 'multipart/form-data', good.body],
      ['empty boundary', 'multipart/form-data; boundary=', good.body],
      ['boundary over 70 characters', `multipart/form-data; boundary=${'b'.repeat(71)}`, good.body],
      ['no closing delimiter', good.contentType, good.body.subarray(0, good.body.length - 12)],
      ['cut inside the file part', good.contentType, good.body.subarray(0, 120)],
      ['only a text field', good.contentType, multipartBody([{ name: 'title', data: 'no file here' }], 'bnd123').body],
      ['not multipart at all', good.contentType, Buffer.from('hello, this is not a multipart body')],
      ['part headers never end', good.contentType, Buffer.from('--bnd123\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n' + 'X-Pad: y\r\n'.repeat(50))],
    ];
    for (const [what, ct, body] of cases) {
      const r = await request(srv, 'POST', `/avatars/${av.id}/media`, { token: c.owner.token, headers: { 'content-type': ct }, body });
      assert.equal(r.status, 400, `${what}: expected 400, got ${r.status} ${r.text}`);
      errorShape(assert, r, 400);
    }
    await nothingLeft(av.id, ids, blobs, 'malformed multipart');
  });
});

describe('an avatar deleted while an upload is in flight', () => {
  test('the upload is refused with 404 at its end and leaves nothing behind', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const blobs = blobFiles(srv).blobs;
    const req = http.request({
      host: '127.0.0.1',
      port: srv.port,
      method: 'POST',
      path: `/api/v1/avatars/${av.id}/media?filename=slow.txt`,
      headers: { authorization: `Bearer ${c.owner.token}`, 'content-type': 'text/plain' },
      agent: false,
    });
    const done = new Promise((resolve) => {
      req.on('response', (res) => {
        let d = '';
        res.on('data', (x) => (d += x));
        res.on('end', () => resolve({ status: res.statusCode, text: d }));
      });
      req.on('error', (e) => resolve({ status: 0, text: e.message }));
    });
    req.write('a slow upload of plain prose\n'.repeat(200));
    await new Promise((r) => setTimeout(r, 200));
    const d = await api(srv, 'DELETE', `/avatars/${av.id}`, { token: c.owner.token });
    expectStatus(assert, d, 202);
    for (let i = 0; i < 100; i++) {
      const j = await api(srv, 'GET', `/jobs/${d.json.job.id}`, { token: c.owner.token });
      if (j.json?.status === 'done' || j.json?.status === 'dead') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    req.end('the end\n');
    const r = await done;
    assert.equal(r.status, 404, `the upload's answer once its avatar is gone: ${r.status} ${r.text}`);
    assert.ok(!r.text.includes(av.name));
    await new Promise((res) => setTimeout(res, 200));
    // Earlier tests' background deletions may still remove blobs: only new ones would be a leak.
    const added = blobFiles(srv).blobs.filter((b) => !blobs.includes(b));
    assert.deepEqual(added, [], 'no blob left');
    assert.deepEqual(blobFiles(srv).tmp, [], 'no temp file left');
  });
});

describe('upload size limit (--upload-max 4096)', () => {
  let small;
  let av;
  before(async () => {
    small = await startAvatars({ args: ['--upload-max', '4096'] });
    const admin = await signup(small);
    av = await createAvatar(small, admin.token);
    av.token = admin.token;
  });
  after(async () => {
    if (small) await small.stop();
  });

  const ids = async () => (await listAll(small, `/avatars/${av.id}/media`, av.token)).map((m) => m.id).sort();
  const text = (n) => Buffer.from('a'.repeat(n - 1) + '\n');

  test('exactly the limit is accepted', async () => {
    const r = await uploadRaw(small, av.token, av.id, text(4096), 'max.txt');
    expectStatus(assert, r, 202);
    assert.equal(r.json.media.size, 4096);
  });

  test('a Content-Length over the limit → 413 at once', async () => {
    const before = await ids();
    const blobs = blobFiles(small).blobs;
    const r = await uploadRaw(small, av.token, av.id, text(4097), 'over.txt');
    errorShape(assert, r, 413, 'too_large');
    const m = await uploadMultipart(small, av.token, av.id, text(4000), 'over.txt'); // the multipart framing is counted
    assert.equal(m.status, 413, `multipart whose body is over the limit: ${m.text}`);
    assert.deepEqual(await ids(), before);
    assert.deepEqual(blobFiles(small).blobs, blobs, 'no blob left');
    assert.deepEqual(blobFiles(small).tmp, [], 'no temp file left');
  });

  test('a chunked body that grows over the limit → 413 mid-stream, nothing left behind', async () => {
    const before = await ids();
    const blobs = blobFiles(small).blobs;
    const r = await streamUpload(small, av.token, `/avatars/${av.id}/media?filename=grow.txt`, 64 * 1024, {
      prefix: Buffer.from('text '.repeat(2000)),
      chunk: 1024,
    });
    if (r.error) assert.fail(`the connection failed instead of a 413: ${r.error.message} (after ${r.sent} bytes)`);
    assert.equal(r.status, 413, `chunked over the limit: ${r.status} ${r.text}`);
    assert.equal(r.json?.error?.code, 'too_large');
    assert.deepEqual(await ids(), before);
    await new Promise((res) => setTimeout(res, 200)); // the owed abort runs as the request completes
    assert.deepEqual(blobFiles(small).blobs, blobs, 'no blob left');
    assert.deepEqual(blobFiles(small).tmp, [], 'no temp file left');
    // the server still works
    const ok = await uploadRaw(small, av.token, av.id, text(100), 'after.txt');
    expectStatus(assert, ok, 202);
  });
});

describe('metadata and listing', () => {
  test('GET /media/{id}: the upload\'s fields and transcript: null', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const up = await uploadOk(srv, c.owner.token, av.id, fixture('sample.wav'), 'voice.wav');
    const r = await api(srv, 'GET', `/media/${up.media.id}`, { token: c.owner.token });
    expectStatus(assert, r, 200);
    for (const k of ['id', 'avatar_id', 'sha256', 'size', 'mime', 'kind', 'filename', 'job_id', 'created_at'])
      assert.deepEqual(r.json[k], up.media[k], k);
    assert.ok('transcript' in r.json && r.json.transcript === null, 'transcript: null');
    assert.equal(typeof r.json.status, 'string');
    assert.ok('status_detail' in r.json);
  });

  test('the list pages with limit and cursor, and holds only this avatar\'s media', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const other = await createAvatar(srv, c.owner.token);
    await uploadOk(srv, c.owner.token, other.id, fixture('sample.gif'), 'other.gif');
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await uploadOk(srv, c.owner.token, av.id, Buffer.from(`page item ${i} ${Math.random()}\n`), `p${i}.txt`)).media.id);
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 10; i++) {
      const r = await api(srv, 'GET', `/avatars/${av.id}/media?limit=2${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`, { token: c.owner.token });
      expectStatus(assert, r, 200);
      assert.ok(r.json.items.length <= 2);
      seen.push(...r.json.items.map((m) => m.id));
      cursor = r.json.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen.sort(), made.sort());
    const bad = await api(srv, 'GET', `/avatars/${av.id}/media?limit=1000`, { token: c.owner.token });
    assert.equal(bad.status, 400);
  });
});

describe('content', () => {
  let av, png, pngMedia, pdfMedia, htmlMedia, txtMedia;
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    png = fixture('sample.png');
    pngMedia = (await uploadOk(srv, c.owner.token, av.id, png, 'pic.png')).media;
    pdfMedia = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.pdf'), 'doc.pdf')).media;
    htmlMedia = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.html'), 'page.html')).media;
    txtMedia = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.txt'), 'notes.txt')).media;
  });
  const get = (m, headers = {}) => request(srv, 'GET', `/media/${m.id}/content`, { token: c.owner.token, headers });

  test('the bytes, with ETag "<sha256>", Accept-Ranges, Content-Length; images inline with their type', async () => {
    const r = await get(pngMedia);
    expectStatus(assert, r, 200);
    assert.ok(r.buf.equals(png), 'the exact bytes');
    assert.equal(r.headers.get('etag'), `"${sha256(png)}"`);
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('content-length'), String(png.length));
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.match(r.headers.get('content-disposition') || '', /^inline/);
    assert.match(r.headers.get('content-disposition') || '', /filename="pic\.png"/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  });

  test('documents (PDF, HTML, text) are downloads: application/octet-stream, attachment', async () => {
    for (const [m, file] of [[pdfMedia, 'sample.pdf'], [htmlMedia, 'sample.html'], [txtMedia, 'sample.txt']]) {
      const r = await get(m);
      expectStatus(assert, r, 200, undefined, file);
      assert.ok(r.buf.equals(fixture(file)), `${file} bytes`);
      assert.equal(r.headers.get('content-type'), 'application/octet-stream', `${file} type`);
      assert.match(r.headers.get('content-disposition') || '', /^attachment/, `${file} disposition`);
    }
  });

  test('If-None-Match with the ETag → 304 without a body; another ETag → 200', async () => {
    const etag = `"${sha256(png)}"`;
    const r = await get(pngMedia, { 'if-none-match': etag });
    assert.equal(r.status, 304);
    assert.equal(r.buf.length, 0);
    assert.equal(r.headers.get('etag'), etag);
    const w = await get(pngMedia, { 'if-none-match': `"0000", ${etag}` });
    assert.equal(w.status, 304, 'a list of tags that includes it');
    const o = await get(pngMedia, { 'if-none-match': '"not-it"' });
    assert.equal(o.status, 200);
    assert.ok(o.buf.equals(png));
  });

  test('Range: first bytes, a suffix, open-ended, clipped end → 206 with Content-Range', async () => {
    const size = png.length;
    const cases = [
      ['bytes=0-9', 0, 9],
      ['bytes=-5', size - 5, size - 1],
      ['bytes=10-', 10, size - 1],
      [`bytes=5-${size + 1000}`, 5, size - 1],
      [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
      [`bytes=-${size + 50}`, 0, size - 1],
    ];
    for (const [range, a, b] of cases) {
      const r = await get(pngMedia, { range });
      assert.equal(r.status, 206, `${range}: ${r.status}`);
      assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${size}`, range);
      assert.ok(r.buf.equals(png.subarray(a, b + 1)), `${range}: the bytes`);
      assert.equal(r.headers.get('content-length'), String(b - a + 1), `${range}: Content-Length`);
      assert.equal(r.headers.get('content-type'), 'image/png');
    }
  });

  test('Range beyond the end → 416 with Content-Range: bytes */SIZE', async () => {
    for (const range of [`bytes=${png.length}-`, `bytes=${png.length + 10}-${png.length + 20}`, 'bytes=-0']) {
      const r = await get(pngMedia, { range });
      assert.equal(r.status, 416, `${range}: ${r.status}`);
      assert.equal(r.headers.get('content-range'), `bytes */${png.length}`, range);
    }
  });

  test('a Range of a document is served as a download too', async () => {
    const r = await get(pdfMedia, { range: 'bytes=0-7' });
    assert.equal(r.status, 206);
    assert.equal(r.buf.toString('latin1'), '%PDF-1.4');
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.match(r.headers.get('content-disposition') || '', /^attachment/);
  });
});

describe('delete', () => {
  test('DELETE /media/{id} → 204; gone from metadata, content and the list; its blob removed', async () => {
    const av = await sharedAvatar(srv, c);
    const bytes = Buffer.from(`only once ${Math.random()}\n`);
    const up = await uploadOk(srv, c.owner.token, av.id, bytes, 'once.txt');
    const key = up.media.sha256;
    assert.ok(blobFiles(srv).blobs.some((b) => b.endsWith(key)), 'the blob is stored');
    const v = await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.viewer.token });
    errorShape(assert, v, 403, 'forbidden');
    const d = await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.editor.token });
    assert.equal(d.status, 204);
    assert.equal(d.text, '');
    for (const p of [`/media/${up.media.id}`, `/media/${up.media.id}/content`]) errorShape(assert, await api(srv, 'GET', p, { token: c.owner.token }), 404);
    assert.deepEqual(await mediaIds(av.id), []);
    errorShape(assert, await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.owner.token }), 404);
    assert.ok(!blobFiles(srv).blobs.some((b) => b.endsWith(key)), 'the blob is removed');
  });

  test('identical bytes are stored once; deleting one keeps the other\'s content', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const b = await createAvatar(srv, c.owner.token);
    const bytes = Buffer.from(`shared bytes ${Math.random()}\n`);
    const m1 = (await uploadOk(srv, c.owner.token, a.id, bytes, 'one.txt')).media;
    const m2 = (await uploadOk(srv, c.owner.token, a.id, bytes, 'two.txt', { query: 'duplicate=copy' })).media;
    const m3 = (await uploadOk(srv, c.owner.token, b.id, bytes, 'three.txt')).media;
    assert.equal(m1.sha256, m2.sha256);
    assert.notEqual(m1.id, m2.id);
    const count = () => blobFiles(srv).blobs.filter((f) => f.endsWith(m1.sha256)).length;
    assert.equal(count(), 1, 'one blob for the three');
    expectStatus(assert, await api(srv, 'DELETE', `/media/${m1.id}`, { token: c.owner.token }), 204);
    for (const m of [m2, m3]) {
      const r = await request(srv, 'GET', `/media/${m.id}/content`, { token: c.owner.token });
      expectStatus(assert, r, 200);
      assert.ok(r.buf.equals(bytes));
    }
    expectStatus(assert, await api(srv, 'DELETE', `/media/${m2.id}`, { token: c.owner.token }), 204);
    const r3 = await request(srv, 'GET', `/media/${m3.id}/content`, { token: c.owner.token });
    expectStatus(assert, r3, 200, undefined, 'the other avatar\'s copy');
    expectStatus(assert, await api(srv, 'DELETE', `/media/${m3.id}`, { token: c.owner.token }), 204);
    assert.equal(count(), 0, 'the last one takes the blob with it');
  });

  test('deleting while the same bytes are uploaded again never leaves a media item without its bytes', async () => {
    // The blob is shared by content: a deletion that finds no other row using it removes it. An
    // upload of the same bytes that has committed its blob but not yet inserted its row must not
    // lose the blob to that deletion. The timing is staggered (0-3 ms) to hit that window.
    const av = await createAvatar(srv, c.owner.token);
    const broken = [];
    for (let i = 0; i < 240 && broken.length < 3; i++) {
      const bytes = Buffer.from(`race ${i} ${Math.random()}\n`.repeat(50));
      const first = (await uploadOk(srv, c.owner.token, av.id, bytes, 'r.txt')).media;
      const up = uploadRaw(srv, c.owner.token, av.id, bytes, 'r.txt', { query: 'duplicate=copy' });
      await new Promise((r) => setTimeout(r, i % 4));
      const [again] = await Promise.all([up, api(srv, 'DELETE', `/media/${first.id}`, { token: c.owner.token })]);
      if (again.status !== 202) continue;
      const r = await request(srv, 'GET', `/media/${again.json.media.id}/content`, { token: c.owner.token });
      if (r.status !== 200 || !r.buf.equals(bytes))
        broken.push(`round ${i}: GET /media/{re-upload}/content → ${r.status} ${r.text.slice(0, 100)}`);
    }
    assert.deepEqual(broken, [], broken.join('\n'));
  });
});
