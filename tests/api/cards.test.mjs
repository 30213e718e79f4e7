// Character Cards: import (V1/V2/V3 JSON, PNG with chara/ccv3, .charx) detected from the bytes,
// export (V3 JSON, .charx with memories and images, PNG), the export → import round trip that keeps
// unknown fields, refusals that create nothing, and who may export what.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  crc32,
  pngTexts,
  pngWith,
  unzip,
  v2Card,
  v3Card,
  zipOf,
} from '../fixtures/cards/cardlib.mjs';
import {
  api,
  cast,
  createAvatar,
  errorShape,
  fixture,
  listAll,
  request,
  sharedAvatar,
  startAvatars,
  uploadOk,
} from './lib/avatars.mjs';
import { binPath, rawTcp, REPO } from './lib/server.mjs';

let srv;
let c;
before(async () => {
  // A language model configured (never called here) makes the generative brain a valid choice.
  srv = await startAvatars({ args: ['--llm-provider', 'openai', '--llm-url', 'http://127.0.0.1:9/v1', '--llm-model', 'unused'] });
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

/* POST /avatars/import with raw bytes (JSON objects are serialised). */
function importCard(body, { token = c.owner.token, type = 'application/octet-stream' } = {}) {
  const b = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
  return request(srv, 'POST', '/avatars/import', { token, headers: { 'content-type': type }, body: b });
}

async function importOk(body, opts) {
  const r = await importCard(body, opts);
  assert.equal(r.status, 201, `import → ${r.status}: ${r.text.slice(0, 300)}`);
  return r.json;
}

function exportCard(id, { token = c.owner.token, format } = {}) {
  return request(srv, 'GET', `/avatars/${id}/export${format ? `?format=${format}` : ''}`, { token });
}

async function exportOk(id, opts) {
  const r = await exportCard(id, opts);
  assert.equal(r.status, 200, `export → ${r.status}: ${r.text.slice(0, 300)}`);
  return r;
}

const avatarIds = async (token = c.owner.token) => (await listAll(srv, '/avatars', token)).map((a) => a.id).sort();

async function stats(id, token = c.owner.token) {
  const r = await api(srv, 'GET', `/avatars/${id}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json.stats;
}

describe('import', () => {
  test('a V2 JSON card → 201: a private avatar of the caller, entries as memories, the rest kept', async () => {
    const card = v2Card();
    const a = await importOk(card, { type: 'text/plain' }); // the Content-Type does not matter
    assert.equal(a.name, 'Seraphina');
    assert.equal(a.description, card.data.description);
    assert.equal(a.personality, card.data.personality);
    assert.equal(a.scenario, card.data.scenario);
    assert.equal(a.greeting, card.data.first_mes);
    assert.equal(a.kind, 'character');
    assert.equal(a.visibility, 'private');
    assert.equal(a.owner_id, c.owner.id);
    assert.equal(a.access, 'owner');
    assert.deepEqual(a.import, { format: 'json', spec: 2, memories: 2, kept_aside: 1 });
    assert.equal((await stats(a.id)).memories, 2);
    assert.deepEqual(a.extensions.card.data.x_unknown_field, card.data.x_unknown_field);
    // Others cannot see it.
    const r = await api(srv, 'GET', `/avatars/${a.id}`, { token: c.member.token });
    assert.equal(r.status, 404);
  });

  test('a V1 card (fields at the top, no spec)', async () => {
    const a = await importOk({ name: 'Old Timer', description: 'd1', personality: 'p1', scenario: 's1', first_mes: 'g1', mes_example: 'm1' });
    assert.equal(a.name, 'Old Timer');
    assert.equal(a.greeting, 'g1');
    assert.equal(a.import.spec, 1);
  });

  test('PNG with chara only, ccv3 only, and both (ccv3 wins)', async () => {
    const a = await importOk(pngWith({ chara: v2Card({ name: 'Only Chara' }) }), { type: 'image/png' });
    assert.equal(a.name, 'Only Chara');
    assert.deepEqual([a.import.format, a.import.spec], ['png', 2]);
    const b = await importOk(pngWith({ ccv3: v3Card('Only Ccv3') }), { type: 'image/png' });
    assert.equal(b.name, 'Only Ccv3');
    assert.equal(b.import.spec, 3);
    const both = await importOk(pngWith({ chara: v2Card({ name: 'Loser' }), ccv3: v3Card('Winner') }), { type: 'application/json' });
    assert.equal(both.name, 'Winner');
    assert.equal(both.description, 'Winner description');
  });

  test('a .charx with a lorebook → memories (fact and qa), stats.memories counts them', async () => {
    const entries = [];
    for (let i = 0; i < 30; i++) entries.push({ keys: [`k${i}`], content: `Fact number ${i} about the lighthouse.`, enabled: true, insertion_order: i, extensions: {} });
    entries.push({ keys: ['q'], content: 'Q: Where is the lighthouse?\nA: On the northern cape.', enabled: true, insertion_order: 30, extensions: {} });
    const card = v3Card('Keeper', { character_book: { name: 'Cape', extensions: {}, entries } });
    const zip = zipOf([
      { name: 'card.json', data: JSON.stringify(card) },
      { name: 'assets/icon/images/main.png', data: pngWith({}), deflate: false },
      { name: 'x_app_data.json', data: '{"app":true}' },
    ]);
    const a = await importOk(zip, { type: 'application/zip' });
    assert.equal(a.name, 'Keeper');
    assert.deepEqual([a.import.format, a.import.memories], ['charx', 31]);
    assert.equal((await stats(a.id)).memories, 31);
    const x = JSON.parse((await exportOk(a.id)).text);
    const kinds = x.data.character_book.entries.map((e) => e.extensions.doppel.kind);
    assert.equal(kinds.filter((k) => k === 'qa').length, 1);
    assert.equal(kinds.filter((k) => k === 'fact').length, 30);
  });

  test('an editor imports: the new avatar is the editor\'s own', async () => {
    const a = await importOk(v3Card('Editor Made'), { token: c.editor.token });
    assert.equal(a.owner_id, c.editor.id);
    assert.equal((await api(srv, 'GET', `/avatars/${a.id}`, { token: c.owner.token })).status, 404);
  });

  test('without a token → 401', async () => {
    const r = await request(srv, 'POST', '/avatars/import', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(v3Card('Anon')) });
    errorShape(assert, r, 401, 'unauthenticated');
  });
});

describe('refusals create nothing', () => {
  const good = () => pngWith({ ccv3: v3Card('Never Created') });
  const cases = [
    ['an empty body', () => Buffer.alloc(0), 400],
    ['bytes of no card format', () => Buffer.from('GIF89a not a card at all'), 415],
    ['a JSON array', () => '[{"name":"x"}]', 415],
    ['invalid JSON', () => '{"spec":"chara_card_v2","data":{"name":', 400],
    ['a card without a name', () => ({ spec: 'chara_card_v2', data: { description: 'x' } }), 422],
    ['a card whose name is too long', () => v3Card('n'.repeat(101)), 422],
    ['a description over 20000 bytes', () => v3Card('Long', { description: 'd'.repeat(20001) }), 422],
    ['more than 5000 lorebook entries', () => v3Card('Big Book', { character_book: { entries: Array.from({ length: 5001 }, (_, i) => ({ content: `e${i}` })) } }), 422],
    ['a truncated PNG', () => good().subarray(0, good().length - 30), 400],
    ['a PNG with a bad CRC', () => {
      const b = Buffer.from(good());
      b[60] ^= 1; // inside the ccv3 text
      return b;
    }, 400],
    ['a PNG without a card', () => pngWith({}), 422],
    ['a PNG whose ccv3 is not base64', () => {
      const p = pngWith({});
      const iend = p.length - 12;
      const data = Buffer.concat([Buffer.from('ccv3\0'), Buffer.from('%%% not base64 %%%')]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from('tEXt'), data])));
      return Buffer.concat([p.subarray(0, iend), len, Buffer.from('tEXt'), data, crc, p.subarray(iend)]);
    }, 400],
    ['a zip with a ../ entry', () => zipOf([{ name: 'card.json', data: JSON.stringify(v3Card('Trav')) }, { name: '../../etc/evil', data: 'x' }]), 422],
    ['a zip with an absolute entry', () => zipOf([{ name: 'card.json', data: JSON.stringify(v3Card('Abs')) }, { name: '/tmp/evil', data: 'x' }]), 422],
    ['a zip whose card inflates past its declared size', () => zipOf([{ name: 'card.json', data: JSON.stringify(v3Card('Bomb')), declaredSize: 20 }]), 400],
    ['a zip declaring more than 64 MiB', () => zipOf([
      { name: 'card.json', data: JSON.stringify(v3Card('Huge')) },
      { name: 'a.bin', data: Buffer.alloc(1000), declaredSize: 40 << 20 },
      { name: 'b.bin', data: Buffer.alloc(1000), declaredSize: 40 << 20 },
    ]), 413],
    ['a truncated zip', () => zipOf([{ name: 'card.json', data: JSON.stringify(v3Card('Cut')) }]).subarray(0, 60), 400],
    ['a zip without card.json', () => zipOf([{ name: 'cards/card.json', data: JSON.stringify(v3Card('Nested')) }]), 422],
    ['a card.json over 2 MiB', () => v3Card('Fat', { x_pad: 'p'.repeat(2 * 1024 * 1024) }), 413],
  ];
  for (const [what, body, status] of cases) {
    test(`${what} → ${status}`, async () => {
      const before = await avatarIds();
      const r = await importCard(body());
      errorShape(assert, r, status);
      assert.ok(r.json.error.message.length > 10, `a clear message: ${r.json.error.message}`);
      assert.deepEqual(await avatarIds(), before, 'no avatar was created');
    });
  }

  test('a body over 20 MiB → 413 before it is read', async () => {
    const before = await avatarIds();
    // The declared length is refused up front: the body is never sent.
    const r = await rawTcp(
      srv.port,
      `POST /api/v1/avatars/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${c.owner.token}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${20 * 1024 * 1024 + 1}\r\n\r\n{`,
      { timeoutMs: 5000, until: /\r\n\r\n[\s\S]*\}\}/ },
    );
    assert.match(r.text, /^HTTP\/1\.1 413 /);
    assert.match(r.text, /too_large/);
    // Exactly 20 MiB is read (and refused for what it is, not for its size).
    const body = Buffer.alloc(20 * 1024 * 1024, 0x20);
    body.write('GIF89a');
    const ok = await importCard(body);
    errorShape(assert, ok, 415, 'unsupported_media_type');
    assert.deepEqual(await avatarIds(), before);
  });
});

describe('export', () => {
  let imported;
  before(async () => {
    imported = await importOk(v2Card());
  });

  test('V3 JSON as an attachment: Doppel fields, kind in extensions.doppel, no visibility', async () => {
    const r = await exportOk(imported.id);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('content-disposition'), `attachment; filename="Seraphina.json"; filename*=UTF-8''Seraphina.json`);
    const x = JSON.parse(r.text);
    assert.equal(x.spec, 'chara_card_v3');
    assert.equal(x.spec_version, '3.0');
    const d = x.data;
    assert.equal(d.name, 'Seraphina');
    assert.equal(d.first_mes, 'You are safe now, traveller.');
    assert.equal(d.extensions.doppel.kind, 'character');
    assert.equal(d.visibility, undefined);
    assert.equal(JSON.stringify(x).includes('"private"'), false);
    for (const f of ['mes_example', 'creator_notes', 'system_prompt', 'post_history_instructions', 'creator', 'character_version'])
      assert.equal(typeof d[f], 'string', f);
    for (const f of ['alternate_greetings', 'tags', 'group_only_greetings']) assert.ok(Array.isArray(d[f]), f);
    // Unknown fields and extensions come back as they went in.
    const orig = v2Card().data;
    assert.deepEqual(d.x_unknown_field, orig.x_unknown_field);
    assert.deepEqual(d.extensions.depth_prompt, orig.extensions.depth_prompt);
    assert.equal(d.extensions.talkativeness, '0.5');
    assert.deepEqual(d.tags, orig.tags);
    assert.deepEqual(d.alternate_greetings, orig.alternate_greetings);
    assert.equal(d.mes_example, orig.mes_example);
    assert.equal(x.name, undefined, 'the stale V1 mirror at the top is not written back');
    // The lorebook: the memories (with their original keys and extensions) and the disabled entry.
    const book = d.character_book;
    assert.equal(book.name, 'Glade lore');
    assert.equal(book.scan_depth, 5);
    assert.equal(book.entries.length, 3);
    assert.deepEqual(book.entries[0].keys, ['glade']);
    assert.equal(book.entries[0].content, orig.character_book.entries[0].content);
    assert.equal(book.entries[0].extensions.position, 1);
    assert.deepEqual(book.entries[0].extensions.doppel, { kind: 'fact', source: null });
    assert.equal(book.entries[1].extensions.doppel.kind, 'qa');
    assert.deepEqual(book.entries[2], orig.character_book.entries[2]);
  });

  test('export → import → export: the same card, with an edited field carried over', async () => {
    const p = await api(srv, 'PATCH', `/avatars/${imported.id}`, { token: c.owner.token, body: { description: 'Edited in Doppel.' } });
    assert.equal(p.status, 200, p.text);
    const first = JSON.parse((await exportOk(imported.id)).text);
    assert.equal(first.data.description, 'Edited in Doppel.');
    const again = await importOk(first);
    assert.equal(again.description, 'Edited in Doppel.');
    assert.equal(again.name, imported.name);
    assert.equal(again.personality, imported.personality);
    assert.equal(again.scenario, imported.scenario);
    assert.equal(again.greeting, imported.greeting);
    assert.equal((await stats(again.id)).memories, 2);
    const second = JSON.parse((await exportOk(again.id)).text);
    assert.deepEqual(second, first);
  });

  test('an avatar made in Doppel: kind, brain and a plain card; legacy kind survives the trip', async () => {
    const a = await createAvatar(srv, c.owner.token, { name: 'Grandma Rose', kind: 'legacy', brain: 'generative', greeting: 'Hello dear.' });
    const x = JSON.parse((await exportOk(a.id)).text);
    assert.equal(x.data.first_mes, 'Hello dear.');
    assert.deepEqual(x.data.extensions.doppel, { kind: 'legacy', brain: 'generative' });
    assert.equal(x.data.character_book, undefined, 'no memories, no lorebook');
    const b = await importOk(x);
    assert.equal(b.kind, 'legacy');
    assert.equal(b.brain, 'generative');
    assert.equal(b.visibility, 'private');
  });

  test('?format=charx: card.json with the memories as a lorebook, images under assets/', async () => {
    const a = await importOk(v2Card({ name: 'Zipped' }));
    await uploadOk(srv, c.owner.token, a.id, fixture('sample.png'), 'face.png');
    await uploadOk(srv, c.owner.token, a.id, fixture('sample.jpg'), 'other.jpg');
    const r = await exportOk(a.id, { format: 'charx' });
    assert.equal(r.headers.get('content-type'), 'application/zip');
    assert.equal(r.headers.get('content-disposition'), `attachment; filename="Zipped.charx"; filename*=UTF-8''Zipped.charx`);
    const files = await unzip(r.buf);
    assert.deepEqual(Object.keys(files).sort(), ['assets/icon/images/main.png', 'assets/other/images/image-1.jpg', 'card.json']);
    assert.ok(files['assets/icon/images/main.png'].equals(fixture('sample.png')));
    assert.ok(files['assets/other/images/image-1.jpg'].equals(fixture('sample.jpg')));
    const card = JSON.parse(files['card.json']);
    assert.equal(card.spec, 'chara_card_v3');
    assert.equal(card.data.name, 'Zipped');
    assert.deepEqual(card.data.assets.map((x) => [x.type, x.uri, x.name, x.ext]), [
      ['icon', 'embeded://assets/icon/images/main.png', 'main', 'png'],
      ['other', 'embeded://assets/other/images/image-1.jpg', 'image-1', 'jpg'],
    ]);
    const entries = card.data.character_book.entries;
    assert.equal(entries.length, 3);
    assert.equal(entries[0].content, 'The glade is protected by the old magic of Eldoria.');
    assert.equal(entries[0].extensions.doppel.kind, 'fact');
    // The .charx imports again: same fields, same memories.
    const b = await importOk(r.buf);
    assert.equal(b.name, 'Zipped');
    assert.equal(b.import.format, 'charx');
    assert.equal((await stats(b.id)).memories, 2);
    // As a PNG, the card rides in the avatar's own picture (its IHDR: same size as the upload).
    const png = await exportOk(a.id, { format: 'png' });
    assert.ok(png.buf.subarray(8, 33).equals(fixture('sample.png').subarray(8, 33)), 'the IHDR of sample.png');
    assert.equal(JSON.parse(Buffer.from(pngTexts(png.buf).ccv3, 'base64')).data.name, 'Zipped');
  });

  test('memories made in Doppel get keys from their salient words', async () => {
    const card = v3Card('Keys', { character_book: { entries: [{ content: 'Margaret grew tomatoes in Lisbon. Margaret loved Lisbon summers.' }] } });
    const a = await importOk(card);
    const x = JSON.parse((await exportOk(a.id)).text);
    const e = x.data.character_book.entries[0];
    assert.ok(Array.isArray(e.keys));
    // The entry came without keys: an export makes some (the original keys would be kept).
    assert.ok(e.keys.length >= 1 && e.keys.length <= 5, JSON.stringify(e.keys));
    assert.ok(e.keys.includes('Lisbon') || e.keys.includes('margaret') || e.keys.includes('Margaret'), JSON.stringify(e.keys));
  });

  test('?format=png: the card in ccv3 and chara chunks of the first PNG image (or a placeholder)', async () => {
    const r = await exportOk(imported.id, { format: 'png' });
    assert.equal(r.headers.get('content-type'), 'image/png');
    const t = pngTexts(r.buf);
    const v3 = JSON.parse(Buffer.from(t.ccv3, 'base64'));
    const v2 = JSON.parse(Buffer.from(t.chara, 'base64'));
    assert.equal(v3.spec, 'chara_card_v3');
    assert.equal(v2.spec, 'chara_card_v2');
    assert.equal(v3.data.name, imported.name);
    const b = await importOk(r.buf);
    assert.equal(b.name, imported.name);
    assert.equal(b.import.spec, 3);
  });

  test('a non-ASCII name: an ASCII file name and the exact one (RFC 5987)', async () => {
    const a = await importOk(v3Card('Émilie ✓ "Q"'));
    const r = await exportOk(a.id);
    assert.equal(r.headers.get('content-disposition'), `attachment; filename="milie_Q.json"; filename*=UTF-8''%C3%89milie%20%E2%9C%93%20%22Q%22.json`);
  });

  test('a lorebook of 5000 entries: 5000 memories, all exported', async () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({ keys: [`k${i}`], content: `Entry ${i}: the ${i}th thing worth remembering.` }));
    const a = await importOk(v3Card('Full Book', { character_book: { entries } }));
    assert.equal(a.import.memories, 5000);
    assert.equal((await stats(a.id)).memories, 5000);
    const r = await exportOk(a.id);
    assert.equal(r.headers.get('x-doppel-omitted-memories'), null);
    const x = JSON.parse(r.text);
    assert.equal(x.data.character_book.entries.length, 5000);
    assert.equal(x.data.character_book.entries[4999].content, entries[4999].content);
    assert.deepEqual(x.data.character_book.entries[123].keys, ['k123']);
  });

  test('?format=bogus → 400', async () => {
    errorShape(assert, await exportCard(imported.id, { format: 'bogus' }), 400, 'invalid_input');
  });

  test('a deleted avatar → 404', async () => {
    const a = await importOk(v3Card('Short Lived'));
    assert.equal((await api(srv, 'DELETE', `/avatars/${a.id}`, { token: c.owner.token })).status, 202);
    errorShape(assert, await exportCard(a.id), 404, 'not_found');
  });
});

describe('who may export', () => {
  for (const visibility of ['private', 'org', 'public']) {
    test(`a ${visibility} avatar: viewers and up get it, others 404, no token 401`, async () => {
      const av = await sharedAvatar(srv, c, { visibility, description: `secret-${visibility}-description` });
      const want = {
        owner: 200,
        editor: 200,
        viewer: 200,
        member: visibility === 'private' ? 404 : 200,
        outsider: 404, // a public avatar: only its legacy page
      };
      const wrong = [];
      for (const [who, status] of Object.entries(want)) {
        const r = await exportCard(av.id, { token: c[who].token });
        if (r.status !== status) wrong.push(`${who}: expected ${status}, got ${r.status}`);
        if (r.status === 404 && r.text.includes(av.description)) wrong.push(`${who}: the 404 leaks the description`);
      }
      const anon = await request(srv, 'GET', `/avatars/${av.id}/export`);
      if (anon.status !== 401) wrong.push(`anonymous: expected 401, got ${anon.status}`);
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  }

  test('an id that does not exist → 404', async () => {
    errorShape(assert, await exportCard('01a20000-0000-7000-8000-000000000000'), 404, 'not_found');
    errorShape(assert, await exportCard('not-an-id'), 404, 'not_found');
  });
});

describe('command line: doppel avatar import / export', () => {
  /* Runs the doppel binary on the test server's database (and blob store); resolves {code, stdout, stderr}. */
  function doppel(args) {
    const where = srv.databaseUrl ? ['--data-dir', srv.dataDir, '--database-url', srv.databaseUrl] : ['--data-dir', srv.dataDir];
    return new Promise((resolve) => {
      execFile(binPath(), [...args, ...where, '--log-level', 'warn'], { cwd: REPO, encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code : 0, stdout, stderr: stderr.toString() }),
      );
    });
  }
  let tmp;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-cards-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('import FILE --owner EMAIL creates the avatar in the database the server uses', async () => {
    const file = path.join(tmp, 'card.png');
    fs.writeFileSync(file, pngWith({ chara: v2Card({ name: 'From The CLI' }) }));
    // Several users exist: the owner must be named.
    const bare = await doppel(['avatar', 'import', file]);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /--owner/);
    const r = await doppel(['avatar', 'import', file, '--owner', c.viewer.email]);
    assert.equal(r.code, 0, r.stderr);
    const id = /avatar ([0-9a-f-]{36})/.exec(r.stdout.toString())[1];
    const a = await api(srv, 'GET', `/avatars/${id}`, { token: c.viewer.token });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.name, 'From The CLI');
    assert.equal(a.json.owner_id, c.viewer.id);
    assert.equal(a.json.visibility, 'private');
    assert.equal(a.json.stats.memories, 2);
    // A damaged card: a clear message, exit 1, nothing created.
    const before = await avatarIds(c.viewer.token);
    const bad = path.join(tmp, 'bad.png');
    fs.writeFileSync(bad, fs.readFileSync(file).subarray(0, 100));
    const b = await doppel(['avatar', 'import', bad, '--owner', c.viewer.email]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /truncated/);
    assert.deepEqual(await avatarIds(c.viewer.token), before);
    const nobody = await doppel(['avatar', 'import', file, '--owner', 'nobody@example.test']);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no user/);
  });

  test('export ID (stdout) equals the API export; --format charx -o FILE writes a .charx', async () => {
    const a = await importOk(v2Card({ name: 'Exported By CLI' }));
    const r = await doppel(['avatar', 'export', a.id]);
    assert.equal(r.code, 0, r.stderr);
    const api_ = JSON.parse((await exportOk(a.id)).text);
    assert.deepEqual(JSON.parse(r.stdout.toString()), api_);
    const out = path.join(tmp, 'out.charx');
    const z = await doppel(['avatar', 'export', a.id, '--format', 'charx', '-o', out]);
    assert.equal(z.code, 0, z.stderr);
    const files = await unzip(fs.readFileSync(out));
    assert.equal(JSON.parse(files['card.json']).data.name, 'Exported By CLI');
    const missing = await doppel(['avatar', 'export', '01a20000-0000-7000-8000-000000000000']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such avatar/);
  });
});
