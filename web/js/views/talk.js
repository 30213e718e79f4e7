// Talk: the caller's conversations with an avatar, and a text chat with streamed, cited replies.
import { get, post, streamMessage } from '../api.js';
import { navigate } from '../app.js';
import { chatBox, newestHistory } from '../chat.js';
import { busy, clear, empty, h, spinner, when } from '../ui.js';
import { portraitOf } from './avatar.js';

export async function talkTab(body, a, cid) {
  clear(body, spinner());
  const convs = (await get(`/avatars/${a.id}/conversations?limit=50`)).items;
  let visitors = [];
  if (a.access === 'owner') {
    try {
      visitors = (await get(`/avatars/${a.id}/conversations?visitors=true&limit=50`)).items;
    } catch {}
  }
  const start = async (btn) => {
    const r = await busy(btn, () => post(`/avatars/${a.id}/conversations`, {}));
    if (r) navigate(`/avatars/${a.id}/talk/${r.conversation.id}`);
  };
  if (!cid && convs.length) cid = convs[0].id;
  const newBtn = h('button.btn.primary.block', { type: 'button', onclick: (e) => start(e.target) }, 'New conversation');
  const item = (c, label) => h('li', h('a.conv', { href: `/avatars/${a.id}/talk/${c.id}`, 'aria-current': c.id === cid ? 'page' : null },
    h('span', label), h('span.tiny.muted', when(c.updated_at || c.created_at))));
  const side = h('aside.conv-list', { 'aria-label': 'Conversations' }, newBtn,
    convs.length ? h('ul', convs.map((c) => item(c, new Date(c.created_at).toLocaleString(undefined, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })))) : null,
    visitors.length ? [h('h3.side-sub', 'Visitors (legacy page)'), h('ul', visitors.map((c) => item(c, 'Visitor · ' + new Date(c.created_at).toLocaleDateString())))] : null);
  if (!cid) {
    clear(body, h('div.talk', side, h('div.talk-main', empty('chat', `Start talking with ${a.name}`,
      a.stats && a.stats.memories ? `${a.name} answers from ${a.stats.memories} memories, quoting where each answer comes from.` : `${a.name} knows nothing yet: upload letters, chats or notes in Media first, then ask about them here.`,
      h('button.btn.primary', { type: 'button', onclick: (e) => start(e.target) }, 'Start a conversation')))));
    return;
  }
  const history = await newestHistory(get, `/conversations/${cid}/messages`);
  const isVisitor = visitors.some((v) => v.id === cid);
  const chat = chatBox({
    name: a.name,
    ...history,
    citationHref: (c) => (c.memory_id ? `/avatars/${a.id}/memories/${c.memory_id}` : null),
    send: (text, on) => streamMessage(`/api/v1/conversations/${cid}/messages`, text, on),
    voice: isVisitor ? null : (mount, onClose) => import('../voice.js').then(async (m) => m.openVoice({ avatar: a, conversationId: cid, chat, mount, onClose, portraitUrl: await portraitOf(a).catch(() => null) })),
    note: a.brain === 'recall' ? 'Replies quote the avatar’s memories word for word; each quote links to the memory it came from.' : null,
  });
  if (isVisitor) chat.el.querySelector('form').hidden = true;
  clear(body, h('div.talk', side, h('div.talk-main', chat.el)));
  if (!isVisitor) chat.focus();
  return () => chat.close();
}
