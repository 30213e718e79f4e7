// Voice talk (WS /api/v1/avatars/{id}/voice, or a legacy page visitor's
// /api/v1/legacy/{slug}/conversations/{cid}/voice), loaded when a person first presses "Voice": the
// microphone (echo cancellation and noise suppression on, so the avatar does not hear itself)
// through an AudioWorklet as PCM16 at the session's rate; push-to-talk or hands-free (the server's
// VAD); the live partial transcript; the reply's audio through Web Audio with a small jitter
// buffer, flushed at once on barge-in; a face whose mouth follows response.viseme; each turn's
// latency on demand.
import { wsUrl } from './api.js';
import { NO_SOUND, running } from './audio/context.js';
import { h, hueOf } from './ui.js';

const JITTER_S = 0.12; // the first chunk of a reply waits this long, so later ones arrive in time

/* Mouth shapes (ellipse radii in the face's 120-unit box) of the Oculus visemes flite's phones map to. */
const MOUTH = {
  sil: [10, 1.5], PP: [9, 1], FF: [10, 3], TH: [10, 4], DD: [11, 6], kk: [11, 7], CH: [8, 7], SS: [12, 4],
  nn: [10, 5], RR: [7, 7], aa: [12, 11], E: [13, 8], ih: [12, 6], oh: [8, 10], ou: [6, 7],
};

const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/* The talking face: the portrait (or a drawn face) in a circle, and a mouth that takes a viseme. */
function face(name, portraitUrl) {
  const box = h('div.face', { role: 'img', 'aria-label': `${name}'s face`, dataset: { viseme: 'sil', moves: '0' } });
  const s = svg('svg', { viewBox: '0 0 120 120' });
  const hue = hueOf(name);
  const clip = 'fc' + Math.random().toString(36).slice(2, 8);
  const defs = svg('defs', {});
  const cp = svg('clipPath', { id: clip });
  cp.append(svg('circle', { cx: 60, cy: 60, r: 58 }));
  defs.append(cp);
  s.append(defs, svg('circle', { cx: 60, cy: 60, r: 58, fill: `hsl(${hue} 45% 80%)` }));
  if (portraitUrl) {
    s.append(svg('image', { href: portraitUrl, x: 2, y: 2, width: 116, height: 116, 'clip-path': `url(#${clip})`, preserveAspectRatio: 'xMidYMid slice' }));
  } else {
    s.append(svg('circle', { cx: 42, cy: 50, r: 5, fill: '#2b2230' }), svg('circle', { cx: 78, cy: 50, r: 5, fill: '#2b2230' }));
  }
  const mouth = svg('ellipse', { class: 'mouth', cx: 60, cy: portraitUrl ? 92 : 84, rx: 10, ry: 1.5 });
  s.append(mouth);
  box.append(s);
  let moves = 0;
  box.set = (v) => {
    if (box.dataset.viseme === v) return;
    const [rx, ry] = MOUTH[v] || MOUTH.sil;
    mouth.setAttribute('rx', rx);
    mouth.setAttribute('ry', ry);
    box.dataset.viseme = v;
    box.dataset.moves = String(++moves);
  };
  return box;
}

const LATENCY = [['stt_ms', 'Speech recognised'], ['brain_ms', 'Answer found'], ['tts_first_byte_ms', 'First audio'], ['turn_ms', 'Whole turn']];

function latencyDetails(lat) {
  return h('details.latency', h('summary', 'Timing'),
    h('dl', LATENCY.map(([k, label]) => [h('dt', label), h('dd', lat[k] == null ? '—' : `${Math.round(lat[k])} ms`)])));
}

/*
 * Opens the voice panel under a chat box. opts: {avatar ({id, name}; a visitor knows only the
 * name), conversationId, chat (chatBox's result: add(message) → bubble), portraitUrl, mount(el),
 * url (optional: () → the socket's address, for a legacy page's visitor)}. Returns {close()}.
 */
export function openVoice(opts) {
  const { avatar, chat } = opts;
  const f = face(avatar.name, opts.portraitUrl);
  const state = h('span.voice-state', { role: 'status' }, 'Starting…');
  const partial = h('p.partial', { 'aria-live': 'polite' });
  const level = h('meter.level', { min: 0, max: 1, value: 0, 'aria-label': 'Microphone level' });
  const modeSel = h('select', { 'aria-label': 'How to talk' }, h('option', { value: 'vad' }, 'Hands-free'), h('option', { value: 'manual' }, 'Push to talk'));
  const talkBtn = h('button.btn.primary.talk-btn', { type: 'button', 'aria-pressed': 'false', hidden: true }, 'Hold to talk');
  const endBtn = h('button.btn.ghost', { type: 'button' }, 'End voice');
  const panel = h('section.voice-panel', { 'aria-label': 'Voice conversation', dataset: { audioMs: '0', state: 'starting' } },
    f, h('div.voice-side', h('div.voice-row', modeSel, talkBtn, endBtn), h('div.voice-row', level, state), partial));
  opts.mount(panel);

  let ws = null;
  let ctx = null;
  let stream = null;
  let node = null;
  let started = false;
  let closed = false;
  let held = false;
  let mode = 'vad';
  let rate = 16000;
  let replyRate = 16000;
  // playback
  const sources = new Set();
  let nextTime = 0;
  let replyT0 = null; // the context time at which the reply's sample 0 plays
  let visemes = [];
  let audioMs = 0;
  // the turn's bubbles
  let reply = null;
  let replyText = '';

  const say = (text, kind) => {
    state.textContent = text;
    panel.dataset.state = kind || panel.dataset.state;
  };

  function flush() {
    for (const s of sources) {
      try {
        s.stop();
      } catch {}
    }
    sources.clear();
    panel.dataset.playing = '0';
    nextTime = 0;
    replyT0 = null;
    visemes = [];
    f.set('sil');
  }
  const playing = () => sources.size > 0;
  // After a barge-in, audio of the reply still on the wire is dropped until the next reply starts.
  let silenced = false;
  function bargeIn() {
    flush();
    silenced = true;
  }

  function play(buf) {
    if (!ctx || silenced || (buf.byteLength & 1)) return;
    const pcm = new Int16Array(buf);
    const b = ctx.createBuffer(1, pcm.length, replyRate);
    const ch = b.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const src = ctx.createBufferSource();
    src.buffer = b;
    src.connect(ctx.destination);
    const now = ctx.currentTime;
    if (nextTime < now) nextTime = now + JITTER_S; // (re)start: leave room for the next chunks
    if (replyT0 == null) replyT0 = nextTime;
    src.start(nextTime);
    nextTime += b.duration;
    sources.add(src);
    panel.dataset.playing = '1';
    src.onended = () => {
      sources.delete(src);
      if (!sources.size) panel.dataset.playing = '0';
    };
    audioMs += b.duration * 1000;
    panel.dataset.audioMs = String(Math.round(audioMs));
  }

  let raf = 0;
  function animate() {
    raf = requestAnimationFrame(animate);
    if (!ctx || replyT0 == null || !playing()) {
      if (!playing()) f.set('sil');
      return;
    }
    const t = (ctx.currentTime - replyT0) * 1000;
    let v = 'sil';
    for (const x of visemes) {
      if (x.t_ms > t) break;
      v = x.viseme;
    }
    f.set(v);
  }

  function onEvent(ev) {
    switch (ev.type) {
      case 'session.started':
        started = true;
        rate = (ev.audio && ev.audio.rate) || rate;
        replyRate = (ev.reply_audio && ev.reply_audio.rate) || replyRate;
        if (ev.transcription === false) say('This server cannot recognise speech yet: the avatar can speak, but not hear you.', 'error');
        else say(mode === 'manual' ? 'Hold the button (or Space) while you speak.' : 'Listening — just talk.', 'listening');
        return startCapture();
      case 'speech.started':
        if (playing()) {
          bargeIn(); // the server stops the reply; what was queued here goes at once
          say('Interrupted — listening.', 'listening');
        } else say('Listening…', 'listening');
        return;
      case 'speech.stopped':
        return say('Thinking…', 'thinking');
      case 'transcript.partial':
        partial.textContent = ev.text || '';
        return;
      case 'transcript.final':
        partial.textContent = '';
        if (ev.text) chat.add({ role: 'user', text: ev.text });
        else say(mode === 'manual' ? 'Nothing was heard. Hold the button while you speak.' : 'Nothing was heard.', 'listening');
        return;
      case 'response.started':
        flush();
        silenced = false;
        replyText = '';
        reply = chat.add({ role: 'avatar', text: '' });
        reply.li.classList.add('streaming');
        say('Answering…', 'speaking');
        return;
      case 'response.text.delta':
        if (!reply) return;
        replyText += ev.text || '';
        reply.text.textContent = replyText;
        return;
      case 'response.citation':
        if (reply) reply.addCitation(ev);
        return;
      case 'response.audio.start':
        replyRate = ev.rate || replyRate;
        return;
      case 'response.viseme':
        visemes.push(ev);
        return;
      case 'response.done':
        if (reply) {
          reply.li.classList.remove('streaming');
          // A cancelled reply keeps only what was heard (the server stores the same).
          reply.finish({ text: ev.text != null ? ev.text || '…' : replyText, id: ev.message_id });
          if (ev.status && ev.status !== 'completed') reply.li.querySelector('.bubble-foot').append(h('span.tiny.muted', 'interrupted'));
          if (ev.latency) reply.li.querySelector('.bubble-foot').append(latencyDetails(ev.latency));
          reply = null;
        }
        say(mode === 'manual' ? 'Hold the button (or Space) while you speak.' : 'Listening — just talk.', 'listening');
        return;
      case 'error':
        say(ev.message || 'Something went wrong.', 'error');
        return;
      default:
    }
  }

  async function startCapture() {
    if (node || !ctx || !stream) return;
    try {
      await ctx.audioWorklet.addModule('/js/audio/pcm-capture.js');
      if (closed) return;
      node = new AudioWorkletNode(ctx, 'pcm-capture', { processorOptions: { rate }, numberOfInputs: 1, numberOfOutputs: 0 });
      node.port.onmessage = (e) => {
        level.value = e.data.level;
        if (started && ws && ws.readyState === WebSocket.OPEN && (mode === 'vad' || held)) ws.send(e.data.pcm);
      };
      ctx.createMediaStreamSource(stream).connect(node);
    } catch (e) {
      say('The microphone could not be used: ' + e.message, 'error');
    }
  }

  async function connect() {
    started = false;
    let url;
    try {
      url = opts.url ? opts.url() : await wsUrl(`/api/v1/avatars/${encodeURIComponent(avatar.id)}/voice`);
    } catch (e) {
      return say(e.message, 'error');
    }
    if (closed) return;
    const sock = new WebSocket(url);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      sock.send(JSON.stringify({ type: 'session.start', audio: { format: 'pcm16', rate: 16000 }, reply_audio: { format: 'pcm16', rate: 16000 }, turn_detection: mode, conversation_id: opts.conversationId || null }));
    };
    sock.onmessage = (e) => {
      if (ws !== sock) return;
      if (typeof e.data !== 'string') return play(e.data);
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return;
      }
      onEvent(ev);
    };
    sock.onclose = (e) => {
      if (ws !== sock || closed) return;
      ws = null;
      flush();
      // Refused, or closed before the session could start without saying why: no voice backend here.
      if (!opened || (!started && panel.dataset.state !== 'error')) say('Voice conversations are not available on this server yet.', 'unavailable');
      else if (panel.dataset.state !== 'error') say((e.reason ? `The voice session ended: ${e.reason}.` : 'The voice session ended.') + (mode === 'manual' ? ' Press the button to start again.' : ' End voice and open it again to go on.'), 'ended');
      modeSel.disabled = false;
    };
  }

  /* push-to-talk */
  const press = () => {
    // A session the server closed (e.g. after a long quiet while) starts again on the next press.
    if (!ws && !closed && panel.dataset.state === 'ended') {
      say('Starting…', 'starting');
      return connect();
    }
    if (held || mode !== 'manual' || !started) return;
    held = true;
    talkBtn.setAttribute('aria-pressed', 'true');
    talkBtn.textContent = 'Speaking… release to send';
    if (playing() || reply) {
      bargeIn();
      if (ws) ws.send(JSON.stringify({ type: 'response.cancel' }));
    }
  };
  const release = () => {
    if (!held) return;
    held = false;
    talkBtn.setAttribute('aria-pressed', 'false');
    talkBtn.textContent = 'Hold to talk';
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'input.commit' }));
  };
  talkBtn.addEventListener('pointerdown', (e) => {
    talkBtn.setPointerCapture(e.pointerId);
    press();
  });
  talkBtn.addEventListener('pointerup', release);
  talkBtn.addEventListener('pointercancel', release);
  const keyDown = (e) => {
    if (mode !== 'manual' || e.repeat) return;
    if ((e.code === 'Space' && !/^(TEXTAREA|INPUT|SELECT)$/.test(e.target.tagName)) || (e.target === talkBtn && e.key === 'Enter')) {
      e.preventDefault();
      press();
    }
  };
  const keyUp = (e) => {
    if (e.code === 'Space' || e.key === 'Enter') release();
  };
  document.addEventListener('keydown', keyDown);
  document.addEventListener('keyup', keyUp);

  modeSel.addEventListener('change', () => {
    mode = modeSel.value;
    talkBtn.hidden = mode !== 'manual';
    // The session's turn detection is fixed at its start: begin a new one in the new mode.
    if (ws) {
      const old = ws;
      ws = null;
      old.send(JSON.stringify({ type: 'session.end' }));
      old.close(1000);
    }
    flush();
    say('Starting…', 'starting');
    connect();
  });

  async function begin() {
    // Made first, while the click that opened the panel still counts as a gesture: audio may play.
    ctx = new AudioContext({ latencyHint: 'interactive' });
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } });
    } catch (e) {
      say(e.name === 'NotAllowedError' ? 'The microphone is blocked: allow it for this site to talk.' : 'No microphone could be opened: ' + e.message, 'error');
      return;
    }
    if (closed) return stream.getTracks().forEach((t) => t.stop());
    if (!(await running(ctx))) {
      stream.getTracks().forEach((t) => t.stop());
      return say(NO_SOUND, 'error');
    }
    if (closed) return;
    animate();
    connect();
  }
  begin();

  function close() {
    if (closed) return;
    closed = true;
    cancelAnimationFrame(raf);
    document.removeEventListener('keydown', keyDown);
    document.removeEventListener('keyup', keyUp);
    if (ws) {
      try {
        ws.send(JSON.stringify({ type: 'session.end' }));
      } catch {}
      ws.close(1000);
      ws = null;
    }
    flush();
    if (node) node.disconnect();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ctx) ctx.close().catch(() => {});
    panel.remove();
    if (opts.onClose) opts.onClose();
  }
  endBtn.addEventListener('click', close);
  return { close, panel };
}
