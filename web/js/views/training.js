// Training: personality samples with progress and the resulting traits (with evidence); voice samples
// and the voice profile (voice-training.js).
import { get, post } from '../api.js';
import { busy, clear, field, h, spinner, toast } from '../ui.js';
import { canEdit } from './avatar.js';

const PROMPTS = [
  'Write how they would describe a perfect Sunday.',
  'Write a message they might send to a close friend.',
  'Write what they would say about something that annoys them.',
  'Write how they would tell a story from their past.',
];

export async function trainingTab(body, a) {
  clear(body, spinner());
  const editable = canEdit(a);
  const traitsBox = h('div.traits');
  const bar = h('progress.big', { max: 100, value: 0, 'aria-label': 'Personality training progress' });
  const pct = h('strong.pct', '0 %');
  const sources = h('p.tiny.muted');
  const prompt = h('p.hint');
  const ta = h('textarea', { rows: 5, name: 'sample', required: true, placeholder: 'A few sentences in their own words: a letter, a message, how they tell a story.' });
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.btn.primary', { type: 'submit' }, 'Add sample');

  function show(p) {
    const per = (p && p.personality) || { progress: 0, samples: 0 };
    bar.value = per.progress || 0;
    pct.textContent = `${per.progress || 0}\u00a0%`;
    prompt.textContent = per.samples < 4 ? `Sample ${per.samples + 1} of 4 — ${PROMPTS[per.samples % 4]}` : 'Training complete. More samples refine the profile.';
    const s = per.sources || {};
    sources.textContent = per.samples ? `From ${s.samples || 0} samples, ${s.media || 0} media marked as their own words and ${s.transcripts || 0} transcript lines.` : '';
    const traits = Object.entries(per.traits || {});
    if (!traits.length) {
      clear(traitsBox, h('p.list-empty', 'Add a first sample to see their traits: warmth, enthusiasm, curiosity, formality, verbosity and humour, each with the evidence behind it.'));
      return;
    }
    clear(traitsBox, h('ul.trait-list', traits.map(([name, t]) => {
      const meter = h('span.meter', h('span.meter-fill'));
      meter.firstChild.style.width = Math.round((t.score || 0) * 100) + '%';
      return h('li.trait', h('div.trait-head', h('span.trait-name', name), h('span.tiny.muted', (t.score || 0).toFixed(2))),
        meter, h('div.tiny.muted', Object.entries(t.evidence || {}).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(' · ')));
    })),
    per.style ? h('dl.meta.style', h('dt', 'Words analysed'), h('dd', per.style.words), h('dt', 'Sentence length'), h('dd', per.style.sentence_length),
      h('dt', 'Formality'), h('dd', per.style.formality), h('dt', 'Sentiment'), h('dd', per.style.sentiment),
      per.style.phrases && per.style.phrases.length ? [h('dt', 'Phrases'), h('dd', per.style.phrases.join(', '))] : null) : null);
  }

  const form = h('form.stack', {
    onsubmit: async (e) => {
      e.preventDefault();
      const r = await busy(btn, () => post(`/avatars/${a.id}/training/personality`, { text: ta.value.trim() }), err);
      if (!r) return;
      ta.value = '';
      show(r);
      if (r.personality.progress >= 100 && r.personality.samples === 4) toast('Personality profile complete.', 'ok');
      ta.focus();
    },
  }, prompt, field('Sample', ta), err, h('div.row', btn));

  const profile = await get(`/avatars/${a.id}/profile`).catch(() => null);
  const voice = (profile && profile.voice) || {};
  const voiceBox = (await import('./voice-training.js')).voicePanel(a, voice, editable);
  clear(body, h('div.cols',
    h('section.panel.stack', h('h2', 'Personality'),
      h('p.muted', 'Four samples of how they write or speak give a profile of their style. It shapes the greeting and the tone of “I don’t remember”.'),
      h('div.progress-row', bar, pct), sources,
      editable ? form : h('p.hint', 'Only the owner and editors add samples.')),
    h('div.stack',
      h('section.panel.stack', h('h2', 'Traits'), traitsBox),
      voiceBox)));
  show(profile);
}
