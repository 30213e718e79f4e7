/* Unit tests of the request arena (core/arena.c). */
#include <stdalign.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../test.h"
#include "core/arena.h"

TEST(arena_serves_from_its_first_block_then_the_heap_aligned_and_intact)
{
    alignas(max_align_t) char first[256];
    struct arena a;
    arena_init(&a, first, sizeof first, 0);
    char *s = arena_strdup(&a, "Authorization: Bearer x");
    CHECK(s >= first && s < first + sizeof first); /* inline: no heap */
    CHECK_EQ_STR(s, "Authorization: Bearer x");
    CHECK(a.heap == NULL);
    char *parts[64];
    for (int i = 0; i < 64; i++) { /* well past the first block: heap blocks, old pointers stay valid */
        char text[32];
        snprintf(text, sizeof text, "part %d of the request", i);
        parts[i] = arena_strndup(&a, text, strlen(text));
        CHECK(parts[i] != NULL);
        void *p = arena_alloc(&a, (size_t)i * 7 + 1);
        CHECK(p != NULL && (uintptr_t)p % alignof(max_align_t) == 0);
        memset(p, 0xab, (size_t)i * 7 + 1);
    }
    CHECK(a.heap != NULL);
    CHECK_EQ_STR(s, "Authorization: Bearer x");
    for (int i = 0; i < 64; i++) {
        char text[32];
        snprintf(text, sizeof text, "part %d of the request", i);
        CHECK_EQ_STR(parts[i], text);
    }
    CHECK(arena_strdup(&a, NULL) == NULL);
    /* A reset lets the heap go and starts over in the first block. */
    arena_reset(&a);
    CHECK(a.heap == NULL && a.heap_bytes == 0);
    char *again = arena_strdup(&a, "x");
    CHECK(again == first);
    arena_cleanup(&a);
}

TEST(arena_refuses_past_its_cap_and_takes_large_pieces_whole)
{
    struct arena a;
    arena_init(&a, NULL, 0, 64 * 1024); /* no first block: everything from the heap */
    char *big = arena_alloc(&a, 40000);
    CHECK(big != NULL);
    memset(big, 1, 40000);
    CHECK(arena_alloc(&a, 30000) == NULL); /* would take the heap past 64 KiB */
    CHECK(arena_alloc(&a, 1000) != NULL);  /* smaller pieces still fit */
    CHECK(arena_alloc(&a, SIZE_MAX - 8) == NULL);
    CHECK(a.heap_bytes <= 64 * 1024);
    arena_cleanup(&a);
    CHECK(a.heap == NULL);
}
