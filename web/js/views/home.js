// The start page: the avatars as cards, or what to do first.
import { loadAvatars, renderSidebar, state } from '../app.js';
import { portraitNow, portraitOf } from './avatar.js';
import { session } from '../api.js';
import { avatarBadge, clear, empty, h, KIND_LABEL, when } from '../ui.js';

export async function homeView({ main }) {
  const avatars = await loadAvatars(true);
  const u = session.user;
  const hello = h('header.page-head', h('div', h('h1', `Hello, ${u.display_name || u.email}`), h('p.muted', 'Pick an avatar to talk to, feed it memories, or make a new one.')),
    h('a.btn.primary', { href: '/avatars/new' }, 'New avatar'));
  if (!avatars.length) {
    clear(main, h('div.page', hello,
      empty('star', 'No avatars yet', 'Create a digital twin, a legacy profile for someone you remember, or a character. Then upload their letters, chats and notes, and talk to them.',
        h('div.row', h('a.btn.primary', { href: '/avatars/new' }, 'Create your first avatar'), h('span.muted', 'or drop a character card anywhere on this page')))));
    return;
  }
  clear(main, h('div.page', hello,
    h('ul.card-grid', avatars.map((a) => h('li', h('a.avatar-card', { href: `/avatars/${a.id}`, dataset: { id: a.id } },
      avatarBadge(a.name, portraitNow(a), 'lg'),
      h('div', h('h2', a.name), h('p.muted', KIND_LABEL[a.kind] || a.kind, ' · ', a.visibility, a.access !== 'owner' ? ` · shared with you (${a.access})` : '')),
      a.description ? h('p.clamp', a.description) : h('p.muted', 'No description yet.'),
      h('p.tiny.muted', 'Updated ', when(a.updated_at))))))));
  // Portraits arrive after the page is usable (a few avatars at a time).
  const todo = avatars.filter((a) => a.portrait_media_id && !portraitNow(a)).slice(0, 24);
  (async () => {
    let changed = false;
    for (let i = 0; i < todo.length; i += 4)
      await Promise.all(todo.slice(i, i + 4).map(async (a) => {
        const url = await portraitOf(a);
        const card = main.querySelector(`.avatar-card[data-id="${a.id}"] .badge`);
        if (url && card) {
          card.replaceWith(avatarBadge(a.name, url, 'lg'));
          changed = true;
        }
      }));
    if (changed) renderSidebar();
  })();
}
