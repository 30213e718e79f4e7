// A 1 GiB upload is streamed to the blob store in bounded memory: a WAV header and then zeros,
// generated while sending (never from disk), chunked. The server's resident memory is sampled
// every 100 ms while it uploads (and while it is downloaded again) and must stay under ~150 MB.
// Skipped with DOPPEL_TEST_QUICK=1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { api, blobFiles, createAvatar, expectStatus, rssBytes, signup, startAvatars, streamUpload, wavHeader } from './lib/avatars.mjs';

const QUICK = process.env.DOPPEL_TEST_QUICK === '1';
const GiB = 1024 * 1024 * 1024;
const RSS_LIMIT = 150 * 1024 * 1024;

let srv;
let user;
before(async () => {
  if (QUICK) return;
  // Without speech recognition: the big WAV is about streaming bytes in and out, and transcribing
  // it would decode up to 3 hours of it into memory in the background while RSS is measured.
  srv = await startAvatars({ args: ['--stt-provider', 'none'] });
  user = await signup(srv);
});
after(async () => {
  if (srv) await srv.stop('SIGTERM', 30000);
});

/* Samples the server's VmRSS every 100 ms until stop(); returns {stop() → {peak, samples}}. */
function sampleRss(pid) {
  let peak = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const v = rssBytes(pid);
    if (v !== null) {
      samples++;
      if (v > peak) peak = v;
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const v = rssBytes(pid);
      if (v !== null && v > peak) peak = v;
      return { peak, samples };
    },
  };
}

const mb = (n) => `${(n / 1048576).toFixed(1)} MiB`;

test('1 GiB streamed upload: 202, exact size and sha256, RSS stays bounded; download streams too', { skip: QUICK ? 'DOPPEL_TEST_QUICK=1' : false, timeout: 15 * 60 * 1000 }, async (t) => {
  const av = await createAvatar(srv, user.token);
  const baseline = rssBytes(srv.proc.pid);
  t.diagnostic(`server RSS before: ${mb(baseline)}`);

  const rss = sampleRss(srv.proc.pid);
  const t0 = Date.now();
  const r = await streamUpload(srv, user.token, `/avatars/${av.id}/media?filename=big.wav`, GiB, { prefix: wavHeader(GiB - 44) });
  const up = rss.stop();
  t.diagnostic(`upload: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${up.samples} RSS samples, peak ${mb(up.peak)}`);
  if (r.error) assert.fail(`the upload failed: ${r.error.message} after ${r.sent} bytes`);
  expectStatus(assert, r, 202);
  assert.equal(r.sent, GiB);
  const m = r.json.media;
  assert.equal(m.size, GiB, 'size is exactly 1 GiB');
  assert.equal(m.sha256, r.sha256, 'sha256 matches the bytes sent');
  assert.equal(m.kind, 'audio');
  assert.match(m.mime, /^audio\/(x-)?wav$/);
  assert.ok(up.samples >= 5, `RSS was sampled during the upload (${up.samples})`);
  assert.ok(up.peak < RSS_LIMIT, `server RSS peaked at ${mb(up.peak)} during a 1 GiB upload (limit ${mb(RSS_LIMIT)})`);
  assert.deepEqual(blobFiles(srv).tmp, [], 'no temp file left after the commit');

  // The tail through a Range, then the whole file back, hashed as it arrives.
  const tail = await fetch(`${srv.url}/api/v1/media/${m.id}/content`, { headers: { authorization: `Bearer ${user.token}`, range: 'bytes=-16' } });
  assert.equal(tail.status, 206);
  assert.equal(tail.headers.get('content-range'), `bytes ${GiB - 16}-${GiB - 1}/${GiB}`);
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(Buffer.alloc(16)));

  const rss2 = sampleRss(srv.proc.pid);
  const dl = await new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let n = 0;
    http
      .get({ host: '127.0.0.1', port: srv.port, path: `/api/v1/media/${m.id}/content`, headers: { authorization: `Bearer ${user.token}` }, agent: false }, (res) => {
        res.on('data', (d) => {
          h.update(d);
          n += d.length;
        });
        res.on('end', () => resolve({ status: res.statusCode, n, sha: h.digest('hex'), len: res.headers['content-length'] }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  const down = rss2.stop();
  t.diagnostic(`download: peak RSS ${mb(down.peak)}`);
  assert.equal(dl.status, 200);
  assert.equal(dl.len, String(GiB));
  assert.equal(dl.n, GiB);
  assert.equal(dl.sha, r.sha256, 'the downloaded bytes are the uploaded ones');
  assert.ok(down.peak < RSS_LIMIT, `server RSS peaked at ${mb(down.peak)} during a 1 GiB download`);

  // Free the disk: the blob goes with its only media item.
  const d = await api(srv, 'DELETE', `/media/${m.id}`, { token: user.token });
  expectStatus(assert, d, 204);
  assert.ok(!blobFiles(srv).blobs.some((b) => b.endsWith(m.sha256)), 'the 1 GiB blob is removed');
});
