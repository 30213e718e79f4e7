// Cards and personas (issue 9): who said what survives export → import (speaker, order, dialogue in
// extensions.doppel; the transcript's exchanges in mes_example), lorebook keys name what an entry is
// about, the recall brain answers identity questions from the card's fields and example dialogue,
// the personality profile is fed by the avatar's own words and shapes how the recall brain speaks,
// and a card may be imported as a multipart form upload.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pngWith, v2Card, v3Card } from '../fixtures/cards/cardlib.mjs';
import {
  api,
  cast,
  createAvatar,
  expectStatus,
  multipartBody,
  request,
  startAvatars,
  uploadMultipart,
  uploadOk,
  waitMedia,
} from './lib/avatars.mjs';

let srv;
let c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
});

const settled = (m) => m && ['ready', 'stored', 'failed'].includes(m.status);

async function importOk(body, { type = 'application/octet-stream', token = c.owner.token } = {}) {
  const b = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
  const r = await request(srv, 'POST', '/avatars/import', { token, headers: { 'content-type': type }, body: b });
  assert.equal(r.status, 201, `import → ${r.status}: ${r.text.slice(0, 300)}`);
  return r.json;
}

async function exportJson(id) {
  const r = await request(srv, 'GET', `/avatars/${id}/export`, { token: c.owner.token });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
}

async function memories(id) {
  const r = await api(srv, 'GET', `/avatars/${id}/memories?limit=200`, { token: c.owner.token });
  expectStatus(assert, r, 200);
  return r.json.items;
}

/* Sends each text in one conversation with the avatar; resolves the replies (message JSON). */
async function ask(id, ...texts) {
  const conv = await api(srv, 'POST', `/avatars/${id}/conversations`, { token: c.owner.token });
  expectStatus(assert, conv, 201);
  const out = [];
  for (const text of texts) {
    const r = await api(srv, 'POST', `/conversations/${conv.json.conversation.id}/messages`, {
      token: c.owner.token,
      body: { text },
    });
    expectStatus(assert, r, 201);
    out.push(r.json.message);
  }
  return out;
}

async function ingest(av, text, filename, opts = {}) {
  const up = opts.fields
    ? await uploadMultipart(srv, c.owner.token, av.id, Buffer.from(text), filename, { fields: opts.fields })
    : { json: await uploadOk(srv, c.owner.token, av.id, Buffer.from(text), filename), status: 202 };
  assert.equal(up.status, 202, up.text);
  const media = await waitMedia(srv, c.owner.token, up.json.media.id, settled, 15000);
  assert.equal(media?.status, 'ready', JSON.stringify(media));
  return media;
}

const CHAT = [
  'Emma: Grandpa, did anyone ever give you a nickname?',
  'Grandpa Joe: Only Eddie. He called me Sparks until the day he died.',
  "Emma: Who's Eddie?",
  'Grandpa Joe: Eddie Salazar, my best buddy in the Navy, a skinny kid from Tucson who could fix anything with a paper clip.',
  'Emma: Grandpa I figured out WhatsApp, true story!',
  'Grandpa Joe: Well done, sweetheart. Now teach your grandmother.',
  'Emma: Where did you get your tattoo done?',
  'Grandpa Joe: In Naples in 1961, on a dare from Eddie.',
  '',
].join('\n');

describe('export and import keep who said what', () => {
  let av;
  let card;
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Grandpa Joe', kind: 'legacy' });
    const media = await ingest(av, CHAT, 'chat.txt');
    assert.equal(media.meta.utterances, 8, JSON.stringify(media.meta));
    card = await exportJson(av.id);
  });

  test('the recall brain answers a question of the chat with the avatar\'s reply (before the round trip)', async () => {
    const [m] = await ask(av.id, "Who's Eddie?");
    assert.match(m.text, /^Eddie Salazar, my best buddy/, m.text);
  });

  test('each utterance leaves with its speaker, order and dialogue in extensions.doppel', async () => {
    const entries = card.data.character_book.entries;
    assert.equal(entries.length, 8);
    const doppels = entries.map((e) => e.extensions.doppel);
    assert.deepEqual(
      doppels.map((d) => d.speaker),
      ['Emma', 'Grandpa Joe', 'Emma', 'Grandpa Joe', 'Emma', 'Grandpa Joe', 'Emma', 'Grandpa Joe'],
    );
    assert.deepEqual(
      doppels.map((d) => d.seq),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    for (const d of doppels) {
      assert.equal(d.kind, 'utterance');
      assert.equal(typeof d.dialogue, 'string');
      assert.equal(d.dialogue, doppels[0].dialogue, 'one chat, one dialogue');
      assert.equal(typeof d.source.media_id, 'string');
    }
  });

  test('the chat\'s exchanges go into mes_example in the card format\'s own shape', async () => {
    const ex = card.data.mes_example;
    assert.ok(ex.startsWith('<START>\n{{user}}: Grandpa, did anyone ever give you a nickname?\n{{char}}: Only Eddie.'), ex);
    assert.ok(ex.includes("<START>\n{{user}}: Who's Eddie?\n{{char}}: Eddie Salazar, my best buddy"), ex);
    assert.equal(ex.split('<START>').length - 1, 4);
    assert.equal(card.data.extensions.doppel.examples, 'memories');
  });

  test('keys name what an entry is about: names and rare words, never address words, app names, booleans', async () => {
    const entries = card.data.character_book.entries;
    const banned = ['grandpa', 'joe', 'whatsapp', 'figured', 'true', 'sweetheart', '1961', 'who', 'whos'];
    for (const e of entries) {
      assert.ok(e.keys.length <= 5, JSON.stringify(e.keys));
      for (const k of e.keys) assert.ok(!banned.includes(k.toLowerCase()), `${JSON.stringify(e.keys)} for ${e.content}`);
    }
    const eddie = entries.find((e) => e.content.startsWith('Eddie Salazar'));
    assert.ok(['Eddie', 'Salazar', 'Navy', 'Tucson'].includes(eddie.keys[0]), JSON.stringify(eddie.keys));
    assert.ok(eddie.keys.includes('Salazar') && eddie.keys.includes('Tucson'), JSON.stringify(eddie.keys));
    const naples = entries.find((e) => e.content.startsWith('In Naples'));
    assert.equal(naples.keys[0], 'Naples', JSON.stringify(naples.keys));
    const whatsapp = entries.find((e) => e.content.includes('WhatsApp'));
    assert.deepEqual(whatsapp.keys, ['story'], JSON.stringify(whatsapp.keys));
    for (const e of entries) assert.equal(e.extensions.doppel.keys, 'made', 'keys Doppel made say so');
  });

  test('keys Doppel made are made again from the memory as it is now (an author\'s keys are kept)', async () => {
    const b = await importOk(card);
    const mems = await memories(b.id);
    const r = await api(srv, 'PATCH', `/avatars/${b.id}/memories/${mems[7].id}`, {
      token: c.owner.token,
      body: { text: 'In Lisbon in 1962, on a dare from Eddie.' },
    });
    expectStatus(assert, r, 200);
    const x = await exportJson(b.id);
    assert.equal(x.data.character_book.entries[7].keys[0], 'Lisbon', JSON.stringify(x.data.character_book.entries[7]));
    const own = await importOk(v3Card('Authored', { character_book: { entries: [{ keys: ['true'], content: 'Kept as the author wrote.' }] } }));
    assert.deepEqual((await exportJson(own.id)).data.character_book.entries[0].keys, ['true']);
  });

  test('after export → import, the lines keep their speakers and "Who\'s Eddie?" gets Grandpa Joe\'s answer', async () => {
    const b = await importOk(card);
    assert.equal(b.name, 'Grandpa Joe');
    const mems = await memories(b.id);
    assert.equal(mems.length, 8);
    assert.deepEqual(
      mems.map((m) => [m.kind, m.speaker]),
      card.data.character_book.entries.map((e) => ['utterance', e.extensions.doppel.speaker]),
    );
    const [who, tattoo] = await ask(b.id, "Who's Eddie?", 'Where did you get your tattoo done?');
    assert.match(who.text, /^Eddie Salazar, my best buddy/, who.text);
    assert.equal(who.citations[0].memory_id, mems[3].id);
    assert.match(tattoo.text, /^In Naples in 1961/, tattoo.text);
    // And once more: the card of the imported avatar is the same card (a new dialogue id aside).
    const again = await exportJson(b.id);
    const strip = (x) =>
      x.data.character_book.entries.map((e) => ({ ...e, extensions: { ...e.extensions, doppel: { ...e.extensions.doppel, dialogue: 'd', source: null } } }));
    assert.deepEqual(strip(again), strip(card));
    assert.equal(again.data.mes_example, card.data.mes_example);
  });

  test('a card from elsewhere keeps its own mes_example; a Doppel fact stays a fact with no speaker', async () => {
    const b = await importOk(v2Card({ name: 'Own Examples' }));
    const x = await exportJson(b.id);
    assert.equal(x.data.mes_example, v2Card().data.mes_example);
    assert.equal(x.data.extensions.doppel.examples, undefined);
    assert.deepEqual(x.data.character_book.entries[0].extensions.doppel, { kind: 'fact', source: null });
  });
});

describe('the recall brain answers from the card', () => {
  let seraphina;
  let plain;
  before(async () => {
    seraphina = await importOk(v2Card());
    plain = await importOk(
      v3Card('Captain Mira', {
        description: '{{char}} is the captain of the airship Kestrel. She has sailed the cloud sea for twenty years. She hates pirates.',
        personality: 'Gruff but fair. Loyal to her crew above all.',
        scenario: '{{user}} has just come aboard the Kestrel as a stowaway.',
      }),
    );
  });

  test('"who are you", "tell me about yourself": the description, verbatim, cited to the field', async () => {
    const [who, about] = await ask(plain.id, 'Who are you?', 'Tell me about yourself.');
    assert.equal(who.text, 'Captain Mira is the captain of the airship Kestrel. She has sailed the cloud sea for twenty years.');
    assert.deepEqual(who.citations, [{ memory_id: null, field: 'description', text: who.text, source: null }]);
    assert.equal(about.text, who.text);
  });

  test('"what are you like", "what\'s your name", "where are we": personality, name, scenario', async () => {
    const [like, name, where] = await ask(plain.id, 'What are you like?', "What's your name?", 'Where are we?');
    assert.equal(like.text, 'Gruff but fair. Loyal to her crew above all.');
    assert.equal(like.citations[0].field, 'personality');
    assert.equal(name.text, 'Captain Mira is the captain of the airship Kestrel.');
    assert.equal(name.citations[0].field, 'description');
    assert.equal(where.text, 'You has just come aboard the Kestrel as a stowaway.', 'as card readers do, {{user}} is the listener');
    assert.equal(where.citations[0].field, 'scenario');
  });

  test('the example dialogue answers what it asks; the name stands alone when the description lacks it', async () => {
    const [who, name, glade] = await ask(seraphina.id, 'Who are you?', 'What is your name?', 'Where are we?');
    assert.equal(who.text, 'Seraphina.');
    assert.equal(who.citations[0].field, 'mes_example');
    assert.equal(name.text, 'Seraphina');
    assert.equal(name.citations[0].field, 'name');
    assert.equal(glade.text, 'The user wakes in a glade.');
    assert.equal(glade.citations[0].field, 'scenario');
  });

  test('an avatar without those fields still says it does not remember; other questions use memories', async () => {
    const a = await createAvatar(srv, c.owner.token, { name: 'Blank Slate' });
    const [where] = await ask(a.id, 'Where are we?');
    assert.match(where.text, /don't remember|not sure what you mean/);
    assert.deepEqual(where.citations, []);
    const [lore] = await ask(seraphina.id, 'What protects the glade?');
    assert.match(lore.text, /old magic of Eldoria/);
    assert.equal(typeof lore.citations[0].memory_id, 'string');
  });
});

describe('import as a multipart form', () => {
  test('curl -F file=@card.png: the file part is the card (text fields before it are ignored)', async () => {
    const mp = multipartBody([
      { name: 'note', data: 'hello' },
      { name: 'file', filename: 'card.png', type: 'image/png', data: pngWith({ ccv3: v3Card('Form Upload') }) },
    ]);
    const a = await importOk(mp.body, { type: mp.contentType });
    assert.equal(a.name, 'Form Upload');
    assert.equal(a.import.format, 'png');
    const j = multipartBody([{ name: 'card', data: JSON.stringify(v2Card({ name: 'Json Field' })) }]);
    assert.equal((await importOk(j.body, { type: j.contentType })).name, 'Json Field');
  });

  test('a form without a file part, or cut short → 400 and nothing is created', async () => {
    const before = (await api(srv, 'GET', '/avatars?limit=100', { token: c.owner.token })).json.items.length;
    const none = multipartBody([{ name: 'note', data: 'no card here' }]);
    let r = await request(srv, 'POST', '/avatars/import', { token: c.owner.token, headers: { 'content-type': none.contentType }, body: none.body });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /no file part/);
    const cut = multipartBody([{ name: 'file', filename: 'c.json', data: JSON.stringify(v2Card()) }]);
    r = await request(srv, 'POST', '/avatars/import', {
      token: c.owner.token,
      headers: { 'content-type': cut.contentType },
      body: cut.body.subarray(0, cut.body.length - 20),
    });
    assert.equal(r.status, 400, r.text);
    const empty = multipartBody([{ name: 'file', filename: 'c.json', data: '' }]);
    r = await request(srv, 'POST', '/avatars/import', { token: c.owner.token, headers: { 'content-type': empty.contentType }, body: empty.body });
    assert.equal(r.status, 400, r.text);
    assert.equal((await api(srv, 'GET', '/avatars?limit=100', { token: c.owner.token })).json.items.length, before);
  });
});

describe('the personality profile: fed by the avatar\'s own words, rounded, and heard', () => {
  const LETTER = [
    'Howdy partner! Gonna tell you about the ranch, yeah. We got cows, lots of cows, haha.',
    'Howdy again! The horses are cool and the dogs are kinda lazy, lol. Wanna come ride?',
    'Howdy! Thanks for the letter, it made my day. Gonna write back soon, okay?',
  ].join('\n');
  let av;
  const profile = async (id = av.id) => {
    const r = await api(srv, 'GET', `/avatars/${id}/profile`, { token: c.owner.token });
    expectStatus(assert, r, 200);
    assert.doesNotMatch(r.text, /\d\.\d{4,}/, `numbers are rounded for display: ${r.text.slice(0, 400)}`);
    return r.json.personality;
  };
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Rancher Bob' });
  });

  test('hand-posted samples count; numbers print rounded (3 decimals), in the profile and the training answer', async () => {
    const t = await api(srv, 'POST', `/avatars/${av.id}/training/personality`, {
      token: c.owner.token,
      body: { text: 'Well, I reckon the weather will turn. I have said so for years, and I was right twice.' },
    });
    expectStatus(assert, t, 201);
    assert.doesNotMatch(t.text, /\d\.\d{4,}/, t.text.slice(0, 400));
    const p = await profile();
    assert.deepEqual(p.sources, { samples: 1, media: 0, transcripts: 0, model_evidence: 0 });
    assert.equal(p.samples, 1);
    assert.equal(p.progress, 25);
    for (const tr of Object.values(p.traits)) assert.equal(Math.round(tr.score * 1000) / 1000, tr.score);
  });

  test('media marked as own words (form field, query, PATCH) feed it; other media do not', async () => {
    const before = await profile();
    // Not marked: nothing changes.
    await ingest(av, 'The county fair opens in June and closes in July. Tickets cost five dollars at the gate.', 'fair.txt');
    assert.deepEqual((await profile()).style, before.style);
    // Marked in the upload form.
    const marked = await ingest(av, LETTER, 'letter.txt', { fields: { own_words: 'true' } });
    assert.equal(marked.own_words, true);
    let p = await profile();
    assert.deepEqual(p.sources, { samples: 1, media: 1, transcripts: 0, model_evidence: 0 });
    assert.equal(p.samples, 2);
    assert.ok(p.style.words > before.style.words);
    assert.equal(p.style.greetings.howdy, 3);
    // PATCH marks (and unmarks) an upload afterwards; only editors may, and only own_words.
    const list = (await api(srv, 'GET', `/avatars/${av.id}/media`, { token: c.owner.token })).json.items;
    const fair = list.find((m) => m.filename === 'fair.txt');
    assert.equal(fair.own_words, false);
    let r = await api(srv, 'PATCH', `/media/${fair.id}`, { token: c.owner.token, body: { own_words: true } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.own_words, true);
    assert.equal((await profile()).sources.media, 2);
    r = await api(srv, 'PATCH', `/media/${fair.id}`, { token: c.owner.token, body: { own_words: false } });
    expectStatus(assert, r, 200);
    assert.equal((await profile()).sources.media, 1);
    r = await api(srv, 'PATCH', `/media/${fair.id}`, { token: c.owner.token, body: { filename: 'x' } });
    expectStatus(assert, r, 400);
    r = await api(srv, 'PATCH', `/media/${fair.id}`, { token: c.owner.token, body: { own_words: 'yes' } });
    expectStatus(assert, r, 400);
    r = await api(srv, 'PATCH', `/media/${fair.id}`, { token: c.member.token, body: { own_words: true } });
    expectStatus(assert, r, 404);
    // A raw upload says it in the query; a bad value is refused before anything is stored.
    const q = await request(srv, 'POST', `/avatars/${av.id}/media?filename=diary.txt&own_words=true`, {
      token: c.owner.token,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from('Dear diary, today was fine.'),
    });
    assert.equal(q.status, 202, q.text);
    assert.equal(q.json.media.own_words, true);
    const bad = await request(srv, 'POST', `/avatars/${av.id}/media?filename=x.txt&own_words=maybe`, {
      token: c.owner.token,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from('x'),
    });
    assert.equal(bad.status, 400, bad.text);
  });

  test('the avatar\'s own lines of a transcript count, the other speakers\' do not', async () => {
    const joe = await createAvatar(srv, c.owner.token, { name: 'Grandpa Joe' });
    await ingest(joe, CHAT, 'chat.txt');
    const p = await profile(joe.id);
    assert.deepEqual(p.sources, { samples: 0, media: 0, transcripts: 1, model_evidence: 0 });
    // Grandpa Joe's four lines hold 11 + 21 + 7 + 9 words; Emma's questions are not his words.
    assert.equal(p.style.words, 48, JSON.stringify(p.style));
    assert.equal(p.style.phrases.length, 0);
  });

  test('what it drives: the greeting of an avatar without one, and how it says it does not remember', async () => {
    const [hi, unknown] = await ask(av.id, 'Hi!', 'What did you think of the moon landing?');
    assert.equal(hi.text, 'Howdy!', 'its own most used opening word');
    assert.equal(unknown.text, "Sorry, I don't remember that one.", 'a casual register');
    const formal = await createAvatar(srv, c.owner.token, { name: 'Professor Hale' });
    await api(srv, 'POST', `/avatars/${formal.id}/training/personality`, {
      token: c.owner.token,
      body: { text: 'Dear colleagues, I shall therefore present the results. However, the committee must consequently reconsider. Furthermore, the budget is insufficient. Sincerely, Hale.' },
    });
    const [hello, nothing] = await ask(formal.id, 'Hello', 'What did you think of the moon landing?');
    assert.equal(hello.text, 'Dear!');
    assert.equal(nothing.text, "I am sorry, but I don't remember anything about that.");
    const blank = await createAvatar(srv, c.owner.token, { name: 'No Words Yet' });
    const [h2, n2] = await ask(blank.id, 'Hello', 'What did you think of the moon landing?');
    assert.equal(h2.text, 'Hello!');
    assert.equal(n2.text, "I'm sorry, I don't remember anything about that.");
  });
});
