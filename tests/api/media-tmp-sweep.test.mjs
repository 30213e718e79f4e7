// Upload temp files no live upload owns are swept: at start every one of them (an upload killed
// with its server leaves one behind), and periodically (--blob-sweep-interval) those idle longer
// than --http-timeout, never the file of an upload still in progress.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createAvatar, sha256, signup, sleep, startAvatars } from './lib/avatars.mjs';

const tmpOf = (dataDir) => path.join(dataDir, 'blobs', 'tmp');
const tmpFiles = (dataDir) => {
  try {
    return fs.readdirSync(tmpOf(dataDir)).sort();
  } catch {
    return [];
  }
};

/* Writes dataDir/blobs/tmp/name, last modified ageS seconds ago. */
function plant(dataDir, name, ageS, bytes = 4096) {
  fs.mkdirSync(tmpOf(dataDir), { recursive: true });
  const p = path.join(tmpOf(dataDir), name);
  fs.writeFileSync(p, Buffer.alloc(bytes, 1));
  const t = Date.now() / 1000 - ageS;
  fs.utimesSync(p, t, t);
  return p;
}

async function until(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/* A raw upload whose body the caller writes: {req, response (a promise of {status, json})}. */
function openUpload(srv, token, avatarId, name) {
  const req = http.request({
    host: '127.0.0.1',
    port: srv.port,
    method: 'POST',
    path: `/api/v1/avatars/${avatarId}/media?filename=${name}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    agent: false,
  });
  const response = new Promise((resolve) => {
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, text: data, json: JSON.parse(data || 'null') }));
    });
    req.on('error', (e) => resolve({ error: e }));
  });
  return { req, response };
}

const text = (n) => Buffer.from(`A slow line of an honest diary, number ${n}.\n`.repeat(2000));

test('at start, every temp file of the blob store goes (whatever its age), committed blobs stay', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-sweep-'));
  try {
    plant(dir, '0123456789abcdef0123456789abcdef', 0, 1 << 20); // fresh: not a day old
    plant(dir, 'fedcba9876543210fedcba9876543210', 3600);
    plant(dir, 'whatever-name', 10);
    const srv = await startAvatars({ args: ['--data-dir', dir] });
    try {
      assert.deepEqual(tmpFiles(dir), [], 'no temp file survives the start');
    } finally {
      await srv.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an upload cut off by a killed server leaves a temp file that the next start removes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-sweep-'));
  try {
    const a = await startAvatars({ args: ['--data-dir', dir] });
    try {
      const u = await signup(a);
      const av = await createAvatar(a, u.token);
      const up = openUpload(a, u.token, av.id, 'cut.txt');
      up.req.write(text(1));
      await until(() => tmpFiles(dir).length === 1, 5000, 'the upload\'s temp file');
      await a.stop('SIGKILL');
      await up.response;
      assert.equal(tmpFiles(dir).length, 1, 'the killed upload left its temp file');
    } finally {
      await a.stop('SIGKILL');
    }
    const b = await startAvatars({ args: ['--data-dir', dir] });
    try {
      assert.deepEqual(tmpFiles(dir), [], 'swept at start');
    } finally {
      await b.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('periodically: idle temp files nobody owns go; a live upload\'s file stays, even when it looks idle', async () => {
  const srv = await startAvatars({ args: ['--blob-sweep-interval', '1', '--http-timeout', '3'] });
  try {
    const u = await signup(srv);
    const av = await createAvatar(srv, u.token);
    // A live upload: some bytes now, a pause, the rest later.
    const first = text(2);
    const rest = text(3);
    const up = openUpload(srv, u.token, av.id, 'slow.txt');
    up.req.write(first);
    await until(() => tmpFiles(srv.dataDir).length === 1, 5000, 'the upload\'s temp file');
    const live = tmpFiles(srv.dataDir)[0];
    const livePath = path.join(tmpOf(srv.dataDir), live);
    const old = Date.now() / 1000 - 600;
    fs.utimesSync(livePath, old, old); // looks abandoned by its age: only its lock says otherwise

    plant(srv.dataDir, 'abandoned-upload', 600);
    const young = plant(srv.dataDir, 'young-upload', 0);
    await until(() => !tmpFiles(srv.dataDir).includes('abandoned-upload'), 5000, 'the periodic sweep');
    assert.ok(fs.existsSync(young), 'a file written less than --http-timeout ago stays');
    assert.ok(fs.existsSync(livePath), 'the live upload keeps its file');
    await sleep(1200); // another sweep or two with the live upload's file looking a day old
    assert.ok(fs.existsSync(livePath), 'the live upload keeps its file');
    fs.utimesSync(livePath, old, old);
    up.req.end(rest);
    const r = await up.response;
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.media.sha256, sha256(Buffer.concat([first, rest])), 'every byte arrived');
    assert.equal(r.json.media.size, first.length + rest.length);
    await until(() => !tmpFiles(srv.dataDir).includes('young-upload'), 8000, 'the young file, once idle');
  } finally {
    await srv.stop();
  }
});
