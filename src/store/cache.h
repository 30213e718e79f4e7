/* The cache: in-process (default) or Redis, with TTLs, invalidation, counters and pub/sub. */
#ifndef DP_CACHE_H
#define DP_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache; /* one handle per thread (a Redis connection); the memory backend shares one table a space */

/* What a handle holds. Cached copies (responses, user JSON) may be evicted at any time to make
 * room, and values over CACHE_CACHED_VAL_MAX are refused (not cached); security state (rate
 * limits, login back-off, session revocations, one-time tickets) lives apart, in a budget that
 * cached copies cannot touch: flooding the cache must never lift a lock-out. */
enum cache_space {
    CACHE_SPACE_CACHED = 0,
    CACHE_SPACE_SECURITY = 1,
};
#define CACHE_SPACES 2
#define CACHE_CACHED_VAL_MAX (256u << 10) /* larger responses are served, never cached */

struct cache_ops {
    const char *name;
    int (*open)(struct cache **out, const char *url, enum cache_space space);
    void (*close)(struct cache *c);
    /* *val is malloc'd (caller frees), NUL-terminated; DP_ERR_NOT_FOUND when absent/expired. */
    int (*get)(struct cache *c, const char *key, char **val, size_t *len);
    int (*set)(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms);
    int (*del)(struct cache *c, const char *key);
    /* Atomically adds delta; creates the key with ttl_ms when new. */
    int (*incr)(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result);
    int (*publish)(struct cache *c, const char *channel, const void *msg, size_t len);
    int (*ping)(struct cache *c);
    /* Atomic token bucket: see cache_bucket_take. */
    int (*bucket_take)(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms);
    /* Optional: see cache_may_evict. */
    int (*may_evict)(struct cache *c, char *why, size_t cap);
    /* Optional: see cache_get_many (one round trip instead of n). */
    int (*get_many)(struct cache *c, const char *const *keys, int n, char **vals, size_t *lens);
    /* Optional: see cache_bucket_take_get_many (one round trip instead of two). */
    int (*bucket_take_get)(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                           const char *const *keys, int n, char **vals, size_t *lens);
    /* Optional: see cache_announce. */
    int (*announce)(struct cache *c, const char *key);
};

/* Capability bits of cache backends (struct backend.caps). */
#define CACHE_CAP_SHARED 1u /* every instance sees the same keys */
struct registry;
/* The cache backends (core/registry.h): memory (no address, "memory", memory:) and redis (redis://). */
struct registry *cache_registry(void);

/* url NULL or "" or "memory:" → in-process; redis://host:port[/db] → Redis. A handle of the
 * cached-copies space (cache_open) or of space (cache_open_space). */
int cache_open(struct cache **out, const char *url);
int cache_open_space(struct cache **out, const char *url, enum cache_space space);
/* The in-process cached-copies space's byte budget (default 256 MiB); call before the first open. */
void cache_memory_set_budget(size_t max_bytes);
void cache_close(struct cache *c);
const char *cache_backend(const struct cache *c);
int cache_get(struct cache *c, const char *key, char **val, size_t *len);
int cache_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms);
#define CACHE_GET_MANY_MAX 5
/* Reads n (1..CACHE_GET_MANY_MAX) keys at once (Redis: one MGET): vals[i] malloc'd and
 * NUL-terminated (caller frees), or NULL when absent. On error every vals[i] is NULL. */
int cache_get_many(struct cache *c, const char *const *keys, int n, char **vals, size_t *lens);
int cache_del(struct cache *c, const char *key); /* invalidation; DP_OK when absent */
int cache_incr(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result);
int cache_publish(struct cache *c, const char *channel, const void *msg, size_t len);
/* After a write to key that instances may hold near copies of (store/near.h: generations, session
 * states), before it is acknowledged: returns once every instance sharing c's server has dropped
 * its copy or stopped trusting its copies. Nothing to do in-process. */
int cache_announce(struct cache *c, const char *key);
int cache_ping(struct cache *c);
/* Takes one token from the bucket key (refilled at rate per second, holding at most burst),
 * atomically across every handle — and, on Redis, every instance. DP_OK when a token was
 * taken; DP_ERR_RATE_LIMITED with *retry_ms until one will be; other codes on failure. */
int cache_bucket_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms);

/* cache_bucket_take on bucket and cache_get of key at once (Redis: one round trip): returns what
 * the take returns; *val is the key's value (malloc'd, caller frees) or NULL when it is absent or
 * could not be read. */
int cache_bucket_take_get(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                          const char *key, char **val, size_t *len);
/* The same with the values of keys[0..n) (n ≤ CACHE_GET_MANY_MAX) into vals/lens as
 * cache_get_many gives them (NULL when absent or unreadable; the caller frees each). */
int cache_bucket_take_get_many(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                               const char *const *keys, int n, char **vals, size_t *lens);

/* 1 when every space of c's server is one keyspace (Redis: the spaces are connections to one
 * server), so that a read through one handle sees what another space's handle wrote. */
int cache_spaces_shared(const struct cache *c);

/* Whether the backend may evict this handle's keys under memory pressure: 0 no, 1 yes, -1 cannot
 * tell (why says what, for a log line). The in-process security space never loses a live key to
 * cached copies; Redis evicts by its own maxmemory-policy, server-wide: run it with noeviction
 * (or without maxmemory) and room for the security state. */
int cache_may_evict(struct cache *c, char *why, size_t cap);

/* Call latency observed by every cache call (seconds), for metrics; set by the server. */
extern void (*cache_observe_hook)(const char *backend, const char *op, double seconds, int err);

/* Pub/sub subscriptions delivered on a libuv loop thread (cross-instance events). */
struct uv_loop_s;
struct pubsub;
typedef void (*pubsub_cb)(void *arg, const char *channel, const char *msg, size_t len);
/* Subscribes on loop; url as for cache_open (memory: delivers only this process's publishes).
 * Call pubsub_* on the loop thread. Redis connects in the background and reconnects with
 * backoff, subscribing again; messages published while it is disconnected are lost. */
int pubsub_open(struct pubsub **out, struct uv_loop_s *loop, const char *url);
/* cb runs on the loop thread for every message on channel; a channel ending in "*" is a pattern
 * (Redis PSUBSCRIBE): every channel that starts with what precedes the star. */
int pubsub_subscribe(struct pubsub *ps, const char *channel, pubsub_cb cb, void *arg);
/* Stops delivery at once (also from inside a callback). The memory is released by libuv close
 * callbacks: run the loop once more before uv_loop_close. */
void pubsub_close(struct pubsub *ps);

#endif
