// Memories: search with highlights, browse page by page, add, edit with version history, delete.
import { del, get, patch, post } from '../api.js';
import { busy, clear, confirmDanger, dialog, field, h, highlighted, ms, spinner, toast, when } from '../ui.js';
import { canEdit, refreshStats } from './avatar.js';

const KINDS = ['fact', 'passage', 'utterance', 'qa'];

export async function memoriesTab(body, a, focusId, query) {
  const editable = canEdit(a);
  const q = h('input', { type: 'search', name: 'q', placeholder: 'Search what they remember…', 'aria-label': 'Search memories', value: query.get('q') || '' });
  const results = h('ol.memories', { 'aria-live': 'polite' });
  const status = h('p.tiny.muted.result-status');
  const more = h('button.btn.ghost', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  let searching = '';

  async function load(reset) {
    const term = q.value.trim();
    if (reset) {
      cursor = null;
      clear(results, h('li', spinner()));
    }
    const url = `/avatars/${a.id}/memories?limit=${term ? 20 : 30}` + (term ? '&q=' + encodeURIComponent(term) : '') + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    searching = term;
    let r;
    try {
      r = await get(url);
    } catch (e) {
      clear(results, h('li.list-empty', e.message));
      return;
    }
    if (term !== searching) return;
    if (reset) results.replaceChildren();
    if (reset && !r.items.length) {
      results.append(h('li.list-empty', term ? `Nothing matches “${term}”. Try another word — search finds words and their forms (planted ~ planting).` : 'No memories yet. Upload media, or add one by hand above.'));
      status.textContent = '';
    }
    for (const m of r.items) results.append(card(m, !!term));
    cursor = r.next_cursor;
    more.hidden = !cursor;
    if (reset && r.items.length) status.textContent = term ? `Best matches for “${term}”` : 'All memories, in order';
    return r.items;
  }

  function card(m, searched) {
    const text = h('p.memory-text', searched && m.highlight ? highlighted(m.highlight) : m.text);
    const partial = searched && m.highlight && m.highlight.replace(/[«»]/g, '') !== m.text;
    const whole = partial ? h('button.linkish.tiny', {
      type: 'button',
      'aria-expanded': 'false',
      onclick: (e) => {
        const open = e.target.getAttribute('aria-expanded') !== 'true';
        clear(text, open ? m.text : highlighted(m.highlight));
        e.target.setAttribute('aria-expanded', String(open));
        e.target.textContent = open ? 'Show the match' : 'Show the whole memory';
      },
    }, 'Show the whole memory') : null;
    const src = m.source && m.source.media_id
      ? h('a.tiny', { href: `/avatars/${a.id}/media/${m.source.media_id}` + (m.source.start_ms != null ? `?t=${m.source.start_ms}` : '') },
        'Source', m.source.start_ms != null ? ` at ${ms(m.source.start_ms)}` : m.source.page ? `, page ${m.source.page}` : '', ' →')
      : null;
    const li = h('li.memory', { id: 'm-' + m.id, dataset: { id: m.id } },
      h('div.memory-meta', h('span.pill', m.kind), m.speaker ? h('span.pill', m.speaker) : null,
        m.version > 1 ? h('button.linkish.tiny', { type: 'button', onclick: () => history(m) }, `version ${m.version} · history`) : null,
        searched && m.score != null ? h('span.tiny.muted', 'score ', m.score.toFixed(2)) : null,
        h('span.tiny.muted.grow', when(m.updated_at)), src),
      text, whole,
      editable ? h('div.row.memory-actions',
        h('button.btn.ghost.sm', { type: 'button', onclick: () => edit(m, li) }, 'Edit'),
        h('button.btn.ghost.sm', {
          type: 'button',
          onclick: async (e) => {
            if (!(await confirmDanger('Delete this memory?', m.text.slice(0, 200)))) return;
            await busy(e.target, async () => {
              await del(`/avatars/${a.id}/memories/${m.id}`);
              li.remove();
              toast('Memory deleted.', 'ok');
              refreshStats(a.id);
            });
          },
        }, 'Delete')) : null);
    return li;
  }

  async function history(m) {
    const r = await get(`/avatars/${a.id}/memories/${m.id}/versions`);
    await dialog(`History of this memory`, h('ol.versions',
      h('li', h('div.tiny.muted', `version ${m.version} · current`), h('p', m.text)),
      r.items.map((v) => h('li', h('div.tiny.muted', `version ${v.version} · replaced ${when(v.replaced_at)}`), h('p', v.text)))),
    [{ label: 'Close', kind: 'primary', value: true }], { cancel: false });
  }

  function edit(m, li) {
    const ta = h('textarea', { rows: 4, value: m.text, 'aria-label': 'Memory text' });
    const imp = h('input', { type: 'range', min: 0, max: 1, step: 0.1, value: m.importance ?? 0.5, 'aria-label': 'Importance' });
    const err = h('p.form-error', { role: 'alert' });
    const save = h('button.btn.primary.sm', { type: 'submit' }, 'Save');
    const form = h('form.stack.memory-edit', {
      onsubmit: async (e) => {
        e.preventDefault();
        const r = await busy(save, () => patch(`/avatars/${a.id}/memories/${m.id}`, { text: ta.value.trim(), importance: Number(imp.value) }), err);
        if (!r) return;
        toast(`Saved as version ${r.version}. The earlier text is kept in its history.`, 'ok');
        form.replaceWith(card(r, false));
      },
    }, ta, h('label.row.tiny', 'Importance', imp), err, h('div.row', save, h('button.btn.ghost.sm', { type: 'button', onclick: () => form.replaceWith(card(m, false)) }, 'Cancel')));
    li.replaceWith(form);
    ta.focus();
  }

  const addText = h('textarea', { name: 'text', rows: 2, required: true, placeholder: 'Something they said, did or loved — one fact a memory.' });
  const addKind = h('select', { name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k)));
  const addSpeaker = h('input', { name: 'speaker', placeholder: 'Optional' });
  // A memory may say where it was said: a span of one of the avatar's recordings (its reply then plays it).
  const srcMedia = h('select', { name: 'source_media' }, h('option', { value: '' }, 'None'));
  const srcStart = h('input', { name: 'start', placeholder: '0:05', inputmode: 'decimal', pattern: '[0-9]+(:[0-5]?[0-9](\\.[0-9]+)?)?(\\.[0-9]+)?' });
  const srcEnd = h('input', { name: 'end', placeholder: '0:12', inputmode: 'decimal', pattern: '[0-9]+(:[0-5]?[0-9](\\.[0-9]+)?)?(\\.[0-9]+)?' });
  const srcBox = h('div.cols.three', field('Said in the recording', srcMedia), field('From (m:ss)', srcStart), field('To (m:ss)', srcEnd));
  srcBox.hidden = true;
  get(`/avatars/${a.id}/media?limit=200`).then((r) => {
    const recs = r.items.filter((m) => m.kind === 'audio' || m.kind === 'video');
    for (const m of recs) srcMedia.append(h('option', { value: m.id }, m.filename || m.id));
    srcBox.hidden = !recs.length;
  }, () => {});
  const toMs = (v) => {
    const t = String(v).trim();
    if (!t) return null;
    const [mm, ss] = t.includes(':') ? t.split(':') : ['0', t];
    return Math.round((Number(mm) * 60 + Number(ss)) * 1000);
  };
  const addErr = h('p.form-error', { role: 'alert' });
  const addBtn = h('button.btn.primary', { type: 'submit' }, 'Add memory');
  const addForm = h('details.panel.add-memory', h('summary', 'Add a memory by hand'),
    h('form.stack', {
      onsubmit: async (e) => {
        e.preventDefault();
        const b = { text: addText.value.trim(), kind: addKind.value };
        if (addSpeaker.value.trim()) b.speaker = addSpeaker.value.trim();
        if (srcMedia.value) b.source = { media_id: srcMedia.value, start_ms: toMs(srcStart.value) ?? 0, end_ms: toMs(srcEnd.value) };
        const r = await busy(addBtn, () => post(`/avatars/${a.id}/memories`, b), addErr);
        if (!r) return;
        addText.value = '';
        toast('Memory added.', 'ok');
        refreshStats(a.id);
        q.value = '';
        load(true);
      },
    }, field('Memory', addText), h('div.cols.tight', field('Kind', addKind), field('Speaker', addSpeaker)), srcBox, addErr, addBtn));

  let timer;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const u = new URL(location.href);
      if (q.value.trim()) u.searchParams.set('q', q.value.trim());
      else u.searchParams.delete('q');
      window.history.replaceState(null, '', u);
      load(true);
    }, 250);
  });
  more.addEventListener('click', () => busy(more, () => load(false)));
  clear(body, h('div.stack',
    h('form.searchbar', { role: 'search', onsubmit: (e) => { e.preventDefault(); clearTimeout(timer); load(true); } }, q, h('button.btn.primary', { type: 'submit' }, 'Search')),
    editable ? addForm : null, status, results, more));

  await load(true);
  if (focusId) {
    // A citation points here: find the memory (there is no single-memory read, so page through).
    let el = document.getElementById('m-' + focusId);
    for (let i = 0; !el && cursor && i < 20; i++) {
      await load(false);
      el = document.getElementById('m-' + focusId);
    }
    if (el) {
      el.classList.add('focus');
      el.scrollIntoView({ block: 'center' });
      el.tabIndex = -1;
      el.focus({ preventScroll: true });
    } else toast('That memory no longer exists.', 'error');
  } else q.focus();
}
