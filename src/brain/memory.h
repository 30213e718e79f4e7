/* The memory store of an avatar: listing, full-text search (SQLite FTS5 bm25 / PostgreSQL
 * ts_rank_cd behind one interface), manual memories with versioned edits. */
#ifndef DP_MEMORY_H
#define DP_MEMORY_H

#include <jansson.h>
#include <stdint.h>

#include "core/text.h"

struct db;

#define MEMORY_TEXT_MAX 20000            /* bytes of one memory */
#define MEMORY_QUERY_MAX 1000            /* bytes of a search query */
#define MEMORY_QUERY_TERMS 32            /* terms of a search query */
#define MEMORY_TERM_MAX MEMORY_QUERY_MAX /* bytes of one search term (a query may be one long word) */
#define MEMORY_SEARCH_WINDOW 1000        /* candidates re-ranked per search (deeper pages end there) */
#define MEMORY_MARK_OPEN "\u00ab"        /* «: highlight markers in snippets */
#define MEMORY_MARK_CLOSE "\u00bb"       /* » */

/* Re-ranking knobs of search (process-wide; set at start from configuration):
 *   score = relevance × (1 + importance_weight·(importance − 0.5))
 *                     × (1 + recency_weight·2^(−age_days / recency_half_life_days))
 * Defaults 0.1, 0 (off) and 30 days. Vector matches count from vector_min_similarity (cosine,
 * default 0.3) up. */
struct memory_tuning {
    double importance_weight;
    double recency_weight;
    double recency_half_life_days;
    double vector_min_similarity;
};
void memory_tune(const struct memory_tuning *t);

/* The JSON of one memory; DP_ERR_NOT_FOUND unless it belongs to avatar_id. */
int memory_get(struct db *db, const char *avatar_id, const char *memory_id, json_t **out);

/* Lists (q NULL) newest-last by id after cursor, or searches (q given) best first from offset.
 * Search items carry "score" (higher is better) and "highlight" (a snippet with «» around the
 * matching terms). *next_cursor (malloc'd or NULL) continues the listing. DP_ERR_INVALID when
 * q has no searchable term or is too long (msg says which). */
int memory_list(struct db *db, const char *avatar_id, const char *q, const char *cursor, long limit, json_t **items,
                char **next_cursor, char *msg, size_t msglen);

/* Where in a recording a memory was said: [start_ms, end_ms) of media media_id. */
struct memory_source {
    const char *media_id; /* NULL: the memory points at no recording */
    int64_t start_ms, end_ms;
    const char *occurred_at; /* when it was said or happened (RFC 3339, UTC); NULL: not known */
    /* A fact read from a conversation with the avatar: it and its messages' ids (a JSON array
     * text); NULL: none. Independent of media_id. */
    const char *conversation_id, *message_ids;
};

/* How many memories the avatar has (cached per revision). */
int memory_total(struct db *db, const char *avatar_id, int64_t *n);

/* How many of the avatar's memories hold each of the word keys keys[0..n) (text_word_key,
 * NUL-terminated; n ≤ MEMORY_QUERY_TERMS) into df. DP_ERR_TOO_LARGE for an avatar searched by
 * the database engines (no in-memory index). */
int memory_key_df(struct db *db, const char *avatar_id, const char *const *keys, int n, int df[]);

/* The distinct word keys (text_word_key) search looks for in q (valid UTF-8): its words without
 * stop words, or all of them when it has nothing else. keys[i] NUL-terminated; returns how many
 * (≤ MEMORY_QUERY_TERMS). */
int memory_query_keys(const char *q, char keys[][TEXT_KEY_MAX + 1]);

/* Adds a memory; kind: fact | utterance | passage | qa; importance in [0, 1]. */
int memory_create(struct db *db, const char *avatar_id, const char *text, const char *kind, double importance,
                  const char *speaker, json_t **out);
/* memory_create with a source (NULL or source->media_id NULL: none). The caller has checked the
 * span (avatar/clip.h clip_source_read): the media belongs to avatar_id. */
int memory_create_with_source(struct db *db, const char *avatar_id, const char *text, const char *kind,
                              double importance, const char *speaker, const struct memory_source *source, json_t **out);

/* Edits (NULL fields stay; occurred_at "" clears it); the previous text is kept as a version. */
int memory_update(struct db *db, const char *avatar_id, const char *memory_id, const char *text, const char *kind,
                  const double *importance, const char *speaker, const char *occurred_at, const char *editor_id,
                  json_t **out);

int memory_delete(struct db *db, const char *avatar_id, const char *memory_id);

/* The earlier versions of a memory, newest first. */
int memory_versions(struct db *db, const char *avatar_id, const char *memory_id, json_t **items);

/* Builds the search expression from free text: up to MEMORY_QUERY_TERMS words (letters and
 * digits), as FTS5 ("a" OR "b") or tsquery (a | b) syntax. Returns the number of terms. */
int memory_query_terms(const char *q, int postgres, char *out, size_t cap);

#endif
