/* libFuzzer target for the WebSocket code (net/ws.c over net/ws_frame): client bytes go through a real socket into ws_adopt().
 *
 * Input format: byte 0 is a control byte. Its low 7 bits say how many of the following bytes
 * arrive as the "extra" bytes libmicrohttpd read past the upgrade handshake (ws_adopt's
 * extra, clipped to what is left); the rest is written into the client end of a socketpair.
 * Then the client shuts its end for writing: at once when bit 7 is set (the EOF races the
 * server's replies), otherwise once the server has read everything and gone quiet (so its
 * echoes, pongs and close replies are written and drained).
 * The route echoes every message back and answers a message starting with "bye" with a close.
 * One loop and one server live for the whole process (see fuzz_init for why); each input gets
 * its own socketpair and must end with the connection torn down and the socket released
 * within a second of the input, or the run aborts: a connection that outlives its peer's EOF
 * is a bug. FUZZ_WS_DUMP=1 prints what the server sends. Seeds: fuzz/make-seeds.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "net/server.h"
#include "net/server_internal.h"
#include "net/ws.h"

#define FUZZ_WS_MAX (64 * 1024)           /* the message cap */
#define FUZZ_INPUT_MAX (FUZZ_WS_MAX + 64) /* longest input: a message at the cap plus its headers */
#define FUZZ_SOCKBUF (512 * 1024)         /* socket buffers: the whole input and the echo fit */
#define FUZZ_WATCHDOG_MS 1000

/* The state of one input's run. */
struct run {
    int released;          /* the server gave the socket back (release ran) */
    int server_fd;         /* the adopted end, closed by release */
    int client_fd;         /* our end: the "browser" */
    uv_poll_t client_poll; /* writes what is left of the input, then drains the server's output */
    const uint8_t *p;      /* input still to write */
    size_t n, off;
    int shut_early; /* control bit 7: SHUT_WR right after the input */
    int shut;       /* SHUT_WR done */
    int quiet;      /* idle iterations with nothing left for the server to read */
    uv_idle_t idle; /* watches for the server going quiet before SHUT_WR */
    int idle_closed;
    int client_closed; /* the client poll's close callback ran */
};

static uv_loop_t loop;
static struct server *srv;
static int dump; /* FUZZ_WS_DUMP=1: hex-dump what the server sends (to check seeds by eye) */
static uv_timer_t watchdog;

static void echo_message(struct ws_conn *c, int is_text, const uint8_t *p, size_t n)
{
    if (n >= 3 && !memcmp(p, "bye", 3)) {
        ws_close(c, 1000, "bye");
        return;
    }
    if (is_text)
        ws_send_text(c, (const char *)p, n);
    else
        ws_send_binary(c, p, n);
}

static const struct ws_handler echo_handler = {NULL, echo_message, NULL, NULL};
static const struct route echo_route = {
    "GET", "/fuzz/ws", ROUTE_WEBSOCKET | ROUTE_PUBLIC, 0, NULL, "fuzz", "WebSocket echo", NULL, &echo_handler, NULL};

/* ws.c's release callback: closes the server end and stops the loop (the connection is gone). */
static void release_socket(void *arg)
{
    struct run *r = arg;
    close(r->server_fd);
    r->server_fd = -1;
    r->released = 1;
    uv_stop(&loop);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "fuzz_ws_frames: the connection was not torn down %d ms after the client's EOF\n",
            FUZZ_WATCHDOG_MS);
    abort();
}

/* Reads and drops what the server sent; 1 at EOF or on error, 0 when nothing is left for now. */
static int drain(int fd)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got > 0) {
            if (dump) {
                fprintf(stderr, "server sent %zd bytes:", got);
                for (ssize_t i = 0; i < got && i < 64; i++)
                    fprintf(stderr, " %02x", buf[i]);
                fprintf(stderr, "%s\n", got > 64 ? " ..." : "");
            }
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        return got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
}

/* The client end: write the input, shut for writing, then read and drop whatever the server sends. */
static void on_client(uv_poll_t *p, int status, int events)
{
    struct run *r = p->data;
    if (status < 0) {
        uv_poll_stop(p);
        return;
    }
    if ((events & UV_WRITABLE) && !r->shut) {
        while (r->off < r->n) {
            ssize_t w = send(r->client_fd, r->p + r->off, r->n - r->off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                r->off = r->n; /* the server closed already: nothing more to say */
                break;
            }
            r->off += (size_t)w;
        }
        if (r->off == r->n && r->shut_early) {
            shutdown(r->client_fd, SHUT_WR);
            r->shut = 1;
        }
    }
    if ((events & UV_READABLE) && drain(r->client_fd)) {
        uv_poll_stop(p); /* the server end is closed: wait for release */
        return;
    }
    uv_poll_start(p, UV_READABLE | (r->off < r->n ? UV_WRITABLE : 0), on_client);
}

/* Runs every loop iteration (and keeps the loop from blocking) until the client shuts: once the
 * input is written and the server's receive queue has stayed empty for a few iterations, the
 * server has answered what it will answer. */
static void on_idle(uv_idle_t *h)
{
    struct run *r = h->data;
    int pending = 0;
    if (r->off < r->n || (r->server_fd >= 0 && (ioctl(r->server_fd, FIONREAD, &pending) || pending))) {
        r->quiet = 0;
        return;
    }
    if (++r->quiet < 4)
        return;
    if (!r->shut) {
        shutdown(r->client_fd, SHUT_WR);
        r->shut = 1;
    }
    uv_idle_stop(h);
}

static void on_idle_closed(uv_handle_t *h)
{
    struct run *r = h->data;
    r->idle_closed = 1;
}

static void on_client_closed(uv_handle_t *h)
{
    struct run *r = h->data;
    r->client_closed = 1;
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_bufs(int fd)
{
    int sz = FUZZ_SOCKBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

static void fuzz_cleanup(void)
{
    if (!srv)
        return;
    server_free(srv);
    srv = NULL;
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop))
        fprintf(stderr, "fuzz_ws_frames: handles left open at exit\n");
}

/* One loop and one server for the process: server_new() registers a metrics collector that
 * server_free() does not unregister, so a server per input would grow that global list (and
 * leave it pointing at freed servers). Nothing of a connection outlives its input. */
static void fuzz_init(void)
{
    log_setup(0, LOG_ERROR);
    dump = getenv("FUZZ_WS_DUMP") != NULL;
    if (uv_loop_init(&loop))
        abort();
    struct server_config cfg = {0};
    cfg.listen = "127.0.0.1:0";
    cfg.max_connections = 16;
    cfg.timeout = 30;
    cfg.json_body_max = FUZZ_WS_MAX;
    cfg.ws_message_max = FUZZ_WS_MAX;
    cfg.ws_ping_interval = 30;
    cfg.shutdown_timeout = 1;
    if (server_new(&srv, &loop, &cfg, NULL, NULL))
        abort();
    uv_timer_init(&loop, &watchdog);
    atexit(fuzz_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_INPUT_MAX)
        return 0;
    if (!srv)
        fuzz_init();
    size_t extra_len = data[0] & 0x7f;
    if (extra_len > size - 1)
        extra_len = size - 1;
    const uint8_t *extra = data + 1;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        abort();
    set_bufs(sv[0]);
    set_bufs(sv[1]);
    if (set_nonblocking(sv[0]) || set_nonblocking(sv[1]))
        abort();

    struct run r = {0};
    r.client_fd = sv[0];
    r.server_fd = sv[1];
    r.p = extra + extra_len;
    r.n = size - 1 - extra_len;
    r.shut_early = (data[0] & 0x80) != 0;
    uv_poll_init_socket(&loop, &r.client_poll, sv[0]);
    r.client_poll.data = &r;
    uv_poll_start(&r.client_poll, UV_READABLE | UV_WRITABLE, on_client);
    uv_idle_init(&loop, &r.idle);
    r.idle.data = &r;
    if (!r.shut_early)
        uv_idle_start(&r.idle, on_idle);
    uv_timer_start(&watchdog, on_watchdog, FUZZ_WATCHDOG_MS, 0);

    struct ws_conn *c =
        ws_adopt(srv, &echo_route, sv[1], (const char *)extra, extra_len, release_socket, &r, NULL, NULL, "fuzz");
    if (!c) /* allocation failure: the socket stays ours */
        release_socket(&r);
    while (!r.released)
        uv_run(&loop, UV_RUN_DEFAULT);

    uv_timer_stop(&watchdog);
    uv_close((uv_handle_t *)&r.client_poll, on_client_closed);
    uv_close((uv_handle_t *)&r.idle, on_idle_closed);
    while (!r.client_closed || !r.idle_closed)
        uv_run(&loop, UV_RUN_NOWAIT);
    drain(sv[0]); /* the last replies (a close frame) came with the release */
    close(sv[0]);
    if (server_ws_count(srv) != 0) {
        fprintf(stderr, "fuzz_ws_frames: a released connection is still on the server's list\n");
        abort();
    }
    return 0;
}
