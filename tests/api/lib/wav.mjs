// WAV files made by the tests (never committed recordings): 16-bit PCM, mono.

/* A PCM16 mono WAV of n samples at rate, sample(i) giving each (clamped to 16 bits). */
export function pcmWav(n, rate, sample) {
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(sample(i)))), 44 + i * 2);
  return b;
}

/* A tone of hz lasting seconds. */
export const toneWav = (seconds = 2, rate = 16000, hz = 440) =>
  pcmWav(rate * seconds, rate, (i) => 8000 * Math.sin((2 * Math.PI * hz * i) / rate));
