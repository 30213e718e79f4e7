/* The Redis cache backend: one synchronous hiredis connection per handle, reconnecting. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "store/cache_impl.h"
#include "store/near.h"

#define REDIS_TIMEOUT_MS 2000 /* connect and per-command timeout */
#define MAX_PIPELINE 4

#define WARN_EVERY_MS 10000 /* connection failures are logged at most this often */

struct cache_redis {
    struct cache base;
    redisContext *ctx; /* NULL while disconnected */
    struct redis_url u;
    long long last_warn_ms; /* when a connection failure was last logged */
    long long last_used_ms; /* when a command last completed on ctx */
    int sigpipe_ignored;    /* the process ignores SIGPIPE (doppel serve): no guard needed */
};

/* 1 when a connection problem should be logged now (rate-limited per handle). */
static int warn_now(struct cache_redis *r)
{
    long long now = cache_now_ms();
    if (r->last_warn_ms && now - r->last_warn_ms < WARN_EVERY_MS)
        return 0;
    r->last_warn_ms = now;
    return 1;
}

/* One command of a pipeline: argv with binary-safe lengths. */
struct rcmd {
    int argc;
    const char *argv[10];
    size_t len[10];
};

static struct cache_redis *to_redis(struct cache *c)
{
    return (struct cache_redis *)(void *)c;
}

/* Copies s[0..n) into out (size cap) decoding %XX; 0 on overflow or a bad escape. */
static int copy_decoded(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3)
                return 0;
            int h = text_hexval(s[i + 1]), l = text_hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return 0;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= cap)
            return 0;
        out[o++] = c;
    }
    out[o] = 0;
    return 1;
}

int redis_url_parse(const char *url, struct redis_url *u)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || strncasecmp(url, "redis://", 8) != 0)
        return DP_ERR_INVALID;
    const char *s = url + 8;
    size_t total = strcspn(s, "?#");
    const char *at = NULL;
    for (size_t i = 0; i < total; i++)
        if (s[i] == '@')
            at = s + i;
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon) {
            if (!copy_decoded(u->user, sizeof(u->user), s, (size_t)(colon - s)) ||
                !copy_decoded(u->pass, sizeof(u->pass), colon + 1, (size_t)(at - colon - 1)))
                return DP_ERR_INVALID;
        } else if (!copy_decoded(u->user, sizeof(u->user), s, (size_t)(at - s))) {
            return DP_ERR_INVALID;
        }
        total -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    size_t hostport = strcspn(s, "/?#");
    if (hostport > total)
        hostport = total;
    const char *portp = NULL;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', hostport);
        if (!close)
            return DP_ERR_INVALID;
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen >= sizeof(u->host))
            return DP_ERR_INVALID;
        memcpy(u->host, s + 1, hlen);
        if (close + 1 < s + hostport) {
            if (close[1] != ':')
                return DP_ERR_INVALID;
            portp = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', hostport);
        hlen = colon ? (size_t)(colon - s) : hostport;
        if (hlen == 0 || hlen >= sizeof(u->host))
            return DP_ERR_INVALID;
        memcpy(u->host, s, hlen);
        if (colon)
            portp = colon + 1;
    }
    if (portp) {
        int port = 0;
        const char *e = s + hostport;
        if (portp == e)
            return DP_ERR_INVALID;
        for (const char *p = portp; p < e; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return DP_ERR_INVALID;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return DP_ERR_INVALID;
        u->port = port;
    }
    if (hostport < total && s[hostport] == '/' && hostport + 1 < total) {
        int db = 0;
        for (size_t i = hostport + 1; i < total; i++) {
            if (s[i] < '0' || s[i] > '9' || db > 100000)
                return DP_ERR_INVALID;
            db = db * 10 + (s[i] - '0');
        }
        u->db = db;
    }
    return DP_OK;
}

/* hiredis writes with write(2): a peer that closed would raise SIGPIPE. Block it around our
 * I/O and swallow one that we caused (as libpq does) — unless the process ignores SIGPIPE (the
 * server does): the guard's four system calls a command were a tenth of a warm read's. */
struct sigpipe_guard {
    sigset_t old;
    int was_pending;
    int off;
};

static int sigpipe_is_ignored(void)
{
    struct sigaction sa;
    return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t set, pending;
    if (g->off)
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
    sigset_t set, pending;
    if (g->off)
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!g->was_pending) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void drop_connection(struct cache_redis *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

/* Runs one command on a fresh connection during setup; 1 when the reply is not an error. */
static int setup_command(struct cache_redis *r, int argc, const char **argv, const char *what)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        DP_LOG(LOG_ERROR, "[cache] redis %s failed: %s", what, rep ? rep->str : r->ctx->errstr);
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static int redis_connect(struct cache_redis *r)
{
    struct timeval tv = {REDIS_TIMEOUT_MS / 1000, (REDIS_TIMEOUT_MS % 1000) * 1000};
    r->ctx = redisConnectWithTimeout(r->u.host, r->u.port, tv);
    if (!r->ctx)
        return DP_ERR_NOMEM;
    if (r->ctx->err) {
        if (warn_now(r))
            DP_LOG(LOG_WARN, "[cache] cannot connect to redis %s:%d: %s", r->u.host, r->u.port, r->ctx->errstr);
        drop_connection(r);
        return DP_ERR_UNAVAILABLE;
    }
    redisSetTimeout(r->ctx, tv);
    redisEnableKeepAlive(r->ctx);
    if (r->u.pass[0]) {
        const char *argv[3] = {"AUTH", r->u.user, r->u.pass};
        int ok = r->u.user[0] ? setup_command(r, 3, argv, "AUTH")
                              : setup_command(r, 2, (const char *[]){"AUTH", r->u.pass}, "AUTH");
        if (!ok) {
            drop_connection(r);
            return DP_ERR_UNAVAILABLE;
        }
    }
    if (r->u.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->u.db);
        if (!setup_command(r, 2, (const char *[]){"SELECT", db}, "SELECT")) {
            drop_connection(r);
            return DP_ERR_UNAVAILABLE;
        }
    }
    return DP_OK;
}

/* A connection with unread input while no reply is due was closed by the server (or is out of
 * step): replace it before sending anything. Skipped for a connection that answered within the
 * last second (a poll a command otherwise): one the server closed since then fails the command
 * with EOF, which reconnects and retries once as below. */
#define IDLE_CHECK_MS 1000
static void check_idle(struct cache_redis *r)
{
    if (!r->ctx || cache_now_ms() - r->last_used_ms < IDLE_CHECK_MS)
        return;
    struct pollfd pfd = {.fd = r->ctx->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) != 0)
        drop_connection(r);
}

/* Sends cmds as one pipeline and returns the last reply in *last (caller frees). Reconnects
 * once when the connection turns out lost; a timeout is not retried (the command may have
 * run). DP_ERR_UNAVAILABLE / DP_ERR_TIMEOUT on failure. */
/* Sends cmds in one round trip. all (n entries, optional) receives every reply, else only the
 * last is kept in *last (the caller frees what it receives). */
static int pipeline_all(struct cache_redis *r, int n, struct rcmd *cmds, redisReply **last, redisReply **all)
{
    struct sigpipe_guard g = {.off = r->sigpipe_ignored};
    int err = DP_OK;
    *last = NULL;
    for (int i = 0; all && i < n; i++)
        all[i] = NULL;
    sigpipe_block(&g);
    check_idle(r);
    for (int attempt = 0;; attempt++) {
        if (!r->ctx && (err = redis_connect(r)) != DP_OK)
            break;
        int i;
        for (i = 0; i < n; i++)
            if (redisAppendCommandArgv(r->ctx, cmds[i].argc, cmds[i].argv, cmds[i].len) != REDIS_OK)
                break;
        int io_errno = 0;
        if (i == n) {
            for (i = 0; i < n; i++) {
                void *rep = NULL;
                if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
                    io_errno = errno;
                    break;
                }
                if (all)
                    all[i] = rep;
                else if (i == n - 1)
                    *last = rep;
                else
                    freeReplyObject(rep);
            }
            if (all && i < n) /* a retry starts over */
                for (int k = 0; k < n; k++) {
                    if (all[k])
                        freeReplyObject(all[k]);
                    all[k] = NULL;
                }
        }
        if (i == n) {
            r->last_used_ms = cache_now_ms();
            break;
        }
        int lost =
            r->ctx->err == REDIS_ERR_EOF ||
            (r->ctx->err == REDIS_ERR_IO && (io_errno == ECONNRESET || io_errno == EPIPE || io_errno == ENOTCONN));
        int timeout =
            r->ctx->err == REDIS_ERR_IO && (io_errno == EAGAIN || io_errno == EWOULDBLOCK || io_errno == ETIMEDOUT);
        if (warn_now(r))
            DP_LOG(LOG_WARN, "[cache] redis command failed: %s", r->ctx->errstr);
        drop_connection(r); /* its stream is out of step now */
        if (!lost || attempt > 0) {
            err = timeout ? DP_ERR_TIMEOUT : DP_ERR_UNAVAILABLE;
            break;
        }
    }
    sigpipe_restore(&g);
    return err;
}

static int pipeline(struct cache_redis *r, int n, struct rcmd *cmds, redisReply **last)
{
    return pipeline_all(r, n, cmds, last, NULL);
}

static int run1(struct cache_redis *r, struct rcmd cmd, redisReply **rep)
{
    return pipeline(r, 1, &cmd, rep);
}

/* An error reply (WRONGTYPE, not an integer …) is the caller's mistake, not an outage. */
static int reply_error(redisReply *rep)
{
    DP_LOG(LOG_WARN, "[cache] redis error reply: %s", rep->str);
    freeReplyObject(rep);
    return DP_ERR_INVALID;
}

/* Both spaces live on the one server (each handle its own connection): Redis evicts by its
 * own maxmemory-policy, which the operator sets to noeviction (see cache_may_evict). */
static int redis_open(struct cache **out, const char *url, enum cache_space space)
{
    struct cache_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return DP_ERR_NOMEM;
    r->base.ops = &cache_redis_ops;
    r->base.space = space;
    int err = redis_url_parse(url, &r->u);
    if (err) {
        DP_LOG(LOG_ERROR, "[cache] invalid redis url");
        free(r);
        return err;
    }
    r->sigpipe_ignored = sigpipe_is_ignored();
    struct sigpipe_guard g = {.off = r->sigpipe_ignored};
    sigpipe_block(&g);
    err = redis_connect(r);
    sigpipe_restore(&g);
    if (err) {
        free(r);
        return err;
    }
    *out = &r->base;
    return DP_OK;
}

static void redis_close(struct cache *c)
{
    struct cache_redis *r = to_redis(c);
    drop_connection(r);
    free(r);
}

static int redis_get(struct cache *c, const char *key, char **val, size_t *len)
{
    uint64_t ticket = near_fill_begin(); /* before the read: see near_fill */
    redisReply *rep;
    int err = run1(to_redis(c), (struct rcmd){2, {"GET", key}, {3, strlen(key)}}, &rep);
    if (err)
        return err;
    if (rep->type == REDIS_REPLY_NIL) {
        freeReplyObject(rep);
        return DP_ERR_NOT_FOUND;
    }
    if (rep->type != REDIS_REPLY_STRING)
        return reply_error(rep);
    char *v = malloc(rep->len + 1);
    if (!v) {
        freeReplyObject(rep);
        return DP_ERR_NOMEM;
    }
    memcpy(v, rep->str, rep->len);
    v[rep->len] = 0;
    *val = v;
    *len = rep->len;
    freeReplyObject(rep);
    near_fill(ticket, key, v, *len);
    return DP_OK;
}

static int redis_get_many(struct cache *c, const char *const *keys, int n, char **vals, size_t *lens)
{
    struct rcmd cmd = {n + 1, {"MGET"}, {4}};
    for (int i = 0; i < n; i++) {
        cmd.argv[i + 1] = keys[i];
        cmd.len[i + 1] = strlen(keys[i]);
    }
    uint64_t ticket = near_fill_begin();
    redisReply *rep;
    int err = run1(to_redis(c), cmd, &rep);
    if (err)
        return err;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)n)
        return reply_error(rep);
    for (int i = 0; i < n && !err; i++) {
        redisReply *v = rep->element[i];
        if (v->type != REDIS_REPLY_STRING)
            continue; /* nil: absent */
        if (!(vals[i] = malloc(v->len + 1))) {
            err = DP_ERR_NOMEM;
            break;
        }
        memcpy(vals[i], v->str, v->len);
        vals[i][v->len] = 0;
        lens[i] = v->len;
        near_fill(ticket, keys[i], vals[i], lens[i]);
    }
    freeReplyObject(rep);
    return err;
}

static int redis_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms)
{
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
    struct rcmd cmd = {3, {"SET", key, val}, {3, strlen(key), len}};
    if (ttl_ms > 0) {
        cmd = (struct rcmd){5, {"SET", key, val, "PX", ttl}, {3, strlen(key), len, 2, strlen(ttl)}};
    }
    redisReply *rep;
    int err = run1(to_redis(c), cmd, &rep);
    if (err)
        return err;
    if (rep->type == REDIS_REPLY_ERROR)
        return reply_error(rep);
    freeReplyObject(rep);
    return DP_OK;
}

static int redis_del(struct cache *c, const char *key)
{
    redisReply *rep;
    int err = run1(to_redis(c), (struct rcmd){2, {"DEL", key}, {3, strlen(key)}}, &rep);
    if (err)
        return err;
    if (rep->type == REDIS_REPLY_ERROR)
        return reply_error(rep);
    freeReplyObject(rep);
    return DP_OK;
}

/* With a TTL: MULTI; SET key 0 PX ttl NX; INCRBY key delta; EXEC — atomic, and the TTL is set
 * only by the call that created the key. */
static int redis_incr(struct cache *c, const char *key, int64_t delta, int ttl_ms, int64_t *result)
{
    char d[24], ttl[16];
    snprintf(d, sizeof(d), "%lld", (long long)delta);
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
    size_t kl = strlen(key);
    redisReply *rep, *val;
    int err;
    if (ttl_ms > 0) {
        struct rcmd cmds[4] = {
            {1, {"MULTI"}, {5}},
            {6, {"SET", key, "0", "PX", ttl, "NX"}, {3, kl, 1, 2, strlen(ttl), 2}},
            {3, {"INCRBY", key, d}, {6, kl, strlen(d)}},
            {1, {"EXEC"}, {4}},
        };
        err = pipeline(to_redis(c), 4, cmds, &rep);
        if (err)
            return err;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
            return reply_error(rep);
        val = rep->element[1];
    } else {
        err = run1(to_redis(c), (struct rcmd){3, {"INCRBY", key, d}, {6, kl, strlen(d)}}, &rep);
        if (err)
            return err;
        val = rep;
    }
    if (val->type != REDIS_REPLY_INTEGER) {
        DP_LOG(LOG_WARN, "[cache] redis INCRBY failed: %s",
               val->type == REDIS_REPLY_ERROR ? val->str : "unexpected reply");
        freeReplyObject(rep);
        return DP_ERR_INVALID;
    }
    *result = val->integer;
    freeReplyObject(rep);
    return DP_OK;
}

/* A token bucket as one Lua script: atomic on the server, timed by the server's clock so that
 * every instance agrees. State: a hash {t: tokens, ts: last ms}. ARGV[3] (optional): tokens
 * wanted, for a near lease (near.h): as many as there are, up to that, once one is there.
 * Returns the ms to wait (> 0) when refused, else 1 - the tokens taken (0: one). */
static const char bucket_script[] =
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local want = tonumber(ARGV[3]) or 1 "
    "local tm = redis.call('TIME') "
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000) "
    "local b = redis.call('HMGET', KEYS[1], 't', 'ts') "
    "local tokens, ts = tonumber(b[1]) or burst, tonumber(b[2]) or now "
    "tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000) "
    "local retry, took = 0, 0 "
    "if tokens >= 1 then took = math.min(want, math.floor(tokens)) tokens = tokens - took "
    "else retry = math.floor((1 - tokens) / rate * 1000) + 1 end "
    "redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now)) "
    "redis.call('PEXPIRE', KEYS[1], math.floor(burst / rate * 1000) + 1000) "
    "if retry > 0 then return retry end "
    "return 1 - took";

static int redis_bucket_take(struct cache *c, const char *key, double rate, double burst, int64_t *retry_ms)
{
    char r[32], b[32];
    snprintf(r, sizeof r, "%.9g", rate);
    snprintf(b, sizeof b, "%.9g", burst);
    redisReply *rep;
    int err = run1(to_redis(c),
                   (struct rcmd){6,
                                 {"EVAL", bucket_script, "1", key, r, b},
                                 {4, sizeof bucket_script - 1, 1, strlen(key), strlen(r), strlen(b)}},
                   &rep);
    if (err)
        return err;
    if (rep->type != REDIS_REPLY_INTEGER)
        return reply_error(rep);
    long long retry = rep->integer;
    freeReplyObject(rep);
    if (retry > 0) {
        *retry_ms = retry;
        return DP_ERR_RATE_LIMITED;
    }
    return DP_OK;
}

/* The bucket script and a GET in one round trip (the auth hook: rate limit and session). */
static int redis_bucket_take_get(struct cache *c, const char *bucket, double rate, double burst, int64_t *retry_ms,
                                 const char *const *keys, int n, char **vals, size_t *lens)
{
    /* The same rate for every request of a route: formatted once a thread (a float's "%.9g"
     * costs thousands of instructions). */
    static _Thread_local double memo_rate = -1, memo_burst = -1;
    static _Thread_local char rs[32], bs[32];
    if (rate != memo_rate || burst != memo_burst) {
        snprintf(rs, sizeof rs, "%.9g", rate);
        snprintf(bs, sizeof bs, "%.9g", burst);
        memo_rate = rate;
        memo_burst = burst;
    }
    /* With near copies, a lease of tokens for the requests answered without Redis — a worker's
     * too: it spends the lease's tokens first (and takes the next lease when it runs low). */
    int lease = near_lease_size(rate, burst);
    if (lease > 1 && near_lease_take(bucket))
        return n ? redis_get_many(c, keys, n, vals, lens) : DP_OK;
    char ls[16];
    snprintf(ls, sizeof ls, "%d", lease);
    struct rcmd cmds[2] = {
        {lease > 1 ? 7 : 6,
         {"EVAL", bucket_script, "1", bucket, rs, bs, ls},
         {4, sizeof bucket_script - 1, 1, strlen(bucket), strlen(rs), strlen(bs), strlen(ls)}},
        {n + 1, {"MGET"}, {4}},
    };
    for (int i = 0; i < n; i++) {
        cmds[1].argv[i + 1] = keys[i];
        cmds[1].len[i + 1] = strlen(keys[i]);
    }
    uint64_t ticket = near_fill_begin();
    redisReply *rep[2], *last;
    int err = pipeline_all(to_redis(c), n ? 2 : 1, cmds, &last, rep);
    if (err)
        return err;
    for (int i = 0; n && rep[1]->type == REDIS_REPLY_ARRAY && i < n && i < (int)rep[1]->elements; i++) {
        redisReply *v = rep[1]->element[i];
        if (v->type == REDIS_REPLY_STRING && (vals[i] = malloc(v->len + 1))) {
            memcpy(vals[i], v->str, v->len);
            vals[i][v->len] = 0;
            lens[i] = v->len;
            near_fill(ticket, keys[i], vals[i], lens[i]);
        }
    }
    if (n)
        freeReplyObject(rep[1]);
    if (rep[0]->type != REDIS_REPLY_INTEGER) {
        for (int i = 0; i < n; i++) {
            free(vals[i]);
            vals[i] = NULL;
        }
        return reply_error(rep[0]);
    }
    long long retry = rep[0]->integer;
    freeReplyObject(rep[0]);
    if (retry > 0) {
        *retry_ms = retry;
        return DP_ERR_RATE_LIMITED;
    }
    if (retry < 0) /* tokens taken beyond this request's */
        near_lease_put(bucket, (int)-retry);
    return DP_OK;
}

/* The writer's side of near copies (near.h): drops the member leases past their time, numbers the
 * announcement, publishes it and returns how long ago the member set was born (KEYS[4]: -1 when
 * not: Redis lost its data, or no member has come yet) and the members that must acknowledge. */
static const char announce_script[] =
    "local tm = redis.call('TIME') "
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "local seq = redis.call('INCR', KEYS[2]) "
    "redis.call('PUBLISH', KEYS[3], seq .. ' ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3]) "
    "local born = tonumber(redis.call('GET', KEYS[4])) "
    "local r = redis.call('ZRANGE', KEYS[1], 0, -1) "
    "table.insert(r, 1, born and now - born or -1) "
    "return r";

/* A member's heartbeat: its lease in the member set (born now if there was none), then
 * "<token> <seq>" on its own channel. */
static const char beat_script[] = "local tm = redis.call('TIME') "
                                  "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000) "
                                  "redis.call('SET', KEYS[4], now, 'NX') "
                                  "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) "
                                  "local seq = redis.call('GET', KEYS[2]) or '0' "
                                  "redis.call('PUBLISH', KEYS[3], ARGV[3] .. ' ' .. seq) "
                                  "return 1";

static int run_script(struct cache_redis *r, const char *script, size_t slen, const char *const keys[4],
                      const char *const argv[3], redisReply **rep)
{
    struct rcmd cmd = {
        10, {"EVAL", script, "4", keys[0], keys[1], keys[2], keys[3], argv[0], argv[1], argv[2]}, {4, slen, 1}};
    for (int i = 0; i < 4; i++)
        cmd.len[3 + i] = strlen(keys[i]);
    for (int i = 0; i < 3; i++)
        cmd.len[7 + i] = strlen(argv[i]);
    int err = run1(r, cmd, rep);
    if (!err && (*rep)->type == REDIS_REPLY_ERROR)
        return reply_error(*rep);
    return err;
}

/* The member set's key, the sequence's and the set's birth time's into k[0], k[1], k[2]. */
static void near_keys(const char *ns, char k[3][48])
{
    snprintf(k[0], 48, "%smembers", ns);
    snprintf(k[1], 48, "%sseq", ns);
    snprintf(k[2], 48, "%sborn", ns);
}

int redis_near_beat(struct cache *c, const char *ns, const char *id, int lease_ms, uint64_t token)
{
    char k[3][48], ch[64], ls[16], tk[24];
    near_keys(ns, k);
    snprintf(ch, sizeof ch, "%sbeat:%s", ns, id);
    snprintf(ls, sizeof ls, "%d", lease_ms);
    snprintf(tk, sizeof tk, "%llu", (unsigned long long)token);
    redisReply *rep;
    int err = run_script(to_redis(c), beat_script, sizeof beat_script - 1, (const char *const[]){k[0], k[1], ch, k[2]},
                         (const char *const[]){id, ls, tk}, &rep);
    if (!err)
        freeReplyObject(rep);
    return err;
}

int redis_near_leave(struct cache *c, const char *ns, const char *id)
{
    char k[3][48];
    near_keys(ns, k);
    redisReply *rep;
    int err = run1(to_redis(c), (struct rcmd){3, {"ZREM", k[0], id}, {4, strlen(k[0]), strlen(id)}}, &rep);
    if (!err)
        freeReplyObject(rep);
    return err;
}

/* Announces a write to key to every member of its namespace and waits for their acknowledgements
 * (near_wait_end). */
static int redis_announce(struct cache *c, const char *key)
{
    struct cache_redis *r = to_redis(c);
    char ns[32], k[3][48], ch[64], mid[24];
    near_namespace(r->u.db, ns);
    near_keys(ns, k);
    snprintf(ch, sizeof ch, "%sinv", ns);
    uint64_t id = near_wait_begin();
    snprintf(mid, sizeof mid, "%llu", (unsigned long long)id);
    redisReply *rep = NULL;
    int err = run_script(r, announce_script, sizeof announce_script - 1, (const char *const[]){k[0], k[1], ch, k[2]},
                         (const char *const[]){near_instance(), mid, key}, &rep);
    long long t0 = cache_now_ms();
    if (!err && (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->element[0]->type != REDIS_REPLY_INTEGER)) {
        err = reply_error(rep);
        rep = NULL;
    }
    char *members[64];
    size_t lens[64];
    int n = 0;
    for (size_t i = 1; !err && i < rep->elements && n < 64; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING) {
            members[n] = rep->element[i]->str;
            lens[n++] = rep->element[i]->len;
        }
    if (!err && rep->elements > 65)
        n = 65; /* more than we track: wait out the trust period */
    /* A member set born less than the trust period ago (Redis lost its data, or this is its
     * start) may lack an instance that still trusts copies from before: wait until it cannot. */
    long long age = err ? 0 : rep->element[0]->integer;
    long long until = err || age < 0 ? t0 + NEAR_TRUST_MS : age < NEAR_TRUST_MS ? t0 + NEAR_TRUST_MS - age : 0;
    near_wait_end(id, members, lens, err ? -1 : n, t0, until);
    if (rep)
        freeReplyObject(rep);
    return err;
}

static int redis_publish(struct cache *c, const char *channel, const void *msg, size_t len)
{
    redisReply *rep;
    int err = run1(to_redis(c), (struct rcmd){3, {"PUBLISH", channel, msg}, {7, strlen(channel), len}}, &rep);
    if (err)
        return err;
    if (rep->type == REDIS_REPLY_ERROR)
        return reply_error(rep);
    freeReplyObject(rep);
    return DP_OK;
}

static int redis_ping(struct cache *c)
{
    redisReply *rep;
    int err = run1(to_redis(c), (struct rcmd){1, {"PING"}, {4}}, &rep);
    if (err)
        return err;
    if (rep->type == REDIS_REPLY_ERROR) {
        DP_LOG(LOG_WARN, "[cache] redis PING: %s", rep->str);
        freeReplyObject(rep);
        return DP_ERR_UNAVAILABLE;
    }
    freeReplyObject(rep);
    return DP_OK;
}

/* CONFIG GET name → its value in out; DP_ERR_UNAVAILABLE when the server refuses CONFIG
 * (managed Redis often renames or forbids it). */
static int config_get(struct cache_redis *r, const char *name, char *out, size_t cap)
{
    redisReply *rep;
    int err = run1(r, (struct rcmd){3, {"CONFIG", "GET", name}, {6, 3, strlen(name)}}, &rep);
    if (err)
        return err;
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1]->type == REDIS_REPLY_STRING;
    if (ok)
        snprintf(out, cap, "%s", rep->element[1]->str);
    freeReplyObject(rep);
    return ok ? DP_OK : DP_ERR_UNAVAILABLE;
}

/* Redis evicts when maxmemory is set and the policy is not noeviction; every key of ours has a
 * TTL, so volatile-* policies may take security keys as well as cached copies. */
static int redis_may_evict(struct cache *c, char *why, size_t cap)
{
    char policy[64], maxmem[32];
    struct cache_redis *r = to_redis(c);
    if (config_get(r, "maxmemory-policy", policy, sizeof policy) || config_get(r, "maxmemory", maxmem, sizeof maxmem)) {
        snprintf(why, cap, "cannot read maxmemory-policy (CONFIG GET refused)");
        return -1;
    }
    if (!strcmp(policy, "noeviction") || strtoll(maxmem, NULL, 10) == 0)
        return 0;
    snprintf(why, cap, "maxmemory %s with maxmemory-policy %s", maxmem, policy);
    return 1;
}

const struct cache_ops cache_redis_ops = {
    .may_evict = redis_may_evict,
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .get = redis_get,
    .set = redis_set,
    .del = redis_del,
    .incr = redis_incr,
    .publish = redis_publish,
    .ping = redis_ping,
    .bucket_take = redis_bucket_take,
    .get_many = redis_get_many,
    .bucket_take_get = redis_bucket_take_get,
    .announce = redis_announce,
};
