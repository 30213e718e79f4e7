/* A bump allocator for memory that lives as long as one unit of work (a request): everything is
 * let go at once by arena_reset or arena_cleanup, never piece by piece. The first block may be
 * storage the owner embeds (a request's inline bytes), so that a small request allocates nothing
 * from the heap; further blocks come from malloc, each at least twice the one before. */
#ifndef DP_ARENA_H
#define DP_ARENA_H

#include <stddef.h>

struct arena_block; /* a heap block: a link and its bytes */

struct arena {
    char *first; /* caller-owned first block (may be NULL) */
    size_t first_cap;
    char *at; /* the free bytes of the current block: at .. end */
    char *end;
    struct arena_block *heap; /* heap blocks, newest first */
    size_t heap_bytes;        /* bytes of the heap blocks */
    size_t max;               /* allocations that would take the heap blocks over this fail; 0 = no cap */
    size_t next;              /* size of the next heap block */
};

/* Starts an arena over first (first_cap bytes, may be NULL/0), which must outlive it. */
void arena_init(struct arena *a, void *first, size_t first_cap, size_t max);
/* n bytes aligned for any type, or NULL (out of memory, or past max). Valid until reset. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies of s (n bytes of it), NUL-terminated; NULL as arena_alloc (and for s NULL). */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Lets everything go: the heap blocks are freed and the first block is reused. */
void arena_reset(struct arena *a);
void arena_cleanup(struct arena *a);

#endif
