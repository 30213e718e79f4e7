/* Near copies of shared cache keys: with Redis, each instance keeps in memory the values of the
 * keys a warm signed-in read needs (the session's state, the generations its answer is stamped
 * with) and a lease of rate-limit tokens, so that such a read makes no Redis round trip.
 *
 * Exactness across instances comes from the writers, not from expiry:
 *  - every instance subscribes to its namespace's invalidation channel and is a member of a set in
 *    Redis (a lease it renews with a heartbeat every NEAR_BEAT_MS);
 *  - a write to a tracked key is announced (one script: the member list, a sequence number, the
 *    publish) and the writer waits until every member has acknowledged that it dropped its copy,
 *    or NEAR_TRUST_MS has passed — before the write is acknowledged to its client;
 *  - an instance trusts its copies only within NEAR_TRUST_MS of sending a heartbeat it has since
 *    received back on its subscription: that proves every announcement published before the
 *    heartbeat reached it. A member that never acknowledges (dead, cut off, stalled) has stopped
 *    trusting by the time the writer stops waiting; a gap in the sequence (a reconnection that
 *    lost messages) drops every copy.
 * So a write acknowledged by one instance is never followed by a stale read on another. */
#ifndef DP_NEAR_H
#define DP_NEAR_H

#include <stddef.h>
#include <stdint.h>

#define NEAR_TRUST_MS 500 /* how long a received heartbeat vouches for the copies */
#define NEAR_BEAT_MS 125  /* heartbeat period */
#define NEAR_ENTRY_TTL_MS 30000
#define NEAR_LEASE_MS 1000  /* a lease of rate tokens not spent by then is dropped */
#define NEAR_LEASE_MAX 1000 /* tokens a lease takes at most */
#define NEAR_ID_LEN 17      /* an instance id: 16 hex digits and a NUL */

#include "store/cache.h"

struct uv_loop_s;

/* Starts near copies for keys starting with one of prefixes (NULL-terminated; the strings must
 * outlive near_stop) on loop, with the Redis server of url. Call on the loop thread. */
int near_start(struct uv_loop_s *loop, const char *url, const char *const *prefixes);
/* Stops trusting, leaves the member set and closes the subscription (run the loop once more
 * after it); near_free releases the copies once no thread can read them (after the pools). */
void near_stop(void);
void near_free(void);

/* The loop thread's handle (cache_near.c): answers from the copies and leases, never blocks. */
int near_cache_open(struct cache **out, enum cache_space space);

/* This process's instance id while running, else "-" (a writer that is no member). */
const char *near_instance(void);
/* The channel and key prefix of Redis database db's namespace ("near:<db>:") into out: pub/sub
 * channels are server-wide, so instances on other databases (test lanes) keep apart. */
void near_namespace(int db, char out[32]);

/* Whether key has near copies; 1 when copies may be served now (any thread). */
int near_tracked(const char *key);
int near_trusted(void);

/* The copy of key: DP_OK with *val malloc'd (caller frees), DP_ERR_NOT_FOUND, or
 * DP_ERR_WOULDBLOCK when copies are not trusted now. */
int near_get(const char *key, char **val, size_t *len);

/* Filling copies from Redis reads: take near_fill_begin() before sending the read; the copy is
 * kept only when no announcement or reset was handled meanwhile. */
uint64_t near_fill_begin(void);
void near_fill(uint64_t ticket, const char *key, const char *val, size_t len);

/* Rate-limit leases: tokens a lease takes for bucket rate/burst (1: none, every request asks
 * Redis); a token from bucket's lease (1) or none (0); tokens put in bucket's lease. */
int near_lease_size(double rate, double burst);
int near_lease_take(const char *bucket);
void near_lease_put(const char *bucket, int tokens);

/* The writer's side of an announcement: near_wait_begin before the announcing script (acks may
 * arrive before its reply), near_wait_end with the members it returned (n < 0: the script
 * failed) — returns once each member acknowledged the message id and not before not_before_ms
 * (0: no such bound), or NEAR_TRUST_MS after t0_ms (the reply's arrival; cache_now_ms clock). */
uint64_t near_wait_begin(void);
void near_wait_end(uint64_t id, char **members, const size_t *lens, int n, long long t0_ms, long long not_before_ms);

#endif
