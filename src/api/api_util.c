/* Shared helpers of the api/ resource files. */
#include "api/api_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "avatar/avatar.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "store/blob.h"
#include "store/cache.h"
#include "store/cache_gen.h"
#include "store/db.h"

int api_env(struct request *req, struct context *e)
{
    e->ip = req->client_ip;
    e->user_agent = req->user_agent;
    e->blobs = app_get()->blobs;
    e->caller = req->auth;
    if (!req->worker) {
        /* On the loop (ROUTE_TRY_INLINE): only the in-process cache, never the database. */
        e->db = NULL;
        e->cache = app_get()->inline_cache;
        e->security = app_get()->inline_security;
        return e->cache && e->security ? DP_OK : DP_ERR_WOULDBLOCK;
    }
    int err = worker_db(req->worker, &e->db);
    if (!err)
        err = worker_cache(req->worker, &e->cache);
    if (!err)
        err = worker_security(req->worker, &e->security);
    return err;
}

int api_body_str(struct request *req, struct response *res, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(req->json, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return DP_OK;
    if (!json_is_string(v)) {
        res_error(res, req, DP_ERR_INVALID, "%s must be a string", key);
        return DP_ERR_INVALID;
    }
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        res_error(res, req, DP_ERR_INVALID, "%s is too long or holds a NUL byte", key);
        return DP_ERR_INVALID;
    }
    *out = json_string_value(v);
    return DP_OK;
}

int api_rate_limit(struct request *req, struct response *res, struct cache *c, const char *scope, const char *key,
                   double per_second, double burst)
{
    int64_t retry_ms = 0;
    if (ratelimit_take(c, key, per_second, burst, &retry_ms) == DP_OK)
        return DP_OK;
    return api_rate_refuse(req, res, scope, retry_ms);
}

int api_rate_refuse(struct request *req, struct response *res, const char *scope, int64_t retry_ms)
{
    ratelimit_count_refusal(scope);
    char secs[24];
    snprintf(secs, sizeof secs, "%lld",
             (long long)(retry_ms + 999) / 1000 > 0 ? (long long)(retry_ms + 999) / 1000 : 1);
    res_error(res, req, DP_ERR_RATE_LIMITED, "too many requests; retry in %s s", secs);
    res_header(res, "Retry-After", secs);
    return DP_ERR_RATE_LIMITED;
}

int api_page(struct request *req, struct response *res, long *limit, const char **cursor)
{
    if (req_query_long(req, "limit", 50, 1, 200, limit)) {
        res_error(res, req, DP_ERR_INVALID, "limit must be an integer from 1 to 200");
        return DP_ERR_INVALID;
    }
    *cursor = req_query(req, "cursor");
    if (*cursor && (!**cursor || strlen(*cursor) > 64)) {
        res_error(res, req, DP_ERR_INVALID, "cursor is not valid");
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

int api_list_page(struct request *req, struct response *res, struct db *db,
                  int (*list)(struct db *db, const void *arg, const char *after, long limit, json_t **items),
                  const void *arg)
{
    long limit;
    const char *cursor;
    json_t *items;
    int err = api_page(req, res, &limit, &cursor);
    if (err || (err = list(db, arg, cursor, limit, &items)))
        return err;
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

json_t *api_page_json(json_t *items, long limit, const char *id_field)
{
    size_t n = json_array_size(items);
    json_t *next = json_null();
    if ((long)n == limit && n > 0) {
        json_t *last = json_object_get(json_array_get(items, n - 1), id_field);
        if (json_is_string(last))
            next = json_string(json_string_value(last));
    }
    return json_pack("{s:o,s:o}", "items", items, "next_cursor", next);
}

static long blob_source_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    return blob_read_at(ctx, off, buf, n);
}

static void blob_source_close(void *ctx)
{
    blob_reader_close(ctx);
}

int res_blob(struct response *res, struct blob_reader *r, uint64_t off, uint64_t len)
{
    int fd = blob_reader_fd(r);
    if (fd >= 0) {
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (own >= 0) {
            blob_reader_close(r);
            res->fd = own;
            res->fd_off = off;
            res->fd_len = len;
            return DP_OK;
        }
    }
    struct res_source src = {blob_source_read, blob_source_close, r};
    return res_source_set(res, &src, off, len);
}

/* How long a cached answer is kept (--cached-answer-ttl): generations make it exact for writes
 * through any instance; this bounds what a write from outside the servers (the CLI beside a server on
 * the in-process cache) leaves. 0: answers are not cached. */
#define API_CACHED_TTL_MS (app_get()->cfg.cached_answer_ttl)
#define API_CACHED_KEY_MAX 512

int api_cached_read(struct request *req, struct response *res, const char *key, const char *const *scopes, int nscopes,
                    http_handler fill)
{
    static const char ctype[] = "application/json; charset=utf-8";
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    char k[API_CACHED_KEY_MAX];
    const struct caller *c = api_caller(req);
    int cacheable = key && API_CACHED_TTL_MS > 0 && (size_t)snprintf(k, sizeof k, "resp:%s", key) < sizeof k &&
                    !cache_gen_stamp_known(e.cache, c ? &c->gens : NULL, scopes, nscopes, k, sizeof k);
    char *val;
    size_t len;
    struct cache *near = app_get()->near_cache;
    if (cacheable && near && !cache_get(near, k, &val, &len)) {
        res_body(res, 200, ctype, val, len);
        return DP_OK;
    }
    if (cacheable && !cache_get(e.cache, k, &val, &len)) {
        if (near)
            cache_set(near, k, val, len, API_CACHED_TTL_MS);
        res_body(res, 200, ctype, val, len);
        return DP_OK;
    }
    if (!req->worker)
        return DP_ERR_WOULDBLOCK;
    if ((err = fill(req, res)) || !cacheable || res->status != 200)
        return err;
    if (res->json) {
        json_t *j = res->json;
        res->json = NULL;
        char *body = json_dump_compact(j, &len);
        json_decref(j);
        if (!body)
            return DP_ERR_NOMEM;
        res_body(res, 200, ctype, body, len);
    }
    if (res->body && !cache_set(e.cache, k, res->body, res->body_len, API_CACHED_TTL_MS) && near)
        cache_set(near, k, res->body, res->body_len, API_CACHED_TTL_MS);
    return DP_OK;
}

int api_first_page(const struct request *req)
{
    const char *limit = req_query(req, "limit");
    size_t n = limit ? strlen(limit) : 0;
    if (req_query(req, "cursor") || (limit && (n < 1 || n > 3 || strspn(limit, "0123456789") != n)))
        return 0;
    return 1;
}

int api_cached_avatar_read(struct request *req, struct response *res, const char *what, http_handler fill)
{
    const struct caller *c = api_caller(req);
    const char *id = req_param(req, "id"), *limit = req_query(req, "limit"), *q = req_query(req, "q");
    char key[200], avatar[CACHE_GEN_SCOPE_MAX], user[CACHE_GEN_SCOPE_MAX];
    const char *scopes[] = {avatar, user};
    int first = id && id_valid(id) && !(q && *q) && api_first_page(req);
    if (first) {
        avatar_scope(id, avatar);
        accounts_user_scope(c->user_id, user);
        snprintf(key, sizeof key, "%s:%s:%s:%s:%s", what, id, c->user_id, c->org_id, limit ? limit : "");
    }
    return api_cached_read(req, res, first ? key : NULL, scopes, 2, fill);
}

int api_send_range(struct request *req, struct response *res, struct blob_reader *br, uint64_t size)
{
    uint64_t start = 0, len = size;
    int rr = http_range_parse(req->range, size, &start, &len);
    if (rr < 0) {
        blob_reader_close(br);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        res_error_status(res, req, 416, "range_not_satisfiable", "the range is outside the %llu-byte file",
                         (unsigned long long)size);
        res_header(res, "Content-Range", cr);
        return 1;
    }
    res->status = rr ? 206 : 200;
    if (rr) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)start,
                 (unsigned long long)(start + len - 1), (unsigned long long)size);
        res_header(res, "Content-Range", cr);
    }
    return res_blob(res, br, start, len) ? -1 : 0;
}
