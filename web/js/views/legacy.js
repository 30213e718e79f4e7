// The public memorial page /legacy/{slug}: published fields and, when allowed, a visitor conversation.
import { api, streamMessage } from '../api.js';
import { chatBox, newestHistory, shortName } from '../chat.js';
import { avatarBadge, clear, h, KIND_LABEL, spinner } from '../ui.js';

const key = (slug) => `doppel.visitor.${slug}`;

export async function legacyView({ main, params }) {
  const [slug] = params;
  document.body.classList.add('bare');
  clear(main, spinner());
  let p;
  try {
    p = await api('GET', `/legacy/${encodeURIComponent(slug)}`, undefined, { auth: false });
  } catch (e) {
    clear(main, h('div.legacy', h('div.legacy-card.center', h('h1', 'This page is not available'),
      h('p.muted', e.status === 404 ? 'The address may be mistyped, or its owner has made it private.' : e.message),
      h('a.btn', { href: '/' }, 'Go to Doppel'))));
    return;
  }
  const name = p.name || 'Someone remembered';
  const talkBox = h('section.legacy-talk');
  clear(main, h('div.legacy',
    h('article.legacy-card',
      h('div.legacy-hero', avatarBadge(name, p.portrait_url || null, 'xl'),
        h('h1', name),
        p.kind ? h('p.legacy-kind', KIND_LABEL[p.kind] || p.kind) : null,
        p.greeting ? h('blockquote.legacy-quote', p.greeting) : null),
      p.description ? h('section', h('h2', 'About'), h('p.prose', p.description)) : null,
      p.personality ? h('section', h('h2', 'Who they were'), h('p.prose', p.personality)) : null,
      p.scenario ? h('section', h('h2', 'Setting'), h('p.prose', p.scenario)) : null,
      talkBox),
    h('footer.legacy-foot', 'A memorial page made with ', h('a', { href: '/' }, 'Doppel'))));
  document.title = `${name} · Doppel`;
  if (!p.visitor_talk) {
    talkBox.append(h('p.muted.center', 'Conversations are turned off for this page.'));
    return;
  }
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(key(slug)) || 'null');
  } catch {}
  const open = async (btn) => {
    if (btn) btn.disabled = true;
    try {
      let history = { messages: [] };
      if (saved) {
        try {
          history = await newestHistory((path) => api('GET', path, undefined, { auth: false, headers: { authorization: `Visitor ${saved.token}` } }), `/legacy/${slug}/conversations/${saved.cid}/messages`);
        } catch {
          saved = null;
        }
      }
      if (!saved) {
        const r = await api('POST', `/legacy/${slug}/conversations`, {}, { auth: false });
        saved = { cid: r.conversation.id, token: r.visitor_token };
        sessionStorage.setItem(key(slug), JSON.stringify(saved));
        history = { messages: [r.message] };
      }
      const chat = chatBox({
        name,
        ...history,
        placeholder: `Ask ${shortName(name)} something…`,
        send: (text, on) => streamMessage(`/api/v1/legacy/${slug}/conversations/${saved.cid}/messages`, text, on, `Visitor ${saved.token}`),
        // Voice in the same conversation, proven by the same token (a browser's socket carries it in the query).
        voice: (mount, onClose) => import('../voice.js').then((m) => m.openVoice({
          avatar: { name },
          conversationId: saved.cid,
          chat,
          mount,
          onClose,
          portraitUrl: p.portrait_url || null,
          url: () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/legacy/${encodeURIComponent(slug)}/conversations/${saved.cid}/voice?visitor_token=${encodeURIComponent(saved.token)}`,
        })),
        note: 'Answers are quoted from what they left behind. The page’s owner can read what visitors ask.',
      });
      clear(talkBox, h('h2', `Talk with ${name}`), chat.el);
      chat.focus();
    } catch (e) {
      clear(talkBox, h('p.form-error', { role: 'alert' }, e.message));
    }
  };
  if (saved) open();
  else talkBox.append(h('div.center.stack', h('h2', `Talk with ${name}`), h('p.muted', 'Ask about their life, the people they loved, the things they said.'),
    h('button.btn.primary', { type: 'button', onclick: (e) => open(e.target) }, 'Start a conversation')));
}
