/* Tests of the cache's atomic token bucket (rate limits), on memory and on Redis when
 * DOPPEL_TEST_REDIS_URL is set. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "core/err.h"
#include "store/cache.h"

static void bucket_behaviour(const char *url)
{
    struct cache *c;
    CHECK_EQ_INT(cache_open(&c, url), DP_OK);
    char key[64];
    snprintf(key, sizeof key, "doppel-test:%d:bucket", (int)getpid());
    int64_t retry = 0;
    /* A burst of 3 at 10 tokens/s: three pass, the fourth waits about 100 ms. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(cache_bucket_take(c, key, 10, 3, &retry), DP_OK);
    CHECK_EQ_INT(cache_bucket_take(c, key, 10, 3, &retry), DP_ERR_RATE_LIMITED);
    CHECK(retry > 0 && retry <= 101);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_EQ_INT(cache_bucket_take(c, key, 10, 3, &retry), DP_OK);
    CHECK_EQ_INT(cache_bucket_take(c, key, 10, 3, &retry), DP_ERR_RATE_LIMITED);
    /* Separate keys are separate buckets; bad parameters are refused. */
    char other[80];
    snprintf(other, sizeof other, "%s:other", key);
    CHECK_EQ_INT(cache_bucket_take(c, other, 10, 3, &retry), DP_OK);
    CHECK_EQ_INT(cache_bucket_take(c, other, 0, 3, &retry), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_bucket_take(c, other, 1, 0.5, &retry), DP_ERR_INVALID);
    cache_del(c, key);
    cache_del(c, other);
    cache_close(c);
}

TEST(cache_bucket_memory)
{
    bucket_behaviour("memory:");
}

TEST(cache_bucket_redis_shared_between_handles)
{
    const char *url = getenv("DOPPEL_TEST_REDIS_URL");
    if (!url || !*url)
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    bucket_behaviour(url);
    /* Two handles (two "instances") drain one bucket. */
    struct cache *a, *b;
    CHECK_EQ_INT(cache_open(&a, url), DP_OK);
    CHECK_EQ_INT(cache_open(&b, url), DP_OK);
    char key[64];
    snprintf(key, sizeof key, "doppel-test:%d:shared", (int)getpid());
    int64_t retry;
    CHECK_EQ_INT(cache_bucket_take(a, key, 1, 2, &retry), DP_OK);
    CHECK_EQ_INT(cache_bucket_take(b, key, 1, 2, &retry), DP_OK);
    CHECK_EQ_INT(cache_bucket_take(a, key, 1, 2, &retry), DP_ERR_RATE_LIMITED);
    CHECK_EQ_INT(cache_bucket_take(b, key, 1, 2, &retry), DP_ERR_RATE_LIMITED);
    cache_del(a, key);
    cache_close(a);
    cache_close(b);
}

/* A take and a read in one call: the take behaves as cache_bucket_take, the value comes along. */
static void bucket_take_get_behaviour(const char *url)
{
    struct cache *c;
    CHECK_EQ_INT(cache_open_space(&c, url, CACHE_SPACE_SECURITY), DP_OK);
    char key[64], other[80];
    snprintf(key, sizeof key, "doppel-test:%d:btg", (int)getpid());
    snprintf(other, sizeof other, "%s:value", key);
    CHECK_EQ_INT(cache_set(c, other, "42", 2, 10000), DP_OK);
    int64_t retry = 0;
    char *v = NULL;
    size_t len = 0;
    CHECK_EQ_INT(cache_bucket_take_get(c, key, 10, 2, &retry, other, &v, &len), DP_OK);
    CHECK_EQ_STR(v, "42");
    CHECK(len == 2);
    free(v);
    CHECK_EQ_INT(cache_bucket_take_get(c, key, 10, 2, &retry, other, &v, &len), DP_OK);
    free(v);
    /* Drained: refused, and the value is still read. */
    CHECK_EQ_INT(cache_bucket_take_get(c, key, 10, 2, &retry, other, &v, &len), DP_ERR_RATE_LIMITED);
    CHECK(retry > 0);
    CHECK_EQ_STR(v, "42");
    free(v);
    /* An absent key reads as NULL (a fresh bucket). */
    char fresh[96];
    snprintf(fresh, sizeof fresh, "%s:fresh", key);
    cache_del(c, other);
    CHECK_EQ_INT(cache_bucket_take_get(c, fresh, 10, 2, &retry, other, &v, &len), DP_OK);
    CHECK(v == NULL);
    cache_del(c, fresh);
    /* Several keys at once: each value in its place, absent ones NULL. */
    char second[96];
    snprintf(second, sizeof second, "%s:second", key);
    CHECK_EQ_INT(cache_set(c, second, "seven", 5, 10000), DP_OK);
    const char *keys[] = {second, other, second};
    char *vals[3];
    size_t lens[3];
    CHECK_EQ_INT(cache_bucket_take_get_many(c, fresh, 10, 2, &retry, keys, 3, vals, lens), DP_OK);
    CHECK_EQ_STR(vals[0], "seven");
    CHECK(vals[1] == NULL);
    CHECK_EQ_STR(vals[2], "seven");
    CHECK(lens[2] == 5);
    for (int i = 0; i < 3; i++)
        free(vals[i]);
    CHECK_EQ_INT(cache_bucket_take_get_many(c, fresh, 10, 2, &retry, keys, 0, vals, lens), DP_OK);
    cache_del(c, fresh);
    cache_del(c, second);
    CHECK_EQ_INT(cache_bucket_take_get(c, key, 0, 2, &retry, other, &v, &len), DP_ERR_INVALID);
    cache_del(c, key);
    cache_del(c, other);
    cache_close(c);
}

TEST(cache_bucket_take_get_memory)
{
    bucket_take_get_behaviour("memory:");
}

TEST(cache_bucket_take_get_redis)
{
    const char *url = getenv("DOPPEL_TEST_REDIS_URL");
    if (!url || !*url)
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    bucket_take_get_behaviour(url);
}
