// Speech for Chromium's fake microphone (--use-file-for-fake-audio-capture), made at test time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { wav } from '../../api/lib/speech.mjs';

/* Writes a WAV file Chromium loops as the microphone: a second of silence, text spoken by espeak-ng,
 * then pauseS of silence (by default long enough for the turn to end and the reply to play). */
export function questionWav(file, text = 'Tell me about the lighthouse.', pauseS = 6) {
  const speech = execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '--stdout', text], { maxBuffer: 16 << 20 });
  const rate = speech.readUInt32LE(24);
  let off = 12;
  while (off + 8 <= speech.length && speech.toString('latin1', off, off + 4) !== 'data') off += 8 + speech.readUInt32LE(off + 4);
  const pcm = speech.subarray(off + 8, off + 8 + speech.readUInt32LE(off + 4));
  const data = Buffer.concat([Buffer.alloc(rate * 2), pcm, Buffer.alloc(Math.round(rate * pauseS) * 2)]);
  const samples = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  fs.writeFileSync(file, wav(samples, rate));
}
