// Set-up shared by the LLM memory extraction suites: a scripted chat server (tests/llm-server/) and
// a server with --llm-extract on that talks to it, and the fact memories of an avatar.
import assert from 'node:assert/strict';
import { startLlmServer } from '../../llm-server/server.mjs';
import { api, cast, expectStatus, startAvatars } from './avatars.mjs';

/* The flags of a server extracting with the scripted model at llm.url, then args. */
export const extractArgs = (llm, args = []) =>
  ['--llm-provider', 'openai', '--llm-url', llm.url, '--llm-model', 'test-chat', '--llm-extract', 'true', ...args];

/* The scripted model answering with script(request), a server extracting with it (args added) and
 * its cast of users: {llm, srv, c, stop()}. */
export async function startExtracting(script, args = []) {
  const llm = await startLlmServer({ reply: script });
  const srv = await startAvatars({ args: extractArgs(llm, args) });
  return { llm, srv, c: await cast(srv), stop: async () => { await srv.stop(); await llm.close(); } };
}

/* The fact memories of avatar av, as token's user sees them. */
export async function factsOf(srv, token, av) {
  const r = await api(srv, 'GET', `/avatars/${av.id}/memories?limit=200`, { token });
  expectStatus(assert, r, 200);
  return r.json.items.filter((m) => m.kind === 'fact');
}
