// The recall brain converses without inventing (issue 11): no confident answer from a weak match,
// pronoun follow-ups about the last answer's object, several questions in one message answered
// part by part, a biography written about the avatar said in its own voice, and in a chat export
// the avatar's own lines (a contact name like "Grandpa Henry") quoted as its words. Small fixtures
// of their own wording; the figures on a whole memoir are bench/recall (run.sh --natural).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createAvatar } from './lib/avatars.mjs';
import { startTalkingAvatar } from './lib/talking.mjs';

const talk = startTalkingAvatar();
let srv, c;
before(async () => ({ srv, c } = await talk.ready()));
const { memory, start, say, cites, ingest } = talk;

describe('a recall brain that is never confidently wrong', () => {
  let av;
  const m = {};
  before(async () => {
    av = await createAvatar(srv, c.owner.token, { name: 'Henry Walsh', greeting: 'Well, look who it is.' });
    m.star = await memory(av, 'They gave me the Bronze Star for carrying two wounded men back under fire.');
    m.box = await memory(av, 'I keep the Bronze Star in a cigar box in the cedar chest at the foot of my bed.');
    m.eddie = await memory(av, 'My friend Eddie lives in El Paso now, near his daughter.');
    m.born = await memory(av, 'I was born in Scranton, Pennsylvania, in the spring of 1944.');
    m.father = await memory(av, 'My father went down into the coal mines at fourteen and came up coughing.');
    m.bio = await memory(av, 'Henry Walsh retired from the railroad in 2004, and his gold watch stopped a month later.');
    m.fair = await memory(av, 'Every August the whole family drove to the county fair in Honesdale.');
    m.win = await memory(av, 'Sam was proud that his team could win without their best pitcher.');
    // A passage whose words for one question are in sentences far apart.
    await memory(
      av,
      'In 1966 my number came up and I trained as a medic at Fort Sam Houston in Texas. The heat there ' +
        'was like nothing I had known in Pennsylvania, and the sergeants shouted from dawn until dark. We ' +
        'marched, we bandaged each other, we learned to carry a stretcher at a run. I wrote to my mother ' +
        'every Sunday and never told her how scared I was. Years later, back home, Margaret and her apple ' +
        'pie won a blue ribbon at the county fair, and I was prouder of that than of anything I did in Texas.',
      'passage',
    );
  });

  test('a passage holding the words of a question only in different sentences answers nothing', async () => {
    const conv = await start(av);
    const r = await say(conv, 'What did the medic win at the county fair?');
    assert.match(r.text, /don't remember/i, r.text);
    assert.deepEqual(r.citations, []);
  });

  test('questions nothing answers are refused, uncited', async () => {
    const conv = await start(av);
    for (const q of ['Did you ever go to Ireland?', 'What was your favourite film?', 'Who taught you to swim?']) {
      const r = await say(conv, q);
      assert.match(r.text, /don't remember/i, `${q} → ${r.text}`);
      assert.deepEqual(r.citations, [], q);
    }
  });

  test('"Where is it now?" after the medal is about the medal, not a person', async () => {
    const conv = await start(av);
    let r = await say(conv, 'What did they give you for carrying the wounded men?');
    assert.deepEqual(cites(r), [m.star.id], r.text);
    r = await say(conv, 'Where is it now?');
    assert.deepEqual(cites(r), [m.box.id], r.text);
    assert.match(r.text, /cigar box/);
  });

  test('a pronoun with nothing answered before it is not guessed at', async () => {
    const conv = await start(av);
    let r = await say(conv, 'Did you ever go to Ireland?');
    assert.deepEqual(r.citations, []);
    r = await say(conv, 'Where is it now?');
    assert.deepEqual(r.citations, [], r.text);
  });

  test('a message asking two things gets an answer to each', async () => {
    const conv = await start(av);
    const r = await say(conv, 'Where were you born, and what did your father do?');
    assert.deepEqual(cites(r).sort(), [m.born.id, m.father.id].sort(), r.text);
    assert.match(r.text, /Scranton/);
    assert.match(r.text, /coal mines/);
  });

  test('what was written about the avatar is said in the first person, cited as written', async () => {
    const conv = await start(av);
    const r = await say(conv, 'When did you retire from the railroad?');
    assert.deepEqual(cites(r), [m.bio.id], r.text);
    assert.equal(r.text, 'I retired from the railroad in 2004, and my gold watch stopped a month later.');
    assert.equal(r.citations[0].text, m.bio.text);
  });

  test('a greeting with "I miss you" is answered warmly, never with "I don\'t remember"', async () => {
    const conv = await start(av);
    const r = await say(conv, "Hi Grandpa, it's Katie. I miss you so much.");
    assert.doesNotMatch(r.text, /remember/i);
    assert.match(r.text, /miss you too/i);
    assert.deepEqual(r.citations, []);
  });
});

describe('speaker awareness in a chat export', () => {
  test("a contact name holding the avatar's first name is the avatar: its lines are quoted as its words", async () => {
    const av = await createAvatar(srv, c.owner.token, { name: 'Henry Walsh' });
    const chat = [
      '2/20/22, 1:14 PM - Grandpa Henry: The doctor says my heart is an old engine but it still runs.',
      '2/20/22, 1:20 PM - Katie Walsh: Grandpa!! Which doctor? Are you ok??',
      '2/20/22, 1:25 PM - Grandpa Henry: Dr. Patel at the clinic. Your mother drove me.',
      '2/20/22, 1:26 PM - Katie Walsh: Ok good. Please take the pill!!',
      '8/22/21, 11:24 AM - Katie Walsh: My favorite color is purple but Priya says it is too much',
      "8/22/21, 11:30 AM - Grandpa Henry: Blue. Blue like your grandmother's eyes.",
      '',
    ].join('\n');
    await ingest(av, chat, 'WhatsApp Chat with Grandpa Henry.txt');
    const conv = await start(av);
    let r = await say(conv, 'What did the doctor say about your heart?');
    assert.match(r.text, /old engine/, r.text);
    r = await say(conv, "What's your favorite color?");
    assert.match(r.text, /^Blue/, r.text);
    assert.doesNotMatch(r.text, /purple/);
  });
});
