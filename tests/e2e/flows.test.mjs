// The UI's main journey in a real Chromium against a real server: sign up, create an avatar, upload,
// search, talk, train, share, the public legacy page, administration and two-factor log-in.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { launch, newPage, PASSWORD, readQr, shot, signUp, startServer, uniqEmail } from './lib/browser.mjs';

let srv, browser, page;
const owner = { email: uniqEmail('owner'), name: 'Olivia' };
const friend = { email: uniqEmail('friend'), name: 'Frank' };
let avatarUrl = '';

before(async () => {
  [srv, browser] = await Promise.all([startServer(), launch()]);
  page = await newPage(browser, srv.url);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

const NOTES = `Letters from Grandma Rose

I planted tomatoes every spring in the garden behind the house, and the neighbours always asked for seeds.
My favourite flower was the climbing rose by the kitchen window.
On Sundays we walked to the lake and fed the ducks with old bread.
`;

test('sign up lands on an empty home that says what to do next', async () => {
  await signUp(page, owner.email, owner.name);
  await page.getByRole('heading', { name: 'No avatars yet' }).waitFor();
  assert.ok(await page.getByRole('link', { name: 'Create your first avatar' }).isVisible());
  await shot(page, '01-home-empty');
});

test('create an avatar', async () => {
  await page.getByRole('link', { name: 'Create your first avatar' }).click();
  await page.getByLabel('Name').fill('Grandma Rose');
  await page.getByLabel('Kind').selectOption('legacy');
  await page.getByLabel('Description').fill('Rose loved her garden, her grandchildren and long walks by the lake.');
  await page.getByLabel('Greeting').fill('Hello, my dear. Come sit with me.');
  await page.getByRole('button', { name: 'Create avatar' }).click();
  await page.getByRole('heading', { name: 'Grandma Rose', level: 1 }).waitFor();
  avatarUrl = new URL(page.url()).pathname.replace(/\/media$/, '');
  assert.match(avatarUrl, /^\/avatars\/[\w-]+$/);
  // The sidebar lists it.
  await page.locator('#avatar-list').getByText('Grandma Rose').waitFor();
  await shot(page, '02-avatar-created');
});

test('upload a text file with a progress bar and see it processed', async () => {
  await page.goto(avatarUrl + '/media');
  await page.locator('.dropzone input[type=file]').setInputFiles([
    { name: 'letters.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) },
    { name: 'more.md', mimeType: 'text/markdown', buffer: Buffer.from('# Recipes\n\nRose baked an apple cake with cinnamon every autumn.\n') },
  ]);
  const row = page.locator('.media-row', { hasText: 'letters.txt' });
  await row.locator('.pill.status-ready').waitFor({ timeout: 20000 });
  await page.locator('.media-row', { hasText: 'more.md' }).locator('.pill.status-ready').waitFor({ timeout: 20000 });
  await page.locator('.head-stats', { hasText: '2 media' }).waitFor();
  await shot(page, '03-media-ready');
  // Its text can be read.
  await row.getByRole('link', { name: 'letters.txt' }).click();
  await page.locator('pre.textview', { hasText: 'climbing rose' }).waitFor();
});

test('search memories and see the match highlighted', async () => {
  await page.goto(avatarUrl + '/memories');
  await page.getByLabel('Search memories').fill('tomatoes');
  const mark = page.locator('.memory mark', { hasText: 'tomatoes' });
  await mark.first().waitFor();
  await shot(page, '04-memories-search');
  // A memory with a source links to its media.
  assert.ok(await page.locator('.memory a', { hasText: 'Source' }).first().isVisible());
});

test('talk by text: the reply streams in with its citation, which opens the memory', async () => {
  await page.goto(avatarUrl + '/talk');
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.locator('.msg.theirs', { hasText: 'Come sit with me' }).waitFor();
  await page.getByLabel('Your message').fill('What did you plant in the garden every spring?');
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.locator('.msg.theirs').last();
  await reply.locator('.bubble-text', { hasText: 'tomatoes' }).waitFor();
  await reply.locator('.cite').first().waitFor();
  assert.equal(await page.locator('.msg.mine').count(), 1);
  await shot(page, '05-talk-cited');
  await reply.locator('a.cite').first().click();
  await page.locator('.memory.focus', { hasText: 'tomatoes' }).waitFor();
  // The history is there after a reload (the session survives through the refresh cookie).
  await page.goto(avatarUrl + '/talk');
  await page.locator('.msg.mine', { hasText: 'What did you plant' }).waitFor();
});

test('a long conversation opens at its newest page; earlier messages come from the server on demand', async () => {
  await page.locator('.msg.mine', { hasText: 'What did you plant' }).waitFor();
  const cid = (await page.locator('a.conv[aria-current=page]').getAttribute('href')).split('/').pop();
  // 55 more turns through the page's own client: 113 messages, more than the first page of 100.
  await page.evaluate(async (id) => {
    const { post } = await import('/js/api.js');
    for (let i = 0; i < 55; i++) await post(`/conversations/${id}/messages`, { text: `Question number ${i} about the lake?` });
  }, cid);
  await page.reload();
  await page.locator('.msg.mine', { hasText: 'Question number 54 about' }).waitFor();
  assert.equal(await page.locator('.msg').count(), 100);
  assert.equal(await page.locator('.msg.theirs', { hasText: 'Come sit with me' }).count(), 0);
  await page.getByRole('button', { name: 'Show earlier messages' }).click();
  await page.locator('.msg.theirs', { hasText: 'Come sit with me' }).waitFor();
  assert.equal(await page.locator('.msg').count(), 113);
  assert.equal(await page.getByRole('button', { name: 'Show earlier messages' }).count(), 0);
  assert.equal(await page.locator('.msg').first().textContent().then((t) => t.includes('Come sit with me')), true);
});

test('train personality with four samples to 100 %', async () => {
  await page.goto(avatarUrl + '/training');
  const samples = [
    'Oh my dear, I always loved a quiet Sunday in the garden! Nothing beats fresh tomatoes.',
    'Honestly, you should come by more often. I baked your favourite apple cake, with cinnamon.',
    'Why do people rush so much? Slow down, look at the roses, and call your mother.',
    'When I was young we walked to the lake every Sunday, and your grandfather sang all the way.',
  ];
  for (const [i, s] of samples.entries()) {
    await page.getByLabel('Sample', { exact: true }).fill(s);
    await page.getByRole('button', { name: 'Add sample' }).click();
    await page.locator('.pct', { hasText: new RegExp(`^${(i + 1) * 25}\\s%$`) }).waitFor();
  }
  await page.locator('.trait', { hasText: 'warmth' }).waitFor();
  // The voice panel beside it: three sample slots (voice.test.mjs covers recording them).
  assert.equal(await page.locator('.voice-train .sample').count(), 3);
  await shot(page, '06-training');
});

test('share with a second user, who signs up with the invitation link and then sees the avatar', async () => {
  await page.goto(avatarUrl + '/sharing');
  await page.getByText('Not shared with anyone yet').waitFor();
  await page.getByLabel('E-mail').fill(friend.email);
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Share' }).click();
  const link = await page.getByLabel('Invitation link').inputValue();
  assert.match(link, /\/signup#invitation=[^&]+&email=/);
  await page.locator('.list-row', { hasText: friend.email }).getByText('invited').waitFor();
  await shot(page, '07-sharing');
  const p2 = await newPage(browser, srv.url);
  try {
    await p2.goto(new URL(link).pathname + new URL(link).hash);
    await p2.getByRole('heading', { name: 'You are invited' }).waitFor();
    assert.equal(await p2.getByLabel('E-mail').inputValue(), friend.email);
    await p2.getByLabel('Your name').fill(friend.name);
    await p2.getByLabel('Password').fill(PASSWORD);
    await p2.getByRole('button', { name: 'Create account' }).click();
    await p2.getByRole('heading', { name: `Hello, ${friend.name}` }).waitFor();
    await p2.locator('#avatar-list').getByText('Grandma Rose').click();
    await p2.getByRole('heading', { name: 'Grandma Rose', level: 1 }).waitFor();
    await p2.getByText('shared with you · viewer').waitFor();
    assert.equal(await p2.getByRole('link', { name: 'Sharing' }).count(), 0, 'a viewer does not manage shares');
    await shot(p2, '08-shared-viewer');
    assert.deepEqual(p2.errors, []);
  } finally {
    await p2.context().close();
  }
  await page.reload();
  await page.locator('.list-row', { hasText: friend.name }).getByText(/^shared/).waitFor();
});

test('publish a legacy page; a visitor without an account asks and gets an answer', async () => {
  await page.goto(avatarUrl + '/edit');
  await page.getByLabel('Visibility').selectOption('public');
  await page.getByRole('checkbox', { name: 'description' }).check();
  await page.getByLabel('Legacy page address').fill('grandma-rose-' + process.pid);
  await page.getByRole('button', { name: 'Save changes' }).click();
  const link = page.getByRole('link', { name: /\/legacy\// });
  await link.waitFor();
  const legacyPath = new URL(await link.getAttribute('href'), srv.url).pathname;
  assert.equal(legacyPath, `/legacy/grandma-rose-${process.pid}`, 'the address chosen by the owner');
  const visitor = await newPage(browser, srv.url);
  try {
    await visitor.goto(legacyPath);
    await visitor.getByRole('heading', { name: 'Grandma Rose', level: 1 }).waitFor();
    await visitor.getByText('long walks by the lake').waitFor();
    await visitor.getByRole('button', { name: 'Start a conversation' }).click();
    await visitor.getByLabel('Your message').fill('Which flower was your favourite?');
    await visitor.getByRole('button', { name: 'Send' }).click();
    await visitor.locator('.msg.theirs .bubble-text', { hasText: 'climbing rose' }).waitFor();
    await shot(visitor, '09-legacy-visitor');
    assert.deepEqual(visitor.errors, []);
  } finally {
    await visitor.context().close();
  }
  // The owner reads what the visitor asked.
  await page.goto(avatarUrl + '/talk');
  await page.getByRole('heading', { name: 'Visitors (legacy page)' }).waitFor();
  await page.locator('.conv-list a', { hasText: 'Visitor' }).click();
  await page.locator('.msg.mine', { hasText: 'Which flower was your favourite?' }).waitFor();
  assert.equal(await page.locator('.chat-form').isVisible(), false, 'a visitor conversation is read-only for the owner');
});

test('admin sees jobs and retries a dead one', async () => {
  const me = await page.evaluate(() => fetch('/api/v1/auth/me', { headers: {} }).then((r) => r.status));
  assert.equal(me, 401, 'the access token is not reachable from outside the app');
  const r = await fetch(srv.url + '/api/v1/_test/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ms: 0, fail_times: 9, max_attempts: 1 }),
  });
  assert.equal(r.status, 201);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Administration' }).waitFor();
  await page.locator('.tile', { hasText: 'Users' }).waitFor();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.locator('tr', { hasText: 'media.ingest' }).first().waitFor();
  await page.getByLabel('Filter by state').selectOption('dead');
  const dead = page.locator('tr[data-status=dead]', { hasText: 'test.sleep' });
  await dead.waitFor({ timeout: 15000 });
  await shot(page, '10-admin-jobs');
  await dead.getByRole('button', { name: 'Retry' }).click();
  await page.getByText('Job re-queued.').waitFor();
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  const role = page.getByLabel(`Role of ${friend.email}`);
  await role.selectOption('manager');
  await page.getByText(`${friend.email} is now manager.`).waitFor();
  assert.ok(await page.getByLabel(`Role of ${owner.email}`).isDisabled(), 'an admin cannot demote themselves here');
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.locator('td', { hasText: 'signup' }).first().waitFor();
});

/* RFC 6238 code of a base32 secret. */
function totp(secret) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/\s+/g, '')) bits += alpha.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0');
}

test('two-factor set-up with a QR code, then log out and log in with the code', async () => {
  await page.goto('/settings');
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await page.locator('.qr svg path').waitFor();
  const secret = (await page.locator('code.secret').textContent()).replace(/\s+/g, '');
  // The QR code, drawn by the page itself, reads back as the set-up link holding that secret.
  const uri = await readQr(page, '.qr');
  assert.ok(uri && uri.startsWith('otpauth://totp/'), `QR code reads as ${uri}`);
  assert.equal(new URL(uri).searchParams.get('secret'), secret);
  assert.equal(uri, await page.locator('code.uri').textContent());
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByText('Two-factor authentication is on.').waitFor();
  const codes = await page.locator('.codes code').allTextContents();
  assert.ok(codes.length > 0, 'recovery codes are shown');
  await shot(page, '11-totp-on');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  await page.getByLabel('E-mail').fill(owner.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByLabel('Authentication code').waitFor();
  // The code just used to turn it on cannot be replayed: log in with a recovery code.
  await page.getByLabel('Authentication code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: `Hello, ${owner.name}` }).waitFor();
  assert.deepEqual(page.errors, []);
});
