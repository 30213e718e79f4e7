// Avatars beyond the main journey: card import (picker and drag-and-drop), export, hand-made memories
// with versions, a portrait from an uploaded picture, deletion, and errors worded for people.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { launch, newPage, shot, signUp, startServer, uniqEmail } from './lib/browser.mjs';
import { toneWav } from '../api/lib/wav.mjs';

let srv, browser, page;
let nemoUrl = '';
const EMAIL = uniqEmail('cards');

before(async () => {
  [srv, browser] = await Promise.all([startServer(), launch()]);
  page = await newPage(browser, srv.url);
  await signUp(page, EMAIL, 'Carla');
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

const card = (name, description, greeting) => JSON.stringify({
  spec: 'chara_card_v2', spec_version: '2.0',
  data: { name, description, personality: 'curious, precise', scenario: '', first_mes: greeting, mes_example: '', creator_notes: '', system_prompt: '', post_history_instructions: '', alternate_greetings: [], tags: [], creator: '', character_version: '1', extensions: {} },
});

/* A small RGB PNG (a gradient), made here so that no binary file is needed. */
function png(w = 48, h = 48) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) raw.set([x * 5, y * 5, 160], y * (w * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

test('import a character card with the file picker', async () => {
  await page.goto('/avatars/new');
  await page.locator('.dropzone input[type=file]').setInputFiles({ name: 'nemo.json', mimeType: 'application/json', buffer: Buffer.from(card('Captain Nemo', 'Commander of the Nautilus.', 'Welcome aboard the Nautilus.')) });
  await page.getByRole('heading', { name: 'Captain Nemo', level: 1 }).waitFor();
  nemoUrl = new URL(page.url()).pathname;
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.locator('.msg.theirs', { hasText: 'Welcome aboard the Nautilus.' }).waitFor();
});

test('import a character card by dropping it on the page', async () => {
  await page.goto('/');
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'ada.json', { type: 'application/json' }));
    for (const type of ['dragenter', 'dragover', 'drop']) document.querySelector('#main').dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, card('Ada Lovelace', 'Mathematician and writer.', 'Good day. Shall we talk about engines?'));
  await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
  await page.locator('#avatar-list').getByText('Ada Lovelace').waitFor();
});

test('export a card as JSON', async () => {
  await page.goto(nemoUrl + '/edit');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  const j = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.equal(j.data.name, 'Captain Nemo');
  assert.match(download.suggestedFilename(), /Captain_Nemo\.json$/);
});

test('export a card as PNG and import that picture back as a copy', async () => {
  await page.goto(nemoUrl + '/edit');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()]);
  const buf = fs.readFileSync(await download.path());
  assert.equal(buf.subarray(1, 4).toString(), 'PNG');
  await page.goto('/avatars/new');
  await page.locator('.dropzone input[type=file]').setInputFiles({ name: 'nemo-card.png', mimeType: 'image/png', buffer: buf });
  await page.getByRole('heading', { name: 'Captain Nemo', level: 1 }).waitFor();
  assert.notEqual(new URL(page.url()).pathname, nemoUrl, 'a new avatar');
  await page.locator('#avatar-list').getByText('Captain Nemo').nth(1).waitFor();
});

test('add a memory, edit it (a new version with history) and delete it', async () => {
  await page.goto(nemoUrl + '/memories');
  await page.getByText('No memories yet').waitFor();
  await page.getByText('Add a memory by hand').click();
  await page.getByLabel('Memory', { exact: true }).fill('The Nautilus dives to twenty thousand leagues.');
  await page.getByRole('button', { name: 'Add memory' }).click();
  const mem = page.locator('.memory', { hasText: 'twenty thousand leagues' });
  await mem.waitFor();
  await mem.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Memory text').fill('The Nautilus dives to twenty thousand leagues under the sea.');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const edited = page.locator('.memory', { hasText: 'under the sea' });
  await edited.getByRole('button', { name: /version 2/ }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByText('version 1', { exact: false }).waitFor();
  await dlg.getByText('The Nautilus dives to twenty thousand leagues.', { exact: true }).waitFor();
  await shot(page, 'avatars-01-memory-history');
  await dlg.getByRole('button', { name: 'Close' }).click();
  await edited.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Memory deleted.').waitFor();
  assert.equal(await page.locator('.memory', { hasText: 'under the sea' }).count(), 0);
});

test('an uploaded picture becomes the portrait when chosen, and can be removed', async () => {
  await page.goto(nemoUrl + '/media');
  await page.locator('.dropzone input[type=file]').setInputFiles({ name: 'nemo.png', mimeType: 'image/png', buffer: png() });
  const row = page.locator('.media-row', { hasText: 'nemo.png' });
  await row.locator('.pill.status-ready').waitFor({ timeout: 20000 });
  assert.equal(await page.locator('.avatar-head .badge img').count(), 0, 'a picture is not a portrait until chosen');
  await row.getByRole('button', { name: 'Use nemo.png as the portrait' }).click();
  await page.getByText('is now Captain Nemo’s portrait').waitFor();
  await page.locator('.media-row', { hasText: 'nemo.png' }).locator('.portrait-pill').waitFor();
  await page.goto(nemoUrl);
  await page.locator('.avatar-head .badge img').waitFor();
  await page.locator('#avatar-list .side-item[aria-current=page] .badge img').waitFor();
  await shot(page, 'avatars-02-portrait');
  await page.reload();
  await page.goto('/');
  await page.locator('.avatar-card', { hasText: 'Captain Nemo' }).first().locator('.badge img').waitFor();
  await page.goto(nemoUrl + '/edit');
  await page.locator('.portrait-now .badge img').waitFor();
  await page.getByRole('button', { name: 'Remove portrait' }).click();
  await page.getByText('The portrait was removed').waitFor();
  await page.getByText('No portrait yet.').waitFor();
  assert.equal(await page.locator('.avatar-head .badge img').count(), 0);
});

test('files dropped anywhere on the media page are uploaded there', async () => {
  await page.goto(nemoUrl + '/media');
  await page.locator('.media-row').first().waitFor();
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['Nemo kept a journal of every dive, written in a small black notebook.'], 'journal.txt', { type: 'text/plain' }));
    for (const type of ['dragenter', 'dragover', 'drop']) document.querySelector('.avatar-head').dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.locator('.media-row', { hasText: 'journal.txt' }).locator('.pill.status-ready').waitFor({ timeout: 20000 });
});

test('a reply quoting a recording has a play button that plays its clip', async () => {
  await page.goto(nemoUrl + '/media');
  await page.locator('.dropzone input[type=file]').setInputFiles({ name: 'voice.wav', mimeType: 'audio/wav', buffer: toneWav() });
  const row = page.locator('.media-row', { hasText: 'voice.wav' });
  await row.waitFor();
  await row.locator('.pill:not(.status-queued):not(.status-processing)').waitFor({ timeout: 20000 });
  // A memory said in that recording, from 0:00.25 to 0:01.25.
  await page.goto(nemoUrl + '/memories');
  await page.getByText('Add a memory by hand').click();
  await page.getByLabel('Memory', { exact: true }).fill('The Nautilus sails under the polar ice.');
  await page.getByLabel('Kind').selectOption('utterance');
  await page.getByLabel('Said in the recording').selectOption({ label: 'voice.wav' });
  await page.getByLabel('From (m:ss)').fill('0:00.25');
  await page.getByLabel('To (m:ss)').fill('0:01.25');
  await page.getByRole('button', { name: 'Add memory' }).click();
  await page.locator('.memory', { hasText: 'polar ice' }).getByRole('link', { name: /Source at 0:00/ }).waitFor();
  await page.goto(nemoUrl + '/talk');
  await page.getByLabel('Your message').fill('Where does the Nautilus sail under the polar ice?');
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.locator('.msg.theirs').last();
  await reply.locator('.bubble-text', { hasText: 'polar ice' }).waitFor();
  const play = reply.getByRole('button', { name: 'Play this reply' });
  await play.waitFor();
  const src = await reply.locator('audio').getAttribute('src');
  const res = await page.evaluate((u) => fetch(u).then((x) => [x.status, x.headers.get('content-type')]), src);
  assert.deepEqual([res[0], /^audio\/wav/.test(res[1])], [200, true], 'the signed link plays without a header');
  await play.click();
  await page.waitForFunction(() => [...document.querySelectorAll('.msg audio')].some((a) => a.currentTime > 0 || a.ended));
  // The memory links to its recording at the span's start.
  await page.goto(nemoUrl + '/memories?q=polar');
  await page.locator('.memory a', { hasText: 'Source at 0:00' }).click();
  await page.locator('.media-view audio').waitFor();
  await shot(page, 'avatars-03-audio');
});

test('delete an avatar after confirming', async () => {
  await page.goto(nemoUrl + '/edit');
  await page.getByRole('button', { name: 'Delete avatar' }).waitFor();
  const before = await page.locator('#avatar-list').getByText('Captain Nemo').count();
  await page.getByRole('button', { name: 'Delete avatar' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Delete avatar' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete for good' }).click();
  await page.getByText('Captain Nemo was deleted.').waitFor();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
  assert.equal(await page.locator('#avatar-list').getByText('Captain Nemo').count(), before - 1);
  await page.goto(nemoUrl);
  await page.getByRole('heading', { name: 'Avatar not found' }).waitFor();
  assert.deepEqual(page.errors, []);
});

test('errors are worded for people', async () => {
  const p = await newPage(browser, srv.url);
  try {
    await p.goto('/login');
    await p.getByLabel('E-mail').fill('nobody@example.test');
    await p.getByLabel('Password').fill('not the password');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('alert').getByText('That e-mail and password do not match an account.').waitFor();
    await p.goto('/legacy/no-such-page');
    await p.getByRole('heading', { name: 'This page is not available' }).waitFor();
    await p.goto('/settings');
    await p.getByRole('heading', { name: 'Welcome back' }).waitFor();
    assert.match(p.url(), /\/login\?next=%2Fsettings$/);
  } finally {
    await p.context().close();
  }
});
