/* The cache registry and the backend-independent wrappers: argument caps and call timing. */
#include "store/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/fault.h"
#include "core/registry.h"
#include "core/timeutil.h"
#include "store/cache_impl.h"

void (*cache_observe_hook)(const char *backend, const char *op, double seconds, int err);

long long cache_now_ms(void)
{
    return (long long)(time_mono() * 1000.0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int observe(const struct cache *c, const char *op, double t0, int err)
{
    void (*hook)(const char *, const char *, double, int) = cache_observe_hook;
    if (hook)
        hook(c->ops->name, op, now_s() - t0, err);
    return err;
}

static const char *const memory_schemes[] = {"memory:", NULL};
static const char *const redis_schemes[] = {"redis://", NULL};
static const struct backend cache_memory_row = {"memory", memory_schemes, 0, &cache_memory_ops};
static const struct backend cache_redis_row = {"redis", redis_schemes, CACHE_CAP_SHARED, &cache_redis_ops};

/* The cache backends; no address is the in-process one (cache_ops_for_url). */
static struct registry cache_backends = {"cache", {&cache_memory_row, &cache_redis_row}, 2, -1};

struct registry *cache_registry(void)
{
    return &cache_backends;
}

const struct cache_ops *cache_ops_for_url(const char *url)
{
    const struct backend *b = registry_for_url(&cache_backends, url && *url ? url : "memory:");
    return b ? b->ops : NULL;
}

static int key_ok(const char *key)
{
    return key && *key && strlen(key) <= CACHE_KEY_MAX;
}

int cache_open_space(struct cache **out, const char *url, enum cache_space space)
{
    *out = NULL;
    const struct cache_ops *ops = cache_ops_for_url(url);
    if (!ops || (unsigned)space >= CACHE_SPACES)
        return DP_ERR_INVALID;
    return ops->open(out, url, space);
}

int cache_open(struct cache **out, const char *url)
{
    return cache_open_space(out, url, CACHE_SPACE_CACHED);
}

void cache_close(struct cache *c)
{
    if (c)
        c->ops->close(c);
}

const char *cache_backend(const struct cache *c)
{
    return c->ops->name;
}

int cache_get(struct cache *c, const char *key, char **val, size_t *len)
{
    size_t ignored;
    *val = NULL;
    if (!len)
        len = &ignored;
    *len = 0;
    if (!key_ok(key))
        return DP_ERR_INVALID;
    double t0 = now_s();
    return observe(c, "get", t0, c->ops->get(c, key, val, len));
}

int cache_get_many(struct cache *c, const char *const *keys, int n, char **vals, size_t *lens)
{
    if (n < 1 || n > CACHE_GET_MANY_MAX)
        return DP_ERR_INVALID;
    for (int i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
        if (!key_ok(keys[i]))
            return DP_ERR_INVALID;
    }
    double t0 = now_s();
    int err = DP_OK;
    if (c->ops->get_many) {
        err = c->ops->get_many(c, keys, n, vals, lens);
    } else {
        for (int i = 0; i < n && !err; i++) {
            err = c->ops->get(c, keys[i], &vals[i], &lens[i]);
            if (err == DP_ERR_NOT_FOUND)
                err = DP_OK, vals[i] = NULL;
        }
    }
    if (err)
        for (int i = 0; i < n; i++) {
            free(vals[i]);
            vals[i] = NULL;
        }
    return observe(c, "get_many", t0, err);
}

int cache_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms)
{
    if (!key_ok(key) || (!val && len))
        return DP_ERR_INVALID;
    if (len > CACHE_VAL_MAX || (c->space == CACHE_SPACE_CACHED && len > CACHE_CACHED_VAL_MAX))
        return DP_ERR_TOO_LARGE;
    if (fault_hit(FAULT_CACHE_WRITE))
        return DP_ERR_UNAVAILABLE;
    double t0 = now_s();
    return observe(c, "set", t0, c->ops->set(c, key, val ? val : "", len, ttl_ms));
}

int cache_del(struct cache *c, const char *key)
{
    if (!key_ok(key))
        return DP_ERR_INVALID;
    double t0 = now_s();
    return observe(c, "del", t0, c->ops->del(c, key));
}

int cache_incr(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result)
{
    int64_t ignored;
    if (!key_ok(key))
        return DP_ERR_INVALID;
    double t0 = now_s();
    return observe(c, "incr", t0, c->ops->incr(c, key, delta, ttl_ms, result ? result : &ignored));
}

int cache_bucket_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms)
{
    int64_t ignored;
    if (!key_ok(key) || !(rate > 0) || !(burst >= 1))
        return DP_ERR_INVALID;
    double t0 = now_s();
    return observe(c, "bucket_take", t0, c->ops->bucket_take(c, key, rate, burst, retry_ms ? retry_ms : &ignored));
}

int cache_bucket_take_get_many(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                               const char *const *keys, int n, char **vals, size_t *lens)
{
    int64_t ignored;
    if (n < 0 || n > CACHE_GET_MANY_MAX)
        return DP_ERR_INVALID;
    for (int i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
    }
    if (!key_ok(bucket) || !(rate > 0) || !(burst >= 1))
        return DP_ERR_INVALID;
    for (int i = 0; i < n; i++)
        if (!key_ok(keys[i]))
            return DP_ERR_INVALID;
    retry_ms = retry_ms ? retry_ms : &ignored;
    if (!c->ops->bucket_take_get) {
        if (n)
            cache_get_many(c, keys, n, vals, lens); /* a failed read leaves vals NULL */
        return cache_bucket_take(c, bucket, rate, burst, retry_ms);
    }
    double t0 = now_s();
    return observe(c, "bucket_take_get", t0,
                   c->ops->bucket_take_get(c, bucket, rate, burst, retry_ms, keys, n, vals, lens));
}

int cache_bucket_take_get(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                          const char *key, char **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    if (!key_ok(key))
        return DP_ERR_INVALID;
    return cache_bucket_take_get_many(c, bucket, rate, burst, retry_ms, &key, 1, val, len);
}

int cache_spaces_shared(const struct cache *c)
{
    return c && (c->ops == &cache_redis_ops || c->ops == &cache_near_ops);
}

int cache_announce(struct cache *c, const char *key)
{
    if (!key_ok(key))
        return DP_ERR_INVALID;
    if (!c->ops->announce)
        return DP_OK;
    double t0 = now_s();
    return observe(c, "announce", t0, c->ops->announce(c, key));
}

int cache_publish(struct cache *c, const char *channel, const void *msg, size_t len)
{
    if (!key_ok(channel) || (!msg && len))
        return DP_ERR_INVALID;
    if (len > CACHE_VAL_MAX)
        return DP_ERR_TOO_LARGE;
    double t0 = now_s();
    return observe(c, "publish", t0, c->ops->publish(c, channel, msg ? msg : "", len));
}

int cache_may_evict(struct cache *c, char *why, size_t cap)
{
    if (cap)
        why[0] = 0;
    if (c->ops->may_evict)
        return c->ops->may_evict(c, why, cap);
    /* The memory backend: the cached-copies space evicts by design, the security space only
     * among its own keys when its budget is full. */
    if (c->space == CACHE_SPACE_CACHED)
        snprintf(why, cap, "cached copies are evicted least recently used first");
    return c->space == CACHE_SPACE_CACHED;
}

int cache_ping(struct cache *c)
{
    double t0 = now_s();
    return observe(c, "ping", t0, c->ops->ping(c));
}
