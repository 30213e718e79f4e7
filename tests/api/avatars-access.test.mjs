// The access matrix: every avatar and media route, for the owner, a share editor, a share viewer,
// a member of the same organisation, a user of another organisation and an anonymous caller, on a
// private, an `org` and a public avatar. One rule everywhere:
//   owner → own; editor share → edit; viewer share, same-org `org`, anyone signed in with
//   `link`/`public` → view; everyone else → 404 (never 403). Visible but not allowed → 403.
//   No token → 401. A refused response never carries the avatar's name or description.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, cast, fixture, request, sharedAvatar, startAvatars, uploadOk } from './lib/avatars.mjs';

const RANK = { none: 0, view: 1, edit: 2, own: 3 };
const CODES = { 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found' };
const WHO = ['owner', 'editor', 'viewer', 'member', 'outsider', 'anonymous'];

/* The caller's level on an avatar of the given visibility (editor and viewer hold shares). */
function levelOf(who, visibility) {
  switch (who) {
    case 'owner':
      return 'own';
    case 'editor':
      return 'edit';
    case 'viewer':
      return 'view';
    case 'member':
      return visibility === 'private' ? 'none' : 'view';
    case 'outsider':
      return visibility === 'public' || visibility === 'link' ? 'view' : 'none';
    default:
      return 'anon';
  }
}

function expected(level, need, ok) {
  if (level === 'anon') return 401;
  if (level === 'none') return 404;
  return RANK[level] >= RANK[need] ? ok : 403;
}

let srv;
let c;
before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

for (const visibility of ['private', 'org', 'link', 'public']) {
  describe(`access matrix: a ${visibility} avatar`, () => {
    let av; // the avatar, shared with editor (editor) and viewer (viewer)
    let media; // a media item of it that stays
    const tokenOf = (who) => (who === 'anonymous' ? undefined : c[who].token);

    before(async () => {
      av = await sharedAvatar(srv, c, { visibility, personality: 'matrix personality' });
      media = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.txt'), 'matrix.txt')).media;
    });

    /* Runs call(who) for every caller in order; collects every mismatch, then asserts none. */
    async function matrix(need, ok, call, { order = WHO, prepare } = {}) {
      const wrong = [];
      for (const who of order) {
        if (prepare) await prepare(who);
        const r = await call(who, tokenOf(who));
        const want = expected(levelOf(who, visibility), need, ok);
        if (r.status !== want) wrong.push(`${who}: expected ${want}, got ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status >= 400) {
          if (CODES[r.status] && r.json?.error?.code !== CODES[r.status])
            wrong.push(`${who}: HTTP ${r.status} with error code ${r.json?.error?.code} (expected ${CODES[r.status]})`);
          for (const f of ['name', 'description', 'personality'])
            if (av[f] && r.text.includes(av[f])) wrong.push(`${who}: the refused ${r.status} body leaks the ${f}: ${r.text}`);
        }
      }
      assert.deepEqual(wrong, [], wrong.join('\n'));
    }

    test('GET /avatars/{id} (view)', async () => {
      await matrix('view', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}`, { token }));
    });

    test('GET /avatars lists it exactly for owner, shares and (org) same-org members', async () => {
      const wrong = [];
      for (const who of WHO.slice(0, 5)) {
        const r = await api(srv, 'GET', '/avatars?limit=200', { token: c[who].token });
        const listed = r.json.items.some((a) => a.id === av.id);
        const want = who === 'owner' || who === 'editor' || who === 'viewer' || (who === 'member' && visibility === 'org');
        if (listed !== want) wrong.push(`${who}: listed=${listed}, expected ${want}`);
      }
      assert.deepEqual(wrong, []);
    });

    test('PATCH /avatars/{id} content (edit)', async () => {
      await matrix('edit', 200, (who, token) => api(srv, 'PATCH', `/avatars/${av.id}`, { token, body: { greeting: `hi from ${who}` } }));
    });

    test('PATCH /avatars/{id} visibility (own)', async () => {
      await matrix('own', 200, (who, token) => api(srv, 'PATCH', `/avatars/${av.id}`, { token, body: { visibility } }));
    });

    test('GET /avatars/{id}/shares (edit)', async () => {
      await matrix('edit', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}/shares`, { token }));
    });

    test('POST /avatars/{id}/shares (own)', async () => {
      await matrix('own', 201, (who, token) =>
        api(srv, 'POST', `/avatars/${av.id}/shares`, { token, body: { user_id: c.admin.id, role: 'viewer' } }),
      );
    });

    test('DELETE /avatars/{id}/shares/{user_id} (own)', async () => {
      const order = ['editor', 'viewer', 'member', 'outsider', 'anonymous', 'owner']; // the owner last: it removes it
      await matrix('own', 204, (who, token) => api(srv, 'DELETE', `/avatars/${av.id}/shares/${c.admin.id}`, { token }), { order });
    });

    test('GET /avatars/{id}/media (view)', async () => {
      await matrix('view', 200, async (who, token) => {
        const r = await api(srv, 'GET', `/avatars/${av.id}/media`, { token });
        if (r.status === 200 && !r.json.items.some((m) => m.id === media.id)) r.status = 'list without the media';
        return r;
      });
    });

    test('POST /avatars/{id}/media (edit), raw and multipart', async () => {
      await matrix('edit', 202, (who, token) =>
        request(srv, 'POST', `/avatars/${av.id}/media?filename=${who}.txt`, {
          token,
          headers: { 'content-type': 'text/plain' },
          body: `uploaded by ${who}\n`,
        }),
      );
      const boundary = 'matrixboundary';
      const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.txt"\r\n\r\nmultipart text\r\n--${boundary}--\r\n`;
      await matrix('edit', 202, (who, token) =>
        request(srv, 'POST', `/avatars/${av.id}/media`, {
          token,
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
          body,
        }),
      );
    });

    test('GET /media/{id} (view)', async () => {
      await matrix('view', 200, (who, token) => api(srv, 'GET', `/media/${media.id}`, { token }));
    });

    test('GET /media/{id}/content (view)', async () => {
      await matrix('view', 200, (who, token) => request(srv, 'GET', `/media/${media.id}/content`, { token }));
    });

    test('DELETE /media/{id} (edit)', async () => {
      let target;
      await matrix('edit', 204, (who, token) => api(srv, 'DELETE', `/media/${target}`, { token }), {
        prepare: async () => {
          target = (await uploadOk(srv, c.owner.token, av.id, Buffer.from(`to delete ${Math.random()}\n`), 'd.txt')).media.id;
        },
      });
    });

    test('DELETE /avatars/{id} (own), last', async () => {
      const order = ['editor', 'viewer', 'member', 'outsider', 'anonymous', 'owner'];
      await matrix('own', 202, (who, token) => api(srv, 'DELETE', `/avatars/${av.id}`, { token }), { order });
      const wrong = [];
      for (const who of WHO) {
        const r = await api(srv, 'GET', `/avatars/${av.id}`, { token: tokenOf(who) });
        const want = who === 'anonymous' ? 401 : 404;
        if (r.status !== want) wrong.push(`${who} after deletion: expected ${want}, got ${r.status}`);
        const m = await api(srv, 'GET', `/media/${media.id}`, { token: tokenOf(who) });
        if (m.status !== want) wrong.push(`${who}: media of a deleted avatar: expected ${want}, got ${m.status}`);
      }
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  });
}

describe('access: not-found answers look alike', () => {
  test('an existing private avatar and a made-up id answer the same 404 to an outsider', async () => {
    const av = await sharedAvatar(srv, c);
    const media = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.png'), 'x.png')).media;
    const fake = '01a20000-0000-7000-8000-000000000000';
    const pairs = [
      ['GET', `/avatars/${av.id}`, `/avatars/${fake}`],
      ['PATCH', `/avatars/${av.id}`, `/avatars/${fake}`, { greeting: 'x' }],
      ['DELETE', `/avatars/${av.id}`, `/avatars/${fake}`],
      ['GET', `/avatars/${av.id}/media`, `/avatars/${fake}/media`],
      ['GET', `/avatars/${av.id}/shares`, `/avatars/${fake}/shares`],
      ['GET', `/media/${media.id}`, `/media/${fake}`],
      ['GET', `/media/${media.id}/content`, `/media/${fake}/content`],
      ['DELETE', `/media/${media.id}`, `/media/${fake}`],
    ];
    for (const [m, real, made, body] of pairs) {
      const a = await api(srv, m, real, { token: c.outsider.token, body });
      const b = await api(srv, m, made, { token: c.outsider.token, body });
      assert.equal(a.status, 404, `${m} ${real}`);
      assert.equal(b.status, 404, `${m} ${made}`);
      assert.equal(a.json?.error?.code, b.json?.error?.code, `${m}: same error code`);
      assert.equal(a.json?.error?.message, b.json?.error?.message, `${m}: same message`);
    }
    // and the media is still there for its owner
    const g = await api(srv, 'GET', `/media/${media.id}`, { token: c.owner.token });
    assert.equal(g.status, 200);
  });
});
