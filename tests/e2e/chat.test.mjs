// People chat in two browser contexts: start a chat from the search, typing shows on the other
// side, the message arrives live, "Seen" comes back, an edit and a delete reach the other side,
// a dropped events socket resumes without losing what arrived meanwhile, and the page works at
// phone width. Needs the chat backend (branch `chat`): on a server without it the page says so.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addMember, PASSWORD as API_PASSWORD, signup } from '../api/lib/accounts.mjs';
import { launch, newPage, overflowX, shot, startServer, uniqEmail, unlabelled } from './lib/browser.mjs';

let srv, browser, anna, ben, cara, pa, pb;

async function logIn(page, email) {
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(API_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
}

/* The page's events socket, held by the test so that it can cut it like a network failure would. */
async function holdEvents(page) {
  const held = [];
  await page.routeWebSocket(/\/api\/v1\/events/, (ws) => {
    ws.connectToServer();
    held.push(ws);
  });
  return held;
}

before(async () => {
  [srv, browser] = await Promise.all([startServer({ args: ['--chat-presence-grace', '300', '--chat-typing-ttl', '3000'] }), launch()]);
  // The first account administers the default organisation; Ben is a member of it: they may reach each other.
  anna = await signup(srv, { email: uniqEmail('anna'), display_name: 'Anna Admin' });
  ben = await addMember(srv, anna.token, { display_name: 'Ben Member', email: uniqEmail('ben') });
  cara = await addMember(srv, anna.token, { display_name: 'Cara Member', email: uniqEmail('cara') });
  pa = await newPage(browser, srv.url);
  pb = await newPage(browser, srv.url);
  await Promise.all([logIn(pa, anna.email), logIn(pb, ben.email)]);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

let heldB;

test('Anna starts a chat with Ben from the search; Ben sees typing, the message live, and Anna sees "Seen"', async () => {
  heldB = await holdEvents(pb);
  await pb.goto('/chats');
  await pb.getByRole('heading', { name: 'Chats' }).waitFor();
  await pb.getByText('No chats yet.').waitFor();

  await pa.getByRole('link', { name: 'Chats with people' }).click();
  await pa.getByRole('button', { name: 'New chat' }).first().click();
  await pa.getByLabel('Find a person').fill('Ben');
  await pa.getByRole('checkbox', { name: 'Ben Member' }).check();
  await pa.getByRole('button', { name: 'Start chat' }).click();
  await pa.getByRole('heading', { name: 'Ben Member', level: 2 }).waitFor();
  assert.match(pa.url(), /\/chats\/[^/]+$/);

  // Ben has the page open: the new chat appears when its first message arrives; typing first.
  await pa.getByLabel('Your message').pressSequentially('Hello Ben', { delay: 20 });
  await pa.keyboard.press('Enter');
  const item = pb.locator('.chat-item', { hasText: 'Anna Admin' });
  await item.waitFor();
  await item.getByText('Hello Ben').waitFor();
  await item.locator('.unread', { hasText: '1' }).waitFor();
  // The sidebar's link counts it too, on any page.
  await pb.locator('#chats-link .unread', { hasText: '1' }).waitFor();
  await item.click();
  await pb.locator('.msg.theirs', { hasText: 'Hello Ben' }).waitFor();
  await pb.locator('#chats-link .unread').waitFor({ state: 'detached' });
  // Opening the chat read it: Anna's message says Seen, Ben's list has no unread count.
  await pa.locator('.msg.mine', { hasText: 'Hello Ben' }).getByText('Seen').waitFor();
  assert.equal(await item.locator('.unread').count(), 0);

  // Typing: Ben types, Anna sees it; it goes away when Ben sends.
  await pb.getByLabel('Your message').pressSequentially('Hi Anna', { delay: 30 });
  await pa.getByText('Ben Member is typing…').waitFor();
  await shot(pa, 'chat-typing');
  await pb.keyboard.press('Enter');
  await pa.locator('.msg.theirs', { hasText: 'Hi Anna' }).waitFor();
  await pa.getByText('Ben Member is typing…').waitFor({ state: 'detached' }).catch(async () => {
    assert.equal((await pa.locator('.typing-line').textContent()).trim(), '');
  });
  // Presence: both pages are open, so each shows the other online.
  await pa.locator('.chat-head .presence.online').waitFor();
  await shot(pb, 'chat-two-people');
  assert.deepEqual(pa.errors, []);
  assert.deepEqual(pb.errors, []);
});

test('an edit and a delete of one\'s own message reach the other side', async () => {
  const mine = pa.locator('.msg.mine', { hasText: 'Hello Ben' });
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit message' }).click();
  await pa.getByLabel('Your message').fill('Hello Ben, how are you?');
  await pa.getByRole('button', { name: 'Save' }).click();
  await pb.locator('.msg.theirs', { hasText: 'Hello Ben, how are you?' }).getByText('edited').waitFor();
  await pa.getByLabel('Your message').fill('a typo');
  await pa.keyboard.press('Enter');
  const typo = pa.locator('.msg.mine', { hasText: 'a typo' });
  await pb.locator('.msg.theirs', { hasText: 'a typo' }).waitFor();
  await typo.hover();
  await typo.getByRole('button', { name: 'Delete message' }).click();
  await pa.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await pb.locator('.msg.theirs', { hasText: 'Message deleted' }).waitFor();
  assert.equal(await pb.locator('.msg', { hasText: 'a typo' }).count(), 0);
});

test('a dropped events socket reconnects and resumes: nothing sent meanwhile is lost', async () => {
  assert.ok(heldB.length >= 1, 'the page opened its events socket');
  await heldB[heldB.length - 1].close({ code: 4000, reason: 'test drop' });
  // Sent while Ben's socket is down (the page reconnects with ?since= after a short wait).
  for (const t of ['while away 1', 'while away 2', 'while away 3']) {
    await pa.getByLabel('Your message').fill(t);
    await pa.keyboard.press('Enter');
    await pa.locator('.msg.mine', { hasText: t }).locator('.msg-status', { hasText: /Sending/ }).waitFor({ state: 'detached' }).catch(() => {});
  }
  for (const t of ['while away 1', 'while away 2', 'while away 3']) await pb.locator('.msg.theirs', { hasText: t }).waitFor();
  assert.ok(heldB.length >= 2, 'the page opened a second socket');
  // Each exactly once, in order.
  const texts = await pb.locator('.msg.theirs .bubble-text').allTextContents();
  const away = texts.filter((t) => t.startsWith('while away'));
  assert.deepEqual(away, ['while away 1', 'while away 2', 'while away 3']);
  await pa.locator('.msg.mine', { hasText: 'while away 3' }).getByText('Seen').waitFor();
});

test('a send that fails is kept with Retry; a retry whose answer was lost stores it once', async () => {
  let mode = 'refuse';
  await pa.route('**/api/v1/chats/*/messages', async (route) => {
    if (route.request().method() !== 'POST' || mode === 'pass') return route.fallback();
    const m = mode;
    mode = 'pass';
    // refuse: the request never reaches the server. lost: the server stores it, the answer is lost.
    if (m === 'lost') await route.fetch();
    return route.abort('connectionreset');
  });
  await pa.getByLabel('Your message').fill('only once');
  await pa.keyboard.press('Enter');
  const row = pa.locator('.msg.mine', { hasText: 'only once' });
  await row.getByText(/Not sent/).waitFor();
  await row.getByRole('button', { name: 'Retry' }).click();
  await row.locator('.msg-status', { hasText: /Sending|Not sent/ }).waitFor({ state: 'detached' });
  await pb.locator('.msg.theirs', { hasText: 'only once' }).waitFor();

  mode = 'lost';
  await pa.getByLabel('Your message').fill('stored, answer lost');
  await pa.keyboard.press('Enter');
  const row2 = pa.locator('.msg.mine', { hasText: 'stored, answer lost' });
  // The live event may heal the row first; otherwise Retry sends the same client_id again.
  await row2.getByRole('button', { name: 'Retry' }).click({ timeout: 2000 }).catch(() => {});
  await pb.locator('.msg.theirs', { hasText: 'stored, answer lost' }).waitFor();
  await pb.waitForTimeout(500);
  await pa.reload();
  await pa.locator('.msg.mine', { hasText: 'stored, answer lost' }).waitFor();
  for (const t of ['only once', 'stored, answer lost']) {
    assert.equal(await pa.locator('.msg.mine', { hasText: t }).count(), 1, t);
    assert.equal(await pb.locator('.msg.theirs', { hasText: t }).count(), 1, t);
  }
  await pa.unroute('**/api/v1/chats/*/messages');
});

test('older history loads on scroll, newest at the bottom', async () => {
  const chatId = pb.url().split('/').pop();
  for (let i = 1; i <= 70; i++) {
    const r = await fetch(`${srv.url}/api/v1/chats/${chatId}/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + ben.token }, body: JSON.stringify({ text: `history ${i}.` }), // the stop ends the number before the time shown after it
    });
    assert.equal(r.status, 201);
  }
  await pa.reload();
  const log = pa.locator('.people-log');
  await log.locator('.msg', { hasText: 'history 70.' }).waitFor();
  assert.equal(await log.locator('.msg', { hasText: /^(Ben Member: )?Hello Ben/ }).count(), 0, 'the oldest is not loaded yet');
  const last = await log.locator('.msg').last().textContent();
  assert.match(last, /history 70\./);
  await log.evaluate((el) => (el.scrollTop = 0));
  await log.locator('.msg', { hasText: 'Hello Ben, how are you?' }).waitFor();
});

test('a group of three: senders are named; a muted chat stays muted', async () => {
  await pa.goto('/chats');
  await pa.getByRole('button', { name: 'New chat' }).first().click();
  await pa.getByLabel('Find a person').fill('Member');
  await pa.getByRole('checkbox', { name: 'Ben Member' }).check();
  await pa.getByRole('checkbox', { name: 'Cara Member' }).check();
  await pa.getByRole('button', { name: 'Start chat' }).click();
  await pa.getByRole('heading', { name: 'Ben Member, Cara Member', level: 2 }).waitFor();
  await pa.getByLabel('Your message').fill('hello, both of you');
  await pa.keyboard.press('Enter');
  const group = pb.locator('.chat-item', { hasText: 'hello, both of you' });
  await pb.goto('/chats');
  await group.click();
  await pb.locator('.msg.theirs', { hasText: 'hello, both of you' }).locator('.msg-sender', { hasText: 'Anna Admin' }).waitFor();
  // Cara has it too (over the API: she has no browser here).
  const chatId = pb.url().split('/').pop();
  const r = await fetch(`${srv.url}/api/v1/chats/${chatId}/messages`, { headers: { authorization: 'Bearer ' + cara.token } });
  assert.deepEqual((await r.json()).items.map((m) => m.text), ['hello, both of you']);
  await pb.getByRole('button', { name: 'Mute' }).click();
  await pb.getByRole('button', { name: 'Unmute' }).waitFor();
  await pb.reload();
  await pb.getByRole('button', { name: 'Unmute' }).waitFor();
  await pb.getByRole('button', { name: 'Unmute' }).click();
  await pb.getByRole('button', { name: 'Mute' }).waitFor();
  assert.deepEqual(pb.errors, []);
});

test('phone width: the list, then the conversation with a way back; nothing overflows', async () => {
  const phone = await newPage(browser, srv.url, { width: 390, height: 844 });
  await logIn(phone, ben.email);
  await phone.goto('/chats');
  const item = phone.locator('.chat-item').filter({ has: phone.locator('.chat-item-name', { hasText: /^Anna Admin$/ }) });
  await item.waitFor();
  assert.equal(await overflowX(phone), 0);
  await item.click();
  await phone.getByLabel('Your message').waitFor();
  assert.ok(await phone.getByLabel('Your message').isVisible());
  assert.ok(await phone.getByRole('button', { name: 'Send' }).isVisible());
  assert.equal(await phone.locator('.chat-side').isVisible(), false, 'one pane at a time');
  assert.equal(await overflowX(phone), 0);
  assert.deepEqual(await unlabelled(phone), []);
  await shot(phone, 'chat-phone');
  await phone.getByRole('link', { name: 'All chats' }).click();
  await item.waitFor();
  assert.deepEqual(phone.errors, []);
  await phone.context().close();
});

test('a server without people chat: the page says so, the rest of the app works', async () => {
  // An older server: every chat route answers 501 not_implemented.
  await pa.route('**/api/v1/chats**', (route) => route.fulfill({ status: 501, json: { error: { code: 'not_implemented', message: 'not implemented' } } }));
  await pa.goto('/chats');
  await pa.getByRole('heading', { name: 'Chats are not available on this server yet' }).waitFor();
  await pa.getByRole('link', { name: 'Doppel' }).click();
  await pa.getByRole('heading', { name: /^Hello/ }).waitFor();
  await pa.unrouteAll();
  assert.deepEqual(pa.errors, []);
});
