/* Shared by the memory store's files (memory.c: rows and edits; memory_search.c: listing and
 * search). Not for use outside brain/. */
#ifndef DP_MEMORY_IMPL_H
#define DP_MEMORY_IMPL_H

#include <jansson.h>

#include <stdint.h>

struct db;
struct db_rows;

/* The columns memory_from_row reads, in its order, from `memories m`. */
#define MEMORY_COLUMNS                                                                                                 \
    "m.id, m.kind, m.text, m.media_id, m.start_ms, m.end_ms, m.char_start, m.char_end, m.page, m.speaker, "            \
    "m.importance, m.version, m.created_at, m.updated_at, m.occurred_at, m.conversation_id, m.message_ids"
#define MEMORY_NCOLS 17

/* The public JSON of the memory in row i (selected with MEMORY_COLUMNS). */
json_t *memory_from_row(const struct db_rows *r, int i);

/* The avatar's memory revision (bumped by a trigger on every change to its memories), -1 for an
 * avatar that is not there. */
int memory_avatar_rev(struct db *db, const char *avatar_id, int64_t *rev);

/* The search highlight of text for query q (both valid UTF-8, else NULL); malloc'd. For the fuzzer
 * and tests: searches make theirs inside memory_list. */
char *memory_highlight(const char *q, const char *text);

#endif
