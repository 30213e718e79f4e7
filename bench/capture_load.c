/* The load client of bench/capture.mjs: N devices on /ws_pcm streaming 16 kHz mono PCM16 in
 * real time (100 ms chunks, each a Wyoming audio-chunk header frame and its payload frame, with
 * a sequence number), their phases spread over the period; it times each chunk from its send to
 * the ack that covers it (synced on the server). One thread, epoll, non-blocking sockets, one
 * write per chunk, an all-zero mask (RFC 6455 allows it; the payload goes as it is): a client
 * this light leaves the cores to the server. It prints its own CPU beside the figures.
 *
 *   capture_load HOST PORT TOKEN STREAMS SECONDS TAG
 * prints "go" when the streams start (all open), then one line of key=value pairs (p50_ms p99_ms
 * max_ms chunks acked unacked errors client_cpu_s wall_s). Not part of the server; built by
 * bench/capture.mjs (cc -D_GNU_SOURCE). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MS 100
#define CHUNK_BYTES 3200 /* 100 ms of 16 kHz mono PCM16 */
#define RING 1024        /* chunks in flight per stream (seq % RING) */

struct stream {
    int fd;
    long seq;          /* next chunk */
    double sent[RING]; /* send time of chunk seq % RING */
    long acked;        /* chunks below this are acknowledged */
    char *out;         /* bytes not written yet */
    size_t out_len, out_cap;
    char in[8192]; /* frames read, not parsed yet */
    size_t in_len;
    int ready, started, errors;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static double *lat;
static size_t nlat, caplat;

static void note_latency(double ms)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 16;
        if (!(lat = realloc(lat, caplat * sizeof *lat)))
            die("realloc");
    }
    lat[nlat++] = ms;
}

/* A client frame: FIN, opcode, mask bit with an all-zero key, the payload as it is. */
static size_t frame(char *out, int opcode, const void *p, size_t n)
{
    size_t h = 0;
    out[h++] = (char)(0x80 | opcode);
    if (n < 126)
        out[h++] = (char)(0x80 | n);
    else {
        out[h++] = (char)(0x80 | 126);
        out[h++] = (char)(n >> 8);
        out[h++] = (char)(n & 0xff);
    }
    memset(out + h, 0, 4);
    h += 4;
    memcpy(out + h, p, n);
    return h + n;
}

static void queue_out(struct stream *s, const char *p, size_t n)
{
    if (s->out_len + n > s->out_cap) {
        s->out_cap = (s->out_len + n) * 2;
        if (!(s->out = realloc(s->out, s->out_cap)))
            die("realloc");
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
}

static int flush_out(struct stream *s)
{
    while (s->out_len) {
        ssize_t w = write(s->fd, s->out, s->out_len);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        memmove(s->out, s->out + w, s->out_len - (size_t)w);
        s->out_len -= (size_t)w;
    }
    return 0;
}

static long json_int(const char *p, size_t n, const char *key)
{
    const char *k = memmem(p, n, key, strlen(key));
    if (!k)
        return -2;
    k += strlen(key);
    if (!strncmp(k, "null", 4))
        return -1;
    return strtol(k, NULL, 10);
}

/* One server message (text): ready, ack or error. */
static void on_message(struct stream *s, const char *p, size_t n, double t)
{
    if (memmem(p, n, "\"type\":\"ready\"", 14))
        s->ready = 1;
    else if (memmem(p, n, "\"type\":\"ack\"", 12)) {
        long seq = json_int(p, n, "\"seq\":");
        if (!s->started) {
            s->started = 1;
            return;
        }
        for (; s->acked <= seq && s->acked < s->seq; s->acked++)
            note_latency((t - s->sent[s->acked % RING]) * 1000.0);
    } else if (memmem(p, n, "\"type\":\"error\"", 14))
        s->errors++;
}

/* Reads what is there; parses whole frames (the server's are unmasked). -1: closed. */
static int read_in(struct stream *s, double t)
{
    for (int first = 1;; first = 0) {
        ssize_t r = first && s->in_len ? 0 : read(s->fd, s->in + s->in_len, sizeof s->in - s->in_len);
        if (r == 0 && !(first && s->in_len))
            return -1;
        if (r < 0)
            return errno == EAGAIN ? 0 : -1;
        s->in_len += (size_t)r;
        size_t at = 0;
        while (s->in_len - at >= 2) {
            const unsigned char *h = (const unsigned char *)s->in + at;
            size_t len = h[1] & 0x7f, hl = 2;
            if (len == 126) {
                if (s->in_len - at < 4)
                    break;
                len = (size_t)h[2] << 8 | h[3];
                hl = 4;
            } else if (len == 127)
                return -1; /* never this big */
            if (s->in_len - at < hl + len)
                break;
            if ((h[0] & 0x0f) == 1)
                on_message(s, (const char *)h + hl, len, t);
            else if ((h[0] & 0x0f) == 8)
                return -1;
            at += hl + len;
        }
        memmove(s->in, s->in + at, s->in_len - at);
        s->in_len -= at;
    }
}

/* Blocking connect and handshake (what came after it goes to s->in); then non-blocking. */
static int connect_ws(struct stream *s, const char *host, int port, const char *token, const char *name)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a))
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET /ws_pcm?token=%s&device_name=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     token, name, host, port);
    if (write(fd, req, (size_t)n) != n)
        die("write");
    char resp[4096];
    size_t got = 0;
    while (!memmem(resp, got, "\r\n\r\n", 4)) {
        ssize_t r = read(fd, resp + got, sizeof resp - got - 1);
        if (r <= 0)
            die("handshake");
        got += (size_t)r;
    }
    resp[got] = 0;
    size_t head = (size_t)((char *)memmem(resp, got, "\r\n\r\n", 4) - resp) + 4;
    memcpy(s->in, resp + head, got - head);
    s->in_len = got - head;
    if (!strstr(resp, " 101 ")) {
        fprintf(stderr, "handshake refused: %.80s\n", resp);
        exit(1);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: capture_load HOST PORT TOKEN STREAMS SECONDS TAG\n");
        return 2;
    }
    const char *host = argv[1], *token = argv[3], *tag = argv[6];
    int port = atoi(argv[2]), n = atoi(argv[4]);
    double seconds = atof(argv[5]);
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct stream *ss = calloc((size_t)n, sizeof *ss);
    int ep = epoll_create1(0);
    if (!ss || ep < 0)
        die("setup");
    static char payload[CHUNK_BYTES], quiet[CHUNK_BYTES];
    /* Speech-like audio for the server's VAD: a 150 Hz buzz with a harmonic over low noise for two
     * seconds, then a second of the noise alone (as bench/capture.mjs always sent). */
    uint32_t seed = 7;
    for (int i = 0; i < CHUNK_BYTES / 2; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double)((seed >> 16) % 401) - 200;
        int16_t q = (int16_t)v;
        v += 3000 * sin(2 * M_PI * 150 * i / 16000.0) + 1500 * sin(2 * M_PI * 300 * i / 16000.0);
        int16_t b = (int16_t)lrint(v);
        memcpy(payload + 2 * i, &b, 2);
        memcpy(quiet + 2 * i, &q, 2);
    }
    const char *start = "{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1}}\n";
    char buf[CHUNK_BYTES + 512];
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s-%d", tag, i);
        struct stream *s = &ss[i];
        s->fd = connect_ws(s, host, port, token, name);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    /* Each waits for ready, sends audio-start and waits for the first ack (its recording open). */
    double setup_deadline = now_s() + 60;
    for (int waiting = n; waiting && now_s() < setup_deadline;) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 100);
        for (int j = 0; j < k; j++) {
            struct stream *s = evs[j].data.ptr;
            int was_ready = s->ready, was_started = s->started;
            if (read_in(s, now_s()) < 0)
                die("closed during setup");
            if (s->ready && !was_ready) {
                size_t m = frame(buf, 1, start, strlen(start));
                queue_out(s, buf, m);
                flush_out(s);
            }
            if (s->started && !was_started)
                waiting--;
        }
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    printf("go\n");
    fflush(stdout);
    double t0 = now_s(), end = t0 + seconds;
    long chunks = 0;
    for (;;) {
        double t = now_s();
        if (t >= end)
            break;
        for (int i = 0; i < n; i++) {
            struct stream *s = &ss[i];
            /* Chunk k of stream i is due at t0 + (k + i/n) periods. */
            long due = (long)floor(((t - t0) * 1000.0 / CHUNK_MS) - (double)i / n);
            while (s->seq <= due) {
                char hdr[160];
                int hn = snprintf(hdr, sizeof hdr,
                                  "{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1,"
                                  "\"seq\":%ld},\"payload_length\":%d}\n",
                                  s->seq, CHUNK_BYTES);
                size_t m = frame(buf, 1, hdr, (size_t)hn);
                m += frame(buf + m, 2, s->seq % 30 < 20 ? payload : quiet, CHUNK_BYTES);
                if (s->seq - s->acked >= RING)
                    die("more than RING chunks unacknowledged");
                s->sent[s->seq % RING] = now_s();
                queue_out(s, buf, m);
                if (flush_out(s) < 0)
                    s->errors++;
                s->seq++;
                chunks++;
            }
        }
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 2);
        double tr = now_s();
        for (int j = 0; j < k; j++) {
            struct stream *s = evs[j].data.ptr;
            if (read_in(s, tr) < 0) {
                s->errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
            }
        }
    }
    /* The last chunks' acks: up to 3 s more. */
    double drain = now_s() + 3;
    for (;;) {
        long open = 0;
        for (int i = 0; i < n; i++)
            open += ss[i].seq - ss[i].acked;
        if (!open || now_s() > drain)
            break;
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 10);
        double tr = now_s();
        for (int j = 0; j < k; j++)
            if (read_in(evs[j].data.ptr, tr) < 0)
                epoll_ctl(ep, EPOLL_CTL_DEL, ((struct stream *)evs[j].data.ptr)->fd, NULL);
    }
    getrusage(RUSAGE_SELF, &ru1);
    double wall = now_s() - t0;
    double cpu =
        (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
        (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    long unacked = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        unacked += ss[i].seq - ss[i].acked;
        errors += ss[i].errors;
        close(ss[i].fd);
        free(ss[i].out);
    }
    qsort(lat, nlat, sizeof *lat, cmp);
#define PCT(p) (nlat ? lat[(size_t)((p) / 100.0 * (double)(nlat - 1))] : NAN)
    printf("p50_ms=%.1f p99_ms=%.1f max_ms=%.1f chunks=%ld acked=%zu unacked=%ld errors=%ld client_cpu_s=%.3f "
           "wall_s=%.3f\n",
           PCT(50), PCT(99), nlat ? lat[nlat - 1] : NAN, chunks, nlat, unacked, errors, cpu, wall);
    return 0;
}
