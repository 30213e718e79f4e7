// The caller's live events (WS /api/v1/events): one socket a page, opened with a one-time ticket,
// reopened after a drop with ?since= the last event seen, so that nothing logged is lost.
import { session, wsUrl } from './api.js';

const listeners = new Set();
/* The last presence frame of each user ({user_id, status, last_seen}), for views that start later. */
export const presence = new Map();
let ws = null;
let lastSeq = null; // the newest logged event handled; null until the first ready frame
let retryTimer = 0;
let backoff = 500;
let state = 'closed'; // closed | connecting | open | unavailable | ended
const SESSION_ENDED = 4401; // the server's close code for a session that ended

function emit(frame) {
  for (const fn of [...listeners]) {
    try {
      fn(frame);
    } catch (e) {
      console.error(e);
    }
  }
}

function setState(s) {
  if (s === state) return;
  state = s;
  emit({ type: 'connection', data: { state: s } });
}

async function connect() {
  if (ws || !listeners.size || !session.user || state === 'unavailable' || state === 'ended') return;
  setState('connecting');
  let url;
  try {
    url = await wsUrl('/api/v1/events' + (lastSeq != null ? `?since=${lastSeq}` : ''));
  } catch (e) {
    return retry(e.status === 0 || e.status >= 500);
  }
  if (!listeners.size) return setState('closed');
  const sock = new WebSocket(url);
  ws = sock;
  let opened = false;
  sock.onopen = () => {
    opened = true;
    backoff = 500;
  };
  sock.onmessage = (e) => {
    let f;
    try {
      f = JSON.parse(e.data);
    } catch {
      return;
    }
    if (typeof f.seq === 'number') {
      // A resumed socket replays what came after lastSeq; anything older was handled already.
      if (lastSeq != null && f.seq <= lastSeq) return;
      lastSeq = f.seq;
    }
    if (f.type === 'presence' && f.data) presence.set(f.data.user_id, f.data);
    if (f.type === 'ready') {
      if (f.data && typeof f.data.seq === 'number' && (lastSeq == null || f.data.seq > lastSeq)) lastSeq = f.data.seq;
      setState('open');
      sendPresence();
    }
    emit(f);
  };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    ws = null;
    // The session ended (signed out here or elsewhere, password changed): reconnecting with the
    // same credentials cannot work; a new sign-in starts over.
    if (e.code === SESSION_ENDED) return setState('ended');
    // Refused before it opened, twice running: this server has no events socket (yet).
    retry(opened);
  };
}

let refusals = 0;
function retry(transient) {
  ws = null;
  if (!transient && ++refusals >= 2) return setState('unavailable');
  if (transient) refusals = 0;
  if (!listeners.size) return setState('closed');
  setState('connecting');
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 8000);
}

function sendPresence() {
  send({ type: 'presence', status: document.visibilityState === 'hidden' ? 'away' : 'online' });
}
document.addEventListener('visibilitychange', () => state === 'open' && sendPresence());
window.addEventListener('online', () => {
  if (!ws && listeners.size && state !== 'unavailable' && state !== 'ended') {
    backoff = 500;
    clearTimeout(retryTimer);
    connect();
  }
});

/* Calls fn with every frame ({type, seq?, data}) and with {type:'connection', data:{state}};
 * returns the unsubscribe function (the socket closes with the last listener). */
export function subscribe(fn) {
  listeners.add(fn);
  if (state === 'unavailable') fn({ type: 'connection', data: { state } });
  connect();
  return () => {
    listeners.delete(fn);
    if (!listeners.size) {
      clearTimeout(retryTimer);
      const s = ws;
      ws = null;
      if (s) s.close(1000);
      state = 'closed';
    }
  };
}

/* A client frame (typing.start/stop {chat_id}, presence {status}); dropped while disconnected. */
export function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

export const connectionState = () => state;

/* Reopens the socket at once (resuming with ?since=, so nothing is lost): the server sends the
 * presence of everyone who shares a chat on connect, so a chat that just began gets its dots. */
export function resync() {
  const s = ws;
  if (!s || s.readyState !== WebSocket.OPEN) return;
  ws = null;
  s.onclose = null;
  s.close(1000);
  connect();
}

