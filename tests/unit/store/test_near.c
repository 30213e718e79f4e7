/* Tests of near copies (store/near.h) against a real Redis (DOPPEL_TEST_REDIS_URL): copies filled
 * by reads, trusted once a heartbeat comes back, dropped by an announcement before the writer
 * returns, all dropped after a lost announcement; and the rate-token leases. This thread plays the
 * server's loop; a second thread plays a worker that writes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "../test.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/near.h"

static const char *const prefixes[] = {"gen:", NULL};

/* The test Redis on a database of its own (members and sequence apart from other tests'). */
static const char *near_url(char *out, size_t cap)
{
    const char *url = getenv("DOPPEL_TEST_REDIS_URL");
    if (!url || !*url)
        return NULL;
    const char *slash = strrchr(url + 8, '/');
    int base = slash ? atoi(slash + 1) : 0;
    int n = slash ? (int)(slash - url) : (int)strlen(url);
    snprintf(out, cap, "%.*s/%d", n, url, base + 9);
    return out;
}

/* Runs the loop until cond() holds or ms pass; 1 when it held. */
static int run_until(uv_loop_t *loop, int (*cond)(void), int ms)
{
    double end = time_mono() + ms / 1000.0;
    while (!cond() && time_mono() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        nanosleep(&(struct timespec){0, 2 * 1000000L}, NULL);
    }
    return cond();
}

struct writer {
    const char *url, *key;
    double took;
    int done, err;
};

/* A worker's write: the generation moved on, then announced (returns once acknowledged). */
static void *write_main(void *arg)
{
    struct writer *w = arg;
    struct cache *c;
    w->err = cache_open_space(&c, w->url, CACHE_SPACE_CACHED);
    double t0 = time_mono();
    if (!w->err)
        w->err = cache_incr(c, w->key, 7, 60000, NULL);
    if (!w->err)
        w->err = cache_announce(c, w->key);
    w->took = time_mono() - t0;
    if (c)
        cache_close(c);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static struct writer *current;
static int writer_done(void)
{
    return __atomic_load_n(&current->done, __ATOMIC_SEQ_CST);
}

static const char *copy_key;
static int copy_present(void)
{
    char *v = NULL;
    size_t len;
    int err = near_get(copy_key, &v, &len);
    free(v);
    return err == DP_OK;
}

static int copy_gone(void)
{
    return !copy_present();
}

static void stop(uv_loop_t *loop)
{
    near_stop();
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    near_free();
    uv_loop_close(loop);
}

TEST(near_redis_copies_follow_announcements)
{
    char url[300];
    if (!near_url(url, sizeof url))
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct cache *c;
    CHECK_EQ_INT(cache_open_space(&c, url, CACHE_SPACE_CACHED), DP_OK);
    char key[64];
    snprintf(key, sizeof key, "gen:test:%d", (int)getpid());
    CHECK_EQ_INT(cache_set(c, key, "5", 1, 60000), DP_OK);

    /* A member set born long ago (a writer then waits for acknowledgements only). */
    char ns[32], k[3][64];
    near_namespace(atoi(strrchr(url + 8, '/') + 1), ns);
    snprintf(k[0], sizeof k[0], "%smembers", ns);
    snprintf(k[1], sizeof k[1], "%sseq", ns);
    snprintf(k[2], sizeof k[2], "%sborn", ns);
    cache_del(c, k[0]);
    cache_del(c, k[1]);
    CHECK_EQ_INT(cache_set(c, k[2], "1", 1, 0), DP_OK);

    CHECK(!near_trusted());
    CHECK_EQ_INT(near_start(&loop, url, prefixes), DP_OK);
    CHECK(run_until(&loop, near_trusted, 5000)); /* the first heartbeat came back */
    CHECK(near_tracked(key) && !near_tracked("resp:x"));

    /* A read fills the copy; the loop's handle then answers without Redis. */
    char *v = NULL;
    size_t len;
    CHECK_EQ_INT(cache_get(c, key, &v, &len), DP_OK);
    free(v);
    copy_key = key;
    CHECK(copy_present());
    struct cache *loop_handle;
    CHECK_EQ_INT(near_cache_open(&loop_handle, CACHE_SPACE_CACHED), DP_OK);
    const char *keys[] = {key};
    char *vals[1];
    size_t lens[1];
    CHECK_EQ_INT(cache_get_many(loop_handle, keys, 1, vals, lens), DP_OK);
    CHECK_EQ_STR(vals[0], "5");
    free(vals[0]);
    CHECK_EQ_INT(cache_incr(loop_handle, key, 1, 0, NULL), DP_ERR_WOULDBLOCK); /* never a round trip */

    /* A worker's write returns only once this "loop" dropped its copy: acknowledged, not timed out. */
    struct writer w = {url, key, 0, 0, 0};
    current = &w;
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, write_main, &w), 0);
    CHECK(run_until(&loop, writer_done, 5000));
    pthread_join(t, NULL);
    CHECK_EQ_INT(w.err, DP_OK);
    CHECK(!copy_present());
    CHECK(w.took < NEAR_TRUST_MS / 1000.0);
    CHECK_EQ_INT(cache_get_many(loop_handle, keys, 1, vals, lens), DP_ERR_WOULDBLOCK);

    /* Redis lost its data (no birth time): a member may not have come back yet, so the writer
     * waits out the trust period even though every member it knows of acknowledged. */
    CHECK_EQ_INT(cache_del(c, k[2]), DP_OK);
    struct writer w2 = {url, key, 0, 0, 0};
    current = &w2;
    CHECK_EQ_INT(pthread_create(&t, NULL, write_main, &w2), 0);
    CHECK(run_until(&loop, writer_done, 5000));
    pthread_join(t, NULL);
    CHECK_EQ_INT(w2.err, DP_OK);
    CHECK(w2.took >= (NEAR_TRUST_MS - 50) / 1000.0);

    /* A lost announcement (a gap in the sequence) drops every copy. */
    CHECK_EQ_INT(cache_get(c, key, &v, &len), DP_OK);
    CHECK_EQ_STR(v, "19");
    free(v);
    CHECK(copy_present());
    char ch[64];
    snprintf(ch, sizeof ch, "%sinv", ns);
    int64_t seq = 0;
    CHECK_EQ_INT(cache_incr(c, k[1], 2, 0, &seq), DP_OK); /* one number skipped */
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%lld - 0 gen:unrelated", (long long)seq);
    CHECK_EQ_INT(cache_publish(c, ch, msg, (size_t)n), DP_OK);
    CHECK(run_until(&loop, copy_gone, 3000));
    CHECK(near_trusted()); /* trust stays: only the copies went */

    cache_del(c, key);
    cache_del(c, k[2]);
    cache_close(c);
    cache_close(loop_handle);
    stop(&loop);
    CHECK(!near_trusted());
}

TEST(near_redis_leases)
{
    char url[300];
    if (!near_url(url, sizeof url))
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    CHECK_EQ_INT(near_lease_size(1e6, 5e6), 1); /* not running: no leases */
    uv_loop_t loop;
    uv_loop_init(&loop);
    CHECK_EQ_INT(near_start(&loop, url, prefixes), DP_OK);
    CHECK_EQ_INT(near_lease_size(1e6, 5e6), NEAR_LEASE_MAX);
    CHECK_EQ_INT(near_lease_size(100, 500), 10); /* a tenth of a second's worth */
    CHECK_EQ_INT(near_lease_size(2, 10), 1);     /* a low limit is Redis's alone */

    /* Ten tokens: one request is sent for the next lease at half, then the rest are spent. */
    CHECK_EQ_INT(near_lease_take("rl:x"), 0);
    near_lease_put("rl:x", 10);
    int got = 0;
    for (int i = 0; i < 12; i++)
        got += near_lease_take("rl:x");
    CHECK_EQ_INT(got, 10);
    CHECK_EQ_INT(near_lease_take("rl:y"), 0);

    /* A worker's take through Redis keeps the lease's tokens beyond its own. */
    struct cache *c;
    CHECK_EQ_INT(cache_open_space(&c, url, CACHE_SPACE_SECURITY), DP_OK);
    char bucket[64];
    snprintf(bucket, sizeof bucket, "rl:test:%d", (int)getpid());
    int64_t retry = 0;
    CHECK_EQ_INT(cache_bucket_take_get_many(c, bucket, 100, 500, &retry, NULL, 0, NULL, NULL), DP_OK);
    got = 0;
    for (int i = 0; i < 20; i++)
        got += near_lease_take(bucket);
    CHECK_EQ_INT(got, 9); /* the lease of 10 less this request's token */
    /* A worker spends the lease first; leases are counted in Redis: the bucket (500, refilled at
     * 100/s) is drained within about 500 requests however they are answered. */
    int err = DP_OK, calls = 0;
    while (err == DP_OK && calls++ < 2000)
        err = cache_bucket_take_get_many(c, bucket, 100, 500, &retry, NULL, 0, NULL, NULL);
    CHECK_EQ_INT(err, DP_ERR_RATE_LIMITED);
    CHECK(calls >= 450 && calls <= 1000 && retry > 0);
    cache_del(c, bucket);
    cache_close(c);
    stop(&loop);
}
