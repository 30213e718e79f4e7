// The recordings page: a device (the reference client, `doppel capture`) streams speech; the page
// lists the conversation and the connected devices, shows its speech segments, transcript and
// memories, plays the recording from a transcript line's time, and reprocesses it (version 2).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launch, newPage, PASSWORD, shot, signUp, startServer, uniqEmail } from './lib/browser.mjs';
import { binPath } from '../api/lib/server.mjs';
import { concat, say, silence, wav, withNoise } from '../api/lib/speech.mjs';

let srv, browser, page, token;
const EMAIL = uniqEmail('rec');

before(async () => {
  [srv, browser] = await Promise.all([startServer({ args: ['--capture-sync-ms', '20', '--capture-silence-close', '2'] }), launch()]);
  page = await newPage(browser, srv.url);
  await signUp(page, EMAIL, 'Rita');
  const r = await fetch(`${srv.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  token = (await r.json()).access_token;
  assert.ok(token);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

test('a device conversation: listed, transcribed, played from a line, reprocessed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-rec-'));
  const file = path.join(dir, 'talk.wav');
  fs.writeFileSync(file, wav(withNoise(concat(silence(500), say('my brother keeps bees in the garden'), silence(800)), 60)));
  await new Promise((res, rej) =>
    execFile(binPath(), ['capture', file, '--url', srv.url, '--token', token, '--device', 'phone'], (e, out, err) => (e ? rej(new Error(err || e.message)) : res())));
  fs.rmSync(dir, { recursive: true, force: true });

  await page.goto('/recordings');
  await page.getByRole('heading', { name: 'Recordings', level: 1 }).waitFor();
  await page.locator('#device-list').waitFor();
  const row = page.locator('#recording-list li').first();
  await row.getByText('phone').waitFor();
  await row.locator('.pill', { hasText: 'ready' }).waitFor({ timeout: 60000 });
  await shot(page, 'recordings-list');
  await row.locator('a').click();
  await page.locator('#transcript li').first().waitFor();
  assert.ok((await page.locator('.rec-seg').count()) >= 1, 'speech segments on the bar');
  assert.ok((await page.locator('#rec-memories li').count()) >= 1, 'the memories it made');
  const text = (await page.locator('#transcript').innerText()).toLowerCase();
  assert.ok(/bees|garden|brother/.test(text), text);
  // A line's time plays the recording from there.
  await page.locator('audio.rec-audio').waitFor({ state: 'attached' });
  await page.locator('#transcript li button.ts').first().click();
  const played = await page.waitForFunction(() => {
    const a = document.querySelector('audio.rec-audio');
    return a && !a.paused && a.currentTime > 0 ? a.currentTime : null;
  });
  assert.ok((await played.jsonValue()) >= 0);
  await shot(page, 'recording-detail');
  await page.getByRole('button', { name: 'Reprocess' }).click();
  await page.getByText('version 2').waitFor({ timeout: 60000 });
  assert.deepEqual(page.errors, []);
});

test('the silence setting is saved and refused outside 2 s – 4 h', async () => {
  await page.goto('/recordings');
  const input = page.getByLabel('Seconds of silence after speech');
  await input.fill('1');
  assert.equal(await input.evaluate((el) => el.checkValidity()), false, 'under 2 s is not sent');
  await input.fill('45');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  await page.reload();
  assert.equal(await page.getByLabel('Seconds of silence after speech').inputValue(), '45');
  assert.deepEqual(page.errors, []);
});
