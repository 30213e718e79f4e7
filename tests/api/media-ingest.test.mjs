// Media processing (the media.ingest job): text and documents become passages (memories), images
// get their dimensions, audio and video are transcribed. Each test polls
// GET /media/{id} for up to ~10 s.
//
// While no media.ingest handler is registered (the server logs that jobs of that kind are due but
// no handler is registered: "left queued"), these tests are reported as TODO instead of failing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { api, blobFiles, cast, createAvatar, expectStatus, fixture, listAll, startAvatars, uploadOk, waitJob, waitMedia } from './lib/avatars.mjs';
import { REPO } from './lib/server.mjs';

let srv;
let c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const FINAL = new Set(['ready', 'stored', 'failed']);
const settled = (m) => m && FINAL.has(m.status);
const NOT_WIRED = /kind "media\.ingest" are due but no handler/;

/* Marks the test TODO when the server has no media.ingest handler yet. */
function todoIfUnwired(t, m) {
  if (NOT_WIRED.test(srv.stderr())) t.todo(`media.ingest not wired yet (media status ${m?.status}: ${m?.status_detail})`);
}

/* How long to wait for a media item to settle: ~10 s, or 1 s once the server said it has no handler. */
const patience = () => (NOT_WIRED.test(srv.stderr()) ? 1000 : 10000);

async function uploadAndSettle(t, av, file, name = file) {
  const up = await uploadOk(srv, c.owner.token, av.id, fixture(file), name);
  const m = await waitMedia(srv, c.owner.token, up.media.id, settled, patience());
  todoIfUnwired(t, m);
  return { up, m };
}

describe('media.ingest', () => {
  test('a text file becomes ready, with passages as memories (stats.memories > 0, even when cached)', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    const up = await uploadOk(srv, c.owner.token, av.id, fixture('sample.txt'), 'story.txt');
    await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token }); // warms the avatar's cache
    const m = await waitMedia(srv, c.owner.token, up.media.id, settled, patience());
    todoIfUnwired(t, m);
    assert.equal(m?.status, 'ready', `status: ${JSON.stringify(m)}`);
    const g = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    expectStatus(assert, g, 200);
    assert.ok(g.json.stats.memories > 0, `stats.memories after ingestion: ${JSON.stringify(g.json.stats)}`);
    const job = await waitJob(srv, c.owner.token, up.job.id, 5000);
    assert.equal(job?.status, 'done', `the job: ${JSON.stringify(job)}`);
  });

  for (const file of ['sample.md', 'sample.html', 'sample.pdf', 'sample.docx', 'sample.epub']) {
    test(`${file} becomes ready with memories`, async (t) => {
      const av = await createAvatar(srv, c.owner.token);
      const { m } = await uploadAndSettle(t, av, file);
      assert.equal(m?.status, 'ready', `${file}: ${JSON.stringify(m)}`);
      const g = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
      assert.ok(g.json.stats.memories > 0, `${file}: stats ${JSON.stringify(g.json.stats)}`);
    });
  }

  test('images become ready with meta {width, height}', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    for (const [file, width, height] of [['sample.png', 7, 5], ['sample.gif', 6, 4], ['sample.jpg', 9, 4], ['sample.webp', 1, 1]]) {
      const { m } = await uploadAndSettle(t, av, file);
      assert.equal(m?.status, 'ready', `${file}: ${JSON.stringify(m)}`);
      assert.equal(m.meta?.width, width, `${file} width`);
      assert.equal(m.meta?.height, height, `${file} height`);
    }
  });

  test('images get a PNG thumbnail (?variant=thumbnail); deleting the image removes it too', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    const before = blobFiles(srv).blobs.length;
    const { m } = await uploadAndSettle(t, av, 'photo.jpg'); // bytes no other test uploads
    assert.equal(m?.status, 'ready');
    assert.equal(m.meta?.thumbnail?.mime, 'image/png', JSON.stringify(m.meta));
    const th = await api(srv, 'GET', `/media/${m.id}/content?variant=thumbnail`, { token: c.owner.token });
    assert.equal(th.status, 200);
    assert.equal(th.headers.get('content-type'), 'image/png');
    const bad = await api(srv, 'GET', `/media/${m.id}/content?variant=poster`, { token: c.owner.token });
    assert.equal(bad.status, 400);
    // Someone who cannot see the avatar gets 404 for the thumbnail as for the original.
    const other = await api(srv, 'GET', `/media/${m.id}/content?variant=thumbnail`, { token: c.outsider.token });
    assert.equal(other.status, 404);
    assert.equal(blobFiles(srv).blobs.length, before + 2); // the image and its thumbnail
    const del = await api(srv, 'DELETE', `/media/${m.id}`, { token: c.owner.token });
    assert.equal(del.status, 204);
    assert.equal(blobFiles(srv).blobs.length, before);
  });

  test('audio and video are transcribed; a file whose audio cannot be decoded fails saying so', async (t) => {
    // The fixtures are tiny: a third or half a second of silence (wav, mp3), a FLAC header without
    // frames, or a bare header that ffmpeg rejects (the others). tests/api/speech.test.mjs transcribes real speech.
    const av = await createAvatar(srv, c.owner.token);
    for (const file of ['sample.wav', 'sample.mp3', 'sample.flac']) {
      const { m } = await uploadAndSettle(t, av, file);
      assert.equal(m?.status, 'ready', `${file}: ${JSON.stringify(m)}`);
      assert.match(m.status_detail, /no speech found/, `${file}: detail ${m.status_detail}`);
      assert.equal(m.transcript.version, 1);
      assert.deepEqual(m.transcript.segments, []);
      const ms = file === 'sample.flac' ? [0, 0] : [300, 520];
      assert.ok(m.transcript.duration_ms >= ms[0] && m.transcript.duration_ms <= ms[1], `${file}: ${m.transcript.duration_ms} ms`);
    }
    for (const file of ['sample.ogg', 'sample.m4a', 'sample.mp4', 'sample.webm', 'sample.mov']) {
      const { m } = await uploadAndSettle(t, av, file);
      assert.equal(m?.status, 'failed', `${file}: ${JSON.stringify(m)}`);
      assert.match(m.status_detail || '', /no audio could be decoded/, `${file}: detail ${m.status_detail}`);
      assert.equal(m.transcript, null);
    }
  });

  test('deleting a text media item removes its memories', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    const { up, m } = await uploadAndSettle(t, av, 'sample.txt', 'gone.txt');
    assert.equal(m?.status, 'ready');
    const before = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    assert.ok(before.json.stats.memories > 0);
    expectStatus(assert, await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.owner.token }), 204);
    const g = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    assert.deepEqual(g.json.stats, { media: 0, memories: 0 }, 'its derived memories went with it');
  });

  test('a media item deleted before its job runs does not break the job', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    const up = await uploadOk(srv, c.owner.token, av.id, Buffer.from(`quick delete ${Math.random()}\n`), 'q.txt');
    expectStatus(assert, await api(srv, 'DELETE', `/media/${up.media.id}`, { token: c.owner.token }), 204);
    const job = await waitJob(srv, c.owner.token, up.job.id, patience());
    todoIfUnwired(t, { status: job?.status, status_detail: 'its job' });
    assert.ok(job && (job.status === 'done' || job.status === 'dead'), `the job settles: ${JSON.stringify(job)}`);
    const g = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    assert.deepEqual(g.json.stats, { media: 0, memories: 0 }, 'no memories of a deleted media item');
  });
});

describe('PDF text', () => {
  test('lines broken inside a sentence are one line again; paragraphs, lists and short lines keep theirs', async (t) => {
    const av = await createAvatar(srv, c.owner.token);
    const pdf = fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'ingest', 'wrapped.pdf'));
    const up = await uploadOk(srv, c.owner.token, av.id, pdf, 'lighthouse.pdf');
    const m = await waitMedia(srv, c.owner.token, up.media.id, settled, patience());
    todoIfUnwired(t, m);
    assert.equal(m?.status, 'ready', JSON.stringify(m));
    const mems = (await listAll(srv, `/avatars/${av.id}/memories`, c.owner.token)).filter((x) => x.source?.media_id === up.media.id);
    assert.ok(mems.length >= 1);
    const all = mems.map((x) => x.text).join('\n\n');
    // pdftotext ends every printed line: "…burned paraffin and\nthe keeper climbed…"
    assert.match(all, /still burned paraffin and the keeper climbed the hundred/);
    assert.match(all, /my grandmother in Bergen, who answered/, 'a full line wrapped before a capital');
    assert.match(all, /broke over the gallery and the keepers/, 'a hyphenated word made whole');
    assert.match(all, /uses today\.\n\nThe storm of 1953/, 'paragraphs stay apart');
    assert.match(all, /on the point:\n- two wool sweaters knitted by his mother\n- a tin of coffee/, 'list items stay lines');
    assert.match(all, /Skagen Point Lighthouse\nFyrvej 1\nSkagen/, 'an address stays lines');
    // A sentence the recall brain quotes reads as one line.
    const r = await api(srv, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent('unreliable messenger')}`, { token: c.owner.token });
    expectStatus(assert, r, 200);
    assert.ok(r.json.items.length >= 1);
    assert.doesNotMatch(r.json.items[0].text, /boat the\nunreliable/);
  });
});
