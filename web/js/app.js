// The Doppel single-page app: the shell (top bar, avatar sidebar), the router and session start.
import { get, logout, restore, session } from './api.js';
import { avatarBadge, clear, h, KIND_LABEL, spinner, toast } from './ui.js';

const $ = (s) => document.querySelector(s);
const state = { avatars: null, portraits: new Map(), drop: null };
export { state };

/* ---- routing ---- */

const routes = [
  [/^\/login$/, () => import('./views/auth.js').then((m) => m.loginView), { public: true }],
  [/^\/signup$/, () => import('./views/auth.js').then((m) => m.signupView), { public: true }],
  [/^\/legacy\/([^/]+)$/, () => import('./views/legacy.js').then((m) => m.legacyView), { public: true, bare: true }],
  [/^\/$/, () => import('./views/home.js').then((m) => m.homeView)],
  [/^\/avatars\/new$/, () => import('./views/avatar.js').then((m) => m.newAvatarView)],
  [/^\/avatars\/([^/]+)(?:\/([a-z]+))?(?:\/([^/]+))?$/, () => import('./views/avatar.js').then((m) => m.avatarView)],
  [/^\/chats(?:\/([^/]+))?$/, () => import('./views/chats.js').then((m) => m.chatsView)],
  [/^\/recordings(?:\/([^/]+))?$/, () => import('./views/recordings.js').then((m) => m.recordingsView)],
  [/^\/settings$/, () => import('./views/settings.js').then((m) => m.settingsView)],
  [/^\/admin(?:\/([a-z]+))?$/, () => import('./views/admin.js').then((m) => m.adminView)],
];

export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

let renderSeq = 0;
let cleanup = null;

async function render() {
  const seq = ++renderSeq;
  if (cleanup) {
    try {
      cleanup();
    } catch {}
    cleanup = null;
  }
  state.drop = null; // a view that takes files dropped anywhere sets it again
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let match = null;
  let loader;
  let opts = {};
  for (const [re, l, o] of routes) {
    if ((match = re.exec(path))) {
      loader = l;
      opts = o || {};
      break;
    }
  }
  if (!loader) return renderNotFound();
  if (!opts.public && !session.user) {
    const next = location.pathname + location.search;
    return navigate('/login' + (next !== '/' ? '?next=' + encodeURIComponent(next) : ''), true);
  }
  if ((path === '/login' || path === '/signup') && session.user) {
    if (location.hash.includes('invitation='))
      toast(`This invitation is for a new account: you are logged in as ${session.user.email}. Log out first to use it.`, 'error');
    return navigate('/', true);
  }
  document.body.classList.toggle('bare', !!opts.bare || !session.user);
  closeNav();
  const main = $('#main');
  const view = await loader();
  if (seq !== renderSeq) return;
  main.setAttribute('aria-busy', 'true');
  try {
    const ctx = { params: match.slice(1).map((p) => p && decodeURIComponent(p)), main, query: new URLSearchParams(location.search), isCurrent: () => seq === renderSeq };
    const r = await view(ctx);
    if (typeof r === 'function') cleanup = r;
  } catch (e) {
    if (seq === renderSeq) clear(main, h('div.page', h('div.alert.error', { role: 'alert' }, e.message || String(e))));
  } finally {
    main.removeAttribute('aria-busy');
  }
  if (session.user) await renderSidebar();
  const h1 = main.querySelector('h1');
  if (h1) document.title = h1.textContent + ' · Doppel';
  // Keyboard and screen-reader users continue from the new page, not from a link that is gone.
  const active = document.activeElement;
  if (!active || active === document.body || !active.isConnected) main.focus({ preventScroll: true });
}

function renderNotFound() {
  document.body.classList.toggle('bare', !session.user);
  clear($('#main'), h('div.page', h('div.empty', h('div.empty-icon', '?'), h('h1', 'Page not found'), h('p', 'There is nothing at this address.'), h('a.btn.primary', { href: '/' }, 'Go home'))));
}

/* Same-origin links navigate inside the app. */
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

/* ---- shell ---- */

function renderTopbar() {
  const u = session.user;
  const right = $('#topbar-right');
  if (!u) {
    clear(right);
    return;
  }
  clear(right,
    u.role === 'admin' || u.role === 'manager' ? h('a.navlink', { href: '/admin' }, u.role === 'admin' ? 'Admin' : 'People') : null,
    h('a.navlink.user-link', { href: '/settings', title: 'Account settings', 'aria-label': `Account settings (${u.display_name || u.email})` }, avatarBadge(u.display_name || u.email, null, 'sm'), h('span.user-name', u.display_name || u.email)),
    h('button.btn.ghost.sm#logout', { type: 'button', onclick: async () => { await logout(); state.avatars = null; navigate('/login'); } }, 'Log out'));
}

export async function loadAvatars(force = false) {
  if (!state.avatars || force) {
    const items = [];
    let cursor = null;
    do {
      const r = await get('/avatars?limit=200' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      items.push(...r.items);
      cursor = r.next_cursor;
    } while (cursor && items.length < 1000);
    state.avatars = items;
  }
  return state.avatars;
}

export async function renderSidebar(force = false) {
  const list = $('#avatar-list');
  if (!session.user) return;
  let avatars;
  try {
    avatars = await loadAvatars(force);
  } catch (e) {
    clear(list, h('li.side-empty', e.message));
    return;
  }
  const cur = (/^\/avatars\/([^/]+)/.exec(location.pathname) || [])[1];
  $('#chats-link').setAttribute('aria-current', location.pathname.startsWith('/chats') ? 'page' : 'false');
  $('#recordings-link').setAttribute('aria-current', location.pathname.startsWith('/recordings') ? 'page' : 'false');
  if (!avatars.length) {
    clear(list, h('li.side-empty', 'No avatars yet. Create one, or drop a character card here.'));
    return;
  }
  clear(list, avatars.map((a) =>
    h('li', h('a.side-item', { href: `/avatars/${a.id}`, 'aria-current': a.id === cur ? 'page' : null },
      avatarBadge(a.name, state.portraits.get(`${a.id}:${a.portrait_media_id || ''}`)),
      h('span.side-text', h('span.side-name', a.name), h('span.side-meta', KIND_LABEL[a.kind] || a.kind, a.access && a.access !== 'owner' ? ` · ${a.access}` : ''))))));
}

function closeNav() {
  document.body.classList.remove('nav-open');
  const b = $('#nav-toggle');
  if (b) b.setAttribute('aria-expanded', 'false');
}

function setupShell() {
  $('#nav-toggle').addEventListener('click', () => {
    const open = document.body.classList.toggle('nav-open');
    $('#nav-toggle').setAttribute('aria-expanded', String(open));
  });
  $('#scrim').addEventListener('click', closeNav);
  document.addEventListener('keydown', (e) => e.key === 'Escape' && closeNav());
  // Dropping a character card anywhere in the app imports it.
  let depth = 0;
  const isFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!isFiles(e) || !session.user || e.target.closest('.dropzone')) return;
    depth++;
    $('.drop-overlay div').textContent = state.drop ? state.drop.label : 'Drop the character card to import it as a new avatar';
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => {
    if (--depth <= 0) {
      depth = 0;
      document.body.classList.remove('dragging');
    }
  });
  window.addEventListener('dragover', (e) => isFiles(e) && e.preventDefault());
  window.addEventListener('drop', (e) => {
    depth = 0;
    document.body.classList.remove('dragging');
    if (!isFiles(e)) return;
    e.preventDefault();
    if (e.target.closest('.dropzone') || !session.user) return;
    if (state.drop) return state.drop.files([...e.dataTransfer.files]);
    const f = e.dataTransfer.files[0];
    if (f) import('./views/avatar.js').then((m) => m.importCard(f));
  });
}

let booted = false;
session.onChange((u) => {
  renderTopbar();
  // A session that ends while a private page is open (revoked elsewhere, expired) leads to log-in.
  if (!u && booted && !/^\/(login|signup|legacy\/)/.test(location.pathname)) {
    state.avatars = null;
    navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), true);
  }
});

async function boot() {
  setupShell();
  const path = location.pathname;
  // The legacy page needs no session: show it at once, and do not spend a refresh token on it.
  if (!path.startsWith('/legacy/')) {
    clear($('#main'), spinner());
    await restore();
  }
  renderTopbar();
  await render();
  booted = true;
  document.body.classList.add('ready');
  window.__doppelReady = performance.now();
  // The chats' unread count comes after the page is usable, over the events socket.
  const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
  // A navigation away while it loads aborts the import (Firefox rejects it): the next page starts its
  // own badge, so that is no error of the page.
  later(() =>
    import('./chat-badge.js')
      .then((m) => m.startChatBadge())
      .catch((e) => console.warn('chat badge not started:', e.message)),
  );
}

window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.message) toast(e.reason.message, 'error');
});

boot();
