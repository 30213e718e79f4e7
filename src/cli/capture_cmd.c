/* doppel capture FILE|- : streams a WAV file (or stdin: a WAV from arecord, or raw PCM16) to a
 * server as a device over /ws_pcm, keeps every chunk until the server acknowledges it as synced,
 * and after a lost connection reconnects and resumes from the server's last ack. The reference
 * device client. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/opus_packet.h"
#include "audio/wav.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "net/ws_client.h"

struct opts {
    const char *url, *token, *device, *input;
    long rate, channels, chunk_ms, retry_for;
    double speed;
    int quiet;
    int opus; /* encode 20 ms Opus packets and stream to /ws_omi, as an Omi device does */
};

/* The audio source: a file descriptor positioned at the first sample. */
struct source {
    int fd;
    long rate, channels;
    uint64_t left; /* bytes of samples left (UINT64_MAX: until EOF) */
};

/* A chunk sent and not acknowledged yet. */
struct chunk {
    int64_t seq;
    size_t n;
    char *p;
};

struct pending {
    struct chunk *v;
    size_t head, len, cap; /* a ring */
    size_t bytes;
};

static long read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

static long pread_fn(void *ctx, uint64_t off, void *buf, size_t n)
{
    ssize_t r = pread(*(int *)ctx, buf, n, (off_t)off);
    return r < 0 ? -1 : (long)r;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A WAV on a pipe (arecord writes sizes it cannot know yet): walk to the data chunk reading
 * forward only. The 12 bytes of the RIFF header were read. */
static int wav_stream_open(struct source *s)
{
    uint8_t h[8], fmt[16];
    int have_fmt = 0;
    for (int i = 0; i < 64; i++) {
        if (read_full(s->fd, h, 8) != 8)
            return DP_ERR_INVALID;
        uint32_t size = le32(h + 4);
        if (!memcmp(h, "data", 4)) {
            s->left = size && size != 0xffffffffu ? size : UINT64_MAX;
            return have_fmt ? DP_OK : DP_ERR_INVALID;
        }
        if (!memcmp(h, "fmt ", 4) && size >= 16 && size < 1024) {
            if (read_full(s->fd, fmt, 16) != 16)
                return DP_ERR_INVALID;
            s->channels = fmt[2] | fmt[3] << 8;
            s->rate = (long)le32(fmt + 4);
            if ((fmt[14] | fmt[15] << 8) != 16 || (fmt[0] | fmt[1] << 8) != 1)
                return DP_ERR_UNSUPPORTED;
            have_fmt = 1;
            size -= 16;
        }
        for (uint32_t skip = size + (size & 1); skip > 0;) { /* chunks are word-aligned */
            uint8_t junk[256];
            long r = read_full(s->fd, junk, skip < sizeof junk ? skip : sizeof junk);
            if (r <= 0)
                return DP_ERR_INVALID;
            skip -= (uint32_t)r;
        }
    }
    return DP_ERR_INVALID;
}

static int source_open(const struct opts *o, struct source *s, char *err, size_t errlen)
{
    s->rate = o->rate;
    s->channels = o->channels;
    s->left = UINT64_MAX;
    if (!strcmp(o->input, "-")) {
        s->fd = 0;
        uint8_t riff[12];
        long n = read_full(0, riff, sizeof riff);
        if (n == 12 && !memcmp(riff, "RIFF", 4) && !memcmp(riff + 8, "WAVE", 4)) {
            int e = wav_stream_open(s);
            if (e)
                snprintf(err, errlen, "stdin: a WAV must be 16-bit PCM with a fmt chunk before its data");
            return e;
        }
        /* Raw PCM: what was read is audio. Rewinding a pipe is impossible: keep it by a temp pipe. */
        int pfd[2];
        if (n < 0 || pipe(pfd)) {
            snprintf(err, errlen, "stdin: cannot read");
            return DP_ERR_IO;
        }
        if (n > 0 && write(pfd[1], riff, (size_t)n) != n) {
            snprintf(err, errlen, "stdin: cannot read");
            return DP_ERR_IO;
        }
        close(pfd[1]);
        s->fd = -pfd[0] - 2; /* see source_read: these bytes first, then stdin */
        return DP_OK;
    }
    s->fd = open(o->input, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        snprintf(err, errlen, "%s: %s", o->input, strerror(errno));
        return DP_ERR_IO;
    }
    off_t size = lseek(s->fd, 0, SEEK_END);
    struct wav_info w;
    if (size < 0 || wav_parse(pread_fn, &s->fd, (uint64_t)size, &w) || w.bits != 16) {
        snprintf(err, errlen, "%s: not a 16-bit PCM WAV file", o->input);
        return DP_ERR_INVALID;
    }
    s->rate = (long)w.rate;
    s->channels = w.channels;
    s->left = w.frames * w.frame_bytes;
    lseek(s->fd, (off_t)w.data_off, SEEK_SET);
    return DP_OK;
}

/* Up to n bytes of samples: bytes read, 0 at the end, -1 on error. */
static long source_read(struct source *s, char *buf, size_t n)
{
    if (s->left == 0)
        return 0;
    if (s->left < n)
        n = (size_t)s->left;
    long r;
    if (s->fd <= -2) { /* raw stdin: the peeked bytes, then stdin itself */
        r = read_full(-s->fd - 2, buf, n);
        if (r == 0) {
            close(-s->fd - 2);
            s->fd = 0;
            return source_read(s, buf, n);
        }
    } else
        r = read_full(s->fd, buf, n);
    if (r > 0 && s->left != UINT64_MAX)
        s->left -= (uint64_t)r;
    return r;
}

static int pending_push(struct pending *q, int64_t seq, char *p, size_t n)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct chunk *v = malloc(cap * sizeof *v);
        if (!v)
            return DP_ERR_NOMEM;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len++) % q->cap] = (struct chunk){seq, n, p};
    q->bytes += n;
    return DP_OK;
}

/* Forgets the chunks the server has (seq <= acked). */
static void pending_drop(struct pending *q, int64_t acked)
{
    while (q->len && q->v[q->head].seq <= acked) {
        q->bytes -= q->v[q->head].n;
        free(q->v[q->head].p);
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
}

static int send_chunk(struct ws_client *c, const struct source *s, const struct chunk *k)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "{\"type\":\"audio-chunk\",\"data\":{\"rate\":%ld,\"width\":2,\"channels\":%ld,\"seq\":%lld},"
                     "\"payload_length\":%zu}\n",
                     s->rate, s->channels, (long long)k->seq, k->n);
    return ws_client_send(c, 1, h, (size_t)n) || ws_client_send(c, 0, k->p, k->n) ? DP_ERR_IO : DP_OK;
}

/* One server event: ack → what it covers is forgotten; recording.closed → *closed; error → said. */
static void on_event(const struct opts *o, const char *p, struct pending *q, int64_t *acked, char *rec_id,
                     int64_t *bytes, int *closed)
{
    json_t *j = json_loads(p, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *d = json_object_get(j, "data");
    if (type && !strcmp(type, "ack")) {
        json_t *seq = json_object_get(d, "seq");
        if (json_is_integer(seq) && json_integer_value(seq) > *acked)
            *acked = json_integer_value(seq);
        pending_drop(q, *acked);
        const char *id = json_string_value(json_object_get(d, "recording_id"));
        if (id)
            snprintf(rec_id, ID_LEN, "%s", id);
        *bytes = json_integer_value(json_object_get(d, "bytes"));
    } else if (type && !strcmp(type, "recording.closed")) {
        *closed = 1;
        *bytes = json_integer_value(json_object_get(d, "bytes"));
    } else if (type && !strcmp(type, "error") && !o->quiet)
        fprintf(stderr, "doppel capture: server: %s: %s\n", json_string_value(json_object_get(d, "code")),
                json_string_value(json_object_get(d, "message")));
    json_decref(j);
}

static void usage(void)
{
    fprintf(
        stderr,
        "Usage: doppel capture FILE|- --token TOKEN [--url http://127.0.0.1:8080] [--device NAME]\n"
        "       [--speed 1] [--chunk-ms 100] [--rate 16000 --channels 1 (raw stdin)] [--retry-for 60] [--opus] [--quiet]\n"
        "Streams a 16-bit PCM WAV file, or stdin (a WAV, e.g. arecord -f S16_LE -r 16000 -t wav, or raw PCM16),\n"
        "to the server as a device; reconnects and resumes from the last acknowledged chunk when the connection\n"
        "drops. --speed: 1 real time, 0 as fast as acks allow. --opus: 20 ms Opus packets to /ws_omi (as an Omi\n"
        "device sends). The token may be given as DOPPEL_TOKEN.\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){"http://127.0.0.1:8080", getenv("DOPPEL_TOKEN"), "cli", NULL, 16000, 1, 100, 60, 1.0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--opus")) {
            o->opus = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return -1;
        if (a[0] == '-' && a[1] == '-' && !v)
            return 1;
        if (!strcmp(a, "--url"))
            o->url = v;
        else if (!strcmp(a, "--token"))
            o->token = v;
        else if (!strcmp(a, "--device"))
            o->device = v;
        else if (!strcmp(a, "--speed"))
            o->speed = atof(v);
        else if (!strcmp(a, "--chunk-ms"))
            o->chunk_ms = atol(v);
        else if (!strcmp(a, "--rate"))
            o->rate = atol(v);
        else if (!strcmp(a, "--channels"))
            o->channels = atol(v);
        else if (!strcmp(a, "--retry-for"))
            o->retry_for = atol(v);
        else if (!o->input && (a[0] != '-' || !a[1])) {
            o->input = a;
            continue;
        } else
            return 1;
        i++;
    }
    if (!o->input || !o->token || !*o->token || o->chunk_ms < 10 || o->chunk_ms > 1000 || o->speed < 0 ||
        o->rate < 1000 || o->rate > 192000 || o->channels < 1 || o->channels > 8 || o->retry_for < 0)
        return 1;
    return 0;
}

/* Connects and learns the resume point: the server's last durable seq for this device. */
static int connect_device(const struct opts *o, const struct source *s, struct ws_client **c, int64_t *resume,
                          char *rec_id, char *err, size_t errlen)
{
    char url[2048];
    const char *base = !strncmp(o->url, "http://", 7) ? o->url + 7 : !strncmp(o->url, "ws://", 5) ? o->url + 5 : o->url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    /* An access token (base64url and dots) and a device name (A-Z a-z 0-9 . _ -) need no escaping. */
    snprintf(url, sizeof url, "ws://%.*s/%s?token=%s&device_name=%s", (int)bl, base, o->opus ? "ws_omi" : "ws_pcm",
             o->token, o->device);
    int e = ws_client_connect(url, 5000, c, err, errlen);
    if (e)
        return e;
    char start[256];
    int n = snprintf(
        start, sizeof start,
        "{\"type\":\"audio-start\",\"data\":{\"rate\":%ld,\"width\":2,\"channels\":%ld,\"mode\":\"streaming\"}}\n",
        s->rate, s->channels);
    if (ws_client_send(*c, 1, start, (size_t)n))
        goto broken;
    double deadline = time_mono() + 10;
    while (time_mono() < deadline) {
        int text;
        char *p;
        size_t len;
        if (ws_client_recv(*c, 1000, &text, &p, &len) == DP_ERR_IO)
            goto broken;
        if (!p)
            continue;
        json_t *j = text ? json_loads(p, 0, NULL) : NULL;
        free(p);
        const char *type = json_string_value(json_object_get(j, "type"));
        if (type && !strcmp(type, "ack")) {
            json_t *d = json_object_get(j, "data"), *seq = json_object_get(d, "seq");
            *resume = json_is_integer(seq) ? json_integer_value(seq) : -1;
            const char *id = json_string_value(json_object_get(d, "recording_id"));
            snprintf(rec_id, ID_LEN, "%s", id ? id : "");
            json_decref(j);
            return DP_OK;
        }
        if (type && !strcmp(type, "error")) {
            snprintf(err, errlen, "server: %s",
                     json_string_value(json_object_get(json_object_get(j, "data"), "message")));
            json_decref(j);
            goto fail;
        }
        json_decref(j);
    }
broken:
    snprintf(err, errlen, "the connection dropped before the server's first ack");
fail:
    ws_client_free(*c);
    *c = NULL;
    return DP_ERR_IO;
}

int cli_capture(int argc, char **argv)
{
    struct opts o;
    int pr = parse_args(argc, argv, &o);
    if (pr) {
        usage();
        return pr < 0 ? 0 : 2;
    }
    char err[512];
    struct source s;
    if (source_open(&o, &s, err, sizeof err)) {
        fprintf(stderr, "doppel capture: %s\n", err);
        return 1;
    }
    struct pending q = {0};
    struct ws_client *c = NULL;
    char rec_id[ID_LEN] = "";
    int64_t acked = -1, next = -1, bytes = 0;
    int eof = 0, closed = 0, stopped = 0, reconnects = -1, rc = 1;
    struct opus_enc *enc = NULL;
    if (o.opus) { /* one packet a chunk: 20 ms frames of mono */
        o.chunk_ms = 20;
        if (s.channels != 1 || !(enc = opus_enc_new((int)s.rate, 24000))) {
            fprintf(stderr, "doppel capture: --opus needs mono audio at 8, 12, 16, 24 or 48 kHz\n");
            goto out;
        }
    }
    size_t chunk_bytes = (size_t)(s.rate * o.chunk_ms / 1000) * (size_t)(2 * s.channels);
    size_t inflight_max = (size_t)2 << 20; /* unacked audio kept: below the server's queue per device */
    double t0 = 0, last_ok = time_mono();
    int64_t first_seq = 0;
    while (!closed) {
        if (!c) {
            int64_t resume;
            int e = connect_device(&o, &s, &c, &resume, rec_id, err, sizeof err);
            if (e) {
                if (e == DP_ERR_UNAUTHORIZED || e == DP_ERR_INVALID || time_mono() - last_ok > o.retry_for) {
                    fprintf(stderr, "doppel capture: %s\n", err);
                    goto out;
                }
                usleep(200 * 1000);
                continue;
            }
            reconnects++;
            last_ok = time_mono();
            if (next < 0) { /* first connection: new audio continues after what the device has */
                next = first_seq = resume + 1;
                acked = resume;
                t0 = time_mono();
            }
            if (resume > acked)
                acked = resume;
            pending_drop(&q, acked);
            stopped = 0;
            for (size_t i = 0; i < q.len; i++)
                if (send_chunk(c, &s, &q.v[(q.head + i) % q.cap]))
                    break;
        }
        /* Send what is due (real-time pacing at --speed), within the unacked budget. */
        while (!eof && q.bytes < inflight_max) {
            double due = t0 + (double)(next - first_seq) * (double)o.chunk_ms / 1000.0 / (o.speed > 0 ? o.speed : 1e9);
            if (o.speed > 0 && time_mono() < due)
                break;
            char *p = malloc(chunk_bytes);
            long n = p ? source_read(&s, p, chunk_bytes) : -1;
            if (n <= 0) {
                free(p);
                eof = 1;
                if (n < 0)
                    fprintf(stderr, "doppel capture: read error: %s\n", strerror(errno));
                break;
            }
            n -= n % (long)(2 * s.channels);
            if (enc) { /* the last frame padded with silence */
                memset(p + n, 0, chunk_bytes - (size_t)n);
                char *pkt = malloc(OPUS_PACKET_MAX);
                int len = pkt ? opus_enc_frame(enc, (const int16_t *)p, (uint8_t *)pkt, OPUS_PACKET_MAX) : -1;
                free(p);
                p = pkt;
                if (len <= 0) {
                    free(p);
                    fprintf(stderr, "doppel capture: Opus encoding failed\n");
                    goto out;
                }
                n = len;
            }
            if (pending_push(&q, next, p, (size_t)n)) {
                free(p);
                goto out;
            }
            if (send_chunk(c, &s, &q.v[(q.head + q.len - 1) % q.cap]))
                break;
            next++;
        }
        if (eof && q.len == 0 && !stopped) {
            static const char stop[] = "{\"type\":\"audio-stop\",\"data\":{\"timestamp\":0}}\n";
            ws_client_send(c, 1, stop, sizeof stop - 1);
            stopped = 1;
        }
        int text;
        char *p = NULL;
        size_t len;
        int e = ws_client_recv(c, 20, &text, &p, &len);
        if (e == DP_ERR_IO) {
            ws_client_free(c);
            c = NULL;
            if (!o.quiet)
                fprintf(stderr, "doppel capture: connection lost; resuming\n");
            continue;
        }
        if (p && text)
            on_event(&o, p, &q, &acked, rec_id, &bytes, &closed);
        free(p);
    }
    printf("{\"recording_id\":\"%s\",\"bytes\":%lld,\"chunks\":%lld,\"reconnects\":%d}\n", rec_id, (long long)bytes,
           (long long)(next - first_seq), reconnects);
    rc = 0;
out:
    if (enc)
        opus_enc_free(enc);
    ws_client_free(c);
    pending_drop(&q, INT64_MAX);
    free(q.v);
    if (s.fd > 0)
        close(s.fd);
    return rc;
}
