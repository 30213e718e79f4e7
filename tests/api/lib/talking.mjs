// The set-up of the suites that talk to avatars (conversations, memory-words, recall-*): a fresh
// server and its cast (lib/avatars.mjs) for the whole file, and calls bound to the cast's owner —
// memories added, conversations started, messages said, searches, documents ingested.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { addMemory, api, cast, startAvatars, startConversation, sayTo, uploadOk, waitMedia } from './avatars.mjs';

/* Returns the owner's calls and ready(), which starts the server and its cast once and resolves to
 * { srv, c } — a file awaits it in its own before hook: `before(async () => ({ srv, c } = await
 * talk.ready()))` (a second root hook reading what the first set would not wait for it). Registers
 * the after hook: the server must exit cleanly after the file's last test. A call taking a token
 * defaults to the owner's. */
export function startTalkingAvatar(opts = {}) {
  const t = {};
  let started;
  t.ready = () =>
    (started ??= (async () => {
      t.srv = await startAvatars(opts);
      t.c = await cast(t.srv);
      return t;
    })());
  after(async () => {
    if (t.srv) assert.equal(await t.srv.stop(), 0);
  });
  const owner = () => t.c.owner.token;
  t.memory = (av, text, kind) => addMemory(t.srv, owner(), av, text, kind);
  t.start = (av, token = owner()) => startConversation(t.srv, token, av);
  t.say = (conv, text, token = owner()) => sayTo(t.srv, token, conv, text);
  t.cites = (reply) => reply.citations.map((x) => x.memory_id);
  t.search = async (av, q) => {
    const r = await api(t.srv, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent(q)}`, { token: owner() });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.items;
  };
  /* a document uploaded and processed to "ready"; its media id */
  t.ingest = async (av, text, filename) => {
    const up = await uploadOk(t.srv, owner(), av.id, Buffer.from(text), filename);
    const m = await waitMedia(t.srv, owner(), up.media.id, (x) => x.status === 'ready' || x.status === 'failed');
    assert.equal(m.status, 'ready', JSON.stringify(m));
    return up.media.id;
  };
  return t;
}
