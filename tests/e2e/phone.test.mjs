// The UI at phone width (390×844): no page scrolls sideways, and the controls that matter are on screen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiCall, launch, newPage, overflowX, PASSWORD, shot, startServer, uniqEmail, unlabelled } from './lib/browser.mjs';

let srv, browser, page;
let avatar;
const PHONE = { width: 390, height: 844 };

const call = (method, path, token, body) => apiCall(srv.url, method, path, token, body);

before(async () => {
  [srv, browser] = await Promise.all([startServer(), launch()]);
  // An account with an avatar that has a memory and a public legacy page.
  const email = uniqEmail('phone');
  const s = await call('POST', '/auth/signup', null, { email, password: PASSWORD, display_name: 'Pat Phone-User With A Long Name' });
  avatar = await call('POST', '/avatars', s.access_token, {
    name: 'Captain Alexandrina Longname-Smythe', kind: 'character', description: 'A ship captain who sailed the northern seas for forty years.',
    greeting: 'Ahoy! Pull up a chair.', visibility: 'public',
  });
  await call('POST', `/avatars/${avatar.id}/memories`, s.access_token, { text: 'The lighthouse at Skagen guided every ship home through the winter storms.' });
  avatar = await call('GET', `/avatars/${avatar.id}`, s.access_token);
  page = await newPage(browser, srv.url, PHONE);
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

async function noOverflow(what) {
  await page.waitForTimeout(150);
  const x = await overflowX(page);
  assert.equal(x, 0, `${what}: the page is ${x} px wider than the screen`);
  assert.deepEqual(await unlabelled(page), [], `${what}: every control has a name`);
}

async function inViewport(locator, what) {
  await locator.waitFor();
  const box = await locator.boundingBox();
  assert.ok(box, `${what} is shown`);
  assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width + 0.5, `${what} fits across the screen (${box.x}+${box.width})`);
}

test('home and the avatar menu at phone width', async () => {
  await noOverflow('home');
  const toggle = page.getByRole('button', { name: 'Avatars' });
  await inViewport(toggle, 'the menu button');
  await inViewport(page.getByRole('button', { name: 'Log out' }), 'log out');
  assert.equal(await page.locator('#sidebar').getByText('Captain Alexandrina').isVisible() && (await page.locator('#sidebar').boundingBox()).x >= 0, false, 'the sidebar is tucked away');
  await toggle.click();
  await page.waitForTimeout(300);
  await inViewport(page.locator('#sidebar').getByText('Captain Alexandrina Longname-Smythe'), 'the avatar in the opened menu');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await shot(page, 'phone-01-menu');
  await page.locator('#sidebar').getByText('Captain Alexandrina Longname-Smythe').click();
  await page.getByRole('heading', { name: 'Captain Alexandrina Longname-Smythe', level: 1 }).waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false', 'the menu closes after a choice');
});

test('talk at phone width: the composer is on screen and a reply arrives', async () => {
  await page.goto(`/avatars/${avatar.id}/talk`);
  await page.getByRole('button', { name: 'Start a conversation' }).click();
  await page.locator('.msg.theirs', { hasText: 'Ahoy' }).waitFor();
  await inViewport(page.getByLabel('Your message'), 'the message box');
  await inViewport(page.getByRole('button', { name: 'Send' }), 'the send button');
  await page.getByLabel('Your message').fill('Tell me about the lighthouse at Skagen');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.msg.theirs .bubble-text', { hasText: 'winter storms' }).waitFor();
  await noOverflow('talk');
  await shot(page, 'phone-02-talk');
});

test('every section of an avatar, settings and admin fit the screen', async () => {
  for (const tab of ['media', 'memories', 'training', 'sharing', 'edit']) {
    await page.goto(`/avatars/${avatar.id}/${tab}`);
    await page.locator('.tab[aria-current=page]').waitFor();
    await page.locator('.tab-body > *').first().waitFor();
    await noOverflow(tab);
    await shot(page, `phone-03-${tab}`);
  }
  await inViewport(page.getByRole('button', { name: 'Save changes' }), 'save');
  for (const p of ['/settings', '/admin', '/admin/jobs', '/admin/users', '/admin/audit', '/avatars/new']) {
    await page.goto(p);
    await page.locator('h1').waitFor();
    await page.waitForTimeout(200);
    await noOverflow(p);
  }
  await shot(page, 'phone-04-new-avatar');
  assert.deepEqual(page.errors, []);
});

test('the legacy page at phone width, without an account', async () => {
  const visitor = await newPage(browser, srv.url, PHONE);
  try {
    await visitor.goto(`/legacy/${avatar.slug}`);
    await visitor.getByRole('heading', { name: 'Captain Alexandrina Longname-Smythe', level: 1 }).waitFor();
    await visitor.getByRole('button', { name: 'Start a conversation' }).click();
    await inViewport(visitor.getByRole('button', { name: 'Send' }), 'the send button');
    const x = await overflowX(visitor);
    assert.equal(x, 0, `legacy page overflows by ${x} px`);
    await shot(visitor, 'phone-05-legacy');
    assert.deepEqual(visitor.errors, []);
  } finally {
    await visitor.context().close();
  }
});
