/* A blocking WebSocket client: handshake over a plain socket, then wslay's event API driven by poll. */
#include "net/ws_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "core/err.h"
#include "core/timeutil.h"

struct msg {
    int text;
    char *p;
    size_t n;
    struct msg *next;
};

struct ws_client {
    int fd;
    wslay_event_context_ptr ctx;
    struct msg *head, *tail; /* received, not taken yet */
    int broken;
};

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_client *c = user;
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_client *c = user;
    ssize_t r = send(c->fd, data, len, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    randombytes_buf(buf, len);
    return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    (void)ctx;
    struct ws_client *c = user;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return; /* wslay answers pings and closes itself */
    struct msg *m = calloc(1, sizeof *m);
    if (!m || !(m->p = malloc(arg->msg_length + 1))) {
        free(m);
        c->broken = 1;
        return;
    }
    memcpy(m->p, arg->msg, arg->msg_length);
    m->p[arg->msg_length] = 0;
    m->n = arg->msg_length;
    m->text = arg->opcode == WSLAY_TEXT_FRAME;
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
}

/* Splits ws://host:port/rest. */
static int parse_url(const char *url, char *host, size_t hn, char *port, size_t pn, const char **rest)
{
    const char *p = !strncmp(url, "ws://", 5) ? url + 5 : !strncmp(url, "http://", 7) ? url + 7 : NULL;
    if (!p)
        return DP_ERR_INVALID;
    const char *slash = strchr(p, '/');
    *rest = slash ? slash : "/";
    size_t authority = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', authority);
    size_t hlen = colon ? (size_t)(colon - p) : authority;
    if (!hlen || hlen >= hn)
        return DP_ERR_INVALID;
    memcpy(host, p, hlen);
    host[hlen] = 0;
    size_t plen = colon ? authority - hlen - 1 : 2;
    if (plen >= pn || !plen)
        return DP_ERR_INVALID;
    if (colon) {
        memcpy(port, colon + 1, plen);
        port[plen] = 0;
    } else
        snprintf(port, pn, "80");
    return DP_OK;
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res))
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* Sends the upgrade request and reads the answer's head; the status code, or -1. */
static int handshake(int fd, const char *host, const char *port, const char *path, int timeout_ms)
{
    unsigned char nonce[16];
    char key[32], req[8192];
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2base64(key, sizeof key, nonce, sizeof nonce, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, host, port, key);
    if (n <= 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    /* Read byte by byte up to the blank line: the frames after it belong to wslay. */
    size_t got = 0;
    double deadline = time_mono() + timeout_ms / 1000.0;
    while (got + 1 < sizeof req) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int left = (int)((deadline - time_mono()) * 1000);
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return -1;
        if (recv(fd, req + got, 1, 0) != 1)
            return -1;
        got++;
        if (got >= 4 && !memcmp(req + got - 4, "\r\n\r\n", 4))
            break;
    }
    req[got] = 0;
    int status;
    if (sscanf(req, "HTTP/1.1 %d", &status) != 1)
        return -1;
    return status;
}

int ws_client_connect(const char *url, int timeout_ms, struct ws_client **out, char *err, size_t errlen)
{
    char host[256], port[16];
    const char *path;
    if (parse_url(url, host, sizeof host, port, sizeof port, &path)) {
        snprintf(err, errlen, "bad URL (ws://host:port/path): %s", url);
        return DP_ERR_INVALID;
    }
    int fd = dial(host, port);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%s", host, port);
        return DP_ERR_IO;
    }
    int status = handshake(fd, host, port, path, timeout_ms);
    if (status != 101) {
        close(fd);
        snprintf(err, errlen, status < 0 ? "no WebSocket handshake answer" : "the handshake answered %d", status);
        return status == 401   ? DP_ERR_UNAUTHORIZED
               : status == 409 ? DP_ERR_CONFLICT
               : status < 0    ? DP_ERR_IO
                               : DP_ERR_UNAVAILABLE;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct ws_client *c = calloc(1, sizeof *c);
    static const struct wslay_event_callbacks cbs = {on_recv, on_send, on_genmask, NULL, NULL, NULL, on_msg};
    if (!c || wslay_event_context_client_init(&c->ctx, &cbs, c)) {
        free(c);
        close(fd);
        return DP_ERR_NOMEM;
    }
    c->fd = fd;
    *out = c;
    return DP_OK;
}

/* One round of I/O: waits up to ms for the socket, then lets wslay read and write. */
static int pump(struct ws_client *c, int ms)
{
    struct pollfd pfd = {c->fd, POLLIN | (wslay_event_want_write(c->ctx) ? POLLOUT : 0), 0};
    int r = poll(&pfd, 1, ms);
    if (r < 0 && errno != EINTR)
        return DP_ERR_IO;
    if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(c->ctx))
        c->broken = 1;
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx))
        c->broken = 1;
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))
        c->broken = 1;
    return c->broken && !c->head ? DP_ERR_IO : DP_OK;
}

int ws_client_send(struct ws_client *c, int text, const void *p, size_t n)
{
    if (c->broken)
        return DP_ERR_IO;
    struct wslay_event_msg m = {text ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME, p, n};
    if (wslay_event_queue_msg(c->ctx, &m))
        return DP_ERR_IO;
    /* Write it out now (the socket buffer takes it, or we wait for room). */
    while (wslay_event_want_write(c->ctx) && !c->broken) {
        struct pollfd pfd = {c->fd, POLLOUT, 0};
        if (poll(&pfd, 1, 5000) <= 0 || wslay_event_send(c->ctx))
            c->broken = 1;
    }
    return c->broken ? DP_ERR_IO : DP_OK;
}

int ws_client_recv(struct ws_client *c, int timeout_ms, int *text, char **out, size_t *n)
{
    double deadline = time_mono() + timeout_ms / 1000.0;
    for (;;) {
        if (c->head) {
            struct msg *m = c->head;
            c->head = m->next;
            if (!c->head)
                c->tail = NULL;
            *text = m->text;
            *out = m->p;
            *n = m->n;
            free(m);
            return DP_OK;
        }
        int left = (int)((deadline - time_mono()) * 1000);
        if (left < 0)
            left = 0;
        if (pump(c, left))
            return DP_ERR_IO;
        if (!c->head && left == 0)
            return DP_ERR_TIMEOUT;
    }
}

void ws_client_free(struct ws_client *c)
{
    if (!c)
        return;
    while (c->head) {
        struct msg *m = c->head;
        c->head = m->next;
        free(m->p);
        free(m);
    }
    wslay_event_context_free(c->ctx);
    close(c->fd);
    free(c);
}
