/* Tests of src/store/cache_gen.c: generations on the memory cache always, on Redis when
 * DOPPEL_TEST_REDIS_URL is set (two handles standing for two instances). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "core/err.h"
#include "store/cache.h"
#include "store/cache_gen.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static const char *scope(const char *name)
{
    static char buf[8][64];
    static int at;
    char *s = buf[at++ % 8];
    snprintf(s, 64, "test-%d-%s", (int)getpid(), name);
    return s;
}

/* A read makes a generation, reads agree until a bump, a bump moves it, on both handles. */
static void check_generations(struct cache *a, struct cache *b)
{
    const char *s = scope("g");
    int64_t g1 = 0, g2 = 0, g3 = 0, g4 = 0;
    OK(cache_gen_read(a, s, &g1));
    OK(cache_gen_read(b, s, &g2));
    CHECK(g1 == g2);
    CHECK(g1 != 0);
    OK(cache_gen_bump(a, s));
    OK(cache_gen_read(b, s, &g3));
    CHECK(g3 > g1);
    OK(cache_gen_bump(b, s));
    OK(cache_gen_read(a, s, &g4));
    CHECK(g4 > g3);
}

/* A stamp appends every scope's generation; a bump of either makes another key. */
static void check_stamp(struct cache *c)
{
    const char *x = scope("x"), *y = scope("y");
    const char *both[] = {x, y};
    char k1[128] = "resp:k", k2[128] = "resp:k", k3[128] = "resp:k";
    OK(cache_gen_stamp(c, both, 2, k1, sizeof k1));
    OK(cache_gen_stamp(c, both, 2, k2, sizeof k2));
    CHECK_EQ_STR(k1, k2);
    CHECK(strchr(k1 + 7, ':') != NULL);
    OK(cache_gen_bump(c, y));
    OK(cache_gen_stamp(c, both, 2, k3, sizeof k3));
    CHECK(strcmp(k1, k3) != 0);
    char tiny[12] = "resp:k";
    CHECK_EQ_INT(cache_gen_stamp(c, both, 2, tiny, sizeof tiny), DP_ERR_TOO_LARGE);
}

/* Generations read ahead (with a request's session) stamp as read; the others are read, and a
 * generation's key read through another space's handle of the same server notes the same value. */
static void check_stamp_known(struct cache *c, struct cache *security)
{
    const char *x = scope("kx"), *y = scope("ky");
    const char *both[] = {x, y};
    char plain[128] = "resp:k", ahead[128] = "resp:k", gkey[CACHE_GEN_KEY_MAX], *v = NULL;
    size_t len;
    OK(cache_gen_stamp(c, both, 2, plain, sizeof plain));
    struct cache_gen_known known = {0};
    cache_gen_key(x, gkey);
    CHECK_EQ_INT(cache_get(security, gkey, &v, &len), DP_OK);
    cache_gen_note(&known, x, v);
    free(v);
    cache_gen_note(&known, scope("absent"), NULL); /* nothing noted */
    CHECK_EQ_INT(known.n, 1);
    OK(cache_gen_stamp_known(c, &known, both, 2, ahead, sizeof ahead));
    CHECK_EQ_STR(plain, ahead);
    /* Taken as read: a bump after the read ahead does not show in this request's stamp... */
    OK(cache_gen_bump(c, x));
    char later[128] = "resp:k", fresh[128] = "resp:k";
    OK(cache_gen_stamp_known(c, &known, both, 2, later, sizeof later));
    CHECK_EQ_STR(later, plain);
    /* ...and does in the next one's. */
    OK(cache_gen_stamp(c, both, 2, fresh, sizeof fresh));
    CHECK(strcmp(fresh, plain) != 0);
}

/* A generation lost (evicted, expired) comes back somewhere else: an answer stamped before
 * cannot be found again. */
static void check_lost(struct cache *c)
{
    const char *s = scope("lost");
    char key[160];
    int64_t g1 = 0, g2 = 0;
    OK(cache_gen_read(c, s, &g1));
    snprintf(key, sizeof key, "gen:%s", s);
    OK(cache_del(c, key));
    OK(cache_gen_read(c, s, &g2));
    CHECK(g1 != g2);
}

/* Several keys at once: present ones with their values, absent ones NULL; bad counts refused. */
static void check_get_many(struct cache *c)
{
    char k1[64], k2[64], k3[64];
    snprintf(k1, sizeof k1, "%s", scope("m1"));
    snprintf(k2, sizeof k2, "%s", scope("m2"));
    snprintf(k3, sizeof k3, "%s", scope("m3"));
    OK(cache_set(c, k1, "one", 3, 10000));
    OK(cache_set(c, k3, "three!", 6, 10000));
    const char *keys[] = {k1, k2, k3};
    char *v[3];
    size_t len[3];
    OK(cache_get_many(c, keys, 3, v, len));
    CHECK_EQ_STR(v[0], "one");
    CHECK(v[1] == NULL);
    CHECK_EQ_STR(v[2], "three!");
    CHECK(len[2] == 6);
    free(v[0]);
    free(v[2]);
    CHECK_EQ_INT(cache_get_many(c, keys, 0, v, len), DP_ERR_INVALID);
    CHECK_EQ_INT(cache_get_many(c, keys, CACHE_GET_MANY_MAX + 1, v, len), DP_ERR_INVALID);
}

TEST(cache_gen_memory)
{
    struct cache *a = NULL, *b = NULL;
    OK(cache_open(&a, "memory:"));
    OK(cache_open(&b, "memory:"));
    check_generations(a, b);
    check_stamp(a);
    check_lost(a);
    check_get_many(b);
    CHECK(!cache_spaces_shared(a)); /* in-process: each space its own store */
    /* Scopes and stamps are built by copies: the same text snprintf would make, cut to fit. */
    char sc[CACHE_GEN_SCOPE_MAX], longid[200];
    cache_gen_scope(sc, "user", "abc");
    CHECK_EQ_STR(sc, "user:abc");
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    cache_gen_scope(sc, "org-avatars", longid);
    CHECK_EQ_INT((int)strlen(sc), CACHE_GEN_SCOPE_MAX - 1);
    CHECK(!strncmp(sc, "org-avatars:xxx", 15));
    struct cache_gen_known kn = {0};
    cache_gen_note(&kn, "s1", "-5");
    cache_gen_note(&kn, "s2", "9223372036854775807");
    cache_gen_note(&kn, "s3", "12x"); /* not a generation: not noted */
    CHECK_EQ_INT(kn.n, 2);
    const char *two[] = {"s1", "s2"};
    char st[64] = "k";
    OK(cache_gen_stamp_known(a, &kn, two, 2, st, sizeof st));
    CHECK_EQ_STR(st, "k:-5:9223372036854775807");
    char small[20] = "k";
    CHECK_EQ_INT(cache_gen_stamp_known(a, &kn, two, 2, small, sizeof small), DP_ERR_TOO_LARGE);
    check_stamp_known(a, a);
    CHECK_EQ_INT(cache_gen_bump(NULL, "x"), DP_ERR_INVALID);
    cache_close(a);
    cache_close(b);
}

TEST(cache_gen_redis)
{
    const char *url = getenv("DOPPEL_TEST_REDIS_URL");
    if (!url || !*url)
        SKIP("DOPPEL_TEST_REDIS_URL not set");
    struct cache *a = NULL, *b = NULL;
    OK(cache_open(&a, url));
    OK(cache_open(&b, url));
    check_generations(a, b);
    check_stamp(b);
    check_lost(a);
    check_get_many(a);
    struct cache *security = NULL;
    OK(cache_open_space(&security, url, CACHE_SPACE_SECURITY));
    CHECK(cache_spaces_shared(security));
    check_stamp_known(a, security);
    cache_close(security);
    cache_close(a);
    cache_close(b);
}
