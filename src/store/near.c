/* Near copies of shared cache keys (see near.h): the copies, the trust that heartbeats give them,
 * the announcements' acknowledgements and the rate-token leases. */
#include "store/near.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "store/cache.h"
#include "store/cache_impl.h"

#define ACK_QUEUE 256    /* acknowledgements waiting for the beat thread */
#define WAIT_MEMBERS 32  /* members a writer tracks (more: it waits out the trust period) */
#define BEAT_RING 64     /* heartbeats whose send time is remembered */
#define LEASE_SLOTS 1024 /* rate leases (a collision drops the older lease's tokens) */
#define BUCKET_MAX 96

struct waiter {
    struct waiter *next;
    uint64_t id;
    int nacked;
    char acked[WAIT_MEMBERS][NEAR_ID_LEN];
};

struct ack {
    char writer[NEAR_ID_LEN];
    char msg[24];
};

struct lease {
    char bucket[BUCKET_MAX];
    int tokens, size; /* left, and as put */
    long long expires_ms;
    long long refill_ms; /* when a request was last sent to a worker to take the next lease */
};

static struct {
    pthread_mutex_t mu; /* everything below but the atomics and the leases */
    pthread_cond_t acked, wake;
    int running, stop;
    char id[NEAR_ID_LEN];
    char ns[32];
    const char *const *prefixes;
    struct cache *store; /* the copies (in-process) */
    struct cache *conn;  /* the beat thread's Redis connection */
    struct pubsub *ps;
    pthread_t thread, loop_thread;
    int thread_started;
    struct waiter *waiters;
    uint64_t next_wait;
    struct ack acks[ACK_QUEUE];
    int nacks;
    uint64_t beat_token;
    long long beat_sent[BEAT_RING];
    int synced;  /* a heartbeat came back since the start: seq is this namespace's */
    int64_t seq; /* the last announcement handled (loop thread) */
    _Atomic long long trusted_until;
    _Atomic uint64_t epoch; /* moved by every drop and reset: fills begun before are not kept */
    _Atomic uint64_t gen;   /* the copies' key prefix: a reset moves it (old copies expire unread) */
    pthread_mutex_t lease_mu;
    struct lease leases[LEASE_SLOTS];
} N = {.mu = PTHREAD_MUTEX_INITIALIZER, .lease_mu = PTHREAD_MUTEX_INITIALIZER};

static long long now_ms(void)
{
    return cache_now_ms();
}

/* The in-process key of key's copy: "n<gen>:<key>" (by copies: it is built on every warm read). */
static int copy_key(const char *key, char *out, size_t cap)
{
    char digits[24];
    int at = (int)sizeof digits;
    uint64_t g = atomic_load(&N.gen);
    do
        digits[--at] = (char)('0' + g % 10);
    while (g /= 10);
    size_t nd = sizeof digits - (size_t)at, nk = strlen(key);
    if (nd + nk + 3 > cap)
        return -1;
    out[0] = 'n';
    memcpy(out + 1, digits + at, nd);
    out[1 + nd] = ':';
    memcpy(out + 2 + nd, key, nk + 1);
    return 0;
}

const char *near_instance(void)
{
    return N.running ? N.id : "-";
}

void near_namespace(int db, char out[32])
{
    snprintf(out, 32, "near:%d:", db);
}

int near_tracked(const char *key)
{
    for (const char *const *p = N.prefixes; p && *p; p++)
        if (!strncmp(key, *p, strlen(*p)))
            return 1;
    return 0;
}

int near_trusted(void)
{
    return now_ms() < atomic_load(&N.trusted_until);
}

int near_get(const char *key, char **val, size_t *len)
{
    char k[CACHE_KEY_MAX + 32];
    *val = NULL;
    if (!near_trusted())
        return DP_ERR_WOULDBLOCK;
    if (copy_key(key, k, sizeof k))
        return DP_ERR_NOT_FOUND;
    /* The backend's own call: the wrapper's timing and metrics cost more than the lookup here. */
    int err = N.store->ops->get(N.store, k, val, len);
    if (err)
        *val = NULL;
    return err;
}

uint64_t near_fill_begin(void)
{
    return atomic_load(&N.epoch);
}

/* Copies this thread put lately: a worker that reads the same value again (every request it
 * authenticates) skips the store while nothing was dropped or reset since. */
#define FILL_MEMO_SLOTS 64
#define FILL_MEMO_MS 5000
struct fill_memo {
    uint64_t key, val, epoch;
    long long at;
};
static _Thread_local struct fill_memo fill_memo[FILL_MEMO_SLOTS];

void near_fill(uint64_t ticket, const char *key, const char *val, size_t len)
{
    char k[CACHE_KEY_MAX + 32];
    if (!val || !N.running || !near_tracked(key))
        return;
    uint64_t kh = hash_fnv1a64(key, strlen(key)), vh = hash_fnv1a64(val, len);
    struct fill_memo *m = &fill_memo[kh % FILL_MEMO_SLOTS];
    long long now = now_ms();
    if (m->key == kh && m->val == vh && m->epoch == ticket && atomic_load(&N.epoch) == ticket &&
        now - m->at < FILL_MEMO_MS)
        return;
    if (copy_key(key, k, sizeof k))
        return;
    pthread_mutex_lock(&N.mu);
    if (N.running && N.store && atomic_load(&N.epoch) == ticket &&
        !N.store->ops->set(N.store, k, val, len, NEAR_ENTRY_TTL_MS))
        *m = (struct fill_memo){kh, vh, ticket, now};
    pthread_mutex_unlock(&N.mu);
}

/* Under mu: every copy dropped (a lost announcement, or copies older than the subscription). */
static void reset_locked(void)
{
    atomic_fetch_add(&N.gen, 1);
    atomic_fetch_add(&N.epoch, 1);
}

static void drop_locked(const char *key)
{
    char k[CACHE_KEY_MAX + 32];
    if (!copy_key(key, k, sizeof k))
        cache_del(N.store, k);
    atomic_fetch_add(&N.epoch, 1);
}

static struct waiter *find_waiter(uint64_t id)
{
    struct waiter *w = N.waiters;
    while (w && w->id != id)
        w = w->next;
    return w;
}

static void note_ack(uint64_t id, const char *member)
{
    struct waiter *w = find_waiter(id);
    if (w && w->nacked < WAIT_MEMBERS && strlen(member) < NEAR_ID_LEN) {
        memcpy(w->acked[w->nacked++], member, strlen(member) + 1);
        pthread_cond_broadcast(&N.acked);
    }
}

/* "<seq> <writer> <msgid> <key>": drop the copy, then acknowledge (our own writer directly). */
static void on_announce(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg, (void)channel, (void)len;
    char writer[NEAR_ID_LEN], mid[24], key[CACHE_KEY_MAX + 1];
    long long seq;
    if (sscanf(msg, "%lld %16s %23s %1024s", &seq, writer, mid, key) != 4)
        return;
    pthread_mutex_lock(&N.mu);
    if (N.synced && seq != N.seq + 1)
        reset_locked(); /* announcements were lost (a reconnection): none of the copies is sure */
    else
        drop_locked(key);
    N.seq = seq;
    if (!strcmp(writer, N.id)) {
        note_ack(strtoull(mid, NULL, 10), N.id);
    } else if (strcmp(writer, "-") && N.nacks < ACK_QUEUE) {
        memcpy(N.acks[N.nacks].writer, writer, sizeof writer);
        memcpy(N.acks[N.nacks].msg, mid, sizeof mid);
        N.nacks++;
        pthread_cond_signal(&N.wake);
    }
    pthread_mutex_unlock(&N.mu);
}

/* "<token> <seq>": our heartbeat came back; every announcement published before it was handled. */
static void on_beat(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg, (void)channel, (void)len;
    unsigned long long token;
    long long seq;
    if (sscanf(msg, "%llu %lld", &token, &seq) != 2)
        return;
    pthread_mutex_lock(&N.mu);
    if (!N.synced || seq != N.seq)
        reset_locked();
    N.synced = 1;
    N.seq = seq;
    if (token <= N.beat_token && N.beat_token - token < BEAT_RING) {
        long long until = N.beat_sent[token % BEAT_RING] + NEAR_TRUST_MS;
        if (until > atomic_load(&N.trusted_until))
            atomic_store(&N.trusted_until, until);
    }
    pthread_mutex_unlock(&N.mu);
}

/* "<msgid> <member>" */
static void on_ack(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg, (void)channel, (void)len;
    unsigned long long id;
    char member[NEAR_ID_LEN];
    if (sscanf(msg, "%llu %16s", &id, member) != 2)
        return;
    pthread_mutex_lock(&N.mu);
    note_ack(id, member);
    pthread_mutex_unlock(&N.mu);
}

static void deadline_ts(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The beat thread: heartbeats every NEAR_BEAT_MS and the acknowledgements the loop queues. */
static void *beat_main(void *arg)
{
    (void)arg;
    long long next_beat = 0;
    char channel[64];
    pthread_mutex_lock(&N.mu);
    while (!N.stop) {
        long long now = now_ms();
        if (!N.nacks && now < next_beat) {
            struct timespec ts;
            deadline_ts(&ts, next_beat - now);
            pthread_cond_timedwait(&N.wake, &N.mu, &ts);
            continue;
        }
        struct ack acks[ACK_QUEUE];
        int n = N.nacks;
        memcpy(acks, N.acks, (size_t)n * sizeof *acks);
        N.nacks = 0;
        uint64_t token = 0;
        if (now >= next_beat) {
            token = ++N.beat_token;
            N.beat_sent[token % BEAT_RING] = now; /* before sending: the trust errs short */
            next_beat = now + NEAR_BEAT_MS;
        }
        pthread_mutex_unlock(&N.mu);
        for (int i = 0; i < n; i++) {
            char msg[48];
            int len = snprintf(msg, sizeof msg, "%s %s", acks[i].msg, N.id);
            snprintf(channel, sizeof channel, "%sack:%s", N.ns, acks[i].writer);
            cache_publish(N.conn, channel, msg, (size_t)len);
        }
        if (token && redis_near_beat(N.conn, N.ns, N.id, NEAR_TRUST_MS + 1000, token))
            DP_LOG(LOG_DEBUG, "[near] heartbeat failed: near copies are not trusted until one comes back");
        pthread_mutex_lock(&N.mu);
    }
    pthread_mutex_unlock(&N.mu);
    redis_near_leave(N.conn, N.ns, N.id); /* writers stop waiting for us at once */
    return NULL;
}

int near_start(struct uv_loop_s *loop, const char *url, const char *const *prefixes)
{
    unsigned char rnd[8];
    char ch[96];
    if (N.running)
        return DP_ERR_INVALID;
    randombytes_buf(rnd, sizeof rnd);
    for (int i = 0; i < 8; i++)
        snprintf(N.id + 2 * i, 3, "%02x", rnd[i]);
    struct redis_url u;
    if (redis_url_parse(url, &u))
        return DP_ERR_INVALID;
    near_namespace(u.db, N.ns);
    N.prefixes = prefixes;
    N.loop_thread = pthread_self();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&N.acked, &ca);
    pthread_cond_init(&N.wake, &ca);
    pthread_condattr_destroy(&ca);
    int err = cache_open(&N.store, "");
    if (!err)
        err = cache_open_space(&N.conn, url, CACHE_SPACE_SECURITY);
    if (!err)
        err = pubsub_open(&N.ps, loop, url);
    snprintf(ch, sizeof ch, "%sinv", N.ns);
    if (!err)
        err = pubsub_subscribe(N.ps, ch, on_announce, NULL);
    snprintf(ch, sizeof ch, "%sbeat:%s", N.ns, N.id);
    if (!err)
        err = pubsub_subscribe(N.ps, ch, on_beat, NULL);
    snprintf(ch, sizeof ch, "%sack:%s", N.ns, N.id);
    if (!err)
        err = pubsub_subscribe(N.ps, ch, on_ack, NULL);
    N.running = !err;
    N.stop = 0;
    if (!err && pthread_create(&N.thread, NULL, beat_main, NULL))
        err = DP_ERR_NOMEM, N.running = 0;
    N.thread_started = !err;
    if (err) {
        DP_LOG(LOG_WARN, "[near] near copies are off: %s", dp_strerror(err));
        near_stop();
        near_free();
    }
    return err;
}

void near_stop(void)
{
    pthread_mutex_lock(&N.mu);
    N.running = 0;
    N.stop = 1;
    atomic_store(&N.trusted_until, 0);
    pthread_cond_broadcast(&N.wake);
    pthread_cond_broadcast(&N.acked);
    pthread_mutex_unlock(&N.mu);
    if (N.thread_started)
        pthread_join(N.thread, NULL);
    N.thread_started = 0;
    if (N.ps)
        pubsub_close(N.ps);
    N.ps = NULL;
    if (N.conn)
        cache_close(N.conn);
    N.conn = NULL;
}

void near_free(void)
{
    pthread_mutex_lock(&N.mu);
    if (N.store)
        cache_close(N.store);
    N.store = NULL;
    pthread_mutex_unlock(&N.mu);
}

int near_lease_size(double rate, double burst)
{
    double k = rate * 0.1 < burst / 4 ? rate * 0.1 : burst / 4;
    if (!N.running || !(k >= 2))
        return 1;
    return k > NEAR_LEASE_MAX ? NEAR_LEASE_MAX : (int)k;
}

static struct lease *lease_slot(const char *bucket)
{
    return &N.leases[hash_fnv1a(bucket, strlen(bucket)) % LEASE_SLOTS];
}

int near_lease_take(const char *bucket)
{
    int got = 0;
    if (strlen(bucket) >= BUCKET_MAX)
        return 0;
    pthread_mutex_lock(&N.lease_mu);
    struct lease *l = lease_slot(bucket);
    long long now = now_ms();
    if (l->tokens > 0 && !strcmp(l->bucket, bucket) && now < l->expires_ms) {
        /* Half spent or near its end: one request (a try every 100 ms) goes to a worker, which
         * takes the next lease while the others spend what is left — never all at once. */
        int low = l->tokens <= l->size / 2 || l->expires_ms - now < NEAR_LEASE_MS / 4;
        if (low && now - l->refill_ms >= 100) {
            l->refill_ms = now;
        } else {
            l->tokens--;
            got = 1;
        }
    }
    pthread_mutex_unlock(&N.lease_mu);
    return got;
}

void near_lease_put(const char *bucket, int tokens)
{
    if (strlen(bucket) >= BUCKET_MAX || tokens < 1)
        return;
    pthread_mutex_lock(&N.lease_mu);
    struct lease *l = lease_slot(bucket);
    long long now = now_ms();
    /* Leases that several workers took at once add up (each was counted in Redis). */
    if (strcmp(l->bucket, bucket) || now >= l->expires_ms)
        l->tokens = 0;
    memcpy(l->bucket, bucket, strlen(bucket) + 1);
    l->tokens = l->tokens + tokens > 2 * NEAR_LEASE_MAX ? 2 * NEAR_LEASE_MAX : l->tokens + tokens;
    l->size = l->tokens;
    l->expires_ms = now + NEAR_LEASE_MS;
    l->refill_ms = 0;
    pthread_mutex_unlock(&N.lease_mu);
}

uint64_t near_wait_begin(void)
{
    uint64_t id = 0;
    pthread_mutex_lock(&N.mu);
    struct waiter *w = N.running ? calloc(1, sizeof *w) : NULL;
    if (w) {
        w->id = id = ++N.next_wait;
        w->next = N.waiters;
        N.waiters = w;
    }
    pthread_mutex_unlock(&N.mu);
    return id;
}

/* Under mu: 1 when every member acknowledged. */
static int all_acked(const struct waiter *w, char **members, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < w->nacked && !found; j++)
            found = strlen(w->acked[j]) == lens[i] && !memcmp(w->acked[j], members[i], lens[i]);
        if (!found)
            return 0;
    }
    return 1;
}

void near_wait_end(uint64_t id, char **members, const size_t *lens, int n, long long t0_ms, long long not_before_ms)
{
    long long deadline = t0_ms + NEAR_TRUST_MS;
    if (not_before_ms > deadline)
        not_before_ms = deadline;
    pthread_mutex_lock(&N.mu);
    struct waiter *w = id ? find_waiter(id) : NULL;
    if (!w) {
        /* No member here (the CLI, or stopping): no acknowledgement can reach us; the members
         * stop trusting their copies within the trust period. */
        pthread_mutex_unlock(&N.mu);
        long long left = (n != 0 ? deadline : not_before_ms) - now_ms();
        if (left > 0)
            nanosleep(&(struct timespec){left / 1000, (left % 1000) * 1000000L}, NULL);
        return;
    }
    /* On the loop thread no acknowledgement can arrive while we wait (it delivers them). */
    int on_loop = pthread_equal(pthread_self(), N.loop_thread);
    while (!on_loop) {
        long long now = now_ms();
        int acked = n == 0 || (n > 0 && n <= WAIT_MEMBERS && all_acked(w, members, lens, n));
        if (now >= deadline || (acked && now >= not_before_ms))
            break;
        struct timespec ts;
        deadline_ts(&ts, (acked ? not_before_ms : deadline) - now);
        pthread_cond_timedwait(&N.acked, &N.mu, &ts);
    }
    for (struct waiter **p = &N.waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            free(w);
            break;
        }
    pthread_mutex_unlock(&N.mu);
}
