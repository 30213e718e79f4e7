/* An avatar's memories as an in-memory inverted index (word key → memories holding it, with
 * counts), built on first use and caught up when the avatar's memory revision moves (an overlay
 * of the changed memories, merged in the background). A large avatar's index is saved beside the
 * database and read back at the next start (text_index_file.c), labelled with its revision, the
 * file format and the WordNet it was keyed with, so that a change of how words are keyed needs no
 * migration: other files are simply built again. The language of the memories is
 * guessed at build time from their function words (core/stem.h): English words are keyed by
 * their WordNet lemma, German, Spanish, French, Italian, Portuguese and Dutch by their Snowball
 * stem, the query's words the same way. It answers
 * the text half of a search with exact per-avatar BM25 in well under a millisecond where the
 * engines (FTS5, PostgreSQL full text) score every match from disk: 20–40 ms for a common word
 * in 100k memories. The engines remain the path for avatars too large to hold in memory. */
#ifndef DP_TEXT_INDEX_H
#define DP_TEXT_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "brain/memory.h"
#include "core/id.h"
#include "core/text.h"

struct db;

#define TEXT_QUERY_ALTS 96 /* related keys of a query (synonyms, hypernyms) */

/* A query as word keys (text_word_key), distinct, and keys related to them (WordNet synonyms and
 * hypernyms), each standing for one query key at a weight below 1. */
struct text_query {
    int n;
    char key[MEMORY_QUERY_TERMS][TEXT_KEY_MAX];
    size_t len[MEMORY_QUERY_TERMS];
    /* the word each key was made from, lower-cased (text_lower_word): an avatar whose memories are
     * in another language keys it with that language's stemmer (core/stem.h) */
    char word[MEMORY_QUERY_TERMS][TEXT_KEY_MAX];
    size_t word_len[MEMORY_QUERY_TERMS];
    int nalt;
    char alt[TEXT_QUERY_ALTS][TEXT_KEY_MAX];
    size_t alt_len[TEXT_QUERY_ALTS];
    uint8_t alt_of[TEXT_QUERY_ALTS]; /* the query key it stands for */
    float alt_weight[TEXT_QUERY_ALTS];
    int year;     /* a year the query names ("in 2019"): memories that occurred then hold it */
    int year_key; /* the key of that year's word */
    int when;     /* the query asks when (core/time_words.h): memories that say when are favoured */
    int you;      /* the query says "you" or "your": asked of the avatar, its own lines are favoured */
};

/* How much a word found only in a memory's neighbouring turn counts: half of the same word in the
 * memory itself in the turn before it, less in the turn that follows it (a line is explained by
 * what it answers more than by what comes after), and most when the turn before asks a question:
 * a reply is about what was asked ("What flavor did you make?" — "Chocolate and vanilla swirl").
 * On locomo-dev the question's weight of 0.8 over 0.5 gave hit@5 +0.025 and MRR +0.018. */
#define TEXT_ANSWER_WEIGHT 0.8
#define TEXT_BEFORE_WEIGHT 0.5
#define TEXT_AFTER_WEIGHT 0.45 /* related words (core/text.h) weigh less still */
/* The turn two before it (the one its speaker said before the other's reply) counts as the turn
 * after it does: a reply goes on with its speaker's own earlier line ("We went camping last week"
 * — "Where did you go?" — "Up in the mountains", found by "Where did Mel go camping?"). On
 * locomo-dev alone: single-hop hit@5 0.794 → 0.830, MRR 0.618 → 0.640; multi-hop hit@5 0.655 →
 * 0.613 (one exchange's turns crowd the first five more often; the own-words idf below gives it
 * back); overall hit@5 0.759 → 0.772, MRR 0.600 → 0.611. A word's idf counts only the memories
 * holding it in their own words (as BM25 defines it), not those holding it through a neighbour. */
#define TEXT_EARLIER_WEIGHT 0.45

/* A memory that asks a question ("How long have you been married?") weighs 0.85: it holds the
 * question's words but tells less than the reply it gets, which is found by them too (at
 * TEXT_ANSWER_WEIGHT). On locomo-dev: MRR +0.0036 alone, +0.0018 over TEXT_EARLIER_WEIGHT (multi-hop
 * MRR +0.009, adversarial +0.05, temporal −0.002, single-hop +0.0003). */
#define TEXT_ASKS_WEIGHT 0.85f

/* A memory said by someone other than the people a question names (brain/speakers.h) weighs half
 * (locomo-dev: hit@5 0.687 → 0.722, MRR 0.519 → 0.570); one that says when (core/time_words.h)
 * weighs 1.3 times as much for a question asking when (temporal questions' MRR 0.726 → 0.751). */
#define TEXT_OTHER_SPEAKER_WEIGHT 0.5f
#define TEXT_SAYS_WHEN_WEIGHT 1.3f

struct text_match {
    char id[ID_LEN];
    double words; /* query keys the memory holds, each by its idf in the memory's own words, a
                   * share of that for a related key or a neighbour's word (TEXT_BEFORE_WEIGHT,
                   * alt_weight) */
    double bm25;  /* with this avatar's statistics (k1 1.2, b 0.75) */
    float importance;
    int64_t created_ms;
};

/* Sets the most memories one avatar may have to be indexed in memory (0: never; the engines
 * answer instead). Default 200000. */
void text_index_limit(long max_memories);

/* The best `window` memories of the avatar for q: most query words first (each key counted once,
 * by its best match, weighted by its idf), then BM25, then id.
 * *out malloc'd (*n entries). DP_ERR_TOO_LARGE when the avatar is over the limit (the caller
 * uses the engines). rev is the avatar's current memory revision. */
int text_index_search(struct db *db, const char *avatar_id, int64_t rev, const struct text_query *q, int window,
                      struct text_match **out, int *n);

/* How many of the avatar's memories hold each key of q (df[i] for q->key[i]); DP_ERR_TOO_LARGE
 * as text_index_search. */
int text_index_df(struct db *db, const char *avatar_id, int64_t rev, const struct text_query *q, int df[]);

/* Starts the background builder (its own connection to database_url): a large avatar whose
 * memories changed is then rebuilt off the request path while the engines answer. Without it
 * every rebuild happens in the search that needs it. The large indexes it builds are saved in
 * snapshot_dir (NULL: not saved; text_index_file.c), and the first search after a start reads
 * them from there instead of building them again. */
int text_index_start(const char *database_url, const char *snapshot_dir);
void text_index_stop(void);

/* At a start, before anything else is set up: when snapshot_dir holds saved indexes, WordNet (which
 * keys every query, and which the saved files were keyed with) starts loading on a thread of its
 * own, beside the rest of the start, rather than after it in front of the first search. */
void text_index_warm(const char *snapshot_dir);

/* Removes the saved index of an avatar that is being deleted (its words must not outlive it). */
void text_index_forget(const char *avatar_id);

/* Forgets every built index (tests). */
void text_index_reset(void);

#endif
