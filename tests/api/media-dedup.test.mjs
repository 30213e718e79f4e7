// The same file twice: an avatar that has these exact bytes already answers 200 with its media and
// duplicate_of (nothing stored: no media row, no job, no memories) unless ?duplicate=copy; a deleted
// media does not count; another avatar is not affected. Also: file names lose bidirectional
// controls, and jobs say which avatar and media they work on (GET /jobs?avatar_id=&media_id=).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  cast,
  createAvatar,
  errorShape,
  expectStatus,
  listAll,
  share,
  uploadMultipart,
  uploadOk,
  uploadRaw,
  waitJob,
  waitMedia,
} from './lib/avatars.mjs';

let srv;
let c;
before(async () => {
  const { startAvatars } = await import('./lib/avatars.mjs');
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const STORY = (tag) =>
  Buffer.from(
    `The lighthouse keeper ${tag} wrote in his log every evening. He counted the ships that passed the ` +
      'point, noted the wind and the colour of the sea, and drew the birds that rested on the rail.\n\n' +
      'In winter the lamp needed oil twice a night, and he climbed the hundred steps with a lantern.\n',
  );

const mediaIds = async (avatarId) => (await listAll(srv, `/avatars/${avatarId}/media`, c.owner.token)).map((m) => m.id).sort();
const jobIds = async () => (await listAll(srv, '/jobs', c.owner.token)).map((j) => j.id).sort();
const memoryCount = async (avatarId) => (await listAll(srv, `/avatars/${avatarId}/memories`, c.owner.token)).length;

/* Uploads and waits until the media is processed; resolves {media, job}. */
async function uploadReady(avatarId, bytes, name, opts) {
  const up = await uploadOk(srv, c.owner.token, avatarId, bytes, name, opts);
  const m = await waitMedia(srv, c.owner.token, up.media.id, (x) => x.status === 'ready' || x.status === 'failed');
  assert.equal(m.status, 'ready', JSON.stringify(m));
  return up;
}

describe('the same bytes uploaded again to the same avatar', () => {
  test('→ 200 with the existing media and duplicate_of; no media row, job or memory is added', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const bytes = STORY('Anders');
    const first = await uploadReady(av.id, bytes, 'log.txt');
    const memories = await memoryCount(av.id);
    assert.ok(memories > 0, 'the first upload made memories');
    const ids = await mediaIds(av.id);
    const jobs = await jobIds();

    const again = await uploadRaw(srv, c.owner.token, av.id, bytes, 'log-again.txt');
    expectStatus(assert, again, 200, undefined, 'a duplicate');
    assert.equal(again.json.duplicate_of, first.media.id);
    assert.equal(again.json.id, first.media.id, 'the body is the existing media');
    assert.equal(again.json.filename, 'log.txt', 'its name is the first one');
    assert.equal(again.json.sha256, first.media.sha256);
    // multipart is the same upload
    const mp = await uploadMultipart(srv, c.owner.token, av.id, bytes, 'log3.txt');
    expectStatus(assert, mp, 200, undefined, 'a multipart duplicate');
    assert.equal(mp.json.duplicate_of, first.media.id);

    await new Promise((r) => setTimeout(r, 300)); // a job queued by mistake would have run by now
    assert.deepEqual(await mediaIds(av.id), ids, 'no second media row');
    assert.deepEqual(await jobIds(), jobs, 'no new job');
    assert.equal(await memoryCount(av.id), memories, 'no new memories');
  });

  test('?duplicate=copy stores a second media (and its memories); a bad value → 400 before any byte is kept', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const bytes = STORY('Birgit');
    const first = await uploadReady(av.id, bytes, 'a.txt');
    const memories = await memoryCount(av.id);
    const copy = await uploadReady(av.id, bytes, 'b.txt', { query: 'duplicate=copy' });
    assert.notEqual(copy.media.id, first.media.id);
    assert.equal(copy.media.duplicate_of, undefined);
    assert.equal(await memoryCount(av.id), memories * 2, 'the copy has memories of its own');
    const reuse = await uploadRaw(srv, c.owner.token, av.id, bytes, 'c.txt', { query: 'duplicate=reuse' });
    expectStatus(assert, reuse, 200);
    assert.ok([first.media.id, copy.media.id].includes(reuse.json.duplicate_of));
    const bad = await uploadRaw(srv, c.owner.token, av.id, bytes, 'd.txt', { query: 'duplicate=maybe' });
    errorShape(assert, bad, 400, 'invalid_input');
    assert.equal((await mediaIds(av.id)).length, 2);
  });

  test('another avatar, or after the media was deleted → a new media (202)', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const b = await createAvatar(srv, c.owner.token);
    const bytes = STORY('Cecil');
    const first = await uploadOk(srv, c.owner.token, a.id, bytes, 'x.txt');
    const other = await uploadRaw(srv, c.owner.token, b.id, bytes, 'x.txt');
    expectStatus(assert, other, 202, undefined, 'another avatar');
    expectStatus(assert, await api(srv, 'DELETE', `/media/${first.media.id}`, { token: c.owner.token }), 204);
    const again = await uploadRaw(srv, c.owner.token, a.id, bytes, 'x.txt');
    expectStatus(assert, again, 202, undefined, 'after the delete');
    assert.notEqual(again.json.media.id, first.media.id);
    const m = await waitMedia(srv, c.owner.token, again.json.media.id, (x) => x.status === 'ready');
    assert.equal(m.status, 'ready');
  });

  test('an editor uploading what the owner uploaded gets the owner\'s media', async () => {
    const av = await createAvatar(srv, c.owner.token);
    await share(srv, c.owner.token, av.id, c.editor.id, 'editor');
    const bytes = STORY('Dagny');
    const first = await uploadOk(srv, c.owner.token, av.id, bytes, 'o.txt');
    const r = await uploadRaw(srv, c.editor.token, av.id, bytes, 'e.txt');
    expectStatus(assert, r, 200);
    assert.equal(r.json.duplicate_of, first.media.id);
  });
});

describe('file names', () => {
  test('bidirectional controls and other invisible controls are removed', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const cases = [
      ['invoice\u202Efdp.txt', 'invoicefdp.txt'], // RIGHT-TO-LEFT OVERRIDE: would show "invoicetxt.pdf"
      ['a\u202Ab\u202Bc\u202Cd\u202De.txt', 'abcde.txt'],
      ['\u2066x\u2067y\u2068z\u2069.txt', 'xyz.txt'],
      ['l\u200Em\u200Fn\u061C.txt', 'lmn.txt'],
      ['bom\uFEFF\u2028\u2029\u0085end.txt', 'bomend.txt'],
      ['tab\there.txt', 'tabhere.txt'],
      ['Ζωή שלום.txt', 'Ζωή שלום.txt'], // right-to-left letters themselves stay
    ];
    for (const [i, [name, want]] of cases.entries()) {
      const r = await uploadRaw(srv, c.owner.token, av.id, STORY(`name ${i}`), name);
      expectStatus(assert, r, 202, undefined, JSON.stringify(name));
      assert.equal(r.json.media.filename, want, JSON.stringify(name));
      const g = await api(srv, 'GET', `/media/${r.json.media.id}`, { token: c.owner.token });
      assert.equal(g.json.filename, want);
    }
    // multipart names go through the same cleaning
    const mp = await uploadMultipart(srv, c.owner.token, av.id, STORY('mp'), 'evil\u202Egpj.txt');
    expectStatus(assert, mp, 202);
    assert.equal(mp.json.media.filename, 'evilgpj.txt');
  });
});

describe('jobs say what they work on', () => {
  test('a media.ingest job has avatar_id and media_id; GET /jobs filters by them', async () => {
    const a = await createAvatar(srv, c.owner.token);
    const b = await createAvatar(srv, c.owner.token);
    const m1 = await uploadOk(srv, c.owner.token, a.id, STORY('job 1'), 'j1.txt');
    const m2 = await uploadOk(srv, c.owner.token, a.id, STORY('job 2'), 'j2.txt');
    const m3 = await uploadOk(srv, c.owner.token, b.id, STORY('job 3'), 'j3.txt');
    assert.equal(m1.job.avatar_id, a.id);
    assert.equal(m1.job.media_id, m1.media.id);
    const done = await waitJob(srv, c.owner.token, m1.job.id);
    assert.equal(done.status, 'done');
    assert.equal(done.avatar_id, a.id, 'GET /jobs/{id} too');
    assert.equal(done.media_id, m1.media.id);

    const byAvatar = await listAll(srv, `/jobs?avatar_id=${a.id}`, c.owner.token);
    assert.deepEqual(byAvatar.map((j) => j.id).sort(), [m1.job.id, m2.job.id].sort());
    const byMedia = await listAll(srv, `/jobs?media_id=${m3.media.id}`, c.owner.token);
    assert.deepEqual(byMedia.map((j) => j.id), [m3.job.id]);
    const both = await listAll(srv, `/jobs?avatar_id=${a.id}&media_id=${m3.media.id}`, c.owner.token);
    assert.deepEqual(both, [], 'filters combine');
    errorShape(assert, await api(srv, 'GET', '/jobs?avatar_id=nope', { token: c.owner.token }), 400, 'invalid_input');

    // The filters narrow what the caller may see; they never show another user's jobs.
    const seen = await listAll(srv, `/jobs?avatar_id=${a.id}`, c.outsider.token);
    assert.deepEqual(seen, []);
    const admin = await listAll(srv, `/jobs?media_id=${m2.media.id}`, c.admin.token);
    assert.deepEqual(admin.map((j) => j.id), [m2.job.id], 'an admin sees everyone\'s');

    // Deleting an avatar queues avatar.delete for it.
    const del = await api(srv, 'DELETE', `/avatars/${b.id}`, { token: c.owner.token });
    assert.ok([202, 204].includes(del.status), `${del.status} ${del.text}`);
    const bJobs = await listAll(srv, `/jobs?avatar_id=${b.id}`, c.owner.token);
    assert.ok(bJobs.some((j) => j.kind === 'avatar.delete' && j.media_id === null), JSON.stringify(bJobs));
  });
});
