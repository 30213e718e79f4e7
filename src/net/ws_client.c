/* A WebSocket client: the handshake and then wslay's event API, driven by poll on the connection's
 * socket; the bytes go through libcurl's connect-only mode (TLS for wss) or a plain adopted fd. */
#include "net/ws_client.h"

#include <curl/curl.h>
#include <errno.h>
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
#include "net/server_internal.h"

#define HEAD_MAX 8192 /* bytes of the handshake's request or answer head */

struct msg {
    int text;
    char *p;
    size_t n;
    struct msg *next;
};

struct ws_client {
    CURL *curl; /* NULL: a plain adopted fd */
    int fd;
    int wake_fd;
    wslay_event_context_ptr ctx;
    struct msg *head, *tail; /* received, not taken yet */
    int broken;
};

/* Transport: what curl_easy_send/recv or send/recv moved; -1 with errno EAGAIN when it would block. */
static ssize_t t_send(struct ws_client *c, const void *p, size_t n)
{
    if (!c->curl)
        return send(c->fd, p, n, MSG_NOSIGNAL);
    size_t sent = 0;
    CURLcode rc = curl_easy_send(c->curl, p, n, &sent);
    if (rc == CURLE_AGAIN)
        return errno = EAGAIN, -1;
    return rc == CURLE_OK ? (ssize_t)sent : (errno = EPIPE, -1);
}

static ssize_t t_recv(struct ws_client *c, void *p, size_t n)
{
    if (!c->curl)
        return recv(c->fd, p, n, 0);
    size_t got = 0;
    CURLcode rc = curl_easy_recv(c->curl, p, n, &got);
    if (rc == CURLE_AGAIN)
        return errno = EAGAIN, -1;
    return rc == CURLE_OK ? (ssize_t)got : (errno = ECONNRESET, -1);
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    ssize_t r = t_recv(user, buf, len);
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
    ssize_t r = t_send(user, data, len);
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
    if (arg->msg_length) /* an empty message comes with msg NULL */
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

/* Splits ws[s]://authority/rest into the URL curl connects to (http[s]://authority/) and the
 * request's authority and target. */
static int parse_url(const char *url, char *conn, size_t cn, char *authority, size_t an, const char **rest)
{
    static const struct {
        const char *prefix, *scheme;
    } schemes[] = {{"ws://", "http"}, {"wss://", "https"}, {"http://", "http"}, {"https://", "https"}};
    const char *p = NULL, *scheme = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes && !p; i++)
        if (!strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)))
            p = url + strlen(schemes[i].prefix), scheme = schemes[i].scheme;
    if (!p)
        return DP_ERR_INVALID;
    const char *slash = strchr(p, '/');
    *rest = slash ? slash : "/";
    size_t alen = slash ? (size_t)(slash - p) : strlen(p);
    if (!alen || alen >= an || memchr(p, '@', alen) || strpbrk(*rest, " \r\n"))
        return DP_ERR_INVALID; /* no credentials in the URL, nothing that splits the request line */
    memcpy(authority, p, alen);
    authority[alen] = 0;
    if (strpbrk(authority, " \r\n") || snprintf(conn, cn, "%s://%s/", scheme, authority) >= (int)cn)
        return DP_ERR_INVALID;
    return DP_OK;
}

/* Waits up to the deadline for the socket (events), 0 when it is ready. */
static int wait_fd(int fd, short events, double deadline)
{
    struct pollfd pfd = {fd, events, 0};
    int left = (int)((deadline - time_mono()) * 1000);
    return left > 0 && poll(&pfd, 1, left) > 0 ? 0 : -1;
}

static int send_all(struct ws_client *c, const char *p, size_t n, double deadline)
{
    while (n) {
        ssize_t r = t_send(c, p, n);
        if (r < 0 && errno == EAGAIN) {
            if (wait_fd(c->fd, POLLOUT, deadline))
                return -1;
            continue;
        }
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sends the upgrade request and reads the answer's head; the status code, or -1. A 101 must carry
 * the Sec-WebSocket-Accept the key calls for. */
static int handshake(struct ws_client *c, const char *authority, const char *path, const char *extra, int timeout_ms)
{
    unsigned char nonce[16];
    char key[32], req[HEAD_MAX];
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2base64(key, sizeof key, nonce, sizeof nonce, sodium_base64_VARIANT_ORIGINAL);
    double deadline = time_mono() + timeout_ms / 1000.0;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, authority, key, extra ? extra : "");
    int sent = n > 0 && (size_t)n < sizeof req && !send_all(c, req, (size_t)n, deadline);
    sodium_memzero(req, sizeof req); /* the extra headers hold the provider's key */
    if (!sent)
        return -1;
    /* Byte by byte up to the blank line: the frames after it belong to wslay. */
    size_t got = 0;
    while (got + 1 < sizeof req) {
        ssize_t r = t_recv(c, req + got, 1);
        if (r < 0 && errno == EAGAIN) {
            if (wait_fd(c->fd, POLLIN, deadline))
                return -1;
            continue;
        }
        if (r != 1)
            return -1;
        got++;
        if (got >= 4 && !memcmp(req + got - 4, "\r\n\r\n", 4))
            break;
    }
    req[got] = 0;
    int status;
    if (sscanf(req, "HTTP/1.1 %d", &status) != 1)
        return -1;
    if (status == 101) {
        char want[29], line[64];
        ws_accept_key(key, want);
        snprintf(line, sizeof line, "\r\nsec-websocket-accept: %s\r\n", want);
        if (!strcasestr(req, line))
            return -1; /* not a WebSocket server answering this request */
    }
    return status;
}

static int client_init(struct ws_client *c)
{
    static const struct wslay_event_callbacks cbs = {on_recv, on_send, on_genmask, NULL, NULL, NULL, on_msg};
    if (wslay_event_context_client_init(&c->ctx, &cbs, c))
        return DP_ERR_NOMEM;
    wslay_event_config_set_max_recv_msg_length(c->ctx, WS_CLIENT_MSG_MAX);
    return DP_OK;
}

int ws_client_open(const char *url, const char *extra_headers, int timeout_ms, struct ws_client **out, char *err,
                   size_t errlen)
{
    char conn[320], authority[256];
    const char *path;
    *out = NULL;
    if (parse_url(url, conn, sizeof conn, authority, sizeof authority, &path) || strlen(path) > 4096) {
        snprintf(err, errlen, "bad URL (ws[s]://host[:port]/path)");
        return DP_ERR_INVALID;
    }
    struct ws_client *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        return DP_ERR_NOMEM;
    }
    c->fd = c->wake_fd = -1;
    curl_easy_setopt(c->curl, CURLOPT_URL, conn);
    curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 10000));
    curl_socket_t sock = CURL_SOCKET_BAD;
    if (curl_easy_perform(c->curl) || curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &sock) ||
        sock == CURL_SOCKET_BAD) {
        snprintf(err, errlen, "cannot connect to %s", authority);
        ws_client_free(c);
        return DP_ERR_IO;
    }
    c->fd = (int)sock;
    int status = handshake(c, authority, path, extra_headers, timeout_ms);
    if (status != 101) {
        ws_client_free(c);
        snprintf(err, errlen, status < 0 ? "no WebSocket handshake answer" : "the handshake answered %d", status);
        return status == 401 || status == 403 ? DP_ERR_UNAUTHORIZED
               : status == 409                ? DP_ERR_CONFLICT
               : status == 429                ? DP_ERR_RATE_LIMITED
               : status < 0                   ? DP_ERR_IO
                                              : DP_ERR_UNAVAILABLE;
    }
    if (client_init(c)) {
        ws_client_free(c);
        return DP_ERR_NOMEM;
    }
    *out = c;
    return DP_OK;
}

int ws_client_connect(const char *url, int timeout_ms, struct ws_client **out, char *err, size_t errlen)
{
    return ws_client_open(url, NULL, timeout_ms, out, err, errlen);
}

int ws_client_adopt(int fd, struct ws_client **out)
{
    struct ws_client *c = calloc(1, sizeof *c);
    if (!c)
        return DP_ERR_NOMEM;
    c->fd = fd;
    c->wake_fd = -1;
    if (client_init(c)) {
        free(c);
        return DP_ERR_NOMEM;
    }
    *out = c;
    return DP_OK;
}

void ws_client_wake_on(struct ws_client *c, int fd)
{
    c->wake_fd = fd;
}

/* One round of I/O: waits up to ms for the socket (or the wake fd), then lets wslay read and write.
 * 1 when the wake fd fired. */
static int pump(struct ws_client *c, int ms)
{
    struct pollfd pfd[2] = {{c->fd, POLLIN | (wslay_event_want_write(c->ctx) ? POLLOUT : 0), 0},
                            {c->wake_fd, POLLIN, 0}};
    int r = poll(pfd, c->wake_fd >= 0 ? 2 : 1, ms);
    if (r < 0 && errno != EINTR)
        c->broken = 1;
    /* TLS may hold bytes the socket no longer shows: with curl, reading is always tried. */
    if (r >= 0 && (c->curl || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) && wslay_event_recv(c->ctx))
        c->broken = 1;
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx))
        c->broken = 1;
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))
        c->broken = 1;
    return r > 0 && c->wake_fd >= 0 && (pfd[1].revents & POLLIN);
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
        if (c->broken)
            return DP_ERR_IO;
        int left = (int)((deadline - time_mono()) * 1000);
        if (left < 0)
            left = 0;
        int woke = pump(c, left);
        if (c->head)
            continue;
        if (c->broken)
            return DP_ERR_IO;
        if (woke || left == 0)
            return DP_ERR_TIMEOUT;
    }
}

void ws_client_close(struct ws_client *c, int code)
{
    if (c->broken || wslay_event_get_close_sent(c->ctx))
        return;
    wslay_event_queue_close(c->ctx, (uint16_t)code, NULL, 0);
    pump(c, 0);
}

int ws_client_close_code(const struct ws_client *c)
{
    return c->ctx && wslay_event_get_close_received(c->ctx) ? wslay_event_get_status_code_received(c->ctx) : 0;
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
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    if (c->curl)
        curl_easy_cleanup(c->curl); /* closes the socket */
    else if (c->fd >= 0)
        close(c->fd);
    free(c);
}
