// Voice training (the Training tab's voice panel): three ~10 s samples recorded with the
// microphone (level meter, replay, re-record) or uploaded as files, sent to
// POST /avatars/{id}/training/voice with byte progress; then the voice profile (pitch and
// speaking rate) as a small chart. A server without voice training says so and nothing breaks.
import { upload } from '../api.js';
import { NO_SOUND, running } from '../audio/context.js';
import { clear, h, icon, toast } from '../ui.js';

const SAMPLES = 3;
const SECONDS = 10;
const RATE = 16000;
const PROMPTS = [
  'Read aloud: “The morning was bright and cold, and the harbour smelled of salt and tar. We walked along the pier and talked about the summer.”',
  'Tell, in your own words, how you spent a day you remember well.',
  'Read aloud: “Please call Stella. Ask her to bring these things with her from the store: six spoons of fresh snow peas and a big toy frog.”',
];

/* A 16 kHz mono PCM16 WAV of the recorded frames. */
function wav(frames) {
  const n = frames.reduce((s, f) => s + f.length, 0);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  str(8, 'WAVEfmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, RATE, true);
  v.setUint32(28, RATE * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, 'data');
  v.setUint32(40, n * 2, true);
  let o = 44;
  for (const f of frames)
    for (let i = 0; i < f.length; i++, o += 2) v.setInt16(o, f[i], true);
  return new Blob([buf], { type: 'audio/wav' });
}

/* Records up to SECONDS from the microphone; onLevel(0..1, seconds). Returns {stop() → Promise<Blob>}. */
async function record(onLevel) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
  const ctx = new AudioContext();
  if (!(await running(ctx))) {
    stream.getTracks().forEach((t) => t.stop());
    ctx.close().catch(() => {});
    throw new Error(NO_SOUND);
  }
  await ctx.audioWorklet.addModule('/js/audio/pcm-capture.js');
  const node = new AudioWorkletNode(ctx, 'pcm-capture', { processorOptions: { rate: RATE }, numberOfInputs: 1, numberOfOutputs: 0 });
  const frames = [];
  let done;
  const finished = new Promise((r) => (done = r));
  const stop = () => {
    node.port.onmessage = null;
    node.disconnect();
    stream.getTracks().forEach((t) => t.stop());
    ctx.close().catch(() => {});
    done(wav(frames));
    return finished;
  };
  node.port.onmessage = (e) => {
    frames.push(new Int16Array(e.data.pcm));
    const secs = (frames.length * 20) / 1000;
    onLevel(e.data.level, secs);
    if (secs >= SECONDS) stop();
  };
  ctx.createMediaStreamSource(stream).connect(node);
  return { stop, finished };
}

/* Pitch and rate of a voice profile, whichever names the server gives them. */
function measures(v) {
  const pick = (...keys) => {
    for (const k of keys) {
      const val = k.split('.').reduce((o, p) => (o == null ? o : o[p]), v);
      if (typeof val === 'number') return val;
    }
    return null;
  };
  const f0 = pick('f0_mean_hz', 'f0_mean', 'f0.mean', 'pitch_hz');
  return {
    f0: f0 > 0 ? f0 : null, // 0: no voiced speech measured yet
    f0sd: pick('f0_std_hz', 'f0_std', 'f0.std'),
    rate: pick('speaking_rate', 'rate', 'syllables_per_second', 'rate_sps'),
    rateUnit: v && (v.speaking_rate_unit || (v.syllables_per_second != null ? 'syllables/s' : v.words_per_minute != null ? 'words/min' : 'syllables/s')),
    wpm: pick('words_per_minute'),
    seconds: pick('speech_seconds', 'speech_s', 'seconds', 'seconds_of_speech'),
  };
}

/* The profile as a chart: the pitch band (mean ± deviation) on a 50–400 Hz scale, and the rate. */
function chart(v) {
  const m = measures(v);
  if ((m.f0 == null && m.rate == null) || v.samples === 0 || v.status === 'untrained') return null;
  const NS = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, val] of Object.entries(attrs)) e.setAttribute(k, val);
    if (text != null) e.textContent = text;
    return e;
  };
  const s = el('svg', { class: 'voice-chart', viewBox: '0 0 420 120', role: 'img', 'aria-label': `Voice profile: pitch ${m.f0 != null ? Math.round(m.f0) + ' Hz' : 'unknown'}, speaking rate ${m.rate != null ? m.rate.toFixed(1) : 'unknown'}` });
  const x = (hz) => 60 + ((Math.max(50, Math.min(400, hz)) - 50) / 350) * 340;
  s.append(el('text', { x: 0, y: 30 }, 'Pitch'), el('line', { class: 'axis', x1: 60, x2: 400, y1: 36, y2: 36 }));
  for (const hz of [100, 200, 300, 400]) s.append(el('text', { x: x(hz) - 10, y: 52 }, `${hz}`));
  if (m.f0 != null) {
    const sd = m.f0sd || 0;
    s.append(el('rect', { class: 'range', x: x(m.f0 - sd), y: 20, width: Math.max(2, x(m.f0 + sd) - x(m.f0 - sd)), height: 16, rx: 4 }),
      el('rect', { class: 'bar', x: x(m.f0) - 2, y: 16, width: 4, height: 24 }),
      el('text', { x: Math.min(x(m.f0) + 6, 330), y: 14 }, `${Math.round(m.f0)} Hz${sd ? ` ± ${Math.round(sd)}` : ''}`));
  }
  s.append(el('text', { x: 0, y: 92 }, 'Rate'), el('line', { class: 'axis', x1: 60, x2: 400, y1: 98, y2: 98 }));
  if (m.rate != null) {
    const max = m.rateUnit === 'words/min' ? 250 : 8;
    s.append(el('rect', { class: 'bar', x: 60, y: 82, width: Math.max(2, (Math.min(m.rate, max) / max) * 340), height: 16, rx: 4 }),
      el('text', { x: 64, y: 116 }, `${m.rate.toFixed(m.rate < 20 ? 1 : 0)} ${m.rateUnit}`));
  }
  return s;
}

/*
 * The panel. a: the avatar; voice: the profile's voice part; editable: may add samples.
 * Returns the element.
 */
export function voicePanel(a, voice, editable) {
  const box = h('section.panel.stack.voice-train', { 'aria-labelledby': 'voice-train-h' });
  const bar = h('progress.big', { max: 100, value: voice.progress || 0, 'aria-label': 'Voice training progress' });
  const pct = h('strong.pct', `${voice.progress || 0}\u00a0%`);
  const profileBox = h('div.voice-profile');
  const err = h('p.form-error', { role: 'alert' });
  const list = h('ol.samples');
  const unavailable = voice.status === 'not_available' || voice.status === 'not_implemented';

  function showProfile(v) {
    bar.value = v.progress || 0;
    pct.textContent = `${v.progress || 0}\u00a0%`;
    const c = chart(v);
    const m = measures(v);
    clear(profileBox, c ? [h('h3', 'Their voice'), c, m.seconds != null ? h('p.tiny.muted', `From ${Math.round(m.seconds)} s of speech.`) : null]
      : h('p.list-empty', v.progress >= 100 ? 'The voice profile is ready.' : `Record ${SAMPLES} samples of about ${SECONDS} seconds to see their pitch and speaking rate.`));
  }

  /* Sends one sample (a recorded WAV or a chosen file) with byte progress. */
  async function send(file, slot) {
    const prog = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
    slot.status.replaceChildren(prog);
    err.textContent = '';
    try {
      const r = await upload(`/avatars/${a.id}/training/voice`, file, (sent, total) => (prog.value = total ? Math.round((sent / total) * 100) : 0));
      const v = (r && (r.voice || r.profile || r)) || {};
      slot.status.replaceChildren(h('span.pill.link', 'Sent'));
      slot.sent = true;
      showProfile(v);
      if ((v.progress || 0) >= 100) toast('Voice profile ready.', 'ok');
    } catch (e) {
      slot.status.replaceChildren();
      if (e.code === 'not_implemented' || e.status === 501) {
        err.textContent = 'Voice training is not available on this server yet.';
        disableAll();
      } else err.textContent = e.message;
    }
  }

  const slots = [];
  function disableAll() {
    for (const s of slots) s.controls.querySelectorAll('button').forEach((b) => (b.disabled = true));
    fileInput.disabled = true;
  }

  for (let i = 0; i < SAMPLES; i++) {
    const slot = { blob: null, sent: false };
    const meter = h('meter.level', { min: 0, max: 1, value: 0, 'aria-label': `Sample ${i + 1} level` });
    const timer = h('span.tiny.muted', '');
    const player = h('span');
    slot.status = h('span');
    const recBtn = h('button.btn', { type: 'button' }, icon('mic'), 'Record');
    const sendBtn = h('button.btn.primary', { type: 'button', hidden: true }, 'Use this sample');
    let rec = null;
    recBtn.addEventListener('click', async () => {
      if (rec) {
        const r = rec;
        rec = null;
        return r.stop();
      }
      try {
        clear(player);
        sendBtn.hidden = true;
        rec = await record((lvl, secs) => {
          meter.value = lvl;
          timer.textContent = `${secs.toFixed(1)} / ${SECONDS} s`;
        });
        recBtn.replaceChildren('Stop');
        const blob = await rec.finished;
        rec = null;
        meter.value = 0;
        slot.blob = blob;
        recBtn.replaceChildren(icon('mic'), 'Re-record');
        player.replaceChildren(h('audio', { controls: true, src: URL.createObjectURL(blob), 'aria-label': `Replay sample ${i + 1}` }));
        sendBtn.hidden = false;
      } catch (e) {
        rec = null;
        err.textContent = e.name === 'NotAllowedError' ? 'The microphone is blocked: allow it for this site, or upload a recording instead.' : e.message === NO_SOUND ? NO_SOUND : 'No microphone could be opened: ' + e.message;
      }
    });
    sendBtn.addEventListener('click', () => {
      sendBtn.hidden = true;
      send(new File([slot.blob], `voice-sample-${i + 1}.wav`, { type: 'audio/wav' }), slot);
    });
    slot.controls = h('div.row', recBtn, sendBtn);
    slots.push(slot);
    list.append(h('li.sample', h('span.sample-name', `Sample ${i + 1}`), h('p.hint', PROMPTS[i]), slot.controls, meter, timer, player, slot.status));
  }

  const fileSlot = { status: h('span') };
  const fileInput = h('input', { type: 'file', accept: 'audio/*,.wav,.mp3,.ogg,.opus,.m4a,.flac' });
  fileInput.addEventListener('change', () => {
    const f = fileInput.files[0];
    if (f) send(f, fileSlot).finally(() => (fileInput.value = ''));
  });

  clear(box, h('h2#voice-train-h', 'Voice'),
    h('p.muted', `Three samples of about ${SECONDS} seconds in their voice let the avatar answer in a voice like theirs.`),
    h('div.progress-row', bar, pct),
    profileBox,
    unavailable ? h('p.hint', 'Voice training is not available on this server yet.') : null,
    editable ? [list, h('div.field', h('label', { for: 'voice-file' }, 'Or upload a recording of them'), Object.assign(fileInput, { id: 'voice-file' }), fileSlot.status)] : h('p.hint', 'Only the owner and editors add samples.'),
    err);
  showProfile(voice);
  if (unavailable) disableAll();
  return box;
}
