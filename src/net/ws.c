/* WebSocket connections: wslay framing over an adopted socket, driven by a uv_poll_t. */
#include "net/ws.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "core/err.h"
#include "core/pool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sha1.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "net/server_internal.h"

/* How long a slow consumer's close frame may wait for the peer to read before the socket (and
 * its queue) is dropped without it. */
#define WS_SLOW_CLOSE_GRACE_MS 5000

struct ws_conn {
    struct server *srv;
    const struct ws_handler *h;
    wslay_event_context_ptr ctx;
    uv_poll_t poll;
    uv_timer_t ping_timer;
    uv_timer_t user_timer; /* the route's (ws_timer_start) */
    void (*user_timer_cb)(struct ws_conn *c);
    int fd;
    char *extra; /* bytes libmicrohttpd read past the handshake */
    size_t extra_len, extra_off;
    void (*release)(void *arg); /* gives the socket back (closes it) */
    void *release_arg;
    struct caller *auth;       /* the caller's identity (owned: server_release_auth) */
    void *user;                /* the route's per-connection state */
    double last_rx, last_ping; /* time_mono() of the last byte in / ping out */
    int handles_open;
    int torn_down;
    int lingering;  /* our close is sent: draining the peer before closing */
    int slow;       /* closed for not reading: nothing more is queued */
    int close_code; /* ws_close waiting for the queued messages to go first */
    char close_reason[64];
    int refs;                           /* the connection's own + one per task not yet done */
    struct ws_task *tasks, *tasks_tail; /* submitted, waiting for the one in flight */
    int task_running;
    struct ws_conn *next, **pprev;
    char peer[48]; /* the socket's address, counted in ws_peers */
};

/* Work of a connection on a worker (ws_submit). */
struct ws_task {
    struct pool_task t; /* first: the pool hands it back */
    struct ws_conn *c;
    void (*work)(void *arg, void *state);
    void (*done)(struct ws_conn *c, void *arg, int open);
    void *arg;
    struct ws_task *next;
};

void ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    uint8_t digest[20];
    size_t klen = strnlen(key, 64);
    memcpy(buf, key, klen);
    memcpy(buf + klen, guid, sizeof guid - 1);
    sha1(buf, klen + sizeof guid - 1, digest);
    sodium_bin2base64(out, 29, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    if (c->extra_off < c->extra_len) {
        size_t n = c->extra_len - c->extra_off;
        if (n > len)
            n = len;
        memcpy(buf, c->extra + c->extra_off, n);
        c->extra_off += n;
        c->last_rx = time_mono();
        return (ssize_t)n;
    }
    ssize_t r;
    do
        r = recv(c->fd, buf, len, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK ? WSLAY_ERR_WOULDBLOCK
                                                                           : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (r == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    c->last_rx = time_mono();
    return r;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    ssize_t r;
    do
        r = send(c->fd, data, len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK ? WSLAY_ERR_WOULDBLOCK
                                                                           : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    struct ws_conn *c = user;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return; /* ping/pong/close are answered by wslay */
    if (arg->opcode == WSLAY_TEXT_FRAME && !utf8_valid((const char *)arg->msg, arg->msg_length)) {
        wslay_event_queue_close(ctx, 1007, (const uint8_t *)"invalid UTF-8", 13);
        return;
    }
    if (c->h && c->h->on_message && !wslay_event_get_close_sent(ctx))
        c->h->on_message(c, arg->opcode == WSLAY_TEXT_FRAME, arg->msg, arg->msg_length);
}

/* Frees c once nothing refers to it: its handles are closed and no task of it is left. */
static void ws_unref(struct ws_conn *c)
{
    if (--c->refs)
        return;
    wslay_event_context_free(c->ctx);
    free(c->extra);
    server_release_auth(c->srv, c->auth);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ws_conn *c = h->data;
    if (--c->handles_open)
        return;
    c->release(c->release_arg); /* the socket goes back now; the memory when the tasks are done */
    struct server *s = c->srv;
    ws_unref(c);
    server_kick(s);
}

static void ws_task_work(struct pool_task *t, void *state)
{
    struct ws_task *k = (struct ws_task *)t;
    k->work(k->arg, state);
}

static void ws_task_start_next(struct ws_conn *c);

static void ws_task_done(struct pool_task *t)
{
    struct ws_task *k = (struct ws_task *)t;
    struct ws_conn *c = k->c;
    k->done(c, k->arg, !c->torn_down);
    free(k);
    c->task_running = 0;
    ws_task_start_next(c);
    ws_unref(c);
}

static void ws_task_start_next(struct ws_conn *c)
{
    struct ws_task *k = c->tasks;
    if (c->task_running || !k)
        return;
    c->tasks = k->next;
    if (!c->tasks)
        c->tasks_tail = NULL;
    c->task_running = 1;
    pool_submit(server_pool(c->srv), &k->t);
}

int ws_submit(struct ws_conn *c, void (*work)(void *arg, void *state),
              void (*done)(struct ws_conn *c, void *arg, int open), void *arg)
{
    struct ws_task *k = calloc(1, sizeof *k);
    if (!k)
        return DP_ERR_NOMEM;
    k->t.work = ws_task_work;
    k->t.done = ws_task_done;
    k->c = c;
    k->work = work;
    k->done = done;
    k->arg = arg;
    c->refs++;
    if (c->tasks_tail)
        c->tasks_tail->next = k;
    else
        c->tasks = k;
    c->tasks_tail = k;
    ws_task_start_next(c);
    return DP_OK;
}

/* Ends the connection: tells the route, stops watching, gives the socket back. */
static void ws_teardown(struct ws_conn *c)
{
    if (c->torn_down)
        return;
    c->torn_down = 1;
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    server_ws_counted(c->srv, -1);
    ws_peers_del(c->peer);
    if (c->h && c->h->on_close)
        c->h->on_close(c);
    uv_poll_stop(&c->poll);
    uv_timer_stop(&c->ping_timer);
    uv_timer_stop(&c->user_timer);
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
    uv_close((uv_handle_t *)&c->ping_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->user_timer, on_handle_closed);
}

static void on_poll(uv_poll_t *p, int status, int events);

static void on_linger_timeout(uv_timer_t *t)
{
    ws_teardown(t->data);
}

/* Reads and drops whatever the peer still sends; ends at its EOF (or the linger timeout). */
static void drain(struct ws_conn *c)
{
    char scratch[4096];
    for (;;) {
        ssize_t r = recv(c->fd, scratch, sizeof scratch, 0);
        if (r > 0)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r < 0 && errno == EINTR)
            continue;
        ws_teardown(c);
        return;
    }
}

/* After our close frame: stop sending (FIN), keep reading for up to a second, then close. A
 * socket closed with unread input answers with a reset, and the peer would see 1006. */
static void linger(struct ws_conn *c)
{
    c->lingering = 1;
    shutdown(c->fd, SHUT_WR);
    uv_timer_stop(&c->ping_timer);
    uv_timer_start(&c->ping_timer, on_linger_timeout, 1000, 0);
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
    drain(c);
}

/* Re-arms the poll for what wslay wants next, or tears down when it wants nothing. */
static void ws_update(struct ws_conn *c)
{
    if (c->torn_down)
        return;
    if (c->lingering)
        return;
    if (c->close_code && !wslay_event_get_queued_msg_count(c->ctx)) {
        wslay_event_queue_close(c->ctx, (uint16_t)c->close_code, (const uint8_t *)c->close_reason,
                                strlen(c->close_reason));
        c->close_code = 0;
    }
    int want_r = wslay_event_want_read(c->ctx), want_w = wslay_event_want_write(c->ctx);
    if (!want_r && !want_w) {
        /* Our close went out but the peer's has not come: it may still be sending. */
        if (wslay_event_get_close_sent(c->ctx) && !wslay_event_get_close_received(c->ctx))
            linger(c);
        else
            ws_teardown(c);
        return;
    }
    uv_poll_start(&c->poll, (want_r ? UV_READABLE : 0) | (want_w ? UV_WRITABLE : 0), on_poll);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct ws_conn *c = p->data;
    if (status < 0) {
        ws_teardown(c);
        return;
    }
    if (c->lingering) {
        drain(c);
        return;
    }
    if ((events & UV_READABLE) && wslay_event_recv(c->ctx) != 0) {
        /* A protocol error may have queued a close frame (e.g. 1009 too big): send it, then
         * linger so the peer reads it rather than a reset for its unread frames. */
        if (wslay_event_want_write(c->ctx))
            wslay_event_send(c->ctx);
        if (wslay_event_get_close_sent(c->ctx))
            linger(c);
        else
            ws_teardown(c);
        return;
    }
    if (c->torn_down)
        return;
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
        ws_teardown(c);
        return;
    }
    ws_update(c);
}

static void on_ping_timer(uv_timer_t *t)
{
    struct ws_conn *c = t->data;
    double now = time_mono();
    if (c->last_ping > 0 && c->last_rx < c->last_ping) {
        DP_LOG(LOG_INFO, "[ws] no pong within the keepalive interval: closing");
        ws_teardown(c);
        return;
    }
    struct wslay_event_msg m = {WSLAY_PING, (const uint8_t *)"", 0};
    wslay_event_queue_msg(c->ctx, &m);
    c->last_ping = now;
    if (wslay_event_send(c->ctx) != 0) {
        ws_teardown(c);
        return;
    }
    ws_update(c);
}

struct ws_conn *ws_adopt(struct server *s, const struct route *rt, int fd, const char *extra, size_t extra_len,
                         void (*release)(void *arg), void *release_arg, struct caller *auth, void *user,
                         const char *peer)
{
    const struct server_config *cfg = server_config(s);
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    static const struct wslay_event_callbacks cbs = {on_recv, on_send, NULL, NULL, NULL, NULL, on_msg};
    if (wslay_event_context_server_init(&c->ctx, &cbs, c)) {
        free(c);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, cfg->ws_message_max);
    if (extra_len) {
        c->extra = malloc(extra_len);
        if (!c->extra) {
            wslay_event_context_free(c->ctx);
            free(c);
            return NULL;
        }
        memcpy(c->extra, extra, extra_len);
        c->extra_len = extra_len;
    }
    c->srv = s;
    c->h = rt ? rt->ws : NULL;
    c->fd = fd;
    c->release = release;
    c->release_arg = release_arg;
    c->auth = auth;
    c->user = user;
    c->last_rx = time_mono();
    uv_poll_init_socket(server_loop(s), &c->poll, fd);
    uv_timer_init(server_loop(s), &c->ping_timer);
    uv_timer_init(server_loop(s), &c->user_timer);
    c->poll.data = c->ping_timer.data = c->user_timer.data = c;
    c->handles_open = 3;
    c->user = user;
    c->refs = 1;
    struct ws_conn **head = server_ws_list(s);
    c->next = *head;
    if (*head)
        (*head)->pprev = &c->next;
    c->pprev = head;
    *head = c;
    server_ws_counted(s, 1);
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
    ws_peers_add(c->peer);
    uint64_t ping_ms = (uint64_t)cfg->ws_ping_interval * 1000;
    uv_timer_start(&c->ping_timer, on_ping_timer, ping_ms, ping_ms);
    if (c->h && c->h->on_open)
        c->h->on_open(c);
    /* Bytes that came with the handshake are parsed now; the poll handles the rest. */
    if (c->extra_len && !c->torn_down && wslay_event_recv(c->ctx) != 0)
        ws_teardown(c);
    ws_update(c);
    return c;
}

static struct metric *m_slow;

/* 1 when queueing n more bytes would take c's unsent output over --ws-send-queue-max. One message
 * is always let through an empty queue, so a single large message is never a slow consumer. */
static int over_send_cap(const struct ws_conn *c, size_t n)
{
    size_t cap = server_config(c->srv)->ws_send_queue_max;
    size_t queued = wslay_event_get_queued_msg_length(c->ctx);
    return cap && queued && queued + n > cap;
}

/* A peer that does not read what it is sent: close with 1008 rather than let its queue grow.
 * The close frame goes out once the peer reads what is already on the wire; a peer that never
 * does is dropped after a grace period, which frees the queue with the connection. */
static void close_slow_consumer(struct ws_conn *c)
{
    if (!m_slow)
        m_slow = metric_new(METRIC_COUNTER, "doppel_ws_slow_consumers_total",
                            "WebSockets closed because the client did not read its messages", 0, NULL, NULL, 0);
    metric_add(m_slow, NULL, 1);
    DP_LOG(LOG_INFO, "[ws] send queue over %zu bytes: closing a slow consumer",
           server_config(c->srv)->ws_send_queue_max);
    c->slow = 1;
    wslay_event_queue_close(c->ctx, 1008, (const uint8_t *)"slow consumer", 13);
    uv_timer_stop(&c->ping_timer);
    uv_timer_start(&c->ping_timer, on_linger_timeout, WS_SLOW_CLOSE_GRACE_MS, 0);
    ws_update(c);
}

static int ws_queue(struct ws_conn *c, uint8_t opcode, const void *p, size_t n)
{
    if (c->torn_down || c->slow || c->close_code || wslay_event_get_close_sent(c->ctx))
        return DP_ERR_CANCELLED;
    if (over_send_cap(c, n)) {
        close_slow_consumer(c);
        return DP_ERR_CANCELLED;
    }
    struct wslay_event_msg m = {opcode, p, n};
    if (wslay_event_queue_msg(c->ctx, &m))
        return DP_ERR_NOMEM;
    ws_update(c);
    return DP_OK;
}

int ws_send_text(struct ws_conn *c, const char *p, size_t n)
{
    return ws_queue(c, WSLAY_TEXT_FRAME, p, n);
}

int ws_send_binary(struct ws_conn *c, const void *p, size_t n)
{
    return ws_queue(c, WSLAY_BINARY_FRAME, p, n);
}

void ws_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    if (c->torn_down || wslay_event_get_close_sent(c->ctx) || c->close_code)
        return;
    /* wslay sends a control frame before queued messages, and nothing after a close: the close
     * waits until what was queued before it has gone (ws_update queues it). */
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    ws_update(c);
}

void *ws_user(const struct ws_conn *c)
{
    return c->user;
}

void ws_set_user(struct ws_conn *c, void *user)
{
    c->user = user;
}

struct caller *ws_auth(const struct ws_conn *c)
{
    return c->auth;
}

static void on_user_timer(uv_timer_t *t)
{
    struct ws_conn *c = t->data;
    if (!c->torn_down && c->user_timer_cb)
        c->user_timer_cb(c);
}

void ws_timer_start(struct ws_conn *c, uint64_t ms, void (*cb)(struct ws_conn *c))
{
    if (c->torn_down)
        return;
    c->user_timer_cb = cb;
    uv_timer_start(&c->user_timer, on_user_timer, ms, 0);
}

void ws_timer_stop(struct ws_conn *c)
{
    if (!c->torn_down)
        uv_timer_stop(&c->user_timer);
}

void ws_close_all(struct server *s, unsigned short code)
{
    struct ws_conn *next;
    for (struct ws_conn *c = *server_ws_list(s); c; c = next) {
        next = c->next; /* ws_close may tear c down and unlink it */
        ws_close(c, code, "server shutting down");
    }
}
