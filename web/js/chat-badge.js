// The unread count beside "Chats with people" in the sidebar, kept live over the events socket
// from any page (which also shows the person online while the app is open). Loaded after the app
// is interactive; a server without people chat leaves the link as it is.
import { get, session } from './api.js';
import { subscribe } from './events.js';

let unsub = null;
let timer = 0;

async function count() {
  const link = document.getElementById('chats-link');
  if (!link || !session.user) return;
  let items;
  try {
    items = (await get('/chats?limit=100')).items;
  } catch (e) {
    if (e.status === 501 || e.status === 404) stop();
    return;
  }
  // A chat open on screen is being read: its messages are not waiting.
  const open = (/^\/chats\/([^/]+)/.exec(location.pathname) || [])[1];
  const n = items.reduce((s, c) => s + (c.muted || c.id === open ? 0 : c.unread), 0);
  let badge = link.querySelector('.unread');
  if (!n) return badge && badge.remove();
  if (!badge) link.append((badge = Object.assign(document.createElement('span'), { className: 'unread' })));
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.setAttribute('aria-label', `${n} unread`);
}

const soon = () => {
  clearTimeout(timer);
  timer = setTimeout(count, 400);
};

function stop() {
  if (unsub) unsub();
  unsub = null;
}

/* Starts (or restarts after a log-in) the badge; stops with the session. */
export function startChatBadge() {
  stop();
  if (!session.user) return;
  count().then(() => {
    if (unsub || !session.user) return;
    unsub = subscribe((f) => {
      if (f.type === 'message.new' || f.type === 'receipt.read' || (f.type === 'connection' && f.data.state === 'open')) soon();
    });
  });
}

session.onChange((u) => (u ? !unsub && startChatBadge() : stop()));
window.addEventListener('popstate', soon);
