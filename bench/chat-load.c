/* A light load client for Doppel's events WebSocket (bench/chat.sh), so that the client is not
 * what saturates: the figures of bench/chat-load.cjs — A→B latency with one message in flight,
 * a burst with 64 in flight, fan-out from one sender to a group — from one C process on one
 * monotonic clock. Users and chats are made beforehand (bench/chat.sh, over HTTP); SETUP is a
 * file of lines "port P", "a TOKEN" (the sender), "b TOKEN", "ab CHAT_ID" (A and B's chat),
 * "g CHAT_ID" (A's group) and one "r TOKEN" per group member who receives.
 *   chat-load SETUP [MSGS=2000] [FANOUT_MSGS=200]
 * Build: cc -O2 -o chat-load bench/chat-load.c -lm */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 1100
#define RBUF (256 * 1024)
#define IN_FLIGHT 64

struct sock {
    int fd;
    uint8_t *buf;
    size_t len;
};

static struct sock socks[MAX_SOCKS];
static int nsocks, port;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "chat-load: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            usleep(50);
            continue;
        }
        if (r <= 0)
            die("write");
        p = (const char *)p + r;
        n -= (size_t)r;
    }
}

/* A masked text frame (a client must mask; the key does not matter to the figures). */
static void send_text(struct sock *s, const char *text)
{
    size_t n = strlen(text), h = 2;
    uint8_t f[8 + 4096];
    f[0] = 0x81;
    if (n < 126) {
        f[1] = (uint8_t)(0x80 | n);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t)(n >> 8);
        f[3] = (uint8_t)n;
        h = 4;
    }
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    memcpy(f + h, key, 4);
    for (size_t i = 0; i < n; i++)
        f[h + 4 + i] = (uint8_t)text[i] ^ key[i & 3];
    write_all(s->fd, f, h + 4 + n);
}

/* Frames of s whole in its buffer: fn(s, payload, n) for each text frame; pings answered. */
static void take_frames(struct sock *s, void (*fn)(struct sock *, const char *, size_t))
{
    size_t off = 0;
    while (s->len - off >= 2) {
        uint8_t *p = s->buf + off;
        size_t n = p[1] & 0x7f, h = 2;
        if (n == 126) {
            if (s->len - off < 4)
                break;
            n = (size_t)p[2] << 8 | p[3];
            h = 4;
        } else if (n == 127) {
            if (s->len - off < 10)
                break;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | p[2 + i];
            h = 10;
        }
        if (s->len - off < h + n)
            break;
        int op = p[0] & 0x0f;
        if (op == 0x9) {
            static const uint8_t pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
            write_all(s->fd, pong, sizeof pong);
        } else if (op == 0x8) {
            fprintf(stderr, "chat-load: the server closed a socket (%.*s)\n", (int)(n > 2 ? n - 2 : 0), p + h + 2);
            exit(1);
        } else if (op == 0x1) {
            fn(s, (const char *)p + h, n);
        }
        off += h + n;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
}

static int ready_seen;
static void on_setup_frame(struct sock *s, const char *p, size_t n)
{
    (void)s;
    if (memmem(p, n, "\"type\":\"ready\"", 14))
        ready_seen = 1;
}

static int read_some(struct sock *s)
{
    if (s->len == RBUF)
        die("a frame larger than the read buffer");
    ssize_t r = read(s->fd, s->buf + s->len, RBUF - s->len);
    if (r == 0) {
        errno = ECONNRESET;
        die("the server closed a connection");
    }
    if (r < 0)
        return errno == EAGAIN ? 0 : (die("read"), 0);
    s->len += (size_t)r;
    return 1;
}

/* Opens an events socket for token and waits (blocking) for its "ready". */
static struct sock *open_events(const char *token)
{
    if (nsocks == MAX_SOCKS)
        die("too many sockets");
    struct sock *s = &socks[nsocks++];
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001u)};
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&a, sizeof a))
        die("connect");
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/events?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     token);
    write_all(s->fd, req, (size_t)n);
    s->buf = malloc(RBUF);
    if (!s->buf)
        die("malloc");
    char *end = NULL;
    while (!end) {
        read_some(s);
        s->buf[s->len < RBUF ? s->len : RBUF - 1] = 0;
        end = strstr((char *)s->buf, "\r\n\r\n");
    }
    if (strncmp((char *)s->buf, "HTTP/1.1 101", 12)) {
        fprintf(stderr, "chat-load: handshake refused: %.80s\n", s->buf);
        exit(1);
    }
    size_t hl = (size_t)(end + 4 - (char *)s->buf);
    memmove(s->buf, s->buf + hl, s->len - hl);
    s->len -= hl;
    for (ready_seen = 0;;) {
        take_frames(s, on_setup_frame);
        if (ready_seen)
            break;
        read_some(s);
    }
    return s;
}

/* ---- the measured part -------------------------------------------------------------------- */

static struct sock *A, *B;
static int first_r, nr; /* receivers: socks[first_r .. first_r + nr) */
static double *sent_at; /* per latency/burst message index */
static double *lat;
static int nlat;
static long arrived; /* B's message.new of kind 'l' or 'b' */
static long cur_f = -1000000, got_f;
static double f_t0, f_last;
static double *per;
static int nper;

static long client_index(const char *p, size_t n, char *kind)
{
    const char *c = memmem(p, n, "\"client_id\":\"", 13);
    if (!c || c + 14 >= p + n)
        return -1;
    *kind = c[13];
    return strtol(c + 14, NULL, 10);
}

static void on_frame(struct sock *s, const char *p, size_t n)
{
    if (memmem(p, n, "\"type\":\"message.error\"", 22) || memmem(p, n, "\"type\":\"error\"", 14)) {
        fprintf(stderr, "chat-load: %.*s\n", (int)n, p);
        exit(1);
    }
    if (!memmem(p, n, "\"type\":\"message.new\"", 20))
        return;
    char kind = 0;
    long i = client_index(p, n, &kind);
    double t = now_ms();
    if (s == B && (kind == 'l' || kind == 'b') && i >= 0) {
        if (sent_at[i] > 0)
            lat[nlat++] = t - sent_at[i];
        arrived++;
    } else if (s >= socks + first_r && kind == 'f' && i == cur_f) {
        per[nper++] = t - f_t0;
        f_last = t - f_t0;
        got_f++;
    }
}

static int ep;
/* This run's tag in every client_id (after the index, where strtol stops): a second run against
 * the same users would otherwise be answered as retries of the first's sends. */
static unsigned run;

/* Runs the loop until *done says so (checked after each batch of events). */
static void pump(int (*done)(void))
{
    struct epoll_event ev[256];
    while (!done()) {
        int k = epoll_wait(ep, ev, 256, 10000);
        if (k == 0) {
            fprintf(stderr, "chat-load: nothing arrived for 10 s\n");
            exit(1);
        }
        for (int i = 0; i < k; i++) {
            struct sock *s = &socks[ev[i].data.u32];
            while (read_some(s))
                take_frames(s, on_frame);
        }
    }
}

/* Sends A->B message i of its phase (kind 'l' latency, 'b' burst; shown in its text), noting when. */
static void send_ab(const char *chat, char kind, int i, int shown)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"type\":\"message.send\",\"chat_id\":\"%s\",\"client_id\":\"%c%d_%x\",\"text\":\"%s %d from a to b, "
             "a typical short chat line\"}",
             chat, kind, i, run, kind == 'l' ? "message" : "burst", shown);
    sent_at[i] = now_ms();
    send_text(A, text);
}

static long want_arrived;
static int arrived_enough(void)
{
    return arrived >= want_arrived;
}
static int fanout_done(void)
{
    return got_f >= nr;
}

/* The server's CPU time so far in seconds (user + system), when SERVER_PID names it; else 0. */
static double server_cpu(void)
{
    const char *pid = getenv("SERVER_PID");
    char path[64], line[1024];
    if (!pid)
        return 0;
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    unsigned long ut = 0, st = 0;
    /* after ") ": state, then 10 fields, then utime and stime (fields 14 and 15) */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* " (server CPU x µs per what)" for the phase that began at cpu0, or "" without SERVER_PID. */
static const char *cpu_note(double cpu0, double count, const char *what)
{
    static char note[128];
    note[0] = 0;
    if (getenv("SERVER_PID"))
        snprintf(note, sizeof note, "; server CPU %.1f µs per %s", (server_cpu() - cpu0) * 1e6 / count, what);
    return note;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(double *v, int n, double p)
{
    if (!n)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    int i = (int)(p / 100 * n + 0.999999) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: chat-load SETUP [MSGS] [FANOUT_MSGS]\n");
        return 2;
    }
    int msgs = argc > 2 ? atoi(argv[2]) : 2000, fmsgs = argc > 3 ? atoi(argv[3]) : 200;
    FILE *f = fopen(argv[1], "r");
    if (!f)
        die("setup file");
    char key[16], val[1024], ta[1024] = "", tb[1024] = "", ab[1024] = "", g[1024] = "";
    static char rtok[MAX_SOCKS][1024];
    while (fscanf(f, "%15s %1023s", key, val) == 2) {
        if (!strcmp(key, "port"))
            port = atoi(val);
        else if (!strcmp(key, "a"))
            snprintf(ta, sizeof ta, "%s", val);
        else if (!strcmp(key, "b"))
            snprintf(tb, sizeof tb, "%s", val);
        else if (!strcmp(key, "ab"))
            snprintf(ab, sizeof ab, "%s", val);
        else if (!strcmp(key, "g"))
            snprintf(g, sizeof g, "%s", val);
        else if (!strcmp(key, "r") && nr < MAX_SOCKS - 4)
            snprintf(rtok[nr++], sizeof rtok[0], "%s", val);
    }
    fclose(f);
    run = (unsigned)getpid() ^ (unsigned)time(NULL);
    A = open_events(ta);
    B = open_events(tb);
    first_r = nsocks;
    for (int i = 0; i < nr; i++)
        open_events(rtok[i]);
    ep = epoll_create1(0);
    for (int i = 0; i < nsocks; i++) {
        int fl = fcntl(socks[i].fd, F_GETFL);
        if (fl < 0 || fcntl(socks[i].fd, F_SETFL, fl | O_NONBLOCK))
            die("O_NONBLOCK");
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, socks[i].fd, &e);
    }
    int total = 200 + 2 * msgs;
    sent_at = calloc((size_t)total, sizeof *sent_at);
    lat = calloc((size_t)total, sizeof *lat);
    per = calloc((size_t)(fmsgs + 20) * (size_t)(nr + 1), sizeof *per);
    char text[512];
    /* Latency: one at a time (200 warm-up messages first). */
    double cpu0 = 0;
    for (int i = 0; i < 200 + msgs; i++) {
        if (i == 200) {
            nlat = 0;
            cpu0 = server_cpu();
        }
        send_ab(ab, 'l', i, i);
        want_arrived = i + 1;
        pump(arrived_enough);
    }
    double p50 = pct(lat, nlat, 50), p99 = pct(lat, nlat, 99), mx = pct(lat, nlat, 100);
    printf(
        "C client: chat latency (%d msgs A->B, one in flight): p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 < 1 "
        "ms)%s\n",
        msgs, p50, p99, mx, cpu_note(cpu0, msgs, "message"));
    /* Burst: 64 in flight. */
    nlat = 0;
    long base = arrived;
    int sent = 0;
    double t0 = now_ms();
    cpu0 = server_cpu();
    while (arrived - base < msgs) {
        while (sent < msgs && sent - (arrived - base) < IN_FLIGHT) {
            int i = 200 + msgs + sent;
            send_ab(ab, 'b', i, sent);
            sent++;
        }
        want_arrived = arrived + 1;
        pump(arrived_enough);
    }
    double el = (now_ms() - t0) / 1000;
    printf("C client: chat burst (%d msgs A->B, %d in flight): %.0f msgs/s, p50 %.2f ms, p99 %.2f ms%s\n", msgs,
           IN_FLIGHT, msgs / el, pct(lat, nlat, 50), pct(lat, nlat, 99), cpu_note(cpu0, msgs, "message"));
    /* Fan-out: one message at a time to the group (20 warm-up messages first). */
    if (nr && *g) {
        double *last = calloc((size_t)fmsgs, sizeof *last);
        double tf = 0;
        for (int i = -20; i < fmsgs; i++) {
            if (i == 0) {
                nper = 0;
                tf = now_ms();
                cpu0 = server_cpu();
            }
            cur_f = i + 20;
            got_f = 0;
            snprintf(text, sizeof text,
                     "{\"type\":\"message.send\",\"chat_id\":\"%s\",\"client_id\":\"f%ld_%x\",\"text\":\"fan-out %d\"}",
                     g, cur_f, run, i);
            f_t0 = now_ms();
            send_text(A, text);
            pump(fanout_done);
            if (i >= 0)
                last[i] = f_last;
        }
        double elf = (now_ms() - tf) / 1000;
        printf("C client: chat fan-out (1 -> %d receivers, %d msgs one at a time): %.0f deliveries/s, per-delivery p50 "
               "%.2f ms p99 %.2f ms, last receiver p50 %.2f ms p99 %.2f ms%s\n",
               nr, fmsgs, (double)nr * fmsgs / elf, pct(per, nper, 50), pct(per, nper, 99), pct(last, fmsgs, 50),
               pct(last, fmsgs, 99), cpu_note(cpu0, (double)nr * fmsgs, "delivery"));
    }
    return 0;
}
