/* Tests of src/store/cache* and pubsub: memory always, Redis when DOPPEL_TEST_REDIS_URL is set. */
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../test.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/cache_impl.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *redis_url(void)
{
    const char *u = getenv("DOPPEL_TEST_REDIS_URL");
    if (!u || !*u)
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    return u;
}

/* A key unique to this test process, so reruns and parallel runs do not collide. */
static const char *ukey(const char *name)
{
    static char buf[8][128];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 128, "doppel-test:%d:%s", (int)getpid(), name);
    return b;
}

/* ---- shared checks (both backends) ------------------------------------------------------- */

static void check_get_set_del(struct cache *c)
{
    char *v = NULL;
    size_t n = 0;
    CHECK_EQ_INT(cache_get(c, ukey("a"), &v, &n), DP_ERR_NOT_FOUND);
    CHECK(v == NULL);
    OK(cache_set(c, ukey("a"), "one", 3, 0));
    OK(cache_get(c, ukey("a"), &v, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(v, "one");
    free(v);
    OK(cache_set(c, ukey("a"), "a\0b", 3, 0)); /* overwrite, binary */
    OK(cache_get(c, ukey("a"), &v, &n));
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(v, "a\0b", 4) == 0); /* NUL-terminated too */
    free(v);
    OK(cache_set(c, ukey("empty"), "", 0, 0));
    OK(cache_get(c, ukey("empty"), &v, NULL));
    CHECK_EQ_STR(v, "");
    free(v);
    OK(cache_del(c, ukey("a")));
    CHECK_EQ_INT(cache_get(c, ukey("a"), &v, &n), DP_ERR_NOT_FOUND);
    OK(cache_del(c, ukey("a"))); /* absent: still OK */
    OK(cache_del(c, ukey("empty")));
    OK(cache_ping(c));
}

/* Lets ms pass for c's expiries: the in-process cache reads the clocks tests move; Redis keeps
 * its own time, so it is waited for. */
static void pass_ms(struct cache *c, int ms)
{
    if (!strcmp(cache_backend(c), "memory"))
        time_advance_ms(ms);
    else
        sleep_ms(ms);
}

static void check_ttl(struct cache *c)
{
    char *v = NULL;
    OK(cache_set(c, ukey("t"), "x", 1, 300));
    OK(cache_get(c, ukey("t"), &v, NULL));
    free(v);
    pass_ms(c, 400);
    CHECK_EQ_INT(cache_get(c, ukey("t"), &v, NULL), DP_ERR_NOT_FOUND);
    /* setting again without a TTL makes it permanent */
    OK(cache_set(c, ukey("t"), "x", 1, 300));
    OK(cache_set(c, ukey("t"), "y", 1, 0));
    pass_ms(c, 400);
    OK(cache_get(c, ukey("t"), &v, NULL));
    CHECK_EQ_STR(v, "y");
    free(v);
    OK(cache_del(c, ukey("t")));
}

static void check_incr(struct cache *c)
{
    int64_t r = 0;
    OK(cache_incr(c, ukey("n"), 5, 400, &r));
    CHECK_EQ_INT(r, 5);
    OK(cache_incr(c, ukey("n"), 3, 400, &r));
    CHECK_EQ_INT(r, 8);
    OK(cache_incr(c, ukey("n"), -10, 400, &r));
    CHECK_EQ_INT(r, -2);
    char *v = NULL;
    OK(cache_get(c, ukey("n"), &v, NULL));
    CHECK_EQ_STR(v, "-2");
    free(v);
    /* the TTL comes from the creating call and is not extended by later ones */
    pass_ms(c, 100);
    OK(cache_incr(c, ukey("n"), 1, 400, &r));
    CHECK_EQ_INT(r, -1);
    pass_ms(c, 400);
    OK(cache_incr(c, ukey("n"), 1, 400, &r));
    CHECK_EQ_INT(r, 1); /* expired in between: a new counter */
    /* no TTL */
    OK(cache_incr(c, ukey("p"), 1, 0, NULL));
    OK(cache_incr(c, ukey("p"), 1, 0, &r));
    CHECK_EQ_INT(r, 2);
    /* not an integer, overflow */
    OK(cache_set(c, ukey("s"), "abc", 3, 0));
    CHECK_EQ_INT(cache_incr(c, ukey("s"), 1, 0, &r), DP_ERR_INVALID);
    OK(cache_set(c, ukey("s"), "9223372036854775807", 19, 0));
    CHECK_EQ_INT(cache_incr(c, ukey("s"), 1, 0, &r), DP_ERR_INVALID);
    OK(cache_incr(c, ukey("s"), -7, 0, &r));
    CHECK(r == INT64_MAX - 7);
    OK(cache_del(c, ukey("n")));
    OK(cache_del(c, ukey("p")));
    OK(cache_del(c, ukey("s")));
}

static void check_caps(struct cache *c)
{
    char *v;
    char big_key[CACHE_KEY_MAX + 2];
    memset(big_key, 'k', sizeof(big_key) - 1);
    big_key[sizeof(big_key) - 1] = 0;
    CHECK_EQ_INT(cache_set(c, big_key, "x", 1, 0), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_get(c, big_key, &v, NULL), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_set(c, "", "x", 1, 0), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_set(c, NULL, "x", 1, 0), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_set(c, ukey("big"), "x", CACHE_VAL_MAX + 1, 0), DP_ERR_TOO_LARGE);
    CHECK_EQ_INT(cache_publish(c, "", "x", 1), DP_ERR_INVALID);
}

/* ---- memory -------------------------------------------------------------------------------- */

TEST(cache_memory_get_set_del)
{
    struct cache *c = NULL;
    OK(cache_open(&c, NULL));
    CHECK_EQ_STR(cache_backend(c), "memory");
    check_get_set_del(c);
    cache_close(c);
}

TEST(cache_memory_ttl)
{
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    check_ttl(c);
    cache_close(c);
}

TEST(cache_memory_incr)
{
    struct cache *c = NULL;
    OK(cache_open(&c, ""));
    check_incr(c);
    cache_close(c);
}

TEST(cache_memory_caps)
{
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    check_caps(c);
    cache_close(c);
}

TEST(cache_memory_shared_by_handles)
{
    struct cache *a = NULL, *b = NULL;
    OK(cache_open(&a, "memory:"));
    OK(cache_open(&b, "memory:"));
    OK(cache_set(a, "shared", "v", 1, 0));
    char *v = NULL;
    OK(cache_get(b, "shared", &v, NULL));
    CHECK_EQ_STR(v, "v");
    free(v);
    cache_close(a);
    OK(cache_get(b, "shared", &v, NULL)); /* the table lives while any handle is open */
    free(v);
    cache_close(b);
}

static void *incr_thread(void *p)
{
    struct cache *c = NULL;
    (void)p;
    if (cache_open(&c, "memory:") != DP_OK)
        return (void *)1;
    for (int i = 0; i < 10000; i++)
        if (cache_incr(c, "counter", 1, 0, NULL) != DP_OK)
            return (void *)1;
    cache_close(c);
    return NULL;
}

TEST(cache_memory_incr_is_atomic_across_threads)
{
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, incr_thread, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        CHECK(ret == NULL);
    }
    int64_t r = 0;
    OK(cache_incr(c, "counter", 0, 0, &r));
    CHECK_EQ_INT(r, 40000);
    cache_close(c);
}

TEST(cache_memory_evicts_oldest_at_cap)
{
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    char key[32];
    OK(cache_set(c, "expiring", "x", 1, 1));
    for (int i = 0; i < 100010; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        OK(cache_set(c, key, "v", 1, 0));
    }
    char *v = NULL;
    CHECK_EQ_INT(cache_get(c, "k0", &v, NULL), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(cache_get(c, "k5", &v, NULL), DP_ERR_NOT_FOUND);
    OK(cache_get(c, "k100009", &v, NULL));
    free(v);
    OK(cache_get(c, "k20", &v, NULL));
    free(v);
    cache_close(c);
}

/* Cached copies and security state are two tables: filling the first (over its byte budget,
 * with the largest values it takes) never evicts a key of the second. */
TEST(cache_memory_spaces_are_apart)
{
    cache_memory_set_budget((size_t)1 << 20); /* this forked test's process only */
    struct cache *c = NULL, *sec = NULL;
    OK(cache_open(&c, "memory:"));
    OK(cache_open_space(&sec, "memory:", CACHE_SPACE_SECURITY));
    OK(cache_set(sec, "loginlock:victim", "locked", 6, 0));
    OK(cache_set(c, "loginlock:victim", "other", 5, 0)); /* same name, another space */
    char *v = NULL;
    OK(cache_get(sec, "loginlock:victim", &v, NULL));
    CHECK_EQ_STR(v, "locked");
    free(v);
    /* Over CACHE_CACHED_VAL_MAX: not cached at all (the security space has no such cap). */
    char *big = malloc(CACHE_CACHED_VAL_MAX + 1);
    CHECK(big != NULL);
    memset(big, 'x', CACHE_CACHED_VAL_MAX + 1);
    CHECK_EQ_INT(cache_set(c, "huge", big, CACHE_CACHED_VAL_MAX + 1, 0), DP_ERR_TOO_LARGE);
    char key[32];
    for (int i = 0; i < 40; i++) { /* 10 MiB through a 1 MiB budget */
        snprintf(key, sizeof key, "avatar:%d", i);
        OK(cache_set(c, key, big, CACHE_CACHED_VAL_MAX, 0));
    }
    free(big);
    CHECK_EQ_INT(cache_get(c, "avatar:0", &v, NULL), DP_ERR_NOT_FOUND); /* evicted … */
    OK(cache_get(c, "avatar:39", &v, NULL));
    free(v);
    OK(cache_get(sec, "loginlock:victim", &v, NULL)); /* … the lock-out is not */
    CHECK_EQ_STR(v, "locked");
    free(v);
    int64_t retry = 0;
    OK(cache_bucket_take(sec, "rl:x", 1.0, 1.0, &retry));
    CHECK_EQ_INT(cache_bucket_take(sec, "rl:x", 1.0, 1.0, &retry), DP_ERR_RATE_LIMITED);
    struct cache *bad = NULL;
    CHECK_EQ_INT(cache_open_space(&bad, "memory:", (enum cache_space)7), DP_ERR_INVALID);
    cache_close(sec);
    cache_close(c);
}

TEST(cache_url_selection)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, "http://x"), DP_ERR_INVALID);
    CHECK(c == NULL);
    CHECK(cache_ops_for_url(NULL) == &cache_memory_ops);
    CHECK(cache_ops_for_url("memory:") == &cache_memory_ops);
    CHECK(cache_ops_for_url("Memory") == &cache_memory_ops);
    CHECK(cache_ops_for_url("redis://h") == &cache_redis_ops);
    CHECK(cache_ops_for_url("memcached") == NULL); /* a bare word names no cache unless it is one's name */
    struct redis_url u;
    OK(redis_url_parse("redis://h", &u));
    CHECK_EQ_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 6379);
    CHECK_EQ_INT(u.db, 0);
    CHECK_EQ_STR(u.pass, "");
    OK(redis_url_parse("redis://:p%40ss@10.0.0.1:1234/3", &u));
    CHECK_EQ_STR(u.host, "10.0.0.1");
    CHECK_EQ_INT(u.port, 1234);
    CHECK_EQ_INT(u.db, 3);
    CHECK_EQ_STR(u.user, "");
    CHECK_EQ_STR(u.pass, "p@ss");
    OK(redis_url_parse("redis://bob:s3cret@[::1]:7000/0?x=1", &u));
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_STR(u.user, "bob");
    CHECK_EQ_STR(u.pass, "s3cret");
    CHECK_EQ_INT(u.port, 7000);
    OK(redis_url_parse("redis://h/", &u));
    CHECK_EQ_INT(u.db, 0);
    CHECK_EQ_INT(redis_url_parse("redis://", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://h:99999", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://h:", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://h:12x", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://h/x", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://[::1", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("redis://:%zz@h", &u), DP_ERR_INVALID);
    CHECK_EQ_INT(redis_url_parse("http://h", &u), DP_ERR_INVALID);
}

static int hook_calls;
static char hook_ops[256];

static void test_hook(const char *backend, const char *op, double seconds, int err)
{
    (void)err;
    (void)seconds;
    hook_calls++;
    CHECK(backend != NULL);
    strncat(hook_ops, op, sizeof(hook_ops) - strlen(hook_ops) - 2);
    strcat(hook_ops, ",");
}

TEST(cache_observe_hook_times_calls)
{
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    cache_observe_hook = test_hook;
    OK(cache_set(c, "h", "1", 1, 0));
    char *v;
    OK(cache_get(c, "h", &v, NULL));
    free(v);
    OK(cache_incr(c, "h", 1, 0, NULL));
    OK(cache_del(c, "h"));
    OK(cache_publish(c, "ch", "m", 1));
    OK(cache_ping(c));
    cache_observe_hook = NULL;
    CHECK_EQ_INT(hook_calls, 6);
    CHECK_EQ_STR(hook_ops, "set,get,incr,del,publish,ping,");
    cache_close(c);
}

/* ---- pub/sub on a loop ------------------------------------------------------------------- */

struct got {
    int n;
    char msgs[8][64];
    size_t lens[8];
    char channels[8][32];
    struct pubsub *close_me; /* closed from inside the first callback when set */
    uv_loop_t *loop;
};

static void on_msg(void *arg, const char *channel, const char *msg, size_t len)
{
    struct got *g = arg;
    if (g->n < 8) {
        snprintf(g->channels[g->n], sizeof(g->channels[0]), "%s", channel);
        memcpy(g->msgs[g->n], msg, len < 63 ? len : 63);
        g->msgs[g->n][len < 63 ? len : 63] = 0;
        g->lens[g->n] = len;
    }
    g->n++;
    if (g->close_me) {
        pubsub_close(g->close_me);
        g->close_me = NULL;
    }
}

struct publisher {
    const char *url;
    int err;
};

static void *publish_thread(void *p)
{
    struct publisher *pub = p;
    struct cache *c = NULL;
    pub->err = cache_open(&c, pub->url);
    if (pub->err)
        return NULL;
    cache_publish(c, "room:1", "hello", 5);
    cache_publish(c, "room:2", "not for us", 10);
    cache_publish(c, "room:1", "bin\0ary", 7);
    cache_publish(c, "room:1", "", 0);
    cache_close(c);
    return NULL;
}

struct waiter {
    uv_timer_t timer;
    int *counter;
    int want;
    int ticks;
};

static void on_wait_tick(uv_timer_t *t)
{
    struct waiter *w = t->data;
    if (*w->counter >= w->want || ++w->ticks > 500)
        uv_stop(t->loop);
}

/* Runs loop until *counter reaches want (or ~5 s pass). */
static void run_until(uv_loop_t *loop, int *counter, int want)
{
    struct waiter w = {.counter = counter, .want = want};
    uv_timer_init(loop, &w.timer);
    w.timer.data = &w;
    uv_timer_start(&w.timer, on_wait_tick, 10, 10);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&w.timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void finish_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

TEST(cache_pubsub_memory_delivery)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL, *ps2 = NULL;
    struct got g = {0}, g2 = {0};
    OK(pubsub_open(&ps, &loop, "memory:"));
    OK(pubsub_open(&ps2, &loop, NULL));
    OK(pubsub_subscribe(ps, "room:1", on_msg, &g));
    OK(pubsub_subscribe(ps2, "room:1", on_msg, &g2));
    CHECK_EQ_INT(pubsub_subscribe(ps, "", on_msg, &g), DP_ERR_INVALID);
    struct publisher pub = {.url = "memory:"};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, publish_thread, &pub) == 0);
    pthread_join(t, NULL);
    OK(pub.err);
    run_until(&loop, &g.n, 3);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_STR(g.channels[0], "room:1");
    CHECK_EQ_STR(g.msgs[0], "hello");
    CHECK_EQ_INT(g.lens[1], 7);
    CHECK(memcmp(g.msgs[1], "bin\0ary", 7) == 0);
    CHECK_EQ_INT(g.lens[2], 0);
    CHECK_EQ_INT(g2.n, 3); /* every subscriber gets every message */
    pubsub_close(ps);
    pubsub_close(ps2);
    finish_loop(&loop);
}

/* A channel ending in '*' takes every channel that starts with what precedes the star. */
TEST(cache_pubsub_memory_pattern)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct got g = {0}, exact = {0};
    OK(pubsub_open(&ps, &loop, "memory:"));
    OK(pubsub_subscribe(ps, "events:user:*", on_msg, &g));
    OK(pubsub_subscribe(ps, "events:user:a", on_msg, &exact));
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    OK(cache_publish(c, "events:user:a", "1", 1));
    OK(cache_publish(c, "events:other", "2", 1));
    OK(cache_publish(c, "events:user:bb", "3", 1));
    run_until(&loop, &g.n, 2);
    CHECK_EQ_INT(g.n, 2);
    CHECK_EQ_STR(g.channels[0], "events:user:a"); /* the channel published on, not the pattern */
    CHECK_EQ_STR(g.msgs[1], "3");
    CHECK_EQ_INT(exact.n, 1);
    cache_close(c);
    pubsub_close(ps);
    finish_loop(&loop);
}

TEST(cache_pubsub_memory_close_in_callback)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct got g = {0};
    OK(pubsub_open(&ps, &loop, "memory:"));
    OK(pubsub_subscribe(ps, "room:1", on_msg, &g));
    OK(pubsub_subscribe(ps, "room:1", on_msg, &g)); /* two callbacks on one channel */
    g.close_me = ps;
    struct cache *c = NULL;
    OK(cache_open(&c, "memory:"));
    OK(cache_publish(c, "room:1", "a", 1));
    OK(cache_publish(c, "room:1", "b", 1));
    finish_loop(&loop);
    CHECK_EQ_INT(g.n, 1);                   /* nothing after the close */
    OK(cache_publish(c, "room:1", "c", 1)); /* no subscribers left: fine */
    cache_close(c);
}

/* ---- Redis ------------------------------------------------------------------------------- */

static struct cache *open_redis(void)
{
    struct cache *c = NULL;
    OK(cache_open(&c, redis_url()));
    CHECK_EQ_STR(cache_backend(c), "redis");
    return c;
}

/* A raw hiredis connection to url, for looking at the server behind the backend's back. */
static redisContext *raw_redis(const char *url)
{
    struct redis_url u;
    OK(redis_url_parse(url, &u));
    redisContext *rc = redisConnect(u.host, u.port);
    CHECK(rc && !rc->err);
    if (u.db) { /* the database the URL names, as the cache under test uses */
        redisReply *r = redisCommand(rc, "SELECT %d", u.db);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        if (r)
            freeReplyObject(r);
    }
    return rc;
}

static long long raw_int(redisContext *rc, const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(rc, fmt, arg);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99999;
    if (r)
        freeReplyObject(r);
    CHECK(v != -99999);
    return v;
}

/* A redis-server of this test's own, so that killing clients or restarting it disturbs no
 * other test (or a parallel run of the suite). */
struct own_redis {
    pid_t pid;
    int port;
    char url[64];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void own_redis_spawn(struct own_redis *r)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    r->pid = fork();
    CHECK(r->pid >= 0);
    if (r->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", (char *)NULL);
        _exit(127);
    }
}

/* Waits until the server answers PING (up to ~5 s). */
static void own_redis_wait(struct own_redis *r)
{
    for (int i = 0; i < 100; i++) {
        redisContext *rc = redisConnect("127.0.0.1", r->port);
        int up = 0;
        if (rc && !rc->err) {
            redisReply *rep = redisCommand(rc, "PING");
            up = rep && rep->type == REDIS_REPLY_STATUS;
            if (rep)
                freeReplyObject(rep);
        }
        if (rc)
            redisFree(rc);
        if (up)
            return;
        CHECK(waitpid(r->pid, NULL, WNOHANG) == 0); /* still running */
        sleep_ms(50);
    }
    CHECK(!"redis-server did not start");
}

static void own_redis_stop(struct own_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static struct own_redis *own_redis_live; /* stopped at exit, even when a check fails */

static void own_redis_atexit(void)
{
    if (own_redis_live)
        own_redis_stop(own_redis_live);
}

/* Starts a private server on a free port; SKIP when redis-server is not installed. */
static void own_redis_start(struct own_redis *r)
{
    redis_url();
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        SKIP("redis-server not installed");
    r->port = free_port();
    snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d", r->port);
    own_redis_spawn(r);
    own_redis_live = r;
    atexit(own_redis_atexit);
    own_redis_wait(r);
}

/* Kills and starts the server again on the same port: every connection is lost. */
static void own_redis_restart(struct own_redis *r)
{
    own_redis_stop(r);
    own_redis_spawn(r);
    own_redis_wait(r);
}

/* Disconnects every client of type (normal, pubsub) except the one asking. */
static void own_redis_kill_clients(struct own_redis *r, const char *type)
{
    redisContext *rc = raw_redis(r->url);
    redisReply *rep = redisCommand(rc, "CLIENT KILL TYPE %s SKIPME yes", type);
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    redisFree(rc);
    CHECK(n >= 1);
}

TEST(cache_redis_get_set_del)
{
    struct cache *c = open_redis();
    check_get_set_del(c);
    cache_close(c);
}

TEST(cache_redis_ttl)
{
    struct cache *c = open_redis();
    check_ttl(c);
    cache_close(c);
}

TEST(cache_redis_incr)
{
    struct cache *c = open_redis();
    check_incr(c);
    int64_t r;
    OK(cache_incr(c, ukey("ttl"), 1, 60000, &r));
    redisContext *rc = raw_redis(redis_url());
    long long pttl = raw_int(rc, "PTTL %s", ukey("ttl"));
    CHECK(pttl > 0 && pttl <= 60000);
    OK(cache_incr(c, ukey("nottl"), 1, 0, &r));
    CHECK_EQ_INT(raw_int(rc, "PTTL %s", ukey("nottl")), -1);
    redisFree(rc);
    OK(cache_del(c, ukey("ttl")));
    OK(cache_del(c, ukey("nottl")));
    check_caps(c);
    cache_close(c);
}

TEST(cache_redis_reconnects)
{
    struct own_redis srv;
    own_redis_start(&srv);
    struct cache *c = NULL;
    OK(cache_open(&c, srv.url));
    OK(cache_set(c, "r", "1", 1, 10000));
    own_redis_kill_clients(&srv, "normal");
    usleep(100 * 1000);
    char *v = NULL;
    OK(cache_get(c, "r", &v, NULL)); /* a new connection, transparently */
    CHECK_EQ_STR(v, "1");
    free(v);
    own_redis_restart(&srv); /* the server goes away and comes back empty */
    CHECK_EQ_INT(cache_get(c, "r", &v, NULL), DP_ERR_NOT_FOUND);
    OK(cache_ping(c));
    own_redis_stop(&srv);
    CHECK_EQ_INT(cache_ping(c), DP_ERR_UNAVAILABLE);
    CHECK_EQ_INT(cache_set(c, "r", "1", 1, 0), DP_ERR_UNAVAILABLE);
    own_redis_spawn(&srv);
    own_redis_wait(&srv);
    OK(cache_set(c, "r", "2", 1, 0)); /* and recovers once it is back */
    cache_close(c);
    own_redis_stop(&srv);
}

/* The eviction check reads the server's policy: noeviction (the test server's default) is safe;
 * an LRU policy under maxmemory may take security keys, and says so. */
TEST(cache_redis_may_evict_reads_the_policy)
{
    struct own_redis srv;
    own_redis_start(&srv);
    struct cache *c = NULL;
    char why[160];
    OK(cache_open_space(&c, srv.url, CACHE_SPACE_SECURITY));
    redisContext *rc = raw_redis(srv.url);
    freeReplyObject(redisCommand(rc, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(redisCommand(rc, "CONFIG SET maxmemory 0"));
    CHECK_EQ_INT(cache_may_evict(c, why, sizeof why), 0);
    freeReplyObject(redisCommand(rc, "CONFIG SET maxmemory 100mb"));
    CHECK_EQ_INT(cache_may_evict(c, why, sizeof why), 0);
    freeReplyObject(redisCommand(rc, "CONFIG SET maxmemory-policy allkeys-lru"));
    CHECK_EQ_INT(cache_may_evict(c, why, sizeof why), 1);
    CHECK(strstr(why, "allkeys-lru") != NULL);
    redisFree(rc);
    cache_close(c);
    own_redis_stop(&srv);
}

TEST(cache_memory_may_evict_cached_copies_only)
{
    struct cache *c = NULL, *sec = NULL;
    char why[160];
    OK(cache_open(&c, "memory:"));
    OK(cache_open_space(&sec, "memory:", CACHE_SPACE_SECURITY));
    CHECK_EQ_INT(cache_may_evict(c, why, sizeof why), 1);
    CHECK_EQ_INT(cache_may_evict(sec, why, sizeof why), 0);
    cache_close(sec);
    cache_close(c);
}

TEST(cache_redis_unreachable)
{
    redis_url();
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, "redis://127.0.0.1:1"), DP_ERR_UNAVAILABLE);
    CHECK(c == NULL);
}

struct repub {
    uv_timer_t timer;
    struct cache *c;
    const char *channel;
    int sent;
};

static void on_repub(uv_timer_t *t)
{
    struct repub *p = t->data;
    char msg[32];
    int n = snprintf(msg, sizeof(msg), "m%d", p->sent++);
    cache_publish(p->c, p->channel, msg, (size_t)n);
}

/* Publishes every 20 ms (the subscription becomes live asynchronously) until got reaches
 * want. */
static void publish_until(uv_loop_t *loop, struct cache *c, const char *channel, int *got, int want)
{
    struct repub p = {.c = c, .channel = channel};
    uv_timer_init(loop, &p.timer);
    p.timer.data = &p;
    uv_timer_start(&p.timer, on_repub, 20, 20);
    run_until(loop, got, want);
    uv_close((uv_handle_t *)&p.timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

TEST(cache_pubsub_redis_delivery_and_resubscribe)
{
    struct own_redis srv;
    own_redis_start(&srv);
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct got g = {0}, other = {0};
    OK(pubsub_open(&ps, &loop, srv.url));
    OK(pubsub_subscribe(ps, "ch", on_msg, &g));
    OK(pubsub_subscribe(ps, "other", on_msg, &other));
    struct cache *c = NULL;
    OK(cache_open(&c, srv.url));
    publish_until(&loop, c, "ch", &g.n, 1);
    CHECK(g.n >= 1);
    CHECK_EQ_STR(g.channels[0], "ch");
    CHECK(g.msgs[0][0] == 'm');
    CHECK_EQ_INT(other.n, 0);

    /* the server drops the subscriber: it reconnects and subscribes again */
    own_redis_kill_clients(&srv, "pubsub");
    int target = g.n + 1;
    publish_until(&loop, c, "ch", &g.n, target);
    CHECK(g.n >= target);

    /* the server restarts: the same, after backoff */
    own_redis_restart(&srv);
    target = g.n + 1;
    publish_until(&loop, c, "ch", &g.n, target);
    CHECK(g.n >= target);

    /* subscribing while connected */
    OK(pubsub_subscribe(ps, "late", on_msg, &other));
    publish_until(&loop, c, "late", &other.n, 1);
    CHECK(other.n >= 1);

    /* a pattern (PSUBSCRIBE): the channel published on comes with the message */
    struct got pat = {0};
    OK(pubsub_subscribe(ps, "user:*", on_msg, &pat));
    publish_until(&loop, c, "user:42", &pat.n, 1);
    CHECK(pat.n >= 1);
    CHECK_EQ_STR(pat.channels[0], "user:42");
    cache_close(c);
    pubsub_close(ps);
    finish_loop(&loop);
    own_redis_stop(&srv);
}

TEST(cache_pubsub_redis_unreachable_then_close)
{
    redis_url();
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct got g = {0};
    OK(pubsub_open(&ps, &loop, "redis://127.0.0.1:1")); /* retries in the background */
    OK(pubsub_subscribe(ps, "x", on_msg, &g));
    int never = 0;
    struct waiter w = {.counter = &never, .want = 1};
    uv_timer_init(&loop, &w.timer);
    w.timer.data = &w;
    w.ticks = 470; /* ~300 ms */
    uv_timer_start(&w.timer, on_wait_tick, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&w.timer, NULL);
    pubsub_close(ps);
    finish_loop(&loop);
    CHECK_EQ_INT(g.n, 0);
    CHECK_EQ_INT(pubsub_open(&ps, &loop, "bogus://x"), DP_ERR_INVALID);
}

TEST(cache_pubsub_redis_connects_when_server_appears)
{
    struct own_redis srv;
    own_redis_start(&srv);
    own_redis_stop(&srv); /* a known port with nothing listening */
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct got g = {0};
    OK(pubsub_open(&ps, &loop, srv.url));
    OK(pubsub_subscribe(ps, "appears", on_msg, &g));
    int never = 0;
    struct waiter w = {.counter = &never, .want = 1, .ticks = 470}; /* ~300 ms of failures */
    uv_timer_init(&loop, &w.timer);
    w.timer.data = &w;
    uv_timer_start(&w.timer, on_wait_tick, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&w.timer, NULL);
    own_redis_spawn(&srv);
    own_redis_wait(&srv);
    struct cache *c = NULL;
    OK(cache_open(&c, srv.url));
    publish_until(&loop, c, "appears", &g.n, 1);
    cache_close(c);
    pubsub_close(ps);
    finish_loop(&loop);
    own_redis_stop(&srv);
    CHECK(g.n >= 1);
}
