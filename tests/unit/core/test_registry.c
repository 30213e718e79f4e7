/* Backend registries (core/registry.h): lookups by name and address, and a backend added in one
 * file — a fake cache that the ordinary cache_open() then serves, and a fake brain. */
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "core/err.h"
#include "core/registry.h"
#include "store/cache.h"
#include "store/cache_impl.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* ---- a whole cache backend: one key, in this file ---- */

struct fake_cache {
    struct cache base;
    char *key, *val;
};

static const struct cache_ops fake_cache_ops;

static int fake_open(struct cache **out, const char *url, enum cache_space space)
{
    (void)url;
    struct fake_cache *f = calloc(1, sizeof *f);
    if (!f)
        return DP_ERR_NOMEM;
    f->base.ops = &fake_cache_ops;
    f->base.space = space;
    *out = &f->base;
    return DP_OK;
}

static void fake_close(struct cache *c)
{
    struct fake_cache *f = (struct fake_cache *)c;
    free(f->key);
    free(f->val);
    free(f);
}

static int fake_get(struct cache *c, const char *key, char **val, size_t *len)
{
    struct fake_cache *f = (struct fake_cache *)c;
    if (!f->key || strcmp(f->key, key))
        return DP_ERR_NOT_FOUND;
    *val = strdup(f->val);
    *len = strlen(f->val);
    return *val ? DP_OK : DP_ERR_NOMEM;
}

static int fake_set(struct cache *c, const char *key, const void *val, size_t len, int ttl_ms)
{
    (void)ttl_ms;
    struct fake_cache *f = (struct fake_cache *)c;
    free(f->key);
    free(f->val);
    f->key = strdup(key);
    f->val = strndup(val, len);
    return f->key && f->val ? DP_OK : DP_ERR_NOMEM;
}

static int fake_ping(struct cache *c)
{
    (void)c;
    return DP_OK;
}

static const struct cache_ops fake_cache_ops = {
    .name = "fake", .open = fake_open, .close = fake_close, .get = fake_get, .set = fake_set, .ping = fake_ping};
static const char *const fake_schemes[] = {"fake://", NULL};
static const struct backend fake_cache_row = {"fake", fake_schemes, 0, &fake_cache_ops};

TEST(registry_a_cache_backend_added_in_one_file_serves_cache_open)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, "fake://anything"), DP_ERR_INVALID); /* not yet */
    OK(registry_add(cache_registry(), &fake_cache_row));
    CHECK_EQ_INT(registry_add(cache_registry(), &fake_cache_row), DP_ERR_CONFLICT);
    OK(cache_open(&c, "FAKE://anything"));
    CHECK_EQ_STR(cache_backend(c), "fake");
    OK(cache_set(c, "k", "v1", 2, 1000));
    char *v = NULL;
    size_t n = 0;
    OK(cache_get(c, "k", &v, &n));
    CHECK_EQ_STR(v, "v1");
    free(v);
    OK(cache_ping(c));
    cache_close(c);
    /* The built-in rows are still chosen as before. */
    CHECK(cache_ops_for_url(NULL) == &cache_memory_ops);
    CHECK(cache_ops_for_url("redis://h") == &cache_redis_ops);
    CHECK(cache_ops_for_url("nonsense") == NULL);
}

/* ---- a brain ---- */

static int echo_reply(const struct brain_input *in, struct brain_reply *out)
{
    out->text = strdup(in->message);
    out->citations = json_array();
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

static const struct brain_ops echo_brain = {"echo", echo_reply, NULL, NULL};
static const struct backend echo_row = {"echo", NULL, 0, &echo_brain};

TEST(registry_a_brain_added_in_one_file_answers)
{
    CHECK(brain_for("echo") == NULL);
    CHECK(brain_for("recall") != NULL);
    OK(registry_add(brain_registry(), &echo_row));
    const struct brain_ops *b = brain_for("echo");
    CHECK(b == &echo_brain);
    struct brain_input in = {0};
    in.message = "hello there";
    struct brain_reply r = {0};
    OK(b->reply(&in, &r));
    CHECK_EQ_STR(r.text, "hello there");
    brain_reply_cleanup(&r);
}

TEST(registry_lookups)
{
    static const char *const s1[] = {"one://", NULL};
    static const struct backend a = {"a", NULL, 0, NULL}, b = {"b", s1, 1, NULL};
    struct registry r = {"test", {&a}, 1, 0};
    OK(registry_add(&r, &b));
    CHECK(registry_find(&r, "b") == &b);
    CHECK(registry_find(&r, "c") == NULL);
    CHECK(registry_find(&r, NULL) == NULL);
    CHECK(registry_for_url(&r, "ONE://x") == &b);
    CHECK(registry_for_url(&r, "/a/path") == &a); /* the fallback */
    CHECK(registry_for_url(&r, "two://x") == NULL);
    CHECK(registry_for_url(&r, NULL) == NULL);
    CHECK(registry_for_url(&r, "B") == &b); /* a bare name chooses its backend */
    r.fallback = -1;
    CHECK(registry_for_url(&r, "/a/path") == NULL);
    CHECK(registry_for_url(&r, "a") == &a);
    struct registry full = {"full", {0}, REGISTRY_MAX, -1};
    CHECK_EQ_INT(registry_add(&full, &a), DP_ERR_TOO_LARGE);
}
