/* The vectors of an avatar's memories, held in memory and scanned exactly. An avatar's memory is
 * small enough (thousands to ~100k items) that a full scan of contiguous float32 rows beats an
 * approximate index and needs no extra engine. The index of an avatar is loaded on first use and
 * reloaded when its memory revision (avatars.memory_rev) moves. */
#ifndef DP_VECTORS_H
#define DP_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

struct db;

struct vec_hit {
    char id[ID_LEN];
    float score;      /* cosine similarity */
    float importance; /* the memory's, for re-ranking */
    int64_t created_ms;
};

/* The k memories of avatar_id whose vectors (of `model`, dims long) are nearest to q (unit
 * length), best first, into hits (room for k); *n how many; *missing how many of its memories
 * have no such vector yet. rev is the avatar's current memory revision. */
int vectors_search(struct db *db, const char *avatar_id, int64_t rev, const char *model, const float *q, int dims,
                   int k, struct vec_hit *hits, int *n, int *missing);

/* The dot product of two float32 rows; 8 independent sums so the compiler can keep them in
 * SIMD registers (a single running sum serialises every addition). */
float vectors_dot(const float *a, const float *b, int dims);

/* Sets the bytes of vectors held in memory across avatars (--vector-cache-max; default 1 GiB): the
 * least recently searched avatars' vectors are let go beyond it, and an avatar whose vectors alone
 * exceed it is searched by text alone. */
void vectors_budget(size_t max_bytes);

/* Bytes of vectors held now (tests, metrics). */
size_t vectors_held(void);

/* Forgets every loaded index (tests; memory pressure). */
void vectors_reset(void);

/* Little-endian float32 blob ↔ floats (the stored form of a vector). */
void vectors_to_blob(const float *v, int dims, unsigned char *out);
void vectors_from_blob(const unsigned char *blob, int dims, float *out);

#endif
