/* Rate limits: token buckets kept in the cache (in-process, or Redis so limits hold across
 * instances). */
#ifndef DP_RATELIMIT_H
#define DP_RATELIMIT_H

#include <stdint.h>

struct cache;

/* Takes one token from the bucket named key (c: a handle of the security space, where cached
 * copies cannot evict it), refilled at rate tokens per second up to burst.
 * DP_OK, or DP_ERR_RATE_LIMITED with *retry_ms until a token is available. A cache failure
 * lets the request through (logged): an outage of Redis must not lock everyone out. */
int ratelimit_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms);

/* Counts a refusal for /metrics (scope: "login", "signup", "api" …). */
void ratelimit_count_refusal(const char *scope);

#endif
