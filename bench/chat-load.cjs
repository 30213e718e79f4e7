'use strict';
// Chat load client of bench/chat.sh: ../shared/peers/bench/chat.js (the peers' own client, so that
// both servers meet the same load), with the Doppel adapter made real: a ready frame after the
// connection caught up, sends as message.send frames, receipts by seq. Run from a copy of
// the peers' bench folder (its node_modules: ws, socket.io-client).
// Chat benchmark client for peers/bench.sh. All clients live in this one process, so
// send and receive times come from one monotonic clock (process.hrtime).
//
//   node chat.js --base http://127.0.0.1:8002 [--proto socketio|doppel-ws]
//                [--msgs 2000] [--fanout 100] [--fanout-msgs 200] [--burst 2000] [--idle 0]
//
// Figures (one line each, then a JSON line):
//   smoke     typing:start, message:new, read:receipt, user:online all delivered
//   latency   N messages A->B one at a time (next sent when previous arrives): p50/p99
//   burst     N messages A->B sent back-to-back (64 in flight): msgs/s, p50/p99
//   fanout    1 sender -> group chat of F receivers, M messages one at a time:
//             per-delivery p50/p99, time-to-last-receiver p50/p99, deliveries/s
//
// Protocols:
//   socketio   Socket.io v4 (the Express peer, seed S1): events typing:start/stop,
//              message:send (ack) -> message:new, message:read -> read:receipt,
//              user:online/user:offline. Chats made with POST /api/v1/chats.
//   doppel-ws  shared/API.md: WS /api/v1/events?token= receives JSON frames
//              {"type":"message.new",...}; messages are sent with
//              POST /api/v1/chats/{id}/messages {text}. UNTESTED GUESS of the C
//              server's framing: adapt `DoppelWs` below when it exists.
const { performance } = require('perf_hooks');

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, arr) => {
  if (v.startsWith('--')) a.push([v.slice(2), arr[i + 1] && !arr[i + 1].startsWith('--') ? arr[i + 1] : '1']);
  return a;
}, []));
const BASE = (args.base || 'http://127.0.0.1:8002').replace(/\/$/, '');
const PROTO = args.proto || 'socketio';
const MSGS = parseInt(args.msgs || '2000', 10);
const BURST = parseInt(args.burst || '2000', 10);
const FANOUT = parseInt(args.fanout || '100', 10);
const FANOUT_MSGS = parseInt(args['fanout-msgs'] || '200', 10);
const IDLE = parseInt(args.idle || '0', 10); // extra idle connections held open during the tests
const PASSWORD = 'bench-password-1';
const RUN = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

const now = () => performance.now(); // ms, monotonic
function pct(arr, p) {
  if (!arr.length) return NaN;
  const s = Float64Array.from(arr).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(BASE + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}
async function signup(tag) {
  const out = await api('POST', '/api/v1/auth/signup',
    { email: `chat-${RUN}-${tag}@bench.example`, password: PASSWORD, display_name: `bench ${tag}` });
  return { id: out.user.id, token: out.access_token };
}
async function pool(n, conc, fn) {
  const res = new Array(n); let next = 0;
  await Promise.all(Array.from({ length: Math.min(conc, n) }, async () => {
    while (next < n) { const i = next++; res[i] = await fn(i); }
  }));
  return res;
}

// ---------- protocol adapters: connect(user) -> client {on(ev,fn), send(chat,text,cid), typing(chat), read(mid), close()}
class SocketIo {
  static async connect(user) {
    const { io } = require('socket.io-client');
    const s = io(BASE, { auth: { token: user.token }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); });
    return new SocketIo(s);
  }
  constructor(s) { this.s = s; }
  on(ev, fn) {
    const map = { 'message.new': 'message:new', 'typing.start': 'typing:start', 'receipt.read': 'read:receipt', presence: 'user:online' };
    this.s.on(map[ev] || ev, fn);
  }
  send(chatId, text, cid) { this.s.emit('message:send', { chat_id: chatId, text, client_id: cid }); }
  typing(chatId) { this.s.emit('typing:start', { chat_id: chatId }); }
  read(mid) { this.s.emit('message:read', { message_id: mid }); }
  close() { this.s.close(); }
}

class DoppelWs {
  static async connect(user) {
    const WebSocket = require('ws');
    const ws = new WebSocket(`${BASE.replace(/^http/, 'ws')}/api/v1/events?token=${encodeURIComponent(user.token)}`);
    const c = new DoppelWs(ws, user);
    await new Promise((res, rej) => { c.on('ready', res); ws.once('error', rej); });
    return c;
  }
  constructor(ws, user) {
    this.ws = ws; this.user = user; this.h = {};
    ws.on('message', (data) => {
      let m; try { m = JSON.parse(data); } catch (e) { return; }
      if (m.type === 'message.error' || m.type === 'error') { console.error(JSON.stringify(m)); process.exit(2); }
      const fns = this.h[m.type]; if (fns) for (const fn of fns) fn(m.data || m.message || m);
    });
  }
  on(ev, fn) { (this.h[ev] = this.h[ev] || []).push(fn); }
  // Sent on the socket (message.send, acknowledged with message.ack once stored), as the
  // Socket.io peer's message:send; a message.error ends the run.
  send(chatId, text, cid) { this.ws.send(JSON.stringify({ type: 'message.send', chat_id: chatId, text, client_id: cid })); }
  typing(chatId) { this.ws.send(JSON.stringify({ type: 'typing.start', chat_id: chatId })); }
  read(mid, seq) { api('POST', `/api/v1/chats/${this.chat}/read`, { up_to: seq }, this.user.token).catch(() => {}); }
  close() { this.ws.close(); }
}
const Proto = { socketio: SocketIo, 'doppel-ws': DoppelWs }[PROTO];
if (!Proto) { console.error(`unknown --proto ${PROTO}`); process.exit(2); }

const waitFor = (pred, ms, what) => new Promise((res, rej) => {
  const t0 = now();
  const tick = () => { if (pred()) return res(); if (now() - t0 > ms) return rej(new Error(`timeout: ${what}`)); setTimeout(tick, 1); };
  tick();
});

async function main() {
  const out = { proto: PROTO, base: BASE, idle: IDLE };
  const [A, B] = await pool(2, 2, (i) => signup(i === 0 ? 'a' : 'b'));
  let idle = [];
  if (IDLE > 0) { // one more user holding IDLE sockets open (like many devices/tabs)
    const I = await signup('idle');
    idle = await pool(IDLE, 32, () => Proto.connect(I));
    console.log(`chat idle: ${IDLE} extra connections open`);
  }
  const chat = await api('POST', '/api/v1/chats', { participants: [B.id] }, A.token);
  const ca = await Proto.connect(A);
  const onlineSeen = [];
  ca.on('presence', (p) => onlineSeen.push(p.user_id));
  const cb = await Proto.connect(B);
  cb.chat = chat.id; ca.chat = chat.id;

  // ---- smoke: typing, message, read receipt, presence
  let typed = false, got = null, receipt = null;
  cb.on('typing.start', () => { typed = true; });
  ca.on('receipt.read', (r) => { receipt = r; });
  const pending = new Map(); // cid -> t0
  const lat = [];
  let recvCount = 0; let wake = null;
  cb.on('message.new', (m) => {
    const t1 = now();
    got = m;
    const t0 = pending.get(m.client_id);
    if (t0 !== undefined) { lat.push(t1 - t0); pending.delete(m.client_id); }
    recvCount++;
    if (wake) { const w = wake; wake = null; w(); }
  });
  const arrival = () => new Promise((r) => { wake = r; });
  ca.typing(chat.id);
  ca.send(chat.id, 'hello', 'smoke');
  try {
    await waitFor(() => typed && got, 5000, 'typing/message');
    cb.read(got.id, got.seq);
    await waitFor(() => receipt, 5000, 'read receipt');
    await waitFor(() => onlineSeen.includes(B.id), 2000, 'presence');
    console.log('chat smoke: typing:start, message:new, read:receipt, user:online delivered: ok');
    out.smoke = 'ok';
  } catch (e) { console.log(`chat smoke: FAILED (${e.message})`); out.smoke = e.message; }

  // ---- latency: one at a time
  const oneAtATime = async (n, tag) => {
    lat.length = 0;
    for (let i = 0; i < n; i++) {
      const cid = `${tag}${i}`;
      const p = arrival();
      pending.set(cid, now());
      ca.send(chat.id, `message ${i} from a to b, a typical short chat line`, cid);
      // eslint-disable-next-line no-await-in-loop
      await p;
    }
  };
  await oneAtATime(200, 'w'); // warm-up
  const tL = now();
  await oneAtATime(MSGS, 'l');
  const elL = (now() - tL) / 1000;
  out.latency = { n: lat.length, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: pct(lat, 100), msgs_per_s: MSGS / elL };
  console.log(`chat latency (${MSGS} msgs A->B, one in flight${IDLE ? `, ${IDLE} idle conns` : ''}): p50 ${f2(out.latency.p50_ms)} ms, p99 ${f2(out.latency.p99_ms)} ms, max ${f2(out.latency.max_ms)} ms (${out.latency.msgs_per_s.toFixed(0)} round trips/s)`);

  // ---- burst: 64 in flight
  lat.length = 0;
  const start = recvCount; let sent = 0; const tB = now();
  const timer = setTimeout(() => { console.error('burst delivery timeout'); process.exit(1); }, 60000);
  while (recvCount - start < BURST) {
    while (sent < BURST && sent - (recvCount - start) < 64) {
      const cid = `b${sent}`; pending.set(cid, now());
      ca.send(chat.id, `burst ${sent} from a to b, a typical short chat line`, cid); sent++;
    }
    // eslint-disable-next-line no-await-in-loop
    await arrival();
  }
  clearTimeout(timer);
  const elB = (now() - tB) / 1000;
  out.burst = { n: BURST, msgs_per_s: BURST / elB, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
  console.log(`chat burst (${BURST} msgs A->B, 64 in flight): ${out.burst.msgs_per_s.toFixed(0)} msgs/s, p50 ${f2(out.burst.p50_ms)} ms, p99 ${f2(out.burst.p99_ms)} ms`);
  ca.close(); cb.close();

  // ---- fan-out: 1 sender -> group of FANOUT receivers
  if (FANOUT > 0) {
    const S = await signup('s');
    const R = await pool(FANOUT, 8, (i) => signup(`r${i}`));
    const group = await api('POST', '/api/v1/chats', { participants: R.map((r) => r.id) }, S.token);
    const cs = await Proto.connect(S);
    const crs = await pool(FANOUT, 16, (i) => Proto.connect(R[i]));
    const per = []; const last = []; let cur = null; let curT0 = 0; let curGot = 0; let curLast = 0;
    let done = null;
    crs.forEach((c) => { c.chat = group.id; c.on('message.new', (m) => {
      if (m.client_id !== cur) return;
      const t = now() - curT0; per.push(t); curGot++; curLast = t;
      if (curGot >= FANOUT && done) { const d = done; done = null; d(); }
    }); });
    await sleep(200);
    const M = FANOUT_MSGS; const tF = now();
    for (let i = -20; i < M; i++) { // 20 warm-up messages
      if (i === 0) { per.length = 0; last.length = 0; }
      const p = new Promise((r) => { done = r; });
      const to = setTimeout(() => { console.error('fan-out delivery timeout'); process.exit(1); }, 10000);
      cur = `f${i}`; curGot = 0; curT0 = now();
      cs.send(group.id, `fan-out ${i}`, cur);
      // eslint-disable-next-line no-await-in-loop
      await p; clearTimeout(to);
      if (i >= 0) last.push(curLast);
    }
    const elF = (now() - tF) / 1000;
    out.fanout = { receivers: FANOUT, msgs: M, deliveries_per_s: (FANOUT * M) / elF,
      per_delivery_p50_ms: pct(per, 50), per_delivery_p99_ms: pct(per, 99),
      last_receiver_p50_ms: pct(last, 50), last_receiver_p99_ms: pct(last, 99) };
    console.log(`chat fan-out (1 -> ${FANOUT} receivers, ${M} msgs one at a time): ${out.fanout.deliveries_per_s.toFixed(0)} deliveries/s, per-delivery p50 ${f2(out.fanout.per_delivery_p50_ms)} ms p99 ${f2(out.fanout.per_delivery_p99_ms)} ms, last receiver p50 ${f2(out.fanout.last_receiver_p50_ms)} ms p99 ${f2(out.fanout.last_receiver_p99_ms)} ms`);
    cs.close(); crs.forEach((c) => c.close());
  }
  idle.forEach((c) => c.close());
  console.log(`CHAT_JSON ${JSON.stringify(out)}`);
  setTimeout(() => process.exit(0), 100);
}
main().catch((e) => { console.error(`chat bench failed: ${e.stack || e}`); process.exit(1); });
