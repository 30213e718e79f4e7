// The baseline of bench/recall: classic Okapi BM25 (k1 1.2, b 0.75) over a fixed list of texts,
// lower-case words of letters and digits, no stemming, no stop words. IDF is the non-negative
// form ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's), so that very common words such as "the"
// add a little instead of pushing documents down.
const K1 = 1.2;
const B = 0.75;

export const tokens = (text) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];

/* docs: [{id, text}]. Returns search(query, k) → the ids of the k best documents, best first
 * (documents sharing no word with the query are left out; ties keep the documents' order). */
export function bm25Index(docs) {
  const tf = docs.map((d) => {
    const m = new Map();
    for (const t of tokens(d.text)) m.set(t, (m.get(t) || 0) + 1);
    return m;
  });
  const len = docs.map((d) => tokens(d.text).length);
  const avgdl = len.reduce((a, b) => a + b, 0) / Math.max(1, docs.length);
  const df = new Map();
  for (const m of tf) for (const t of m.keys()) df.set(t, (df.get(t) || 0) + 1);
  const n = docs.length;
  const idf = (t) => Math.log(1 + (n - (df.get(t) || 0) + 0.5) / ((df.get(t) || 0) + 0.5));

  return function search(query, k) {
    const terms = [...new Set(tokens(query))];
    const scored = [];
    docs.forEach((d, i) => {
      let s = 0;
      for (const t of terms) {
        const f = tf[i].get(t);
        if (f) s += (idf(t) * f * (K1 + 1)) / (f + K1 * (1 - B + (B * len[i]) / avgdl));
      }
      if (s > 0) scored.push({ id: d.id, s, i });
    });
    scored.sort((a, b) => b.s - a.s || a.i - b.i);
    return scored.slice(0, k).map((x) => x.id);
  };
}
