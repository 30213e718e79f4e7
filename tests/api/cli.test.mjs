// The command line against a real data directory / database: user add, migrate, version, ingest;
// offline commands refuse a data directory that does not exist (serve creates its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binPath, REPO } from './lib/server.mjs';
import { startAccounts, FAST_ARGON, PASSWORD, BASE, uniqEmail } from './lib/accounts.mjs';

function doppel(args, input, opts = {}) {
  return spawnSync(path.resolve(binPath()), args, { input, encoding: 'utf8', timeout: 60000, ...opts });
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
  // The CLI writes beside the server: with the in-process cache, the server learns of those writes
  // only when its cached answers expire (--cached-answer-ttl; 0 here, so every read is fresh).
  const s = await startAccounts({ args: ['--cached-answer-ttl', '0'] });
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

    // The same file again: nothing stored, nothing to process, not a failure.
    const again2 = doppel(['ingest', avatar.id, md, ...dbArgs(s)]);
    assert.equal(again2.status, 0, again2.stderr);
    assert.match(again2.stdout, new RegExp(`skipped sample\\.md: the avatar has the same file already as media ${media.items[0].id}`));
    r = await fetch(`${s.url}${BASE}/avatars/${avatar.id}/media`, { headers: auth });
    assert.equal((await json(r)).items.length, 1, 'no second media');
    // … unless a copy is asked for.
    const bad = doppel(['ingest', avatar.id, md, '--duplicate', 'maybe', ...dbArgs(s)]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--duplicate must be reuse/);
    const copy = doppel(['ingest', avatar.id, md, '--duplicate', 'copy', ...dbArgs(s)]);
    assert.equal(copy.status, 0, copy.stderr);
    assert.match(copy.stdout, /stored sample\.md/);
    r = await fetch(`${s.url}${BASE}/avatars/${avatar.id}/media`, { headers: auth });
    assert.equal((await json(r)).items.length, 2, 'a copy');

    const none = doppel(['ingest', '01a20000-0000-7000-8000-000000000000', md, ...dbArgs(s)]);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no avatar/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('ingest and avatar import/export refuse a data directory that does not exist; serve creates its own', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'doppel-cli-'));
  try {
    const md = path.join(REPO, 'tests/fixtures/media/sample.md');
    const id = '01a20000-0000-7000-8000-000000000000';
    const env = { ...process.env };
    delete env.DOPPEL_DATA_DIR;
    delete env.DOPPEL_DATABASE_URL;
    delete env.DOPPEL_CREATE_DATA_DIR;
    // Run from another directory without --data-dir: the default ./data is not there.
    const ing = doppel(['ingest', id, md], undefined, { cwd, env });
    assert.equal(ing.status, 2, ing.stderr);
    assert.match(ing.stderr, /the data directory \.\/data does not exist/);
    assert.ok(ing.stderr.includes(cwd), `the working directory is named: ${ing.stderr}`);
    assert.doesNotMatch(ing.stderr, /no avatar/);
    assert.ok(!fs.existsSync(path.join(cwd, 'data')), 'no empty ./data was created');

    const missing = path.join(cwd, 'not', 'there');
    const ing2 = doppel(['ingest', id, md, '--data-dir', missing], undefined, { cwd, env });
    assert.equal(ing2.status, 2);
    assert.ok(ing2.stderr.includes(missing), ing2.stderr);
    assert.ok(!fs.existsSync(missing));

    const card = path.join(cwd, 'card.json');
    fs.writeFileSync(card, JSON.stringify({ spec: 'chara_card_v2', spec_version: '2.0', data: { name: 'Nobody' } }));
    const imp = doppel(['avatar', 'import', card, '--owner', 'x@example.org'], undefined, { cwd, env });
    assert.equal(imp.status, 2, imp.stderr);
    assert.match(imp.stderr, /doppel avatar import: the data directory \.\/data does not exist/);
    const exp = doppel(['avatar', 'export', id], undefined, { cwd, env });
    assert.equal(exp.status, 2, exp.stderr);
    assert.match(exp.stderr, /doppel avatar export: the data directory \.\/data does not exist/);
    assert.ok(!fs.existsSync(path.join(cwd, 'data')));

    // --create-data-dir: made, migrated, and then the real answer.
    const made = doppel(['ingest', id, md, '--create-data-dir'], undefined, { cwd, env });
    assert.equal(made.status, 1, made.stderr);
    assert.match(made.stderr, /no avatar/);
    assert.ok(fs.existsSync(path.join(cwd, 'data', 'doppel.db')));
    // An existing directory needs no flag.
    const exists = doppel(['ingest', id, md], undefined, { cwd, env });
    assert.match(exists.stderr, new RegExp(`no avatar ${id} in data directory \\./data`));

    // serve still creates its data directory on first run.
    const fresh = path.join(cwd, 'fresh', 'data');
    const s = await startAccounts({ args: ['--data-dir', fresh] });
    try {
      assert.ok(fs.existsSync(fresh), 'serve made its data directory');
    } finally {
      assert.equal(await s.stop(), 0);
    }
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
});
