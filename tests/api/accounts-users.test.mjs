// Users and organisations: CRUD, the authorization matrix (member, manager of another org,
// anonymous → 401/403/404, never the data), session revocation on role/org/password changes,
// the last admin, search, lists, and the audit log (entries present, no secrets in it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorShape } from './lib/server.mjs';
import {
  addMember,
  api,
  apiFrom,
  expectStatus,
  listAll,
  login,
  loginOk,
  makeOrg,
  makeUser,
  PASSWORD,
  signup,
  startAccounts,
  stopAll,
  uniqEmail,
} from './lib/accounts.mjs';

let srv;
let admin; // first signup: admin of default
let orgA, orgB;
let mgrA, memA, memA2, mgrB, memB, memDefault;
const secrets = new Set([PASSWORD]); // everything that must never appear in the audit log

function remember(...sessions) {
  for (const s of sessions) {
    if (s.token) secrets.add(s.token);
    if (s.access_token) secrets.add(s.access_token);
    if (s.refresh_token) secrets.add(s.refresh_token);
  }
}

before(async () => {
  srv = await startAccounts();
  admin = await signup(srv, { email: uniqEmail('admin'), display_name: 'The Admin' });
  orgA = await makeOrg(srv, admin.token, 'Org A');
  orgB = await makeOrg(srv, admin.token, 'Org B');
  mgrA = await makeUser(srv, admin.token, { role: 'manager', org_id: orgA.id, display_name: 'Manny Alpha' });
  memA = await makeUser(srv, admin.token, { role: 'member', org_id: orgA.id, display_name: 'Mem Alpha' });
  memA2 = await makeUser(srv, admin.token, { role: 'member', org_id: orgA.id, display_name: 'Mem Alpha Two' });
  mgrB = await makeUser(srv, admin.token, { role: 'manager', org_id: orgB.id, display_name: 'Manny Beta' });
  memB = await makeUser(srv, admin.token, { role: 'member', org_id: orgB.id, display_name: 'Mem Beta' });
  // Self sign-ups get an org of their own: a member of default is added by the admin.
  memDefault = await addMember(srv, admin.token, { display_name: 'Mem Default' });
  remember(admin, mgrA, memA, memA2, mgrB, memB, memDefault);
});
after(() => stopAll(srv));

/* Asserts a refusal carries no trace of the target's data. */
function refused(r, status, target, what) {
  errorShape(assert, r, status);
  if (target) {
    for (const v of [target.email, target.user?.email, target.user?.display_name].filter(Boolean))
      assert.ok(!r.text.includes(v), `${what}: the refusal leaks ${v}`);
  }
}

/* ---- users: list ---- */

describe('GET /users', () => {
  test('admin sees everyone; ?org_id= filters', async () => {
    const all = await listAll(srv, '/users', admin.token);
    const ids = new Set(all.map((u) => u.id));
    for (const u of [admin, mgrA, memA, memA2, mgrB, memB, memDefault]) assert.ok(ids.has(u.id), `admin list has ${u.email}`);
    for (const u of all) assert.ok(!('password_hash' in u) && !('totp_secret' in u), JSON.stringify(u));
    const a = await listAll(srv, `/users?org_id=${orgA.id}`, admin.token);
    assert.deepEqual(a.map((u) => u.id).sort(), [mgrA.id, memA.id, memA2.id].sort());
  });

  test('manager sees their own org only (even when asking for another)', async () => {
    const a = await listAll(srv, '/users', mgrA.token);
    assert.deepEqual(a.map((u) => u.id).sort(), [mgrA.id, memA.id, memA2.id].sort());
    const sneaky = await listAll(srv, `/users?org_id=${orgB.id}`, mgrA.token);
    assert.ok(sneaky.every((u) => u.org_id === orgA.id), `manager of A got: ${JSON.stringify(sneaky)}`);
  });

  test('member → 403, anonymous → 401', async () => {
    refused(await api(srv, 'GET', '/users', { token: memA.token }), 403);
    refused(await api(srv, 'GET', '/users'), 401);
  });

  test('?limit= 1–200, else 400; pages do not overlap', async () => {
    for (const l of ['0', '201', '-1', 'abc', '1.5', '']) {
      errorShape(assert, await api(srv, 'GET', `/users?limit=${l}`, { token: admin.token }), 400);
    }
    expectStatus(assert, await api(srv, 'GET', '/users?limit=200', { token: admin.token }), 200);
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 50; i++) {
      const r = await api(srv, 'GET', `/users?limit=2${cursor ? '&cursor=' + cursor : ''}`, { token: admin.token });
      expectStatus(assert, r, 200);
      assert.deepEqual(Object.keys(r.json).sort(), ['items', 'next_cursor']);
      assert.ok(r.json.items.length <= 2);
      seen.push(...r.json.items.map((u) => u.id));
      cursor = r.json.next_cursor;
      if (!cursor) break;
    }
    assert.equal(new Set(seen).size, seen.length, 'no user twice across pages');
    const all = await listAll(srv, '/users', admin.token);
    assert.equal(seen.length, all.length);
  });
});

/* ---- users: create ---- */

describe('POST /users', () => {
  test('admin creates any role in any org', async () => {
    const email = uniqEmail('created');
    const r = await api(srv, 'POST', '/users', {
      token: admin.token,
      body: { email, password: PASSWORD, display_name: 'Created', role: 'manager', org_id: orgB.id },
    });
    expectStatus(assert, r, 201);
    assert.equal(r.json.role, 'manager');
    assert.equal(r.json.org_id, orgB.id);
    assert.equal(r.json.email, email);
    assert.ok(!('password_hash' in r.json));
    expectStatus(assert, await login(srv, email), 200);
    // Default role member, default org the caller's.
    const d = await api(srv, 'POST', '/users', { token: admin.token, body: { email: uniqEmail(), password: PASSWORD, display_name: 'D' } });
    expectStatus(assert, d, 201);
    assert.equal(d.json.role, 'member');
    assert.equal(d.json.org_id, 'default');
  });

  test('manager creates members and managers in their own org only', async () => {
    let r = await api(srv, 'POST', '/users', { token: mgrA.token, body: { email: uniqEmail(), password: PASSWORD, display_name: 'M1' } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.org_id, orgA.id);
    assert.equal(r.json.role, 'member');
    r = await api(srv, 'POST', '/users', {
      token: mgrA.token,
      body: { email: uniqEmail(), password: PASSWORD, display_name: 'M2', role: 'manager', org_id: orgA.id },
    });
    expectStatus(assert, r, 201);
    assert.equal(r.json.role, 'manager');
    // Not an admin, not in another org.
    for (const body of [
      { role: 'admin' },
      { org_id: orgB.id },
      { org_id: 'default' },
      { role: 'member', org_id: orgB.id },
    ]) {
      r = await api(srv, 'POST', '/users', { token: mgrA.token, body: { email: uniqEmail(), password: PASSWORD, display_name: 'X', ...body } });
      errorShape(assert, r, 403, 'forbidden');
    }
  });

  test('member → 403, anonymous → 401', async () => {
    const body = { email: uniqEmail(), password: PASSWORD, display_name: 'X' };
    errorShape(assert, await api(srv, 'POST', '/users', { token: memA.token, body }), 403, 'forbidden');
    errorShape(assert, await api(srv, 'POST', '/users', { body }), 401);
    // Nothing was created.
    expectStatus(assert, await login(srv, body.email), 401);
  });

  test('invalid input: 400; taken e-mail: 409; unknown org: 422', async () => {
    const base = { email: uniqEmail(), password: PASSWORD, display_name: 'Bad' };
    for (const body of [
      { ...base, role: 'owner' },
      { ...base, role: 'Admin' },
      { ...base, email: 'nope' },
      { ...base, password: 'short' },
      { ...base, display_name: '' },
      { ...base, email: undefined },
    ]) {
      errorShape(assert, await api(srv, 'POST', '/users', { token: admin.token, body }), 400);
    }
    errorShape(assert, await api(srv, 'POST', '/users', { token: admin.token, body: { ...base, email: memA.email } }), 409, 'conflict');
    errorShape(assert, await api(srv, 'POST', '/users', { token: admin.token, body: { ...base, org_id: 'no-such-org' } }), 422);
  });
});

/* ---- users: read ---- */

describe('GET /users/{id}', () => {
  test('self, admin, manager of the same org → 200', async () => {
    for (const [who, target] of [
      [memA, memA],
      [admin, memB],
      [admin, mgrA],
      [mgrA, memA],
      [mgrA, mgrA],
      [mgrB, memB],
      [memDefault, memDefault],
    ]) {
      const r = await api(srv, 'GET', `/users/${target.id}`, { token: who.token });
      expectStatus(assert, r, 200, undefined, `${who.user.display_name} reads ${target.user.display_name}`);
      assert.equal(r.json.id, target.id);
      assert.equal(r.json.email, target.email);
      assert.ok(!('password_hash' in r.json));
    }
  });

  test('others → 404 (never the data); anonymous → 401', async () => {
    for (const [who, target] of [
      [memA, memA2], // member, same org
      [memA, mgrA], // member → their manager
      [memA, admin],
      [memA, memB],
      [mgrA, memB], // manager of another org
      [mgrA, mgrB],
      [mgrA, admin], // manager → admin
      [mgrB, memA],
      [memDefault, memA],
    ]) {
      refused(await api(srv, 'GET', `/users/${target.id}`, { token: who.token }), 404, target,
        `${who.user.display_name} → ${target.user.display_name}`);
    }
    refused(await api(srv, 'GET', `/users/${memA.id}`), 401, memA);
    // Unknown and malformed ids look the same as invisible ones.
    for (const id of ['01900000-0000-7000-8000-000000000000', 'nope', '%2e%2e', 'x'.repeat(300)]) {
      errorShape(assert, await api(srv, 'GET', `/users/${id}`, { token: admin.token }), 404);
    }
  });

  test('an id of a NUL byte (%00) is not found, not another route', async () => {
    // The decoded path must not be cut at the NUL (which turns /users/%00 into /users/, the list).
    for (const id of ['%00', '%00x', `${memA.id}%00`]) {
      const r = await api(srv, 'GET', `/users/${id}`, { token: admin.token });
      assert.ok(r.status === 404 || r.status === 400, `GET /api/v1/users/${id} → ${r.status}: ${r.text.slice(0, 200)}`);
    }
  });
});

/* ---- users: update ---- */

describe('PATCH /users/{id}', () => {
  test('self renames; a member cannot change their own role or org', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200); // (may cache the user)
    let r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { display_name: 'Renamed Self' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.display_name, 'Renamed Self');
    // Every read sees the new name at once.
    assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.display_name, 'Renamed Self');
    assert.equal((await api(srv, 'GET', `/users/${u.id}`, { token: u.token })).json.display_name, 'Renamed Self');
    // A manager's rename of them too.
    expectStatus(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { display_name: 'Renamed By Manager' } }), 200);
    assert.equal((await api(srv, 'GET', '/auth/me', { token: u.token })).json.display_name, 'Renamed By Manager');
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { role: 'manager' } });
    errorShape(assert, r, 403, 'forbidden');
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { role: 'admin' } });
    errorShape(assert, r, 403, 'forbidden');
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { org_id: orgB.id } });
    errorShape(assert, r, 403, 'forbidden');
    // Unchanged.
    r = await api(srv, 'GET', `/users/${u.id}`, { token: admin.token });
    assert.equal(r.json.role, 'member');
    assert.equal(r.json.org_id, orgA.id);
    // Invalid values → 400.
    for (const body of [{ display_name: '' }, { display_name: 'a\nb' }, { role: 'boss' }, { password: 'short' }, { display_name: 5 }]) {
      errorShape(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body }), 400);
    }
  });

  test('members, managers of another org and anonymous callers cannot touch a user (404/401), nothing changes', async () => {
    const target = await makeUser(srv, admin.token, { org_id: orgA.id, display_name: 'Untouchable' });
    for (const who of [memA, mgrB, memB, memDefault]) {
      for (const body of [{ display_name: 'Hacked' }, { role: 'admin' }, { password: 'hacked-password-123' }]) {
        refused(await api(srv, 'PATCH', `/users/${target.id}`, { token: who.token, body }), 404, target);
      }
    }
    refused(await api(srv, 'PATCH', `/users/${target.id}`, { body: { display_name: 'Hacked' } }), 401, target);
    // A manager cannot touch an admin either.
    refused(await api(srv, 'PATCH', `/users/${admin.id}`, { token: mgrA.token, body: { display_name: 'Hacked' } }), 404, admin);
    const r = await api(srv, 'GET', `/users/${target.id}`, { token: admin.token });
    assert.equal(r.json.display_name, 'Untouchable');
    assert.equal(r.json.role, 'member');
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: target.token }), 200);
    expectStatus(assert, await login(srv, target.email), 200);
  });

  test('manager promotes a member to manager (not admin); the role change revokes the target\'s sessions', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    const second = await loginOk(srv, u.email);
    let r = await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { role: 'admin' } });
    errorShape(assert, r, 403, 'forbidden');
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200);
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { role: 'manager' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.role, 'manager');
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: second.token }), 401);
    errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }), 401);
    // A new login carries the new role.
    const l = await loginOk(srv, u.email);
    assert.equal(l.user.role, 'manager');
    r = await api(srv, 'GET', '/users', { token: l.token });
    expectStatus(assert, r, 200);
    // A name change alone revokes nothing.
    expectStatus(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { display_name: 'Promoted' } }), 200);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: l.token }), 200);
    // Setting the same role again is not a change.
    expectStatus(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { role: 'manager' } }), 200);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: l.token }), 200);
  });

  test('admin moves a user to another org: sessions revoked; a manager cannot move users', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    errorShape(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { org_id: orgB.id } }), 403);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200);
    const r = await api(srv, 'PATCH', `/users/${u.id}`, { token: admin.token, body: { org_id: orgB.id } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.org_id, orgB.id);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
    // The old manager lost sight of them; the new one has it.
    errorShape(assert, await api(srv, 'GET', `/users/${u.id}`, { token: mgrA.token }), 404);
    expectStatus(assert, await api(srv, 'GET', `/users/${u.id}`, { token: mgrB.token }), 200);
    // Unknown org → 422, nothing changed.
    errorShape(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: admin.token, body: { org_id: 'no-such-org' } }), 422);
    assert.equal((await api(srv, 'GET', `/users/${u.id}`, { token: admin.token })).json.org_id, orgB.id);
  });

  test('self password change needs current_password; it revokes the old sessions', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    const newPw = 'brand-new-password-' + Date.now();
    secrets.add(newPw);
    let r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { password: newPw } });
    errorShape(assert, r, 422);
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { password: newPw, current_password: 'wrong-password-x' } });
    errorShape(assert, r, 422);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 200);
    r = await api(srv, 'PATCH', `/users/${u.id}`, { token: u.token, body: { password: newPw, current_password: PASSWORD } });
    expectStatus(assert, r, 200);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
    errorShape(assert, await login(srv, u.email, PASSWORD), 401, 'invalid_credentials');
    expectStatus(assert, await login(srv, u.email, newPw), 200);
  });

  test('admins and managers changing their OWN password also need current_password', async () => {
    // A stolen access token (valid for minutes) must not be enough to take the account over for good.
    const a2 = await makeUser(srv, admin.token, { role: 'admin', org_id: orgB.id });
    const m2 = await makeUser(srv, admin.token, { role: 'manager', org_id: orgB.id });
    remember(a2, m2);
    secrets.add('taken-over-password-1');
    try {
      const got = {};
      for (const who of [a2, m2]) {
        const r = await api(srv, 'PATCH', `/users/${who.id}`, { token: who.token, body: { password: 'taken-over-password-1' } });
        got[who.user.role] = r.status;
      }
      assert.deepEqual(got, { admin: 422, manager: 422 },
        'PATCH /api/v1/users/{own id} {password} without current_password, by role: expected 422');
    } finally {
      // Leave `admin` the only admin, as the last-admin tests expect.
      for (const who of [a2, m2]) assert.equal((await api(srv, 'DELETE', `/users/${who.id}`, { token: admin.token })).status, 204);
    }
  });

  test('manager resets a member\'s password: the member\'s sessions end', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    const newPw = 'manager-set-password-' + Date.now();
    secrets.add(newPw);
    expectStatus(assert, await api(srv, 'PATCH', `/users/${u.id}`, { token: mgrA.token, body: { password: newPw } }), 200);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
    expectStatus(assert, await login(srv, u.email, newPw), 200);
  });
});

/* ---- users: delete, last admin ---- */

describe('DELETE /users/{id} and the last admin', () => {
  test('member, manager of another org, anonymous → 404/401; the user survives', async () => {
    const target = await makeUser(srv, admin.token, { org_id: orgA.id });
    for (const who of [memA, memA2, mgrB, memB, memDefault]) {
      refused(await api(srv, 'DELETE', `/users/${target.id}`, { token: who.token }), 404, target);
    }
    refused(await api(srv, 'DELETE', `/users/${target.id}`), 401, target);
    refused(await api(srv, 'DELETE', `/users/${admin.id}`, { token: mgrA.token }), 404, admin);
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: target.token }), 200);
  });

  test('manager deletes a member of their org: 204, sessions end, login fails', async () => {
    const target = await makeUser(srv, admin.token, { org_id: orgA.id });
    const r = await api(srv, 'DELETE', `/users/${target.id}`, { token: mgrA.token });
    assert.equal(r.status, 204, r.text);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: target.token }), 401);
    errorShape(assert, await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: target.refresh_token } }), 401);
    errorShape(assert, await login(srv, target.email), 401, 'invalid_credentials');
    errorShape(assert, await api(srv, 'GET', `/users/${target.id}`, { token: admin.token }), 404);
    errorShape(assert, await api(srv, 'DELETE', `/users/${target.id}`, { token: admin.token }), 404);
  });

  test('the last admin cannot be demoted or deleted (409); with a second admin it can', async () => {
    // Demote self / delete self as the only admin.
    errorShape(assert, await api(srv, 'PATCH', `/users/${admin.id}`, { token: admin.token, body: { role: 'member' } }), 409, 'conflict');
    errorShape(assert, await api(srv, 'PATCH', `/users/${admin.id}`, { token: admin.token, body: { role: 'manager' } }), 409);
    errorShape(assert, await api(srv, 'DELETE', `/users/${admin.id}`, { token: admin.token }), 409, 'conflict');
    expectStatus(assert, await api(srv, 'GET', '/auth/me', { token: admin.token }), 200);
    assert.equal((await api(srv, 'GET', '/auth/me', { token: admin.token })).json.role, 'admin');
    // A second admin; the first may then step down (on a throw-away admin, to keep `admin`).
    const a2 = await makeUser(srv, admin.token, { role: 'admin', org_id: 'default' });
    const a3 = await makeUser(srv, admin.token, { role: 'admin', org_id: orgB.id });
    remember(a2, a3);
    let r = await api(srv, 'PATCH', `/users/${a2.id}`, { token: a2.token, body: { role: 'member' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.role, 'member');
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: a2.token }), 401); // role change revoked it
    r = await api(srv, 'DELETE', `/users/${a3.id}`, { token: admin.token });
    assert.equal(r.status, 204, r.text);
    // `admin` is the only admin again.
    errorShape(assert, await api(srv, 'DELETE', `/users/${admin.id}`, { token: admin.token }), 409);
  });

  test('a member may delete their own account', async () => {
    const u = await makeUser(srv, admin.token, { org_id: orgA.id });
    const r = await api(srv, 'DELETE', `/users/${u.id}`, { token: u.token });
    assert.equal(r.status, 204, r.text);
    errorShape(assert, await api(srv, 'GET', '/auth/me', { token: u.token }), 401);
    errorShape(assert, await login(srv, u.email), 401);
  });
});

/* ---- users: search ---- */

describe('GET /users/search', () => {
  test('same org only, self excluded, {items:[{id, display_name}]}', async () => {
    let r = await api(srv, 'GET', '/users/search?q=alpha', { token: memA.token });
    expectStatus(assert, r, 200);
    const ids = r.json.items.map((i) => i.id);
    assert.ok(ids.includes(memA2.id) && ids.includes(mgrA.id), JSON.stringify(r.json));
    assert.ok(!ids.includes(memA.id), 'self excluded');
    for (const it of r.json.items) assert.deepEqual(Object.keys(it).sort(), ['display_name', 'id']);
    // Beta users live in org B: invisible from org A, by name or e-mail.
    r = await api(srv, 'GET', '/users/search?q=beta', { token: memA.token });
    expectStatus(assert, r, 200);
    assert.deepEqual(r.json.items, []);
    r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(memB.email)}`, { token: memA.token });
    assert.deepEqual(r.json.items, []);
    r = await api(srv, 'GET', '/users/search?q=beta', { token: mgrB.token });
    assert.deepEqual(r.json.items.map((i) => i.id), [memB.id]);
    // Matches e-mails too (case-insensitive), without returning them.
    r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(memA2.email.toUpperCase())}`, { token: memA.token });
    assert.deepEqual(r.json.items.map((i) => i.id), [memA2.id]);
    assert.ok(!r.text.includes(memA2.email));
    // The admin (org default) does not see org A's people in search either.
    r = await api(srv, 'GET', '/users/search?q=alpha', { token: admin.token });
    assert.deepEqual(r.json.items, []);
  });

  test('q must be 2–100 characters; LIKE wildcards are literal; anonymous → 401', async () => {
    for (const q of ['', 'a', 'x'.repeat(101)]) {
      errorShape(assert, await api(srv, 'GET', `/users/search?q=${q}`, { token: memA.token }), 400);
    }
    errorShape(assert, await api(srv, 'GET', '/users/search', { token: memA.token }), 400);
    expectStatus(assert, await api(srv, 'GET', `/users/search?q=${'x'.repeat(100)}`, { token: memA.token }), 200);
    for (const q of ['%%', '__', '%_', '\\%']) {
      const r = await api(srv, 'GET', `/users/search?q=${encodeURIComponent(q)}`, { token: memA.token });
      expectStatus(assert, r, 200);
      assert.deepEqual(r.json.items, [], `q=${q} must not match everyone`);
    }
    errorShape(assert, await api(srv, 'GET', '/users/search?q=alpha'), 401);
  });
});

/* ---- orgs ---- */

describe('organisations', () => {
  test('GET /orgs: admin all, others only their own', async () => {
    const all = await listAll(srv, '/orgs', admin.token);
    const ids = all.map((o) => o.id);
    for (const id of ['default', orgA.id, orgB.id]) assert.ok(ids.includes(id), `admin sees ${id}`);
    for (const o of all) assert.deepEqual(Object.keys(o).sort(), ['created_at', 'id', 'name']);
    for (const [who, org] of [[memA, orgA.id], [mgrA, orgA.id], [memB, orgB.id], [memDefault, 'default']]) {
      const mine = await listAll(srv, '/orgs', who.token);
      assert.deepEqual(mine.map((o) => o.id), [org]);
    }
    errorShape(assert, await api(srv, 'GET', '/orgs'), 401);
    errorShape(assert, await api(srv, 'GET', '/orgs?limit=0', { token: admin.token }), 400);
    errorShape(assert, await api(srv, 'GET', '/orgs?limit=201', { token: admin.token }), 400);
    const p = await api(srv, 'GET', '/orgs?limit=1', { token: admin.token });
    expectStatus(assert, p, 200);
    assert.equal(p.json.items.length, 1);
    assert.equal(typeof p.json.next_cursor, 'string');
  });

  test('POST /orgs: admin 201; manager/member 403; anonymous 401; bad name 400', async () => {
    const r = await api(srv, 'POST', '/orgs', { token: admin.token, body: { name: 'Fresh Org' } });
    expectStatus(assert, r, 201);
    assert.equal(r.json.name, 'Fresh Org');
    assert.ok(r.json.id && r.json.created_at);
    for (const who of [mgrA, memA]) errorShape(assert, await api(srv, 'POST', '/orgs', { token: who.token, body: { name: 'Nope' } }), 403, 'forbidden');
    errorShape(assert, await api(srv, 'POST', '/orgs', { body: { name: 'Nope' } }), 401);
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 'a\u0001b' }, { name: 7 }]) {
      errorShape(assert, await api(srv, 'POST', '/orgs', { token: admin.token, body }), 400);
    }
    const names = (await listAll(srv, '/orgs', admin.token)).map((o) => o.name);
    assert.ok(!names.includes('Nope'));
  });

  test('GET /orgs/{id}: own org or admin → 200; another org → 404', async () => {
    expectStatus(assert, await api(srv, 'GET', `/orgs/${orgA.id}`, { token: memA.token }), 200);
    expectStatus(assert, await api(srv, 'GET', `/orgs/${orgA.id}`, { token: mgrA.token }), 200);
    expectStatus(assert, await api(srv, 'GET', `/orgs/${orgB.id}`, { token: admin.token }), 200);
    for (const [who, org] of [[memA, orgB], [mgrA, orgB], [mgrB, orgA], [memDefault, orgA]]) {
      const r = await api(srv, 'GET', `/orgs/${org.id}`, { token: who.token });
      errorShape(assert, r, 404);
      assert.ok(!r.text.includes(org.name), 'no org name in the refusal');
    }
    errorShape(assert, await api(srv, 'GET', `/orgs/${orgA.id}`), 401);
    errorShape(assert, await api(srv, 'GET', '/orgs/no-such-org', { token: admin.token }), 404);
  });

  test('PATCH /orgs/{id}: manager renames their own; member 403; other org 404', async () => {
    let r = await api(srv, 'PATCH', `/orgs/${orgA.id}`, { token: mgrA.token, body: { name: 'Org A renamed' } });
    expectStatus(assert, r, 200);
    assert.equal(r.json.name, 'Org A renamed');
    errorShape(assert, await api(srv, 'PATCH', `/orgs/${orgA.id}`, { token: memA.token, body: { name: 'Member was here' } }), 403);
    errorShape(assert, await api(srv, 'PATCH', `/orgs/${orgB.id}`, { token: mgrA.token, body: { name: 'Stolen' } }), 404);
    errorShape(assert, await api(srv, 'PATCH', `/orgs/${orgB.id}`, { token: memA.token, body: { name: 'Stolen' } }), 404);
    errorShape(assert, await api(srv, 'PATCH', `/orgs/${orgB.id}`, { body: { name: 'Stolen' } }), 401);
    r = await api(srv, 'PATCH', `/orgs/${orgB.id}`, { token: admin.token, body: { name: 'Org B by admin' } });
    expectStatus(assert, r, 200);
    errorShape(assert, await api(srv, 'PATCH', `/orgs/${orgB.id}`, { token: admin.token, body: { name: '' } }), 400);
    assert.equal((await api(srv, 'GET', `/orgs/${orgB.id}`, { token: admin.token })).json.name, 'Org B by admin');
  });

  test('DELETE /orgs/{id}: admin only; with users 409; default 409; empty 204', async () => {
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${orgA.id}`, { token: mgrA.token }), 403);
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${orgA.id}`, { token: memA.token }), 403);
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${orgA.id}`, { token: mgrB.token }), 404);
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${orgA.id}`), 401);
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${orgA.id}`, { token: admin.token }), 409, 'conflict');
    errorShape(assert, await api(srv, 'DELETE', '/orgs/default', { token: admin.token }), 409, 'conflict');
    const empty = await makeOrg(srv, admin.token, 'Short-lived');
    const r = await api(srv, 'DELETE', `/orgs/${empty.id}`, { token: admin.token });
    assert.equal(r.status, 204, r.text);
    errorShape(assert, await api(srv, 'GET', `/orgs/${empty.id}`, { token: admin.token }), 404);
    errorShape(assert, await api(srv, 'DELETE', `/orgs/${empty.id}`, { token: admin.token }), 404);
    // A user cannot be created in the deleted org.
    errorShape(assert, await api(srv, 'POST', '/users', { token: admin.token, body: { email: uniqEmail(), password: PASSWORD, display_name: 'x', org_id: empty.id } }), 422);
  });
});

/* ---- audit log ---- */

describe('GET /admin/audit', () => {
  test('admin only; limit 1–200; newest first; cursor pages; ?action= filters', async () => {
    for (const who of [mgrA, memA]) errorShape(assert, await api(srv, 'GET', '/admin/audit', { token: who.token }), 403, 'forbidden');
    errorShape(assert, await api(srv, 'GET', '/admin/audit'), 401);
    for (const l of ['0', '201', 'x']) errorShape(assert, await api(srv, 'GET', `/admin/audit?limit=${l}`, { token: admin.token }), 400);

    const first = await api(srv, 'GET', '/admin/audit?limit=5', { token: admin.token });
    expectStatus(assert, first, 200);
    assert.equal(first.json.items.length, 5);
    assert.equal(typeof first.json.next_cursor, 'string');
    const second = await api(srv, 'GET', `/admin/audit?limit=5&cursor=${first.json.next_cursor}`, { token: admin.token });
    expectStatus(assert, second, 200);
    const page = [...first.json.items, ...second.json.items];
    assert.equal(new Set(page.map((e) => e.id)).size, page.length, 'pages do not overlap');
    for (let i = 1; i < page.length; i++) {
      assert.ok(page[i - 1].at >= page[i].at, `newest first: ${page[i - 1].at} before ${page[i].at}`);
      assert.ok(page[i - 1].id > page[i].id, 'ids descending');
    }
    for (const e of page) {
      assert.ok(e.id && e.at && e.action, JSON.stringify(e));
      assert.match(e.at, /^\d{4}-\d\d-\d\dT/);
    }
    const f = await api(srv, 'GET', '/admin/audit?action=user.role_change&limit=200', { token: admin.token });
    expectStatus(assert, f, 200);
    assert.ok(f.json.items.length >= 1);
    assert.ok(f.json.items.every((e) => e.action === 'user.role_change'));
  });

  test('entries for signup, logins, refresh reuse, logout, role/org changes, deletes; no passwords, tokens or codes', async () => {
    // Make sure each kind happened at least once, with known actors.
    const u = await signup(srv, { display_name: 'Audited' });
    remember(u);
    const bad = await login(srv, u.email, 'wrong-password-for-audit');
    assert.equal(bad.status, 401);
    secrets.add('wrong-password-for-audit');
    const l = await loginOk(srv, u.email);
    remember(l);
    const rot = await api(srv, 'POST', '/auth/refresh', { body: { refresh_token: l.refresh_token } });
    remember(rot.json);
    await apiFrom(srv, '127.0.0.2', 'POST', '/auth/refresh', { body: { refresh_token: l.refresh_token } }); // reuse, elsewhere
    const l2 = await loginOk(srv, u.email);
    remember(l2);
    expectStatus(assert, await api(srv, 'POST', '/auth/logout', { token: l2.token }), 204);
    const t = await api(srv, 'POST', '/auth/ws-ticket', { token: admin.token });
    secrets.add(t.json.ticket);
    const moved = await makeUser(srv, admin.token, { org_id: orgA.id });
    remember(moved);
    expectStatus(assert, await api(srv, 'PATCH', `/users/${moved.id}`, { token: admin.token, body: { org_id: orgB.id } }), 200);
    expectStatus(assert, await api(srv, 'PATCH', `/users/${moved.id}`, { token: admin.token, body: { role: 'manager' } }), 200);
    assert.equal((await api(srv, 'DELETE', `/users/${moved.id}`, { token: admin.token })).status, 204);

    const all = await listAll(srv, '/admin/audit', admin.token);
    const by = (action, pred = () => true) => all.filter((e) => e.action === action && pred(e));
    assert.ok(by('signup', (e) => e.target_id === u.id).length === 1, 'signup entry');
    assert.ok(by('login.failure', (e) => e.target_id === u.id).length >= 1, 'login.failure entry');
    assert.ok(by('login.success', (e) => e.target_id === u.id).length >= 2, 'login.success entries');
    assert.ok(by('session.refresh_reuse', (e) => e.target_id === u.id).length === 1, 'session.refresh_reuse entry');
    assert.ok(by('logout', (e) => e.actor_id === u.id).length === 1, 'logout entry');
    assert.ok(by('user.org_change', (e) => e.target_id === moved.id && e.actor_id === admin.id).length === 1, 'user.org_change entry');
    assert.ok(by('user.role_change', (e) => e.target_id === moved.id && e.actor_id === admin.id).length === 1, 'user.role_change entry');
    assert.ok(by('user.delete', (e) => e.target_id === moved.id && e.actor_id === admin.id).length === 1, 'user.delete entry');
    const rc = by('user.role_change', (e) => e.target_id === moved.id)[0];
    assert.deepEqual(rc.detail, { from: 'member', to: 'manager' });
    // Entries carry the client address.
    assert.ok(by('login.failure', (e) => e.target_id === u.id).every((e) => e.ip === '127.0.0.1'));

    const text = JSON.stringify(all);
    for (const s of secrets) assert.ok(!text.includes(s), `the audit log contains a secret (${s.slice(0, 12)}…)`);
    assert.ok(!/argon2|password_hash/i.test(text), 'no password hashes');
  });
});

/* ---- the last admin, under concurrency (own server: a failure leaves it without an admin) ---- */

describe('the last admin under concurrent demotions', () => {
  let s2;
  before(async () => {
    s2 = await startAccounts({ args: ['--workers', '8'] });
  });
  after(() => stopAll(s2));

  test('two admins demoting each other at the same time: at least one admin remains', async () => {
    const root = await signup(s2);
    let token = root.token;
    for (let i = 0; i < 10; i++) {
      // Exactly two admins, a and b: the previous admin steps down (allowed, since a and b exist).
      const a = await makeUser(s2, token, { role: 'admin' });
      const b = await makeUser(s2, token, { role: 'admin' });
      for (const u of (await listAll(s2, '/users', a.token)).filter((x) => x.role === 'admin' && x.id !== a.id && x.id !== b.id)) {
        expectStatus(assert, await api(s2, 'PATCH', `/users/${u.id}`, { token: a.token, body: { role: 'member' } }), 200);
      }
      const [ra, rb] = await Promise.all([
        api(s2, 'PATCH', `/users/${b.id}`, { token: a.token, body: { role: 'member' } }),
        api(s2, 'PATCH', `/users/${a.id}`, { token: b.token, body: { role: 'member' } }),
      ]);
      const roles = [];
      for (const u of [a, b]) roles.push((await loginOk(s2, u.email)).user.role);
      assert.ok(roles.includes('admin'),
        `round ${i}: PATCH {role: member} on each other by two admins at once → ${ra.status} and ${rb.status}; ` +
        `roles now ${roles.join(', ')}: the instance has no admin left (expected one 409)`);
      token = (await loginOk(s2, roles[0] === 'admin' ? a.email : b.email)).token;
    }
  });
});
