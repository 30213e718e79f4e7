// Administration (admin role): instance stats, users and roles, background jobs (retry dead ones), audit log.
import { get, patch, post, session } from '../api.js';
import { busy, clear, empty, h, spinner, toast, when } from '../ui.js';

const TABS = [['', 'Overview'], ['users', 'Users'], ['jobs', 'Jobs'], ['audit', 'Audit log']];
const JOB_STATES = ['', 'queued', 'running', 'retrying', 'done', 'dead'];

export async function adminView({ main, params, query }) {
  const admin = session.user.role === 'admin';
  const tab = params[0] || (admin ? '' : 'users'); // managers see their organisation's people
  if (!admin && session.user.role !== 'manager') {
    clear(main, h('div.page', empty('lock', 'Administrators only', 'Ask an administrator of this instance if you need access.')));
    return;
  }
  const body = h('section.tab-body');
  clear(main, h('div.page.wide',
    h('header.page-head', h('div', h('h1', 'Administration'), h('p.muted', 'The instance, its people and its background work.'))),
    h('nav.tabs', { 'aria-label': 'Administration sections' }, TABS.filter(([t]) => admin || t === 'users').map(([t, l]) => h('a.tab', { href: '/admin' + (t ? '/' + t : ''), 'aria-current': t === tab ? 'page' : null }, l))),
    body));
  clear(body, spinner());
  if (tab === 'users') return users(body);
  if (tab === 'jobs') return jobs(body, query);
  if (tab === 'audit') return audit(body);
  return overview(body);
}

async function overview(body) {
  const s = await get('/admin/stats');
  const tile = (label, value, href) => h(href ? 'a.tile' : 'div.tile', href ? { href } : {}, h('div.tile-value', String(value)), h('div.tile-label', label));
  const circuits = Object.entries(s.circuits || {});
  clear(body, h('div.stack',
    h('div.tiles', tile('Users', s.users, '/admin/users'), tile('Organisations', s.orgs), tile('Active sessions', s.sessions_active),
      tile('Queue depth', s.queue_depth, '/admin/jobs?status=queued'), tile('Dead jobs', (s.jobs || {}).dead || 0, '/admin/jobs?status=dead'), tile('Open WebSockets', s.websockets_open)),
    h('section.panel', h('h2', 'Jobs by state'), h('div.tiles.small', Object.entries(s.jobs || {}).map(([k, v]) => tile(k, v, '/admin/jobs?status=' + k)))),
    h('section.panel', h('h2', 'Providers'), circuits.length ? h('ul.list', circuits.map(([k, v]) => h('li.list-row', h('span.grow', k), h('span.pill', typeof v === 'object' ? v.state || JSON.stringify(v) : String(v))))) : h('p.muted', 'No external providers configured: everything runs on embedded defaults.'))));
}

async function users(body) {
  const [r, orgs] = await Promise.all([get('/users?limit=200'), get('/orgs?limit=200').catch(() => ({ items: [] }))]);
  const orgName = new Map(orgs.items.map((o) => [o.id, o.name]));
  const me = session.user;
  clear(body, h('section.panel', h('h2', `${r.items.length} user${r.items.length === 1 ? '' : 's'}`),
    h('div.table-wrap', h('table.table',
      h('thead', h('tr', h('th', 'Name'), h('th', 'E-mail'), h('th', 'Organisation'), h('th', '2FA'), h('th', 'Joined'), h('th', 'Role'))),
      h('tbody', r.items.map((u) => {
        const sel = h('select', { 'aria-label': `Role of ${u.email}`, disabled: u.id === me.id || me.role !== 'admin' },
          ['member', 'manager', 'admin'].map((x) => h('option', { value: x, selected: u.role === x }, x)));
        sel.addEventListener('change', async () => {
          const prev = u.role;
          const ok = await busy(sel, () => patch(`/users/${u.id}`, { role: sel.value }));
          if (ok) {
            u.role = sel.value;
            toast(`${u.email} is now ${sel.value}.`, 'ok');
          } else sel.value = prev;
        });
        return h('tr', h('td', u.display_name), h('td', u.email), h('td', orgName.get(u.org_id) || u.org_id), h('td', u.totp_enabled ? 'on' : '—'), h('td', when(u.created_at)), h('td', sel));
      }))))));
}

async function jobs(body, query) {
  const status = query.get('status') || '';
  const filter = h('select', { 'aria-label': 'Filter by state' }, JOB_STATES.map((s) => h('option', { value: s, selected: s === status }, s || 'all states')));
  filter.addEventListener('change', () => {
    const u = new URL(location.href);
    if (filter.value) u.searchParams.set('status', filter.value);
    else u.searchParams.delete('status');
    history.replaceState(null, '', u);
    load(true);
  });
  const tbody = h('tbody');
  const more = h('button.btn.ghost', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  async function load(reset) {
    if (reset) cursor = null;
    const r = await get('/jobs?limit=50' + (filter.value ? '&status=' + filter.value : '') + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (reset) tbody.replaceChildren();
    if (reset && !r.items.length) tbody.append(h('tr', h('td.list-empty', { colspan: 6 }, filter.value ? `No ${filter.value} jobs.` : 'No background jobs yet: uploads and deletions create them.')));
    for (const j of r.items) {
      const retry = j.status === 'dead' ? h('button.btn.sm', {
        type: 'button',
        onclick: async (e) => {
          const x = await busy(e.target, () => post(`/jobs/${j.id}/retry`, {}));
          if (x) {
            toast('Job re-queued.', 'ok');
            load(true);
          }
        },
      }, 'Retry') : null;
      tbody.append(h('tr', { dataset: { status: j.status } }, h('td', h('code.tiny', j.kind)), h('td', h('span.pill.job-' + j.status, j.status)),
        h('td', j.progress != null ? `${j.progress} %` : ''), h('td', `${j.attempts}/${j.max_attempts}`),
        h('td.tiny', j.last_error || ''), h('td.tiny.muted', when(j.updated_at)), h('td', retry)));
    }
    cursor = r.next_cursor;
    more.hidden = !cursor;
    // While work is in flight, the first page follows it.
    clearTimeout(timer);
    if (r.items.some((j) => j.status === 'queued' || j.status === 'running' || j.status === 'retrying') && !cursor && document.body.contains(tbody))
      timer = setTimeout(() => load(true).catch(() => {}), 3000);
  }
  let timer = 0;
  more.addEventListener('click', () => busy(more, () => load(false)));
  clear(body, h('section.panel.stack', h('div.row', h('h2.grow', 'Background jobs'), h('label.row.tiny', 'State ', filter)),
    h('div.table-wrap', h('table.table', h('thead', h('tr', h('th', 'Kind'), h('th', 'State'), h('th', 'Progress'), h('th', 'Attempts'), h('th', 'Last error'), h('th', 'Updated'), h('th', h('span.visually-hidden', 'Actions')))), tbody)), more));
  await load(true);
  return () => clearTimeout(timer);
}

async function audit(body) {
  const people = await get('/users?limit=200').catch(() => ({ items: [] }));
  const who = new Map(people.items.map((u) => [u.id, u.email]));
  const name = (id) => (id ? who.get(id) || id : '—');
  const tbody = h('tbody');
  const more = h('button.btn.ghost', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  async function load() {
    const r = await get('/admin/audit?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    for (const x of r.items)
      tbody.append(h('tr', h('td.tiny', new Date(x.at).toLocaleString()), h('td', h('code.tiny', x.action)), h('td.tiny', name(x.actor_id)), h('td.tiny', x.target_id ? name(x.target_id) : ''), h('td.tiny', x.ip || ''), h('td.tiny', x.detail ? JSON.stringify(x.detail) : '')));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => busy(more, load));
  clear(body, h('section.panel.stack', h('h2', 'Audit log'),
    h('div.table-wrap', h('table.table', h('thead', h('tr', h('th', 'When'), h('th', 'Action'), h('th', 'Actor'), h('th', 'Target'), h('th', 'Address'), h('th', 'Detail'))), tbody)), more));
  await load();
}
