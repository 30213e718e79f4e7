/* Private to src/store: the common head of cache backends, shared limits and helpers. */
#ifndef DP_CACHE_IMPL_H
#define DP_CACHE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "store/cache.h"

#define CACHE_KEY_MAX 1024        /* bytes of a key or channel name */
#define CACHE_VAL_MAX (16u << 20) /* bytes of a value or published message */

/* Every backend's handle starts with this. */
struct cache {
    const struct cache_ops *ops;
    enum cache_space space; /* set by the backend's open */
};

extern const struct cache_ops cache_memory_ops;
extern const struct cache_ops cache_redis_ops;
extern const struct cache_ops cache_near_ops;

/* The backend url selects, or NULL when url is neither memory nor redis://. */
const struct cache_ops *cache_ops_for_url(const char *url);

/* redis://[user[:password]@]host[:port][/db], %XX escapes decoded in user and password. */
struct redis_url {
    char host[256];
    int port;
    int db;
    char user[128]; /* "" when absent */
    char pass[256]; /* "" when absent: no AUTH */
};
int redis_url_parse(const char *url, struct redis_url *u);

/* Queues msg for every in-process memory pub/sub subscriber; thread-safe. */
int pubsub_memory_publish(const char *channel, const void *msg, size_t len);

/* Near copies (near.h) on Redis: the heartbeat (renews id's membership of ns for lease_ms and
 * publishes "<token> <seq>" on ns's beat channel of id) and leaving the member set. */
int redis_near_beat(struct cache *c, const char *ns, const char *id, int lease_ms, uint64_t token);
int redis_near_leave(struct cache *c, const char *ns, const char *id);

/* Monotonic clock in milliseconds. */
long long cache_now_ms(void);

#endif
