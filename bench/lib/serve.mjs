// Starts ./doppel serve for a benchmark on a free port in a throwaway data directory.
// Resolves {url, proc, dataDir, stop()}; stop() ends it (SIGTERM) and removes the directory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export async function startDoppel(args, tag = 'bench') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `doppel-${tag}-`));
  const proc = spawn(path.join(ROOT, 'doppel'), ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/open (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  const stop = async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, proc, dataDir, stop };
}
