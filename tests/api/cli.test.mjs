// The command line against a real data directory / database: user add, migrate, version, ingest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { binPath, REPO } from './lib/server.mjs';
import { startAccounts, FAST_ARGON, PASSWORD, BASE, uniqEmail } from './lib/accounts.mjs';

function doppel(args, input) {
  return spawnSync(binPath(), args, { input, encoding: 'utf8', timeout: 60000 });
}

function dbArgs(s) {
  return ['--data-dir', s.dataDir, ...(s.databaseUrl ? ['--database-url', s.databaseUrl] : []), ...FAST_ARGON];
}

async function json(r) {
  const body = await r.text();
  return body ? JSON.parse(body) : null;
}

test('doppel version and an unknown command', () => {
  const v = doppel(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^doppel \d+\.\d+\.\d+/);
  const u = doppel(['frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command/);
});

test('user add, migrate and ingest work on the server\'s own database', async () => {
  const s = await startAccounts();
  try {
    // user add: the password comes from stdin, never argv; duplicates and short passwords are refused.
    const email = uniqEmail('cli');
    const add = doppel(['user', 'add', '--admin', '--name', 'Cli Admin', email, ...dbArgs(s)], PASSWORD + '\n');
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /created admin/);
    const again = doppel(['user', 'add', email, ...dbArgs(s)], PASSWORD + '\n');
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already exists/);
    const short = doppel(['user', 'add', uniqEmail('cli'), ...dbArgs(s)], 'short\n');
    assert.notEqual(short.status, 0);
    assert.match(short.stderr, /10 to 1024/);

    const mig = doppel(['migrate', ...dbArgs(s)]);
    assert.equal(mig.status, 0, mig.stderr);
    assert.match(mig.stdout, /0 migration\(s\) applied/);

    // The CLI-created admin logs in through the API and creates an avatar.
    let r = await fetch(`${s.url}${BASE}/auth/login`, { method: 'POST', body: JSON.stringify({ email, password: PASSWORD }) });
    assert.equal(r.status, 200);
    const token = (await json(r)).access_token;
    const auth = { Authorization: `Bearer ${token}` };
    r = await fetch(`${s.url}${BASE}/avatars`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Ingested' }) });
    assert.equal(r.status, 201);
    const avatar = await json(r);

    // ingest: stores and processes files; a refused one is reported and makes the exit non-zero.
    const md = path.join(REPO, 'tests/fixtures/media/sample.md');
    const ing = doppel(['ingest', avatar.id, md, '/bin/true', ...dbArgs(s)]);
    assert.equal(ing.status, 1, ing.stderr);
    assert.match(ing.stdout, /stored sample\.md \(text\/markdown/);
    assert.match(ing.stdout, /: done/);
    assert.match(ing.stderr, /\/bin\/true: files of type .* are not accepted/);
    assert.match(ing.stdout, /1 of 2 file\(s\) stored and processed/);

    r = await fetch(`${s.url}${BASE}/avatars/${avatar.id}/media`, { headers: auth });
    const media = await json(r);
    assert.equal(media.items.length, 1);
    assert.equal(media.items[0].status, 'ready');
    assert.ok(media.items[0].meta.passages >= 1);

    const none = doppel(['ingest', '01a20000-0000-7000-8000-000000000000', md, ...dbArgs(s)]);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no avatar/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});
