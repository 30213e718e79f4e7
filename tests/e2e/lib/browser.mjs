// Helpers of the browser suites: a real server (fresh data directory, cheap password hashing) and
// Debian's chromium driven by playwright-core, headless and kept off the network.
//
//   DOPPEL_CHROMIUM   the browser to drive (default: chromium on the PATH, /usr/bin/chromium)
//   DOPPEL_E2E_SHOTS  where screenshots go (default build/e2e-screens)
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { REPO, start } from '../../api/lib/server.mjs';
import { FAST_ARGON } from '../../api/lib/accounts.mjs';

export { REPO };
export const PASSWORD = 'E2e-Password-' + Math.random().toString(36).slice(2, 10);
export const SHOTS = path.resolve(REPO, process.env.DOPPEL_E2E_SHOTS || 'build/e2e-screens');

/* The first of names on the PATH, else fallback. */
export function onPath(names, fallback) {
  for (const name of names) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {}
  }
  return fallback;
}

export const chromiumPath = () => process.env.DOPPEL_CHROMIUM || onPath(['chromium', 'chromium-browser'], '/usr/bin/chromium');

/* A doppel server for a test file: generous rate limits, cheap argon2, test routes. */
export function startServer(opts = {}) {
  return start({ ...opts, args: [...FAST_ARGON, '--auth-rate', '100000', '--api-rate', '100000', ...(opts.args || [])] });
}

/* Headless chromium that never leaves the machine: every host but 127.0.0.1 resolves nowhere.
 * extraArgs: more switches (e.g. a fake microphone fed from a WAV file). */
export function launch(extraArgs = []) {
  const args = [
    ...extraArgs,
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-domain-reliability',
    '--disable-breakpad',
    '--metrics-recording-only',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    '--proxy-server=direct://',
  ];
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/* A fresh context (own cookies and storage) whose page records errors of the page. */
export async function newPage(browser, base, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, baseURL: base });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // The server's Content-Security-Policy allows no inline script or style: a violation is a bug.
  page.on('console', (m) => /Content Security Policy/i.test(m.text()) && page.errors.push(m.text()));
  return page;
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: false });
}

let n = 0;
export const uniqEmail = (tag) => `${tag}-${process.pid}-${++n}@example.test`;

export async function signUp(page, email, name) {
  await page.goto('/signup');
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: `Hello, ${name}` }).waitFor();
}

/* Width of the document beyond the viewport (0 when nothing overflows sideways). */
export const overflowX = (page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

/* Decodes the QR code drawn as an SVG inside `selector` (rasterised by the page, read by jsQR). */
export async function readQr(page, selector) {
  const { default: jsQR } = await import('jsqr');
  const size = 400;
  const data = await page.evaluate(async ([sel, size]) => {
    const svg = document.querySelector(sel + ' svg');
    const text = new XMLSerializer().serializeToString(svg).replace('<svg', `<svg width="${size}" height="${size}"`);
    const img = new Image();
    img.src = 'data:image/svg+xml;base64,' + btoa(text);
    await img.decode();
    const c = document.createElement('canvas');
    c.width = c.height = size;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    // One byte per character: a string crosses a WebDriver BiDi connection far faster than an array.
    const px = ctx.getImageData(0, 0, size, size).data;
    let s = '';
    for (let i = 0; i < px.length; i += 8192) s += String.fromCharCode.apply(null, px.subarray(i, i + 8192));
    return s;
  }, [selector, size]);
  const r = jsQR(Uint8ClampedArray.from(Buffer.from(data, 'latin1')), size, size);
  return r ? r.data : null;
}

/* Form controls and buttons on the page without an accessible name (by label, aria-label or text). */
export const unlabelled = (page) => page.evaluate(() => {
  const named = (el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title')) return true;
    if (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (el.tagName === 'BUTTON' || el.tagName === 'A') return el.textContent.trim().length > 0;
    return false;
  };
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
    .filter((el) => el.offsetParent !== null || el.type === 'file')
    .filter((el) => !named(el))
    .map((el) => el.outerHTML.slice(0, 120));
});

/* A JSON API call outside the browser (setting a test up): the parsed answer, or an error naming
 * the status. token: a bearer access token, or null. */
export async function apiCall(base, method, p, token, body) {
  const r = await fetch(base + '/api/v1' + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${p} → ${r.status} ${JSON.stringify(j)}`);
  return j;
}
