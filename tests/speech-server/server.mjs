// A scripted speech server for tests and benchmarks, speaking the wire protocols of the remote
// speech providers Doppel supports (one HTTP server, several personalities by path):
//   OpenAI / Whisper-compatible STT: POST /v1/audio/transcriptions, multipart/form-data {file, model,
//     response_format: json | text | verbose_json, timestamp_granularities[], language}
//     → verbose_json {task, language, duration, text, words?:[{word,start,end}], segments:[{id, seek,
//     start, end, text, tokens, temperature, avg_logprob, compression_ratio, no_speech_prob}]};
//     personality 'whisper.cpp' puts the words inside each segment instead ({word,start,end,probability}).
//   Deepgram pre-recorded: POST /v1/listen?model=&punctuate= (raw audio body, "Authorization: Token K")
//     → {metadata:{request_id, duration, channels}, results:{channels:[{alternatives:[{transcript,
//     confidence, words:[{word,start,end,confidence,punctuated_word}]}]}]}}; errors {err_code, err_msg}.
//   OpenAI TTS: POST /v1/audio/speech {model, input, voice, response_format, speed} → audio streamed
//     in chunks (pcm: 24 kHz mono s16le; wav: the same with a header); errors {error:{message,…}}.
//   Deepgram live: GET /v1/listen upgraded to a WebSocket (?model=&encoding=linear16&sample_rate=16000&
//     channels=1&interim_results=true&punctuate=true, "Authorization: Token K"; a bad key is refused
//     before the upgrade: 401 {err_code, err_msg}). Binary frames are audio; text frames KeepAlive,
//     Finalize, CloseStream. Answers Results {type, channel_index, duration, start, is_final,
//     speech_final, from_finalize, channel:{alternatives:[{transcript, confidence, words}]}, metadata}:
//     an interim one per 400 ms of audio heard (one more word each time), the final one on Finalize
//     (from_finalize: true), Metadata on CloseStream, then a close 1000; 10 s without audio or
//     KeepAlive closes 1011 (NET-0001). Live specs also take closeCode (close with it after the first
//     audio), dropAfterMs (hang up without a close after that much audio) and resultDelayMs (each
//     result that late).
//   ElevenLabs: POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_16000 ("xi-api-key: K",
//     {text, model_id}) → 16 kHz s16le streamed; errors {detail:{status, message}}.
// The audio it "speaks" is a sine tone (toneHz, default 440) of 250 ms per word, so a test can tell
// it from a local engine's speech; what it "hears" is scripted text, its words spread evenly over
// the audio it was sent.
//
// Scripted per request: stt.queue(spec…) / tts.queue(spec…) or the defaults s.stt.reply / s.tts.reply. A spec:
//   {text, status, retryAfter, message, firstByteMs (delay before the answer), stall (answer
//    nothing, connection open), hangUp (close without an answer), dropAfter: bytes (then hang up), chunkMs (delay between audio
//    chunks), toneHz, personality: 'whisper.cpp' | 'openai'}
// Never a runtime default: it lives under tests/.
import http from 'node:http';
import { createRequire } from 'node:module';

// The WebSocket server comes from the API suite's locked dependencies.
const { WebSocketServer } = createRequire(new URL('../api/package.json', import.meta.url))('ws');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function json(res, status, body, headers = {}) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...headers });
  res.end(s);
}

// multipart/form-data → {fields: {name: [values]}, files: {name: {filename, type, data}}}
export function parseMultipart(raw, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  if (!m) return null;
  const boundary = Buffer.from('--' + (m[1] || m[2]));
  const out = { fields: {}, files: {} };
  let at = raw.indexOf(boundary);
  while (at >= 0) {
    at += boundary.length;
    if (raw.slice(at, at + 2).toString() === '--') break;
    at += 2; // CRLF
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return null;
    const head = raw.slice(at, headEnd).toString('utf8');
    const next = raw.indexOf(boundary, headEnd + 4);
    if (next < 0) return null;
    const data = raw.slice(headEnd + 4, next - 2);
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1];
    if (filename !== undefined) out.files[name] = { filename, type, data };
    else (out.fields[name] ||= []).push(data.toString('utf8'));
    at = next;
  }
  return out;
}

// What a WAV says about itself: {rate, channels, bits, samples}, or null.
export function wavInfo(buf) {
  if (buf.length < 44 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return null;
  let at = 12, fmt = null;
  while (at + 8 <= buf.length) {
    const id = buf.toString('ascii', at, at + 4), size = buf.readUInt32LE(at + 4);
    if (id === 'fmt ') fmt = { channels: buf.readUInt16LE(at + 10), rate: buf.readUInt32LE(at + 12), bits: buf.readUInt16LE(at + 22) };
    if (id === 'data' && fmt) return { ...fmt, samples: Math.floor(Math.min(size, buf.length - at - 8) / (fmt.channels * fmt.bits / 8)) };
    at += 8 + size + (size & 1);
  }
  return null;
}

export function tone(seconds, rate, hz = 440) {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return b;
}

function wordsOver(text, seconds) {
  const ws = text.split(/\s+/).filter(Boolean);
  const step = ws.length ? seconds / ws.length : 0;
  return ws.map((w, i) => ({ word: w, start: +(i * step).toFixed(3), end: +((i + 1) * step * 0.95).toFixed(3) }));
}

/*
 * Starts the server on 127.0.0.1 (port 0 = any free one). opts: {port, key (required when set, in
 * each protocol's own header)}. Resolves {url (ending in /v1), port, requests: [{kind, path, auth,
 * model, voice, text, language, format, audioBytes, wav, aborted}], stt: {queue, reply}, tts:
 * {queue, reply}, close()}.
 */
export async function startSpeechServer(opts = {}) {
  const requests = [];
  const scripts = { stt: { queued: [], reply: null }, tts: { queued: [], reply: null } };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy()));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const next = (kind, r) => {
    const sc = scripts[kind];
    let spec = sc.queued.length ? sc.queued.shift() : sc.reply;
    if (typeof spec === 'function') spec = spec(r);
    return spec || {};
  };

  // Delays, stalls and errors every personality shares; true when the answer is already given.
  async function prelude(res, spec, errorBody) {
    if (spec.firstByteMs) await sleep(spec.firstByteMs);
    if (spec.stall) return true; // silence, the connection left open
    if (spec.hangUp) {
      res.socket.destroy(); // the connection closes without an answer
      return true;
    }
    if (spec.status) {
      const headers = spec.retryAfter !== undefined ? { 'retry-after': String(spec.retryAfter) } : {};
      json(res, spec.status, errorBody(spec.status, spec.message || (spec.status === 429 ? 'Rate limit reached' : 'The server had an error')), headers);
      return true;
    }
    return false;
  }

  async function streamAudio(res, r, spec, pcm, contentType) {
    res.writeHead(200, { 'content-type': contentType, 'transfer-encoding': 'chunked' });
    const step = 4800; // 100 ms at 24 kHz, 150 ms at 16 kHz
    for (let at = 0; at < pcm.length; at += step) {
      if (res.destroyed) return;
      if (spec.dropAfter !== undefined && at >= spec.dropAfter) return res.socket.destroy();
      if (spec.chunkMs && at) await sleep(spec.chunkMs);
      res.write(pcm.subarray(at, Math.min(at + step, pcm.length)));
    }
    r.finished = true;
    res.end();
  }

  async function handle(req, res, raw) {
    const url = new URL(req.url, 'http://x');
    const r = { kind: null, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, aborted: false, finished: false, at: Date.now() };
    res.on('close', () => { if (!res.writableFinished) r.aborted = true; });
    const oaiError = (status, message) => ({ error: { message, type: status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: status === 429 ? 'rate_limit_exceeded' : null } });

    if (req.method === 'POST' && url.pathname === '/v1/audio/transcriptions') {
      r.kind = 'stt:openai';
      requests.push(r);
      if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) return json(res, 401, oaiError(401, 'Incorrect API key provided.'));
      const form = parseMultipart(raw, req.headers['content-type']);
      const file = form?.files.file;
      if (!file) return json(res, 400, oaiError(400, "Missing required parameter: 'file'."));
      r.model = form.fields.model?.[0];
      r.format = form.fields.response_format?.[0] || 'json';
      r.granularities = form.fields['timestamp_granularities[]'] || [];
      r.language = form.fields.language?.[0];
      r.audioBytes = file.data.length;
      r.wav = wavInfo(file.data);
      if (!r.model) return json(res, 400, oaiError(400, 'you must provide a model parameter'));
      if (!r.wav) return json(res, 400, oaiError(400, 'Invalid file format.'));
      const spec = next('stt', r);
      if (await prelude(res, spec, oaiError)) return;
      const seconds = r.wav.samples / r.wav.rate;
      const text = spec.text ?? 'hello from the remote recogniser';
      if (r.format === 'text') { res.writeHead(200, { 'content-type': 'text/plain' }); return res.end(text); }
      if (r.format === 'json') return json(res, 200, { text });
      const words = wordsOver(text, seconds);
      const segment = { id: 0, seek: 0, start: 0, end: +seconds.toFixed(3), text: ' ' + text, tokens: [], temperature: 0, avg_logprob: -0.1, compression_ratio: 1, no_speech_prob: 0.01 };
      const body = { task: 'transcribe', language: r.language || 'english', duration: +seconds.toFixed(3), text, segments: [segment] };
      if (spec.personality === 'whisper.cpp') segment.words = words.map((w) => ({ ...w, word: ' ' + w.word, probability: 0.9 }));
      else if (r.granularities.includes('word')) body.words = words;
      r.finished = true;
      return json(res, 200, body);
    }

    if (req.method === 'POST' && url.pathname === '/v1/listen') {
      r.kind = 'stt:deepgram';
      requests.push(r);
      const dgError = (status, message) => ({ err_code: status === 401 ? 'INVALID_AUTH' : status === 429 ? 'TOO_MANY_REQUESTS' : 'Bad Request', err_msg: message, request_id: 'req-' + requests.length });
      if (opts.key && req.headers.authorization !== `Token ${opts.key}`) return json(res, 401, dgError(401, 'Invalid credentials.'));
      r.model = url.searchParams.get('model');
      r.language = url.searchParams.get('language');
      r.audioBytes = raw.length;
      r.wav = wavInfo(raw);
      if (!r.wav) return json(res, 400, dgError(400, 'Bad Request: failed to process audio: corrupt or unsupported data'));
      const spec = next('stt', r);
      if (await prelude(res, spec, dgError)) return;
      const seconds = r.wav.samples / r.wav.rate;
      const text = spec.text ?? 'hello from the remote recogniser';
      const words = wordsOver(text, seconds).map((w) => ({ word: w.word.toLowerCase().replace(/[^\p{L}\p{N}']/gu, ''), start: w.start, end: w.end, confidence: 0.98, punctuated_word: w.word }));
      r.finished = true;
      return json(res, 200, {
        metadata: { request_id: 'req-' + requests.length, created: new Date().toISOString(), duration: seconds, channels: 1, models: [r.model] },
        results: { channels: [{ alternatives: [{ transcript: text, confidence: 0.97, words }] }] },
      });
    }

    if (req.method === 'POST' && url.pathname === '/v1/audio/speech') {
      r.kind = 'tts:openai';
      requests.push(r);
      if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) return json(res, 401, oaiError(401, 'Incorrect API key provided.'));
      let body;
      try { body = JSON.parse(raw.toString('utf8')); } catch { return json(res, 400, oaiError(400, 'We could not parse the JSON body of your request.')); }
      Object.assign(r, { model: body.model, voice: body.voice, text: body.input, format: body.response_format || 'mp3', speed: body.speed });
      if (!r.model || typeof r.text !== 'string' || !r.voice) return json(res, 400, oaiError(400, "Missing required parameter: 'input'."));
      if (r.text.length > 4096) return json(res, 400, oaiError(400, 'string too long'));
      if (!['pcm', 'wav'].includes(r.format)) return json(res, 400, oaiError(400, `this test server speaks pcm and wav, not ${r.format}`));
      const spec = next('tts', r);
      if (await prelude(res, spec, oaiError)) return;
      const pcm = tone(0.25 * Math.max(1, r.text.split(/\s+/).filter(Boolean).length), 24000, spec.toneHz);
      return streamAudio(res, r, spec, pcm, r.format === 'wav' ? 'audio/wav' : 'audio/pcm');
    }

    const el = /^\/v1\/text-to-speech\/([^/]+)\/stream$/.exec(url.pathname);
    if (req.method === 'POST' && el) {
      r.kind = 'tts:elevenlabs';
      requests.push(r);
      const elError = (status, message) => ({ detail: { status: status === 401 ? 'invalid_api_key' : status === 429 ? 'too_many_concurrent_requests' : 'error', message } });
      if (opts.key && req.headers['xi-api-key'] !== opts.key) return json(res, 401, elError(401, 'Invalid API key'));
      let body;
      try { body = JSON.parse(raw.toString('utf8')); } catch { return json(res, 400, elError(400, 'invalid JSON')); }
      Object.assign(r, { voice: decodeURIComponent(el[1]), model: body.model_id, text: body.text, format: url.searchParams.get('output_format') });
      if (typeof r.text !== 'string') return json(res, 422, { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] });
      if (!/^pcm_(16000|22050|24000|44100)$/.test(r.format || '')) return json(res, 400, elError(400, `this test server speaks pcm_*, not ${r.format}`));
      const spec = next('tts', r);
      if (await prelude(res, spec, elError)) return;
      const rate = Number(r.format.slice(4));
      return streamAudio(res, r, spec, tone(0.25 * Math.max(1, r.text.split(/\s+/).filter(Boolean).length), rate, spec.toneHz), 'audio/pcm');
    }
    return json(res, 404, oaiError(404, `Unknown request URL: ${req.method} ${url.pathname}`));
  }

  // Deepgram live streaming (see the header).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {}); // a client that resets after a refusal
    const url = new URL(req.url, 'http://x');
    const r = { kind: 'stt:deepgram-live', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, audioBytes: 0, messages: [], closed: null, at: Date.now() };
    requests.push(r);
    const refuse = (status, code, message) => {
      const body = JSON.stringify({ err_code: code, err_msg: message, request_id: 'req-' + requests.length });
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (url.pathname !== '/v1/listen') return refuse(404, 'NOT_FOUND', 'Not found');
    if (opts.key && req.headers.authorization !== `Token ${opts.key}`) return refuse(401, 'INVALID_AUTH', 'Invalid credentials.');
    if (r.query.encoding !== 'linear16' || !Number(r.query.sample_rate)) return refuse(400, 'Bad Request', 'encoding linear16 needs sample_rate');
    const spec = next('stt', r);
    if (spec.status) return refuse(spec.status, spec.status === 429 ? 'TOO_MANY_REQUESTS' : 'ERROR', spec.message || 'refused');
    wss.handleUpgrade(req, socket, head, (ws) => live(ws, r, spec));
  });

  function live(ws, r, spec) {
    const rate = Number(r.query.sample_rate);
    const text = spec.text ?? 'hello from the live recogniser';
    const all = text.split(/\s+/).filter(Boolean);
    let shown = 0, idle = null, finalized = 0; // seconds of audio already finalized
    const seconds = () => r.audioBytes / 2 / rate;
    const send = async (msg) => {
      if (spec.resultDelayMs) await sleep(spec.resultDelayMs);
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const results = (words, isFinal, fromFinalize) => {
      const start = finalized, dur = Math.max(0, seconds() - start);
      const timed = wordsOver(words.join(' '), dur).map((w) => ({ word: w.word.toLowerCase().replace(/[^\p{L}\p{N}']/gu, ''), start: +(start + w.start).toFixed(3), end: +(start + w.end).toFixed(3), confidence: 0.97, punctuated_word: w.word }));
      return { type: 'Results', channel_index: [0, 1], duration: +dur.toFixed(3), start: +start.toFixed(3), is_final: isFinal, speech_final: isFinal, from_finalize: fromFinalize,
        channel: { alternatives: [{ transcript: words.join(' '), confidence: words.length ? 0.96 : 0, words: timed }] },
        metadata: { request_id: 'req-live', model_info: { name: r.query.model, version: '2024-01-01', arch: 'nova' }, model_uuid: 'uuid-live' } };
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1011, 'NET-0001: no audio received within the timeout window'), 10000);
    };
    arm();
    ws.on('error', () => {}); // a hang-up this side scripted
    ws.on('close', (code) => { clearTimeout(idle); r.closed = code; });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const before = seconds();
        r.audioBytes += data.length;
        arm();
        if (spec.closeCode) return ws.close(spec.closeCode, spec.message || 'DATA-0000: the audio could not be decoded');
        if (spec.dropAfterMs !== undefined && seconds() * 1000 >= spec.dropAfterMs) return ws._socket.destroy();
        if (Math.floor(seconds() / 0.4) > Math.floor(before / 0.4) && shown < all.length) {
          shown++;
          send(results(all.slice(0, shown), false, false));
        }
        return;
      }
      let msg;
      try { msg = JSON.parse(data.toString('utf8')); } catch { return ws.close(1008, 'invalid JSON'); }
      r.messages.push(msg.type);
      if (msg.type === 'KeepAlive') return arm();
      if (msg.type === 'Finalize') {
        const words = r.audioBytes ? all : [];
        const done = send(results(words, true, true));
        finalized = seconds();
        shown = 0;
        return done;
      }
      if (msg.type === 'CloseStream') {
        return send({ type: 'Metadata', transaction_key: 'deprecated', request_id: 'req-live', sha256: '0'.repeat(64), created: new Date().toISOString(), duration: seconds(), channels: 1, models: ['uuid-live'], model_info: {} })
          .then(() => { r.finished = true; ws.close(1000); });
      }
      ws.close(1008, `unknown message type ${msg.type}`);
    });
  }

  await new Promise((resolve) => server.listen(opts.port || 0, '127.0.0.1', resolve));
  const port = server.address().port;
  const script = (sc) => ({
    queue: (...specs) => sc.queued.push(...specs),
    clear: () => sc.queued.splice(0),
    get reply() { return sc.reply; },
    set reply(v) { sc.reply = v; },
  });
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    stt: script(scripts.stt),
    tts: script(scripts.tts),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}
