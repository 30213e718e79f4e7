// Wyoming streaming recognition on the voice WebSocket, against the protocol-faithful service of
// tests/speech-server/wyoming.mjs: a Wyoming ≥ 1.6 service's transcript-start, transcript-chunk and
// transcript-stop events become transcript.partial (the pieces so far) before transcript.final; an
// older service (the final transcript only) gives no partials; a service that hangs up after
// transcript-stop without a final transcript is heard as its pieces.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWyomingServer } from '../speech-server/wyoming.mjs';
import { cast, createAvatar, startAvatars } from './lib/avatars.mjs';
import { scaled } from './lib/server.mjs';
import { concat, noise, speak, VoiceClient } from './lib/voice.mjs';

const SCRIPT = 'What about your father?';
const wopts = { asrStreaming: true }; // read by the service at each utterance: a test turns it off
let wy, srv, c, av;

before(async () => {
  wy = await startWyomingServer(wopts);
  wy.asr.reply = { text: SCRIPT, pieceDelayMs: 120 };
  srv = await startAvatars({ args: ['--stt-provider', 'wyoming', '--stt-url', wy.address, '--stt-language', 'en',
    '--stt-timeout', String(scaled(5000))] });
  c = await cast(srv);
  av = await createAvatar(srv, c.owner.token, { visibility: 'private' });
});
after(async () => {
  await srv?.stop();
  await wy?.close();
});

const QUESTION = concat(noise(300, 30), speak('What about your father?'), noise(500, 30));

/* Says the question on a new session; its events up to transcript.final. */
async function turn() {
  const v = new VoiceClient();
  await v.connect(srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?token=${encodeURIComponent(c.owner.token)}`);
  assert.equal((await v.start()).type, 'session.started');
  await v.stream(QUESTION, {}, 1);
  const final = await v.waitFor('transcript.final', scaled(20000));
  v.ws.close();
  return { v, final, partials: v.events.filter((e) => e.type === 'transcript.partial') };
}

describe('Wyoming streaming partials', () => {
  test('transcript-chunk pieces become transcript.partial, the pieces so far, before the final', async () => {
    const { v, final, partials } = await turn();
    assert.equal(final.text, SCRIPT);
    assert.ok(partials.length >= 2, `partials: ${JSON.stringify(partials)}`);
    let last = '';
    for (const p of partials) {
      assert.ok(SCRIPT.startsWith(p.text) && p.text.length > last.length, `${p.text} after ${last}`);
      last = p.text;
    }
    assert.ok(v.events.indexOf(partials.at(-1)) < v.events.indexOf(final));
    const r = wy.requests.filter((q) => q.kind === 'stt:wyoming').at(-1);
    assert.deepEqual(r.events.slice(0, 2), ['transcribe', 'audio-start']);
  });

  test('a service that hangs up after transcript-stop without a final transcript is heard as its pieces', async () => {
    wy.asr.queue({ text: SCRIPT, pieceDelayMs: 50, noFinal: true });
    const { final } = await turn();
    assert.equal(final.text, SCRIPT);
  });

  test('an older service (the final transcript only) gives no partials', async () => {
    wopts.asrStreaming = false;
    try {
      const { final, partials } = await turn();
      assert.equal(final.text, SCRIPT);
      assert.equal(partials.length, 0);
    } finally {
      wopts.asrStreaming = true;
    }
  });
});
