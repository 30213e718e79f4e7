/* The server's life: made, started on its address, asked about, stopped gracefully, freed. */
#include "net/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "net/guard.h"
#include "net/http.h"
#include "net/proxy.h"
#include "net/server_internal.h"
#include "net/sse.h"
#include "net/ws.h"

/* libmicrohttpd zeroes a connection's pool between requests: bigger costs every request. */
#define HEADER_MEMORY_LIMIT (32 * 1024)

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return DP_ERR_INVALID;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return DP_ERR_INVALID;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!*host || !strcmp(host, "0.0.0.0"))
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (!strcmp(host, "localhost"))
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return DP_ERR_INVALID;
    return DP_OK;
}

/* --sse-producers, or half the workers (at least one: with a single worker no reserve is possible). */
static void sse_slots_init(struct sse_slots *sl, const struct server_config *cfg, struct pool *pool)
{
    int workers = pool ? pool_size(pool) : 1;
    sl->max = cfg->sse_producers > 0 ? (int)cfg->sse_producers : workers / 2;
    if (sl->max < 1)
        sl->max = 1;
    sl->running = 0;
    sl->waiting = 0;
    sl->wait_head = NULL;
    sl->wait_tail = &sl->wait_head;
}

/* After the turn's I/O callbacks: the WebSocket frames they queued go out, one write a connection. */
static void on_flush_check(uv_check_t *h)
{
    struct server *s = h->data;
    if (s->ws_dirty)
        ws_flush_dirty(s);
    uv_idle_stop(&s->ws_flush_idle);
}

int server_new(struct server **out, uv_loop_t *loop, const struct server_config *cfg, struct router *router,
               struct pool *pool)
{
    server_metrics_init();
    struct proxy_list *proxies;
    char msg[160];
    int err = proxy_list_parse(cfg->trusted_proxies, &proxies, msg, sizeof msg);
    if (err) {
        DP_LOG(LOG_ERROR, "[http] --trusted-proxies: %s", msg);
        return err;
    }
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        proxy_list_free(proxies);
        return DP_ERR_NOMEM;
    }
    s->proxies = proxies;
    s->loop = loop;
    s->cfg = *cfg;
    if (cfg->header_timeout > 1)
        snprintf(s->keep_alive, sizeof s->keep_alive, "timeout=%ld", cfg->header_timeout - 1);
    s->router = router;
    s->pool = pool;
    if (pool)
        pool_on_drained(pool, server_after_tasks, s);
    s->posted_tail = &s->posted_head;
    pthread_mutex_init(&s->post_lock, NULL);
    uv_async_init(loop, &s->post_async, server_on_posted);
    s->post_async.data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(loop, &s->stop_timer);
    s->stop_timer.data = s;
    uv_check_init(loop, &s->ws_flush_check);
    uv_idle_init(loop, &s->ws_flush_idle);
    s->ws_flush_check.data = s->ws_flush_idle.data = s;
    uv_check_start(&s->ws_flush_check, on_flush_check);
    uv_unref((uv_handle_t *)&s->ws_flush_check);
    uv_unref((uv_handle_t *)&s->ws_flush_idle);
    guard_init(&s->guard, loop, (double)cfg->header_timeout, server_slow_metric());
    sse_slots_init(&s->sse_slots, cfg, pool);
    sse_slots_init(&s->slow_slots, cfg, NULL);
    metrics_on_collect(server_collect_gauges, s);
    *out = s;
    return DP_OK;
}

/* Percent-decoding of the path handed to server_on_request (static files, logs) and of query arguments.
 * Routing never sees it: the router matches the raw path (see server_on_uri). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return http_pct_decode(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    /* libmicrohttpd says nothing else when it closes a connection over a cap at accept (the
     * per-address one, mostly: at --max-connections it stops accepting instead). */
    if (strstr(msg, "reached connection limit"))
        server_count_refused();
    DP_LOG(LOG_DEBUG, "[mhd] %s", msg);
}

/* The per-address connection cap libmicrohttpd enforces (0 = none). However high it is set, a
 * quarter of --max-connections stays for other addresses: one address never takes every slot. */
static unsigned per_ip_cap(const struct server_config *cfg)
{
    if (cfg->max_conns_per_ip <= 0)
        return 0;
    long reserve = cfg->max_connections / 4 > 1 ? cfg->max_connections / 4 : 1;
    long cap = cfg->max_conns_per_ip;
    if (cap > cfg->max_connections - reserve) {
        cap = cfg->max_connections - reserve;
        DP_LOG(LOG_WARN, "[http] --max-conns-per-ip %ld leaves no reserve of --max-connections %ld: using %ld",
               cfg->max_conns_per_ip, cfg->max_connections, cap);
    }
    return cap > 0 ? (unsigned)cap : 1u;
}

int server_start(struct server *s)
{
    struct sockaddr_in sa;
    if (parse_listen(s->cfg.listen, &sa)) {
        DP_LOG(LOG_ERROR, "[http] bad listen address \"%s\" (expected host:port)", s->cfg.listen);
        return DP_ERR_INVALID;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    s->mhd = MHD_start_daemon(
        flags, ntohs(sa.sin_port), NULL, NULL, server_on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, server_on_connection, s,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_cap(&s->cfg), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY_LIMIT, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, server_on_uri, s, MHD_OPTION_END);
    if (!s->mhd) {
        DP_LOG(LOG_ERROR, "[http] cannot listen on %s (address in use or not permitted)", s->cfg.listen);
        return DP_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = pi ? pi->port : ntohs(sa.sin_port);
    uv_poll_init(s->loop, &s->poll, di->epoll_fd);
    s->poll_inited = 1;
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, server_on_mhd_poll);
    server_mhd_run(s);
    return DP_OK;
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_set_auth_hook(struct server *s, server_auth_hook hook, server_auth_release release)
{
    s->auth_hook = hook;
    s->auth_release = release;
}

void server_release_auth(struct server *s, struct caller *c)
{
    if (c && s->auth_release)
        s->auth_release(c);
}

void server_allow_inline(struct server *s, int yes)
{
    s->inline_ok = yes;
}

uv_loop_t *server_loop(struct server *s)
{
    return s->loop;
}

struct pool *server_pool(struct server *s)
{
    return s->pool;
}

const struct server_config *server_config(const struct server *s)
{
    return &s->cfg;
}

int server_ws_count(struct server *s)
{
    return atomic_load(&s->ws_open);
}

void server_ws_counted(struct server *s, int delta)
{
    atomic_fetch_add(&s->ws_open, delta);
}

struct ws_conn **server_ws_list(struct server *s)
{
    return &s->ws_list;
}

static void on_flush_idle(uv_idle_t *h)
{
    (void)h; /* only there to keep the poll from blocking until the check has run */
}

struct ws_conn **server_ws_dirty(struct server *s)
{
    if (!s->ws_dirty)
        uv_idle_start(&s->ws_flush_idle, on_flush_idle);
    return &s->ws_dirty;
}

struct sse **server_sse_list(struct server *s)
{
    return &s->sse_list;
}

void server_set_slow_pool(struct server *s, struct pool *slow)
{
    s->slow_pool = slow;
    if (slow)
        pool_on_drained(slow, server_after_tasks, s);
    /* Every thread of the provider pool may stream: waiting on a provider is what it is for. */
    s->slow_slots.max = slow ? pool_size(slow) : 1;
}

int server_route_slow(const struct server *s, const struct route *rt)
{
    return s->slow_pool && rt && (rt->flags & ROUTE_SLOW);
}

struct pool *server_pool_of(struct server *s, int slow)
{
    return slow && s->slow_pool ? s->slow_pool : s->pool;
}

struct sse_slots *server_sse_slots_of(struct server *s, int slow)
{
    return slow && s->slow_pool ? &s->slow_slots : &s->sse_slots;
}

static void finish_stop(struct server *s)
{
    uv_timer_stop(&s->stop_timer);
    /* libmicrohttpd must not be stopped with suspended connections: resume them first. */
    while (s->suspended)
        server_resume(s, s->suspended);
    MHD_run(s->mhd);
    uv_poll_stop(&s->poll);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    uv_timer_stop(&s->timer);
    DP_LOG(LOG_INFO, "[http] stopped");
    if (s->stop_done)
        s->stop_done(s->stop_arg);
}

static void on_stop_tick(uv_timer_t *t)
{
    struct server *s = t->data;
    int busy = s->in_flight;
    if ((busy <= 0 && server_ws_count(s) == 0) || time_mono() >= s->stop_deadline) {
        if (busy > 0 || server_ws_count(s))
            DP_LOG(LOG_WARN, "[http] shutdown deadline: %d requests and %d websockets still open", busy,
                   server_ws_count(s));
        finish_stop(s);
    }
}

void server_shutdown(struct server *s, void (*done)(void *), void *arg)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->stop_done = done;
    s->stop_arg = arg;
    s->stop_deadline = time_mono() + (double)s->cfg.shutdown_timeout;
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    DP_LOG(LOG_INFO, "[http] shutting down: %d requests in flight, %d websockets", s->in_flight, server_ws_count(s));
    ws_close_all(s, 1001);
    sse_cancel_all(s);
    server_mhd_run(s);
    uv_timer_start(&s->stop_timer, on_stop_tick, 0, 50);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct server *s = h->data;
    if (--s->handles_open == 0) {
        pthread_mutex_destroy(&s->post_lock);
        free(s);
    }
}

void server_free(struct server *s)
{
    if (!s)
        return;
    metrics_off_collect(server_collect_gauges, s); /* a later scrape must not reach a freed server */
    proxy_list_free(s->proxies);
    s->proxies = NULL;
    if (s->mhd) {
        while (s->suspended)
            server_resume(s, s->suspended);
        uv_poll_stop(&s->poll);
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    server_on_posted(&s->post_async);
    ws_flush_dirty(s);
    s->handles_open = 6;
    s->guard.timer.data = s; /* on_handle_closed counts it with the others */
    uv_close((uv_handle_t *)&s->guard.timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->post_async, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->stop_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->ws_flush_check, on_handle_closed);
    uv_close((uv_handle_t *)&s->ws_flush_idle, on_handle_closed);
    if (s->poll_inited) {
        s->handles_open++;
        uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    }
}
