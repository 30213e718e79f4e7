// Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi (playwright-core's own BiDi
// channel sends commands 153 ESR does not know), headless, kept off the network, with Firefox's fake
// microphone. Puppeteer has no getByRole/getByLabel: `find` below looks controls up the way a
// person names them (label, role and name, visible text), in the page, so the Firefox suite reads
// like the Chromium one. The server, accounts and page checks (overflowX, unlabelled, readQr, shot)
// come from ./browser.mjs, shared with the Chromium suite.
//
//   DOPPEL_FIREFOX   the browser to drive (default: firefox-esr or firefox on the PATH)
import puppeteer from 'puppeteer-core';
import { onPath, PASSWORD } from './browser.mjs';

export const firefoxPath = () => process.env.DOPPEL_FIREFOX || onPath(['firefox-esr', 'firefox'], '/usr/bin/firefox-esr');

/* Prefs: no network but loopback, no updates or telemetry, a fake microphone (a tone) that needs no
 * permission prompt, audio that plays without a sound card and without a gesture. */
const PREFS = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9, // discard: anything not on loopback fails at once
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.no_proxies_on': '127.0.0.1,localhost',
  'network.proxy.allow_hijacking_localhost': false,
  'network.dns.disableIPv6': true,
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // No sound card here: Firefox's own test double of the audio backend plays Web Audio into
  // nothing at the real pace (with no backend an AudioContext never leaves "suspended").
  'media.cubeb.force_mock_context': true,
  'media.autoplay.default': 0,
  'media.autoplay.block-webaudio': false,
};

export function launchFirefox(prefs = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath(),
    headless: true,
    extraPrefsFirefox: { ...PREFS, ...prefs },
    protocolTimeout: 60000,
  });
}

/* A fresh browser context (own cookies and storage) whose page knows its server's address and
 * records the page's uncaught errors. */
export async function newPage(browser, base, viewport = { width: 1280, height: 860 }) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(15000);
  page.base = base;
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => /Content[- ]Security[- ]Policy/i.test(m.text()) && page.errors.push(m.text()));
  return page;
}

export const go = (page, p) => page.goto(new URL(p, page.base).href);

/* In the page: the elements a query names. q: {css, role, name, label, text, level, exact, within
 * (a selector or a query), hidden (also invisible ones)}; name/label/text are strings (a case-insensitive substring unless
 * exact, exact matches preferred) or {re, flags}. */
function findAll(q) {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const test = (want, got) => {
    got = norm(got);
    if (want && typeof want === 'object') return new RegExp(want.re, want.flags).test(got);
    return q.exact ? got === want : got.toLowerCase().includes(want.toLowerCase());
  };
  const named = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
    if (by) return by.split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
    if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(' ');
    if (el.tagName === 'INPUT' && /^(submit|button)$/.test(el.type)) return el.value;
    return el.textContent || el.getAttribute('title') || '';
  };
  const ROLES = {
    button: 'button, input[type=submit], input[type=button], [role=button]',
    link: 'a[href], [role=link]',
    heading: 'h1, h2, h3, h4, h5, h6, [role=heading]',
    checkbox: 'input[type=checkbox], [role=checkbox]',
    alert: '[role=alert]',
    status: '[role=status]',
  };
  // within: a CSS selector, or a query of its own (e.g. the memory that holds a text).
  const roots = !q.within ? [document] : typeof q.within === 'string' ? [...document.querySelectorAll(q.within)] : findAll(q.within);
  const LABELLED = 'input, select, textarea, audio, video, meter, progress, [contenteditable=true], [aria-label], [aria-labelledby]';
  let css = q.css || (q.role ? ROLES[q.role] : q.label ? LABELLED : '*');
  let els = roots.flatMap((r) => [...r.querySelectorAll(css)]);
  if (!q.hidden) els = els.filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
  if (q.level) els = els.filter((el) => el.tagName === 'H' + q.level);
  let want = null;
  let text = null;
  if (q.label != null) (want = q.label), (text = named);
  else if (q.name != null) (want = q.name), (text = named);
  else if (q.text != null) {
    want = q.text;
    text = (el) => el.textContent;
    // Without a css or role: the innermost elements holding the text, as a person sees it.
    els = els.filter((el) => test(want, el.textContent) && (css !== '*' || ![...el.children].some((c) => test(want, c.textContent))));
  }
  if (want == null) return els;
  const hits = els.filter((el) => test(want, text(el)));
  if (typeof want === 'string' && !q.exact) {
    const exact = hits.filter((el) => norm(text(el)).toLowerCase() === want.toLowerCase());
    if (exact.length) return exact;
  }
  return hits;
}

const wire = (q) => {
  const out = { ...q };
  for (const k of ['name', 'label', 'text']) if (q[k] instanceof RegExp) out[k] = { re: q[k].source, flags: q[k].flags };
  if (q.within && typeof q.within === 'object') out.within = wire(q.within);
  return out;
};
const describe = (q) => JSON.stringify(wire(q));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn (in the page, with args) until it returns something truthy; a navigation meanwhile (the
 * page's context replaced) only means another try. Returns fn's result as a handle. */
async function poll(page, fn, args, timeout, what) {
  const end = Date.now() + (timeout || page.getDefaultTimeout());
  let last = '';
  for (;;) {
    try {
      const h = await page.evaluateHandle(fn, ...args);
      if (await h.evaluate((x) => !!x)) return h;
      await h.dispose();
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end) {
      const seen = await page.evaluate(() => (document.querySelector('#main') || document.body).innerText.replace(/\s+/g, ' ').slice(0, 400)).catch(() => '');
      throw new Error(`${what} on ${page.url()}: timed out${last ? ' (' + last + ')' : ''}; the page shows: ${seen}`);
    }
    await sleep(100);
  }
}

/* The first element the query names, waited for (timeout ms). */
export async function find(page, q, timeout) {
  const h = await poll(page, (src, w) => new Function('return ' + src)()(w)[w.nth || 0] || null, [findAll.toString(), wire(q)], timeout, `no element ${describe(q)}`);
  return h.asElement();
}

/* How many elements the query names now. */
export const count = (page, q) => page.evaluate((src, w) => new Function('return ' + src)()(w).length, findAll.toString(), wire(q));

/* Waits until the query names nothing. */
export async function gone(page, q, timeout) {
  await poll(page, (src, w) => new Function('return ' + src)()(w).length === 0, [findAll.toString(), wire(q)], timeout, `still there: ${describe(q)}`);
}

/* Clicks what the query names; an element re-rendered between finding and clicking (detached, or
 * without a box for a moment: "not clickable") is found again. */
export async function click(page, q, timeout) {
  for (let tries = 0; ; tries++) {
    const el = await find(page, q, timeout);
    try {
      await el.click();
      return el;
    } catch (e) {
      if (tries >= 4 || !/detached|not clickable/i.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/* Fills a field as Playwright's fill does: focus, select what is there, insert the text over it
 * in one input event (as a paste would). Typing key by key costs two BiDi round trips a character;
 * tests that need keys (typing indicators, the keyboard alone) use page.keyboard. */
export async function fill(page, q, value) {
  const el = await find(page, q);
  await el.evaluate((e, v) => {
    e.focus();
    if (e.select) e.select();
    if (v === '') document.execCommand('delete');
    else document.execCommand('insertText', false, v);
  }, value);
  return el;
}

export async function choose(page, q, value) {
  const el = await find(page, q);
  await el.select(value);
  return el;
}

export const textOf = async (page, q) => (await find(page, q)).evaluate((e) => e.textContent);

/* Waits until the page's script says yes (fn in the page; arg passed to it). */
export const until = (page, fn, arg, timeout) => poll(page, (src, a) => new Function('return ' + src)()(a), [fn.toString(), arg], timeout, `not true: ${fn}`);

/* Presses Tab until the focus is on what the query names (at most `max` presses): whether the
 * keyboard alone reaches it. */
export async function tabTo(page, q, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((src, w) => new Function('return ' + src)()(w).includes(document.activeElement), findAll.toString(), wire(q))) return;
  }
  throw new Error(`Tab never reaches ${describe(q)} on ${page.url()}`);
}

export async function logIn(page, email, password = PASSWORD) {
  await go(page, '/login');
  await fill(page, { label: 'E-mail' }, email);
  await fill(page, { label: 'Password' }, password);
  await click(page, { role: 'button', name: 'Log in', exact: true });
}

export async function signUp(page, email, name) {
  await go(page, '/signup');
  await fill(page, { label: 'Your name' }, name);
  await fill(page, { label: 'E-mail' }, email);
  await fill(page, { label: 'Password' }, PASSWORD);
  await click(page, { role: 'button', name: 'Create account' });
  await find(page, { role: 'heading', name: `Hello, ${name}` });
}
