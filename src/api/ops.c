/* Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/docs.h"
#include "api/schemas.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "store/blob.h"
#include "store/cache.h"
#include "store/db.h"

static int health(struct request *req, struct response *res)
{
    (void)req;
    static const char body[] = "{\"status\":\"ok\"}";
    res_body(res, 200, "application/json; charset=utf-8", strdup(body), sizeof body - 1);
    return DP_OK;
}

/* Adds {status, backend, latency_ms[, error]} for one dependency; returns 1 when it is up. */
static int check(json_t *checks, const char *name, const char *backend, int err, double t0)
{
    json_t *c = json_pack("{s:s,s:s,s:f}", "status", err ? "down" : "up", "backend", backend ? backend : "none",
                          "latency_ms", (time_mono() - t0) * 1000.0);
    if (err)
        json_object_set_new(c, "error", json_string(dp_strerror(err)));
    json_object_set_new(checks, name, c);
    return !err;
}

static int ready(struct request *req, struct response *res)
{
    struct worker *w = req->worker;
    struct app *app = w->app;
    json_t *checks = json_object();
    int up = 1;

    double t0 = time_mono();
    struct db *db = NULL;
    int err = worker_db(w, &db);
    if (!err)
        err = db_ping(db);
    up &= check(checks, "database", db ? db_backend_name(db) : db_backend_for_url(app->database_url), err, t0);

    t0 = time_mono();
    struct cache *c = NULL;
    err = worker_cache(w, &c);
    if (!err)
        err = cache_ping(c);
    up &= check(checks, "cache", c ? cache_backend(c) : "redis", err, t0);

    t0 = time_mono();
    err = app->blobs ? blob_ping(app->blobs) : DP_ERR_UNAVAILABLE;
    up &= check(checks, "blobs", app->blobs ? blob_store_backend(app->blobs) : "fs", err, t0);

    res_json(res, up ? 200 : 503, json_pack("{s:s,s:o}", "status", up ? "ok" : "unavailable", "checks", checks));
    return DP_OK;
}

static int metrics(struct request *req, struct response *res)
{
    (void)req;
    struct buf b;
    buf_init(&b, 0);
    int err = metrics_render(&b);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    size_t len;
    char *p = buf_steal(&b, &len);
    res_body(res, 200, "text/plain; version=0.0.4; charset=utf-8", p ? p : strdup(""), len);
    return DP_OK;
}

static int openapi(struct request *req, struct response *res)
{
    (void)req;
    struct app *app = app_get();
    char *copy = malloc(app->openapi_len + 1);
    if (!copy)
        return DP_ERR_NOMEM;
    memcpy(copy, app->openapi_json, app->openapi_len + 1);
    res_body(res, 200, "application/json; charset=utf-8", copy, app->openapi_len);
    return DP_OK;
}

#define PUBLIC_INLINE (ROUTE_PUBLIC | ROUTE_INLINE)

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char docs_page_doc[] = J({
    "responses" : {
        "200" : {"description" : "the page", "content" : {"text/html" : {}}},
        "304" : {"description" : "not modified (If-None-Match)"}
    }
});
static const char docs_asset_doc[] = J({
    "parameters" : [ {
        "name" : "file",
        "in" : "path",
        "required" : true,
        "schema" : {"type" : "string", "enum" : [ "docs.js", "docs.css" ]}
    } ],
    "responses" : {
        "200" : {"description" : "the file", "content" : {"text/javascript" : {}, "text/css" : {}}},
        "304" : {"description" : "not modified (If-None-Match)"}
    }
});
static const char health_doc[] = J({"responses" : {"200" : "Health"}});
static const char ready_doc[] = J({
    "responses" : {
        "200" : "Health",
        "503" : {"description" : "a dependency is down", "content" : {"application/json" : {"schema" : "Health"}}}
    }
});
static const char openapi_doc[] = J({
    "responses" : {
        "200" : {
            "description" : "this document",
            "content" : {
                "application/json" :
                    {"schema" : {"type" : "object", "required" : [ "openapi", "info", "paths", "components" ]}}
            }
        }
    }
});

const struct route ops_routes[] = {
    {"GET", "/health", PUBLIC_INLINE, 0, health, "ops", "Liveness: the process answers", health_doc, NULL, NULL},
    {"GET", "/ready", ROUTE_PUBLIC, 0, ready, "ops",
     "Readiness: each dependency's state (database, cache, blobs); 503 when one is down", ready_doc, NULL, NULL},
    {"GET", "/metrics", PUBLIC_INLINE, 0, metrics, "ops", "Prometheus metrics (text format 0.0.4)",
     "{\"responses\":{\"200\":{\"description\":\"Prometheus text\",\"content\":{\"text/plain\":{}}}}}", NULL, NULL},
    {"GET", "/api/v1/openapi.json", PUBLIC_INLINE, 0, openapi, "ops", "This OpenAPI 3.1 document", openapi_doc, NULL,
     NULL},
    {"GET", "/api/docs", PUBLIC_INLINE, 0, docs_page, "ops",
     "This document as a readable page (HTML; its script and style sheet come from the binary, nothing from elsewhere)",
     docs_page_doc, NULL, NULL},
    {"GET", "/api/docs/{file}", PUBLIC_INLINE, 0, docs_asset, "ops", "The docs page's script and style sheet",
     docs_asset_doc, NULL, NULL},
    {0},
};
