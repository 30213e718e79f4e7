// Voice talk in the browser: Chromium's fake microphone plays a question synthesized at test time
// (espeak-ng), the page streams it over the voice WebSocket, the transcript appears, the reply's
// audio plays through Web Audio and its visemes move the face; push-to-talk sends a turn on
// release and barges in over a playing reply; the panel fits a phone; a server that refuses the
// socket gets a clear note. Voice training: recording, replay, re-record, and the profile chart.
// Needs the voice backend (branch `voice`, with the speech engines); the last test needs voice
// training (branch `speech`) and skips itself on a server whose OpenAPI marks it not implemented.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { questionWav } from './lib/speech.mjs';
import { apiCall, launch, newPage, overflowX, PASSWORD, shot, startServer, uniqEmail, unlabelled } from './lib/browser.mjs';

let srv, browser, page, avatar, token, email, dir;

const call = (method, p, body) => apiCall(srv.url, method, p, token, body);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-e2e-voice-'));
  const wav = path.join(dir, 'question.wav');
  questionWav(wav);
  [srv, browser] = await Promise.all([
    startServer(),
    launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required']),
  ]);
  email = uniqEmail('voice');
  const s = await call('POST', '/auth/signup', { email, password: PASSWORD, display_name: 'Vera Voice' });
  token = s.access_token;
  avatar = await call('POST', '/avatars', { name: 'Keeper Jon', kind: 'character', greeting: 'Hello there.' });
  await call('POST', `/avatars/${avatar.id}/memories`, { text: 'The lighthouse at Skagen guided every ship home through the winter storms.' });
  page = await newPage(browser, srv.url);
  await page.context().grantPermissions(['microphone']);
  if (process.env.DEBUG_VOICE) page.on('websocket', (ws) => {
    let sent = 0;
    ws.on('framesent', (f) => { if (typeof f.payload !== 'string') { if (!(sent++ % 50)) console.log('sent', sent, f.payload.length); } else console.log('>', f.payload); });
    ws.on('framereceived', (f) => typeof f.payload === 'string' && console.log('<', f.payload.slice(0, 200)));
  });
  if (process.env.DEBUG_VOICE) page.on('console', (m) => console.log('console', m.text()));
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const panelState = () => page.locator('.voice-panel').getAttribute('data-state');

test('hands-free: the question is transcribed, the reply plays and the face moves; timing on demand', async () => {
  await page.goto(`/avatars/${avatar.id}/talk`);
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.getByLabel('Your message').waitFor();
  await page.getByRole('button', { name: 'Voice', exact: true }).click();
  const panel = page.locator('.voice-panel');
  await panel.waitFor();
  await page.waitForFunction(() => document.querySelector('.voice-panel').dataset.state === 'listening', null, { timeout: 15000 });
  // The transcript of the fake microphone's question becomes my message; the reply streams under it.
  const mine = page.locator('.chat-log .msg.mine').last();
  await mine.waitFor({ timeout: 30000 });
  assert.match(await mine.textContent(), /\w/);
  const replyBubble = page.locator('.chat-log .msg.theirs').last();
  // The reply's audio is played: the panel counts what Web Audio scheduled; the mouth moved.
  await page.waitForFunction(() => Number(document.querySelector('.voice-panel').dataset.audioMs) > 500, null, { timeout: 30000 });
  await page.waitForFunction(() => Number(document.querySelector('.face').dataset.moves) >= 4, null, { timeout: 15000 });
  await shot(page, 'voice-talking');
  await replyBubble.getByText('Timing').waitFor({ timeout: 30000 });
  await replyBubble.getByText('Timing').click();
  await replyBubble.getByText('Whole turn').waitFor();
  assert.match(await replyBubble.locator('.latency').textContent(), /\d+ ms/);
  assert.notEqual(await panelState(), 'error', await panel.locator('.voice-state').textContent());
  assert.deepEqual(page.errors, []);
});

test('push-to-talk: nothing is sent until the button is held, releasing it ends the turn, pressing it over the reply silences it (barge-in)', async () => {
  const before = await page.locator('.chat-log .msg.mine').count();
  await page.getByLabel('How to talk').selectOption('manual');
  const talk = page.getByRole('button', { name: 'Hold to talk' });
  await talk.waitFor();
  await page.waitForFunction(() => document.querySelector('.voice-panel').dataset.state === 'listening', null, { timeout: 15000 });
  await page.waitForTimeout(3000);
  assert.equal(await page.locator('.chat-log .msg.mine').count(), before, 'no turn without the button');
  await talk.hover();
  await page.mouse.down();
  await page.waitForTimeout(9000); // a whole loop of the fake microphone's file: the question is in it
  await page.mouse.up();
  await page.waitForFunction((n) => document.querySelectorAll('.chat-log .msg.mine').length > n, before, { timeout: 30000 });
  // Barge-in: pressing the button while the reply plays silences it at once and cancels it.
  await page.waitForFunction(() => document.querySelector('.voice-panel').dataset.playing === '1', null, { timeout: 30000 });
  await page.mouse.down();
  assert.equal(await page.locator('.voice-panel').getAttribute('data-playing'), '0', 'flushed at once');
  await page.locator('.chat-log .msg.theirs').last().getByText('interrupted').waitFor({ timeout: 15000 });
  await page.mouse.up();
  await page.getByRole('button', { name: 'End voice' }).click();
  await page.locator('.voice-panel').waitFor({ state: 'detached' });
  assert.deepEqual(page.errors, []);
});

test('phone width: the voice panel fits, its controls are labelled', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Voice', exact: true }).click();
  await page.locator('.voice-panel .face').waitFor();
  assert.equal(await overflowX(page), 0);
  assert.ok(await page.getByRole('button', { name: 'End voice' }).isVisible());
  assert.deepEqual(await unlabelled(page), []);
  await shot(page, 'voice-phone');
  await page.getByRole('button', { name: 'End voice' }).click();
  await page.setViewportSize({ width: 1280, height: 860 });
});

test('a server that refuses the voice socket: a clear note, the text chat keeps working', async () => {
  await page.routeWebSocket(/\/voice/, (ws) => ws.close({ code: 1011, reason: '' }));
  await page.getByRole('button', { name: 'Voice', exact: true }).click();
  await page.getByText('Voice conversations are not available on this server yet.').waitFor();
  await page.getByRole('button', { name: 'End voice' }).click();
  await page.getByLabel('Your message').fill('Still there?');
  await page.keyboard.press('Enter');
  await page.locator('.chat-log .msg.mine', { hasText: 'Still there?' }).waitFor();
  assert.deepEqual(page.errors, []);
});

/* Whether this server trains voices (the route is not marked not_implemented in its OpenAPI). */
async function trainsVoices() {
  const doc = await (await fetch(srv.url + '/api/v1/openapi.json')).json();
  const op = doc.paths['/api/v1/avatars/{id}/training/voice'];
  return !!op && op.post && op.post['x-doppel-status'] !== 'not_implemented';
}

/* Makes this page see a server without voice training: the profile's voice is not available, or
 * (when it looks available) a sample is refused with 501 not_implemented. */
async function withoutVoiceTraining(status) {
  await page.route('**/api/v1/avatars/*/profile', async (route) => {
    const r = await route.fetch();
    const j = await r.json();
    j.voice = { status, progress: 0 };
    return route.fulfill({ response: r, json: j });
  });
  await page.route('**/api/v1/avatars/*/training/voice', (route) =>
    route.fulfill({ status: 501, json: { error: { code: 'not_implemented', message: 'not implemented' } } }));
}

test('voice training on a server without it: the panel says so and offers nothing that cannot work', async () => {
  await withoutVoiceTraining('not_available');
  await page.goto(`/avatars/${avatar.id}/training`);
  const panel = page.locator('.voice-train');
  await panel.getByText('Voice training is not available on this server yet.').waitFor();
  for (const b of await panel.getByRole('button').all()) assert.equal(await b.isDisabled(), true);
  assert.equal(await panel.getByLabel('Or upload a recording of them').isDisabled(), true);
  await page.unrouteAll();
  assert.deepEqual(page.errors, []);
});

test('voice training records with the microphone (level meter, replay, re-record); a 501 on sending is a clear note', async () => {
  await withoutVoiceTraining('empty');
  await page.goto(`/avatars/${avatar.id}/training`);
  const first = page.locator('.voice-train .sample').first();
  await first.getByRole('button', { name: 'Record' }).click();
  await page.waitForFunction(() => document.querySelector('.sample meter').value > 0.01, null, { timeout: 5000 });
  await first.getByRole('button', { name: 'Stop' }).click();
  await first.getByLabel('Replay sample 1').waitFor();
  // The replay is a WAV of what was heard: longer than a moment, shorter than the cap.
  const secs = await first.getByLabel('Replay sample 1').evaluate(async (a) => {
    if (!(a.duration > 0)) await new Promise((r) => a.addEventListener('loadedmetadata', r, { once: true }));
    return a.duration;
  });
  assert.ok(secs > 0.1 && secs <= 10.1, `recorded ${secs} s`);
  await first.getByRole('button', { name: 'Re-record' }).click();
  await first.getByRole('button', { name: 'Stop' }).waitFor();
  await first.getByRole('button', { name: 'Re-record' }).waitFor({ timeout: 15000 }); // stops by itself at 10 s
  await first.getByRole('button', { name: 'Use this sample' }).click();
  await page.locator('.voice-train').getByText('Voice training is not available on this server yet.').waitFor();
  await page.unrouteAll();
  assert.deepEqual(page.errors, []);
});

test('voice training: three samples recorded with the microphone, sent with progress; the profile chart', async (t) => {
  if (!(await trainsVoices())) return t.skip('needs POST /training/voice (branch speech)');
  // A microphone that speaks nearly all the time: each 10 s sample holds enough speech.
  const wav = path.join(dir, 'reading.wav');
  questionWav(wav, 'The morning was bright and cold, and the harbour smelled of salt and tar. We walked along the pier and talked about the summer, the boats, and the old lighthouse keeper.', 0.3);
  const reader = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`]);
  try {
    const p = await newPage(reader, srv.url);
    await p.context().grantPermissions(['microphone']);
    await p.goto('/login');
    await p.getByLabel('E-mail').fill(email);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('heading', { name: /^Hello/ }).waitFor();
    await p.goto(`/avatars/${avatar.id}/training`);
    const panel = p.locator('.voice-train');
    await panel.getByText('0 %').waitFor();
    for (let i = 0; i < 3; i++) {
      const s = panel.locator('.sample').nth(i);
      await s.getByRole('button', { name: 'Record' }).click();
      await s.getByRole('button', { name: 'Re-record' }).waitFor({ timeout: 20000 }); // stops by itself at 10 s
      await s.getByRole('button', { name: 'Use this sample' }).click();
      await s.getByText('Sent').waitFor({ timeout: 30000 }).catch(async (e) => {
        throw new Error(`sample ${i + 1}: ${await panel.locator('.form-error').textContent()} (${e.message})`);
      });
    }
    await panel.getByText('100 %').waitFor({ timeout: 30000 });
    await panel.locator('svg.voice-chart').waitFor();
    assert.match(await panel.locator('svg.voice-chart').getAttribute('aria-label'), /pitch \d+ Hz/);
    await shot(p, 'voice-training');
    assert.deepEqual(p.errors, []);
  } finally {
    await reader.close();
  }
});
