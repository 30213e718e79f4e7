/* Generations: versioned cache keys. A scope ("org:<id>", "user:<id>", "avatar:<id>") has a
 * counter in the cache; a cached answer is stored under a key that holds the generations of the
 * scopes it was built from, and a write moves its scopes' counters on before it is acknowledged.
 * Every instance that shares the cache (Redis) then reads new generations, so it can never find
 * an answer built before the write: there is no message to miss and no delete to race. */
#ifndef DP_CACHE_GEN_H
#define DP_CACHE_GEN_H

#include <stddef.h>
#include <stdint.h>

struct cache;

#define CACHE_GEN_SCOPE_MAX 96 /* bytes of a scope name */
#define CACHE_GEN_TTL_MS (24 * 3600 * 1000)

/* The scope "<kind>:<id>" into out (cut to fit). Built on every hot read: by copies, where
 * snprintf costs about a thousand instructions a call. */
void cache_gen_scope(char out[CACHE_GEN_SCOPE_MAX], const char *kind, const char *id);

/* The current generation of scope into *gen. A scope without one (never written, expired or
 * evicted) gets a random one: counters move by random steps, so a counter lost and made again
 * does not return to a value that answers stored under its old life carry. Read the generations
 * BEFORE reading what the answer is built from (the database): a write that lands in between
 * then moves a generation the answer is already stamped with. Fails (and nothing may be served
 * from or stored into the cache) when the cache cannot answer. */
int cache_gen_read(struct cache *c, const char *scope, int64_t *gen);

/* Moves scope to a new generation: answers stamped with the old one are never read again.
 * Call after the write is durable and before it is acknowledged. */
int cache_gen_bump(struct cache *c, const char *scope);

/* Reads the generations of scopes[0..n) and appends ":<gen>" for each to key (cap bytes, NUL
 * included). DP_ERR_TOO_LARGE when it does not fit. */
int cache_gen_stamp(struct cache *c, const char *const *scopes, int n, char *key, size_t cap);

/* Generations read ahead, in the round trip of another read (the session check of a request):
 * the request's cached reads then need no read of their own for these scopes. Read at the start
 * of the request, they are older than anything it reads from the database, as stamping needs. */
#define CACHE_GEN_KNOWN 2
struct cache_gen_known {
    int n;
    char scope[CACHE_GEN_KNOWN][CACHE_GEN_SCOPE_MAX];
    int64_t gen[CACHE_GEN_KNOWN];
};

/* The cache key of scope's generation (cap CACHE_GEN_KEY_MAX). */
#define CACHE_GEN_KEY_MAX (CACHE_GEN_SCOPE_MAX + 8)
void cache_gen_key(const char *scope, char key[CACHE_GEN_KEY_MAX]);

/* Notes into known the generation of scope as read from its key (val NULL: absent, then nothing is
 * noted and a stamp reads it as usual). */
void cache_gen_note(struct cache_gen_known *known, const char *scope, const char *val);

/* cache_gen_stamp taking the generations in known (may be NULL) as read: a read only for the others. */
int cache_gen_stamp_known(struct cache *c, const struct cache_gen_known *known, const char *const *scopes, int n,
                          char *key, size_t cap);

#endif
