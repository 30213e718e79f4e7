// Helpers of the chat suites (chat*.test.mjs): users who may reach each other, chats, and an
// events WebSocket client that collects frames and waits for the one a test expects.
import WebSocket from 'ws';
import { addMember, api, signup, startAccounts } from './accounts.mjs';
import { scaled } from './server.mjs';

export async function startChat(opts = {}) {
  return startAccounts({ ...opts, args: ['--chat-presence-grace', '300', ...(opts.args || [])] });
}

/* The instance's admin and n members of its organisation (they may reach each other). */
export async function team(srv, n) {
  const admin = await signup(srv);
  const people = [];
  for (let i = 0; i < n; i++) people.push(await addMember(srv, admin.token, { display_name: `Member ${i}` }));
  return { admin, people };
}

export async function newChat(srv, who, others, extra = {}) {
  const r = await api(srv, 'POST', '/chats', { token: who.token, body: { participants: others.map((o) => o.id), ...extra } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST /chats → ${r.status}: ${r.text}`);
  return r.json;
}

export async function send(srv, who, chatId, body) {
  return api(srv, 'POST', `/chats/${chatId}/messages`, { token: who.token, body: typeof body === 'string' ? { text: body } : body });
}

/* An events socket: ev.frames (every frame so far), ev.wait(pred, ms) → the first frame since
 * the last wait that matches, ev.none(pred, ms) → asserts none arrives, ev.send(obj). Resolves
 * once the server's ready frame has arrived. */
export function events(srv, who, { since, query = '' } = {}) {
  const url = srv.url.replace('http', 'ws') + '/api/v1/events?token=' + encodeURIComponent(who.token) +
    (since !== undefined ? '&since=' + since : '') + query;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const ev = { ws, frames: [], cursor: 0, waiters: [] };
    ev.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      ev.frames.push(f);
      for (const w of [...ev.waiters]) w();
      if (f.type === 'ready') resolve(ev);
    });
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error('closed before ready: ' + code)));
    ev.wait = (pred, ms = 5000) => new Promise((res, rej) => {
      const look = () => {
        for (let i = ev.cursor; i < ev.frames.length; i++) {
          if (pred(ev.frames[i])) {
            ev.cursor = i + 1;
            ev.waiters = ev.waiters.filter((w) => w !== look);
            clearTimeout(t);
            res(ev.frames[i]);
            return true;
          }
        }
        return false;
      };
      const t = setTimeout(() => {
        ev.waiters = ev.waiters.filter((w) => w !== look);
        rej(new Error('no matching frame within ' + ms + ' ms; got ' + JSON.stringify(ev.frames.slice(ev.cursor))));
      }, scaled(ms));
      if (!look()) ev.waiters.push(look);
    });
    ev.none = async (pred, ms = 700) => {
      const from = ev.frames.length;
      await new Promise((r) => setTimeout(r, scaled(ms)));
      const hit = ev.frames.slice(from).find(pred);
      if (hit) throw new Error('unexpected frame ' + JSON.stringify(hit));
    };
    ev.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    ev.close = async () => {
      ws.close(1000);
      await ev.closed;
    };
    ev.ready = () => ev.frames.find((f) => f.type === 'ready');
  });
}
