/* WordNet 3.0 (Princeton; Debian's wordnet-base in /usr/share/wordnet) as the lexicon of the
 * text toolkit: the base form of an English word (its lemma) and the words related to it.
 *
 * Lemmas follow WordNet's own morphy: the exception lists (grew → grow, children → child,
 * octopi → octopus, taught → teach) and the detachment rules of each part of speech (s, ses,
 * xes, ches, ies → y, ed, ing, er, est …), a base counting only when WordNet knows it as a word
 * of that part of speech. Where a word is itself a lemma and also an inflection of another
 * ("building" and "build", "saw" and "see", "gas" and "ga"), the one tagged more often in
 * WordNet's sense-tagged corpus wins (index files' tagsense_cnt): build, see, gas. Comparatives
 * whose base is another word altogether (better → good, worse → bad) are not taken: they would
 * make "best" meet every "good".
 *
 * Related words come from the synsets of a lemma's most frequent senses (film ~ movie, grandma ~
 * grandmother, job ~ occupation), and for nouns one link up or down (dad ~ father); they are
 * read from the data files, mapped into memory, at query time, so a changed WordNet needs no
 * reindex. Index and exception files are read into a hash table once (about 40 ms). */
#ifndef DP_WORDNET_H
#define DP_WORDNET_H

#include <stddef.h>
#include <stdint.h>

/* Loads the WordNet files of dir (index.*, *.exc, data.*). DP_OK, or an error (the toolkit then
 * falls back to its suffix rules). Called at most once before the first lookup; lookups made
 * without it open /usr/share/wordnet (or $DOPPEL_WORDNET_DIR) on first use. */
int wordnet_open(const char *dir);

/* Chooses dir for the load on first lookup (a server that never meets a word never pays for the
 * hash table: most of a start's CPU time). DP_OK, or DP_ERR_NOT_FOUND with a warning when dir has
 * no WordNet (lookups then fall back as above). Call before any lookup. */
int wordnet_use(const char *dir);

/* Keeps the parsed tables in the file at path (written after a parse, mapped back by the next load
 * when the WordNet files are the same): a server's start then does not parse WordNet again. Call
 * before any lookup. DP_ERR_INVALID when path is too long. */
int wordnet_cache_at(const char *path);

/* 1 when WordNet is loaded (opening the default directory on first call). */
int wordnet_ready(void);

/* A number that changes when the loaded WordNet does (its word, exception and data sizes); 0
 * without WordNet. Saved word indexes carry it: keys made with another WordNet are not reused. */
uint64_t wordnet_fingerprint(void);

/* The lemma of w[0..n) (lower-case ASCII letters) into out (cap bytes): its length, or 0 when
 * WordNet knows neither the word nor a base of it. */
size_t wordnet_lemma(const char *w, size_t n, char *out, size_t cap);

#define WORDNET_RELATED_MAX 24

/* Up to max words related to lemma[0..n) (not itself): synonyms of its most frequent senses
 * first (kind[i] 0), then one link out from a noun's first sense (kind[i] 1: its hypernyms,
 * dad → father, and the first of its hyponyms, father → dad); single words only (collocations "pass_away" skipped), distinct,
 * lower case, NUL-terminated. kind may be NULL. Returns how many. */
int wordnet_related(const char *lemma, size_t n, char (*out)[32], int *kind, int max);

/* As wordnet_related, the related entries of two or three words instead ("bronze_star" and
 * "purple_heart" of medal, "line_of_work" of job), words joined by '_'; of a noun's first sense
 * every narrower entry (the named kinds of a thing are mostly such collocations). */
int wordnet_related_phrases(const char *lemma, size_t n, char (*out)[32], int *kind, int max);

/* 1 when one of the two most frequent noun senses of lemma[0..n) is, through WordNet's hypernyms,
 * a kind of one of kinds (NULL-terminated, lower case, '_' for spaces): nurse and machinist are
 * kinds of "worker" or "professional" (what an occupation question asks for). */
int wordnet_noun_is_a(const char *lemma, size_t n, const char *const *kinds);

/* As wordnet_noun_is_a, or a part of such a kind (one WordNet part-of link on the way): a mine
 * is part of a colliery, a kind of workplace. */
int wordnet_noun_in_a(const char *lemma, size_t n, const char *const *kinds);
#endif
