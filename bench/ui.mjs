// Browser UI benchmark: JS/CSS bytes shipped (raw and gzip) and time to interactive of the app shell
// (log-in page; signed-in home) and of an avatar with 1,000 messages of history, in Debian's chromium
// on loopback. Prints figures beside the targets; never passes or fails.
// Usage: node bench/ui.mjs   (needs ./doppel and `npm ci --prefix tests/e2e`; BENCH_UI_RUNS, default 15)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { launch, newPage, PASSWORD, REPO, startServer } from '../tests/e2e/lib/browser.mjs';

const RUNS = Number(process.env.BENCH_UI_RUNS || 15);
const HISTORY = 1000;

/* ---- bytes ---- */
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
const files = walk(path.join(REPO, 'web'));
const sum = (re) => {
  let raw = 0;
  let gz = 0;
  for (const f of files.filter((f) => re.test(f))) {
    const b = fs.readFileSync(f);
    raw += b.length;
    gz += zlib.gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
};
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
const js = sum(/\.js$/);
const css = sum(/\.css$/);
const html = sum(/\.(html|svg)$/);
const total = { raw: js.raw + css.raw + html.raw, gz: js.gz + css.gz + html.gz };
console.log('UI bytes shipped (web/, everything the app can load)');
console.log(`  JS     ${kb(js.raw).padStart(9)} raw  ${kb(js.gz).padStart(8)} gzip`);
console.log(`  CSS    ${kb(css.raw).padStart(9)} raw  ${kb(css.gz).padStart(8)} gzip`);
console.log(`  HTML+SVG ${kb(html.raw).padStart(7)} raw  ${kb(html.gz).padStart(8)} gzip`);
console.log(`  total  ${kb(total.raw).padStart(9)} raw  ${kb(total.gz).padStart(8)} gzip   (target < 200 KB compressed)`);

/* ---- time to interactive ---- */
const srv = await startServer();
const browser = await launch();
const B = srv.url + '/api/v1';
const call = async (method, p, token, body) => {
  const r = await fetch(B + p, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: body && JSON.stringify(body) });
  return r.json();
};
const email = `bench-${process.pid}@example.test`;
const s = await call('POST', '/auth/signup', null, { email, password: PASSWORD, display_name: 'Bench' });
const t = s.access_token;
const a = await call('POST', '/avatars', t, { name: 'Bench Avatar', kind: 'character', greeting: 'Hi.' });
await call('POST', `/avatars/${a.id}/memories`, t, { text: 'The bench avatar remembers the number forty-two.' });
const c = await call('POST', `/avatars/${a.id}/conversations`, t, {});
const cid = c.conversation.id;
const t0 = Date.now();
for (let i = 1; i < HISTORY / 2; i++) await call('POST', `/conversations/${cid}/messages`, t, { text: `Question ${i}: what number do you remember?` });
console.log(`\n(history of ${HISTORY} messages made in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

/* Milliseconds from navigation start to the app's "ready" mark, and the bytes the page loaded. */
async function measure(page, url, readySel) {
  let bytes = 0;
  const onResp = async (r) => {
    try {
      const len = Number(r.headers()['content-length'] || 0);
      bytes += len;
    } catch {}
  };
  page.on('response', onResp);
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector(readySel, { timeout: 30000 });
  // The app marks the moment its first view is rendered and wired (performance.now() since navigation).
  const ms = await page.evaluate(() => window.__doppelReady);
  page.off('response', onResp);
  return { ms, bytes };
}

const stats = (xs) => {
  const v = [...xs].sort((x, y) => x - y);
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  return `median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, min ${v[0].toFixed(0)} ms`;
};

const anon = await newPage(browser, srv.url);
const signed = await newPage(browser, srv.url);
await signed.goto('/login');
await signed.getByLabel('E-mail').fill(email);
await signed.getByLabel('Password').fill(PASSWORD);
await signed.getByRole('button', { name: 'Log in' }).click();
await signed.getByRole('heading', { name: 'Hello, Bench' }).waitFor();

const cases = [
  ['app shell, log-in page (anonymous)', anon, '/login', 'body.ready form button[type=submit]'],
  ['app shell, signed-in home (session restored from the cookie)', signed, '/', 'body.ready .avatar-card'],
  [`avatar with ${HISTORY} messages of history (talk view)`, signed, `/avatars/${a.id}/talk/${cid}`, 'body.ready .chat-input'],
];
console.log(`\nTime to interactive on loopback (chromium, ${RUNS} loads each; target: shell < 300 ms; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
for (const [label, page, url, sel] of cases) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await measure(page, url, sel);
    times.push(r.ms);
    bytes = r.bytes;
  }
  const shown = label.startsWith('avatar') ? await page.locator('.msg').count() : null;
  console.log(`  ${label}: ${stats(times)}; last load ${kb(bytes)} over the wire${shown != null ? `, ${shown} messages shown` : ''}`);
}
await browser.close();
await srv.stop();
