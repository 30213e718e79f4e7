// How the recall brain reads a question (issue 11): word forms by WordNet's morphology with the
// reading that exists ("scared" is the verb scare, whose synonyms meet "frightened", not "scar"),
// vague words in any form ("happened"), derived forms and untagged words' synonyms (song ~ sing,
// mom ~ mother), phrasal verbs by their WordNet entry ("pass away" ~ die), a "why" question answered with the cause a story tells
// before its effect, a "which"/"what kind of" question answered only by a memory that names the
// thing, and in a dialogue the line that answers a question holding the words preferred to a line
// that merely uses them; an occupation question answered by a sentence saying a person is a kind of
// worker (WordNet's hypernyms), and a person introduced by apposition ("my cousin Walter") meeting the
// question's noun where the passage, or another passage of its document, calls them by name only
// (a related word counting half the word, so that a pet name and a phrasal verb's synonym together
// answer); a place of work (a kind of workplace in WordNet, or part of one) meeting a work question.
// Fixtures of their own wording; bench/recall (run.sh --natural) measures.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { api, createAvatar } from './lib/avatars.mjs';
import { startTalkingAvatar } from './lib/talking.mjs';

const talk = startTalkingAvatar();
let srv, c;
before(async () => ({ srv, c } = await talk.ready()));
const { memory, start, say, cites, ingest } = talk;

describe('reading the words of a question', () => {
  let av;
  const m = {};
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Ruth Ellery' });
    // longer than one excerpt: the answer is cut out of it
    m.farm = await memory(
      av,
      'We lived on a dairy farm outside Lancaster until I was twelve. My brothers did the milking and I fed ' +
        'the chickens before school. One August afternoon the plough horse kicked me in the ribs while I was ' +
        'brushing its tail. I have been frightened of horses ever since, and I never rode one again. ' +
        'Mother sold the farm in 1961 and we moved into town above the bakery on Queen Street.',
      'passage',
    );
    m.drove = await memory(av, 'I drove my car to the lake every weekend that summer.');
    m.happiest = await memory(av, 'The happiest day of my life was the morning my daughter Anna was born.');
    m.piano = await memory(av, 'On winter evenings my mother sang Scarborough Fair at the old piano.');
    m.aunt = await memory(av, 'Aunt Dora died in the spring of 1998, in the house where she was born.');
    m.rain = await memory(av, 'The rain went on for a week and Aunt Dora stayed indoors with her puzzles.');
  });

  test('search finds what a phrasal verb means ("passed away" finds "died"), as the brain judges it', async () => {
    const s = await api(srv, 'GET', `/avatars/${av.id}/memories?q=${encodeURIComponent('passed away')}`, { token: c.owner.token });
    assert.equal(s.status, 200);
    assert.equal(s.json.items[0]?.id, m.aunt.id, JSON.stringify(s.json.items.map((x) => x.text)));
  });

  test('a phrasal verb meets what its WordNet entry means ("pass away" ~ died), not its common words', async () => {
    const conv = await start(av);
    const r = await say(conv, 'When did Aunt Dora pass away?');
    assert.deepEqual(cites(r), [m.aunt.id], r.text);
    assert.match(r.text, /1998/);
  });

  test('a noun meets its verb and a pet name its word (song ~ sang, mom ~ mother) beside a word met as asked', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What song did your mom sing at the piano?');
    assert.deepEqual(cites(r), [m.piano.id], r.text);
    assert.match(r.text, /Scarborough Fair/);
  });

  test('"scared" is read as scare, whose synonyms meet "frightened" (search and the brain)', async () => {
    const s = await api(srv, 'GET', `/avatars/${av.id}/memories?q=scared`, { token: c.owner.token });
    assert.equal(s.status, 200);
    assert.ok(s.json.items.some((x) => x.id === m.farm.id), JSON.stringify(s.json.items.map((x) => x.text)));
  });

  test('a "why" question is answered with the cause told before its effect', async () => {
    const conv = await start(av);
    const r = await say(conv, 'Why were you always so scared of horses?');
    assert.deepEqual(cites(r), [m.farm.id], r.text);
    assert.match(r.text, /kicked me in the ribs/, r.text);
    assert.match(r.text, /frightened of horses/, r.text);
  });

  test('"happened" is as vague as "happen": the question is about what was happiest', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What is the happiest thing that ever happened to you?');
    assert.deepEqual(cites(r), [m.happiest.id], r.text);
  });

  test('"what kind of" is not answered by a memory that names no kind', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What kind of car did you drive?');
    assert.match(r.text, /don't remember/i, r.text);
    assert.deepEqual(r.citations, []);
  });

  test('"what kind of" is answered by the memory that names it', async () => {
    const named = await memory(av, 'I drove a Studebaker for ten years, the best car I ever had.');
    const conv = await start(av);
    const r = await say(conv, 'What kind of car did you drive?');
    assert.deepEqual(cites(r), [named.id], r.text);
    assert.match(r.text, /Studebaker/);
  });
});

describe('one of a kind, and kinds named in several words', () => {
  test('"what kind of" is answered by a memory naming a kind once another confirms what the question takes for granted', async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Mabel Orr' });
    await memory(av, 'I planted apple trees behind the barn the year we married.');
    const named = await memory(av, 'We picked apples all morning, and the Bramleys were the sweetest this year.');
    await memory(av, 'My sister ran the post office counter in the village.');
    const conv = await start(av);
    const r = await say(conv, 'What kind of apples did you plant?');
    assert.deepEqual(cites(r), [named.id], r.text);
    assert.match(r.text, /Bramleys/);
    // nothing remembered says the sister sold apples: a named kind of apple does not answer it
    const s = await say(await start(av), 'What kind of apples did your sister sell?');
    assert.deepEqual(s.citations, [], s.text);
    assert.match(s.text, /don't remember/i, s.text);
  });

  test('a word meets a narrower WordNet entry of several words said in sequence (medal ~ "Silver Star")', async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Owen Price' });
    const star = await memory(av, 'I keep the Silver Star in a shoebox on the top shelf of the wardrobe.');
    const r = await say(await start(av), 'Where do you keep your medal?');
    assert.deepEqual(cites(r), [star.id], r.text);
    assert.match(r.text, /shoebox/);
    // the same words out of sequence are not the entry
    const other = await createAvatar(srv, c.owner.token, { name: 'Owen Price' });
    await memory(other, 'We keep a star chart and the silver compass in the boat.');
    const s = await say(await start(other), 'Where do you keep your medal?');
    assert.deepEqual(s.citations, [], s.text);
    assert.match(s.text, /don't remember/i, s.text);
  });
});

describe('a dialogue line that answers the question', () => {
  test('is preferred to a line that merely uses its words', async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Walter Brandt' });
    const chat = [
      '3/2/21, 7:10 PM - Grandpa Walt: That film last night was scary, I watched half of it from the hallway.',
      '3/2/21, 7:12 PM - Lena: Haha you are such a chicken',
      '4/6/21, 6:02 PM - Lena: Grandpa what was the scariest night of your whole life?',
      '4/6/21, 6:20 PM - Grandpa Walt: The winter the barn caught fire and we led the cows out through the smoke.',
      '4/6/21, 6:21 PM - Lena: Wow',
      '',
    ].join('\n');
    await ingest(av, chat, 'WhatsApp Chat with Grandpa Walt.txt');
    const conv = await start(av);
    const r = await say(conv, 'What is the scariest thing that happened to you?');
    assert.match(r.text, /barn caught fire/, r.text);
  });
});

describe('who a person is and what they did', () => {
  let av;
  const m = {};
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Owen Pryce' });
    m.cousin = await memory(
      av,
      'Summers in Swansea were loud. There were the twins, then my cousin Walter, then me, and Nan kept us all ' +
        'in line with a wooden spoon. We swam off the pier every morning whatever the weather, and we ate chips ' +
        'on the sea wall at night. Walter became a pilot with the merchant air service and flew out of Cardiff ' +
        'for thirty years. The twins stayed home and opened a shop that sold fishing tackle and kites.',
      'passage',
    );
    m.aunt = await memory(
      av,
      'After the war my aunt Hilda took me in, because the house in Neath had been sold and there was nowhere ' +
        'else. She was a schoolteacher at the chapel school on Water Street, strict in the classroom and soft at ' +
        'home. She read Dylan Thomas to me in the evenings and made me learn the poems by heart, which I still can. ' +
        'We had a cat called Bevan who slept in the coal scuttle.',
      'passage',
    );
    m.friend = await memory(av, 'Gareth was a good friend of mine for fifty years; we played chess on Thursdays.');
  });

  test('an occupation question is met by the sentence saying a person is a kind of worker, quoted with the one naming her', async () => {
    const conv = await start(av);
    const r = await say(conv, "What was your aunt's job?");
    assert.deepEqual(cites(r), [m.aunt.id], r.text);
    assert.match(r.text, /schoolteacher/);
    assert.match(r.text, /Hilda/);
  });

  test('an occupation question about someone no memory holds is still not answered', async () => {
    const conv = await start(av);
    const r = await say(conv, "What was your uncle's job?");
    assert.deepEqual(cites(r), [], r.text);
    assert.match(r.text, /don't remember/);
  });

  test('"a good friend" is no occupation: a job question about Gareth is not answered from it', async () => {
    const conv = await start(av);
    const r = await say(conv, "What was Gareth's job?");
    assert.deepEqual(cites(r), [], r.text);
  });

  test('a person introduced by apposition is met where the passage names them only: the sentence saying something of them wins', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What happened to your cousin Walter?');
    assert.deepEqual(cites(r), [m.cousin.id], r.text);
    assert.match(r.text, /pilot/);
    assert.doesNotMatch(r.text, /twins, then my cousin/);
  });

  test('an apposition holds in the other passages of its document ("my sister Mair" … "Mair died in 1987")', async () => {
    const doc =
      '# Family\n\n## Neath\n\n' +
      'I was the youngest of four, and the only boy. My sister Mair was the eldest, and she ran the house when ' +
      'Mam was ill, which was often. She could sew a shirt in an afternoon and sing every hymn in the book, and ' +
      'she taught me to ride a bicycle on the chapel hill. We had very little, but the kitchen was always warm.\n\n' +
      '## Losses\n\n' +
      'The hardest years came later. Mair died in the winter of 1987, in the hospital at Morriston, after a long ' +
      'illness that she never once complained about. I sat with her most nights. The chapel was full for the ' +
      'funeral and the choir sang Calon Lân, which was the one she always asked for.\n';
    const other = await createAvatar(srv, c.owner.token, { name: 'Owen Pryce' });
    await ingest(other, doc, 'family.md');
    const conv = await start(other);
    const r = await say(conv, 'When did your sister pass away?');
    assert.equal(r.citations.length, 1, r.text);
    assert.match(r.text, /1987/);
  });

  test('a pet name of the noun an apposition names and a synonym of a phrasal verb together answer (grandpa ~ grandfather Emlyn, pass away ~ died)', async () => {
    const doc =
      '# Growing Up\n\n## The Farm\n\n' +
      'Every summer we stayed at the farm above Tregaron with my grandfather Emlyn, who kept sheep on the ' +
      'mountain and a pony called Seren that nobody but him could catch. He let me drive the tractor in the ' +
      'bottom field when I was nine, and he never told my mother.\n\n' +
      '## Goodbyes\n\n' +
      'Emlyn died on the fourth of November, 1979, two weeks after the last of the sheep were sold. The whole ' +
      'valley came to the chapel, and the men sang in Welsh so loudly that the windows shook.\n';
    const other = await createAvatar(srv, c.owner.token, { name: 'Gwen Hughes' });
    await ingest(other, doc, 'growing-up.md');
    const conv = await start(other);
    const r = await say(conv, 'When did Grandpa pass away?');
    assert.equal(r.citations.length, 1, r.text);
    assert.match(r.text, /1979/);
    // the same words about someone no passage names are still not answered by them
    const r2 = await say(await start(other), 'When did your uncle pass away?');
    assert.deepEqual(cites(r2), [], r2.text);
    assert.match(r2.text, /don't remember/);
  });
});

describe('a place of work answers what someone did for work', () => {
  let av;
  const m = {};
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Nora Quinlan' });
    m.mother = await memory(av, 'My mother spent forty years at the shipyard in Belfast, riveting hulls.');
    m.uncle = await memory(av, 'Uncle Seamus went down into the coal mines at fifteen and never came up sound.');
    m.sister = await memory(av, 'My sister spent every afternoon in the garden with her roses.');
  });

  test('a workplace WordNet knows (shipyard) meets "work" beside the person asked of (mom ~ mother)', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What did your mom do for work?');
    assert.deepEqual(cites(r), [m.mother.id], r.text);
    assert.match(r.text, /shipyard/);
  });

  test('a part of a workplace meets it too (a mine is part of a colliery)', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What did Seamus do for work?');
    assert.deepEqual(cites(r), [m.uncle.id], r.text);
    assert.match(r.text, /coal mines/);
  });

  test('a question of one word is not answered by a word merely related to it (volunteer ~ man, of a volunteer who enlists)', async () => {
    const other = await createAvatar(srv, c.owner.token, { name: 'Dermot Quinlan' });
    await memory(other, 'The men on my crew at the power plant called me Red.');
    await memory(other, 'We kept bees behind the house for twenty years.');
    const conv = await start(other);
    const r = await say(conv, 'Do you do any volunteering?');
    assert.deepEqual(cites(r), [], r.text);
    assert.match(r.text, /don't remember/);
  });

  test('a place that is no workplace (a garden) does not answer a work question', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What did your sister do for work?');
    assert.deepEqual(cites(r), [], r.text);
    assert.match(r.text, /don't remember/);
  });
});
