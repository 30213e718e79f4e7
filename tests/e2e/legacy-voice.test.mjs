// A legacy page's visitor talks by voice: no account, the page's "Voice" button opens the same
// voice panel as Talk (web/js/voice.js) on the visitor's own conversation; Chromium's fake
// microphone asks a question synthesized at test time, the transcript becomes the visitor's
// message, the reply plays and the face moves. A page whose owner turned visitors' conversations
// off offers neither text nor voice.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { questionWav } from './lib/speech.mjs';
import { apiCall, launch, newPage, PASSWORD, shot, startServer, uniqEmail } from './lib/browser.mjs';

let srv, browser, page, dir, token, ownerToken, pub;

const call = (method, p, body) => apiCall(srv.url, method, p, token, body);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-e2e-legacy-voice-'));
  const wav = path.join(dir, 'question.wav');
  questionWav(wav, 'Tell me about the lighthouse.');
  [srv, browser] = await Promise.all([
    startServer(),
    launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required']),
  ]);
  const s = await call('POST', '/auth/signup', { email: uniqEmail('legacy-voice'), password: PASSWORD, display_name: 'Owner' });
  token = ownerToken = s.access_token;
  pub = await call('POST', '/avatars', { name: 'Keeper Jon', kind: 'legacy', visibility: 'public', publish: ['name', 'greeting'], greeting: 'Hello there.' });
  await call('POST', `/avatars/${pub.id}/memories`, { text: 'The lighthouse at Skagen guided every ship home through the winter storms.' });
  token = null; // the visitor has no account
  page = await newPage(browser, srv.url);
  await page.context().grantPermissions(['microphone']);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a visitor talks by voice on the legacy page: transcript, reply audio, a moving face, stored in their conversation', async () => {
  await page.goto(`/legacy/${pub.slug}`);
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.getByLabel('Your message').waitFor();
  await page.getByRole('button', { name: 'Voice', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('.voice-panel')?.dataset.state === 'listening', null, { timeout: 15000 });
  const mine = page.locator('.chat-log .msg.mine').last();
  await mine.waitFor({ timeout: 30000 });
  assert.match(await mine.textContent(), /\w/);
  await page.waitForFunction(() => Number(document.querySelector('.voice-panel').dataset.audioMs) > 500, null, { timeout: 30000 });
  await page.waitForFunction(() => Number(document.querySelector('.face').dataset.moves) >= 4, null, { timeout: 15000 });
  await shot(page, 'legacy-voice');
  assert.notEqual(await page.locator('.voice-panel').getAttribute('data-state'), 'error');
  // The turn is the visitor's conversation's: their text history shows it after a reload.
  await page.locator('.chat-log .msg.theirs').last().getByText('Timing').waitFor({ timeout: 30000 });
  await page.getByRole('button', { name: 'End voice' }).click();
  await page.reload();
  await page.getByLabel('Your message').waitFor();
  assert.ok((await page.locator('.chat-log .msg.mine').count()) >= 1, 'the spoken question is in the history');
  assert.deepEqual(page.errors, []);
});

test('visitors turned off: no conversation, no voice', async () => {
  token = ownerToken;
  await call('PATCH', `/avatars/${pub.id}`, { visitor_talk: false });
  token = null;
  await page.goto(`/legacy/${pub.slug}`);
  await page.getByText('Conversations are turned off for this page.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Voice', exact: true }).count(), 0);
  assert.equal(await page.getByLabel('Your message').count(), 0);
  assert.deepEqual(page.errors, []);
});
