// A conversation view shared by Talk and the legacy page: messages, streamed replies, citations, audio.
import { h, icon, toast } from './ui.js';

/* The first word of a long name, for placeholders that fit a phone. */
export const shortName = (n) => (n.length > 16 ? n.split(/\s+/)[0] : n);

/*
 * A conversation's history read from its newest end, a page at a time: get(path) → {items,
 * next_cursor}. Returns {messages (the newest page, oldest first), hasEarlier, loadEarlier} for
 * chatBox, so that a long history is never read whole.
 */
export async function newestHistory(get, path, limit = 100) {
  const page = async (before) => {
    const r = await get(`${path}?order=desc&limit=${limit}` + (before ? '&before=' + encodeURIComponent(before) : ''));
    cursor = r.next_cursor;
    return r.items.reverse();
  };
  let cursor = null;
  const messages = await page(null);
  return {
    messages,
    hasEarlier: !!cursor,
    loadEarlier: async () => ({ messages: await page(cursor), more: !!cursor }),
  };
}

/*
 * opts: {name (the avatar's), messages (the newest page, oldest first), hasEarlier, loadEarlier() →
 *        Promise<{messages, more}>, send(text, on) → Promise<message> (on: delta/citation/done),
 *        citationHref(c) → URL or null, placeholder, disabledNote}
 * Returns {el, focus()}.
 */
export function chatBox(opts) {
  const log = h('ol.chat-log', { 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const input = h('textarea.chat-input', { rows: 1, placeholder: opts.placeholder || `Message ${shortName(opts.name)}…`, 'aria-label': 'Your message', maxlength: 4000 });
  const sendBtn = h('button.btn.primary.send', { type: 'submit', 'aria-label': 'Send' }, 'Send');
  // opts.voice(mount) opens a voice panel (mount(el) puts it above the composer) → {close()}.
  let voiceOn = null;
  const voice = opts.voice ? h('button.btn.ghost.voice', {
    type: 'button',
    'aria-pressed': 'false',
    onclick: async () => {
      if (voiceOn) return voiceOn.close();
      voice.setAttribute('aria-pressed', 'true');
      voiceOn = await opts.voice((panel) => form.before(panel), () => {
        voiceOn = null;
        voice.setAttribute('aria-pressed', 'false');
      });
    },
  }, icon('mic'), 'Voice') : null;
  const form = h('form.chat-form', {
    onsubmit: (e) => {
      e.preventDefault();
      submit();
    },
  }, input, h('div.chat-actions', voice, sendBtn));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  });

  const scroll = () => {
    log.scrollTop = log.scrollHeight;
  };

  function bubble(m) {
    const mine = m.role === 'user';
    const text = h('div.bubble-text', m.text || '');
    const cites = h('ul.citations');
    const foot = h('div.bubble-foot');
    const at = m.created_at ? new Date(m.created_at) : new Date();
    const li = h('li.msg.' + (mine ? 'mine' : 'theirs'), { dataset: { id: m.id || '' } },
      h('div.bubble', { title: at.toLocaleString() }, h('span.visually-hidden', mine ? 'You: ' : `${opts.name}: `), text, cites, foot));
    const addCitation = (c) => {
      if (!cites.childElementCount) cites.before(h('div.cite-head', 'From memory'));
      const href = opts.citationHref ? opts.citationHref(c) : null;
      const label = c.field ? `${c.field}: ${c.text}` : c.text;
      const short = label.length > 160 ? label.slice(0, 157) + '…' : label;
      cites.append(h('li', href ? h('a.cite', { href, title: label }, short) : h('span.cite', { title: label }, short)));
    };
    const finish = (msg) => {
      if (msg.text != null) text.textContent = msg.text;
      if (msg.citations && msg.citations.length && !cites.childElementCount) msg.citations.forEach(addCitation);
      if (msg.audio_url) {
        const audio = h('audio', { src: msg.audio_url, preload: 'none' });
        const play = h('button.btn.ghost.sm.play', {
          type: 'button',
          'aria-label': 'Play this reply',
          onclick: () => {
            if (audio.paused) audio.play().catch((e) => toast('Could not play the audio: ' + e.message, 'error'));
            else audio.pause();
          },
        }, icon('play'), 'Play');
        const label = (on) => play.replaceChildren(icon(on ? 'pause' : 'play'), on ? 'Pause' : 'Play');
        audio.addEventListener('play', () => label(true));
        audio.addEventListener('pause', () => label(false));
        audio.addEventListener('ended', () => label(false));
        foot.append(play, audio);
      }
      if (msg.id) li.dataset.id = msg.id;
    };
    if (!mine) finish(m);
    return { li, text, addCitation, finish };
  }

  function add(m) {
    const b = bubble(m);
    log.append(b.li);
    scroll();
    return b;
  }

  let sending = false;
  async function submit() {
    const t = input.value.trim();
    if (!t || sending) return;
    sending = true;
    sendBtn.disabled = true;
    input.value = '';
    input.style.height = '';
    add({ role: 'user', text: t });
    const b = add({ role: 'avatar', text: '' });
    b.li.classList.add('streaming');
    b.text.append(h('span.typing', { 'aria-label': `${opts.name} is answering` }, h('i'), h('i'), h('i')));
    let got = '';
    try {
      const msg = await opts.send(t, {
        delta: (d) => {
          got += d;
          b.text.textContent = got;
          scroll();
        },
        citation: (c) => b.addCitation(c),
      });
      if (msg) b.finish(msg);
    } catch (e) {
      b.li.classList.add('failed');
      b.text.textContent = got || '';
      b.text.append(h('span.msg-error', { role: 'alert' }, e.message));
    } finally {
      b.li.classList.remove('streaming');
      sending = false;
      sendBtn.disabled = false;
      scroll();
      input.focus();
    }
  }

  // A long history shows its latest page; opts.loadEarlier() → {messages (oldest first), more}
  // brings the page before it from the server, on demand.
  for (const m of opts.messages || []) add(m);
  if (opts.loadEarlier && opts.hasEarlier) {
    const earlier = h('li.earlier', h('button.btn.ghost.sm', {
      type: 'button',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const page = await opts.loadEarlier();
          const before = log.scrollHeight - log.scrollTop;
          earlier.after(...page.messages.map((m) => bubble(m).li));
          if (!page.more) earlier.remove();
          log.scrollTop = log.scrollHeight - before;
        } catch (err) {
          toast(err.message, 'error');
        } finally {
          e.target.disabled = false;
        }
      },
    }, 'Show earlier messages'));
    log.prepend(earlier);
  }
  const el = h('div.chat', log, form, opts.note ? h('p.tiny.muted.chat-note', opts.note) : null);
  requestAnimationFrame(scroll);
  return { el, focus: () => input.focus(), add, close: () => voiceOn && voiceOn.close() };
}
