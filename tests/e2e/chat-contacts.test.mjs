// People chat beyond colleagues: a contact request (by contact code) to someone of another organisation, accepted
// in the Contacts dialog, opens a chat; an image attached from the composer shows on the other
// side (read through the chat, not the avatar); a reply quotes the message it answers.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PASSWORD as API_PASSWORD, signup } from '../api/lib/accounts.mjs';
import { createAvatar } from '../api/lib/avatars.mjs';
import { launch, newPage, REPO, shot, startServer, uniqEmail } from './lib/browser.mjs';

let srv, browser, anna, dan, pa, pd;

async function logIn(page, email) {
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(API_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
}

before(async () => {
  [srv, browser] = await Promise.all([startServer({ args: ['--chat-presence-grace', '300'] }), launch()]);
  // Two sign-ups: two organisations, strangers until one accepts the other's request.
  anna = await signup(srv, { email: uniqEmail('anna'), display_name: 'Anna Asker' });
  dan = await signup(srv, { email: uniqEmail('dan'), display_name: 'Dan Stranger' });
  await createAvatar(srv, anna.token, { name: 'Anna twin' }); // where her attachments are stored
  pa = await newPage(browser, srv.url);
  pd = await newPage(browser, srv.url);
  await Promise.all([logIn(pa, anna.email), logIn(pd, dan.email)]);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

test('a contact request by contact code, accepted, opens a chat', async () => {
  // Dan reads his code in the dialog and gives it to Anna.
  await pd.goto('/chats');
  await pd.getByRole('button', { name: 'Contacts' }).click();
  assert.equal(await pd.locator('.contact-code').textContent(), dan.id);
  await pd.getByRole('button', { name: 'Close' }).click();
  await pa.goto('/chats');
  await pa.getByRole('button', { name: 'Contacts' }).click();
  await pa.getByLabel('Contact code').fill(dan.id);
  await pa.getByRole('button', { name: 'Send request' }).click();
  await pa.locator('.contact', { hasText: 'Dan Stranger' }).getByText('request sent').waitFor();
  await pa.getByRole('button', { name: 'Close' }).click();

  await pd.getByRole('button', { name: 'Contacts' }).click();
  const req = pd.locator('.contact', { hasText: 'Anna Asker' });
  await req.getByText('asks to be your contact').waitFor();
  await shot(pd, 'chat-contact-request');
  await req.getByRole('button', { name: 'Accept' }).click();
  await req.getByText('contact', { exact: true }).waitFor();
  await req.getByRole('button', { name: 'Message' }).click();
  await pd.getByRole('heading', { name: 'Anna Asker', level: 2 }).waitFor();
  await pd.getByLabel('Your message').fill('Hello Anna, nice to meet you');
  await pd.keyboard.press('Enter');
  await pd.locator('.msg.mine:not(.pending)', { hasText: 'nice to meet you' }).waitFor();
});

test('an attached image shows on the other side; a reply quotes the message it answers', async () => {
  const item = pa.locator('.chat-item', { hasText: 'Dan Stranger' });
  await item.waitFor();
  await item.click();
  await pa.locator('.msg.theirs', { hasText: 'nice to meet you' }).waitFor();
  // Anna replies to Dan's message.
  await pa.locator('.msg.theirs', { hasText: 'nice to meet you' }).hover();
  await pa.getByRole('button', { name: 'Reply to message' }).first().click();
  await pa.locator('.reply-bar').getByText('nice to meet you').waitFor();
  await pa.getByLabel('Your message').fill('Likewise!');
  await pa.keyboard.press('Enter');
  const quoted = pd.locator('.msg.theirs', { hasText: 'Likewise!' }).locator('.reply-quote');
  await quoted.getByText('nice to meet you').waitFor();
  // Anna attaches a picture; Dan sees it (its bytes come through the chat: Dan cannot see her avatar).
  await pa.locator('input[type=file]').setInputFiles(path.join(REPO, 'tests/fixtures/media/sample.png'));
  await pa.locator('.msg.mine:not(.pending) img.msg-image').waitFor();
  const img = pd.locator('.msg.theirs img.msg-image');
  await img.waitFor();
  await pd.waitForFunction(() => { const i = document.querySelector('.msg.theirs img.msg-image'); return i && i.complete && i.naturalWidth > 0; });
  assert.ok(await img.evaluate((i) => i.src.startsWith('blob:')));
  await shot(pd, 'chat-attachment-reply');
});
