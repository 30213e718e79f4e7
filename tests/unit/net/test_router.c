/* Unit tests of the router and the error → status mapping. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "core/err.h"
#include "net/router.h"

static int h(struct request *req, struct response *res)
{
    (void)req;
    (void)res;
    return 0;
}

static const struct route table[] = {
    {"GET", "/api/v1/users/search", 0, 0, h, "t", "", NULL, NULL, NULL},
    {"GET", "/api/v1/users/{id}", 0, 0, h, "t", "", NULL, NULL, NULL},
    {"DELETE", "/api/v1/users/{id}", 0, 0, h, "t", "", NULL, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/memories/{mid}", 0, 0, h, "t", "", NULL, NULL, NULL},
    {"GET", "/health", 0, 0, h, "t", "", NULL, NULL, NULL},
    {0},
};

static enum router_result match(struct router *r, const char *method, const char *path, const struct route **rt,
                                struct request *req, char *allow)
{
    static char buf[256];
    strcpy(buf, path);
    memset(req, 0, sizeof *req);
    return router_match(r, method, buf, rt, req, allow, 64);
}

TEST(router_matches_literals_before_params_and_extracts)
{
    const struct route *const tables[] = {table};
    struct router *r;
    CHECK_EQ_INT(router_new(&r, tables, 1), DP_OK);
    const struct route *rt;
    struct request req;
    char allow[64];
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users/search", &rt, &req, allow), ROUTER_MATCH);
    CHECK(rt == &table[0]);
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users/42", &rt, &req, allow), ROUTER_MATCH);
    CHECK(rt == &table[1]);
    CHECK_EQ_STR(req_param(&req, "id"), "42");
    CHECK_EQ_INT(match(r, "GET", "/api/v1/avatars/a1/memories/m2", &rt, &req, allow), ROUTER_MATCH);
    CHECK_EQ_STR(req_param(&req, "id"), "a1");
    CHECK_EQ_STR(req_param(&req, "mid"), "m2");
    CHECK_EQ_INT(match(r, "HEAD", "/health", &rt, &req, allow), ROUTER_MATCH);
    router_free(r);
}

TEST(router_404_405_and_edge_paths)
{
    const struct route *const tables[] = {table};
    struct router *r;
    CHECK_EQ_INT(router_new(&r, tables, 1), DP_OK);
    const struct route *rt;
    struct request req;
    char allow[64];
    CHECK_EQ_INT(match(r, "POST", "/api/v1/users/42", &rt, &req, allow), ROUTER_NO_METHOD);
    CHECK(strstr(allow, "GET") && strstr(allow, "DELETE"));
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users/", &rt, &req, allow), ROUTER_NO_PATH);
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users//x", &rt, &req, allow), ROUTER_NO_PATH);
    CHECK_EQ_INT(match(r, "GET", "/nope", &rt, &req, allow), ROUTER_NO_PATH);
    CHECK_EQ_INT(match(r, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", &rt, &req, allow), ROUTER_NO_PATH);
    CHECK_EQ_INT(match(r, "GET", "", &rt, &req, allow), ROUTER_NO_PATH);
    router_free(r);
}

TEST(router_matches_the_raw_path_and_decodes_params_after)
{
    const struct route *const tables[] = {table};
    struct router *r;
    CHECK_EQ_INT(router_new(&r, tables, 1), DP_OK);
    const struct route *rt;
    struct request req;
    char allow[64];
    /* "%2F" is not a separator: one segment, the id "a/memories/m2". */
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users/a%2Fmemories%2Fm2", &rt, &req, allow), ROUTER_MATCH);
    CHECK(rt == &table[1]);
    CHECK_EQ_STR(req_param(&req, "id"), "a/memories/m2");
    CHECK_EQ_INT(match(r, "GET", "/api/v1/avatars/a%2Fb/memories/%C3%A9%20%00", &rt, &req, allow), ROUTER_MATCH);
    CHECK_EQ_STR(req_param(&req, "id"), "a/b");
    CHECK_EQ_STR(req_param(&req, "mid"), "\xc3\xa9 %00");
    /* Literal segments match as sent. */
    CHECK_EQ_INT(match(r, "GET", "/api/v1/users/%73earch", &rt, &req, allow), ROUTER_MATCH);
    CHECK(rt == &table[1]);
    CHECK_EQ_INT(match(r, "GET", "/api%2Fv1/users/42", &rt, &req, allow), ROUTER_NO_PATH);
    router_free(r);
}

TEST(http_status_mapping)
{
    CHECK_EQ_INT(http_status_for_err(DP_ERR_INVALID), 400);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_BAD_JSON), 400);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_UNAUTHORIZED), 401);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_NOT_FOUND), 404);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_TOO_LARGE), 413);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_RATE_LIMITED), 429);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_NOT_IMPLEMENTED), 501);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_UNAVAILABLE), 503);
    CHECK_EQ_INT(http_status_for_err(DP_ERR_INTERNAL), 500);
}
