// Chat attachments in the browser: the bytes of a message's media (read through the chat, so
// every member may see them), shown as images, voice-note players or downloads; and a new image
// or voice note uploaded as one's own media to attach.
import { api, get, upload } from './api.js';
import { bytes, h } from './ui.js';

const urls = new Map(); // attachment path → object URL (a chat page fetches each once)

async function blobUrl(path) {
  if (!urls.has(path)) urls.set(path, api('GET', path, undefined, { raw: true }).then(async (r) => URL.createObjectURL(await r.blob())));
  return urls.get(path);
}

/* The attachments of message m of chat chatId, as elements (filled in as their bytes arrive). */
export function attachmentsEl(chatId, m) {
  if (!m.attachments || !m.attachments.length || m.deleted || !m.id) return null;
  return h('div.msg-attachments', m.attachments.map((a) => {
    const path = `/chats/${chatId}/messages/${m.id}/attachments/${a.media_id}`;
    const name = a.filename || a.kind;
    if (a.kind === 'image') {
      const img = h('img.msg-image', { alt: name, loading: 'lazy' });
      // The thumbnail when the server has made it, else the image itself.
      blobUrl(path + '?variant=thumbnail').catch(() => blobUrl(path)).then((u) => (img.src = u), () => img.replaceWith(h('span.muted', name + ' (not available)')));
      img.addEventListener('click', () => blobUrl(path).then((u) => window.open(u, '_blank', 'noopener')));
      return img;
    }
    if (a.kind === 'audio') {
      const au = h('audio.msg-audio', { controls: true, preload: 'none', 'aria-label': 'Voice note ' + name });
      blobUrl(path).then((u) => (au.src = u), () => au.replaceWith(h('span.muted', name + ' (not available)')));
      return au;
    }
    return h('button.linkish.msg-file', { type: 'button', onclick: () => blobUrl(path).then((u) => Object.assign(document.createElement('a'), { href: u, download: name }).click()) },
      `${name} (${bytes(a.size)})`);
  }));
}

/* Uploads file (an image or a voice note) as the caller's media, into the first avatar they
 * may add media to; resolves with its media id. onProgress(text). */
export async function uploadAttachment(file, onProgress) {
  const avatars = (await get('/avatars?limit=100')).items.filter((a) => a.access === 'owner' || a.access === 'editor');
  if (!avatars.length) throw new Error('Create an avatar first: attachments are stored as media of one of your avatars.');
  const r = await upload(`/avatars/${avatars[0].id}/media`, file, (sent, total) => onProgress && onProgress(`Uploading ${Math.round((100 * sent) / (total || 1))} %`));
  return r.media.id;
}
