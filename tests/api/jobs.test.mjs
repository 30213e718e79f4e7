// Background jobs: visibility (owner or admin, everyone else 404), lists, retry (admin, dead jobs
// only), retry with backoff until done or dead, metrics, admin stats, and the crash test: a job
// whose server is killed with SIGKILL mid-run completes after a restart on the same database.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { errorShape, eventually, sleep } from './lib/server.mjs';
import {
  addMember,
  api,
  BACKEND,
  expectStatus,
  listAll,
  metricsText,
  metricValue,
  randomKeyHex,
  signup,
  startAccounts,
  stopAll,
} from './lib/accounts.mjs';

/* Queues a test.sleep job through the hidden test route. */
async function enqueue(srv, body) {
  const r = await api(srv, 'POST', '/_test/jobs', { body });
  if (r.status !== 201) throw new Error(`POST /_test/jobs → ${r.status}: ${r.text}`);
  return r.json;
}

/* Polls GET /jobs/{id} until pred(job) holds; returns the last job seen. */
async function waitJob(srv, token, id, pred, timeoutMs = 15000) {
  let last;
  await eventually(
    async () => {
      const r = await api(srv, 'GET', `/jobs/${id}`, { token });
      last = r.json;
      return r.status === 200 && pred(r.json);
    },
    { timeoutMs, intervalMs: 100 },
  );
  return last;
}

describe('jobs', () => {
  let srv, admin, alice, bob;

  before(async () => {
    srv = await startAccounts({ args: ['--job-workers', '2'] });
    admin = await signup(srv, { display_name: 'Admin' }); // the first account is the admin
    // Both in the admin's org (self sign-ups get orgs of their own): only ownership tells them apart.
    alice = await addMember(srv, admin.token, { display_name: 'Alice' });
    bob = await addMember(srv, admin.token, { display_name: 'Bob' });
  });
  after(() => stopAll(srv));

  test('a job is visible to its owner and admins only; others get 404', async () => {
    const job = await enqueue(srv, { ms: 50, owner_id: alice.id });
    assert.ok(['queued', 'running'].includes(job.status), job.status); // a worker may already have it
    assert.equal(job.kind, 'test.sleep');
    assert.equal(job.owner_id, alice.id);
    assert.equal(job.payload, undefined, 'the payload is not public');

    const done = await waitJob(srv, alice.token, job.id, (j) => j.status === 'done');
    assert.equal(done.status, 'done');
    assert.equal(done.attempts, 1);
    assert.equal(done.progress, 100);
    assert.ok(done.finished_at);

    const asBob = await api(srv, 'GET', `/jobs/${job.id}`, { token: bob.token });
    errorShape(assert, asBob, 404, 'not_found');
    assert.ok(!asBob.text.includes(alice.id), 'the 404 does not leak the owner');
    expectStatus(assert, await api(srv, 'GET', `/jobs/${job.id}`, { token: admin.token }), 200);
    expectStatus(assert, await api(srv, 'GET', `/jobs/${job.id}`), 401);
    expectStatus(assert, await api(srv, 'GET', '/jobs/not-a-uuid', { token: alice.token }), 404);
    expectStatus(assert, await api(srv, 'GET', '/jobs/01a206f1-4b43-748f-9bf3-6490d2860000', { token: admin.token }), 404);

    const mine = await listAll(srv, '/jobs', alice.token);
    assert.ok(mine.some((j) => j.id === job.id));
    assert.ok(mine.every((j) => j.owner_id === alice.id));
    const bobs = await listAll(srv, '/jobs', bob.token);
    assert.ok(!bobs.some((j) => j.id === job.id), "bob's list does not show alice's job");
    // A member's ?owner_id= is ignored: still only their own.
    const sneaky = await listAll(srv, `/jobs?owner_id=${alice.id}`, bob.token);
    assert.ok(!sneaky.some((j) => j.id === job.id));
    const byAdmin = await listAll(srv, `/jobs?owner_id=${alice.id}`, admin.token);
    assert.ok(byAdmin.some((j) => j.id === job.id));
    assert.ok(byAdmin.every((j) => j.owner_id === alice.id));
    const all = await listAll(srv, '/jobs', admin.token);
    assert.ok(all.some((j) => j.id === job.id));
  });

  test('lists: status filter, newest first, cursor pages', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(srv, { ms: 0, owner_id: bob.id })).id);
    for (const id of ids) await waitJob(srv, bob.token, id, (j) => j.status === 'done');
    const p1 = await api(srv, 'GET', '/jobs?limit=2&status=done', { token: bob.token });
    expectStatus(assert, p1, 200);
    assert.equal(p1.json.items.length, 2);
    assert.ok(p1.json.next_cursor);
    assert.deepEqual(p1.json.items.map((j) => j.id), [ids[2], ids[1]]);
    const p2 = await api(srv, 'GET', `/jobs?limit=2&status=done&cursor=${p1.json.next_cursor}`, { token: bob.token });
    assert.deepEqual(p2.json.items.map((j) => j.id), [ids[0]]);
    assert.equal(p2.json.next_cursor, null);
    const queued = await api(srv, 'GET', '/jobs?status=queued', { token: bob.token });
    assert.ok(!queued.json.items.some((j) => ids.includes(j.id)));
    errorShape(assert, await api(srv, 'GET', '/jobs?status=bogus', { token: bob.token }), 400, 'invalid_input');
    errorShape(assert, await api(srv, 'GET', '/jobs?limit=0', { token: bob.token }), 400, 'invalid_input');
  });

  test('a job failing K times ends done or dead as configured', async () => {
    // 1 failure out of 2 attempts allowed → done after one backoff (2 s ± 25 %).
    const recovers = await enqueue(srv, { ms: 0, fail_times: 1, max_attempts: 2, owner_id: alice.id });
    // 2 failures out of 2 → dead, with the last error.
    const dies = await enqueue(srv, { ms: 0, fail_times: 2, max_attempts: 2, owner_id: alice.id });
    const retrying = await waitJob(srv, alice.token, dies.id, (j) => j.status === 'retrying', 5000);
    assert.equal(retrying.status, 'retrying');
    assert.equal(retrying.attempts, 1);
    assert.equal(retrying.last_error, 'test failure on attempt 1');
    assert.ok(Date.parse(retrying.run_at) > Date.parse(retrying.updated_at) + 1000, 'run_at moved forward');

    const a = await waitJob(srv, alice.token, recovers.id, (j) => j.status === 'done');
    assert.equal(a.status, 'done');
    assert.equal(a.attempts, 2);
    const b = await waitJob(srv, alice.token, dies.id, (j) => j.status === 'dead');
    assert.equal(b.status, 'dead');
    assert.equal(b.attempts, 2);
    assert.equal(b.last_error, 'test failure on attempt 2');
    assert.ok(b.finished_at);

    const m = await metricsText(srv);
    assert.ok(metricValue(m, 'doppel_jobs_total', { kind: 'test.sleep', result: 'done' }) >= 1);
    assert.ok(metricValue(m, 'doppel_jobs_total', { kind: 'test.sleep', result: 'retry' }) >= 2);
    assert.ok(metricValue(m, 'doppel_jobs_total', { kind: 'test.sleep', result: 'dead' }) >= 1);
    assert.ok(metricValue(m, 'doppel_job_duration_seconds_count', { kind: 'test.sleep' }) >= 4);
    assert.match(m, /^doppel_jobs_queue_depth \d+$/m);
  });

  test('retry: admin only, dead jobs only, attempts reset', async () => {
    const job = await enqueue(srv, { ms: 0, fail_times: 1, max_attempts: 1, owner_id: alice.id });
    const dead = await waitJob(srv, alice.token, job.id, (j) => j.status === 'dead');
    assert.equal(dead.status, 'dead');

    errorShape(assert, await api(srv, 'POST', `/jobs/${job.id}/retry`, { token: alice.token }), 403, 'forbidden');
    errorShape(assert, await api(srv, 'POST', `/jobs/${job.id}/retry`, { token: bob.token }), 403, 'forbidden');
    expectStatus(assert, await api(srv, 'POST', `/jobs/${job.id}/retry`), 401);
    errorShape(
      assert,
      await api(srv, 'POST', '/jobs/01a206f1-4b43-748f-9bf3-6490d2860000/retry', { token: admin.token }),
      404,
      'not_found',
    );

    const r = await api(srv, 'POST', `/jobs/${job.id}/retry`, { token: admin.token });
    expectStatus(assert, r, 200);
    assert.equal(r.json.id, job.id);
    assert.ok(['queued', 'running', 'dead'].includes(r.json.status), r.text);
    // fail_times 1: the re-run (attempt 1 again) fails once more, and with max_attempts 1 it is dead again.
    const again = await waitJob(srv, alice.token, job.id, (j) => j.status === 'dead' && j.updated_at !== dead.updated_at);
    assert.equal(again.attempts, 1);

    const ok = await enqueue(srv, { ms: 0, owner_id: alice.id });
    await waitJob(srv, alice.token, ok.id, (j) => j.status === 'done');
    errorShape(assert, await api(srv, 'POST', `/jobs/${ok.id}/retry`, { token: admin.token }), 409, 'conflict');
  });

  test('admin stats: counts, queue depth, WebSockets, circuits', async () => {
    const r = await api(srv, 'GET', '/admin/stats', { token: admin.token });
    expectStatus(assert, r, 200);
    const s = r.json;
    assert.ok(s.users >= 3, r.text);
    assert.ok(s.orgs >= 1);
    assert.ok(s.sessions_active >= 3);
    for (const k of ['queued', 'running', 'retrying', 'done', 'dead']) assert.equal(typeof s.jobs[k], 'number', k);
    assert.ok(s.jobs.done >= 1);
    assert.equal(typeof s.queue_depth, 'number');
    assert.equal(typeof s.websockets_open, 'number');
    assert.equal(typeof s.circuits, 'object');
    errorShape(assert, await api(srv, 'GET', '/admin/stats', { token: alice.token }), 403, 'forbidden');
    expectStatus(assert, await api(srv, 'GET', '/admin/stats'), 401);
  });

  test('the routes are documented; the test route is not', async () => {
    const r = await api(srv, 'GET', '/api/v1/openapi.json');
    const paths = r.json.paths;
    assert.ok(paths['/api/v1/jobs']?.get);
    assert.ok(paths['/api/v1/jobs/{id}']?.get);
    assert.ok(paths['/api/v1/jobs/{id}/retry']?.post);
    assert.ok(paths['/api/v1/admin/stats']?.get);
    assert.equal(paths['/api/v1/_test/jobs'], undefined);
  });
});

/* Starts a second server on a's database (SQLite file or PostgreSQL database) with the same key. */
function restartOn(a, jwtKey, args = []) {
  return startAccounts({
    jwtKey,
    backend: 'sqlite', // i.e. no fresh database: the URL is given
    redisUrl: BACKEND === 'postgres' ? process.env.DOPPEL_TEST_REDIS_URL : undefined,
    args: [...args, '--database-url', BACKEND === 'postgres' ? a.databaseUrl : `${a.dataDir}/doppel.db`],
  });
}

describe('jobs survive a crash', () => {
  test(`SIGTERM hands a running job back; the next start runs it (${BACKEND})`, async () => {
    const jwtKey = randomKeyHex();
    const a = await startAccounts({ jwtKey });
    let b = null;
    try {
      const admin = await signup(a, { display_name: 'Admin' });
      const job = await enqueue(a, { ms: 20000, owner_id: admin.id });
      await waitJob(a, admin.token, job.id, (j) => j.status === 'running', 5000);
      const t0 = Date.now();
      a.signal('SIGTERM');
      assert.equal(await a.exited, 0);
      assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);

      b = await restartOn(a, jwtKey);
      const back = await api(b, 'GET', `/jobs/${job.id}`, { token: admin.token });
      expectStatus(assert, back, 200);
      assert.ok(['queued', 'running'].includes(back.json.status), back.text);
      assert.ok(back.json.attempts <= 1, 'the interrupted attempt is not counted');
    } finally {
      await stopAll(b);
      await a.exited;
      fs.rmSync(a.dataDir, { recursive: true, force: true });
    }
  });

  test(`a job whose server is SIGKILLed mid-run completes after a restart (${BACKEND})`, async () => {
    const jwtKey = randomKeyHex();
    const a = await startAccounts({ jwtKey, args: ['--job-lease', '2'] });
    let b = null;
    try {
      const admin = await signup(a, { display_name: 'Admin' });
      const job = await enqueue(a, { ms: 3000, owner_id: admin.id });
      const running = await waitJob(a, admin.token, job.id, (j) => j.status === 'running' && j.progress > 0, 5000);
      assert.equal(running.status, 'running');
      await sleep(1200); // past half the lease: it has been renewed once
      a.signal('SIGKILL');
      await a.exited;

      // The same database (SQLite file or PostgreSQL database) with a fresh process.
      b = await restartOn(a, jwtKey, ['--job-lease', '2']);
      const done = await waitJob(b, admin.token, job.id, (j) => j.status === 'done', 20000);
      assert.equal(done.status, 'done', JSON.stringify(done));
      assert.equal(done.attempts, 2, 'the killed attempt counts, the second one finished it');
      assert.match(done.last_error, /lease expired/);
    } finally {
      await stopAll(b);
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.signal('SIGKILL');
      await a.exited;
      fs.rmSync(a.dataDir, { recursive: true, force: true });
    }
  });
});
