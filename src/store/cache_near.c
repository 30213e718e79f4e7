/* The loop thread's cache handle with Redis: it answers from near copies (near.h) and a lease of
 * rate tokens only, never with a round trip; anything else is DP_ERR_WOULDBLOCK, and the request
 * goes to a worker, whose Redis handle reads (and fills the copies). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/metrics.h"
#include "store/cache_impl.h"
#include "store/near.h"

static int near_open(struct cache **out, const char *url, enum cache_space space)
{
    (void)url;
    struct cache *c = calloc(1, sizeof *c);
    if (!c)
        return DP_ERR_NOMEM;
    c->ops = &cache_near_ops;
    c->space = space;
    *out = c;
    return DP_OK;
}

int near_cache_open(struct cache **out, enum cache_space space)
{
    return near_open(out, NULL, space);
}

static void near_close(struct cache *c)
{
    free(c);
}

/* Keys without near copies are absent here (a cached answer's bytes: the caller goes on to a
 * worker). */
static int near_handle_get(struct cache *c, const char *key, char **val, size_t *len)
{
    (void)c;
    return near_tracked(key) ? near_get(key, val, len) : DP_ERR_NOT_FOUND;
}

/* All of keys, or DP_ERR_WOULDBLOCK: a missing generation would otherwise be made afresh. */
static int near_handle_get_many(struct cache *c, const char *const *keys, int n, char **vals, size_t *lens)
{
    (void)c;
    for (int i = 0; i < n; i++)
        if (!near_tracked(keys[i]) || near_get(keys[i], &vals[i], &lens[i]))
            return DP_ERR_WOULDBLOCK; /* cache_get_many frees what was read */
    return DP_OK;
}

/* Requests authenticated from near copies, and those that had to go to a worker. */
static struct metric *m_near;

static void count(const char *result)
{
    if (!m_near)
        m_near = metric_new(METRIC_COUNTER, "doppel_near_auth_total",
                            "requests authenticated from near copies (hit) or sent to a worker (miss)", 1,
                            (const char *[]){"result"}, NULL, 0);
    metric_add(m_near, (const char *[]){result}, 1);
}

static int near_handle_bucket_take_get(struct cache *c, const char *bucket, double rate, double burst,
                                       int64_t *retry_ms, const char *const *keys, int n, char **vals, size_t *lens)
{
    (void)rate, (void)burst, (void)retry_ms;
    int err = near_handle_get_many(c, keys, n, vals, lens);
    if (!err && !near_lease_take(bucket))
        err = DP_ERR_WOULDBLOCK; /* no token here: a worker asks Redis (and takes a lease) */
    count(err ? "miss" : "hit");
    if (err)
        for (int i = 0; i < n; i++) {
            free(vals[i]);
            vals[i] = NULL;
        }
    return err;
}

static int near_handle_bucket_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms)
{
    (void)c, (void)rate, (void)burst, (void)retry_ms;
    return near_lease_take(key) ? DP_OK : DP_ERR_WOULDBLOCK;
}

static int would_block_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms)
{
    (void)c, (void)key, (void)val, (void)len, (void)ttl_ms;
    return DP_ERR_WOULDBLOCK;
}

static int would_block_del(struct cache *c, const char *key)
{
    (void)c, (void)key;
    return DP_ERR_WOULDBLOCK;
}

static int would_block_incr(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result)
{
    (void)c, (void)key, (void)delta, (void)ttl_ms, (void)result;
    return DP_ERR_WOULDBLOCK;
}

static int would_block_publish(struct cache *c, const char *channel, const void *msg, size_t len)
{
    (void)c, (void)channel, (void)msg, (void)len;
    return DP_ERR_WOULDBLOCK;
}

static int near_ping(struct cache *c)
{
    (void)c;
    return near_trusted() ? DP_OK : DP_ERR_UNAVAILABLE;
}

const struct cache_ops cache_near_ops = {
    .name = "near",
    .open = near_open,
    .close = near_close,
    .get = near_handle_get,
    .set = would_block_set,
    .del = would_block_del,
    .incr = would_block_incr,
    .publish = would_block_publish,
    .ping = near_ping,
    .bucket_take = near_handle_bucket_take,
    .get_many = near_handle_get_many,
    .bucket_take_get = near_handle_bucket_take_get,
};
