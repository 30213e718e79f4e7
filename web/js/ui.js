// Small DOM helpers shared by the views: element builder, toasts, dialogs, formatting.

/* h('div.card#x', {onclick, class, ...attrs}, children…) — children: nodes, strings, arrays, null. */
export function h(sel, attrs, ...kids) {
  if (attrs == null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    kids.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(sel);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2])
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

export function clear(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

/* Text with «marked» words as <mark> elements. */
export function highlighted(text) {
  const out = [];
  const re = /«([^»]*)»/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('mark', m[1]));
    last = re.lastIndex;
  }
  out.push(text.slice(last));
  return out;
}

let toastBox;
/* A short message at the bottom of the screen; kind: 'ok' | 'error' | 'info'. */
export function toast(msg, kind = 'info') {
  if (!toastBox) {
    toastBox = h('div.toasts', { role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const t = h('div.toast.' + kind, msg);
  toastBox.append(t);
  while (toastBox.childElementCount > 3) toastBox.firstChild.remove();
  setTimeout(() => t.classList.add('out'), 3600);
  setTimeout(() => t.remove(), 4000);
}

/* A modal dialog; body: nodes; actions: [{label, kind, value}]; opts.cancel (default true): a Cancel
 * button. Resolves with the chosen value, or null (Cancel, Escape). */
export function dialog(title, body, actions = [{ label: 'OK', kind: 'primary', value: true }], opts = {}) {
  return new Promise((resolve) => {
    const d = h('dialog.modal', { 'aria-labelledby': 'dlg-title' });
    const form = h('form', { method: 'dialog' },
      h('h2#dlg-title', title),
      h('div.modal-body', body),
      h('div.modal-actions',
        opts.cancel === false ? null : h('button.btn.ghost', { value: '', type: 'submit' }, 'Cancel'),
        actions.map((a, i) => h('button.btn.' + (a.kind || 'primary'), { value: String(i), type: 'submit' }, a.label))));
    d.append(form);
    document.body.append(d);
    d.addEventListener('close', () => {
      const v = d.returnValue;
      d.remove();
      resolve(v === '' || v == null ? null : actions[Number(v)].value);
    });
    d.showModal();
  });
}

export const confirmDanger = (title, text, label = 'Delete') =>
  dialog(title, h('p', text), [{ label, kind: 'danger', value: true }]);

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

/* A hue (0–359) made from a name, the same for the same name everywhere. */
export const hueOf = (name) => [...String(name || '')].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 360, 7);

/* A round picture: the image URL when given, else the initials on a colour made from the name. */
export function avatarBadge(name, url, size = '') {
  const hue = hueOf(name);
  const el = h('span.badge' + (size ? '.' + size : ''), { 'aria-hidden': 'true' });
  el.style.setProperty('--hue', hue);
  if (url) el.append(h('img', { src: url, alt: '' }));
  else el.append(initials(name));
  return el;
}

export function bytes(n) {
  if (n == null) return '';
  if (n < 1024) return n + ' B';
  const u = ['KB', 'MB', 'GB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < 2);
  return n.toFixed(n < 10 ? 1 : 0) + ' ' + u[i];
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const s = (Date.now() - d) / 1000;
  if (s < 45) return 'just now';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  if (s < 7 * 86400) return Math.round(s / 86400) + ' d ago';
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function ms(t) {
  if (t == null) return '';
  const s = Math.floor(t / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/* A labelled form field; input: an element. */
export function field(label, input, hint) {
  const id = input.id || 'f-' + Math.random().toString(36).slice(2, 8);
  input.id = id;
  return h('div.field', h('label', { for: id }, label), input, hint ? h('p.hint', hint) : null);
}

export function empty(ic, title, text, action) {
  return h('div.empty', h('div.empty-icon', { 'aria-hidden': 'true' }, typeof ic === 'string' ? icon(ic) : ic), h('h3', title), h('p', text), action || null);
}

export function spinner(label = 'Loading…') {
  return h('div.loading', { role: 'status' }, h('span.spin', { 'aria-hidden': 'true' }), label);
}

/* Disables a button while an async action runs; shows the error as a toast (or in errEl). */
export async function busy(btn, fn, errEl) {
  if (btn) btn.disabled = true;
  if (errEl) errEl.textContent = '';
  try {
    return await fn();
  } catch (e) {
    if (errEl) errEl.textContent = e.message;
    else toast(e.message, 'error');
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}

export const KIND_LABEL = { self: 'Digital twin', legacy: 'Legacy', character: 'Character', trainer: 'Trainer' };

const ICONS = {
  file: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M8 13h8M8 17h5',
  image: 'M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM21 15l-5-5L5 21',
  audio: 'M9 18V5l12-2v13M6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM18 19a3 3 0 1 0 0-6 3 3 0 0 0 0 6z',
  video: 'M23 7l-7 5 7 5zM3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z',
  mic: 'M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3zM19 10v2a7 7 0 0 1-14 0v-2M12 19v4M8 23h8',
  upload: 'M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M17 8l-5-5-5 5M12 3v12',
  chat: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z',
  lock: 'M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4',
  star: 'M12 2l2.9 6.9 7.1.6-5.4 4.7 1.7 7.3L12 17.6l-6.3 3.9 1.7-7.3L2 9.5l7.1-.6z',
  play: 'M7 4l13 8-13 8z',
  pause: 'M7 4h3v16H7zM14 4h3v16h-3z',
  help: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3M12 17h.01',
};

/* A stroked 24×24 icon (decorative: hidden from screen readers). */
export function icon(name, cls = '') {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon ' + cls);
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', ICONS[name] || ICONS.file);
  svg.append(p);
  return svg;
}
