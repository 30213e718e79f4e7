// A device for the capture tests: a WebSocket to /ws_pcm or /ws_omi with a queue of the server's
// events, and Wyoming-style senders (header text frame, then the payload as a binary frame).
import WebSocket from 'ws';

/* Opens a device socket; resolves once {"type":"ready"} arrived (rejects on a refused handshake
 * with err.status). */
export function device(srv, token, { name = 'phone', path = '/ws_pcm', query = '' } = {}) {
  const url = `${srv.url.replace('http', 'ws')}${path}?token=${encodeURIComponent(token)}&device_name=${encodeURIComponent(name)}${query}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const queue = [];
    const waiters = [];
    ws.acks = [];
    ws.closed = new Promise((r) => ws.on('close', (code) => r(code)));
    ws.on('unexpected-response', (req, res) => {
      const e = new Error(`handshake refused: ${res.statusCode}`);
      e.status = res.statusCode;
      reject(e);
    });
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? { binary: data } : JSON.parse(data.toString());
      if (m.type === 'ack') ws.acks.push(m.data);
      if (waiters.length) waiters.shift()(m);
      else queue.push(m);
    });
    ws.on('error', reject);
    /* The next event (of type, when given: others before it are dropped). */
    ws.next = async (type, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = await new Promise((res, rej) => {
          if (queue.length) return res(queue.shift());
          const t = setTimeout(() => rej(new Error(`no ${type || 'event'} within ${timeoutMs} ms`)), Math.max(1, deadline - Date.now()));
          waiters.push((x) => {
            clearTimeout(t);
            res(x);
          });
        });
        if (!type || m.type === type) return m;
      }
    };
    ws.header = (h) => ws.send(JSON.stringify(h) + '\n');
    ws.start = (data = {}) => ws.header({ type: 'audio-start', data: { rate: 16000, width: 2, channels: 1, ...data } });
    ws.chunk = (payload, seq) => {
      const data = { rate: 16000, width: 2, channels: 1 };
      if (seq !== undefined) data.seq = seq;
      ws.header({ type: 'audio-chunk', data, payload_length: payload.length });
      ws.send(payload);
    };
    ws.stop = () => ws.header({ type: 'audio-stop', data: { timestamp: 0 } });
    ws.on('open', async () => {
      try {
        const first = await ws.next();
        if (first.type !== 'ready') throw new Error('expected ready first, got ' + JSON.stringify(first));
        resolve(ws);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/* Chunk seq's deterministic PCM16 bytes (n bytes, even): what a recording must hold at its place. */
export function chunkBytes(seq, n = 640) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 2) b.writeInt16LE(((seq * 131 + i * 7) % 20000) - 10000, i);
  return b;
}

/* Waits until an ack covers seq (or bytes). */
export async function ackFor(ws, { seq, bytes }, timeoutMs = 5000) {
  const ok = (a) => (seq !== undefined ? a.seq !== null && a.seq >= seq : a.bytes >= bytes);
  if (ws.acks.some(ok)) return ws.acks.find(ok);
  for (;;) {
    const m = await ws.next('ack', timeoutMs);
    if (ok(m.data)) return m.data;
  }
}

/* One conversation of a device: audio-start (start: its data), pcm (Int16Array, 16 kHz mono) as
 * 100 ms numbered chunks, audio-stop; resolves to the recording's id once the server closed it. */
export async function converse(srv, token, name, pcm, start = {}) {
  const ws = await device(srv, token, { name });
  ws.start(start);
  const id = (await ws.next('ack')).data.recording_id;
  const b = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.length * 2);
  for (let at = 0, seq = 0; at < b.length; at += 3200) ws.chunk(b.subarray(at, Math.min(at + 3200, b.length)), seq++);
  ws.stop();
  await ws.next('recording.closed', 10000);
  ws.close();
  return id;
}
