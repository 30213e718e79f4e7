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

/* a + b into out (cap bytes, NUL included), cut to fit. */
static void join(char *out, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    la = la < cap - 1 ? la : cap - 1;
    lb = lb < cap - 1 - la ? lb : cap - 1 - la;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    out[la + lb] = 0;
}

void cache_gen_scope(char out[CACHE_GEN_SCOPE_MAX], const char *kind, const char *id)
{
    size_t lk = strlen(kind);
    char prefix[CACHE_GEN_SCOPE_MAX];
    lk = lk < sizeof prefix - 2 ? lk : sizeof prefix - 2;
    memcpy(prefix, kind, lk);
    prefix[lk] = ':';
    prefix[lk + 1] = 0;
    join(out, CACHE_GEN_SCOPE_MAX, prefix, id);
}

static void gen_key(const char *scope, char out[CACHE_GEN_KEY_MAX])
{
    join(out, CACHE_GEN_KEY_MAX, "gen:", scope);
}

/* ":<n>" into out (cap bytes); the length written, or -1 when it does not fit. */
static int put_gen(char *out, size_t cap, int64_t n)
{
    char digits[24];
    int at = (int)sizeof digits;
    uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    do
        digits[--at] = (char)('0' + u % 10);
    while (u /= 10);
    if (n < 0)
        digits[--at] = '-';
    digits[--at] = ':';
    size_t len = sizeof digits - (size_t)at;
    if (len >= cap)
        return -1;
    memcpy(out, digits + at, len);
    out[len] = 0;
    return (int)len;
}

void cache_gen_key(const char *scope, char key[CACHE_GEN_KEY_MAX])
{
    gen_key(scope, key);
}

/* 1 and *gen when v holds a generation. */
static int gen_parse(const char *v, int64_t *gen)
{
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || end == v || *end)
        return 0;
    *gen = n;
    return 1;
}

/* The generation stored as v (NULL: absent, made now at a random value; two readers racing add
 * both steps: still a fresh value). */
static int gen_value(struct cache *c, const char *key, const char *v, int64_t *gen)
{
    if (gen_parse(v, gen))
        return DP_OK;
    return cache_incr(c, key, random_step(), CACHE_GEN_TTL_MS, gen);
}

void cache_gen_note(struct cache_gen_known *known, const char *scope, const char *val)
{
    int64_t g;
    if (known->n < CACHE_GEN_KNOWN && strlen(scope) < CACHE_GEN_SCOPE_MAX && gen_parse(val, &g)) {
        memcpy(known->scope[known->n], scope, strlen(scope) + 1);
        known->gen[known->n++] = g;
    }
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
    if (!err) /* other instances' near copies of the old generation are gone before we return */
        err = cache_announce(c, key);
    if (err)
        DP_LOG(LOG_WARN, "[cache] could not move the generation of %s on: %s", scope, dp_strerror(err));
    return err;
}

/* The generation of scope in known, or 0 with none. */
static int known_gen(const struct cache_gen_known *known, const char *scope, int64_t *gen)
{
    for (int i = 0; known && i < known->n; i++)
        if (!strcmp(known->scope[i], scope)) {
            *gen = known->gen[i];
            return 1;
        }
    return 0;
}

int cache_gen_stamp(struct cache *c, const char *const *scopes, int n, char *key, size_t cap)
{
    return cache_gen_stamp_known(c, NULL, scopes, n, key, cap);
}

int cache_gen_stamp_known(struct cache *c, const struct cache_gen_known *known, const char *const *scopes, int n,
                          char *key, size_t cap)
{
    char keys[CACHE_GET_MANY_MAX][CACHE_GEN_KEY_MAX], *vals[CACHE_GET_MANY_MAX];
    const char *kp[CACHE_GET_MANY_MAX];
    size_t lens[CACHE_GET_MANY_MAX], at = strlen(key);
    int64_t gens[CACHE_GET_MANY_MAX];
    int have[CACHE_GET_MANY_MAX], nread = 0;
    if (!c || n < 1 || n > CACHE_GET_MANY_MAX)
        return DP_ERR_INVALID;
    for (int i = 0; i < n; i++) {
        if (strlen(scopes[i]) > CACHE_GEN_SCOPE_MAX)
            return DP_ERR_INVALID;
        vals[i] = NULL;
        gens[i] = 0;
        if (!(have[i] = known_gen(known, scopes[i], &gens[i]))) {
            gen_key(scopes[i], keys[i]);
            kp[nread++] = keys[i];
        }
    }
    /* The generations not known yet in one read (one round trip on Redis); none when all are. */
    char *got[CACHE_GET_MANY_MAX];
    int err = nread ? cache_get_many(c, kp, nread, got, lens) : DP_OK;
    for (int i = 0, j = 0; i < n && !err; i++)
        if (!have[i])
            vals[i] = got[j++];
    for (int i = 0; i < n && !err; i++) {
        int64_t g = gens[i];
        if (!have[i])
            err = gen_value(c, keys[i], vals[i], &g);
        int w = err ? 0 : put_gen(key + at, cap - at, g);
        if (!err && (w < 0 || (size_t)w >= cap - at))
            err = DP_ERR_TOO_LARGE;
        at += err ? 0 : (size_t)w;
    }
    for (int i = 0; i < n; i++)
        free(vals[i]);
    return err;
}
