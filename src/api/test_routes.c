/* Routes for test suites and benchmarks only (mounted with --test-routes, never by default):
 * a slow handler, a database read, a JSON echo, a path-parameter echo, an SSE stream, a
 * WebSocket echo, and fault injection (core/fault.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "core/err.h"
#include "core/fault.h"
#include "core/procstats.h"
#include "net/sse.h"
#include "store/blob.h"
#include "net/ws.h"
#include "store/db.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts))
        ;
}

/* Occupies a worker for ?ms= (≤ 10 s): proves slow handlers never stall the loop. */
static int t_sleep(struct request *req, struct response *res)
{
    long ms;
    if (req_query_long(req, "ms", 100, 0, 10000, &ms))
        return DP_ERR_INVALID;
    sleep_ms(ms);
    res_json(res, 200, json_pack("{s:I}", "slept_ms", (json_int_t)ms));
    return DP_OK;
}

/* Reads one row through the worker's database connection. */
static int t_row(struct request *req, struct response *res)
{
    struct db *db;
    int err = worker_db(req->worker, &db);
    if (err)
        return err;
    struct db_rows *rows;
    struct db_val p[] = {DB_TEXT("instance")};
    err = db_query(db, "SELECT id, name, created_at FROM instance WHERE id = ?", p, 1, &rows);
    if (err)
        return err;
    if (rows->nrows != 1) {
        db_rows_free(rows);
        return DP_ERR_NOT_FOUND;
    }
    res_json(res, 200,
             json_pack("{s:s,s:s,s:s}", "id", db_rows_text(rows, 0, 0), "name", db_rows_text(rows, 0, 1), "created_at",
                       db_rows_text(rows, 0, 2)));
    db_rows_free(rows);
    return DP_OK;
}

static int t_echo(struct request *req, struct response *res)
{
    res_json(res, 200, json_pack("{s:O}", "echo", req->json));
    return DP_OK;
}

/* Echoes its two path parameters: shows how a path is split and decoded. */
static int t_params(struct request *req, struct response *res)
{
    res_json(res, 200, json_pack("{s:s,s:s}", "a", req_param(req, "a"), "b", req_param(req, "b")));
    return DP_OK;
}

struct sse_args {
    long n, interval_ms;
};

static void t_sse_produce(struct sse *s, void *arg, void *state)
{
    (void)state;
    struct sse_args *a = arg;
    for (long i = 0; i < a->n; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"i\":%ld}", i);
        if (sse_send(s, "delta", data))
            return; /* the client went away */
        if (a->interval_ms)
            sleep_ms(a->interval_ms);
    }
    sse_send(s, "done", "{}");
}

/* Streams ?n= events ?interval_ms= apart as SSE. */
static int t_sse(struct request *req, struct response *res)
{
    long n, interval;
    if (req_query_long(req, "n", 3, 0, 100000, &n) || req_query_long(req, "interval_ms", 0, 0, 10000, &interval))
        return DP_ERR_INVALID;
    struct sse_args *a = malloc(sizeof *a);
    if (!a)
        return DP_ERR_NOMEM;
    a->n = n;
    a->interval_ms = interval;
    int err = sse_respond(req, res, t_sse_produce, a, free);
    if (err)
        free(a);
    return err;
}

/* "work:MS" on the test WebSocket: MS of sleep on a worker (ws_submit), then "done:MS" back. */
static void t_ws_work(void *arg, void *state)
{
    (void)state;
    sleep_ms((long)(intptr_t)arg);
}

static void t_ws_worked(struct ws_conn *c, void *arg, int open)
{
    char reply[32];
    int n = snprintf(reply, sizeof reply, "done:%ld", (long)(intptr_t)arg);
    if (open)
        ws_send_text(c, reply, (size_t)n);
}

static void t_ws_message(struct ws_conn *c, int is_text, const uint8_t *p, size_t n)
{
    if (is_text && n > 5 && n < 12 && !memcmp(p, "work:", 5)) {
        char ms[8] = "";
        memcpy(ms, p + 5, n - 5);
        long v = strtol(ms, NULL, 10);
        if (v >= 0 && v <= 5000 && ws_submit(c, t_ws_work, t_ws_worked, (void *)(intptr_t)v) == DP_OK)
            return;
    }
    if (is_text)
        ws_send_text(c, (const char *)p, n);
    else
        ws_send_binary(c, p, n);
}

static void t_ws_open(struct ws_conn *c)
{
    static const char hello[] = "{\"type\":\"ready\"}";
    ws_send_text(c, hello, sizeof hello - 1);
}

static const struct ws_handler t_ws = {t_ws_open, t_ws_message, NULL, NULL};

/* Streams the body into the blob store: proves uploads never sit whole in memory. */
static int t_upload_begin(struct request *req, struct response *res, void **state)
{
    (void)req;
    (void)res;
    return blob_writer_new(app_get()->blobs, (struct blob_writer **)state);
}

static int t_upload_chunk(struct request *req, void *state, const char *p, size_t n)
{
    (void)req;
    return blob_write(state, p, n);
}

static int t_upload_end(struct request *req, struct response *res, void *state)
{
    (void)req;
    char key[BLOB_KEY_LEN + 1];
    uint64_t size;
    int err = blob_commit(state, key, &size);
    if (err)
        return err;
    res_json(res, 201,
             json_pack("{s:s,s:I,s:I}", "sha256", key, "size", (json_int_t)size, "rss_bytes",
                       (json_int_t)procstats_rss_bytes()));
    return DP_OK;
}

static void t_upload_abort(void *state)
{
    if (state)
        blob_abort(state);
}

static const struct stream_handler t_upload = {t_upload_begin, t_upload_chunk, t_upload_end, t_upload_abort};

/* POST {site: "db"|"blob"|"cache", nth}: arms the site (nth 0 disarms); answers what the previous
 * arming counted: {calls, fired}. */
static int t_fault(struct request *req, struct response *res)
{
    json_t *n = json_object_get(req->json, "nth");
    int site = fault_site_parse(json_string_value(json_object_get(req->json, "site")));
    if (site < 0 || !json_is_integer(n) || json_integer_value(n) < 0) {
        res_error(res, req, DP_ERR_INVALID, "site must be db, blob or cache and nth an integer >= 0");
        return DP_ERR_INVALID;
    }
    int fired;
    long calls = fault_calls((enum fault_site)site, &fired);
    fault_arm((enum fault_site)site, (long)json_integer_value(n));
    res_json(res, 200, json_pack("{s:I,s:b}", "calls", (json_int_t)calls, "fired", fired));
    return DP_OK;
}

#define TEST_FLAGS (ROUTE_PUBLIC | ROUTE_HIDDEN)

const struct route test_routes[] = {
    {"GET", "/api/v1/_test/sleep", TEST_FLAGS, 0, t_sleep, "test", "Sleep on a worker", NULL, NULL, NULL},
    {"GET", "/api/v1/_test/row", TEST_FLAGS, 0, t_row, "test", "Read one database row", NULL, NULL, NULL},
    {"POST", "/api/v1/_test/echo", TEST_FLAGS | ROUTE_JSON, 0, t_echo, "test", "Echo a JSON object", NULL, NULL, NULL},
    {"POST", "/api/v1/_test/fault", TEST_FLAGS | ROUTE_JSON, 0, t_fault, "test", "Fail the nth write at a site", NULL,
     NULL, NULL},
    {"GET", "/api/v1/_test/params/{a}/{b}", TEST_FLAGS | ROUTE_INLINE, 0, t_params, "test", "Echo path parameters",
     NULL, NULL, NULL},
    {"GET", "/api/v1/_test/sse", TEST_FLAGS, 0, t_sse, "test", "Stream SSE events", NULL, NULL, NULL},
    {"POST", "/api/v1/_test/upload", TEST_FLAGS | ROUTE_STREAM, (size_t)4 << 30, NULL, "test",
     "Stream a body into the blob store", NULL, NULL, &t_upload},
    {"GET", "/api/v1/_test/ws", TEST_FLAGS | ROUTE_WEBSOCKET | ROUTE_INLINE, 0, NULL, "test", "WebSocket echo", NULL,
     &t_ws, NULL},
    {0},
};
