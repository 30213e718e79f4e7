// The session in the browser: the access token is refreshed silently before it expires (the refresh
// token lives in an httpOnly cookie, out of reach of scripts), a reload keeps the session, log-out ends it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, newPage, PASSWORD, shot, signUp, startServer, uniqEmail } from './lib/browser.mjs';

let srv, browser, page;
let NEW_PASSWORD = 'A-new-passphrase-42';
let email;
const ACCESS_TTL = 30; // seconds, the shortest the server allows; the page's clock is run forward

before(async () => {
  [srv, browser] = await Promise.all([startServer({ args: ['--access-ttl', String(ACCESS_TTL)] }), launch()]);
  page = await newPage(browser, srv.url);
  await page.clock.install();
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

test('the access token is renewed before it expires, with no failed call', async () => {
  const calls = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) calls.push([r.request().method(), u.pathname, r.status()]);
  });
  email = uniqEmail('session');
  await signUp(page, email, 'Sam');
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === 'doppel_refresh');
  assert.ok(refresh, 'the refresh token is a cookie');
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('doppel_refresh')), false, 'scripts cannot read it');
  assert.equal(await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }).includes('eyJ')), false, 'no token in web storage');
  for (let i = 0; i < 2; i++) {
    await page.clock.fastForward(ACCESS_TTL * 1000);
    await page.waitForTimeout(300);
  }
  const refreshes = calls.filter(([m, p, s]) => m === 'POST' && p === '/api/v1/auth/refresh' && s === 200);
  assert.ok(refreshes.length >= 2, `refreshed in the background (${refreshes.length} times)`);
  // Work goes on without a 401 or a trip to the log-in page.
  await page.getByRole('link', { name: 'New avatar' }).first().click();
  await page.getByLabel('Name').fill('Timely');
  await page.getByRole('button', { name: 'Create avatar' }).click();
  await page.getByRole('heading', { name: 'Timely', level: 1 }).waitFor();
  assert.deepEqual(calls.filter(([, , s]) => s === 401), [], 'no call met an expired token');
});

test('change the password in settings', async () => {
  await page.getByRole('link', { name: /^Account settings/ }).click();
  await page.getByLabel('Current password').fill('wrong-password-123');
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').filter({ hasText: /current_password is wrong|wrong/i }).waitFor();
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed. Log in again with the new one.').waitFor();
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').getByText('That e-mail and password do not match an account.').waitFor();
  await page.getByLabel('Password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Hello, Sam' }).waitFor();
});

test('a reload keeps the session; log out ends it', async () => {
  await page.reload();
  await page.getByRole('heading', { name: 'Hello, Sam' }).waitFor();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  await page.goto('/');
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  const r = await page.evaluate(() => fetch('/api/v1/auth/refresh?cookie=1', { method: 'POST' }).then((x) => x.status));
  assert.equal(r, 400, 'the cookie is gone');
  await shot(page, 'session-logged-out');
  assert.deepEqual(page.errors, []);
});

test('a session ended elsewhere leads back to log-in, then to the same page', async () => {
  // Another device changes the password: every session ends, this one too.
  const tok = await fetch(srv.url + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: NEW_PASSWORD }) }).then((r) => r.json());
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Hello, Sam' }).waitFor();
  await page.getByRole('link', { name: 'Timely' }).first().click();
  await page.getByRole('heading', { name: 'Timely', level: 1 }).waitFor();
  const r = await fetch(srv.url + `/api/v1/users/${tok.user.id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.access_token}` },
    body: JSON.stringify({ password: NEW_PASSWORD + '-2', current_password: NEW_PASSWORD }),
  });
  assert.equal(r.status, 200, await r.text());
  // The page learns it from its events socket (closed with 4401) or at its next request — which of
  // the two comes first is a race; either way it asks to log in again and remembers where it was.
  await page.reload();
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  assert.match(page.url(), /\/login\?next=%2Favatars%2F[^%&]+$/);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(NEW_PASSWORD + '-2');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Timely', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Memories' }).click();
  await page.getByLabel('Search memories').waitFor();
  NEW_PASSWORD = NEW_PASSWORD + '-2';
});

test('log in with the keyboard alone', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.goto('/login');
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.type), 'email', 'the e-mail field has the focus');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(NEW_PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Hello, Sam' }).waitFor();
  // Tab order reaches the avatar and opens it with Enter.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.textContent.includes('Timely') && document.activeElement.tagName === 'A')) break;
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Timely', level: 1 }).waitFor();
});
