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

/* The generation stored as v (NULL: absent, made now at a random value; two readers racing add
 * both steps: still a fresh value). */
static int gen_value(struct cache *c, const char *key, const char *v, int64_t *gen)
{
    if (v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end != v && !*end) {
            *gen = n;
            return DP_OK;
        }
    }
    return cache_incr(c, key, random_step(), CACHE_GEN_TTL_MS, gen);
}

int cache_gen_read(struct cache *c, const char *scope, int64_t *gen)
{
    char key[CACHE_GEN_SCOPE_MAX + 8], *v = NULL;
    size_t len;
    if (!c || strlen(scope) > CACHE_GEN_SCOPE_MAX)
        return DP_ERR_INVALID;
    gen_key(scope, key);
    int err = cache_get(c, key, &v, &len);
    if (err && err != DP_ERR_NOT_FOUND)
        return err;
    err = gen_value(c, key, v, gen);
    free(v);
    return err;
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
    char keys[CACHE_GET_MANY_MAX][CACHE_GEN_SCOPE_MAX + 8], *vals[CACHE_GET_MANY_MAX];
    const char *kp[CACHE_GET_MANY_MAX];
    size_t lens[CACHE_GET_MANY_MAX], at = strlen(key);
    if (!c || n < 1 || n > CACHE_GET_MANY_MAX)
        return DP_ERR_INVALID;
    for (int i = 0; i < n; i++) {
        if (strlen(scopes[i]) > CACHE_GEN_SCOPE_MAX)
            return DP_ERR_INVALID;
        gen_key(scopes[i], keys[i]);
        kp[i] = keys[i];
        vals[i] = NULL;
    }
    /* All generations in one read (one round trip on Redis). */
    int err = cache_get_many(c, kp, n, vals, lens);
    for (int i = 0; i < n && !err; i++) {
        int64_t g;
        err = gen_value(c, keys[i], vals[i], &g);
        int w = err ? 0 : snprintf(key + at, cap - at, ":%lld", (long long)g);
        if (!err && (w < 0 || (size_t)w >= cap - at))
            err = DP_ERR_TOO_LARGE;
        at += err ? 0 : (size_t)w;
    }
    for (int i = 0; i < n; i++)
        free(vals[i]);
    return err;
}
