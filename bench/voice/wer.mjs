// Word error rate of POST /api/v1/transcriptions (the configured STT provider, pocketsphinx by
// default) over 20 plain sentences spoken by three synthetic voices — flite's awb and rms and
// espeak-ng — with short silences around each. Prints figures only; the API suite checks that
// recognition works, this measures how well. Usage: node bench/voice/wer.mjs [doppel args…]
import { signup, startAccounts } from '../../tests/api/lib/accounts.mjs';
import { request } from '../../tests/api/lib/avatars.mjs';
import { concat, say, silence, wav, wer, words } from '../../tests/api/lib/speech.mjs';

const SENTENCES = [
  'The weather was warm and sunny all week.', 'I grew up in a small town by the sea.',
  'My father worked at the post office.', 'We had a dog called Max.', 'She played the piano every evening.',
  'The children walked to school together.', 'Our house had a red door and a big garden.',
  'He liked to read the newspaper in the morning.', 'We went fishing on the lake in summer.',
  'My mother made bread on Sundays.', 'The winter was long and very cold.', 'I met your grandmother at a dance.',
  'We moved to the city when I was twenty.', 'I worked in a factory for ten years.',
  'The church bells rang every hour.', 'My brother joined the navy.', 'We drove to the mountains for our holiday.',
  'She wrote letters to her sister every week.', 'The market was busy on Saturday morning.',
  'I remember the day you were born.'];
const VOICES = [{ engine: 'flite', voice: 'awb' }, { engine: 'flite', voice: 'rms' }, { engine: 'espeak' }];

const srv = await startAccounts({ args: ['--transcribe-rate', '1000', ...process.argv.slice(2)] });
try {
  const me = await signup(srv, { display_name: 'Bench' });
  console.log('voice                 sentences  words  WER      per sentence');
  for (const voice of VOICES) {
    let errors = 0, total = 0, ms = 0;
    for (const s of SENTENCES) {
      const t0 = performance.now();
      const r = await request(srv, 'POST', '/transcriptions', {
        token: me.token, headers: { 'content-type': 'application/octet-stream' },
        body: wav(concat(silence(300), say(s, voice), silence(300))),
      });
      ms += performance.now() - t0;
      if (r.status !== 200) throw new Error(`transcription answered ${r.status}: ${r.text}`);
      const n = words(s).length;
      errors += wer(s, r.json.text) * n;
      total += n;
    }
    const name = `${voice.engine} ${voice.voice || ''}`.padEnd(22);
    console.log(`${name}${String(SENTENCES.length).padStart(9)}  ${String(total).padStart(5)}  ${((100 * errors) / total).toFixed(1).padStart(5)} %  ${Math.round(ms / SENTENCES.length)} ms`);
  }
} finally {
  await srv.stop();
}
