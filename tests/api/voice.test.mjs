// The voice WebSocket end to end (WS /api/v1/avatars/{id}/voice): a client streams speech made by
// espeak-ng in real time (with silence and noise mixed in here) and hears the reply — event order,
// partial and final transcripts, a cited reply spoken with visemes and stored like a text turn,
// push-to-talk, barge-in (cut short, the history keeping only what was heard), no barge-in by a
// noise blip or by the reply's own echo, response.cancel, Opus in, malformed events, oversize
// frames, limits, abrupt disconnects. Recognition is pocketsphinx: the questions are ones it hears.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { api, cast, createAvatar, startAvatars } from './lib/avatars.mjs';
import { eventually, scaled, sleep } from './lib/server.mjs';
import { concat, noise, RATE, speak, VoiceClient } from './lib/voice.mjs';

let srv, c, av, facts;
// One sentence of about eight seconds spoken: long enough to interrupt, short enough to wait for
// (the server paces reply audio in real time, so every reply costs its spoken length).
const LONG =
  'My father used to grow apple trees by the river behind the farm, and every autumn we picked them ' +
  'together until our arms ached.';

before(async () => {
  srv = await startAvatars({ args: ['--voice-sessions-per-user', '3', '--ws-message-max', '65536'] });
  c = await cast(srv);
  av = await createAvatar(srv, c.owner.token, { visibility: 'private' });
  facts = {};
  for (const [k, text] of [
    ['born', 'I was born in Cork in 1932.'],
    ['father', LONG],
  ]) {
    const r = await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text, kind: 'fact' } });
    assert.equal(r.status, 201, r.text);
    facts[k] = r.json;
  }
});
after(async () => {
  // A transcription or synthesis still running when the test ends holds the shutdown a while
  // (job workers finish their attempt; slower under the sanitizers on a loaded machine).
  if (srv) assert.equal(await srv.stop('SIGTERM', 90000), 0);
});

const wsUrl = (avatarId = av.id, token = c.owner.token) =>
  srv.url.replace('http', 'ws') + `/api/v1/avatars/${avatarId}/voice?token=${encodeURIComponent(token)}`;

async function session(extra = {}, opts = {}) {
  const v = new VoiceClient(opts);
  await v.connect(wsUrl());
  const started = await v.start(extra);
  assert.equal(started.type, 'session.started', JSON.stringify(started));
  return v;
}

const QUESTION = speak('What about your father?');
const since = (v, n) => v.events.slice(n);
const types = (evs) => evs.map((e) => e.type);

/* Asks QUESTION (VAD-ended) and waits until the reply's audio has started. */
async function ask(v, pcm = QUESTION) {
  const n = v.events.length;
  await v.stream(concat(noise(300, 30), pcm, noise(400, 30)));
  await v.waitFor('response.audio.start', scaled(20000), n);
  return n;
}

/* Streams quiet room noise for ms (the client keeps talking to the server, as a microphone does). */
const quiet = (v, ms) => v.stream(noise(ms, 30));

describe('the handshake', () => {
  test('needs a token or ticket, and an avatar the caller sees: another user\'s is unknown', async () => {
    const tryOpen = (url) =>
      new VoiceClient().connect(url).then(
        (v) => (v.close(), 101),
        (e) => e.status,
      );
    assert.equal(await tryOpen(srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice`), 401);
    assert.equal(await tryOpen(wsUrl(av.id, c.outsider.token)), 404);
    assert.equal(await tryOpen(wsUrl(av.id, c.member.token)), 404); // private: same as unknown
    assert.equal(await tryOpen(wsUrl('01900000-0000-7000-8000-000000000000')), 404);
    const plain = await api(srv, 'GET', `/avatars/${av.id}/voice`, { token: c.owner.token });
    assert.equal(plain.status, 426);
    // A single-use ticket works too.
    const t = await api(srv, 'POST', '/auth/ws-ticket', { token: c.owner.token });
    assert.ok(t.status === 200 || t.status === 201, t.text);
    const url = srv.url.replace('http', 'ws') + `/api/v1/avatars/${av.id}/voice?ticket=${t.json.ticket}`;
    assert.equal(await tryOpen(url), 101);
  });

  test('a user holds at most --voice-sessions-per-user sessions (429 beyond)', async () => {
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await new VoiceClient().connect(wsUrl()));
    await assert.rejects(new VoiceClient().connect(wsUrl()), (e) => e.status === 429);
    await open[0].close();
    await sleep(100);
    const again = await new VoiceClient().connect(wsUrl());
    for (const v of [...open.slice(1), again]) await v.close();
  });
});

describe('bad input gets an error event and the session goes on', () => {
  test('malformed and out-of-order events, oversize and odd frames', async () => {
    const v = new VoiceClient();
    await v.connect(wsUrl());
    const err = async (send, code) => {
      const n = v.events.length;
      send();
      const e = await v.waitFor((x) => x.type === 'error', 5000, n);
      assert.equal(e.code, code, JSON.stringify(e));
      assert.ok(e.message);
    };
    await err(() => v.send('not json'), 'invalid_json');
    await err(() => v.send('{"type":"session.start","type":"x"}'), 'invalid_json');
    await err(() => v.send({ kind: 'session.start' }), 'invalid_event');
    await err(() => v.send({ type: 'response.create' }), 'unknown_event');
    await err(() => v.send({ type: 'input.commit' }), 'not_started');
    await err(() => v.ws.send(Buffer.alloc(640)), 'not_started');
    await err(() => v.send({ type: 'session.start', audio: { format: 'pcm16', rate: 44000 } }), 'unsupported_audio');
    await err(() => v.send({ type: 'session.start', audio: { format: 'mp3' } }), 'unsupported_audio');
    await err(() => v.send({ type: 'session.start', conversation_id: '01900000-0000-7000-8000-000000000000' }), 'not_found');
    const started = await v.start();
    assert.equal(started.type, 'session.started');
    await err(() => v.send({ type: 'session.start' }), 'already_started');
    await err(() => v.ws.send(Buffer.alloc(32002)), 'frame_too_large');
    await err(() => v.ws.send(Buffer.alloc(641)), 'invalid_audio');
    await err(() => v.send({ type: 'input.commit' }), 'nothing_to_commit');
    await err(() => v.send({ type: 'response.cancel' }), 'no_response');
    // Still a working session: a turn goes through (a short reply).
    const n = await ask(v, speak('Where were you born?'));
    await v.waitFor('response.done', scaled(30000), n);
    await v.close();
  });

  test('a frame over --ws-message-max closes with 1009; the server lives on', async () => {
    const v = new VoiceClient();
    await v.connect(wsUrl());
    await v.start();
    v.ws.send(Buffer.alloc(70000));
    const closed = await v.closed;
    assert.equal(closed.code, 1009);
    assert.equal((await api(srv, 'GET', '/auth/me', { token: c.owner.token })).status, 200);
  });
});

describe('a turn', () => {
  test('VAD-ended: events in order, partials, final, a cited spoken reply with visemes, stored like a text turn', async () => {
    const v = await session();
    const cid = v.events[0].conversation_id;
    const n = await ask(v);
    const done = await v.waitFor('response.done', scaled(40000), n);
    const evs = since(v, n);
    const order = types(evs).filter((t) => t !== 'transcript.partial' && t !== 'response.viseme' && t !== 'response.text.delta' && t !== 'response.citation');
    assert.deepEqual(order, ['speech.started', 'speech.stopped', 'transcript.final', 'response.started', 'response.audio.start', 'response.done']);
    const at = (t) => evs.findIndex((e) => e.type === t);
    const partials = evs.filter((e) => e.type === 'transcript.partial');
    assert.ok(partials.length >= 1, 'partial transcripts while speaking');
    assert.ok(evs.indexOf(partials[0]) < at('transcript.final'));
    const final = evs[at('transcript.final')];
    console.log(`heard: "${final.text}"`);
    assert.match(final.text, /father/, 'the key word is heard');
    assert.ok(final.words.length >= 2 && final.words.every((w) => w.end_ms >= w.start_ms));
    // The reply: text deltas, then its citation, then audio and visemes.
    const text = evs.filter((e) => e.type === 'response.text.delta').map((e) => e.text).join('');
    assert.ok(LONG.includes(text.split('.')[0]), text);
    const cites = evs.filter((e) => e.type === 'response.citation');
    assert.deepEqual(cites.map((x) => x.memory_id), [facts.father.id]);
    assert.ok(at('response.started') < evs.indexOf(cites[0]) && evs.indexOf(cites[0]) < at('response.audio.start'));
    const audioStart = evs[at('response.audio.start')];
    assert.deepEqual([audioStart.format, audioStart.rate], ['pcm16', RATE]);
    const audio = v.audioSince(audioStart.at);
    assert.ok(audio.length / RATE > 3, `seconds of reply audio: ${audio.length / RATE}`);
    const frames = v.audio.filter((a) => a.at >= audioStart.at);
    assert.ok(frames.length > 20 && frames.every((f) => f.bytes.length <= 2 * RATE * 0.04), 'small chunks');
    const vis = evs.filter((e) => e.type === 'response.viseme');
    assert.ok(vis.length > 10, 'visemes');
    for (let i = 1; i < vis.length; i++) assert.ok(vis[i].t_ms >= vis[i - 1].t_ms);
    assert.ok(vis.every((x) => /^(sil|PP|FF|TH|DD|kk|CH|SS|nn|RR|aa|E|ih|oh|ou)$/.test(x.viseme)));
    assert.ok(vis[vis.length - 1].t_ms <= (audio.length / RATE) * 1000);
    // Played out in real time (paced), not dumped at once.
    const span = frames[frames.length - 1].at - frames[0].at;
    assert.ok(span > (audio.length / RATE) * 1000 - 600, `audio spread over ${span} ms`);
    assert.equal(done.status, 'completed');
    assert.equal(done.text, text);
    for (const k of ['stt_ms', 'brain_ms', 'tts_first_byte_ms', 'turn_ms']) assert.equal(typeof done.latency[k], 'number', k);
    console.log(`voice turn: ${JSON.stringify(done.latency)}`);
    // Stored like a text turn.
    const h = await api(srv, 'GET', `/conversations/${cid}/messages`, { token: c.owner.token });
    assert.equal(h.status, 200);
    const last = h.json.items.slice(-2);
    assert.deepEqual(last.map((m) => m.role), ['user', 'avatar']);
    assert.equal(last[0].text, final.text);
    assert.equal(last[1].id, done.message_id);
    assert.equal(last[1].text, text);
    assert.equal(last[1].citations[0].memory_id, facts.father.id);
    await v.close();
  });

  test('push-to-talk: a pause does not end the turn, input.commit does', async () => {
    const v = await session({ turn_detection: 'manual' });
    assert.equal(v.events[0].turn_detection, 'manual');
    const n = v.events.length;
    await v.stream(concat(noise(300, 30), speak('What about'), noise(900, 30), speak('your father?'), noise(900, 30)));
    assert.ok(!since(v, n).some((e) => e.type === 'transcript.final'), 'no turn before the commit');
    assert.ok(since(v, n).filter((e) => e.type === 'speech.stopped').length >= 2);
    v.send({ type: 'input.commit' });
    const final = await v.waitFor('transcript.final', scaled(20000), n);
    assert.match(final.text, /father/);
    await v.waitFor('response.audio.start', scaled(20000), n); // the turn went through
    await v.close();
  });

  test('Opus in: packets decode and the turn goes through', async () => {
    const pcm = concat(noise(300, 30), QUESTION, noise(600, 30));
    const ogg = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', '-',
      '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-f', 'ogg', '-'], { input: Buffer.from(pcm.buffer) });
    const packets = oggPackets(ogg).slice(2); // OpusHead, OpusTags
    assert.ok(packets.length > 50);
    const v = await session({ audio: { format: 'opus', rate: 48000 } });
    const n = v.events.length;
    const t0 = performance.now();
    for (let i = 0; i < packets.length; i++) {
      v.ws.send(packets[i]);
      const wait = t0 + (i + 1) * 20 - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const final = await v.waitFor('transcript.final', scaled(20000), n);
    assert.match(final.text, /father/);
    const e = v.events.length;
    v.ws.send(Buffer.from([0xff, 0xff, 0xff]));
    const bad = await v.waitFor((x) => x.type === 'error', 5000, e);
    assert.equal(bad.code, 'invalid_audio');
    await v.waitFor('response.audio.start', scaled(20000), n); // the turn went through
    await v.close();
  });
});

/* The packets of an Ogg stream (RFC 3533): segments joined until a lacing value below 255. */
function oggPackets(buf) {
  const out = [];
  let cur = [];
  for (let off = 0; off + 27 <= buf.length; ) {
    assert.equal(buf.toString('latin1', off, off + 4), 'OggS');
    const nseg = buf[off + 26];
    const lace = buf.subarray(off + 27, off + 27 + nseg);
    let at = off + 27 + nseg;
    for (const l of lace) {
      cur.push(buf.subarray(at, at + l));
      at += l;
      if (l < 255) {
        out.push(Buffer.concat(cur));
        cur = [];
      }
    }
    off = at;
  }
  return out;
}

describe('barge-in', () => {
  test('the user speaking over the reply stops it at once; the history keeps only what was heard', async () => {
    const v = await session();
    const cid = v.events[0].conversation_id;
    const n = await ask(v);
    await quiet(v, 1500); // a second and a half of the reply is heard
    const m = v.events.length;
    const interrupt = speak('No, tell me about Cork instead, please.');
    const streamed = v.stream(concat(interrupt, noise(800, 30)));
    const barge = await v.waitFor('speech.started', scaled(10000), m);
    const done = await v.waitFor('response.done', scaled(5000), m);
    await streamed;
    assert.equal(done.status, 'interrupted');
    assert.ok(v.events.indexOf(barge) < v.events.indexOf(done), 'speech.started (flush) first');
    // Nothing of the reply comes after the flush (until the interruption's own reply).
    const nextReply = await v.waitFor('response.started', scaled(20000), v.events.indexOf(done));
    assert.equal(v.audio.filter((a) => a.at > barge.at && a.at < nextReply.at).length, 0, 'no reply audio after speech.started');
    console.log(`barge-in: speech.started ${Math.round(barge.at - v.events[m - 1].at)} ms after the last event before it; played ${done.played_ms} ms`);
    const full = since(v, n).filter((e) => e.type === 'response.text.delta').map((e) => e.text).join('');
    assert.ok(done.played_ms >= 1000 && done.played_ms < 6000, `played ${done.played_ms}`);
    assert.ok(done.text.length > 0 && done.text.length < full.length, done.text);
    assert.ok(full.startsWith(done.text.replace(/…$/, '')), done.text);
    const h = await api(srv, 'GET', `/conversations/${cid}/messages`, { token: c.owner.token });
    const stored = h.json.items.find((x) => x.id === done.message_id);
    assert.equal(stored.text, done.text);
    // The interruption is the next turn.
    const next = await v.waitFor('transcript.final', scaled(20000), m);
    assert.ok(next.text.length > 0);
    await v.waitFor((e) => e.type === 'response.done' && e !== done, scaled(40000), m);
    await v.close();
  });

  test('a short noise blip does not interrupt', async () => {
    const v = await session();
    const n = await ask(v, speak('Where were you born?'));
    await quiet(v, 600);
    const blip = speak('ah').subarray(0, RATE * 0.12); // 120 ms of voice
    for (let i = 0; i < 3; i++) await v.stream(concat(blip, noise(500, 30)));
    await v.stream(concat(noise(300, 2000), noise(500, 30))); // a burst of hiss
    const done = await v.waitFor('response.done', scaled(30000), n);
    assert.equal(done.status, 'completed');
    assert.ok(!since(v, n).some((e) => e.type === 'speech.started' && e.at > v.events.find((x, k) => k >= n && x.type === 'response.audio.start').at));
    await v.close();
  });

  for (const [how, burstMs] of [['', 0], [', when the microphone\'s audio comes in 300 ms bursts (a jittery network)', 300]])
  test(`the reply's own voice coming back through the microphone does not interrupt it${how}`, async () => {
    const v = await session({}, { echoGain: 0.5, echoDelayMs: 80, burstMs });
    try {
      const n = await ask(v);
      // Keep the microphone open (room noise + the echo of what plays) until the reply is done.
      let done;
      while (!(done = v.events.slice(n).find((e) => e.type === 'response.done'))) await quiet(v, 500);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      const audioStart = v.events.find((x, k) => k >= n && x.type === 'response.audio.start');
      assert.ok(!v.events.some((e) => e.type === 'speech.started' && e.at > audioStart.at), 'the echo never started speech');
    } finally {
      await v.close(); // a failure here must not hold a session slot the tests after it count
    }
  });

  test('response.cancel stops the reply; what was heard is kept', async () => {
    const v = await session();
    const n = await ask(v);
    await quiet(v, 1200);
    const m = v.events.length;
    v.send({ type: 'response.cancel' });
    const done = await v.waitFor('response.done', scaled(5000), m);
    assert.equal(done.status, 'cancelled');
    assert.ok(done.played_ms > 500 && done.text.length > 0, JSON.stringify(done));
    await sleep(300);
    assert.equal(v.audio.filter((a) => a.at > done.at).length, 0);
    const cid = v.events[0].conversation_id;
    const h = await api(srv, 'GET', `/conversations/${cid}/messages`, { token: c.owner.token });
    assert.equal(h.json.items.find((x) => x.id === done.message_id).text, done.text);
    void n;
    await v.close();
  });
});

describe('the end of a session', () => {
  test('abrupt disconnects mid-speech and mid-reply leave the server well; session.end closes cleanly', async () => {
    let v = await session();
    v.stream(concat(noise(200, 30), QUESTION)).catch(() => {});
    await sleep(700);
    v.ws.terminate();
    v = await session();
    await ask(v);
    v.ws.terminate();
    await sleep(500);
    v = await session();
    v.send({ type: 'session.end' });
    assert.equal((await v.closed).code, 1000);
    const h = await api(srv, 'GET', '/auth/me', { token: c.owner.token });
    assert.equal(h.status, 200);
    // Every session slot came back (once the server has seen the sockets go).
    const open = await eventually(async () => {
      const got = [];
      try {
        for (let i = 0; i < 3; i++) got.push(await new VoiceClient().connect(wsUrl()));
        return got;
      } catch (e) {
        for (const x of got) await x.close();
        if (e.status !== 429) throw e;
        return null;
      }
    }, { timeoutMs: 15000, intervalMs: 200 });
    assert.ok(open, 'the session slots came back');
    for (const x of open) await x.close();
  });

  test('an idle session is closed', async () => {
    const s2 = await startAvatars({ args: ['--voice-idle-timeout', '1'] });
    try {
      const c2 = await cast(s2);
      const a2 = await createAvatar(s2, c2.owner.token);
      const v = new VoiceClient();
      await v.connect(s2.url.replace('http', 'ws') + `/api/v1/avatars/${a2.id}/voice?token=${c2.owner.token}`);
      const e = await v.waitFor('error', scaled(5000));
      assert.equal(e.code, 'idle_timeout');
      assert.equal((await v.closed).code, 1000);
    } finally {
      assert.equal(await s2.stop(), 0);
    }
  });
});

void WebSocket;
