/* Idle events-WebSocket connections for bench/chat.sh, from C so that 100,000 of them fit in one
 * light client: opens N connections to GET PATH (Doppel's /api/v1/events?token=…), WINDOW
 * handshakes at a time, each from one of SOURCES loopback addresses 127.0.0.1, 127.0.0.2, … (one
 * address has only ~28,000 ephemeral ports toward one server port), waits for each to say
 * "ready", prints "open N", then holds them (answering pings) until stdin closes.
 *   chat-idle PORT PATH N [SOURCES=4] [WINDOW=256]
 * Build: cc -O2 -o chat-idle bench/chat-idle.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct conn {
    int fd;
    int state; /* 0 connecting, 1 handshake sent, 2 ready */
    size_t got;
    char buf[1024]; /* the handshake answer and the first frames, until "ready" */
};

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int open_one(int port, int source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u + (unsigned)source)};
    if (bind(fd, (struct sockaddr *)&src, sizeof src))
        die("bind");
    struct sockaddr_in dst = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001u)};
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) && errno != EINPROGRESS)
        die("connect");
    return fd;
}

/* A masked, empty pong (the answer to the server's keepalive ping). */
static void pong(int fd)
{
    static const unsigned char f[6] = {0x8a, 0x80, 1, 2, 3, 4};
    (void)!write(fd, f, sizeof f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: chat-idle PORT PATH N [SOURCES] [WINDOW]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *path = argv[2];
    int n = atoi(argv[3]), sources = argc > 4 ? atoi(argv[4]) : 4, window = argc > 5 ? atoi(argv[5]) : 256;
    struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
    if (setrlimit(RLIMIT_NOFILE, &rl))
        die("setrlimit (raise the hard limit of open files)");
    char req[2048];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                          path, port);
    struct conn *c = calloc((size_t)n, sizeof *c);
    int ep = epoll_create1(0);
    if (!c || ep < 0)
        die("setup");
    int started = 0, ready = 0, inflight = 0;
    struct epoll_event evs[256];
    while (ready < n) {
        while (started < n && inflight < window) {
            c[started].fd = open_one(port, started % sources);
            struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)started};
            epoll_ctl(ep, EPOLL_CTL_ADD, c[started].fd, &e);
            started++;
            inflight++;
        }
        int k = epoll_wait(ep, evs, 256, 10000);
        if (k == 0) {
            fprintf(stderr, "idle: stalled at %d of %d ready\n", ready, n);
            return 1;
        }
        for (int i = 0; i < k; i++) {
            struct conn *x = &c[evs[i].data.u32];
            if (x->state == 0 && (evs[i].events & EPOLLOUT)) {
                if (write(x->fd, req, (size_t)reqlen) != reqlen)
                    die("handshake write");
                x->state = 1;
                struct epoll_event e = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &e);
                continue;
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(x->fd, x->buf + x->got, sizeof x->buf - 1 - x->got);
            if (r <= 0) {
                fprintf(stderr, "idle: connection %u closed during its handshake (%zu bytes: %.80s)\n", evs[i].data.u32,
                        x->got, x->buf);
                return 1;
            }
            x->got += (size_t)r;
            x->buf[x->got] = 0;
            if (x->state == 1 && strstr(x->buf, "\"type\":\"ready\"")) {
                x->state = 2;
                ready++;
                inflight--;
                x->got = 0;
            } else if (x->got >= sizeof x->buf - 1) {
                x->got = 0; /* presence frames before ready: only "ready" matters */
            }
        }
    }
    printf("open %d\n", ready);
    fflush(stdout);
    /* Hold: answer pings, until stdin closes. */
    char scratch[4096];
    for (;;) {
        struct pollfd in = {0, POLLIN, 0};
        if (poll(&in, 1, 0) > 0 && read(0, scratch, sizeof scratch) <= 0)
            return 0;
        int k = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < k; i++) {
            struct conn *x = &c[evs[i].data.u32];
            ssize_t r = read(x->fd, scratch, sizeof scratch);
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                continue;
            }
            for (ssize_t j = 0; j + 1 < r; j++)
                if ((unsigned char)scratch[j] == 0x89 && scratch[j + 1] == 0) /* an empty ping */
                    pong(x->fd);
        }
    }
}
