/* Router: routes split into segments once; a request path is matched segment by segment.
 * The path is the raw one from the request line: literal segments match undecoded, so an
 * encoded "/" (%2F) stays inside its segment and can never make the path another route's. */
#include "net/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

#define ROUTER_MAX_SEGS 12
#define ROUTER_MAX_NAME 32 /* bytes of a param's name ("conversation_id") with its NUL */

struct compiled_route {
    const struct route *route;
    int nsegs;
    const char *segs[ROUTER_MAX_SEGS]; /* literal text, or the param name when is_param */
    size_t seglen[ROUTER_MAX_SEGS];
    unsigned char is_param[ROUTER_MAX_SEGS];
    char names[HTTP_MAX_PARAMS][ROUTER_MAX_NAME]; /* the params' names, NUL-terminated, in order */
};

struct router {
    int n;
    struct compiled_route *routes;
};

static int compile(struct compiled_route *c, const struct route *rt)
{
    c->route = rt;
    c->nsegs = 0;
    int nparams = 0;
    const char *p = rt->path;
    DP_ASSERT(*p == '/');
    while (*p == '/') {
        p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        DP_ASSERT(c->nsegs < ROUTER_MAX_SEGS);
        if (p[0] == '{' && p[len - 1] == '}') {
            DP_ASSERT(len - 2 < ROUTER_MAX_NAME && nparams < HTTP_MAX_PARAMS);
            memcpy(c->names[nparams], p + 1, len - 2);
            c->names[nparams++][len - 2] = 0;
            c->is_param[c->nsegs] = 1;
            c->segs[c->nsegs] = p + 1;
            c->seglen[c->nsegs] = len - 2;
        } else {
            c->is_param[c->nsegs] = 0;
            c->segs[c->nsegs] = p;
            c->seglen[c->nsegs] = len;
        }
        c->nsegs++;
        p += len;
    }
    return DP_OK;
}

int router_new(struct router **out, const struct route *const *tables, int ntables)
{
    int n = 0;
    for (int t = 0; t < ntables; t++)
        for (const struct route *rt = tables[t]; rt->method; rt++)
            n++;
    struct router *r = calloc(1, sizeof *r);
    if (!r)
        return DP_ERR_NOMEM;
    r->routes = calloc((size_t)n, sizeof *r->routes);
    if (!r->routes) {
        free(r);
        return DP_ERR_NOMEM;
    }
    for (int t = 0; t < ntables; t++)
        for (const struct route *rt = tables[t]; rt->method; rt++)
            compile(&r->routes[r->n++], rt);
    *out = r;
    return DP_OK;
}

void router_free(struct router *r)
{
    if (!r)
        return;
    free(r->routes);
    free(r);
}

/* Splits path_buf in place into segments; returns the count or -1 when too many. */
static int split_path(char *path_buf, char **segs, int max)
{
    int n = 0;
    char *p = path_buf;
    while (*p == '/') {
        *p++ = 0;
        if (!*p)
            break;
        if (n == max)
            return -1;
        segs[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return n;
}

enum router_result router_match(const struct router *r, const char *method, char *path_buf, const struct route **route,
                                struct request *req, char *allow, size_t allowlen)
{
    char *segs[ROUTER_MAX_SEGS];
    int nsegs = split_path(path_buf, segs, ROUTER_MAX_SEGS);
    if (nsegs < 0)
        return ROUTER_NO_PATH;
    const char *want = strcmp(method, "HEAD") ? method : "GET";
    int path_found = 0;
    size_t allow_at = 0;
    if (allowlen)
        allow[0] = 0;
    for (int i = 0; i < r->n; i++) {
        const struct compiled_route *c = &r->routes[i];
        if (c->nsegs != nsegs)
            continue;
        int s = 0;
        for (; s < nsegs; s++) {
            if (c->is_param[s]) {
                if (!segs[s][0])
                    break;
                continue;
            }
            if (strlen(segs[s]) != c->seglen[s] || memcmp(segs[s], c->segs[s], c->seglen[s]))
                break;
        }
        if (s < nsegs)
            continue;
        if (strcmp(c->route->method, want)) {
            /* Remember the method for the Allow header of a 405. */
            if (!path_found || !strstr(allow, c->route->method)) {
                size_t ml = strlen(c->route->method);
                if (allow_at + ml + 3 < allowlen) {
                    if (allow_at)
                        memcpy(allow + allow_at, ", ", 2), allow_at += 2;
                    memcpy(allow + allow_at, c->route->method, ml + 1);
                    allow_at += ml;
                }
            }
            path_found = 1;
            continue;
        }
        req->nparams = 0;
        for (s = 0; s < nsegs; s++)
            if (c->is_param[s] && req->nparams < HTTP_MAX_PARAMS) {
                req->params[req->nparams].name = c->names[req->nparams];
                /* Decoded only now that the segments are known: "a%2Fb" is one id, "a/b". */
                http_pct_decode(segs[s]);
                req->params[req->nparams].value = segs[s];
                req->nparams++;
            }
        *route = c->route;
        return ROUTER_MATCH;
    }
    return path_found ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}

void router_each(const struct router *r, void (*fn)(const struct route *rt, void *arg), void *arg)
{
    for (int i = 0; i < r->n; i++)
        fn(r->routes[i].route, arg);
}
