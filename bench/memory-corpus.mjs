// Deterministic memory corpus and search queries for bench/memory.mjs.
// Word frequencies follow a Zipf law over a vocabulary of ~4000 words (real English words in
// rough frequency order, then made-up rare words), so a few words ("the", "i", "was") are in
// nearly every memory and most words are rare — as in real text, which is what makes full-text
// search cost vary by query. Names and places are sprinkled in. Same seed, same corpus.

export const VOCABULARY_SIZE = 4000;
const ZIPF_S = 1.0;

// mulberry32: small, fast, good enough for benchmark data.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Real words, most frequent first: function words, then the content words of life stories.
const HEAD = `the i and to a was of in my we it he that she had with for on at his her they you me
but when us our there were so from all one then as be up out what this have would not went
him time did could back after by about an old them day years little do used your house like
mother father home school first two got just go very how who where would where more over know
friend family man get came people remember into said because never their brother sister some
year good long made down off only always work still life new war children wife husband name
town way those three well no before every once around told great big other here went love much
summer night morning again take took come see big own place together something grandmother
grandfather dog cat garden church city farm village car road river sea water street room kitchen
table door window bed book war job money shop store father's mother's boy girl son daughter baby
uncle aunt cousin teacher doctor nurse soldier army ship train station war letter letters photo
birthday christmas wedding holiday holidays party dance music song songs piano radio film cinema
football cricket bicycle horse horses cow cows chickens field fields hill hills mountain lake
beach forest tree trees flowers roses apple bread cake tea dinner breakfast lunch sunday monday
winter spring autumn snow rain sun war hospital office factory mill mine church's market bridge
grow grew grown meet met move moved moving live lived living leave left learn learned play played
playing walk walked walking remember remembered think thought believe write wrote read reading
cook cooked cooking build built bought sell sold drive drove visit visited start started finish teach taught happened
married marry born died death funeral first second third last best worst favourite happy sad
proud afraid angry quiet loud young older oldest youngest early late small large hot cold warm
dark bright red blue green white black yellow brown new whole half hard easy kind strange funny
sister's brother's friend's neighbour neighbours street's corner hall yard fence gate path wall
roof floor stairs garden's shed barn pond well stream boat boats fishing fish bird birds cat's
coat dress shoes hat shirt uniform pocket bag box key clock watch ring gift present toys doll
ball game games cards chess story stories news paper newspaper war's peace country world england
army's navy flight plane airport bus tram taxi ticket journey trip travel travelled abroad
language english french german latin maths history science art drawing painting class classes
lesson lessons exam exams university college degree teacher's headmaster church choir priest
prayer god heaven luck chance accident illness fever operation medicine recovery strength
courage fear hope dream dreams memory memories moment moments afternoon evening midnight dawn
week weeks month months hour hours minute minutes age ages birthday's anniversary promise secret
truth lie lies joke jokes laugh laughed laughing cry cried crying smile smiled voice voices word
words answer question questions advice lesson's habit habits rule rules trouble problem problems
business company boss wages pay rent bills savings bank loan price prices cheap expensive
poor rich hungry tired sick well healthy strong weak tall short thin fat beautiful handsome
clever stupid careful careless brave gentle strict kind kindest lovely terrible wonderful awful`
  .split(/\s+/);

export const NAMES = `Margaret John Mary William Elizabeth James Dorothy George Joan Thomas Peggy Arthur Edith
Harold Betty Albert Doris Frank Alice Walter Irene Fred Winifred Charles Ruth Ernest Hilda Henry
Vera Jack Nellie Stanley Gladys Sidney Florence Leonard Annie Cyril Ada Reg Marjorie Bill Ivy
Ted Lilian Percy Mabel Norman Olive Ron Phyllis Douglas Evelyn Kenneth Ethel Dennis Agnes Eric`
  .split(/\s+/);

export const PLACES = `Liverpool Manchester Leeds Bristol Glasgow Dublin Cardiff Brighton York Bath Oxford
Cambridge Dover Blackpool Whitby Norfolk Cornwall Devon Yorkshire Kent London Paris Calcutta
Malta Cairo Sydney Toronto Boston Hamburg Lisbon Naples Bombay Aden Gibraltar Belfast Hull
Swansea Durham Exeter Plymouth`.split(/\s+/);

// Made-up words for the long tail: pronounceable, distinct, never English (so no clashes).
function tailWords(n, rnd) {
  const on = ['b', 'br', 'c', 'cl', 'd', 'dr', 'f', 'fl', 'g', 'gr', 'h', 'k', 'l', 'm', 'n', 'p', 'pl', 'qu', 'r',
    's', 'sk', 'st', 't', 'tr', 'v', 'w', 'z'];
  const nu = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou', 'oa', 'y'];
  const co = ['', 'b', 'd', 'g', 'k', 'l', 'm', 'n', 'nd', 'nt', 'p', 'r', 'rk', 's', 'st', 't', 'x'];
  const out = new Set();
  while (out.size < n) {
    let w = '';
    const syl = 2 + Math.floor(rnd() * 2);
    for (let i = 0; i < syl; i++)
      w += on[Math.floor(rnd() * on.length)] + nu[Math.floor(rnd() * nu.length)] + (i === syl - 1 ? co[Math.floor(rnd() * co.length)] : '');
    out.add(w);
  }
  return [...out];
}

// Picks ranks 0..n-1 with probability ∝ 1/(rank+1)^s (inverse CDF, binary search).
function zipfSampler(n, s, rnd) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / Math.pow(r + 1, s);
  return () => {
    const x = rnd() * sum;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
}

export function makeCorpus(seed = 1) {
  const rnd = prng(seed);
  const head = [...new Set(HEAD)];
  const vocab = head.concat(tailWords(VOCABULARY_SIZE - head.length, rnd));
  const word = zipfSampler(vocab.length, ZIPF_S, rnd);
  const name = zipfSampler(NAMES.length, 1, rnd);
  const place = zipfSampler(PLACES.length, 1, rnd);
  // One memory: a sentence of 10–60 words, maybe with a name and a place, commas now and then.
  function next() {
    const n = 10 + Math.floor(rnd() * 51);
    const w = [];
    for (let i = 0; i < n; i++) w.push(vocab[word()]);
    if (rnd() < 0.35) w[Math.floor(rnd() * n)] = NAMES[name()];
    if (rnd() < 0.25) w[Math.floor(rnd() * n)] = PLACES[place()];
    for (let i = 5; i < n - 3; i += 6 + Math.floor(rnd() * 10)) w[i] += ',';
    w[0] = w[0][0].toUpperCase() + w[0].slice(1);
    return w.join(' ') + '.';
  }
  return { vocab, next };
}

// The fixed query mix, by class. Rare words come from the made-up tail at fixed ranks.
export function makeQueries(vocab) {
  const known = new Set(vocab.map((w) => w.toLowerCase()).concat(NAMES.map((w) => w.toLowerCase()), PLACES.map((w) => w.toLowerCase())));
  const q = {
    '1w-rare': [vocab[1500], vocab[2300], vocab[3100], vocab[3900]],
    '1w-common': ['school', 'family', 'house', 'summer'],
    '2w': ['first dog', 'summer holidays', 'grandmother garden', 'wedding day'],
    '3w': ['old house river', 'best friend school', 'father car accident', `${NAMES[0]} ${PLACES[0]} letters`],
    '6w': ['when did you move to London', 'did your father work the farm', 'who taught you to play piano',
      'what happened to the old dog'],
    'question': ['where did you grow up', 'what was the name of your first dog', 'how did you meet your wife',
      'who was your best friend at school'],
  };
  for (const list of Object.values(q))
    for (const s of list)
      for (const w of s.toLowerCase().split(/\s+/))
        if (!known.has(w)) throw new Error(`query word "${w}" is not in the corpus vocabulary`);
  return q;
}
