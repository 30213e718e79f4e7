// Contact requests (a dialog of the chats page): people who asked the caller (accept or decline),
// requests the caller sent (withdraw), contacts (message or remove), and a request by contact code
// (a user id, given by its owner: strangers cannot be searched for). An accepted contact may be
// messaged like a colleague.
import { del, get, post, session } from '../api.js';
import { avatarBadge, clear, dialog, h, toast } from '../ui.js';

export async function contactsDialog(onMessage) {
  const list = h('ul.contact-list', { 'aria-label': 'Contacts and requests' });
  const code = h('input', { type: 'text', placeholder: 'Their contact code', 'aria-label': 'Contact code', autocomplete: 'off', spellcheck: false });
  async function act(fn, done) {
    try {
      await fn();
      if (done) toast(done, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    render();
  }
  async function render() {
    let items;
    try {
      items = (await get('/contacts')).items;
    } catch (e) {
      return clear(list, h('li.form-error', e.message));
    }
    if (!items.length) return clear(list, h('li.muted', 'No contacts or requests yet.'));
    clear(list, items.map((c) => {
      const u = c.user;
      const btns = c.status === 'accepted'
        ? [h('button.btn.sm.message', { type: 'button', onclick: (e) => { e.target.closest('dialog').close(); onMessage(u); } }, 'Message'), h('button.btn.ghost.sm', { type: 'button', onclick: () => act(() => del(`/contacts/${u.id}`)) }, 'Remove')]
        : c.direction === 'incoming'
          ? [h('button.btn.primary.sm.accept', { type: 'button', onclick: () => act(() => post(`/contacts/${u.id}/accept`), `${u.display_name} is now a contact.`) }, 'Accept'),
            h('button.btn.ghost.sm.decline', { type: 'button', onclick: () => act(() => del(`/contacts/${u.id}`)) }, 'Decline')]
          : [h('button.btn.ghost.sm', { type: 'button', onclick: () => act(() => del(`/contacts/${u.id}`)) }, 'Withdraw')];
      const label = c.status === 'accepted' ? 'contact' : c.direction === 'incoming' ? 'asks to be your contact' : 'request sent';
      return h('li.contact', { dataset: { user: u.id, status: c.status, direction: c.direction } }, avatarBadge(u.display_name, null, 'sm'),
        h('span.contact-name', u.display_name), h('span.tiny.muted', label), h('span.contact-actions', btns));
    }));
  }
  // Strangers cannot be searched for (no address book of the server): they swap contact codes.
  async function ask() {
    const id = code.value.trim();
    if (!id) return;
    await act(() => post('/contacts', { user_id: id }), 'Request sent.');
    code.value = '';
  }
  code.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      ask();
    }
  });
  const mine = h('code.contact-code', session.user.id);
  const copy = h('button.btn.ghost.sm', { type: 'button', onclick: () => navigator.clipboard && navigator.clipboard.writeText(session.user.id).then(() => toast('Copied.', 'ok'), () => {}) }, 'Copy');
  render();
  await dialog('Contacts', [list, h('h3', 'Ask someone'),
    h('p.hint', 'People outside your organisation can be messaged once they accept your request. Ask them for their contact code, or give them yours.'),
    h('div.contact-ask', code, h('button.btn.primary.sm', { type: 'button', onclick: ask }, 'Send request')),
    h('p.tiny', 'Your contact code: ', mine, ' ', copy)], [{ label: 'Close', value: true }], { cancel: false });
}
