// People chat (/chats, /chats/{id}): the caller's chats with last message and unread count, a
// conversation with history paged on scroll, optimistic sends that a retry never duplicates
// (client_id), live delivery, typing, presence and "Seen" over the events socket, replies that
// quote the message answered, image and voice-note attachments, contact requests.
import { del, get, patch, post, session } from '../api.js';
import { attachmentsEl, uploadAttachment } from '../chat-attachments.js';
import { navigate } from '../app.js';
import { presence, resync, subscribe, send as sendEvent } from '../events.js';
import { avatarBadge, busy, clear, confirmDanger, dialog, empty, h, spinner, toast, when } from '../ui.js';
import { contactsDialog } from './contacts.js';

const PAGE = 50;
const TYPING_EVERY = 2500; // ms between typing.start refreshes while keys keep coming
const TYPING_IDLE = 4000; // ms without a key before typing.stop

const newId = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));

/* The chat's name for the caller: its title, else the other members' names. */
function chatName(c) {
  if (c.title) return c.title;
  const others = c.members.filter((m) => m.id !== session.user.id).map((m) => m.display_name);
  return others.join(', ') || 'Only you';
}

const otherOf = (c) => (c.kind === 'direct' ? c.members.find((m) => m.id !== session.user.id) : null);

function preview(m) {
  if (!m) return 'No messages yet';
  if (m.deleted) return 'Message deleted';
  const who = m.sender_id === session.user.id ? 'You: ' : '';
  return who + (m.text || (m.attachments && m.attachments.length ? 'Attachment' : ''));
}

function unavailable(main) {
  clear(main, h('div.page', h('h1', 'Chats'), empty('chat', 'Chats are not available on this server yet',
    'Messaging other people arrives with a later release of the server. Everything else keeps working.')));
}

export async function chatsView({ params, main, isCurrent }) {
  const [chatId] = params;
  clear(main, h('div.page', spinner()));
  let chats;
  try {
    chats = (await get(`/chats?limit=100`)).items;
  } catch (e) {
    if (e.code === 'not_implemented' || e.status === 404 || e.status === 501) return unavailable(main);
    throw e;
  }
  if (!isCurrent()) return;
  const listEl = h('ul.chat-list', { 'aria-label': 'Chats' });
  const banner = h('p.conn-banner', { role: 'status', hidden: true });
  const pane = h('section.chat-pane', { 'aria-label': 'Conversation' });
  const newBtn = h('button.btn.primary.sm', { type: 'button', onclick: () => startChat() }, 'New chat');
  const contactsBtn = h('button.btn.ghost.sm.contacts', { type: 'button', onclick: () => contactsDialog(async (u) => {
    try {
      const c = await post('/chats', { participants: [u.id] });
      if (!chats.some((x) => x.id === c.id)) {
        chats.unshift(c);
        resync();
      }
      navigate(`/chats/${c.id}`);
    } catch (e) {
      toast(e.message, 'error');
    }
  }) }, 'Contacts');
  const listPane = h('aside.chat-side', h('div.chat-side-head', h('h1', 'Chats'), contactsBtn, newBtn), banner, listEl);
  const root = h('div.people' + (chatId ? '.has-open' : ''), listPane, pane);
  clear(main, h('div.page.people-page', root));

  let open = null; // the conversation shown: {chat, …controls}

  function dot(uid) {
    const p = presence.get(uid);
    const st = (p && p.status) || 'offline';
    return h('span.presence.' + st, { title: st === 'offline' && p && p.last_seen ? `Last seen ${when(p.last_seen)}` : st, 'aria-label': st });
  }

  function renderList() {
    chats.sort((a, b) => String(b.last_message ? b.last_message.created_at : b.updated_at).localeCompare(String(a.last_message ? a.last_message.created_at : a.updated_at)));
    if (!chats.length) {
      clear(listEl, h('li.side-empty', 'No chats yet. Start one with “New chat”: you can write to people of your organisation and people you share an avatar with.'));
      return;
    }
    clear(listEl, chats.map((c) => {
      const other = otherOf(c);
      const name = chatName(c);
      const unread = open && open.chat.id === c.id ? 0 : c.unread;
      return h('li', h('a.chat-item', { href: `/chats/${c.id}`, 'aria-current': open && open.chat.id === c.id ? 'page' : null, dataset: { chat: c.id } },
        h('span.chat-pic', avatarBadge(name, null), other ? dot(other.id) : null),
        h('span.chat-item-text', h('span.chat-item-top', h('span.chat-item-name', name), h('span.tiny.muted', when(c.last_message ? c.last_message.created_at : c.updated_at))),
          h('span.chat-item-last', preview(c.last_message))),
        unread ? h('span.unread', { 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : String(unread)) : null));
    }));
  }

  async function startChat() {
    const q = h('input', { type: 'search', placeholder: 'Name or e-mail', 'aria-label': 'Find a person', autocomplete: 'off' });
    const results = h('ul.people-results', { 'aria-live': 'polite' });
    const picked = new Map(); // user id → {id, display_name}: one is a direct chat, more a group
    let seq = 0;
    const d = dialog('New chat', [q, h('p.hint', 'People of your organisation and people you share an avatar with; others by their exact e-mail. Pick several for a group.'), results], [{ label: 'Start chat', kind: 'primary', value: 'go' }]);
    q.addEventListener('input', () => {
      const text = q.value.trim();
      const mine = ++seq;
      if (text.length < 2) return clear(results);
      setTimeout(async () => {
        if (mine !== seq) return;
        try {
          const r = await get('/users/search?q=' + encodeURIComponent(text));
          if (mine !== seq) return;
          clear(results, r.items.length ? r.items.map((u) => h('li', h('label.person', h('input', { type: 'checkbox', name: 'person', value: u.id, checked: picked.has(u.id), onchange: (e) => (e.target.checked ? picked.set(u.id, u) : picked.delete(u.id)) }), avatarBadge(u.display_name, null, 'sm'), u.display_name)))
            : h('li.muted', 'Nobody found.'));
        } catch (e) {
          clear(results, h('li.form-error', e.message));
        }
      }, 200);
    });
    setTimeout(() => q.focus(), 0);
    if ((await d) !== 'go' || !picked.size) return;
    try {
      const c = await post('/chats', { participants: [...picked.keys()], group: picked.size > 1 });
      if (!chats.some((x) => x.id === c.id)) {
        chats.unshift(c);
        resync(); // the new partner's presence
      }
      navigate(`/chats/${c.id}`);
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  let bannerTimer = 0;
  const unsub = subscribe((f) => {
    const d = f.data || {};
    if (f.type === 'connection') {
      // A reconnect that takes a moment is not worth a banner.
      clearTimeout(bannerTimer);
      if (d.state === 'open' || d.state === 'closed') banner.hidden = true;
      else bannerTimer = setTimeout(() => {
        banner.hidden = false;
        banner.textContent = d.state === 'unavailable' ? 'Live updates are not available on this server yet: reload to see new messages.'
          : d.state === 'ended' ? 'You were signed out: sign in again to see new messages.' : 'Reconnecting…';
      }, d.state === 'unavailable' || d.state === 'ended' ? 0 : 1500);
      return;
    }
    if (f.type === 'presence') {
      renderList();
      if (open) open.header();
      return;
    }
    if (f.type === 'message.new' || f.type === 'message.updated') {
      let c = chats.find((x) => x.id === d.chat_id);
      if (!c) {
        // A chat started by someone else: fetch it once.
        get(`/chats/${d.chat_id}`).then((nc) => {
          if (!chats.some((x) => x.id === nc.id)) {
            chats.unshift(nc);
            resync();
          }
          renderList();
        }).catch(() => {});
        return;
      }
      if (f.type === 'message.new') {
        if (!c.last_message || d.seq >= c.last_message.seq) c.last_message = d;
        if (d.seq > c.last_seq) {
          c.last_seq = d.seq;
          if (d.sender_id !== session.user.id && !(open && open.chat.id === c.id)) c.unread++;
        }
      } else if (c.last_message && c.last_message.id === d.id) c.last_message = d;
      if (open && open.chat.id === c.id) open.onMessage(d, f.type === 'message.new');
      renderList();
      return;
    }
    if (f.type === 'receipt.read') {
      const c = chats.find((x) => x.id === d.chat_id);
      if (!c) return;
      const m = c.members.find((x) => x.id === d.user_id);
      if (m && d.up_to > m.last_read_seq) m.last_read_seq = d.up_to;
      if (d.user_id === session.user.id) {
        c.last_read_seq = Math.max(c.last_read_seq, d.up_to);
        c.unread = Math.min(c.unread, Math.max(0, c.last_seq - c.last_read_seq));
        renderList();
      }
      if (open && open.chat.id === c.id) open.seen();
      return;
    }
    if ((f.type === 'typing.start' || f.type === 'typing.stop') && open && open.chat.id === d.chat_id) open.typing(d.user_id, f.type === 'typing.start' ? d.expires_in_ms || 6000 : 0);
  });

  if (chatId) {
    let c = chats.find((x) => x.id === chatId);
    if (!c) {
      try {
        c = await get(`/chats/${chatId}`);
        chats.unshift(c);
      } catch (e) {
        clear(pane, h('div.alert.error', { role: 'alert' }, e.message));
      }
    }
    if (c && isCurrent()) open = conversation(pane, c, presence, dot);
  } else {
    clear(pane, empty('chat', 'Pick a chat', chats.length ? 'Choose a chat on the left, or start a new one.' : 'Start a chat with someone you know on this server.', h('button.btn.primary', { type: 'button', onclick: () => startChat() }, 'New chat')));
  }
  renderList();
  return () => {
    unsub();
    clearTimeout(bannerTimer);
    if (open) open.close();
  };
}

/* One chat: history (oldest at the top, older pages when scrolled up), the composer, live updates. */
function conversation(pane, chat, presence, dot) {
  const me = session.user.id;
  const nameOf = (uid) => (chat.members.find((m) => m.id === uid) || { display_name: 'Someone' }).display_name;
  const log = h('ol.chat-log.people-log', { 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typingEl = h('p.typing-line', { 'aria-live': 'polite' });
  const headInfo = h('span.tiny.muted.chat-status');
  const muteBtn = h('button.btn.ghost.sm.mute', { type: 'button', 'aria-pressed': String(chat.muted) }, chat.muted ? 'Unmute' : 'Mute');
  muteBtn.addEventListener('click', async () => {
    const r = await busy(muteBtn, () => patch(`/chats/${chat.id}`, { muted: !chat.muted }));
    if (!r) return;
    chat.muted = r.muted;
    muteBtn.textContent = chat.muted ? 'Unmute' : 'Mute';
    muteBtn.setAttribute('aria-pressed', String(chat.muted));
    toast(chat.muted ? 'Muted: its messages no longer count as unread in the sidebar.' : 'Unmuted.', 'ok');
  });
  const head = h('header.chat-head', h('a.btn.ghost.sm.back', { href: '/chats', 'aria-label': 'All chats' }, '‹ Chats'),
    h('div.chat-head-text', h('h2', chatName(chat)), headInfo), muteBtn);
  const input = h('textarea.chat-input', { rows: 1, placeholder: `Message ${chatName(chat)}…`, 'aria-label': 'Your message', maxlength: 4000 });
  const sendBtn = h('button.btn.primary.send', { type: 'submit' }, 'Send');
  const fileIn = h('input', { type: 'file', accept: 'image/*,audio/*', hidden: true, 'aria-label': 'Attach an image or a voice note' });
  const attachBtn = h('button.btn.ghost.attach', { type: 'button', 'aria-label': 'Attach an image or a voice note', onclick: () => fileIn.click() }, 'Attach');
  fileIn.addEventListener('change', () => {
    const f = fileIn.files[0];
    fileIn.value = '';
    if (f) sendFile(f);
  });
  const replyBar = h('div.reply-bar', { hidden: true });
  const form = h('form.chat-form', { onsubmit: (e) => { e.preventDefault(); submit(); } }, replyBar, input, h('div.chat-actions', fileIn, attachBtn, sendBtn));
  clear(pane, h('div.chat.people-chat', head, log, typingEl, form));

  const rows = new Map(); // message id or client id → {li, msg}
  let oldest = null; // the smallest seq shown
  let more = true;
  let loading = false;
  let editing = null;
  let replyTo = null; // the message the next send answers

  const snippet = (m) => (m.deleted ? 'Message deleted' : (m.text || (m.attachments && m.attachments.length ? 'Attachment' : '')).slice(0, 120));
  function startReply(m) {
    replyTo = m;
    clear(replyBar, h('span.reply-to', 'Replying to ', h('strong', m.sender_id === me ? 'yourself' : nameOf(m.sender_id)), ': ', snippet(m)),
      h('button.linkish', { type: 'button', 'aria-label': 'Cancel the reply', onclick: cancelReply }, '✕'));
    replyBar.hidden = false;
    input.focus();
  }
  function cancelReply() {
    replyTo = null;
    replyBar.hidden = true;
    clear(replyBar);
  }
  /* The quote of the message m answers (as loaded; "an earlier message" when it is not). */
  function quoteOf(m) {
    if (!m.reply_to) return null;
    const q = rows.get(m.reply_to);
    return h('blockquote.reply-quote', { dataset: { replyTo: m.reply_to } },
      q ? [h('strong', q.msg.sender_id === me ? 'You' : nameOf(q.msg.sender_id)), ' ', snippet(q.msg)] : 'An earlier message');
  }

  function header() {
    const other = otherOf(chat);
    if (other) {
      const p = presence.get(other.id);
      const st = (p && p.status) || null;
      clear(headInfo, st ? [dot(other.id), ' ', st === 'offline' ? (p.last_seen ? `last seen ${when(p.last_seen)}` : 'offline') : st] : '');
    } else clear(headInfo, `${chat.members.length} members`);
  }
  header();

  function bubble(m, pending) {
    const mine = m.sender_id === me;
    const text = h('div.bubble-text', m.deleted ? h('em', 'Message deleted') : m.text || '');
    const meta = h('span.msg-meta', new Date(m.created_at || Date.now()).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }), m.edited_at && !m.deleted ? ' · edited' : '');
    const status = h('span.msg-status');
    const actions = !m.deleted && !pending ? h('span.msg-actions',
      h('button.linkish', { type: 'button', 'aria-label': 'Reply to message', onclick: () => startReply(m) }, 'Reply'),
      mine ? h('button.linkish', { type: 'button', 'aria-label': 'Edit message', onclick: () => startEdit(m) }, 'Edit') : null,
      mine ? h('button.linkish', { type: 'button', 'aria-label': 'Delete message', onclick: () => remove(m) }, 'Delete') : null) : null;
    const li = h('li.msg.' + (mine ? 'mine' : 'theirs'), { dataset: { id: m.id || '', seq: m.seq || '' } },
      h('div.bubble', { title: new Date(m.created_at || Date.now()).toLocaleString() },
        chat.kind === 'group' && !mine ? h('span.msg-sender', nameOf(m.sender_id)) : h('span.visually-hidden', mine ? 'You: ' : nameOf(m.sender_id) + ': '),
        quoteOf(m), text, attachmentsEl(chat.id, m), h('div.bubble-foot', meta, status, actions)));
    return { li, msg: m, status };
  }

  function place(m, row) {
    // Keep seq order: most arrive at the end; a late one finds its place.
    let next = null;
    for (let n = log.lastElementChild; n; n = n.previousElementSibling) {
      const s = Number(n.dataset.seq);
      if (!s) continue;
      if (s < m.seq) break;
      next = n;
    }
    if (next) next.before(row.li);
    else log.append(row.li);
  }

  function show(m) {
    const old = rows.get(m.id) || (m.client_id && rows.get('c:' + m.client_id));
    const row = bubble(m, false);
    if (old) old.li.replaceWith(row.li);
    else place(m, row);
    rows.set(m.id, row);
    if (m.client_id) rows.set('c:' + m.client_id, row);
    if (oldest == null || m.seq < oldest) oldest = m.seq;
    return row;
  }

  /* "Seen" under my newest message that every other member has read. */
  function seen() {
    for (const el of log.querySelectorAll('.msg-status.seen')) {
      el.textContent = '';
      el.classList.remove('seen');
    }
    const others = chat.members.filter((x) => x.id !== me);
    if (!others.length) return;
    const readBy = Math.min(...others.map((x) => x.last_read_seq));
    let best = null;
    for (const row of rows.values()) if (row.msg.sender_id === me && row.msg.seq && row.msg.seq <= readBy && (!best || row.msg.seq > best.msg.seq)) best = row;
    if (best) {
      best.status.textContent = ' · Seen';
      best.status.classList.add('seen');
    }
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const toBottom = () => (log.scrollTop = log.scrollHeight);

  async function loadOlder() {
    if (loading || !more) return;
    loading = true;
    const before = log.scrollHeight - log.scrollTop;
    try {
      const r = await get(`/chats/${chat.id}/messages?limit=${PAGE}` + (oldest ? `&before=${oldest}` : ''));
      for (const m of r.items) show(m); // newest first: each goes above the last
      more = !!r.next_cursor;
      log.scrollTop = log.scrollHeight - before;
      seen();
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      loading = false;
    }
  }
  log.addEventListener('scroll', () => log.scrollTop < 60 && loadOlder());

  let readUpTo = chat.last_read_seq;
  async function markRead() {
    if (document.visibilityState === 'hidden') return;
    const top = chat.last_seq;
    if (top <= readUpTo) return;
    readUpTo = top;
    chat.unread = 0;
    try {
      await post(`/chats/${chat.id}/read`, { up_to: top });
    } catch {}
  }
  const onVisible = () => document.visibilityState === 'visible' && markRead();
  document.addEventListener('visibilitychange', onVisible);

  /* typing: mine out, theirs in */
  let typingSent = 0;
  let typingIdle = 0;
  const stopTyping = () => {
    clearTimeout(typingIdle);
    if (typingSent) sendEvent({ type: 'typing.stop', chat_id: chat.id });
    typingSent = 0;
  };
  input.addEventListener('input', () => {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
    if (!input.value.trim()) return stopTyping();
    if (Date.now() - typingSent > TYPING_EVERY) {
      sendEvent({ type: 'typing.start', chat_id: chat.id });
      typingSent = Date.now();
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, TYPING_IDLE);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && editing) cancelEdit();
  });
  const typers = new Map(); // user id → timer
  function typing(uid, ms) {
    clearTimeout(typers.get(uid));
    if (ms) typers.set(uid, setTimeout(() => typing(uid, 0), ms + 500));
    else typers.delete(uid);
    const names = [...typers.keys()].map(nameOf);
    typingEl.textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  }

  /* sending: optimistic, retried with the same client_id */
  async function deliver(body, clientId, pendingRow) {
    pendingRow.li.classList.remove('failed');
    pendingRow.status.textContent = ' · Sending…';
    try {
      const r = await post(`/chats/${chat.id}/messages`, { ...body, client_id: clientId });
      const m = r.message;
      if (m.seq > chat.last_seq) chat.last_seq = m.seq;
      readUpTo = Math.max(readUpTo, m.seq);
      if (!rows.has(m.id) || rows.get(m.id) === pendingRow) show(m);
      else pendingRow.li.remove(); // the live event came first
      seen();
    } catch (e) {
      pendingRow.li.classList.add('failed');
      clear(pendingRow.status, ' · Not sent: ' + e.message + ' ', h('button.linkish', { type: 'button', onclick: () => deliver(body, clientId, pendingRow) }, 'Retry'));
    }
  }

  async function submit() {
    const text = input.value.trim();
    if (!text) return;
    if (editing) return saveEdit(text);
    input.value = '';
    input.style.height = '';
    stopTyping();
    const body = replyTo ? { text, reply_to: replyTo.id } : { text };
    cancelReply();
    await sendBody(body);
  }

  /* An optimistic row for body, then the send (retried with the same client_id). */
  async function sendBody(body) {
    const empty0 = log.querySelector('.chat-empty');
    if (empty0) empty0.remove();
    const clientId = newId();
    const row = bubble({ sender_id: me, text: body.text, reply_to: body.reply_to, created_at: new Date().toISOString(), client_id: clientId }, true);
    row.li.classList.add('pending');
    log.append(row.li);
    rows.set('c:' + clientId, row);
    toBottom();
    input.focus();
    await deliver(body, clientId, row);
  }

  /* An image or voice note: uploaded as the caller's media, then sent attached. */
  async function sendFile(file) {
    const was = attachBtn.textContent;
    attachBtn.disabled = true;
    try {
      const id = await uploadAttachment(file, (t) => (attachBtn.textContent = t));
      const body = { attachments: [id], ...(replyTo ? { reply_to: replyTo.id } : {}) };
      if (input.value.trim() && !editing) {
        body.text = input.value.trim();
        input.value = '';
      }
      cancelReply();
      await sendBody(body);
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      attachBtn.disabled = false;
      attachBtn.textContent = was;
    }
  }

  function startEdit(m) {
    editing = m;
    input.value = m.text || '';
    sendBtn.textContent = 'Save';
    form.classList.add('editing');
    input.focus();
  }
  function cancelEdit() {
    editing = null;
    input.value = '';
    sendBtn.textContent = 'Send';
    form.classList.remove('editing');
  }
  async function saveEdit(text) {
    const m = editing;
    const r = await busy(sendBtn, () => patch(`/chats/${chat.id}/messages/${m.id}`, { text }));
    if (!r) return;
    show(r.message);
    cancelEdit();
    seen();
  }
  async function remove(m) {
    if (!(await confirmDanger('Delete this message?', 'It is deleted for everyone in this chat.'))) return;
    try {
      const r = await del(`/chats/${chat.id}/messages/${m.id}`);
      show(r.message);
      seen();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  function onMessage(m, isNew) {
    const empty0 = log.querySelector('.chat-empty');
    if (empty0) empty0.remove();
    const stick = nearBottom() || m.sender_id === me;
    if (!isNew && !rows.has(m.id)) return; // an edit of a message not loaded
    show(m);
    if (isNew && m.sender_id !== me) typing(m.sender_id, 0);
    if (stick) toBottom();
    seen();
    if (isNew) markRead();
  }

  // The history loads while live events already land here (show() keeps seq order, once each).
  (async () => {
    await loadOlder();
    toBottom();
    if (!rows.size) log.append(h('li.list-empty.chat-empty', 'No messages yet. Say hello!'));
    // Fill a tall screen: page on until it scrolls or the history ends.
    while (more && log.scrollHeight <= log.clientHeight) await loadOlder();
    toBottom();
    markRead();
  })();
  input.focus();
  return {
    chat,
    onMessage,
    seen,
    typing,
    header,
    close() {
      stopTyping();
      document.removeEventListener('visibilitychange', onVisible);
      for (const t of typers.values()) clearTimeout(t);
    },
  };
}
