// Portraits: an avatar's picture is one of its own images (PUT {media_id}), served as a small PNG
// thumbnail once one is made (?original=true: the image itself), shown on the legacy page when the
// owner publishes it, carried by an exported PNG card and taken from an imported one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  cast,
  createAvatar,
  expectStatus,
  fixture,
  request,
  startAvatars,
  uploadOk,
  waitMedia,
} from './lib/avatars.mjs';

let srv, c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => srv?.stop());

const isPng = (buf) => buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
const pngSize = (buf) => [buf.readUInt32BE(16), buf.readUInt32BE(20)];

async function picture(path, token, headers = {}) {
  const r = await fetch(srv.url + path, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  return { status: r.status, type: r.headers.get('content-type'), etag: r.headers.get('etag'), body: Buffer.from(await r.arrayBuffer()) };
}

describe('setting, reading and removing a portrait', () => {
  let av, jpg, txt, other;
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    jpg = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.jpg'), 'face.jpg')).media;
    txt = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.txt'), 'notes.txt')).media;
    const elsewhere = await createAvatar(srv, c.owner.token);
    other = (await uploadOk(srv, c.owner.token, elsewhere.id, fixture('sample.png'), 'x.png')).media;
  });

  test('an avatar starts without one: 404, and null in its JSON', async () => {
    assert.equal((await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token })).json.portrait_media_id, null);
    expectStatus(assert, await api(srv, 'GET', `/avatars/${av.id}/portrait`, { token: c.owner.token }), 404, 'not_found');
  });

  test('only an image of this very avatar can be its portrait', async () => {
    for (const [body, why] of [
      [{ media_id: txt.id }, 'a text file'],
      [{ media_id: other.id }, "another avatar's image"],
      [{ media_id: '0'.repeat(26) }, 'an unknown id'],
      [{ media_id: 'nope' }, 'a malformed id'],
      [{}, 'no media_id'],
      [{ media_id: 7 }, 'a number'],
    ]) {
      const r = await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body });
      expectStatus(assert, r, 400, 'invalid_input', why);
    }
    // Another avatar's image and an unknown id get the same answer: nothing to learn from it.
    const a = await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: other.id } });
    const b = await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: '0'.repeat(26) } });
    assert.equal(a.json.error.message, b.json.error.message);
    assert.equal((await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token })).json.portrait_media_id, null);
  });

  test('set: the JSON and the list show it; the picture is the thumbnail once made, the original on request', async () => {
    const r = await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: jpg.id } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { portrait_media_id: jpg.id });
    assert.equal((await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token })).json.portrait_media_id, jpg.id);
    const listed = (await api(srv, 'GET', '/avatars?limit=200', { token: c.owner.token })).json.items.find((a) => a.id === av.id);
    assert.equal(listed.portrait_media_id, jpg.id);
    const done = await waitMedia(srv, c.owner.token, jpg.id, (m) => m.status === 'ready');
    assert.equal(done.status, 'ready', JSON.stringify(done));
    const thumb = await picture(`/api/v1/avatars/${av.id}/portrait`, c.owner.token);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.type, 'image/png');
    assert.ok(isPng(thumb.body));
    const orig = await picture(`/api/v1/avatars/${av.id}/portrait?original=true`, c.owner.token);
    assert.equal(orig.status, 200);
    assert.equal(orig.type, 'image/jpeg');
    assert.ok(orig.body.equals(fixture('sample.jpg')), 'the original bytes');
    const again = await picture(`/api/v1/avatars/${av.id}/portrait`, c.owner.token, { 'if-none-match': thumb.etag });
    assert.equal(again.status, 304);
  });

  test('remove: 204, the image stays among the media', async () => {
    const r = await api(srv, 'DELETE', `/avatars/${av.id}/portrait`, { token: c.owner.token });
    assert.equal(r.status, 204);
    expectStatus(assert, await api(srv, 'GET', `/avatars/${av.id}/portrait`, { token: c.owner.token }), 404, 'not_found');
    assert.equal((await api(srv, 'GET', `/media/${jpg.id}`, { token: c.owner.token })).status, 200);
  });

  test('deleting the image takes the portrait away, never the avatar', async () => {
    assert.equal((await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: jpg.id } })).status, 200);
    assert.equal((await api(srv, 'DELETE', `/media/${jpg.id}`, { token: c.owner.token })).status, 204);
    const a = await api(srv, 'GET', `/avatars/${av.id}`, { token: c.owner.token });
    assert.equal(a.status, 200);
    assert.equal(a.json.portrait_media_id, null);
    expectStatus(assert, await api(srv, 'GET', `/avatars/${av.id}/portrait`, { token: c.owner.token }), 404, 'not_found');
  });
});

describe('the legacy page shows a portrait only when the owner publishes it', () => {
  let av, slug;
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { visibility: 'public', publish: ['name'] });
    slug = av.slug;
    const png = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.png'), 'p.png')).media;
    assert.equal((await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: png.id } })).status, 200);
  });

  test('not published: no portrait_url, and the picture is not served', async () => {
    const page = await api(srv, 'GET', `/legacy/${slug}`);
    assert.equal(page.status, 200);
    assert.equal(page.json.portrait_url, undefined);
    expectStatus(assert, await api(srv, 'GET', `/legacy/${slug}/portrait`), 404, 'not_found');
  });

  test('published: portrait_url, served without an account', async () => {
    assert.equal((await api(srv, 'PATCH', `/avatars/${av.id}`, { token: c.owner.token, body: { publish: ['name', 'portrait'] } })).status, 200);
    const page = await api(srv, 'GET', `/legacy/${slug}`);
    assert.equal(page.json.portrait_url, `/api/v1/legacy/${slug}/portrait`);
    assert.ok(!JSON.stringify(page.json).includes(av.id), 'never the internal id');
    const p = await picture(page.json.portrait_url);
    assert.equal(p.status, 200);
    assert.ok(isPng(p.body));
  });

  test('a private avatar has no page and no portrait', async () => {
    assert.equal((await api(srv, 'PATCH', `/avatars/${av.id}`, { token: c.owner.token, body: { visibility: 'private' } })).status, 200);
    expectStatus(assert, await api(srv, 'GET', `/legacy/${slug}/portrait`), 404, 'not_found');
  });
});

describe('cards carry the portrait', () => {
  test('an exported PNG card is the portrait, and importing it makes the portrait again', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const png = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.png'), 'p.png')).media;
    assert.equal((await api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token: c.owner.token, body: { media_id: png.id } })).status, 200);
    const card = await picture(`/api/v1/avatars/${av.id}/export?format=png`, c.owner.token);
    assert.equal(card.status, 200);
    assert.deepEqual(pngSize(card.body), pngSize(fixture('sample.png')), 'the picture of the card is the portrait, not a placeholder');
    const imp = await request(srv, 'POST', '/avatars/import', { token: c.owner.token, headers: { 'content-type': 'image/png' }, body: card.body });
    assert.equal(imp.status, 201, imp.text);
    const copy = JSON.parse(imp.text);
    assert.ok(copy.portrait_media_id, 'the imported avatar has a portrait');
    const p = await picture(`/api/v1/avatars/${copy.id}/portrait?original=true`, c.owner.token);
    assert.equal(p.status, 200);
    assert.ok(p.body.equals(card.body), 'the portrait is the card picture itself');
  });
});
