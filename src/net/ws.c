/* WebSocket connections: RFC 6455 framing (net/ws_frame) over an adopted socket, driven by a
 * uv_poll_t. An idle connection holds only this struct and its handles: bytes are kept only while
 * a frame is incomplete (the reader) or the kernel would not take them (the output queue). */
#include "net/ws.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/err.h"
#include "core/pool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sha1.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "net/server_internal.h"
#include "net/ws_frame.h"

/* How long a slow consumer's close frame may wait for the peer to read before the socket (and
 * its queue) is dropped without it. */
#define WS_SLOW_CLOSE_GRACE_MS 5000
/* Bytes read from a socket at a time, into one buffer of the loop thread. */
#define WS_READ_CHUNK (64 * 1024)

struct ws_conn {
    struct server *srv;
    const struct ws_handler *h;
    struct ws_reader in;
    uint8_t *out; /* frames the kernel has not taken yet: out[out_off..out_len) (NULL when none) */
    size_t out_len, out_off, out_cap;
    size_t out_frame; /* where the frame holding out_off starts (a slow consumer keeps only it) */
    uv_poll_t poll;
    uv_timer_t ping_timer;
    uv_timer_t user_timer; /* the route's (ws_timer_start) */
    void (*user_timer_cb)(struct ws_conn *c);
    int fd;
    int poll_events;            /* what the poll watches now */
    void (*release)(void *arg); /* gives the socket back (closes it) */
    void *release_arg;
    struct caller *auth;       /* the caller's identity (owned: server_release_auth) */
    void *user;                /* the route's per-connection state */
    double last_rx, last_ping; /* time_mono() of the last byte in / ping out */
    unsigned handles_open : 2;
    unsigned torn_down : 1;
    unsigned lingering : 1;      /* our close is sent: draining the peer before closing */
    unsigned slow : 1;           /* closed for not reading: nothing more is queued */
    unsigned close_sent : 1;     /* our close frame is queued: nothing goes after it */
    unsigned close_received : 1; /* the peer's close came */
    unsigned reading_done : 1;   /* nothing more is read: the peer closed or broke the protocol */
    unsigned broken : 1;         /* a send failed: the socket is gone */
    unsigned dirty : 1;          /* on the server's dirty list: queued frames go out this turn */
    struct ws_conn *dirty_next;
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
    int how; /* WS_TASK_* */
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

/* Appends bytes to the output queue. Nonzero when out of memory. */
static int out_append(struct ws_conn *c, const void *p, size_t n)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_len = c->out_off = c->out_frame = 0;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        uint8_t *b = realloc(c->out, cap);
        if (!b)
            return 1;
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t r;
    do
        r = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Writes the queue to the socket as far as the kernel takes it; the queue's memory goes once it
 * is empty. */
static void out_flush(struct ws_conn *c)
{
    while (c->out_off < c->out_len && !c->broken) {
        struct iovec iov = {c->out + c->out_off, c->out_len - c->out_off};
        ssize_t r = send_iov(c->fd, &iov, 1);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->broken = 1;
            break;
        }
        c->out_off += (size_t)r;
    }
    /* Keep out_frame at the start of the frame holding out_off. */
    for (size_t end; c->out_frame < c->out_off &&
                     (end = ws_frame_size(c->out + c->out_frame, c->out_len - c->out_frame)) &&
                     c->out_frame + end <= c->out_off;)
        c->out_frame += end;
    if (c->out_off == c->out_len || c->broken) {
        free(c->out);
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = c->out_frame = 0;
    }
}

/* Sends one frame: straight to the socket when nothing waits before it, else (and whatever the
 * kernel does not take) after the queue. Never tears the connection down (the caller may be the
 * route, inside its own code): a failed send marks it broken for the poll to end it. */
static int write_frame(struct ws_conn *c, int opcode, const void *p, size_t n)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_header(hdr, opcode, n);
    if (c->broken)
        return DP_OK;
    if (c->out_off == c->out_len) {
        struct iovec iov[2] = {{hdr, hl}, {(void *)p, n}};
        ssize_t r = send_iov(c->fd, iov, n ? 2 : 1);
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->broken = 1;
            return DP_OK;
        }
        size_t sent = r < 0 ? 0 : (size_t)r;
        if (sent == hl + n)
            return DP_OK;
        /* The rest waits in the queue; the part already sent counts as sent from it. */
        if (out_append(c, hdr, hl) || out_append(c, p, n))
            return DP_ERR_NOMEM;
        c->out_off = sent;
        c->out_frame = 0;
        return DP_OK;
    }
    if (out_append(c, hdr, hl) || out_append(c, p, n))
        return DP_ERR_NOMEM;
    return DP_OK;
}

/* Queues our close frame (code, reason): nothing is sent after it. */
static void send_close(struct ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
    if (c->close_sent)
        return;
    uint8_t b[WS_CONTROL_MAX];
    size_t n = 0;
    if (code) {
        if (reason_len > WS_CONTROL_MAX - 2)
            reason_len = WS_CONTROL_MAX - 2;
        b[0] = (uint8_t)(code >> 8);
        b[1] = (uint8_t)code;
        memcpy(b + 2, reason, reason_len);
        n = 2 + reason_len;
    }
    c->close_sent = 1;
    write_frame(c, WS_OP_CLOSE, b, n);
}

/* A whole message or control frame from the peer (ws_reader_cb). Nonzero stops reading. */
static int on_frame(void *arg, int opcode, uint8_t *p, size_t n)
{
    struct ws_conn *c = arg;
    switch (opcode) {
    case WS_OP_PING:
        if (!c->close_sent)
            write_frame(c, WS_OP_PONG, p, n);
        return 0;
    case WS_OP_PONG:
        return 0;
    case WS_OP_CLOSE:
        /* Answer with the peer's code (none when it gave none), then read no more. */
        c->close_received = c->reading_done = 1;
        send_close(c, n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0, "", 0);
        return 1;
    default:
        if (opcode == WS_OP_TEXT && !utf8_valid((const char *)p, n)) {
            send_close(c, 1007, "invalid UTF-8", 13);
            c->reading_done = 1; /* nothing more is read from a peer that broke the protocol */
            return 1;
        }
        if (c->h && c->h->on_message && !c->close_sent)
            c->h->on_message(c, opcode == WS_OP_TEXT, p, n);
        return c->torn_down;
    }
}

/* Reads p[0..n) into the reader; a protocol error is answered with its close code. */
static void take_bytes(struct ws_conn *c, uint8_t *p, size_t n)
{
    c->last_rx = time_mono();
    int rc = ws_reader_feed(&c->in, p, n, on_frame, c);
    if (rc > 0) {
        static const char *const why[] = {"protocol error", "invalid UTF-8", "message too big", "internal error"};
        const char *w = why[rc == 1007 ? 1 : rc == 1009 ? 2 : rc == 1011 ? 3 : 0];
        send_close(c, (uint16_t)rc, w, strlen(w));
        c->reading_done = 1;
    }
    if (c->reading_done)
        ws_reader_clear(&c->in);
}

/* Frees c once nothing refers to it: its handles are closed and no task of it is left. */
static void ws_unref(struct ws_conn *c)
{
    if (--c->refs)
        return;
    ws_reader_clear(&c->in);
    free(c->out);
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
    int ordered = k->how != WS_TASK_BESIDE;
    k->done(c, k->arg, !c->torn_down);
    free(k);
    if (ordered) {
        c->task_running = 0;
        ws_task_start_next(c);
    }
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
    pool_submit(server_pool_of(c->srv, k->how == WS_TASK_SLOW), &k->t);
}

int ws_submit_how(struct ws_conn *c, int how, void (*work)(void *arg, void *state),
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
    k->how = how;
    c->refs++;
    if (how == WS_TASK_BESIDE) {
        pool_submit(server_pool(c->srv), &k->t);
        return DP_OK;
    }
    if (c->tasks_tail)
        c->tasks_tail->next = k;
    else
        c->tasks = k;
    c->tasks_tail = k;
    ws_task_start_next(c);
    return DP_OK;
}

int ws_submit(struct ws_conn *c, void (*work)(void *arg, void *state),
              void (*done)(struct ws_conn *c, void *arg, int open), void *arg)
{
    return ws_submit_how(c, WS_TASK_ORDERED, work, done, arg);
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
    c->poll_events = UV_READABLE;
    drain(c);
}

/* Nothing more to read (the peer's close came, or it broke the protocol) and nothing to send. */
static int waits_for_nothing(const struct ws_conn *c)
{
    return c->reading_done && c->out_off == c->out_len;
}

/* Watches the socket for what the connection waits for. A connection that is over (broken, or
 * waiting for nothing) is watched for writable, which fires at once: on_poll ends it. Safe from
 * the route's own calls (ws_send, ws_close), which must not tear the connection down. */
static void ws_rearm(struct ws_conn *c)
{
    if (c->torn_down || c->lingering)
        return;
    int ev = c->broken || waits_for_nothing(c)
                 ? UV_WRITABLE
                 : (c->reading_done ? 0 : UV_READABLE) | (c->out_off < c->out_len && !c->dirty ? UV_WRITABLE : 0);
    if (ev != c->poll_events) {
        uv_poll_start(&c->poll, ev, on_poll);
        c->poll_events = ev;
    }
}

/* On the loop's own turn: ends a connection that is over, lingers after our close, else re-arms. */
static void ws_settle(struct ws_conn *c)
{
    if (c->torn_down || c->lingering)
        return;
    if (c->broken) {
        ws_teardown(c);
        return;
    }
    if (!waits_for_nothing(c)) {
        ws_rearm(c);
        return;
    }
    /* Our close went out after a protocol error: the peer may still be sending. */
    if (c->close_sent && !c->close_received)
        linger(c);
    else
        ws_teardown(c);
}

/* The loop thread's read buffer (frames are unmasked in it, in place). */
static _Thread_local uint8_t read_buf[WS_READ_CHUNK];

static void read_some(struct ws_conn *c)
{
    ssize_t r;
    do
        r = recv(c->fd, read_buf, sizeof read_buf, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        take_bytes(c, read_buf, (size_t)r);
    else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        c->broken = 1; /* the peer's EOF, or a reset */
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
    if (events & UV_WRITABLE)
        out_flush(c);
    if ((events & UV_READABLE) && !c->reading_done && !c->broken)
        read_some(c);
    ws_settle(c);
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
    if (!c->close_sent)
        write_frame(c, WS_OP_PING, "", 0);
    c->last_ping = now;
    ws_settle(c);
}

struct ws_conn *ws_adopt(struct server *s, const struct route *rt, int fd, const char *extra, size_t extra_len,
                         void (*release)(void *arg), void *release_arg, struct caller *auth, void *user,
                         const char *peer)
{
    const struct server_config *cfg = server_config(s);
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    ws_reader_init(&c->in, cfg->ws_message_max);
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
    /* Bytes that came with the handshake are read now (a copy: frames are unmasked in place);
     * the poll reads the rest. */
    while (extra_len && !c->torn_down && !c->reading_done && !c->broken) {
        size_t n = extra_len < sizeof read_buf ? extra_len : sizeof read_buf;
        memcpy(read_buf, extra, n);
        take_bytes(c, read_buf, n);
        extra += n;
        extra_len -= n;
    }
    ws_settle(c);
    return c;
}

static struct metric *m_slow;

/* 1 when queueing n more bytes would take c's unsent output over --ws-send-queue-max. One message
 * is always let through an empty queue, so a single large message is never a slow consumer. */
static int over_send_cap(const struct ws_conn *c, size_t n)
{
    size_t cap = server_config(c->srv)->ws_send_queue_max;
    size_t queued = c->out_len - c->out_off;
    return cap && queued && queued + n > cap;
}

/* A peer that does not read what it is sent: close with 1008 rather than let its queue grow.
 * What it has not started to read is dropped (the frame half on the wire is finished first);
 * the close frame goes out once the peer reads; a peer that never does is dropped after a grace
 * period, which frees the queue with the connection. */
static void close_slow_consumer(struct ws_conn *c)
{
    if (!m_slow)
        m_slow = metric_new(METRIC_COUNTER, "doppel_ws_slow_consumers_total",
                            "WebSockets closed because the client did not read its messages", 0, NULL, NULL, 0);
    metric_add(m_slow, NULL, 1);
    DP_LOG(LOG_INFO, "[ws] send queue over %zu bytes: closing a slow consumer",
           server_config(c->srv)->ws_send_queue_max);
    c->slow = 1;
    if (c->out_off > c->out_frame)
        c->out_len = c->out_frame + ws_frame_size(c->out + c->out_frame, c->out_len - c->out_frame);
    else
        c->out_len = c->out_off;
    send_close(c, 1008, "slow consumer", 13);
    uv_timer_stop(&c->ping_timer);
    uv_timer_start(&c->ping_timer, on_linger_timeout, WS_SLOW_CLOSE_GRACE_MS, 0);
    ws_rearm(c);
}

/* Puts c on the server's dirty list (holding a reference: it may be torn down before the flush). */
static void mark_dirty(struct ws_conn *c)
{
    struct ws_conn **head = server_ws_dirty(c->srv);
    c->dirty = 1;
    c->refs++;
    c->dirty_next = *head;
    *head = c;
}

void ws_flush_dirty(struct server *s)
{
    struct ws_conn **head = server_ws_dirty(s), *c;
    while ((c = *head)) { /* a flush may tear a connection down, whose route may send on others */
        *head = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = 0;
        if (!c->torn_down && !c->lingering) {
            out_flush(c);
            ws_settle(c);
        }
        ws_unref(c);
    }
}

/* A message frame is queued and written at the end of the loop's turn (ws_flush_dirty), with
 * whatever else the turn queues for the connection: a burst of replies and deliveries costs one
 * write, not one each. */
static int ws_queue(struct ws_conn *c, int opcode, const void *p, size_t n)
{
    if (c->torn_down || c->slow || c->close_sent)
        return DP_ERR_CANCELLED;
    if (c->broken)
        return DP_OK; /* the poll ends it */
    if (c->dirty && over_send_cap(c, n))
        out_flush(c); /* the cap is on what the kernel did not take, not on what waits for the turn */
    if (over_send_cap(c, n)) {
        close_slow_consumer(c);
        return DP_ERR_CANCELLED;
    }
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_header(hdr, opcode, n);
    int waiting = c->out_off < c->out_len; /* the poll writes it once the socket takes more */
    if (out_append(c, hdr, hl) || out_append(c, p, n))
        return DP_ERR_NOMEM;
    if (!waiting && !c->dirty)
        mark_dirty(c);
    return DP_OK;
}

int ws_send_text(struct ws_conn *c, const char *p, size_t n)
{
    return ws_queue(c, WS_OP_TEXT, p, n);
}

int ws_send_binary(struct ws_conn *c, const void *p, size_t n)
{
    return ws_queue(c, WS_OP_BINARY, p, n);
}

void ws_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    if (c->torn_down || c->close_sent)
        return;
    /* After what was queued before it, and nothing after it. */
    reason = reason ? reason : "";
    send_close(c, code, reason, strlen(reason));
    ws_rearm(c);
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
