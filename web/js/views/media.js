// Media library: uploads with progress bars, live processing status, details (text, transcript, picture), delete.
import { api, del, get, patch, upload } from '../api.js';
import { loadAvatars, navigate, state } from '../app.js';
import { busy, bytes, clear, confirmDanger, empty, h, icon, ms, spinner, toast, when } from '../ui.js';
import { canEdit, refreshStats, wireDrop } from './avatar.js';

const ICON = { text: 'file', document: 'file', image: 'image', audio: 'audio', video: 'video' };
const STATUS = { queued: 'Waiting', processing: 'Processing', ready: 'Ready', failed: 'Failed', stored: 'Stored' };

let pollers = [];
function stopPolls() {
  pollers.forEach(clearTimeout);
  pollers = [];
}

export async function mediaTab(body, a, mediaId) {
  stopPolls();
  if (mediaId) return mediaDetail(body, a, mediaId);
  const editable = canEdit(a);
  const uploads = h('ul.uploads', { 'aria-label': 'Uploads' });
  const list = h('ul.media-list');
  const picker = h('input.visually-hidden', { type: 'file', multiple: true, tabindex: -1, onchange: (e) => { startUploads([...e.target.files]); e.target.value = ''; } });
  const drop = h('label.dropzone', { tabindex: 0 }, picker,
    h('div.drop-icon', { 'aria-hidden': 'true' }, icon('upload')),
    h('strong', 'Drop files here, or click to choose'),
    h('span.muted', 'Letters, notes, chat exports (WhatsApp, transcripts), PDF, DOCX, EPUB, HTML, pictures. Audio and video are stored until speech arrives.'));
  wireDrop(drop, startUploads);

  async function refresh() {
    const r = await get(`/avatars/${a.id}/media?limit=200`);
    renderList(r.items);
    for (const m of r.items) if (m.status === 'queued' || m.status === 'processing') poll(m.id);
  }

  const rows = new Map();
  function renderList(items) {
    rows.clear();
    if (!items.length) {
      clear(list, h('li.list-empty', editable ? 'No media yet. Upload something they wrote or said — every passage becomes a memory they can quote.' : 'No media yet.'));
      return;
    }
    clear(list, items.map((m) => {
      const r = row(m);
      rows.set(m.id, r);
      return r.li;
    }));
  }

  function row(m) {
    const status = h('span.pill.status-' + m.status, STATUS[m.status] || m.status);
    const detail = h('span.tiny.muted', m.status_detail || '');
    const prog = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': `Processing ${m.filename}` });
    const own = h('label.check.tiny', { title: 'Its words are the avatar’s own: they feed the personality profile' },
      h('input', {
        type: 'checkbox', checked: m.own_words, disabled: !editable,
        onchange: async (e) => {
          try {
            await patch(`/media/${m.id}`, { own_words: e.target.checked });
            toast(e.target.checked ? 'Marked as their own words.' : 'No longer counted as their own words.', 'ok');
          } catch (ex) {
            e.target.checked = !e.target.checked;
            toast(ex.message, 'error');
          }
        },
      }), 'Own words');
    const isPortrait = a.portrait_media_id === m.id;
    const portrait = m.kind !== 'image' ? null
      : isPortrait ? h('span.pill.portrait-pill', 'Portrait')
        : editable && m.status !== 'failed' ? h('button.btn.ghost.sm', {
          type: 'button', 'aria-label': `Use ${m.filename} as the portrait`,
          onclick: (e) => busy(e.target, async () => {
            await api('PUT', `/avatars/${a.id}/portrait`, { media_id: m.id });
            toast(`${m.filename} is now ${a.name}’s portrait.`, 'ok');
            await loadAvatars(true);
            navigate(location.pathname, true);
          }),
        }, 'Use as portrait') : null;
    const li = h('li.media-row', { dataset: { id: m.id, status: m.status } },
      h('span.media-icon', { 'aria-hidden': 'true' }, icon(ICON[m.kind] || 'file')),
      h('div.grow', h('a.media-name', { href: `/avatars/${a.id}/media/${m.id}` }, m.filename || m.id),
        h('div.tiny.muted', bytes(m.size), ' · ', m.mime, ' · ', when(m.created_at)), detail, prog),
      portrait, own, status,
      editable ? h('button.btn.ghost.sm', {
        type: 'button', 'aria-label': `Delete ${m.filename}`,
        onclick: async (e) => {
          if (!(await confirmDanger(`Delete ${m.filename}?`, 'The file and every memory made from it are removed.'))) return;
          await busy(e.target, async () => {
            await del(`/media/${m.id}`);
            toast(`${m.filename} deleted.`, 'ok');
            await refresh();
            refreshStats(a.id);
          });
        },
      }, 'Delete') : null);
    return {
      li,
      update(x, job) {
        li.dataset.status = x.status;
        status.className = 'pill status-' + x.status;
        status.textContent = STATUS[x.status] || x.status;
        detail.textContent = x.status_detail || '';
        if (job && (x.status === 'queued' || x.status === 'processing')) {
          prog.hidden = false;
          prog.value = job.progress || 0;
        } else prog.hidden = true;
      },
    };
  }

  function poll(id, delay = 400) {
    const t = setTimeout(async () => {
      try {
        const m = await get(`/media/${id}`);
        let job = null;
        if (m.job_id) job = await get(`/jobs/${m.job_id}`).catch(() => null);
        const r = rows.get(id);
        if (r) r.update(m, job);
        if (m.status === 'queued' || m.status === 'processing') poll(id, Math.min(delay * 1.5, 3000));
        else if (m.status === 'ready') {
          toast(`${m.filename} is ready: ${describe(m)}.`, 'ok');
          refreshStats(a.id);
        }
        else if (m.status === 'failed') toast(`${m.filename} could not be processed: ${m.status_detail || 'unknown error'}.`, 'error');
      } catch {}
    }, delay);
    pollers.push(t);
  }

  function startUploads(files) {
    for (const f of files) {
      const bar = h('progress', { max: f.size || 1, value: 0, 'aria-label': `Uploading ${f.name}` });
      const pct = h('span.tiny.muted', '0 %');
      const li = h('li.upload', h('div.upload-head', h('span.grow', f.name), pct), bar);
      uploads.append(li);
      upload(`/avatars/${a.id}/media`, f, (sent, total) => {
        bar.max = total || 1;
        bar.value = sent;
        pct.textContent = `${Math.round((100 * sent) / (total || 1))} % · ${bytes(sent)} of ${bytes(total)}`;
      }).then(async (r) => {
        li.remove();
        await refresh();
        refreshStats(a.id); /* the header's media count, now, not when processing ends */
        poll(r.media.id, 200);
      }, (e) => {
        li.classList.add('failed');
        pct.textContent = e.message;
        setTimeout(() => li.remove(), 8000);
      });
    }
  }

  if (editable) state.drop = { label: `Drop the files to add them to ${a.name}’s media`, files: startUploads };
  clear(body, h('div.stack', editable ? drop : null, uploads, h('section.panel', h('h2', 'Library'), list)));
  await refresh();
  return stopPolls;
}

function describe(m) {
  const x = m.meta || {};
  if (x.utterances) return `${x.utterances} lines of dialogue remembered`;
  if (x.passages != null) return `${x.passages} passage${x.passages === 1 ? '' : 's'} remembered`;
  if (x.width) return `${x.width}×${x.height} picture`;
  return m.status_detail || 'processed';
}

async function mediaDetail(body, a, id) {
  clear(body, spinner());
  const m = await get(`/media/${id}`);
  const t = Number(new URLSearchParams(location.search).get('t') || 0);
  const view = h('div.media-view');
  const info = h('dl.meta',
    h('dt', 'Type'), h('dd', m.mime), h('dt', 'Size'), h('dd', bytes(m.size)), h('dt', 'Status'), h('dd', m.status_detail ? m.status_detail.charAt(0).toUpperCase() + m.status_detail.slice(1) : STATUS[m.status] || m.status),
    h('dt', 'Added'), h('dd', new Date(m.created_at).toLocaleString()),
    Object.entries(m.meta || {}).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [h('dt', k.replace(/_/g, ' ')), h('dd', String(v))]));
  clear(body, h('div.stack',
    h('a.back', { href: `/avatars/${a.id}/media` }, '← All media'),
    h('section.panel.stack', h('h2', m.filename || 'Media'), info, view,
      h('div.row', h('button.btn', { type: 'button', onclick: (e) => open(e.target) }, 'Download')))));
  async function blobUrl(variant) {
    const res = await api('GET', `/media/${m.id}/content${variant ? '?variant=' + variant : ''}`, undefined, { raw: true });
    return URL.createObjectURL(await res.blob());
  }
  async function open(btn) {
    await busy(btn, async () => {
      const url = await blobUrl();
      const link = h('a', { href: url, download: m.filename || 'media' });
      document.body.append(link);
      link.click();
      link.remove();
    });
  }
  try {
    if (m.kind === 'image') view.append(h('img.media-img', { src: await blobUrl(), alt: m.filename }));
    else if (m.kind === 'audio' || m.kind === 'video') {
      const el = h(m.kind, { controls: true, src: await blobUrl() });
      if (t) el.addEventListener('loadedmetadata', () => (el.currentTime = t / 1000), { once: true });
      view.append(el);
      const segs = (m.transcript && m.transcript.segments) || [];
      if (segs.length)
        view.append(h('ol.transcript', segs.map((s) => h('li', h('button.linkish', { type: 'button', onclick: () => { el.currentTime = s.start_ms / 1000; el.play(); } }, ms(s.start_ms)), ' ', s.text))));
      else view.append(h('p.hint', 'Transcripts arrive with the speech capability.'));
    } else if (/^text\/|json|markdown/.test(m.mime) && m.size < 2e6) {
      const res = await api('GET', `/media/${m.id}/content`, undefined, { raw: true });
      view.append(h('pre.textview', await res.text()));
    } else if (m.transcript && m.transcript.text) view.append(h('pre.textview', m.transcript.text));
    else view.append(h('p.hint', 'Its text is in the memories made from it.'));
  } catch (e) {
    view.append(h('p.form-error', e.message));
  }
}

export { navigate, empty };
