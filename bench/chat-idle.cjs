'use strict';
// Idle connections for bench/chat.sh: one user opens N event connections (Socket.io or Doppel's
// events WebSocket), 64 at a time, then holds them until stdin closes. Prints "open N" once all
// are up. Run from a copy of ../shared/peers/bench (its node_modules).
//   node chat-idle.cjs --base URL --proto socketio|doppel-ws --token T --n 1000
const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, arr) => {
  if (v.startsWith('--')) a.push([v.slice(2), arr[i + 1]]);
  return a;
}, []));
const N = parseInt(args.n || '1000', 10);
const BASE = args.base.replace(/\/$/, '');

function connect() {
  if (args.proto === 'socketio') {
    const { io } = require('socket.io-client');
    const s = io(BASE, { auth: { token: args.token }, transports: ['websocket'], reconnection: false, forceNew: true });
    return new Promise((res, rej) => { s.once('connect', () => res(s)); s.once('connect_error', rej); });
  }
  const WebSocket = require('ws');
  const ws = new WebSocket(`${BASE.replace(/^http/, 'ws')}/api/v1/events?token=${encodeURIComponent(args.token)}`,
    { perMessageDeflate: false });
  return new Promise((res, rej) => {
    ws.on('message', (d) => { if (JSON.parse(d).type === 'ready') res(ws); });
    ws.once('error', rej);
  });
}

(async () => {
  const held = [];
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < N) { next++; held.push(await connect()); }
  }));
  console.log(`open ${held.length}`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
})().catch((e) => { console.error(`idle: ${e.message}`); process.exit(1); });
