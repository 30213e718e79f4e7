// The access matrix: every object route of an avatar (the avatar, its shares, media, memories,
// profile, export, conversations, message audio) × every caller × every visibility. One rule:
//   owner → own; editor share → edit; viewer share → view; a member, manager or admin of the
//   avatar's organisation → view of an org, link or public avatar (nothing of a private one);
//   a user of another organisation and a stranger who signed up → nothing, whatever the
//   visibility: `link` and `public` avatars are reached only through their legacy page.
//   Nothing → 404 (never 403, looking exactly like an unknown id); visible but not allowed →
//   403; no token → 401. A refused response never carries the avatar's name or description.
// A route of the OpenAPI document with a path parameter must be in the matrix (or listed in
// COVERED_ELSEWHERE with the suite that covers it), so no route can be added without it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  cast,
  fixture,
  makeUser,
  request,
  sharedAvatar,
  signup,
  startAvatars,
  uploadOk,
  wavHeader,
} from './lib/avatars.mjs';

const RANK = { none: 0, view: 1, edit: 2, own: 3 };
const CODES = { 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found' };
const WHO = ['owner', 'editor', 'viewer', 'member', 'manager', 'admin', 'outsider', 'stranger', 'anonymous'];
const VISIBILITIES = ['private', 'org', 'link', 'public'];

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
    case 'manager':
    case 'admin':
      return visibility === 'private' ? 'none' : 'view';
    case 'anonymous':
      return 'anon';
    default: // outsider, stranger
      return 'none';
  }
}

function expected(level, need, ok) {
  if (level === 'anon') return 401;
  if (level === 'none') return 404;
  return RANK[level] >= RANK[need] ? ok : 403;
}

/* Routes documented with a path parameter that other suites own, and why. */
const COVERED_ELSEWHERE = {
  'GET /api/v1/users/{id}': 'accounts-users (roles)',
  'PATCH /api/v1/users/{id}': 'accounts-users (roles)',
  'DELETE /api/v1/users/{id}': 'accounts-users (roles)',
  'GET /api/v1/orgs/{id}': 'accounts-users (roles)',
  'PATCH /api/v1/orgs/{id}': 'accounts-users (roles)',
  'DELETE /api/v1/orgs/{id}': 'accounts-users (roles)',
  'GET /api/v1/jobs/{id}': 'jobs (the job of another user is a 404)',
  'POST /api/v1/jobs/{id}/retry': 'jobs (the job of another user is a 404)',
  'GET /api/v1/legacy/{slug}': 'avatars-legacy (public)',
  'GET /api/v1/legacy/{slug}/portrait': 'portraits (published or not)',
  'POST /api/v1/legacy/{slug}/conversations': 'avatars-legacy (visitors)',
  'GET /api/v1/legacy/{slug}/conversations/{cid}/messages': 'avatars-legacy (visitors)',
  'POST /api/v1/legacy/{slug}/conversations/{cid}/messages': 'avatars-legacy (visitors)',
  'GET /api/v1/legacy/{slug}/conversations/{cid}/voice': 'voice-rates (the visitor of that conversation only)',
  'GET /api/docs/{file}': 'openapi (the public docs page and its assets)',
  'GET /api/v1/avatars/{id}/voice': 'voice (WebSocket handshake: 401, another user\'s or a private avatar 404)',
  'GET /api/v1/chats/{id}': 'chat (a chat one is not in is a 404)',
  'PATCH /api/v1/chats/{id}': 'chat (members only)',
  'POST /api/v1/chats/{id}/leave': 'chat (members only)',
  'GET /api/v1/chats/{id}/messages': 'chat (members only)',
  'POST /api/v1/chats/{id}/messages': 'chat (members only; blocks)',
  'PATCH /api/v1/chats/{id}/messages/{mid}': 'chat (the sender only)',
  'DELETE /api/v1/chats/{id}/messages/{mid}': 'chat (the sender only)',
  'POST /api/v1/chats/{id}/read': 'chat (members only)',
  'GET /api/v1/chats/{id}/messages/{mid}/attachments/{media}': 'chat-access (current members only; only that message\'s media)',
  'DELETE /api/v1/chats/blocks/{uid}': 'chat (one\'s own blocks)',
  'DELETE /api/v1/contacts/{uid}': 'chat (one\'s own contact requests)',
  'POST /api/v1/contacts/{uid}/accept': 'chat (a request made to the caller)',
  'GET /api/v1/recordings/{id}': "capture (another user's recording is a 404)",
  'POST /api/v1/recordings/{id}/close': "capture (another user's recording is a 404)",
  'POST /api/v1/recordings/{id}/reprocess': "capture-conversations (another user's recording is a 404)",
  'POST /api/v1/avatars/{id}/training/voice': 'speech-replies (editor 201, viewer 403, outsider 404; each call decodes audio)',
  'POST /api/v1/media/{id}/reprocess': 'speech (owner 202, outsider 404; each call re-transcribes)',
  'DELETE /api/v1/auth/api-keys/{id}': "openai-keys (another user's key is a 404)",
};

/* A 1-second PCM WAV, so that a reply can be heard (GET /messages/{mid}/audio). */
function wav() {
  const n = 16000;
  return Buffer.concat([wavHeader(n * 2), Buffer.alloc(n * 2, 1)]);
}

let srv;
let c;
const covered = new Set(); // "METHOD /path" of every route the matrix ran

before(async () => {
  srv = await startAvatars();
  c = await cast(srv);
  c.manager = await makeUser(srv, c.admin.token, { role: 'manager' });
  c.stranger = await signup(srv, { display_name: 'Stranger' });
  c.sharee = await makeUser(srv, c.admin.token); // shared with and unshared by the share routes, outside the matrix
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
});

const tokenOf = (who) => (who === 'anonymous' ? undefined : c[who].token);

for (const visibility of VISIBILITIES) {
  describe(`access matrix: a ${visibility} avatar`, () => {
    let av; // shared with editor (editor) and viewer (viewer)
    let media; // a media item that stays
    let memory; // a memory that stays
    let conv; // the owner's conversation
    let heard; // a reply of it that can be heard

    before(async () => {
      av = await sharedAvatar(srv, c, { visibility, personality: 'matrix personality', description: 'matrix description' });
      media = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.txt'), 'matrix.txt')).media;
      const rec = (await uploadOk(srv, c.owner.token, av.id, wav(), 'voice.wav')).media;
      memory = (
        await api(srv, 'POST', `/avatars/${av.id}/memories`, {
          token: c.owner.token,
          body: { text: 'I sailed on Lough Derg every summer.', source: { media_id: rec.id, start_ms: 0, end_ms: 500 } },
        })
      ).json;
      assert.ok(memory?.id, 'the memory was added');
      conv = (await api(srv, 'POST', `/avatars/${av.id}/conversations`, { token: c.owner.token })).json.conversation;
      const reply = await api(srv, 'POST', `/conversations/${conv.id}/messages`, {
        token: c.owner.token,
        body: { text: 'Where did you sail every summer?' },
      });
      heard = reply.json.message;
      assert.ok(heard.audio_url, `the reply can be heard: ${reply.text}`);
    });

    /* Runs call(who) for every caller in order; collects every mismatch, then asserts none.
     * level(who) overrides the avatar rule (a conversation is its holder's alone). */
    async function matrix(route, need, ok, call, { order = WHO, prepare, level } = {}) {
      covered.add(route);
      const wrong = [];
      for (const who of order) {
        if (prepare) await prepare(who);
        const r = await call(who, tokenOf(who));
        const want = expected(level ? level(who) : levelOf(who, visibility), need, ok);
        if (r.status !== want) wrong.push(`${who}: expected ${want}, got ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status >= 400) {
          if (CODES[r.status] && r.json?.error?.code !== CODES[r.status])
            wrong.push(`${who}: HTTP ${r.status} with error code ${r.json?.error?.code} (expected ${CODES[r.status]})`);
          for (const f of ['name', 'description', 'personality'])
            if (av[f] && r.text.includes(av[f])) wrong.push(`${who}: the refused ${r.status} body leaks the ${f}: ${r.text}`);
        }
      }
      assert.deepEqual(wrong, [], `${route} on a ${visibility} avatar:\n${wrong.join('\n')}`);
    }
    const ownerOnly = (who) => (who === 'anonymous' ? 'anon' : who === 'owner' ? 'own' : 'none');

    test('GET /avatars/{id} (view)', async () => {
      await matrix('GET /api/v1/avatars/{id}', 'view', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}`, { token }));
    });

    test('GET /avatars lists it exactly for the owner, shares and (unless private) same-org users', async () => {
      const wrong = [];
      for (const who of WHO.slice(0, -1)) {
        const r = await api(srv, 'GET', '/avatars?limit=200', { token: c[who].token });
        const listed = r.json.items.some((a) => a.id === av.id);
        const want = levelOf(who, visibility) !== 'none';
        if (listed !== want) wrong.push(`${who}: listed=${listed}, expected ${want}`);
      }
      assert.deepEqual(wrong, []);
    });

    test('PATCH /avatars/{id}: content (edit), visibility (own)', async () => {
      await matrix('PATCH /api/v1/avatars/{id}', 'edit', 200, (who, token) =>
        api(srv, 'PATCH', `/avatars/${av.id}`, { token, body: { greeting: `hi from ${who}` } }),
      );
      await matrix('PATCH /api/v1/avatars/{id}', 'own', 200, (who, token) =>
        api(srv, 'PATCH', `/avatars/${av.id}`, { token, body: { visibility } }),
      );
    });

    test('shares: list (edit), add (own), remove (own)', async () => {
      await matrix('GET /api/v1/avatars/{id}/shares', 'edit', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}/shares`, { token }));
      const order = WHO.filter((w) => w !== 'owner').concat('owner'); // the owner last: it succeeds
      await matrix(
        'POST /api/v1/avatars/{id}/shares',
        'own',
        201,
        (who, token) => api(srv, 'POST', `/avatars/${av.id}/shares`, { token, body: { user_id: c.sharee.id, role: 'viewer' } }),
        { order },
      );
      await matrix(
        'DELETE /api/v1/avatars/{id}/shares/{user_id}',
        'own',
        204,
        (who, token) => api(srv, 'DELETE', `/avatars/${av.id}/shares/${c.sharee.id}`, { token }),
        { order },
      );
    });

    test('GET /avatars/{id}/export (view)', async () => {
      await matrix('GET /api/v1/avatars/{id}/export', 'view', 200, (who, token) => request(srv, 'GET', `/avatars/${av.id}/export`, { token }));
    });

    test('media: list (view), upload (edit), read (view), content (view), delete (edit)', async () => {
      await matrix('GET /api/v1/avatars/{id}/media', 'view', 200, async (who, token) => {
        const r = await api(srv, 'GET', `/avatars/${av.id}/media`, { token });
        if (r.status === 200 && !r.json.items.some((m) => m.id === media.id)) r.status = 'list without the media';
        return r;
      });
      await matrix('POST /api/v1/avatars/{id}/media', 'edit', 202, (who, token) =>
        request(srv, 'POST', `/avatars/${av.id}/media?filename=${who}.txt`, {
          token,
          headers: { 'content-type': 'text/plain' },
          body: `uploaded by ${who} to a ${visibility} avatar\n`,
        }),
      );
      await matrix('GET /api/v1/media/{id}', 'view', 200, (who, token) => api(srv, 'GET', `/media/${media.id}`, { token }));
      await matrix('GET /api/v1/media/{id}/content', 'view', 200, (who, token) => request(srv, 'GET', `/media/${media.id}/content`, { token }));
      await matrix('PATCH /api/v1/media/{id}', 'edit', 200, (who, token) =>
        api(srv, 'PATCH', `/media/${media.id}`, { token, body: { own_words: who === 'owner' } }),
      );
      let target;
      await matrix('DELETE /api/v1/media/{id}', 'edit', 204, (who, token) => api(srv, 'DELETE', `/media/${target}`, { token }), {
        prepare: async () => {
          target = (await uploadOk(srv, c.owner.token, av.id, Buffer.from(`to delete ${Math.random()}\n`), 'd.txt')).media.id;
        },
      });
    });

    test('portrait: set (edit), read (view), remove (edit)', async () => {
      const png = fixture('sample.png');
      const pic = (await uploadOk(srv, c.owner.token, av.id, png, 'portrait.png')).media;
      await matrix('PUT /api/v1/avatars/{id}/portrait', 'edit', 200, (who, token) =>
        api(srv, 'PUT', `/avatars/${av.id}/portrait`, { token, body: { media_id: pic.id } }),
      );
      await matrix('GET /api/v1/avatars/{id}/portrait', 'view', 200, (who, token) => request(srv, 'GET', `/avatars/${av.id}/portrait`, { token }));
      await matrix('DELETE /api/v1/avatars/{id}/portrait', 'edit', 204, (who, token) => api(srv, 'DELETE', `/avatars/${av.id}/portrait`, { token }));
    });

    test('memories: list and search (view), add (edit), edit (edit), versions (view), delete (edit)', async () => {
      await matrix('GET /api/v1/avatars/{id}/memories', 'view', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}/memories`, { token }));
      await matrix('GET /api/v1/avatars/{id}/memories', 'view', 200, (who, token) =>
        api(srv, 'GET', `/avatars/${av.id}/memories?q=sailed`, { token }),
      );
      await matrix('POST /api/v1/avatars/{id}/memories', 'edit', 201, (who, token) =>
        api(srv, 'POST', `/avatars/${av.id}/memories`, { token, body: { text: `a memory written by ${who}` } }),
      );
      await matrix('PATCH /api/v1/avatars/{id}/memories/{mid}', 'edit', 200, (who, token) =>
        api(srv, 'PATCH', `/avatars/${av.id}/memories/${memory.id}`, { token, body: { text: `I sailed on Lough Derg (${who}).` } }),
      );
      await matrix('GET /api/v1/avatars/{id}/memories/{mid}/versions', 'view', 200, (who, token) =>
        api(srv, 'GET', `/avatars/${av.id}/memories/${memory.id}/versions`, { token }),
      );
      let target;
      await matrix(
        'DELETE /api/v1/avatars/{id}/memories/{mid}',
        'edit',
        204,
        (who, token) => api(srv, 'DELETE', `/avatars/${av.id}/memories/${target}`, { token }),
        {
          prepare: async () => {
            target = (await api(srv, 'POST', `/avatars/${av.id}/memories`, { token: c.owner.token, body: { text: 'to delete' } })).json.id;
          },
        },
      );
    });

    test('profile (view) and personality training (edit)', async () => {
      await matrix('GET /api/v1/avatars/{id}/profile', 'view', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}/profile`, { token }));
      await matrix('POST /api/v1/avatars/{id}/training/personality', 'edit', 201, (who, token) =>
        api(srv, 'POST', `/avatars/${av.id}/training/personality`, { token, body: { text: `Well now, ${who} says hello to you all.` } }),
      );
    });

    test('conversations: start and list (view), the visitors\' (own), the owner\'s messages and audio (the owner alone)', async () => {
      await matrix('POST /api/v1/avatars/{id}/conversations', 'view', 201, (who, token) => api(srv, 'POST', `/avatars/${av.id}/conversations`, { token }));
      await matrix('GET /api/v1/avatars/{id}/conversations', 'view', 200, (who, token) => api(srv, 'GET', `/avatars/${av.id}/conversations`, { token }));
      await matrix('GET /api/v1/avatars/{id}/conversations', 'own', 200, (who, token) =>
        api(srv, 'GET', `/avatars/${av.id}/conversations?visitors=true`, { token }),
      );
      const opts = { level: ownerOnly };
      await matrix('GET /api/v1/conversations/{cid}/messages', 'own', 200, (who, token) => api(srv, 'GET', `/conversations/${conv.id}/messages`, { token }), opts);
      await matrix(
        'POST /api/v1/conversations/{cid}/messages',
        'own',
        201,
        (who, token) => api(srv, 'POST', `/conversations/${conv.id}/messages`, { token, body: { text: `hello, it's ${who}` } }),
        opts,
      );
      await matrix('GET /api/v1/messages/{mid}/audio', 'own', 200, (who, token) => request(srv, 'GET', `/messages/${heard.id}/audio`, { token }), opts);
    });

    test('DELETE /avatars/{id} (own), last', async () => {
      const order = WHO.filter((w) => w !== 'owner').concat('owner');
      await matrix('DELETE /api/v1/avatars/{id}', 'own', 202, (who, token) => api(srv, 'DELETE', `/avatars/${av.id}`, { token }), { order });
      const wrong = [];
      for (const who of WHO) {
        const want = who === 'anonymous' ? 401 : 404;
        for (const p of [`/avatars/${av.id}`, `/media/${media.id}`, `/avatars/${av.id}/memories`]) {
          const r = await api(srv, 'GET', p, { token: tokenOf(who) });
          if (r.status !== want) wrong.push(`${who}: GET ${p} after deletion: expected ${want}, got ${r.status}`);
        }
      }
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  });
}

describe('access: the matrix covers every object route', () => {
  test('each documented route with a path parameter ran in the matrix or is covered elsewhere', async () => {
    const doc = (await api(srv, 'GET', '/openapi.json')).json;
    const missing = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      if (!p.includes('{') || p.includes('/_test/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const key = `${method.toUpperCase()} ${p}`;
        if (op['x-doppel-status'] === 'not_implemented') continue;
        if (!covered.has(key) && !COVERED_ELSEWHERE[key]) missing.push(key);
      }
    }
    assert.deepEqual(missing, [], `routes missing from the access matrix:\n${missing.join('\n')}`);
  });
});

describe('access: not-found answers look alike', () => {
  test('an existing link avatar and a made-up id answer the same 404 to an outsider and a stranger', async () => {
    const av = await sharedAvatar(srv, c, { visibility: 'link' });
    const media = (await uploadOk(srv, c.owner.token, av.id, fixture('sample.png'), 'x.png')).media;
    const fake = '01a20000-0000-7000-8000-000000000000';
    const pairs = [
      ['GET', `/avatars/${av.id}`, `/avatars/${fake}`],
      ['PATCH', `/avatars/${av.id}`, `/avatars/${fake}`, { greeting: 'x' }],
      ['DELETE', `/avatars/${av.id}`, `/avatars/${fake}`],
      ['GET', `/avatars/${av.id}/media`, `/avatars/${fake}/media`],
      ['GET', `/avatars/${av.id}/memories`, `/avatars/${fake}/memories`],
      ['POST', `/avatars/${av.id}/memories`, `/avatars/${fake}/memories`, { text: 'x' }],
      ['POST', `/avatars/${av.id}/conversations`, `/avatars/${fake}/conversations`],
      ['GET', `/avatars/${av.id}/shares`, `/avatars/${fake}/shares`],
      ['GET', `/avatars/${av.id}/export`, `/avatars/${fake}/export`],
      ['GET', `/media/${media.id}`, `/media/${fake}`],
      ['GET', `/media/${media.id}/content`, `/media/${fake}/content`],
      ['DELETE', `/media/${media.id}`, `/media/${fake}`],
    ];
    for (const who of ['outsider', 'stranger']) {
      for (const [m, real, made, body] of pairs) {
        const a = await api(srv, m, real, { token: c[who].token, body });
        const b = await api(srv, m, made, { token: c[who].token, body });
        assert.equal(a.status, 404, `${who}: ${m} ${real}`);
        assert.equal(b.status, 404, `${who}: ${m} ${made}`);
        assert.equal(a.json?.error?.code, b.json?.error?.code, `${m}: same error code`);
        assert.equal(a.json?.error?.message, b.json?.error?.message, `${m}: same message`);
      }
    }
    // and the media is still there for its owner
    const g = await api(srv, 'GET', `/media/${media.id}`, { token: c.owner.token });
    assert.equal(g.status, 200);
  });
});
