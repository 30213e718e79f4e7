// Speech for Chromium's fake microphone (--use-file-for-fake-audio-capture), made at test time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/* Writes a WAV file Chromium loops as the microphone: a second of silence, text spoken by espeak-ng,
 * then pauseS of silence (by default long enough for the turn to end and the reply to play). */
export function questionWav(file, text = 'Tell me about the lighthouse.', pauseS = 6) {
  const speech = execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '--stdout', text], { maxBuffer: 16 << 20 });
  const rate = speech.readUInt32LE(24);
  let off = 12;
  while (off + 8 <= speech.length && speech.toString('latin1', off, off + 4) !== 'data') off += 8 + speech.readUInt32LE(off + 4);
  const pcm = speech.subarray(off + 8, off + 8 + speech.readUInt32LE(off + 4));
  const data = Buffer.concat([Buffer.alloc(rate * 2), pcm, Buffer.alloc(Math.round(rate * pauseS) * 2)]);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0);
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36);
  head.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([head, data]));
}
