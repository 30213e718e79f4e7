// Speech fixtures made at test time, never committed recordings: flite's CLI (rms, awb, slt) or
// espeak-ng (subprocesses) say known sentences; the test code mixes them with silence and noise
// and wraps them as WAV, or has ffmpeg turn them into other containers.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RATE = 16000;

/* Mono PCM16 samples (Int16Array at RATE) of a synthetic voice saying text. opts: {engine:
 * 'flite' (voice rms | awb | slt | kal16; pitch = mean F0 in Hz; stretch = duration factor) or
 * 'espeak' (voice en-us …; pitch 0–99; speed in words per minute)}. */
export function say(text, { engine = 'flite', voice, pitch, speed, stretch } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-say-'));
  try {
    const raw = path.join(dir, 'say.wav');
    if (engine === 'flite') {
      const args = ['-voice', voice || 'rms', '-t', text, '-o', raw];
      if (pitch) args.push('--setf', `int_f0_target_mean=${pitch}`);
      if (stretch) args.push('--setf', `duration_stretch=${stretch}`);
      execFileSync('flite', args);
    } else {
      execFileSync('espeak-ng', ['-v', voice || 'en-us', '-p', String(pitch ?? 50), '-s', String(speed ?? 150), '-w', raw, text]);
    }
    const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', raw, '-ac', '1', '-ar', String(RATE), '-f', 's16le', '-'], {
      maxBuffer: 1 << 28,
    });
    return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const silence = (ms) => new Int16Array(Math.round((ms * RATE) / 1000));

/* The pieces one after another. */
export function concat(...parts) {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/* pcm plus uniform noise of the given peak (a seeded generator: the same every run). */
export function withNoise(pcm, peak = 200, seed = 7) {
  const out = new Int16Array(pcm.length);
  let s = seed >>> 0;
  for (let i = 0; i < pcm.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const v = pcm[i] + (((s >>> 16) % (2 * peak + 1)) - peak);
    out[i] = Math.max(-32768, Math.min(32767, v));
  }
  return out;
}

/* A 16-bit mono PCM WAV file of the samples. */
export function wav(pcm, rate = RATE) {
  const b = Buffer.alloc(44 + pcm.length * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + pcm.length * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(pcm.length * 2, 40);
  Buffer.from(pcm.buffer, pcm.byteOffset, pcm.length * 2).copy(b, 44);
  return b;
}

/* The WAV re-encoded by ffmpeg into another container: 'mp3', 'ogg' (Opus), 'm4a' (AAC), 'webm'. */
export function encode(wavBytes, format) {
  const codec = { mp3: ['-f', 'mp3'], ogg: ['-c:a', 'libopus', '-f', 'ogg'], m4a: ['-c:a', 'aac', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov'], webm: ['-c:a', 'libopus', '-f', 'webm'] }[format];
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'wav', '-i', 'pipe:0', ...codec, 'pipe:1'], { input: wavBytes, maxBuffer: 1 << 28 });
}

/* The words of a transcript, lower case. */
export const words = (text) => (text || '').toLowerCase().match(/[a-z']+/g) || [];

/* Word error rate of hyp against ref: word-level Levenshtein distance / reference length. */
export function wer(ref, hyp) {
  const r = words(ref), h = words(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return r.length ? prev[h.length] / r.length : 0;
}
