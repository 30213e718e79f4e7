// A scripted Wyoming service for tests (TCP, Home Assistant's voice protocol): each event is a JSON
// header line {type, version, data_length, payload_length} (data may also sit in the header), then
// the data block, then the payload.
//   describe → info {asr:[{name, models, installed, …}], tts:[{name, voices, supports_synthesize_streaming}]}
//   ASR: transcribe {language?, name?}, audio-start, audio-chunk* (PCM payloads), audio-stop → transcript {text};
//        with asrStreaming on (Wyoming ≥ 1.6, info's supports_transcript_streaming): transcript-start,
//        transcript-chunk {text}* (the transcript in pieces, a word each unless the spec gives `pieces`,
//        pieceDelayMs apart), transcript-stop, then the final transcript (none with spec.noFinal:
//        the server hangs up instead)
//   TTS: synthesize {text, voice?} → audio-start {rate, width, channels}, audio-chunk*, audio-stop;
//        with streaming on: synthesize-start, synthesize-chunk*, (synthesize: ignored), synthesize-stop →
//        the audio of the chunks' text, then synthesize-stopped.
// The audio is a sine tone (toneHz, 440) of 250 ms per word at `rate` (22050, Piper's); the
// transcript is scripted. Specs as the HTTP server's: {text, stall, hangUp, error (an error event),
// toneHz}, queued with asr.queue / tts.queue. Never a runtime default: it lives under tests/.
import net from 'node:net';
import { tone } from './server.mjs';

export function encodeEvent(type, data = null, payload = null) {
  const d = data ? Buffer.from(JSON.stringify(data)) : Buffer.alloc(0);
  const p = payload || Buffer.alloc(0);
  const head = JSON.stringify({ type, version: '1.7.0', data_length: d.length, payload_length: p.length });
  return Buffer.concat([Buffer.from(head + '\n'), d, p]);
}

/* Reads events off a socket: calls onEvent({type, data, payload}) for each; throws on a bad header. */
function reader(onEvent) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const h = JSON.parse(buf.subarray(0, nl).toString('utf8'));
      const dl = h.data_length || 0, pl = h.payload_length || 0;
      if (buf.length < nl + 1 + dl + pl) return;
      const data = { ...(h.data || {}), ...(dl ? JSON.parse(buf.subarray(nl + 1, nl + 1 + dl).toString('utf8')) : {}) };
      const payload = buf.subarray(nl + 1 + dl, nl + 1 + dl + pl);
      buf = buf.subarray(nl + 1 + dl + pl);
      onEvent({ type: h.type, data, payload: Buffer.from(payload) });
    }
  };
}

/* opts: {port, streaming (TTS takes synthesize-start/-chunk/-stop), rate}. Resolves {address
 * ("127.0.0.1:port"), requests: [{kind, events: [types], language, name, audioBytes, format, text,
 * voice, streamed}], asr: {queue, reply}, tts: {queue, reply}, close()}. */
export async function startWyomingServer(opts = {}) {
  const requests = [];
  const scripts = { asr: { queued: [], reply: null }, tts: { queued: [], reply: null } };
  const next = (k) => (scripts[k].queued.length ? scripts[k].queued.shift() : scripts[k].reply) || {};
  const sockets = new Set();
  const rate = opts.rate || 22050;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const r = { kind: null, events: [], audioBytes: 0, streamed: false, chunks: [] };
    const send = (type, data, payload) => { if (!sock.destroyed) sock.write(encodeEvent(type, data, payload)); };
    const speak = async (text, spec) => {
      if (spec.stall) return true;
      if (spec.hangUp) { sock.destroy(); return true; }
      if (spec.error) { send('error', { text: spec.error, code: 'test' }); return true; }
      const pcm = tone(0.25 * Math.max(1, text.split(/\s+/).filter(Boolean).length), rate, spec.toneHz);
      const fmt = { rate, width: 2, channels: 1 };
      send('audio-start', fmt);
      for (let at = 0; at < pcm.length; at += 2048) send('audio-chunk', fmt, pcm.subarray(at, Math.min(at + 2048, pcm.length)));
      send('audio-stop', {});
      return false;
    };
    sock.on('data', reader(async (ev) => {
      r.events.push(ev.type);
      if (ev.type === 'describe') {
        return send('info', {
          asr: [{ name: 'faster-whisper', description: 'test', attribution: { name: 'test', url: '' }, installed: true, version: '1',
            supports_transcript_streaming: !!opts.asrStreaming,
            models: [{ name: 'tiny-int8', languages: ['en'], installed: true, description: 'tiny', attribution: { name: 't', url: '' }, version: '1' }] }],
          tts: [{ name: 'piper', description: 'test', attribution: { name: 'test', url: '' }, installed: true, version: '1',
            supports_synthesize_streaming: !!opts.streaming,
            voices: [{ name: 'en_US-lessac-medium', languages: ['en_US'], installed: true, description: 'lessac', attribution: { name: 't', url: '' }, version: '1' }] }],
        });
      }
      if (ev.type === 'transcribe') {
        Object.assign(r, { kind: 'stt:wyoming', language: ev.data.language, name: ev.data.name });
        requests.push(r);
      }
      if (ev.type === 'audio-start') r.format = ev.data;
      if (ev.type === 'audio-chunk') r.audioBytes += ev.payload.length;
      if (ev.type === 'audio-stop' && r.kind === 'stt:wyoming') {
        const spec = next('asr');
        if (spec.stall) return;
        if (spec.hangUp) return sock.destroy();
        if (spec.error) return send('error', { text: spec.error, code: 'test' });
        const text = spec.text ?? 'hello from wyoming';
        if (opts.asrStreaming) {
          send('transcript-start', { language: 'en' });
          for (const piece of spec.pieces || text.match(/\s*\S+/g) || []) {
            await new Promise((res) => setTimeout(res, spec.pieceDelayMs ?? 150));
            send('transcript-chunk', { text: piece });
          }
          send('transcript-stop', {});
          if (spec.noFinal) return sock.end();
        }
        return send('transcript', { text });
      }
      if (ev.type === 'synthesize-start' && opts.streaming) {
        Object.assign(r, { kind: 'tts:wyoming', streamed: true, voice: ev.data.voice?.name });
        requests.push(r);
      }
      if (ev.type === 'synthesize-chunk' && opts.streaming) r.chunks.push(ev.data.text);
      if (ev.type === 'synthesize') {
        if (r.streamed) return; // sent for older services only
        Object.assign(r, { kind: 'tts:wyoming', text: ev.data.text, voice: ev.data.voice?.name });
        requests.push(r);
        await speak(ev.data.text, next('tts'));
      }
      if (ev.type === 'synthesize-stop' && r.streamed) {
        r.text = r.chunks.join('');
        if (!(await speak(r.text, next('tts')))) send('synthesize-stopped', {});
      }
    }));
  });
  await new Promise((resolve) => server.listen(opts.port || 0, '127.0.0.1', resolve));
  const port = server.address().port;
  const script = (sc) => ({
    queue: (...specs) => sc.queued.push(...specs),
    get reply() { return sc.reply; },
    set reply(v) { sc.reply = v; },
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    requests,
    asr: script(scripts.asr),
    tts: script(scripts.tts),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}
