/* Generations of cache scopes (see cache_gen.h): random-step counters in the cache. */
#include "store/cache_gen.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/cache.h"

/* A step of 1 to 2^32: far from overflowing an int64 for billions of writes, and a counter made
 * again starts somewhere else than where its answers were stamped. */
static int64_t random_step(void)
{
    return (int64_t)randombytes_random() + 1;
}

static void gen_key(const char *scope, char out[CACHE_GEN_SCOPE_MAX + 8])
{
    snprintf(out, CACHE_GEN_SCOPE_MAX + 8, "gen:%s", scope);
}

int cache_gen_read(struct cache *c, const char *scope, int64_t *gen)
{
    char key[CACHE_GEN_SCOPE_MAX + 8], *v = NULL, *end;
    size_t len;
    if (!c || strlen(scope) > CACHE_GEN_SCOPE_MAX)
        return DP_ERR_INVALID;
    gen_key(scope, key);
    int err = cache_get(c, key, &v, &len);
    if (!err) {
        long long n = strtoll(v, &end, 10);
        int ok = end != v && !*end;
        free(v);
        if (ok) {
            *gen = n;
            return DP_OK;
        }
    } else if (err != DP_ERR_NOT_FOUND) {
        return err;
    }
    /* Absent: made at a random value (two readers racing add both steps: still a fresh value). */
    return cache_incr(c, key, random_step(), CACHE_GEN_TTL_MS, gen);
}

int cache_gen_bump(struct cache *c, const char *scope)
{
    char key[CACHE_GEN_SCOPE_MAX + 8];
    if (!c || strlen(scope) > CACHE_GEN_SCOPE_MAX)
        return DP_ERR_INVALID;
    gen_key(scope, key);
    int err = cache_incr(c, key, random_step(), CACHE_GEN_TTL_MS, NULL);
    if (err == DP_ERR_INVALID) /* at the end of int64 (or not a number): made afresh by the next read */
        err = cache_del(c, key);
    if (err)
        DP_LOG(LOG_WARN, "[cache] could not move the generation of %s on: %s", scope, dp_strerror(err));
    return err;
}

int cache_gen_stamp(struct cache *c, const char *const *scopes, int n, char *key, size_t cap)
{
    size_t at = strlen(key);
    for (int i = 0; i < n; i++) {
        int64_t g;
        int err = cache_gen_read(c, scopes[i], &g);
        if (err)
            return err;
        int w = snprintf(key + at, cap - at, ":%lld", (long long)g);
        if (w < 0 || (size_t)w >= cap - at)
            return DP_ERR_TOO_LARGE;
        at += (size_t)w;
    }
    return DP_OK;
}
