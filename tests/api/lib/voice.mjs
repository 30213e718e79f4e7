// The voice WebSocket from a client's side (tests/api/voice*.test.mjs, bench/voice): speech fixtures
// made with espeak-ng at test time (16 kHz mono PCM16, with silence and noise mixed in by the
// caller), and a client that streams them in real time, 20 ms a frame, while it "plays" the reply
// audio it receives at real time — optionally leaking it back into its microphone as an echo.
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';

export const RATE = 16000;
export const FRAME = 320; // samples: 20 ms

/* espeak-ng saying text, as Int16Array at 16 kHz (its 22.05 kHz output resampled, linear), trimmed of
 * its own leading and trailing silence. */
export function speak(text, { voice = 'en-us', speed = 160, pitch = 50 } = {}) {
  const wav = execFileSync('espeak-ng', ['-v', voice, '-s', String(speed), '-p', String(pitch), '--stdout', text], {
    maxBuffer: 64 << 20,
  });
  const rate = wav.readUInt32LE(24);
  let off = 12;
  while (off + 8 <= wav.length && wav.toString('latin1', off, off + 4) !== 'data') off += 8 + wav.readUInt32LE(off + 4);
  const data = wav.subarray(off + 8);
  const src = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + (data.length & ~1)));
  const n = Math.floor((src.length * RATE) / rate);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const x = (i * rate) / RATE, k = Math.floor(x), f = x - k;
    out[i] = k + 1 < src.length ? src[k] * (1 - f) + src[k + 1] * f : src[src.length - 1];
  }
  let a = 0, z = n;
  while (a < n && Math.abs(out[a]) < 200) a++;
  while (z > a && Math.abs(out[z - 1]) < 200) z--;
  return out.subarray(a, z);
}

let seed = 1;
function rand() {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

/* ms of silence (amp 0) or white noise of amplitude amp. */
export function noise(ms, amp = 0) {
  const out = new Int16Array((ms * RATE) / 1000);
  if (amp) for (let i = 0; i < out.length; i++) out[i] = Math.round((rand() * 2 - 1) * amp);
  return out;
}

export function concat(...parts) {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/* a with b mixed in at sample offset at (b scaled by gain). */
export function mix(a, b, at = 0, gain = 1) {
  const out = Int16Array.from(a);
  for (let i = 0; i < b.length && at + i < out.length; i++)
    out[at + i] = Math.max(-32768, Math.min(32767, out[at + i] + Math.round(b[i] * gain)));
  return out;
}

const le = (pcm) => Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);

/*
 * A voice session: connect(url) opens it; events arrive in `events` (text, parsed, with `at`, the
 * ms since the connection opened) and reply audio is collected (`audio`: Int16Array pieces with
 * their arrival). stream(pcm) sends pcm in real time, 20 ms a frame; while it does, the reply audio
 * received is played at real time and, with echoGain > 0, mixed back into what is sent, echoDelay
 * ms later — a speaker heard by the microphone. A speech.started while a reply plays flushes it.
 * burstMs > 0 holds the frames back and sends them burstMs at a time, as a jittery network or a
 * loaded phone delivers them (their audio still runs in real time).
 */
export class VoiceClient {
  constructor({ echoGain = 0, echoDelayMs = 60, rate = RATE, burstMs = 0 } = {}) {
    this.burstFrames = Math.max(1, Math.round(burstMs / 20));
    this.rate = rate; // of what stream() sends (the echo is mixed at RATE only)
    this.frame = Math.round(rate / 50);
    this.events = [];
    this.audio = [];
    this.audioBytes = 0;
    this.firstAudioAt = [];
    this.echoGain = echoGain;
    this.echoDelay = Math.round((echoDelayMs * RATE) / 1000);
    this.playQueue = []; // samples waiting to be played
    this.played = []; // what the speaker played, in order, one entry per mic frame
    this.waiters = [];
    this.t0 = performance.now();
  }

  connect(url, opts = {}) {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
      this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
      this.ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error('HTTP ' + res.statusCode), { status: res.statusCode })));
      this.ws.on('error', reject);
      this.ws.on('open', () => resolve(this));
      this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    });
  }

  now() {
    return performance.now() - this.t0;
  }

  onMessage(data, isBinary) {
    const at = this.now();
    if (isBinary) {
      const b = Buffer.from(data);
      this.audioBytes += b.length;
      const pcm = new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length - (b.length & 1)));
      this.audio.push({ at, pcm, bytes: b });
      if (this.audio.length === 1 || this.newReply) {
        this.firstAudioAt.push(at);
        this.newReply = false;
      }
      for (const s of pcm) this.playQueue.push(s);
      this.check();
      return;
    }
    const ev = JSON.parse(data.toString());
    ev.at = at;
    this.events.push(ev);
    if (ev.type === 'response.started') this.newReply = true;
    if (ev.type === 'speech.started') this.playQueue.length = 0; // flush what the reply had queued
    this.check();
  }

  check() {
    this.waiters = this.waiters.filter((w) => {
      const i = this.events.findIndex((e, k) => k >= w.from && w.pred(e));
      if (i < 0) return true;
      clearTimeout(w.timer);
      w.resolve(this.events[i]);
      return false;
    });
  }

  /* The first event (from index `from` on) for which pred holds; rejects after timeoutMs. */
  waitFor(pred, timeoutMs = 10000, from = 0) {
    if (typeof pred === 'string') {
      const type = pred;
      pred = (e) => e.type === type;
    }
    const i = this.events.findIndex((e, k) => k >= from && pred(e));
    if (i >= 0) return Promise.resolve(this.events[i]);
    return new Promise((resolve, reject) => {
      const w = { pred, from, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('no such event within ' + timeoutMs + ' ms; got: ' + this.events.map((e) => e.type).join(', ')));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  async start(extra = {}) {
    const from = this.events.length;
    this.send({ type: 'session.start', audio: { format: 'pcm16', rate: this.rate }, reply_audio: { format: 'pcm16', rate: RATE }, ...extra });
    return this.waitFor((e) => e.type === 'session.started' || e.type === 'error', 10000, from);
  }

  /* Sends pcm (at this.rate) in real time, 20 ms frames, mixing the echo of what is being played when asked. When
   * marks is given, marks[name] = sample offset records the client time at which that offset went
   * out (e.g. the true end of speech). speed > 1 sends faster than real time (tests that only need
   * what is heard, not when). */
  async stream(pcm, marks = {}, speed = 1) {
    const start = performance.now();
    const F = this.frame;
    const echoLine = new Int16Array(this.echoDelay + F);
    const sent = {};
    const held = [];
    for (let off = 0, k = 0; off < pcm.length; off += F, k++) {
      const frame = Int16Array.from(pcm.subarray(off, off + F));
      // The speaker plays 20 ms of the reply; the microphone hears it echoDelay later.
      const playing = new Int16Array(F);
      for (let i = 0; i < F && this.playQueue.length; i++) playing[i] = this.playQueue.shift();
      this.played.push(playing);
      if (this.echoGain) {
        echoLine.copyWithin(0, F);
        echoLine.set(playing, this.echoDelay);
        for (let i = 0; i < frame.length; i++)
          frame[i] = Math.max(-32768, Math.min(32767, frame[i] + Math.round(echoLine[i] * this.echoGain)));
      }
      if (this.ws.readyState !== WebSocket.OPEN) return sent;
      held.push(le(frame));
      if (held.length >= this.burstFrames || off + F >= pcm.length) for (const b of held.splice(0)) this.ws.send(b);
      for (const [name, at] of Object.entries(marks)) if (sent[name] === undefined && off + F > at) sent[name] = this.now();
      const due = start + ((k + 1) * F * 1000) / this.rate / speed;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return sent;
  }

  /* The reply audio received after event index `from`, as one Int16Array. */
  audioSince(at = 0) {
    const parts = this.audio.filter((a) => a.at >= at).map((a) => a.pcm);
    return concat(...parts);
  }

  close() {
    this.ws.close(1000);
    return this.closed;
  }
}
