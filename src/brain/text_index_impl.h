/* The layout of an in-memory text index (text_index.c), shared with its snapshot file
 * (text_index_file.c). Not for use outside brain/. */
#ifndef DP_TEXT_INDEX_IMPL_H
#define DP_TEXT_INDEX_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "brain/avatar_slots.h"
#include "brain/speakers.h"
#include "core/id.h"
#include "core/stem.h"

struct posting {
    uint32_t doc;
    uint16_t tf;         /* times in the memory's own words */
    uint8_t before;      /* in the turn it answers (the one before it) */
    uint8_t after : 4;   /* in the turn that follows it (up to 15) */
    uint8_t earlier : 4; /* in the turn before that one (up to 15) */
};

/* A pair's term number with these bits: the word is a neighbour's (see index_doc). */
#define BEFORE_BIT 0x80000000u
#define AFTER_BIT 0x40000000u
#define EARLIER_BIT 0x20000000u
#define TERM_MASK 0x1fffffffu

/* Bits of text_index.answers. */
#define TURN_ANSWERS 1u
#define TURN_ASKS 2u

struct term {
    uint32_t key_at, key_len; /* in arena */
    uint32_t first, count;    /* postings[first .. first + count) */
    uint32_t own;             /* of them, memories holding it in their own words (tf > 0) */
};

struct text_index {
    struct slot_entry head;
    int too_large;       /* a marker: this revision of the avatar is searched by the engines */
    enum text_lang lang; /* of the memories: how their words are keyed */
    int sorted;          /* ids in byte order (as ORDER BY id gave them): an overlay finds a memory
                          * of this index by binary search */
    double total_len;    /* words of this index's own memories */
    /* An overlay: this index holds the memories changed since base was built, numbered after
     * base's; dead[d] marks base's memories it replaces or that were deleted. */
    struct text_index *base;
    uint8_t *dead;
    int base_live;        /* base's memories not dead */
    double base_dead_len; /* the words of base's dead memories */
    int ndocs;
    char (*ids)[ID_LEN];
    uint32_t *doclen;
    float *importance;
    int64_t *created_ms;
    int16_t *year;      /* of occurred_at, 0 unknown */
    uint8_t *speaker;   /* who said it (speakers.h), 0 unknown */
    uint8_t *says_when; /* 1: the memory holds a time word (core/time_words.h) */
    uint8_t *answers;   /* TURN_ANSWERS: the turn before it asks a question; TURN_ASKS: it asks one */
    /* Speakers numbered for this index; an overlay starts from a copy of its base's table, so its
     * base's numbers stay valid in it. */
    struct speakers *speakers;
    char name[128];                 /* the avatar's: which dialogue speaker is itself (self) */
    uint8_t self[SPEAKERS_MAX + 1]; /* 1: this speaker is the avatar itself */
    double avgdl;
    struct term *terms; /* hash table, cap a power of two; key_len 0 = empty */
    uint32_t cap, nterms;
    char *arena;
    size_t arena_len, arena_cap;
    struct posting *postings;
    /* Read back from a saved file (text_index_file.c): the arrays above point into this mapping
     * of it (copy-on-write), freed with munmap rather than one by one. */
    void *map;
    size_t map_len;
};

/* An empty index of (avatar_id, rev) with room for n memories (refs 1), NULL when out of memory. */
struct text_index *text_index_alloc(const char *avatar_id, int64_t rev, size_t n);
/* Frees an index (its slot entry's destroy). */
void text_index_free(struct slot_entry *e);
/* Frees (and clears) the per-memory arrays and the speakers table text_index_alloc made. */
void text_index_free_arrays(struct text_index *x);

/* The index of the avatar's memories at rev, built now and kept out of the cache (refs 1, the
 * caller's), and a ranking over a given index: what text_index_search does, for the saved-file
 * fuzz target (fuzz/fuzz_index_file.c). */
struct db;
struct text_query;
struct text_match;
int text_index_build_uncached(struct db *db, const char *avatar_id, int64_t rev, struct text_index **out);
int text_index_rank(const struct text_index *x, const struct text_query *q, int window, struct text_match **out,
                    int *n);

/* Snapshot files (text_index_file.c). Saves base index x as dir/<avatar>.tix (written aside and
 * renamed): DP_OK, DP_ERR_INVALID for an overlay or marker, DP_ERR_IO. */
int text_index_file_save(const struct text_index *x, const char *dir);
/* The saved index of avatar_id when its revision is at most max_rev and the file is whole and of
 * this build (refs 1, the caller's), else NULL. */
struct text_index *text_index_file_load(const char *dir, const char *avatar_id, int64_t max_rev);
void text_index_file_remove(const char *dir, const char *avatar_id);

#endif
