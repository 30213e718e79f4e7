/* The in-process cache backend: one mutex-protected hash table per space (cached copies,
 * security state), each shared by every handle of that space and bounded on its own, so that
 * cached responses can never evict a lock-out, a rate limit or a revocation. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/cache_impl.h"

#define MEM_MIN_BUCKETS 1024
#define MEM_MAX_BUCKETS ((size_t)1 << 18)
#define MEM_SWEEP_MS 1000 /* at most one full expiry sweep a second */

struct mem_entry {
    struct mem_entry *hnext;       /* hash chain */
    struct mem_entry *prev, *next; /* recency list: t->oldest … t->newest */
    uint64_t hash;
    long long expires_ms; /* monotonic ms; 0 = never */
    size_t klen, vlen;
    char *val;  /* vlen bytes + NUL */
    char key[]; /* klen bytes + NUL */
};

/* A process-wide table; created by the first handle of its space, freed with the last. */
struct mem_table {
    pthread_mutex_t mu;
    size_t max_entries, max_bytes; /* keys + values; over either, the least recently used go */
    int refs;                      /* open handles */
    struct mem_entry **buckets;
    size_t nbuckets; /* a power of 2 */
    size_t count, bytes;
    struct mem_entry *oldest, *newest;
    long long last_sweep_ms;
    unsigned char hkey[crypto_shorthash_KEYBYTES]; /* SipHash key: keys may come from outside */
};

/* Security state is small (counters, buckets, markers of a few dozen bytes): its budget holds
 * hundreds of thousands of them, and only its own keys compete for it. */
static struct mem_table tables[CACHE_SPACES] = {
    [CACHE_SPACE_CACHED] = {.mu = PTHREAD_MUTEX_INITIALIZER, .max_entries = 100000, .max_bytes = (size_t)256 << 20},
    [CACHE_SPACE_SECURITY] = {.mu = PTHREAD_MUTEX_INITIALIZER, .max_entries = 500000, .max_bytes = (size_t)64 << 20},
};

void cache_memory_set_budget(size_t max_bytes)
{
    struct mem_table *t = &tables[CACHE_SPACE_CACHED];
    pthread_mutex_lock(&t->mu);
    t->max_bytes = max_bytes;
    pthread_mutex_unlock(&t->mu);
}

static struct mem_table *table_of(const struct cache *c)
{
    return &tables[c->space];
}

static uint64_t key_hash(struct mem_table *t, const char *key, size_t klen)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, klen, t->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

static size_t entry_bytes(const struct mem_entry *e)
{
    return e->klen + e->vlen + sizeof(*e);
}

static void list_unlink(struct mem_table *t, struct mem_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->newest = e->prev;
    e->prev = e->next = NULL;
}

static void list_append(struct mem_table *t, struct mem_entry *e)
{
    e->prev = t->newest;
    e->next = NULL;
    if (t->newest)
        t->newest->next = e;
    else
        t->oldest = e;
    t->newest = e;
}

static struct mem_entry **bucket_of(struct mem_table *t, uint64_t hash)
{
    return &t->buckets[hash & (t->nbuckets - 1)];
}

static void entry_remove(struct mem_table *t, struct mem_entry *e)
{
    struct mem_entry **pp = bucket_of(t, e->hash);
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    list_unlink(t, e);
    t->count--;
    t->bytes -= entry_bytes(e);
    free(e->val);
    free(e);
}

static int expired(const struct mem_entry *e, long long now)
{
    return e->expires_ms && e->expires_ms <= now;
}

/* The live entry for key, or NULL; an expired one is removed on the way (lazy expiry). */
static struct mem_entry *lookup(struct mem_table *t, const char *key, size_t klen, uint64_t hash, long long now)
{
    for (struct mem_entry *e = *bucket_of(t, hash); e; e = e->hnext) {
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            if (expired(e, now)) {
                entry_remove(t, e);
                return NULL;
            }
            return e;
        }
    }
    return NULL;
}

static void sweep(struct mem_table *t, long long now)
{
    if (now - t->last_sweep_ms < MEM_SWEEP_MS)
        return;
    t->last_sweep_ms = now;
    for (struct mem_entry *e = t->oldest, *next; e; e = next) {
        next = e->next;
        if (expired(e, now))
            entry_remove(t, e);
    }
}

static void grow(struct mem_table *t)
{
    if (t->count < t->nbuckets || t->nbuckets >= MEM_MAX_BUCKETS)
        return;
    size_t n = t->nbuckets * 2;
    struct mem_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct mem_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Makes room for extra more bytes and, when adding, one more entry: drops expired entries,
 * then the least recently used ones. An entry being updated is off the list meanwhile. */
static void make_room(struct mem_table *t, size_t extra, int adding, long long now)
{
    size_t n = (size_t)(adding != 0);
    if (t->count + n <= t->max_entries && t->bytes + extra <= t->max_bytes)
        return;
    t->last_sweep_ms = 0;
    sweep(t, now);
    while (t->oldest && (t->count + n > t->max_entries || t->bytes + extra > t->max_bytes))
        entry_remove(t, t->oldest);
}

/* Stores val under key (t->mu held); the entry's expiry is set by the caller. */
static int store(struct mem_table *t, const char *key, size_t klen, uint64_t hash, const void *val, size_t vlen,
                 long long now, struct mem_entry **out)
{
    char *v = malloc(vlen + 1);
    if (!v)
        return DP_ERR_NOMEM;
    if (vlen)
        memcpy(v, val, vlen);
    v[vlen] = 0;
    struct mem_entry *e = lookup(t, key, klen, hash, now);
    if (e) {
        list_unlink(t, e);
        if (vlen > e->vlen)
            make_room(t, vlen - e->vlen, 0, now);
        t->bytes -= e->vlen;
        free(e->val);
        e->val = v;
        e->vlen = vlen;
        t->bytes += vlen;
        list_append(t, e);
        *out = e;
        return DP_OK;
    }
    make_room(t, klen + vlen + sizeof(*e), 1, now);
    e = malloc(sizeof(*e) + klen + 1);
    if (!e) {
        free(v);
        return DP_ERR_NOMEM;
    }
    memcpy(e->key, key, klen + 1);
    e->klen = klen;
    e->hash = hash;
    e->val = v;
    e->vlen = vlen;
    e->expires_ms = 0;
    e->hnext = *bucket_of(t, hash);
    *bucket_of(t, hash) = e;
    list_append(t, e);
    t->count++;
    t->bytes += entry_bytes(e);
    grow(t);
    *out = e;
    return DP_OK;
}

static int mem_open(struct cache **out, const char *url, enum cache_space space)
{
    (void)url;
    struct mem_table *t = &tables[space];
    if (sodium_init() < 0)
        return DP_ERR_INTERNAL;
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return DP_ERR_NOMEM;
    c->ops = &cache_memory_ops;
    c->space = space;
    pthread_mutex_lock(&t->mu);
    if (t->refs == 0) {
        t->buckets = calloc(MEM_MIN_BUCKETS, sizeof(*t->buckets));
        if (!t->buckets) {
            pthread_mutex_unlock(&t->mu);
            free(c);
            return DP_ERR_NOMEM;
        }
        t->nbuckets = MEM_MIN_BUCKETS;
        crypto_shorthash_keygen(t->hkey);
    }
    t->refs++;
    pthread_mutex_unlock(&t->mu);
    *out = c;
    return DP_OK;
}

static void mem_close(struct cache *c)
{
    struct mem_table *t = table_of(c);
    pthread_mutex_lock(&t->mu);
    if (--t->refs == 0) {
        while (t->oldest)
            entry_remove(t, t->oldest);
        free(t->buckets);
        t->buckets = NULL;
        t->nbuckets = 0;
    }
    pthread_mutex_unlock(&t->mu);
    free(c);
}

static int mem_get(struct cache *c, const char *key, char **val, size_t *len)
{
    struct mem_table *t = table_of(c);
    size_t klen = strlen(key);
    int err = DP_ERR_NOT_FOUND;
    pthread_mutex_lock(&t->mu);
    long long now = cache_now_ms();
    struct mem_entry *e = lookup(t, key, klen, key_hash(t, key, klen), now);
    if (e) {
        char *v = malloc(e->vlen + 1);
        if (v) {
            memcpy(v, e->val, e->vlen + 1);
            *val = v;
            *len = e->vlen;
            list_unlink(t, e);
            list_append(t, e);
            err = DP_OK;
        } else {
            err = DP_ERR_NOMEM;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return err;
}

static int mem_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms)
{
    struct mem_table *t = table_of(c);
    size_t klen = strlen(key);
    pthread_mutex_lock(&t->mu);
    long long now = cache_now_ms();
    sweep(t, now);
    struct mem_entry *e;
    int err = store(t, key, klen, key_hash(t, key, klen), val, len, now, &e);
    if (!err)
        e->expires_ms = ttl_ms > 0 ? now + ttl_ms : 0;
    pthread_mutex_unlock(&t->mu);
    return err;
}

static int mem_del(struct cache *c, const char *key)
{
    struct mem_table *t = table_of(c);
    size_t klen = strlen(key);
    pthread_mutex_lock(&t->mu);
    struct mem_entry *e = lookup(t, key, klen, key_hash(t, key, klen), cache_now_ms());
    if (e)
        entry_remove(t, e);
    pthread_mutex_unlock(&t->mu);
    return DP_OK;
}

/* Parses a whole decimal int64 as Redis INCRBY does; 0 when v is not one. */
static int parse_i64(const char *v, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end != v + n || *v == ' ' || *v == '+')
        return 0;
    *out = x;
    return 1;
}

static int mem_incr(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result)
{
    struct mem_table *t = table_of(c);
    size_t klen = strlen(key);
    uint64_t hash = key_hash(t, key, klen);
    int err = DP_OK;
    pthread_mutex_lock(&t->mu);
    long long now = cache_now_ms();
    sweep(t, now);
    struct mem_entry *e = lookup(t, key, klen, hash, now);
    int64_t cur = 0;
    if (e && !parse_i64(e->val, e->vlen, &cur)) {
        err = DP_ERR_INVALID; /* not an integer */
        goto out_unlock;
    }
    if ((delta > 0 && cur > INT64_MAX - delta) || (delta < 0 && cur < INT64_MIN - delta)) {
        err = DP_ERR_INVALID; /* overflow, as Redis refuses it */
        goto out_unlock;
    }
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, cur + delta);
    int created = !e;
    long long keep = e ? e->expires_ms : 0;
    err = store(t, key, klen, hash, num, (size_t)n, now, &e);
    if (err)
        goto out_unlock;
    e->expires_ms = created ? (ttl_ms > 0 ? now + ttl_ms : 0) : keep;
    *result = cur + delta;
out_unlock:
    pthread_mutex_unlock(&t->mu);
    return err;
}

/* A bucket is stored as this struct's bytes (read by no one else), refilled lazily on each take
 * and rewritten in place: a take on the hot path formats, parses and allocates nothing. */
struct mem_bucket {
    double tokens;
    long long last_ms;
};

static int mem_bucket_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms)
{
    struct mem_table *t = table_of(c);
    size_t klen = strlen(key);
    uint64_t hash = key_hash(t, key, klen);
    pthread_mutex_lock(&t->mu);
    long long now = cache_now_ms();
    sweep(t, now);
    struct mem_entry *e = lookup(t, key, klen, hash, now);
    struct mem_bucket b = {burst, now};
    if (e && e->vlen == sizeof b)
        memcpy(&b, e->val, sizeof b);
    else
        e = NULL; /* absent, or not a bucket: a full one replaces it */
    double tokens = b.tokens + (double)(now - b.last_ms) * rate / 1000.0;
    if (tokens > burst)
        tokens = burst;
    int err = DP_OK;
    if (tokens >= 1.0) {
        tokens -= 1.0;
    } else {
        *retry_ms = (int64_t)((1.0 - tokens) / rate * 1000.0) + 1;
        err = DP_ERR_RATE_LIMITED;
    }
    b.tokens = tokens;
    b.last_ms = now;
    int serr = DP_OK;
    if (e) {
        memcpy(e->val, &b, sizeof b);
        list_unlink(t, e); /* most recently used */
        list_append(t, e);
    } else {
        serr = store(t, key, klen, hash, &b, sizeof b, now, &e);
    }
    if (!serr) { /* an idle bucket is full again after burst/rate seconds: forget it then */
        double refill_ms = burst / rate * 1000.0;
        e->expires_ms = now + (refill_ms < 8.64e10 ? (long long)refill_ms : 86400000000LL) + 1000;
    }
    pthread_mutex_unlock(&t->mu);
    return serr ? serr : err;
}

static int mem_publish(struct cache *c, const char *channel, const void *msg, size_t len)
{
    (void)c;
    return pubsub_memory_publish(channel, msg, len);
}

static int mem_ping(struct cache *c)
{
    (void)c;
    return DP_OK;
}

const struct cache_ops cache_memory_ops = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .incr = mem_incr,
    .publish = mem_publish,
    .ping = mem_ping,
    .bucket_take = mem_bucket_take,
};
