// The start page: the avatars as cards, or what to do first.
import { loadAvatars } from '../app.js';
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
    h('ul.card-grid', avatars.map((a) => h('li', h('a.avatar-card', { href: `/avatars/${a.id}` },
      avatarBadge(a.name, null, 'lg'),
      h('div', h('h2', a.name), h('p.muted', KIND_LABEL[a.kind] || a.kind, ' · ', a.visibility, a.access !== 'owner' ? ` · shared with you (${a.access})` : '')),
      a.description ? h('p.clamp', a.description) : h('p.muted', 'No description yet.'),
      h('p.tiny.muted', 'Updated ', when(a.updated_at))))))));
}
