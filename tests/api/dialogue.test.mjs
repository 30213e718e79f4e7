// Chat and dialogue transcripts: an uploaded WhatsApp export becomes utterance memories (speaker,
// order, source offsets) that the recall brain answers from; a normal document still becomes
// passages; re-running the media.ingest job replaces the memories instead of adding to them.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, cast, createAvatar, eventually, expectStatus, startAvatars, uploadOk, waitMedia } from './lib/avatars.mjs';
import { REPO } from './lib/server.mjs';

const ingestFixture = (name) => fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'ingest', name));
const CHAT = ingestFixture('chat.txt');

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

/* Uploads bytes as the owner and waits for the media to settle; resolves {up, media}. */
async function ingest(av, bytes, filename) {
  const up = await uploadOk(srv, c.owner.token, av.id, bytes, filename);
  const media = await waitMedia(srv, c.owner.token, up.media.id, settled, 15000);
  assert.equal(media?.status, 'ready', JSON.stringify(media));
  return { up, media };
}

/* The memories of one media item, in listing order (by id, i.e. in the order they were stored). */
async function memoriesOf(av, mediaId) {
  const r = await api(srv, 'GET', `/avatars/${av.id}/memories?limit=200`, { token: c.owner.token });
  expectStatus(assert, r, 200);
  assert.equal(r.json.next_cursor, null, 'one page holds them all');
  return r.json.items.filter((m) => m.source?.media_id === mediaId);
}

/* The speakers of the fixture's messages, read the way a person would: "date, time - Name: text"
 * (a "<Media omitted>" line is WhatsApp's, not something said). */
function expectedSpeakers(buf) {
  return buf
    .toString('utf8')
    .split('\n')
    .filter((l) => !l.endsWith(': <Media omitted>'))
    .map((l) => /^\d\d\/\d\d\/\d{4}, \d\d:\d\d - ([A-Za-z ]+): /.exec(l)?.[1])
    .filter(Boolean);
}

/* Runs one SQL statement on the server's own database (sqlite3 or psql), or returns why it cannot. */
function sqlTool() {
  const bin = srv.backend === 'postgres' ? 'psql' : 'sqlite3';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return probe.error ? `the ${bin} command-line client is not installed` : null;
}
function sql(statement) {
  if (srv.backend === 'postgres')
    return execFileSync('psql', [srv.databaseUrl, '-v', 'ON_ERROR_STOP=1', '-qAtc', statement], { encoding: 'utf8' });
  return execFileSync('sqlite3', ['-cmd', '.timeout 10000', path.join(srv.dataDir, 'doppel.db'), statement], {
    encoding: 'utf8',
  });
}

describe('dialogue transcripts', () => {
  let av;
  const items = {}; // name → {up, media}
  before(async () => {
    av = await createAvatar(srv, c.owner.token);
    items.chat = await ingest(av, CHAT, 'chat.txt');
    items.notes = await ingest(av, ingestFixture('notes.md'), 'notes.md');
  });

  test('a WhatsApp export becomes utterances with speakers, in order, and the media meta says so', async () => {
    const { up, media } = items.chat;
    const speakers = expectedSpeakers(CHAT);
    assert.equal(speakers.length, 23);
    assert.equal(media.meta.utterances, 23, JSON.stringify(media.meta));
    assert.equal(media.meta.speakers, 3);
    assert.equal(media.meta.passages, undefined);
    assert.equal(media.meta.chars, CHAT.length - 1, 'the extracted text: the file less its final line end');
    assert.equal(media.status_detail, 'dialogue transcript stored as 23 utterances');
    const listed = (await api(srv, 'GET', `/avatars/${av.id}/media`, { token: c.owner.token })).json.items;
    assert.deepEqual(listed.find((m) => m.id === up.media.id)?.meta, media.meta, 'the listing shows the same meta');

    const mems = await memoriesOf(av, up.media.id);
    assert.equal(mems.length, 23);
    for (const m of mems) assert.equal(m.kind, 'utterance', JSON.stringify(m));
    assert.deepEqual(
      mems.map((m) => m.speaker),
      speakers,
    );
    assert.ok(mems.some((m) => m.speaker === 'Grandpa Joe'));
    // System lines ("Messages and calls are end-to-end encrypted", "… changed the subject") are not memories.
    assert.ok(!mems.some((m) => /end-to-end|changed the subject|created group|<Media omitted>/.test(m.text)));
    // The offsets are bytes of the extracted text, here the file itself; each text is exactly its excerpt.
    let prev = -1;
    for (const m of mems) {
      assert.ok(m.source.char_start > prev, 'later utterances, later offsets');
      prev = m.source.char_start;
      assert.equal(CHAT.subarray(m.source.char_start, m.source.char_end).toString('utf8'), m.text);
      assert.equal(m.source.page, null);
    }
    assert.equal(mems[0].text, 'Morning Grandpa! Are we still going to the lake on Sunday?');
    // A continuation line joins its message, even one that looks like "Note: …".
    const worms = mems.find((m) => m.text.startsWith('Worms'));
    assert.match(worms.text, /sweetcorn\.\nYour grandmother swore by sweetcorn/);
    const pickle = mems.find((m) => m.text.startsWith('Cheese and pickle for me'));
    assert.equal(pickle.speaker, 'Grandpa Joe');
    assert.match(pickle.text, /\nNote: no mustard/);
  });

  test("each utterance occurred when the chat's timestamp says (day/month order read from the whole file)", async () => {
    const mems = await memoriesOf(av, items.chat.up.media.id);
    // The fixture's stamps are day first (14/06/2023): each line's own, as UTC wall-clock time.
    const stamps = CHAT.toString('utf8')
      .split('\n')
      .filter((l) => !l.endsWith(': <Media omitted>'))
      .map((l) => /^(\d\d)\/(\d\d)\/(\d{4}), (\d\d):(\d\d) - [A-Za-z ]+: /.exec(l))
      .filter(Boolean)
      .map(([, d, m, y, hh, mm]) => `${y}-${m}-${d}T${hh}:${mm}:00.000Z`);
    assert.deepEqual(
      mems.map((m) => m.occurred_at),
      stamps,
    );
    // An iOS export written month first (no day over 12 in its first line; 4/14 later says so).
    const ios = Buffer.from(
      '[4/5/21, 9:15:02 PM] Anna: Did you see the harbour?\n' +
        '[4/5/21, 9:16:40 PM] Ben: Yes, from the pier\n' +
        '[4/14/21, 8:03:00 AM] Anna: Back home now\n' +
        '[4/14/21, 8:04:10 AM] Ben: Welcome back\n',
    );
    const { up } = await ingest(av, ios, 'ios-chat.txt');
    const times = (await memoriesOf(av, up.media.id)).map((m) => m.occurred_at);
    assert.deepEqual(times, [
      '2021-04-05T21:15:02.000Z',
      '2021-04-05T21:16:40.000Z',
      '2021-04-14T08:03:00.000Z',
      '2021-04-14T08:04:10.000Z',
    ]);
    // A plain transcript has no times.
    const plain = Buffer.from('Anna: Hello there\nBen: Hi Anna\nAnna: How was the sea?\nBen: Calm and grey\n');
    const p = await ingest(av, plain, 'plain-chat.txt');
    for (const m of await memoriesOf(av, p.up.media.id)) assert.equal(m.occurred_at, null);
  });

  test('the recall brain answers a line of the chat with what the other speaker said next', async () => {
    const conv = await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token: c.owner.token });
    expectStatus(assert, conv, 201);
    const r = await api(srv, 'POST', `/conversations/${conv.json.conversation.id}/messages`, {
      token: c.owner.token,
      body: { text: 'What bait should I buy at the shop?' },
    });
    expectStatus(assert, r, 201);
    assert.match(r.json.message.text, /^Worms, a small tub\./, JSON.stringify(r.json.message));
    assert.equal(r.json.message.citations[0].source.media_id, items.chat.up.media.id);
  });

  test('a normal document still becomes passages', async () => {
    const { up, media } = items.notes;
    assert.ok(media.meta.passages >= 1, JSON.stringify(media.meta));
    assert.equal(media.meta.utterances, undefined);
    assert.equal(media.status_detail, 'text extracted and stored as passages');
    const mems = await memoriesOf(av, up.media.id);
    assert.equal(mems.length, media.meta.passages);
    for (const m of mems) {
      assert.equal(m.kind, 'passage');
      assert.equal(m.speaker, null);
    }
  });

  test('re-running the ingest job replaces the memories instead of adding to them', async (t) => {
    const why = sqlTool();
    if (why) {
      t.skip(why);
      return;
    }
    for (const name of ['chat', 'notes']) {
      const { up, media } = items[name];
      const before = await memoriesOf(av, up.media.id);
      assert.ok(before.length > 0);
      // A finished job is re-run the way an admin re-queues a dead one: mark it dead, then retry.
      const jobId = up.job?.id || media.job_id;
      assert.ok(jobId, JSON.stringify(up));
      sql(`UPDATE jobs SET status = 'dead' WHERE id = '${jobId}' AND status = 'done'`);
      const r = await api(srv, 'POST', `/jobs/${jobId}/retry`, { token: c.admin.token });
      expectStatus(assert, r, 200, undefined, `retry ${name}`);
      const oldIds = new Set(before.map((m) => m.id));
      const after = await eventually(
        async () => {
          const now = await memoriesOf(av, up.media.id);
          const job = (await api(srv, 'GET', `/jobs/${jobId}`, { token: c.admin.token })).json;
          return job.status === 'done' && now.length && !now.some((m) => oldIds.has(m.id)) ? now : null;
        },
        { timeoutMs: 15000, intervalMs: 100 },
      );
      assert.ok(after, `${name}: the re-run stored new memories`);
      assert.equal(after.length, before.length, `${name}: as many memories as before, none twice`);
      assert.deepEqual(
        after.map((m) => [m.kind, m.speaker, m.text, m.source.char_start, m.source.char_end]),
        before.map((m) => [m.kind, m.speaker, m.text, m.source.char_start, m.source.char_end]),
      );
      const again = await waitMedia(srv, c.owner.token, up.media.id, settled);
      assert.deepEqual(again.meta, media.meta);
    }
    // seq is stored as 0, 1, 2 … in text order (the recall brain's "what came next").
    const seqs = sql(
      `SELECT seq FROM memories WHERE media_id = '${items.chat.up.media.id}' ORDER BY char_start`,
    ).trim().split('\n').map(Number);
    assert.deepEqual(seqs, Array.from({ length: 23 }, (_, i) => i));
  });
});

describe('what a chat app writes in someone\'s name is not something they said', () => {
  test('attachments, deletions, calls, the encryption notice: no utterance; a caption is the sender\'s', async () => {
    const av = await createAvatar(srv, c.owner.token);
    const LRM = '\u200e';
    const ios = [
      `[02/05/2022, 18:00:00] Harbour Family: ${LRM}Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.`,
      '[02/05/2022, 18:01:10] Marit: Did anyone feed the cat today?',
      `${LRM}[02/05/2022, 18:01:40] Olav: ${LRM}image omitted`,
      `${LRM}[02/05/2022, 18:01:50] Olav: ${LRM}<attached: 00000031-PHOTO-2022-05-02-18-01-50.jpg>`,
      '[02/05/2022, 18:02:05] Olav: She had the salmon skin from dinner',
      `[02/05/2022, 18:02:30] Marit: ${LRM}This message was deleted.`,
      `[02/05/2022, 18:03:00] Olav: ${LRM}Missed voice call, ${LRM}Tap to call back`,
      '[02/05/2022, 18:03:30] Marit: Then she will sleep all evening <This message was edited>',
      `[02/05/2022, 18:04:00] Olav: ${LRM}sticker omitted`,
      '[02/05/2022, 18:04:30] Olav: On the blue blanket by the stove',
      '[02/05/2022, 18:05:00] Marit: null',
      '[02/05/2022, 18:05:10] Marit: Good, then nobody has to go out in the rain',
    ].join('\n');
    const android = [
      '03/05/2022, 09:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.',
      '03/05/2022, 09:01 - Marit: Morning! The ferry is late again',
      '03/05/2022, 09:02 - Olav: <Media omitted>',
      '03/05/2022, 09:02 - Olav: IMG-20220503-WA0004.jpg (file attached)',
      'the queue at the pier',
      '03/05/2022, 09:03 - Marit: You deleted this message',
      '03/05/2022, 09:04 - Marit: Missed video call',
      '03/05/2022, 09:05 - Olav: I will take the bus instead',
      '03/05/2022, 09:06 - Marit: Take an umbrella',
    ].join('\n');
    for (const [name, text, said] of [
      ['ios-chat.txt', ios, [
        ['Marit', 'Did anyone feed the cat today?'],
        ['Olav', 'She had the salmon skin from dinner'],
        ['Marit', 'Then she will sleep all evening'],
        ['Olav', 'On the blue blanket by the stove'],
        ['Marit', 'Good, then nobody has to go out in the rain'],
      ]],
      ['android-chat.txt', android, [
        ['Marit', 'Morning! The ferry is late again'],
        ['Olav', 'the queue at the pier'],
        ['Olav', 'I will take the bus instead'],
        ['Marit', 'Take an umbrella'],
      ]],
    ]) {
      const { up, media } = await ingest(av, Buffer.from(text + '\n'), name);
      assert.equal(media.meta.utterances, said.length, `${name}: ${JSON.stringify(media.meta)}`);
      assert.equal(media.meta.speakers, 2, `${name}: the chat's own name said nothing`);
      const mems = await memoriesOf(av, up.media.id);
      assert.deepEqual(mems.map((m) => [m.speaker, m.text]), said, name);
      for (const m of mems) assert.equal(m.kind, 'utterance');
    }
    // Nothing of the notices can be found or quoted.
    for (const q of ['omitted', 'attached', 'deleted', 'encrypted', 'missed call', 'null', 'edited']) {
      const r = await api(srv, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent(q)}`, { token: c.owner.token });
      expectStatus(assert, r, 200);
      assert.deepEqual(r.json.items.map((m) => m.text), [], `search "${q}"`);
    }
  });
});
