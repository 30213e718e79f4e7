/* libFuzzer target for the WebSocket code (net/ws.c over wslay): client bytes go through a real socket into ws_adopt().
 *
 * Input format: byte 0 is how many of the following bytes arrive as the "extra" bytes that
 * libmicrohttpd read past the upgrade handshake (ws_adopt's extra, clipped to what is left);
 * the rest is written into the client end of a socketpair, which is then shut for writing.
 * The route echoes every message back and answers a message starting with "bye" with a close.
 * One loop and one server live for the whole process (see fuzz_init for why); each input gets
 * its own socketpair and must end with the connection torn down and the socket released
 * within a second, or the run aborts: a connection that outlives its peer's EOF is a bug.
 * Seeds: fuzz/make-seeds.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "net/server.h"
#include "net/server_internal.h"
#include "net/ws.h"

#define FUZZ_WS_MAX (64 * 1024)   /* longest input (and the message cap) */
#define FUZZ_SOCKBUF (512 * 1024) /* socket buffers: the whole input fits in one write */
#define FUZZ_WATCHDOG_MS 1000

/* The state of one input's run. */
struct run {
    int released;          /* the server gave the socket back (release ran) */
    int server_fd;         /* the adopted end, closed by release */
    int client_fd;         /* our end: the "browser" */
    uv_poll_t client_poll; /* writes what is left of the input, then drains the server's output */
    const uint8_t *p;      /* input still to write */
    size_t n, off;
    int shut;              /* SHUT_WR done */
    int client_closed;     /* the client poll's close callback ran */
};

static uv_loop_t loop;
static struct server *srv;
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

static const struct ws_handler echo_handler = {NULL, echo_message, NULL};
static const struct route echo_route = {"GET", "/fuzz/ws", ROUTE_WEBSOCKET | ROUTE_PUBLIC, 0, NULL, "fuzz",
                                        "WebSocket echo", NULL, &echo_handler};

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
        if (r->off == r->n) {
            shutdown(r->client_fd, SHUT_WR);
            r->shut = 1;
        }
    }
    if (events & UV_READABLE) {
        uint8_t buf[16384];
        for (;;) {
            ssize_t got = recv(r->client_fd, buf, sizeof buf, 0);
            if (got > 0)
                continue;
            if (got < 0 && errno == EINTR)
                continue;
            if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                /* The server end is closed: nothing more to drain; wait for release. */
                uv_poll_stop(p);
                return;
            }
            break;
        }
    }
    uv_poll_start(p, UV_READABLE | (r->shut ? 0 : UV_WRITABLE), on_client);
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
    if (size == 0 || size > FUZZ_WS_MAX + 1)
        return 0;
    if (!srv)
        fuzz_init();
    size_t extra_len = data[0];
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
    uv_poll_init_socket(&loop, &r.client_poll, sv[0]);
    r.client_poll.data = &r;
    uv_poll_start(&r.client_poll, UV_READABLE | UV_WRITABLE, on_client);
    uv_timer_start(&watchdog, on_watchdog, FUZZ_WATCHDOG_MS, 0);

    struct ws_conn *c = ws_adopt(srv, &echo_route, sv[1], (const char *)extra, extra_len, release_socket, &r, NULL);
    if (!c) /* allocation failure: the socket stays ours */
        release_socket(&r);
    while (!r.released)
        uv_run(&loop, UV_RUN_DEFAULT);

    uv_timer_stop(&watchdog);
    uv_close((uv_handle_t *)&r.client_poll, on_client_closed);
    while (!r.client_closed)
        uv_run(&loop, UV_RUN_NOWAIT);
    close(sv[0]);
    if (ws_open_count(srv) != 0) {
        fprintf(stderr, "fuzz_ws_frames: a released connection is still on the server's list\n");
        abort();
    }
    return 0;
}
