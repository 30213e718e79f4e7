/* Bump allocation over a caller's first block and doubling heap blocks (see arena.h). */
#include "core/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t cap;
    alignas(max_align_t) char data[];
};

#define ALIGN alignof(max_align_t)
#define FIRST_HEAP_BLOCK 4096

void arena_init(struct arena *a, void *first, size_t first_cap, size_t max)
{
    memset(a, 0, sizeof *a);
    a->first = first;
    a->first_cap = first ? first_cap : 0;
    a->max = max;
    arena_reset(a);
}

/* The first aligned address at or after p. */
static char *aligned(char *p)
{
    return (char *)(((uintptr_t)p + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1));
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (!n)
        n = 1;
    char *p = a->at ? aligned(a->at) : NULL;
    if (p && p <= a->end && (size_t)(a->end - p) >= n) {
        a->at = p + n;
        return p;
    }
    if (n > SIZE_MAX / 4 || (a->max && (n > a->max || a->heap_bytes > a->max - n)))
        return NULL;
    size_t cap = a->next > n ? a->next : n;
    if (a->max && cap > a->max - a->heap_bytes) /* near the cap: a block of what is left */
        cap = a->max - a->heap_bytes;
    struct arena_block *b = malloc(sizeof *b + cap);
    if (!b)
        return NULL;
    b->next = a->heap;
    b->cap = cap;
    a->heap = b;
    a->heap_bytes += cap;
    a->next = cap * 2;
    a->at = b->data + n;
    a->end = b->data + cap;
    return b->data;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

void arena_reset(struct arena *a)
{
    while (a->heap) {
        struct arena_block *b = a->heap;
        a->heap = b->next;
        free(b);
    }
    a->heap_bytes = 0;
    a->next = a->first_cap > FIRST_HEAP_BLOCK / 2 ? a->first_cap * 2 : FIRST_HEAP_BLOCK;
    a->at = a->first;
    a->end = a->first ? a->first + a->first_cap : NULL;
}

void arena_cleanup(struct arena *a)
{
    arena_reset(a);
    a->at = a->end = NULL;
    a->first = NULL;
    a->first_cap = 0;
}
