// One avatar: header, tabs (talk, media, memories, training, sharing, edit), create, import, export, delete.
import { api, del, get, patch, post, session } from '../api.js';
import { loadAvatars, navigate, renderSidebar, state } from '../app.js';
import { avatarBadge, busy, clear, confirmDanger, dialog, field, h, KIND_LABEL, toast, when } from '../ui.js';

const TABS = [
  ['talk', 'Talk'],
  ['media', 'Media'],
  ['memories', 'Memories'],
  ['training', 'Training'],
  ['sharing', 'Sharing'],
  ['edit', 'Settings'],
];
const KINDS = [
  ['self', 'Digital twin — you, from your own words'],
  ['legacy', 'Legacy — someone to remember'],
  ['character', 'Character — a persona or a card'],
  ['trainer', 'Trainer — a coach or a role-play partner'],
];
const VIS = [
  ['private', 'Private — you and the people you share with'],
  ['org', 'Organisation — everyone in your organisation'],
  ['link', 'Link — anyone with the legacy page address'],
  ['public', 'Public — a public legacy page'],
];
const PUBLISHABLE = ['name', 'kind', 'description', 'personality', 'scenario', 'greeting', 'portrait'];

export const canEdit = (a) => a.access === 'owner' || a.access === 'editor';

/* The avatar's portrait (a small PNG), fetched with the token as a blob: URL; null when it has none.
 * Cached per avatar and portrait, so a changed portrait is fetched again. */
export async function portraitOf(a) {
  const key = `${a.id}:${a.portrait_media_id || ''}`;
  if (state.portraits.has(key)) return state.portraits.get(key);
  let url = null;
  if (a.portrait_media_id) {
    try {
      const res = await api('GET', `/avatars/${a.id}/portrait`, undefined, { raw: true });
      url = URL.createObjectURL(await res.blob());
    } catch {
      url = null;
    }
  }
  state.portraits.set(key, url);
  return url;
}

/* The portrait already fetched for a, if any (for drawing without waiting). */
export const portraitNow = (a) => state.portraits.get(`${a.id}:${a.portrait_media_id || ''}`) || null;

/* ---- create ---- */

function personaFields(a = {}, editable = true) {
  const ta = (name, rows, ph) => h('textarea', { name, rows, placeholder: ph, value: a[name] || '', disabled: !editable });
  return [
    field('Description', ta('description', 3, 'Who they are: a few sentences about their life, work and the people around them.')),
    field('Personality', ta('personality', 2, 'Warm, dry humour, always asks about the garden…')),
    field('Scenario', ta('scenario', 2, 'Where and when the conversation happens.')),
    field('Greeting', ta('greeting', 2, 'The first thing they say when a conversation starts.')),
  ];
}

function select(name, options, value, disabled) {
  return h('select', { name, disabled }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

export function newAvatarView({ main }) {
  const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'e.g. Grandma Rose' });
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.btn.primary', { type: 'submit' }, 'Create avatar');
  const form = h('form.stack.panel', {
    onsubmit: async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const body = Object.fromEntries([...fd.entries()].map(([k, v]) => [k, String(v).trim()]));
      const a = await busy(btn, () => post('/avatars', body), err);
      if (!a) return;
      state.avatars = null;
      toast(`${a.name} is ready. Feed it some media next.`, 'ok');
      navigate(`/avatars/${a.id}/media`);
    },
  },
  field('Name', name),
  field('Kind', select('kind', KINDS, 'self')),
  personaFields(),
  field('Visibility', select('visibility', VIS, 'private'), 'You can change this later and publish a legacy page.'),
  err, h('div.row', btn, h('a.btn.ghost', { href: '/' }, 'Cancel')));
  const drop = h('label.dropzone.small', { tabindex: 0 },
    h('input.visually-hidden', { type: 'file', tabindex: -1, accept: '.png,.json,.charx,image/png,application/json', onchange: (e) => e.target.files[0] && importCard(e.target.files[0]) }),
    h('strong', 'Import a character card'), h('span.muted', 'Drop a PNG, JSON or .charx file here, or click to choose one.'));
  wireDrop(drop, (files) => importCard(files[0]));
  const importBtn = h('button.btn', { type: 'button', onclick: () => drop.querySelector('input').click() }, 'Import a card…');
  clear(main, h('div.page.narrow', h('header.page-head', h('div', h('h1', 'New avatar'), h('p.muted', 'Give it a name and a few words. Memories come from the media you upload.')), importBtn), form, h('div.or', 'or'), drop));
  name.focus();
}

export function wireDrop(el, onFiles) {
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.classList.add('over');
  });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('over');
    if (e.dataTransfer.files.length) onFiles([...e.dataTransfer.files]);
  });
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      el.querySelector('input[type=file]').click();
    }
  });
}

/* Imports a Character Card file as a new avatar and opens it. */
export async function importCard(file) {
  if (!/\.(png|json|charx)$/i.test(file.name) && !/png|json|zip/.test(file.type)) {
    toast('Drop a character card: a PNG, JSON or .charx file. Media goes in an avatar’s Media tab.', 'error');
    return;
  }
  toast(`Importing ${file.name}…`);
  try {
    const r = await api('POST', '/avatars/import', file, { headers: { 'content-type': file.type || 'application/octet-stream' } });
    const a = r.avatar || r;
    state.avatars = null;
    toast(`Imported ${a.name}.`, 'ok');
    navigate(`/avatars/${a.id}`);
  } catch (e) {
    toast(`Could not import ${file.name}: ${e.message}`, 'error');
  }
}

/* ---- one avatar ---- */

function headStats(a) {
  const s = a.stats || {};
  const n = s.memories || 0;
  return h('div.head-stats', { 'aria-live': 'polite' }, h('span', h('strong', s.media || 0), ' media'), h('span', h('strong', n), n === 1 ? ' memory' : ' memories'));
}

/* Re-reads the avatar's counts into the page header (after uploads, deletions, new memories). */
export async function refreshStats(id) {
  try {
    const a = await get(`/avatars/${id}`);
    const el = document.querySelector('.avatar-head .head-stats');
    if (el) el.replaceWith(headStats(a));
  } catch {}
}

export async function avatarView(ctx) {
  const [id, tab = 'talk', sub] = ctx.params;
  const { main } = ctx;
  let a;
  try {
    a = await get(`/avatars/${id}`);
  } catch (e) {
    if (e.status === 404) {
      clear(main, h('div.page', h('div.empty', h('div.empty-icon', '?'), h('h1', 'Avatar not found'), h('p', e.message), h('a.btn.primary', { href: '/' }, 'Back to your avatars'))));
      return;
    }
    throw e;
  }
  if (!ctx.isCurrent()) return;
  const badge = avatarBadge(a.name, portraitNow(a), 'lg');
  const head = h('header.avatar-head',
    badge,
    h('div.avatar-title',
      h('h1', a.name),
      h('p.muted', h('span.pill', KIND_LABEL[a.kind] || a.kind), ' ', h('span.pill.vis-' + a.visibility, a.visibility),
        a.access !== 'owner' ? h('span.pill', 'shared with you · ' + a.access) : null,
        a.slug && (a.visibility === 'link' || a.visibility === 'public') ? [h('a.pill.link', { href: `/legacy/${a.slug}` }, 'Legacy page ↗'),
          h('button.pill.link.copy', { type: 'button', onclick: () => navigator.clipboard.writeText(`${location.origin}/legacy/${a.slug}`).then(() => toast('Legacy page address copied.', 'ok'), () => toast(`${location.origin}/legacy/${a.slug}`)) }, 'Copy address')] : null)),
    headStats(a));
  const tabs = h('nav.tabs', { 'aria-label': 'Avatar sections' },
    TABS.filter(([t]) => t !== 'sharing' || canEdit(a)).map(([t, label]) => h('a.tab', { href: `/avatars/${a.id}/${t}`, 'aria-current': t === tab ? 'page' : null }, label)));
  const body = h('section.tab-body');
  clear(main, h('div.page.wide', head, tabs, body));
  const cur = tabs.querySelector('[aria-current]');
  if (cur && tabs.scrollWidth > tabs.clientWidth) tabs.scrollLeft = cur.offsetLeft - tabs.offsetLeft - 16; // the open tab in view on a phone
  portraitOf(a).then((url) => {
    if (url) {
      badge.replaceWith(avatarBadge(a.name, url, 'lg'));
      renderSidebar();
    }
  });
  const views = {
    talk: () => import('./talk.js').then((m) => m.talkTab(body, a, sub)),
    media: () => import('./media.js').then((m) => m.mediaTab(body, a, sub)),
    memories: () => import('./memories.js').then((m) => m.memoriesTab(body, a, sub, ctx.query)),
    training: () => import('./training.js').then((m) => m.trainingTab(body, a)),
    sharing: () => sharingTab(body, a),
    edit: () => editTab(body, a),
  };
  return (views[tab] || views.talk)();
}

/* ---- edit ---- */

function editTab(body, a) {
  const owner = a.access === 'owner';
  const editable = canEdit(a);
  const err = h('p.form-error', { role: 'alert' });
  const save = h('button.btn.primary', { type: 'submit', disabled: !editable }, 'Save changes');
  const visSel = select('visibility', VIS, a.visibility, !owner);
  const publish = h('fieldset.checks', { disabled: !owner }, h('legend', 'Published on the legacy page'),
    PUBLISHABLE.map((f) => h('label.check', h('input', { type: 'checkbox', name: 'publish', value: f, checked: (a.publish || []).includes(f) }), f)));
  const visitor = h('label.check', h('input', { type: 'checkbox', name: 'visitor_talk', checked: a.visitor_talk, disabled: !owner }), 'Visitors may talk to this avatar on its legacy page');
  const legacyLink = a.slug ? h('p.hint', 'Legacy page: ', h('a', { href: `/legacy/${a.slug}` }, `${location.origin}/legacy/${a.slug}`)) : h('p.hint', 'Choose link or public visibility to get a legacy page address.');
  const slug = h('input', { name: 'slug', value: a.slug || '', disabled: !owner, pattern: '[a-z0-9][a-z0-9\\-]{1,58}[a-z0-9]', maxlength: 60, placeholder: 'rose-miller', autocomplete: 'off', spellcheck: 'false' });
  const slugField = h('div.field', h('label', { for: 'slug-input' }, 'Legacy page address'),
    h('div.prefixed', h('span.prefix', `${location.host}/legacy/`), slug),
    h('p.hint', '3 to 60 lowercase letters, digits and hyphens. Leave empty to get one made from the name.'));
  slug.id = 'slug-input';
  const form = h('form.stack.panel', {
    onsubmit: async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const b = {};
      for (const k of ['name', 'kind', 'description', 'personality', 'scenario', 'greeting']) b[k] = String(fd.get(k) || '').trim();
      if (owner) {
        b.visibility = fd.get('visibility');
        b.publish = fd.getAll('publish');
        b.visitor_talk = fd.get('visitor_talk') === 'on';
        const want = String(fd.get('slug') || '').trim();
        if (want && want !== a.slug) b.slug = want;
      }
      const r = await busy(save, () => patch(`/avatars/${a.id}`, b), err);
      if (!r) return;
      toast('Saved.', 'ok');
      state.avatars = null;
      navigate(`/avatars/${a.id}/edit`, true);
    },
  },
  h('h2', 'Persona'),
  field('Name', h('input', { name: 'name', value: a.name, required: true, disabled: !editable })),
  field('Kind', select('kind', KINDS, a.kind, !editable)),
  personaFields(a, editable),
  h('h2', 'Visibility and legacy page'),
  !owner ? h('p.hint', 'Only the owner changes visibility and what is published.') : null,
  field('Visibility', visSel), slugField, legacyLink, publish, visitor,
  err, h('div.row', save));

  const exportBox = h('section.panel.stack', h('h2', 'Character card'),
    h('p.muted', 'Export this avatar as a Character Card V3 to use it elsewhere or back it up. The .charx file also carries its memories.'),
    h('div.row',
      h('button.btn', { type: 'button', onclick: (e) => download(e.target, a, 'json') }, 'Export JSON'),
      h('button.btn', { type: 'button', onclick: (e) => download(e.target, a, 'png') }, 'Export PNG'),
      h('button.btn', { type: 'button', onclick: (e) => download(e.target, a, 'charx') }, 'Export .charx')));
  const danger = owner ? h('section.panel.stack.danger-zone', h('h2', 'Delete'),
    h('p.muted', 'Deleting removes the avatar, its media, memories and conversations. This cannot be undone.'),
    h('div.row', h('button.btn.danger', {
      type: 'button',
      onclick: async (e) => {
        const ok = await confirmDanger(`Delete ${a.name}?`, `Its media, memories and conversations are removed for good. Type nothing — just be sure.`, 'Delete for good');
        if (!ok) return;
        const r = await busy(e.target, () => del(`/avatars/${a.id}`).then(() => true));
        if (!r) return;
        toast(`${a.name} was deleted.`, 'ok');
        await loadAvatars(true);
        navigate('/');
      },
    }, 'Delete avatar'))) : null;
  const pic = h('div.portrait-now', avatarBadge(a.name, portraitNow(a), 'xl'));
  portraitOf(a).then((url) => url && clear(pic, avatarBadge(a.name, url, 'xl')));
  const portraitBox = h('section.panel.stack', h('h2', 'Portrait'), pic,
    h('p.muted', a.portrait_media_id
      ? 'Shown in the sidebar, on the legacy page (when published) and as the picture of an exported PNG card.'
      : 'No portrait yet. Upload a photo in Media and choose “Use as portrait”.'),
    h('div.row',
      h('a.btn', { href: `/avatars/${a.id}/media` }, 'Choose from media'),
      editable && a.portrait_media_id ? h('button.btn.ghost', {
        type: 'button',
        onclick: (e) => busy(e.target, async () => {
          await del(`/avatars/${a.id}/portrait`);
          toast('The portrait was removed; the photo stays in Media.', 'ok');
          await loadAvatars(true);
          navigate(location.pathname, true);
        }),
      }, 'Remove portrait') : null));
  clear(body, h('div.cols', form, h('div.stack', portraitBox, exportBox, danger)));
}

async function download(btn, a, format) {
  await busy(btn, async () => {
    const res = await api('GET', `/avatars/${a.id}/export${format === 'json' ? '' : '?format=' + format}`, undefined, { raw: true });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: `${a.name.replace(/[^\w.-]+/g, '_')}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

/* ---- sharing ---- */

async function sharingTab(body, a) {
  const owner = a.access === 'owner';
  const list = h('ul.list');
  const refresh = async () => {
    const r = await get(`/avatars/${a.id}/shares`);
    if (!r.items.length) {
      clear(list, h('li.list-empty', 'Not shared with anyone yet. Invite someone by e-mail: a viewer may talk to the avatar, an editor may also feed and edit it.'));
      return;
    }
    clear(list, r.items.map((s) => h('li.list-row',
      avatarBadge(s.display_name || s.email || s.user_id, null, 'sm'),
      h('div.grow', h('div', s.display_name || s.email || s.user_id), h('div.tiny.muted', s.email && s.display_name ? s.email + ' · ' : '', s.status === 'invited' ? 'invited — becomes a share when they sign up with the link' : 'shared ' + when(s.created_at))),
      h('span.pill', s.role),
      owner ? h('button.btn.ghost.sm', {
        type: 'button',
        'aria-label': `Remove ${s.email || s.user_id}`,
        onclick: async (e) => {
          if (!(await confirmDanger('Remove this share?', `${s.email || s.display_name || 'This person'} will no longer see ${a.name}.`, 'Remove'))) return;
          await busy(e.target, async () => {
            await del(`/avatars/${a.id}/shares/${encodeURIComponent(s.user_id || s.email)}`);
            toast('Share removed.', 'ok');
            await refresh();
          });
        },
      }, 'Remove') : null)));
  };
  const email = h('input', { type: 'email', name: 'email', required: true, placeholder: 'name@example.org' });
  const role = select('role', [['viewer', 'Viewer — may talk'], ['editor', 'Editor — may also feed and edit']], 'viewer');
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.btn.primary', { type: 'submit' }, 'Share');
  const form = h('form.share-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const address = email.value.trim();
      const r = await busy(btn, async () => {
        const res = await api('POST', `/avatars/${a.id}/shares`, { email: address, role: role.value }, { raw: true });
        return { status: res.status, body: await res.json().catch(() => ({})) };
      }, err);
      if (!r) return;
      email.value = '';
      if (r.status === 202) {
        // Nobody reads mail here: the owner passes the invitation link on.
        // In the fragment, so that the token never reaches a server log or a Referer.
        const link = `${location.origin}/signup#invitation=${encodeURIComponent(r.body.invitation_token || '')}&email=${encodeURIComponent(address)}`;
        const input = h('input.invite-link', { readonly: true, value: link, 'aria-label': 'Invitation link', onfocus: (e) => e.target.select() });
        clear(invite, h('div.alert.ok', h('strong', `${address} is invited as ${role.value}.`),
          ' Send them this link: signing up with it gives them access. It works once; inviting again makes a new one.'),
          h('div.row', input, h('button.btn', { type: 'button', onclick: () => navigator.clipboard.writeText(link).then(() => toast('Link copied.', 'ok'), () => input.select()) }, 'Copy link')));
      } else {
        clear(invite);
        toast(`Shared with ${address}.`, 'ok');
      }
      await refresh();
    },
  }, field('E-mail', email), field('Role', role), btn);
  const invite = h('div.stack');
  clear(body, h('div.stack',
    owner ? h('section.panel.stack', h('h2', 'Share with someone'), h('p.muted', 'People of your organisation get access at once; anyone else gets an invitation link to sign up with.'), form, err, invite) : h('p.hint', 'Only the owner adds or removes shares.'),
    h('section.panel.stack', h('h2', 'People with access'), list)));
  await refresh();
}

export { dialog };
