/* The text toolkit: what a word is, case and accent folding, word keys (one inflection off),
 * English stop words. Every component that turns text into words — memory search and its
 * highlights, the recall brain, card keywords, dialogue speakers, the personality profile, passages —
 * calls these, so that two of them never disagree about a word.
 *
 * Decisions (tests/unit/core/test_text.c holds them):
 *  - A word is a run of word characters: ASCII letters and digits, and every non-ASCII code point
 *    except spaces and punctuation (Unicode spaces, general punctuation U+2000–206F, Latin-1
 *    punctuation, CJK and full-width punctuation). Apostrophes and hyphens separate words
 *    ("don't" → "don" "t", "well-known" → "well" "known"; the lone "t" is a stop word), as in
 *    SQLite FTS5's unicode61. Digits are word characters ("1984", "mp3"). A run of CJK text
 *    without spaces is one word, as in FTS5.
 *  - Folding is language-independent: lower case, and the base letter of accented Latin, Greek
 *    and Cyrillic letters ("Ü" → "u", "Ά" → "α", "ς" → "σ", "Ё" → "е"). Turkish dotted and
 *    dotless i (İ ı) fold to "i", so "İstanbul", "ISTANBUL" and "istanbul" meet. In a word, "ß"
 *    and "ẞ" become "ss" ("Straße" meets "STRASSE") and combining marks after a letter are
 *    dropped (decomposed "Mu\u0308ller" meets "Müller").
 *  - A word key is the folded word's lemma (text_word_key): WordNet's base form where WordNet
 *    knows the word (core/wordnet.h: grew → grow, children → child, stories → story), a plural
 *    -s off a word it does not know (a name, a brand), the suffix rules of old when WordNet is not
 *    installed; words meet when their keys are equal. */
#ifndef DP_TEXT_H
#define DP_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 for a character words are made of (see above), 0 for a separator. */
int text_is_word_char(uint32_t cp);

/* 1 for a letter of the scripts names are written in: ASCII, Latin-1 and Latin Extended (not ×
 * ÷), Greek to Latin Extended Additional (U+0370–1FFF), kana and CJK, Hangul. */
int text_is_letter(uint32_t cp);

/* 1 for a wide character of the scripts written without spaces between words: CJK symbols,
 * kana, ideographs and Hangul (U+3000–U+DFFF) and full-width forms (U+FF00–U+FF7F). Layout
 * (passages) counts each as a word. */
int text_is_wide(uint32_t cp);

/* The next word at or after *p (NUL-terminated valid UTF-8): its start in *start, and *p moved
 * past it. Returns its length in bytes, 0 at the end of the text. */
size_t text_next_word(const unsigned char **p, const unsigned char **start);

/* How many words s[0..n) holds (valid UTF-8, cut at a character). */
size_t text_count_words(const char *s, size_t n);

/* Where the sentence starting at p (NUL-terminated) ends: after its . ! or ? and any closing
 * quote when a space, a line break or the end follows, or at a blank line; the end of the text
 * when none. A period after a title or an initial before a name ("St. Patrick's", "Dr. Patel",
 * "J. Smith") ends no sentence. */
const char *text_sentence_end(const char *p);

/* cp lower-cased (Latin, Greek, Cyrillic simple case pairs; İ → i); others as they are. */
uint32_t text_lower(uint32_t cp);

/* 1 when a[0..la) and b[0..lb) are the same text but for case (text_lower); a broken byte
 * reads as U+FFFD. */
int text_lower_eq(const char *a, size_t la, const char *b, size_t lb);

/* 1 when cp is an upper-case letter (text_lower changes it). */
int text_is_upper(uint32_t cp);

/* cp lower-cased and without diacritics (see above); others as they are. */
uint32_t text_fold(uint32_t cp);

#define TEXT_KEY_MAX 64 /* bytes of a word key (longer words are cut at a character) */

/* w[0..len) (valid UTF-8) folded (text_fold, ß → ss, combining marks dropped) into out: at most
 * cap bytes, cut at a character, not NUL-terminated. Returns the bytes written. */
size_t text_fold_word(const unsigned char *w, size_t len, char *out, size_t cap);

/* w[0..len) (valid UTF-8) lower-cased (text_lower) into out: at most cap bytes, cut at a
 * character, not NUL-terminated. Returns the bytes written. */
size_t text_lower_word(const unsigned char *w, size_t len, char *out, size_t cap);

/* The key a word is indexed and matched by (the lemma): folded (text_fold_word) and with one
 * English inflection taken off ("planted", "planting", "plants" → "plant"; "named", "name" →
 * "nam"; "stories" → "story"), so that words meet when their keys are equal. Writes up to
 * TEXT_KEY_MAX bytes to out (not NUL-terminated) and returns how many. w[0..len) is one word of
 * valid UTF-8. */
size_t text_word_key(const unsigned char *w, size_t len, char out[TEXT_KEY_MAX]);

/* The version of the rules text_word_key and WordNet's lemma choice follow: bump it when a word
 * may get another key than before, so that what was keyed by the old rules (a search index saved
 * on disk) is not trusted. */
#define TEXT_KEY_RULES 2

#define TEXT_RELATED_MAX 24

/* Weights of a related word against the word itself (1): a synonym of its usual senses, a
 * broader or narrower word (core/wordnet.h). Below a word said in a dialogue turn's neighbour
 * (brain/text_index.h), so that neither outranks the word itself. */
#define TEXT_SYNONYM_WEIGHT 0.45f
#define TEXT_BROADER_WEIGHT 0.3f

/* The keys of the words related to the word whose key is key[0..n) (WordNet synonyms, broader and
 * narrower words; none without WordNet), distinct, never key itself nor a stop word: up to max
 * (≤ TEXT_RELATED_MAX) into out (not NUL-terminated, lengths in len) with their weight. Search
 * and the recall brain both match by these, so they agree on what a memory is about. */
int text_related_keys(const char *key, size_t n, char out[][TEXT_KEY_MAX], size_t len[], float weight[], int max);

/* The WordNet entries of two or three words related to the word keyed key[0..n) (the Bronze Star
 * and the Purple Heart of medal): up to max into out, each as its words' keys joined by single
 * spaces, NUL-terminated ("bronze star"), distinct. The recall brain meets them in a memory's
 * words in sequence (search keys single words and does not). */
int text_related_phrases(const char *key, size_t n, char out[][TEXT_KEY_MAX], int max);

/* When the word keyed key[0..n) and the word next[0..next_len) after it are one WordNet entry (a
 * phrasal verb or compound: "pass away", "look after"), the keys related to that entry, as
 * text_related_keys ("passed away" ~ died); else 0. */
int text_phrase_keys(const char *key, size_t n, const unsigned char *next, size_t next_len, char out[][TEXT_KEY_MAX],
                     size_t len[], float weight[], int max);

/* 1 when w[0..len) (one word) says nothing about a topic: an English stop word ("the", "did",
 * "you" …, in any case), the head or tail of a contraction ("didn", "ve", "ll") or a lone ASCII
 * letter (the tail of "what's", "don't"). */
int text_is_stop(const unsigned char *w, size_t len);

/* w[0..len) lower-cased into out as a NUL-terminated string when it is plain ASCII and shorter
 * than cap: its length, else 0 (the word lists of the toolkit are ASCII). */
size_t text_lower_ascii(const unsigned char *w, size_t len, char *out, size_t cap);

/* 1 when w[0..len) (one word, any case) frames a question rather than naming its topic: a kind
 * ("kind", "type", "sort", "thing", "way", "something"), how many or how often ("many", "much",
 * "often", "usually"), or a verb of telling ("say", "mention", "describe", "share", "happen", in
 * their forms). Search leaves them out of a question that has other words (locomo-dev: MRR
 * +0.005, hit@5 +0.006). */
int text_is_question_frame(const unsigned char *w, size_t len);

/* 1 when q (valid UTF-8) holds "you", "your", "yours" or "yourself" (any case): a question to an
 * avatar asks about the avatar itself. */
int text_says_you(const char *q);

/* The value of a hexadecimal digit, -1 for any other character. */
static inline int text_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
