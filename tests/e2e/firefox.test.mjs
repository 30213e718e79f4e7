// The product's main flows in Firefox (Debian's firefox-esr through puppeteer-core and WebDriver
// BiDi), as a person does them: sign up, avatar create/edit/share/delete, uploads with progress and
// live status, a transcript, memories, a cited text reply, training (personality; voice with
// Firefox's fake microphone), a voice conversation, people chat between two users, the legacy page
// as a visitor, phone width, the keyboard, two-factor log-in, and the access token renewed silently
// all along (a 30 s token life, so the suite outlives several). One server and one browser for the
// file: Firefox takes seconds to start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { addMember, currentStep, PASSWORD as API_PASSWORD, totpAt } from '../api/lib/accounts.mjs';
import { apiCall, overflowX, PASSWORD, readQr, shot, startServer, uniqEmail, unlabelled } from './lib/browser.mjs';
import { concat, say, silence, wav } from '../api/lib/speech.mjs';
import { choose, click, count, fill, find, go, gone, launchFirefox, logIn, newPage, signUp, tabTo, textOf, until } from './lib/firefox.mjs';

let srv, browser, page, dir, avatarPath, ben, speechB64;
let signedUpAt = 0; // calls.length when the owner's first token arrived
const owner = { email: uniqEmail('ff-owner'), name: 'Olga' };
const calls = []; // [method, path, status] of the owner's page's API calls

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-e2e-firefox-'));
  [srv, browser] = await Promise.all([startServer({ args: ['--access-ttl', '30'] }), launchFirefox()]);
  page = await newPage(browser, srv.url);
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) calls.push([r.request().method(), u.pathname, r.status()]);
  });
  // A spoken question (a second of silence, the question, a pause): the voice test plays it into
  // the page as its microphone where Firefox's fake one only gives a tone.
  speechB64 = Buffer.from(wav(concat(silence(1000), say('Tell me about the lighthouse at Skagen.'), silence(3000)))).toString('base64');
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const NOTES = `Letters from Keeper Jon

The lighthouse at Skagen guided every ship home through the winter storms.
I planted tomatoes every spring in the garden behind the lighthouse.
My favourite flower was the climbing rose by the kitchen window.
`;

test('sign up, create an avatar and edit it', async () => {
  await signUp(page, owner.email, owner.name);
  signedUpAt = calls.length;
  await find(page, { role: 'heading', name: 'No avatars yet' });
  await click(page, { role: 'link', name: 'Create your first avatar' });
  await fill(page, { label: 'Name', exact: true }, 'Keeper Jon');
  await choose(page, { label: 'Kind' }, 'legacy');
  await fill(page, { label: 'Description' }, 'Jon kept the lighthouse for forty years.');
  await fill(page, { label: 'Greeting' }, 'Hello there, come in from the wind.');
  await click(page, { role: 'button', name: 'Create avatar' });
  await find(page, { role: 'heading', name: 'Keeper Jon', level: 1 });
  avatarPath = new URL(page.url()).pathname.replace(/\/media$/, '');
  assert.match(avatarPath, /^\/avatars\/[\w-]+$/);
  await find(page, { within: '#avatar-list', text: 'Keeper Jon' });
  await go(page, avatarPath + '/edit');
  await fill(page, { label: 'Description' }, 'Jon kept the lighthouse at Skagen for forty years and loved long walks by the sea.');
  await click(page, { role: 'button', name: 'Save changes' });
  await find(page, { text: 'Saved' });
  await page.reload();
  assert.match(await (await find(page, { label: 'Description' })).evaluate((e) => e.value), /loved long walks by the sea/);
  await shot(page, 'firefox-01-avatar');
  assert.deepEqual(page.errors, []);
});

test('upload with the picker (progress bars, live status), drop a file, read a transcript', async () => {
  await go(page, avatarPath + '/media');
  const notes = path.join(dir, 'letters.txt');
  fs.writeFileSync(notes, NOTES);
  const talk = path.join(dir, 'talk.wav');
  fs.writeFileSync(talk, wav(concat(silence(300), say('The lighthouse at Skagen guided every ship home.'), silence(300))));
  const input = await find(page, { css: '.dropzone input[type=file]', hidden: true });
  // Progress bars count bytes sent: seen for each file while it goes, full at the end.
  const seen = page.evaluate(() => new Promise((resolve) => {
    const names = new Set();
    const mo = new MutationObserver(() => {
      for (const b of document.querySelectorAll('.uploads progress')) names.add(b.getAttribute('aria-label'));
      if (names.size >= 2) mo.disconnect(), resolve([...names]);
    });
    mo.observe(document.body, { subtree: true, childList: true, attributes: true });
    setTimeout(() => resolve([...names]), 10000);
  }));
  await input.uploadFile(notes, talk);
  assert.deepEqual((await seen).sort(), ['Uploading letters.txt', 'Uploading talk.wav']);
  await find(page, { css: '.media-row[data-status=ready]', text: 'letters.txt' }, 30000);
  await find(page, { css: '.media-row[data-status=ready]', text: 'talk.wav' }, 30000);
  // Dropped on the page (Firefox's DataTransfer and DragEvent).
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['Jon kept a journal of every storm, written in a small black notebook.'], 'journal.txt', { type: 'text/plain' }));
    for (const type of ['dragenter', 'dragover', 'drop']) document.querySelector('.avatar-head').dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await find(page, { css: '.media-row[data-status=ready]', text: 'journal.txt' }, 30000);
  await shot(page, 'firefox-02-media');
  // The recording's transcript, with a button per segment that plays from its time.
  await click(page, { role: 'link', name: 'talk.wav' });
  const seg = await find(page, { css: 'ol.transcript button' }, 20000);
  assert.match(await textOf(page, { css: 'ol.transcript li' }), /lighthouse/i);
  await seg.click();
  await until(page, () => { const a = document.querySelector('.media-view audio'); return a && (a.currentTime > 0 || a.ended); });
  assert.deepEqual(page.errors, []);
});

test('memories: search with highlights, add one, edit it into a second version', async () => {
  await go(page, avatarPath + '/memories');
  await fill(page, { label: 'Search memories' }, 'tomatoes');
  await find(page, { css: '.memory mark', text: 'tomatoes' });
  await find(page, { css: '.memory a', text: 'Source' });
  await fill(page, { label: 'Search memories' }, '');
  await click(page, { text: 'Add a memory by hand' });
  await fill(page, { label: 'Memory', exact: true }, 'Jon rang the fog bell by hand when the horn froze.');
  await click(page, { role: 'button', name: 'Add memory' });
  await find(page, { css: '.memory', text: 'fog bell by hand' });
  const handMade = { css: '.memory', text: 'fog bell by hand' };
  await click(page, { within: handMade, role: 'button', name: 'Edit', exact: true });
  await fill(page, { label: 'Memory text' }, 'Jon rang the fog bell by hand all night when the horn froze.');
  await click(page, { role: 'button', name: 'Save', exact: true });
  await click(page, { within: { css: '.memory', text: 'all night' }, role: 'button', name: /version 2/ });
  await find(page, { within: '[role=dialog], dialog', text: 'Jon rang the fog bell by hand when the horn froze.' });
  await shot(page, 'firefox-03-memory-versions');
  await click(page, { within: '[role=dialog], dialog', role: 'button', name: 'Close' });
  assert.deepEqual(page.errors, []);
});

test('talk by text: the reply streams in with a citation that opens the memory', async () => {
  await go(page, avatarPath + '/talk');
  await click(page, { role: 'button', name: 'Start a conversation' });
  await find(page, { css: '.msg.theirs', text: 'come in from the wind' });
  await fill(page, { label: 'Your message' }, 'What did you plant in the garden every spring?');
  await click(page, { role: 'button', name: 'Send', exact: true });
  await find(page, { css: '.msg.theirs .bubble-text', text: 'tomatoes' }, 20000);
  await shot(page, 'firefox-04-talk-cited');
  await click(page, { css: '.msg.theirs a.cite' });
  await find(page, { css: '.memory.focus', text: 'tomatoes' });
  assert.deepEqual(page.errors, []);
});

test('train the personality with four samples to 100 %', async () => {
  await go(page, avatarPath + '/training');
  const samples = [
    'Oh my dear, I always loved a quiet night in the lamp room! Nothing beats the sea.',
    'Honestly, you should come by more often. I baked your favourite apple cake, with cinnamon.',
    'Why do people rush so much? Slow down, watch the waves, and call your mother.',
    'When I was young we walked to the harbour every Sunday, and your grandmother sang all the way.',
  ];
  for (const [i, s] of samples.entries()) {
    await fill(page, { label: 'Sample', exact: true }, s);
    await click(page, { role: 'button', name: 'Add sample' });
    await find(page, { css: '.pct', text: new RegExp(`^${(i + 1) * 25}\\s%$`) }, 20000);
  }
  await find(page, { css: '.trait', text: 'warmth' });
  await shot(page, 'firefox-05-training');
  assert.deepEqual(page.errors, []);
});

/* Makes the page's microphone say a recording (the test's question by default; looped) instead of
 * Firefox's fake tone, until the page reloads: getUserMedia still opens the fake device (its permission path), and hands the page a
 * stream of that speech from Web Audio. */
const speakIntoMicrophone = (p, b64 = speechB64) => p.evaluate((b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const fake = await real(c);
    fake.getTracks().forEach((t) => t.stop());
    const ctx = new AudioContext();
    const buf = await ctx.decodeAudioData(bytes.buffer.slice(0));
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.loop = true;
    const dest = ctx.createMediaStreamDestination();
    src.connect(dest);
    src.start();
    return dest.stream;
  };
}, b64);

test('voice training: the microphone records (level meter, replay, re-record that stops itself at 10 s); the fake tone is refused in words, a read sample is sent; two more uploaded; the profile chart', async () => {
  await go(page, avatarPath + '/training');
  const first = { css: '.voice-train .sample', text: 'Sample 1' };
  await click(page, { within: first, role: 'button', name: 'Record', exact: true });
  await until(page, () => document.querySelector('.voice-train .sample meter').value > 0.01, null, 5000);
  await find(page, { within: first, text: /^[1-9]\.\d \/ 10 s$/ }); // a second or more
  await click(page, { within: first, role: 'button', name: 'Stop', exact: true });
  const replay = await find(page, { label: 'Replay sample 1' });
  const secs = await replay.evaluate(async (a) => {
    if (!(a.duration > 0)) await new Promise((r) => a.addEventListener('loadedmetadata', r, { once: true }));
    return a.duration;
  });
  assert.ok(secs >= 1 && secs <= 10.1, `recorded ${secs} s`);
  // A tone is no voice: the server refuses it, in words.
  await click(page, { within: first, role: 'button', name: 'Use this sample' });
  await find(page, { css: '.voice-train .form-error', text: 'The sample holds 0.0 s of speech; at least 3 s are needed.' }, 20000);
  // A microphone that reads aloud instead (through the same capture path) gives a sample that counts.
  await speakIntoMicrophone(page, Buffer.from(wav(concat(...Array(3).fill([say('The morning was bright and cold, and the harbour smelled of salt and tar.'), silence(300)]).flat()))).toString('base64'));
  await click(page, { within: first, role: 'button', name: 'Re-record' });
  await find(page, { within: first, role: 'button', name: 'Stop', exact: true });
  await find(page, { within: first, role: 'button', name: 'Re-record' }, 20000); // stops by itself at 10 s
  await click(page, { within: first, role: 'button', name: 'Use this sample' });
  await find(page, { within: first, css: '.pill', text: 'Sent' }, 20000).catch(async (e) => {
    throw new Error(`${await page.evaluate(() => document.querySelector('.voice-train .form-error')?.textContent)} (${e.message})`);
  });
  await find(page, { within: '.voice-train', css: '.pct', text: /^33 %$/ });
  // The upload alternative: recordings of a (synthetic) voice.
  const input = await find(page, { label: 'Or upload a recording of them' });
  for (const [i, line] of ['The morning was bright and cold, and the harbour smelled of salt and tar.', 'Please call Stella and ask her to bring these things with her from the store.'].entries()) {
    const f = path.join(dir, `sample-${i + 2}.wav`);
    fs.writeFileSync(f, wav(concat(say(line), silence(200), say(line), silence(200))));
    await input.uploadFile(f);
    await find(page, { within: '.voice-train', css: '.pct', text: [/^6[67] %$/, /^100 %$/][i] }, 20000).catch(async (e) => {
      throw new Error(`${await page.evaluate(() => document.querySelector('.voice-train .form-error')?.textContent)} (${e.message})`);
    });
  }
  const chart = await find(page, { css: 'svg.voice-chart' });
  assert.match(await chart.evaluate((e) => e.getAttribute('aria-label')), /pitch \d+ Hz/);
  await shot(page, 'firefox-06-voice-training');
  assert.deepEqual(page.errors, []);
});

test('voice conversation: the fake microphone connects and is heard; a spoken question gets a spoken reply that moves the face', async () => {
  await go(page, avatarPath + '/talk');
  await find(page, { label: 'Your message' });
  await click(page, { role: 'button', name: 'Voice', exact: true });
  await until(page, () => document.querySelector('.voice-panel')?.dataset.state === 'listening', null, 15000);
  await until(page, () => document.querySelector('.voice-panel meter.level').value > 0.01, null, 5000);
  await click(page, { role: 'button', name: 'End voice' });
  await gone(page, { css: '.voice-panel' });
  const before = await count(page, { css: '.chat-log .msg.mine' });
  await speakIntoMicrophone(page);
  await click(page, { role: 'button', name: 'Voice', exact: true });
  await until(page, (n) => document.querySelectorAll('.chat-log .msg.mine').length > n, before, 30000);
  // What the recogniser made of the synthetic voice: its first words at least.
  assert.match(await page.evaluate(() => [...document.querySelectorAll('.chat-log .msg.mine')].pop().textContent), /tell me about/i);
  await until(page, () => Number(document.querySelector('.voice-panel').dataset.audioMs) > 500, null, 30000);
  await until(page, () => Number(document.querySelector('.face').dataset.moves) >= 4, null, 15000);
  await until(page, () => document.querySelectorAll('.chat-log .msg.theirs').length >= 2 && /\w/.test([...document.querySelectorAll('.chat-log .msg.theirs .bubble-text')].pop().textContent));
  await shot(page, 'firefox-07-voice');
  await click(page, { css: '.chat-log .msg.theirs details.latency summary' }, 30000);
  await find(page, { text: 'Whole turn' });
  assert.notEqual(await page.evaluate(() => document.querySelector('.voice-panel').dataset.state), 'error');
  await click(page, { role: 'button', name: 'End voice' });
  assert.deepEqual(page.errors, []);
});

test('a browser without a sound device: voice and recording say so instead of waiting forever', async () => {
  // As Firefox does where no audio output opens: a context that stays suspended, resume() never settles.
  await page.evaluate(() => {
    Object.defineProperty(AudioContext.prototype, 'state', { get: () => 'suspended', configurable: true });
    AudioContext.prototype.resume = () => new Promise(() => {});
  });
  await click(page, { role: 'button', name: 'Voice', exact: true });
  await find(page, { css: '.voice-panel [role=status]', text: 'No sound device could be opened' }, 5000);
  await click(page, { role: 'button', name: 'End voice' });
  await page.evaluate(() => history.pushState(null, '', location.pathname.replace(/\/talk.*$/, '/training')) || dispatchEvent(new PopStateEvent('popstate')));
  await click(page, { within: '.voice-train .sample', role: 'button', name: 'Record', exact: true });
  await find(page, { css: '.voice-train .form-error', text: 'No sound device could be opened' }, 5000);
  await page.reload(); // the real AudioContext again
  assert.deepEqual(page.errors, []);
});

test('share with a second user as viewer; people chat between the two with typing and receipts', async () => {
  ben = await addMember(srv, (await apiCall(srv.url, 'POST', '/auth/login', null, { email: owner.email, password: PASSWORD })).access_token, { display_name: 'Ben Member', email: uniqEmail('ff-ben') });
  await go(page, avatarPath + '/sharing');
  await fill(page, { label: 'E-mail' }, ben.email);
  await choose(page, { label: 'Role' }, 'viewer');
  await click(page, { role: 'button', name: 'Share', exact: true });
  await find(page, { css: '.list-row', text: 'Ben Member' });
  const pb = await newPage(browser, srv.url);
  try {
    await logIn(pb, ben.email, API_PASSWORD);
    await click(pb, { within: '#avatar-list', text: 'Keeper Jon' });
    await find(pb, { text: 'shared with you · viewer' });
    assert.equal(await count(pb, { role: 'link', name: 'Sharing', exact: true }), 0, 'a viewer does not manage shares');
    await go(pb, '/chats');
    await find(pb, { role: 'heading', name: 'Chats' });

    await click(page, { role: 'link', name: 'Chats with people' });
    await click(page, { role: 'button', name: 'New chat' });
    await fill(page, { label: 'Find a person' }, 'Ben');
    await click(page, { role: 'checkbox', name: 'Ben Member' });
    await click(page, { role: 'button', name: 'Start chat' });
    await find(page, { role: 'heading', name: 'Ben Member', level: 2 });
    await fill(page, { label: 'Your message' }, 'Hello Ben');
    await page.keyboard.press('Enter');
    await click(pb, { css: '.chat-item', text: 'Hello Ben' });
    await find(pb, { css: '.msg.theirs', text: 'Hello Ben' });
    await find(page, { css: '.msg.mine', text: 'Seen' });
    const box = await find(pb, { label: 'Your message' });
    await box.type('Hi Olga', { delay: 40 });
    await find(page, { text: 'Ben Member is typing…' });
    await shot(page, 'firefox-08-chat-typing');
    await pb.keyboard.press('Enter');
    await find(page, { css: '.msg.theirs', text: 'Hi Olga' });
    await find(page, { css: '.chat-head .presence.online' });
    assert.deepEqual(pb.errors, []);
  } finally {
    await pb.browserContext().close();
  }
  assert.deepEqual(page.errors, []);
});

test('the legacy page as a visitor, and at phone width without sideways scrolling', async () => {
  const slug = 'keeper-jon-' + process.pid;
  await go(page, avatarPath + '/edit');
  await choose(page, { label: 'Visibility' }, 'public');
  const desc = await find(page, { role: 'checkbox', name: 'description' });
  if (!(await desc.evaluate((e) => e.checked))) await desc.click();
  await fill(page, { label: 'Legacy page address' }, slug);
  await click(page, { role: 'button', name: 'Save changes' });
  await find(page, { role: 'link', name: `/legacy/${slug}` });
  for (const viewport of [{ width: 1280, height: 860 }, { width: 390, height: 844 }]) {
    const visitor = await newPage(browser, srv.url, viewport);
    try {
      await go(visitor, `/legacy/${slug}`);
      await find(visitor, { role: 'heading', name: 'Keeper Jon', level: 1 });
      await find(visitor, { text: 'long walks by the sea' });
      await click(visitor, { role: 'button', name: 'Start a conversation' });
      await fill(visitor, { label: 'Your message' }, 'Which flower was your favourite?');
      await click(visitor, { role: 'button', name: 'Send', exact: true });
      await find(visitor, { css: '.msg.theirs .bubble-text', text: 'climbing rose' }, 20000);
      assert.equal(await overflowX(visitor), 0, `legacy page at ${viewport.width} px`);
      await shot(visitor, `firefox-09-legacy-${viewport.width}`);
      assert.deepEqual(visitor.errors, []);
    } finally {
      await visitor.browserContext().close();
    }
  }
});

test('phone width: the app\'s pages fit 390 px, the menu opens, controls are labelled', async () => {
  await page.setViewport({ width: 390, height: 844 });
  try {
    for (const p of ['/', avatarPath, avatarPath + '/talk', avatarPath + '/media', avatarPath + '/memories', avatarPath + '/training', avatarPath + '/edit', '/chats', '/settings']) {
      await go(page, p);
      await find(page, { css: 'h1' });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(await overflowX(page), 0, `${p} overflows at 390 px`);
      assert.deepEqual(await unlabelled(page), [], `${p}: controls without a name`);
    }
    await go(page, avatarPath + '/talk');
    const send = await find(page, { role: 'button', name: 'Send', exact: true });
    const box = await send.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, 'the send button is on screen');
    const tucked = () => document.querySelector('#sidebar').getBoundingClientRect().right <= 0;
    assert.ok(await page.evaluate(tucked), 'the sidebar is tucked away');
    await click(page, { role: 'button', name: 'Avatars' });
    await until(page, () => document.querySelector('#sidebar').getBoundingClientRect().x >= 0); // slid in
    await click(page, { within: '#sidebar', role: 'link', name: 'Keeper Jon' });
    await find(page, { role: 'heading', name: 'Keeper Jon', level: 1 });
    await shot(page, 'firefox-10-phone');
  } finally {
    await page.setViewport({ width: 1280, height: 860 });
  }
  assert.deepEqual(page.errors, []);
});

test('the access token was renewed silently before each expiry: no call met a 401', async () => {
  // The suite has run for well over one token life (30 s) since sign-up, without a reload.
  const refreshed = () => calls.slice(signedUpAt).filter(([m, p, s]) => m === 'POST' && p === '/api/v1/auth/refresh' && s === 200).length;
  for (const end = Date.now() + 30000; !refreshed() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 500));
  assert.ok(refreshed() >= 1, 'refreshed in the background');
  assert.deepEqual(calls.filter(([, , s]) => s === 401), [], 'no call met an expired token');
});

test('two-factor set-up with a QR code; log out; log in with the keyboard alone and a TOTP code; delete an avatar', async () => {
  await go(page, '/settings');
  await click(page, { role: 'button', name: 'Set up two-factor authentication' });
  await find(page, { css: '.qr svg path' });
  const secret = (await textOf(page, { css: 'code.secret' })).replace(/\s+/g, '');
  const uri = await readQr(page, '.qr');
  assert.equal(uri && new URL(uri).searchParams.get('secret'), secret, `QR code reads as ${uri}`);
  await fill(page, { label: 'Code from the app' }, totpAt(secret, currentStep()));
  await click(page, { role: 'button', name: 'Turn on' });
  await find(page, { text: 'Two-factor authentication is on.' });
  await click(page, { role: 'button', name: 'Log out' });
  await find(page, { role: 'heading', name: 'Welcome back' });
  // The keyboard alone: the e-mail field has the focus, Tab moves on, Enter sends.
  await go(page, '/login');
  await find(page, { role: 'heading', name: 'Welcome back' });
  assert.equal(await page.evaluate(() => document.activeElement.type), 'email', 'the e-mail field has the focus');
  await page.keyboard.type(owner.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await find(page, { label: 'Authentication code' });
  // The step after the one used to turn it on (a code is not taken twice).
  await until(page, () => true);
  const code = totpAt(secret, currentStep() + 1);
  await page.keyboard.type(code);
  await page.keyboard.press('Enter');
  await find(page, { role: 'heading', name: `Hello, ${owner.name}` }, 20000);
  // Tab reaches the avatar; Enter opens it; the talk page's controls are reached and used likewise.
  await tabTo(page, { within: '#avatar-list', role: 'link', name: 'Keeper Jon' });
  await page.keyboard.press('Enter');
  await find(page, { role: 'heading', name: 'Keeper Jon', level: 1 });
  await tabTo(page, { role: 'link', name: 'Talk', exact: true });
  await page.keyboard.press('Enter');
  await tabTo(page, { label: 'Your message' });
  await page.keyboard.type('Typed with the keyboard alone');
  await page.keyboard.press('Enter');
  await find(page, { css: '.msg.mine', text: 'Typed with the keyboard alone' });
  await tabTo(page, { role: 'button', name: 'Voice', exact: true });
  await go(page, avatarPath + '/media');
  await find(page, { css: '.media-row' });
  await tabTo(page, { css: '.dropzone' });
  await tabTo(page, { role: 'button', name: 'Delete journal.txt' });
  // Delete with confirmation: cancel first, then for good.
  await go(page, avatarPath + '/edit');
  await click(page, { role: 'button', name: 'Delete avatar' });
  await click(page, { within: '[role=dialog], dialog', role: 'button', name: 'Cancel' });
  await click(page, { role: 'button', name: 'Delete avatar' });
  await click(page, { within: '[role=dialog], dialog', role: 'button', name: 'Delete for good' });
  await find(page, { text: 'Keeper Jon was deleted.' });
  await gone(page, { within: '#avatar-list', text: 'Keeper Jon' });
  assert.deepEqual(page.errors, []);
});
