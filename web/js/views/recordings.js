// Device recordings: connected devices (live), the conversations they recorded with their state,
// and one conversation's speech segments, audio, transcript (click a line to hear it) and memories,
// with reprocess; the silence that ends a conversation, per user and per device.
import { api, get, post } from '../api.js';
import { busy, clear, empty, field, h, ms, spinner, toast, when } from '../ui.js';

const STATE_LABEL = {
  recording: 'recording', pending: 'waiting', silent: 'no speech', transcribing: 'transcribing', ready: 'ready', failed: 'failed',
};
const pill = (state) => h(`span.pill.rec-${state}`, STATE_LABEL[state] || state);

export async function recordingsView({ main, params, isCurrent }) {
  if (params[0]) return detail(main, params[0], isCurrent);
  return list(main, isCurrent);
}

async function list(main, isCurrent) {
  const devices = h('section.panel', h('h2', 'Connected devices'), spinner());
  const recs = h('section.panel', h('h2', 'Conversations'), spinner());
  const settings = h('section.panel', h('h2', 'When a conversation ends'), spinner());
  clear(main, h('div.page.wide',
    h('header.page-head', h('div', h('h1', 'Recordings'), h('p.muted', 'What your phone and wearables heard: each conversation is transcribed into memories of your digital twin.'))),
    devices, recs, settings));
  const showDevices = async () => {
    const d = await get('/clients/active');
    clear(devices, h('h2', 'Connected devices'), d.items.length
      ? h('ul.list#device-list', d.items.map((c) => h('li.list-row', h('span.grow', h('strong', c.device_name), ` · ${c.codec} · connected ${when(c.connected_at)}`),
        h('span.muted', `${ms((c.bytes / 32000) * 1000)} recorded`), c.recording_id ? h('a.btn.sm', { href: `/recordings/${c.recording_id}` }, 'Open') : null)))
      : h('p.muted#device-list', 'No device is streaming. Stream with a Friend-Lite or Omi device, or `doppel capture FILE|-`.'));
  };
  const showRecordings = async () => {
    const r = await get('/recordings?limit=100');
    clear(recs, h('h2', 'Conversations'), r.items.length
      ? h('ul.list#recording-list', r.items.map((x) => h('li.list-row',
        h('a.grow', { href: `/recordings/${x.id}` }, h('strong', x.device_name), ` · ${new Date(x.started_at).toLocaleString()} · ${ms(x.duration_ms)}`),
        x.conversation.speech_ms ? h('span.muted', `${ms(x.conversation.speech_ms)} of speech`) : null, pill(x.conversation.state))))
      : empty('audio', 'No recordings yet', 'Recordings appear here as soon as a device streams.'));
  };
  await Promise.all([showDevices(), showRecordings(), showSettings(settings)]);
  // The devices and the states move on their own: refreshed while the page is open.
  const timer = setInterval(() => {
    if (!isCurrent()) return clearInterval(timer);
    showDevices().catch(() => {});
    showRecordings().catch(() => {});
  }, 3000);
  return () => clearInterval(timer);
}

async function showSettings(panel) {
  const s = await get('/capture/settings');
  const input = h('input', { type: 'number', min: 2, max: 14400, value: s.silence_close_s, inputmode: 'numeric' });
  const device = h('input', { type: 'text', placeholder: 'all devices', maxlength: 64, pattern: '[A-Za-z0-9._-]*' });
  const save = h('button.btn.primary', { type: 'submit' }, 'Save');
  const form = h('form.row-form', field('Seconds of silence after speech', input, `2 s to 4 h; the server's default is ${s.server_default} s.`),
    field('Device (optional)', device), save);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { silence_close_s: Number(input.value) };
    if (device.value) body.device_name = device.value;
    const ok = await busy(save, () => api('PUT', '/capture/settings', body));
    if (ok) {
      toast('Saved.', 'ok');
      showSettings(panel);
    }
  });
  clear(panel, h('h2', 'When a conversation ends'), form,
    s.devices.length ? h('ul.list', s.devices.map((d) => h('li.list-row', h('span.grow', d.device_name), `${d.silence_close_s} s`))) : null);
}

async function detail(main, id, isCurrent) {
  clear(main, h('div.page', spinner()));
  let rec = await get(`/recordings/${id}`);
  let audio = null;
  let audioFor = null;
  const render = async () => {
    const c = rec.conversation;
    if (c.media_id && audioFor !== c.media_id) {
      const res = await api('GET', `/media/${c.media_id}/content`, undefined, { raw: true });
      audio = h('audio.rec-audio', { controls: true, preload: 'auto', src: URL.createObjectURL(await res.blob()) });
      audioFor = c.media_id;
    }
    const playAt = (t) => {
      if (!audio) return;
      audio.currentTime = t / 1000;
      audio.play().catch(() => {});
    };
    // The audio is the conversation cropped to its speech (c.crop: [media_ms, recording_ms,
    // len_ms] pieces): a time of the recording plays where its piece sits in it.
    const inMedia = (t) => {
      if (!c.crop) return t;
      const p = c.crop.find(([, r, len]) => t < r + len);
      return p ? p[0] + Math.max(0, t - p[1]) : t;
    };
    // The recording as a bar, its speech segments marked on it (click one to hear it).
    const bar = h('div.rec-bar', { role: 'group', 'aria-label': 'Speech in the recording' });
    for (const [s, e] of c.segments) {
      const seg = h('button.rec-seg', { type: 'button', title: `${ms(s)}–${ms(e)}`, 'aria-label': `Speech at ${ms(s)}`, onclick: () => playAt(inMedia(s)) });
      seg.style.left = `${(100 * s) / Math.max(1, rec.duration_ms)}%`;
      seg.style.width = `${Math.max(0.5, (100 * (e - s)) / Math.max(1, rec.duration_ms))}%`;
      bar.append(seg);
    }
    const reprocess = h('button.btn', { type: 'button', disabled: rec.status !== 'closed' }, 'Reprocess');
    reprocess.addEventListener('click', async () => {
      if (await busy(reprocess, () => post(`/recordings/${id}/reprocess`))) {
        toast('Transcribing again…', 'ok');
        rec.conversation.state = 'transcribing';
        render();
      }
    });
    const close = rec.status === 'open' ? h('button.btn', { type: 'button' }, 'Close now') : null;
    close?.addEventListener('click', async () => {
      if (await busy(close, () => post(`/recordings/${id}/close`))) toast('Closing…', 'ok');
    });
    const segs = rec.transcript?.segments || [];
    clear(main, h('div.page',
      h('p', h('a', { href: '/recordings' }, '← Recordings')),
      h('header.page-head', h('div', h('h1', `${rec.device_name} · ${new Date(rec.started_at).toLocaleString()}`),
        h('p.muted', `${ms(rec.duration_ms)} recorded`, c.speech_ms ? `, ${ms(c.speech_ms)} of speech` : '', rec.close_reason ? ` · ended by ${rec.close_reason}` : '', ' · ', pill(c.state))),
        h('div.actions', close, reprocess)),
      h('section.panel', h('h2', 'Speech'), bar, audio || h('p.muted', c.state === 'silent' ? 'No speech was heard in this recording.' : 'The audio plays here once the conversation is transcribed.')),
      h('section.panel', h('h2', 'Transcript', rec.transcript ? h('span.muted', ` · version ${rec.transcript.version}`) : null),
        segs.length ? h('ol.list.transcript#transcript', segs.map((s) => h('li.list-row', h('button.linkish.ts', { type: 'button', onclick: () => playAt(s.start_ms), 'aria-label': `Play from ${ms(s.start_ms)}` }, ms(s.start_ms)), h('span.grow', s.text))))
          : h('p.muted', c.state === 'ready' ? 'Nothing was recognised.' : 'Not transcribed yet.')),
      h('section.panel', h('h2', 'Memories'), rec.memories.length
        ? h('ul.list#rec-memories', rec.memories.map((m) => h('li.list-row', h('button.linkish.ts', { type: 'button', onclick: () => playAt(m.source.start_ms) }, ms(m.source.start_ms)), h('span.grow', m.text))))
        : h('p.muted', 'None yet.'),
      c.avatar_id ? h('p', h('a', { href: `/avatars/${c.avatar_id}/memories` }, 'All memories of your digital twin')) : null)));
  };
  await render();
  // Until the conversation settles, its state is followed.
  const settled = () => rec.status === 'closed' && ['ready', 'silent', 'failed'].includes(rec.conversation.state);
  const timer = setInterval(async () => {
    if (!isCurrent()) return clearInterval(timer);
    if (settled()) return;
    try {
      const next = await get(`/recordings/${id}`);
      const changed = next.conversation.state !== rec.conversation.state || next.transcript?.version !== rec.transcript?.version || next.status !== rec.status;
      rec = next;
      if (changed && isCurrent()) await render();
    } catch {}
  }, 1500);
  return () => clearInterval(timer);
}
