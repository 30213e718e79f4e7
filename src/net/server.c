/* HTTP server: libmicrohttpd in external-epoll mode on the libuv loop, requests run on workers.
 *
 * One loop thread owns every libmicrohttpd call. A request that needs a worker is suspended,
 * its handler runs on the pool, the completion comes back through the pool's uv_async and the
 * loop resumes the connection and queues the response. Responses are queued on a later call of
 * the access handler than the first (libmicrohttpd 0.9.75 drops keep-alive otherwise). */
#include "net/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "net/guard.h"
#include "net/proxy.h"
#include "net/server_internal.h"
#include "net/sse.h"
#include "net/ws.h"

#define MAX_REQUEST_HEADERS 64
#define DISCARD_MAX ((uint64_t)16 << 20) /* refused body bytes read before hanging up */

static struct metric *m_requests, *m_duration, *m_in_flight, *m_ws_open, *m_queue_depth, *m_busy, *m_slow, *m_refused,
    *m_sse_waiting;

void server_metrics_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *l3[] = {"method", "route", "status"};
    m_requests =
        metric_new(METRIC_COUNTER, "doppel_http_requests_total", "HTTP requests by route and status", 3, l3, NULL, 0);
    m_duration = metric_new(METRIC_HISTOGRAM, "doppel_http_request_duration_seconds",
                            "HTTP request latency from first byte to response completion", 2, l3, NULL, 0);
    m_in_flight =
        metric_new(METRIC_GAUGE, "doppel_http_requests_in_flight", "requests being processed", 0, NULL, NULL, 0);
    m_ws_open = metric_new(METRIC_GAUGE, "doppel_websockets_open", "open WebSocket connections", 0, NULL, NULL, 0);
    m_queue_depth =
        metric_new(METRIC_GAUGE, "doppel_worker_queue_depth", "tasks waiting for a worker thread", 0, NULL, NULL, 0);
    m_busy = metric_new(METRIC_GAUGE, "doppel_workers_busy", "worker threads running a task", 0, NULL, NULL, 0);
    const char *lr[] = {"reason"};
    m_slow = metric_new(METRIC_COUNTER, "doppel_http_slow_clients_closed_total",
                        "connections closed for sending too slowly (headers past the deadline, body under the rate)", 1,
                        lr, NULL, 0);
    m_sse_waiting = metric_new(METRIC_GAUGE, "doppel_sse_streams_waiting",
                               "SSE streams waiting for a producer slot (--sse-producers)", 0, NULL, NULL, 0);
    m_refused = metric_new(METRIC_COUNTER, "doppel_http_connections_refused_total",
                           "connections closed at accept for being over a cap (--max-conns-per-ip)", 0, NULL, NULL, 0);
}

void server_collect_gauges(void *arg)
{
    struct server *s = arg;
    metric_set(m_queue_depth, NULL, (double)pool_queue_depth(s->pool));
    metric_set(m_busy, NULL, (double)pool_busy(s->pool));
    metric_set(m_in_flight, NULL, (double)s->in_flight);
    metric_set(m_ws_open, NULL, (double)server_ws_count(s));
    metric_set(m_sse_waiting, NULL, (double)(s->sse_slots.waiting + s->slow_slots.waiting));
}

/* ---- slow clients ---- */

/* The header clock of c's TCP connection (NULL when not watched). */
static struct guard_conn *conn_guard(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A TCP connection opens or closes: its header clock starts or is dropped. */
void server_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        guard_conn_close(*socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (s->cfg.header_timeout > 0 && ci)
        *socket_context = guard_conn_open(&s->guard, ci->connect_fd);
}

/* Counts n body bytes of cr; 1 when the client sends slower than --http-min-body-rate. */
static int body_too_slow(struct server *s, struct conn_req *cr, size_t n)
{
    if (!body_meter_add(&cr->meter, n, time_mono(), s->cfg.min_body_rate, (double)s->cfg.body_rate_window))
        return 0;
    DP_LOG(LOG_INFO, "[http] %s %s: body slower than %ld bytes/s: closing", cr->req.method, cr->route_label,
           s->cfg.min_body_rate);
    const char *labels[] = {"body"};
    metric_add(m_slow, labels, 1);
    return 1;
}

/* ---- requests ---- */

static char *dup_header(struct request *req, struct MHD_Connection *c, const char *name)
{
    return arena_strdup(req->arena, MHD_lookup_connection_value(c, MHD_HEADER_KIND, name));
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct request *req = cls;
    if (req->nquery == HTTP_MAX_QUERY) {
        req->nquery++; /* one past the cap marks "too many" */
        return MHD_NO;
    }
    if (req->nquery > HTTP_MAX_QUERY)
        return MHD_NO;
    req->query[req->nquery].name = arena_strdup(req->arena, key);
    req->query[req->nquery].value = arena_strdup(req->arena, value ? value : "");
    req->nquery++;
    return MHD_YES;
}

/* A client's X-Request-Id is kept when short and made of safe characters, else replaced. */
static void set_request_id(struct request *req, const char *incoming)
{
    if (incoming) {
        size_t n = strlen(incoming), i = 0;
        if (n >= 8 && n <= HTTP_REQUEST_ID_MAX) {
            for (; i < n; i++) {
                char c = incoming[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.'))
                    break;
            }
            if (i == n) {
                memcpy(req->request_id, incoming, n + 1);
                return;
            }
        }
    }
    id_new_label(req->request_id); /* labels a request: no need for the kernel's randomness */
}

static void client_ip(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}

static void task_work(struct pool_task *t, void *state);
static void task_done(struct pool_task *t);

/* A request's state, made when its request line arrives; raw_uri (with its query) is kept up to
 * the "?" for the router. NULL when out of memory. */
static struct conn_req *conn_req_new(struct server *s, struct MHD_Connection *c, const char *raw_uri)
{
    struct conn_req *cr = calloc(1, sizeof *cr);
    if (!cr)
        return NULL;
    /* The request's strings (path, headers, query) fit its inline bytes: no malloc for them. */
    arena_init(&cr->arena, cr->arena_first, sizeof cr->arena_first, REQUEST_ARENA_MAX);
    cr->req.arena = &cr->arena;
    cr->path_buf = arena_strndup(&cr->arena, raw_uri, strcspn(raw_uri, "?"));
    if (!cr->path_buf) {
        free(cr);
        return NULL;
    }
    cr->srv = s;
    cr->conn = c;
    cr->res.fd = -1;
    cr->task.work = task_work;
    cr->task.done = task_done;
    return cr;
}

/* libmicrohttpd's first sight of a request: the URI before it percent-decodes it. The router
 * must see it raw (an encoded "/" inside an id is not a path separator). Its result becomes the
 * request's *con_cls, freed by server_on_completed (called for every request this ran for). */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    return conn_req_new(cls, c, uri);
}

static void conn_req_free(struct conn_req *cr)
{
    struct request *q = &cr->req;
    free(cr->chunk);
    buf_cleanup(&q->body);
    json_decref(q->json);
    if (!req_auth_in_arena(q))
        server_release_auth(cr->srv, q->auth);
    if (q->ws_user && q->ws_user_free)
        q->ws_user_free(q->ws_user);
    if (cr->res.sse)
        sse_discard(cr->res.sse);
    res_cleanup(&cr->res);
    arena_cleanup(&cr->arena); /* after the auth release: a caller may live in it */
    free(cr);
}

/* Checks what every handler may assume: a parsed JSON body, an authenticated caller.
 * Returns DP_OK, or an error with the response set. */
static int run_preconditions(struct conn_req *cr)
{
    struct request *req = &cr->req;
    struct response *res = &cr->res;
    const struct route *rt = req->route;
    int err;
    if (rt->flags & ROUTE_JSON) {
        char msg[256];
        err = json_parse_body(req->body.data, req->body.len, req->body.max ? req->body.max : (size_t)-1, &req->json,
                              msg, sizeof msg);
        if (!err && !json_is_object(req->json)) {
            err = DP_ERR_BAD_JSON;
            snprintf(msg, sizeof msg, "the body must be a JSON object");
        }
        if (err) {
            res_error(res, req, err, "%s", msg);
            return err;
        }
    }
    if (!(rt->flags & ROUTE_PUBLIC)) {
        if (!cr->srv->auth_hook) {
            res_error(res, req, DP_ERR_UNAUTHORIZED, "authentication is not available yet");
            return DP_ERR_UNAUTHORIZED;
        }
        err = cr->srv->auth_hook(req, res);
        if (err) {
            if (!res->status)
                res_error(res, req, err, "%s", dp_strerror(err));
            return err;
        }
    }
    return DP_OK;
}

/* Makes sure a failed handler left an error response. */
static void ensure_error_response(struct conn_req *cr, int err)
{
    struct response *res = &cr->res;
    if (err && (!res->status || res->status < 400))
        res_error(res, &cr->req, err, "%s", dp_strerror(err));
    else if (!res->status && !(cr->req.route && (cr->req.route->flags & ROUTE_WEBSOCKET)))
        res_error(res, &cr->req, DP_ERR_INTERNAL, "the handler produced no response"); /* a handshake's is 101 */
}

/* Serialises a JSON response on the worker so that the loop thread only copies bytes. */
static void serialise_response(struct response *res)
{
    if (!res->json)
        return;
    size_t len;
    char *s = json_dump_compact(res->json, &len);
    json_decref(res->json);
    res->json = NULL;
    if (s) {
        res->body = s;
        res->body_len = len;
    } else {
        res->status = 500;
    }
}

/* Runs the route's handler with its preconditions. Any thread. */
static void run_handler(struct conn_req *cr)
{
    struct request *req = &cr->req;
    log_set_request_id(req->request_id);
    if (!run_preconditions(cr) && req->route->handler)
        ensure_error_response(cr, req->route->handler(req, &cr->res));
    serialise_response(&cr->res);
    log_set_request_id(NULL);
}

/* A streamed body: the first chunk authenticates and begins; later ones are written; the end
 * answers. On any failure the stream is aborted and an error response is left in cr->res. */
static void run_stream(struct conn_req *cr)
{
    struct request *req = &cr->req;
    const struct stream_handler *sh = req->route->stream;
    log_set_request_id(req->request_id);
    int err = DP_OK;
    if (cr->task_kind == TASK_STREAM_ABORT)
        goto out_abort; /* refused mid-body: undo before the refusal is sent */
    if (!cr->stream_begun) {
        if ((err = run_preconditions(cr)))
            goto out;
        if ((err = sh->begin(req, &cr->res, &cr->stream_state))) {
            ensure_error_response(cr, err);
            goto out;
        }
        cr->stream_begun = 1;
    }
    if (cr->chunk_len && (err = sh->chunk(req, cr->stream_state, cr->chunk, cr->chunk_len))) {
        res_error(&cr->res, req, err, "the upload could not be stored: %s", dp_strerror(err));
        goto out_abort;
    }
    if (cr->task_kind == TASK_STREAM_END) {
        cr->stream_begun = 0; /* end owns the state now */
        ensure_error_response(cr, sh->end(req, &cr->res, cr->stream_state));
        cr->stream_state = NULL;
    }
    goto out;
out_abort:
    sh->abort(cr->stream_state);
    cr->stream_state = NULL;
    cr->stream_begun = 0;
out:
    cr->chunk_len = 0; /* the buffer is reused for the next chunk */
    serialise_response(&cr->res);
    log_set_request_id(NULL);
}

/* Runs a ROUTE_TRY_INLINE request on the loop; 0 (response reset) when it would block. */
static int run_inline_attempt(struct conn_req *cr)
{
    struct request *req = &cr->req;
    int err = run_preconditions(cr);
    if (!err && req->route->handler)
        err = req->route->handler(req, &cr->res);
    if (err == DP_ERR_WOULDBLOCK) {
        res_cleanup(&cr->res);
        cr->res.fd = -1;
        cr->res.status = 0;
        cr->res.content_type[0] = 0;
        json_decref(req->json);
        req->json = NULL;
        if (!req_auth_in_arena(req))
            server_release_auth(cr->srv, req->auth);
        req->auth = NULL;
        return 0;
    }
    ensure_error_response(cr, err);
    serialise_response(&cr->res);
    return 1;
}

static void task_work(struct pool_task *t, void *state)
{
    struct conn_req *cr = (struct conn_req *)(void *)((char *)t - offsetof(struct conn_req, task));
    cr->req.worker = state;
    if (cr->task_kind == TASK_HANDLER)
        run_handler(cr);
    else
        run_stream(cr);
    cr->req.worker = NULL;
}

static void task_done(struct pool_task *t)
{
    struct conn_req *cr = (struct conn_req *)(void *)((char *)t - offsetof(struct conn_req, task));
    if (cr->task_kind == TASK_STREAM_CHUNK && !cr->res.status) {
        cr->state = ST_BODY; /* chunk written: ready for the next */
        body_meter_pause(&cr->meter, time_mono() - cr->paused_at);
    } else {
        cr->state = ST_READY;
        if (cr->task_kind == TASK_STREAM_CHUNK)
            cr->immediate = 1; /* refused mid-body: discard the rest, answer, close */
    }
    server_resume(cr->srv, cr);
    /* MHD runs once after the whole batch of completions (server_after_tasks). */
}

void server_after_tasks(void *arg)
{
    server_mhd_run(arg);
}

static void fd_release(void *arg)
{
    close((int)(intptr_t)arg);
}

void server_on_upgraded(void *cls, struct MHD_Connection *connection, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct server *s = cls;
    struct conn_req *cr = con_cls;
    guard_upgraded(conn_guard(connection)); /* a WebSocket keeps its own keepalive */
    struct caller *auth = cr->req.auth;
    cr->req.auth = NULL; /* the WebSocket owns the caller's identity now */
    void *user = cr->req.ws_user;
    cr->req.ws_user = NULL; /* and the route's state */
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* The route's state: from its handshake handler (ws_user), else from its on_upgrade. */
    const struct ws_handler *h = cr->req.route ? cr->req.route->ws : NULL;
    if (!user && h && h->on_upgrade && h->on_upgrade(&cr->req, &user)) {
        server_release_auth(s, auth);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    /* The WebSocket keeps a copy of the socket and libmicrohttpd lets its connection go now:
     * an upgraded connection would otherwise hold its whole request pool (32 KiB, zeroed and
     * resident) for as long as the socket stays open. */
    int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || !ws_adopt(s, cr->req.route, fd, extra_in, extra_in_size, fd_release, (void *)(intptr_t)fd, auth, user,
                            cr->peer)) {
        if (fd >= 0)
            close(fd);
        server_release_auth(s, auth);
        if (user && cr->req.ws_user_free)
            cr->req.ws_user_free(user);
    }
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static int is_websocket_request(struct MHD_Connection *c)
{
    const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
    return up && !strcasecmp(up, "websocket");
}
/* A body read from a res_source as libmicrohttpd asks for it: pos counts from the body's start. */
struct source_body {
    struct res_source *src;
    uint64_t off, len;
};

static ssize_t source_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct source_body *b = cls;
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > b->len - pos)
        max = (size_t)(b->len - pos);
    long n = b->src->read_at(b->src->ctx, b->off + pos, buf, max);
    return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void source_free(void *cls)
{
    struct source_body *b = cls;
    res_source_free(b->src);
    free(b);
}

static struct MHD_Response *source_response(struct response *res)
{
    struct source_body *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    *b = (struct source_body){res->source, res->fd_off, res->fd_len};
    struct MHD_Response *r = MHD_create_response_from_callback(res->fd_len, 64 * 1024, source_read, b, source_free);
    if (r)
        res->source = NULL; /* the MHD response owns it now */
    else
        free(b);
    return r;
}

/* Turns cr->res into a libmicrohttpd response and queues it. Loop thread. */
static enum MHD_Result queue_response(struct server *s, struct conn_req *cr)
{
    struct response *res = &cr->res;
    struct request *req = &cr->req;
    struct MHD_Response *r = NULL;
    int status = res->status ? res->status : 500;

    if (res->json) {
        /* Early answers (404, 405, 413 …) are decided on the loop and still hold JSON. */
        size_t len;
        char *body = json_dump_compact(res->json, &len);
        json_decref(res->json);
        res->json = NULL;
        res->body = body;
        res->body_len = body ? len : 0;
    }
    if (status == 101) {
        r = MHD_create_response_for_upgrade(server_on_upgraded, s);
        char accept[29];
        const char *key = MHD_lookup_connection_value(cr->conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
        ws_accept_key(key ? key : "", accept);
        MHD_add_response_header(r, "Upgrade", "websocket");
        MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    } else if (res->sse) {
        r = sse_response(res->sse, cr);
    } else if (res->fd >= 0) {
        r = MHD_create_response_from_fd_at_offset64(res->fd_len, res->fd, res->fd_off);
        res->fd = -1; /* libmicrohttpd closes it */
    } else if (res->source) {
        r = source_response(res);
    } else {
        r = MHD_create_response_from_buffer(res->body_len, res->body ? res->body : (char *)"",
                                            res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        res->body = NULL;
        res->body_len = 0;
    }
    if (!r)
        return MHD_NO;
    if (res->content_type[0])
        MHD_add_response_header(r, "Content-Type", res->content_type);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    server_add_common_headers(s, r, req);
    if (cr->immediate)
        MHD_add_response_header(r, "Connection", "close");
    cr->status_sent = status;
    cr->state = ST_QUEUED;
    enum MHD_Result ret = MHD_queue_response(cr->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    if (res->sse) {
        /* The MHD response holds the stream now; its producer starts once headers are queued. */
        if (ret == MHD_YES)
            sse_start_producer(res->sse);
        res->sse = NULL;
    }
    return ret;
}

/* Sets an error response ready to be queued. */
static void ready_error(struct conn_req *cr, int status, const char *code, const char *msg, const char *allow)
{
    res_error_status(&cr->res, &cr->req, status, code, "%s", msg);
    if (allow)
        res_header(&cr->res, "Allow", allow);
    cr->state = ST_READY;
}

/* First call for a request: copy what handlers need, route it, decide early errors. */
static void request_begin(struct server *s, struct conn_req *cr, const char *url, const char *method)
{
    struct MHD_Connection *c = cr->conn;
    struct request *req = &cr->req;
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    req->method = "OTHER";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i]))
            req->method = methods[i];
    req->server = s;
    req->path = arena_strdup(&cr->arena, url);
    set_request_id(req, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id"));
    char *peer = cr->peer;
    client_ip(c, peer, sizeof cr->peer);
    proxy_client_ip(s->proxies, peer, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For"),
                    req->client_ip, sizeof req->client_ip);
    req->authorization = dup_header(req, c, "Authorization");
    req->content_type = dup_header(req, c, "Content-Type");
    req->accept = dup_header(req, c, "Accept");
    req->origin = dup_header(req, c, "Origin");
    req->range = dup_header(req, c, "Range");
    req->if_none_match = dup_header(req, c, "If-None-Match");
    req->user_agent = dup_header(req, c, "User-Agent");
    req->cookie = dup_header(req, c, "Cookie");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    req->content_length = cl ? strtoull(cl, NULL, 10) : 0;
    res_cleanup(&cr->res);
    cr->res.fd = -1;
    cr->route_label = "unmatched";

    if (MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL) > MAX_REQUEST_HEADERS) {
        cr->immediate = 1;
        ready_error(cr, 431, "too_many_headers", "too many request headers", NULL);
        return;
    }
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, req);
    if (req->nquery > HTTP_MAX_QUERY) {
        ready_error(cr, 400, "invalid_input", "too many query arguments", NULL);
        return;
    }
    if (!strcmp(req->method, "OTHER")) {
        ready_error(cr, 501, "not_implemented", "this HTTP method is not supported", NULL);
        return;
    }
    if (!strcmp(req->method, "OPTIONS")) {
        /* CORS preflight: allowed origins get the methods and headers; others get nothing extra. */
        res_body(&cr->res, 204, "", NULL, 0);
        if (server_origin_allowed(s, req->origin) != CORS_NO) {
            res_header(&cr->res, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
            res_header(&cr->res, "Access-Control-Allow-Headers",
                       "Authorization, Content-Type, X-Request-Id, Range, If-None-Match");
            res_header(&cr->res, "Access-Control-Max-Age", "600");
        }
        cr->res.content_type[0] = 0;
        cr->state = ST_READY;
        return;
    }

    char allow[128];
    const struct route *rt = NULL;
    enum router_result rr = router_match(s->router, req->method, cr->path_buf, &rt, req, allow, sizeof allow);
    if (rr == ROUTER_NO_PATH) {
        if ((req->method[0] == 'G' || req->method[0] == 'H') && !static_path_is_own(s->cfg.own_prefixes, url) &&
            s->cfg.web_dir && static_serve(s->cfg.web_dir, s->cfg.own_prefixes, url, req, &cr->res) == DP_OK) {
            cr->route_label = "static";
            cr->state = ST_READY;
            return;
        }
        ready_error(cr, 404, "not_found", "no such route", NULL);
        return;
    }
    if (rr == ROUTER_NO_METHOD) {
        ready_error(cr, 405, "method_not_allowed", "method not allowed on this route", allow);
        return;
    }
    req->route = rt;
    cr->route_label = rt->path;
    if (rt->flags & ROUTE_NOT_IMPLEMENTED) {
        ready_error(cr, 501, "not_implemented", "this capability is not built yet (see the README status table)", NULL);
        return;
    }
    if (rt->flags & ROUTE_WEBSOCKET) {
        const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
        const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
        if (!is_websocket_request(c)) {
            ready_error(cr, 426, "upgrade_required", "this route speaks WebSocket only", NULL);
            res_header(&cr->res, "Upgrade", "websocket");
            return;
        }
        if (!ver || strcmp(ver, "13") || !key || strlen(key) != 24) {
            ready_error(cr, 400, "invalid_input", "bad WebSocket handshake (version 13 and a 16-byte key)", NULL);
            return;
        }
        /* Upgraded sockets leave libmicrohttpd's count (server_on_upgraded): they are held to
         * --max-connections here. */
        if (server_ws_count(s) >= (int)s->cfg.max_connections) {
            ready_error(cr, 503, "unavailable", "too many open WebSockets (--max-connections)", NULL);
            return;
        }
        if (s->cfg.max_conns_per_ip > 0 && ws_peers_count(cr->peer) >= s->cfg.max_conns_per_ip) {
            ready_error(cr, 503, "unavailable", "too many open WebSockets from this address (--max-conns-per-ip)",
                        NULL);
            return;
        }
    }
    size_t max = rt->body_max ? rt->body_max : (rt->flags & ROUTE_STREAM) ? s->cfg.upload_max : s->cfg.json_body_max;
    buf_init(&req->body, max);
    if (req->content_length > max) {
        cr->immediate = 1; /* don't read a body we will refuse */
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", max);
        ready_error(cr, 413, "too_large", msg, NULL);
        return;
    }
}

static void on_ws_ready(struct conn_req *cr)
{
    /* A WebSocket route's handler (if any) ran as the handshake check; success → 101. */
    if (cr->res.status == 0 || cr->res.status == 200) {
        res_cleanup(&cr->res);
        cr->res.fd = -1;
        cr->res.status = 101;
        cr->res.content_type[0] = 0;
    }
}

enum MHD_Result server_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct conn_req *cr = *con_cls;
    if (!cr && !(cr = *con_cls = conn_req_new(s, c, url)))
        return MHD_NO; /* server_on_uri always runs first; kept as a guard */
    if (!cr->begun) {
        cr->begun = 1;
        cr->start = time_mono();
        guard_headers_done(conn_guard(c));
        body_meter_start(&cr->meter, cr->start);
        s->in_flight++;
        request_begin(s, cr, url, method);
        if (cr->immediate)
            return queue_response(s, cr);
        if (s->stopping && cr->state != ST_READY) {
            ready_error(cr, 503, "unavailable", "the server is shutting down", NULL);
            cr->immediate = 1;
            return queue_response(s, cr);
        }
        return MHD_YES;
    }
    if (*upload_size && cr->state == ST_RUNNING)
        return MHD_YES; /* a chunk is still being written: leave these bytes to libmicrohttpd */
    if (*upload_size && body_too_slow(s, cr, *upload_size))
        return MHD_NO; /* no answer can be queued mid-body: hang up (a begun stream is aborted) */
    if (*upload_size && cr->state == ST_BODY && (cr->req.route->flags & ROUTE_STREAM)) {
        cr->received += *upload_size;
        if (cr->received > cr->req.body.max) {
            char msg[96];
            snprintf(msg, sizeof msg, "the body is larger than %zu bytes", cr->req.body.max);
            ready_error(cr, 413, "too_large", msg, NULL);
            cr->immediate = 1;
            *upload_size = 0;
            return MHD_YES; /* the owed abort runs when the request completes */
        }
        /* Hand a copy to a worker and pause reading until it is written. */
        /* One buffer per request, grown as needed: no allocation per chunk of a long upload. */
        if (*upload_size > cr->chunk_cap) {
            char *nb = realloc(cr->chunk, *upload_size);
            if (!nb)
                return MHD_NO;
            cr->chunk = nb;
            cr->chunk_cap = *upload_size;
        }
        memcpy(cr->chunk, upload_data, *upload_size);
        cr->chunk_len = *upload_size;
        *upload_size = 0;
        cr->task_kind = TASK_STREAM_CHUNK;
        cr->state = ST_RUNNING;
        cr->paused_at = time_mono(); /* the server, not the client, is slow until task_done */
        server_suspend(s, cr);
        pool_submit(s->pool, &cr->task);
        return MHD_YES;
    }
    if (*upload_size) {
        if (cr->state == ST_BODY) {
            int err = buf_append(&cr->req.body, upload_data, *upload_size);
            if (err == DP_ERR_TOO_LARGE) {
                /* libmicrohttpd cannot queue a response mid-body: discard the rest (bounded)
                 * and answer 413 at the end, closing the connection. */
                char msg[96];
                snprintf(msg, sizeof msg, "the body is larger than %zu bytes", cr->req.body.max);
                buf_cleanup(&cr->req.body);
                ready_error(cr, 413, "too_large", msg, NULL);
                cr->immediate = 1;
            } else if (err) {
                return MHD_NO;
            }
        } else if (cr->immediate) {
            cr->discarded += *upload_size;
            if (cr->discarded > DISCARD_MAX)
                return MHD_NO; /* a huge refused body: hang up rather than read it all */
        }
        *upload_size = 0; /* consumed (or discarded for a response already decided) */
        return MHD_YES;
    }
    switch (cr->state) {
    case ST_BODY:
        if (cr->req.route->flags & ROUTE_INLINE) {
            run_handler(cr);
            cr->state = ST_READY;
            break;
        }
        if ((cr->req.route->flags & ROUTE_TRY_INLINE) && s->inline_ok && run_inline_attempt(cr)) {
            cr->state = ST_READY;
            break;
        }
        cr->task_kind = cr->req.route->flags & ROUTE_STREAM ? TASK_STREAM_END : TASK_HANDLER;
        cr->state = ST_RUNNING;
        server_suspend(s, cr);
        pool_submit(server_pool_of(s, server_route_slow(s, cr->req.route)), &cr->task);
        return MHD_YES;
    case ST_RUNNING:
    case ST_QUEUED:
        return MHD_YES;
    default:
        break;
    }
    if (cr->stream_begun) {
        /* A streamed body refused on the loop (over its cap): the stored part goes first, so
         * that nothing is left once the client reads the refusal. */
        cr->task_kind = TASK_STREAM_ABORT;
        cr->state = ST_RUNNING;
        server_suspend(s, cr);
        pool_submit(s->pool, &cr->task);
        return MHD_YES;
    }
    if (cr->req.route && (cr->req.route->flags & ROUTE_WEBSOCKET))
        on_ws_ready(cr);
    return queue_response(s, cr);
}

struct stream_abort {
    struct pool_task task;
    const struct stream_handler *sh;
    void *state;
};

static void stream_abort_work(struct pool_task *t, void *state)
{
    (void)state;
    struct stream_abort *a = (struct stream_abort *)(void *)t;
    a->sh->abort(a->state);
}

static void stream_abort_done(struct pool_task *t)
{
    free(t);
}

void server_on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server *s = cls;
    struct conn_req *cr = *con_cls;
    guard_request_done(conn_guard(c)); /* the next request's headers are due from now */
    if (!cr)
        return;
    *con_cls = NULL;
    if (!cr->begun) {
        /* Ended before its headers were complete (or libmicrohttpd answered it alone). */
        conn_req_free(cr);
        return;
    }
    if (cr->state == ST_RUNNING) {
        /* The worker still holds the task: let task_done free it. Cannot happen while suspended
         * (libmicrohttpd does not complete suspended connections), kept as a guard. */
        DP_LOG(LOG_WARN, "[http] request completed while its handler runs");
        return;
    }
    char status[8];
    snprintf(status, sizeof status, "%d", cr->status_sent ? cr->status_sent : 499);
    const char *labels[] = {cr->req.method, cr->route_label, status};
    metric_add(m_requests, labels, 1);
    metric_observe(m_duration, labels, time_mono() - cr->start);
    s->in_flight--;
    if (cr->stream_begun) {
        /* The client went away (or was refused) mid-upload: undo on a worker. */
        struct stream_abort *a = malloc(sizeof *a);
        if (a) {
            a->sh = cr->req.route->stream;
            a->state = cr->stream_state;
            a->task.work = stream_abort_work;
            a->task.done = stream_abort_done;
            pool_submit(s->pool, &a->task);
        }
    }
    conn_req_free(cr);
}

void server_count_refused(void)
{
    metric_add(m_refused, NULL, 1);
}

struct metric *server_slow_metric(void)
{
    return m_slow;
}
