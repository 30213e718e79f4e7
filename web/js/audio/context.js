// An AudioContext that is actually running. Without a sound device (a machine with no output, a
// headless browser) Firefox leaves a new context "suspended" and resume() never settles: the page
// waits at most a moment for it and then says so, instead of hanging on "Starting…".
const WAIT_MS = 1500;

/* Resumes ctx if needed; resolves whether it runs (false: no sound device could be opened). */
export async function running(ctx) {
  if (ctx.state === 'running') return true;
  await Promise.race([ctx.resume().catch(() => {}), new Promise((r) => setTimeout(r, WAIT_MS))]);
  return ctx.state === 'running';
}

export const NO_SOUND = 'No sound device could be opened: this browser cannot play or record audio here.';
