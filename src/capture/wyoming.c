/* Wyoming-style framing of device audio: header line, optional data block, optional binary payload. */
#include "capture/wyoming.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum wy_result fail(const char **code, const char *c, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum wy_result fail(const char **code, const char *c, char *why, size_t whylen, const char *fmt, ...)
{
    *code = c;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return WY_ERROR;
}

static enum wy_type type_of(const char *t)
{
    if (!strcmp(t, "audio-start"))
        return WY_AUDIO_START;
    if (!strcmp(t, "audio-chunk"))
        return WY_AUDIO_CHUNK;
    if (!strcmp(t, "audio-stop"))
        return WY_AUDIO_STOP;
    if (!strcmp(t, "ping"))
        return WY_PING;
    return WY_OTHER;
}

/* An integer field in [min, max]: 0 absent, 1 set, -1 of the wrong type or range. */
static int int_field(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return -1;
    if (!(d >= (double)min && d <= (double)max))
        return -1;
    *out = (int64_t)d;
    return 1;
}

/* Reads the fields of a data object (rate, width, channels, mode, timestamp, seq) into ev. */
static int read_data(json_t *d, struct wy_event *ev, char *why, size_t whylen)
{
    if (!json_is_object(d)) {
        snprintf(why, whylen, "data must be an object");
        return -1;
    }
    int64_t v;
    int r;
    if ((r = int_field(d, "rate", 1000, 192000, &v)) < 0) {
        snprintf(why, whylen, "data.rate must be an integer from 1000 to 192000");
        return -1;
    }
    if (r)
        ev->rate = (long)v;
    if ((r = int_field(d, "width", 2, 2, &v)) < 0) {
        snprintf(why, whylen, "data.width must be 2 (PCM16)");
        return -1;
    }
    if (r)
        ev->width = (long)v;
    if ((r = int_field(d, "channels", 1, 8, &v)) < 0) {
        snprintf(why, whylen, "data.channels must be an integer from 1 to 8");
        return -1;
    }
    if (r)
        ev->channels = (long)v;
    if ((r = int_field(d, "seq", 0, INT64_C(1) << 53, &v)) < 0) {
        snprintf(why, whylen, "data.seq must be an integer >= 0");
        return -1;
    }
    if (r)
        ev->seq = v;
    /* Wyoming's timestamp is milliseconds; a device clock since the epoch when it back-fills. */
    if ((r = int_field(d, "timestamp", 0, INT64_C(1) << 50, &v)) < 0) {
        snprintf(why, whylen, "data.timestamp must be a number of milliseconds >= 0");
        return -1;
    }
    if (r)
        ev->timestamp_ms = v;
    json_t *mode = json_object_get(d, "mode");
    if (mode && !json_is_null(mode)) {
        const char *m = json_string_value(mode);
        if (!m || (strcmp(m, "streaming") && strcmp(m, "batch"))) {
            snprintf(why, whylen, "data.mode must be streaming or batch");
            return -1;
        }
        ev->batch = !strcmp(m, "batch");
    }
    return 0;
}

static json_t *parse_object(const uint8_t *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A header text frame: the header line, optionally followed by its data block. */
static enum wy_result on_header(struct wy_stream *s, const uint8_t *p, size_t n, struct wy_event *ev, const char **code,
                                char *why, size_t whylen)
{
    if (n > WY_HEADER_MAX)
        return fail(code, "too_large", why, whylen, "a header frame holds at most %d bytes", WY_HEADER_MAX);
    const uint8_t *nl = memchr(p, '\n', n);
    size_t line = nl ? (size_t)(nl - p) : n;
    json_t *h = parse_object(p, line);
    if (!h)
        return fail(code, "bad_header", why, whylen, "a header must be one JSON object line");
    struct wy_event e = {.timestamp_ms = -1, .seq = -1};
    enum wy_result res = WY_ERROR;
    int64_t plen = 0, dlen = 0, seq;
    const char *t = json_string_value(json_object_get(h, "type"));
    size_t cap = s->payload_max ? s->payload_max : WY_PAYLOAD_MAX;
    int r1 = int_field(h, "payload_length", 0, INT64_C(1) << 40, &plen);
    if (r1 < 0) {
        res = fail(code, "bad_header", why, whylen, "payload_length must be an integer >= 0");
        goto out;
    }
    if (!t || !*t || strlen(t) > WY_TYPE_MAX) {
        res = fail(code, "bad_header", why, whylen, "type must be a string of 1 to %d characters", WY_TYPE_MAX);
        goto skip_out;
    }
    snprintf(e.name, sizeof e.name, "%s", t);
    e.type = type_of(t);
    if (int_field(h, "data_length", 0, WY_HEADER_MAX, &dlen) < 0) {
        res = fail(code, "bad_header", why, whylen, "data_length must be an integer from 0 to %d", WY_HEADER_MAX);
        goto skip_out;
    }
    int rs = int_field(h, "seq", 0, INT64_C(1) << 53, &seq);
    if (rs < 0) {
        res = fail(code, "bad_header", why, whylen, "seq must be an integer >= 0");
        goto skip_out;
    }
    if (rs)
        e.seq = seq;
    json_t *d = json_object_get(h, "data");
    if (d && !json_is_null(d) && read_data(d, &e, why, whylen)) {
        *code = "bad_header";
        goto skip_out;
    }
    if ((uint64_t)plen > cap) {
        res =
            fail(code, "too_large", why, whylen, "payload_length %lld exceeds the %zu-byte cap", (long long)plen, cap);
        goto skip_out;
    }
    if (plen > 0 && e.type != WY_AUDIO_CHUNK) {
        res = fail(code, "bad_header", why, whylen, "only audio-chunk carries a payload");
        goto skip_out;
    }
    s->pending = e;
    s->want = (size_t)plen;
    if (dlen > 0) {
        size_t rest = nl ? n - line - 1 : 0;
        if (rest == 0) { /* the data block comes as the next text frame */
            s->state = WY_WANT_DATA;
            s->pending.payload_len = (size_t)dlen; /* remembered until the block arrives */
            res = WY_MORE;
            goto out;
        }
        json_t *db = rest == (size_t)dlen ? parse_object(nl + 1, rest) : NULL;
        int bad = !db || read_data(db, &s->pending, why, whylen);
        json_decref(db);
        if (bad) {
            if (!db)
                snprintf(why, whylen, "the data block must be a JSON object of data_length (%lld) bytes",
                         (long long)dlen);
            *code = "bad_header";
            goto skip_out;
        }
    }
    if (plen > 0) {
        s->state = WY_WANT_PAYLOAD;
        res = WY_MORE;
        goto out;
    }
    *ev = s->pending;
    res = WY_EVENT;
    goto out;
skip_out:
    /* A rejected header that announced a payload: its binary frame is dropped, never raw PCM. */
    if (plen > 0)
        s->state = WY_SKIP_PAYLOAD;
    res = WY_ERROR;
out:
    json_decref(h);
    return res;
}

enum wy_result wy_feed(struct wy_stream *s, int is_text, const uint8_t *p, size_t n, struct wy_event *ev,
                       const char **code, char *why, size_t whylen)
{
    switch (s->state) {
    case WY_WANT_DATA: {
        size_t dlen = s->pending.payload_len;
        s->pending.payload_len = 0;
        s->state = WY_WANT_HEADER;
        json_t *db = is_text && n == dlen ? parse_object(p, n) : NULL;
        int bad = !db || read_data(db, &s->pending, why, whylen);
        json_decref(db);
        if (bad) {
            if (!db)
                snprintf(why, whylen, "expected the %zu-byte data block of %s", dlen, s->pending.name);
            if (s->want)
                s->state = WY_SKIP_PAYLOAD;
            *code = "bad_header";
            return WY_ERROR;
        }
        if (s->want) {
            s->state = WY_WANT_PAYLOAD;
            return WY_MORE;
        }
        *ev = s->pending;
        return WY_EVENT;
    }
    case WY_WANT_PAYLOAD:
        s->state = WY_WANT_HEADER;
        if (is_text) {
            /* The payload never came: report it, and read this frame as the next header. */
            return fail(code, "payload_mismatch", why, whylen,
                        "expected the %zu-byte binary payload of %s, got a text frame (the chunk is dropped; "
                        "send the header again)",
                        s->want, s->pending.name);
        }
        if (n != s->want)
            return fail(code, "payload_mismatch", why, whylen,
                        "payload_length said %zu bytes, the binary frame holds %zu (the chunk is dropped)", s->want, n);
        *ev = s->pending;
        ev->payload = p;
        ev->payload_len = n;
        return WY_EVENT;
    case WY_SKIP_PAYLOAD:
        s->state = WY_WANT_HEADER;
        if (!is_text)
            return WY_MORE; /* the payload of a header already refused */
        break;
    case WY_WANT_HEADER:
        break;
    }
    if (is_text)
        return on_header(s, p, n, ev, code, why, whylen);
    if (!s->allow_raw)
        return fail(code, "no_header", why, whylen,
                    "a binary frame must follow an audio-chunk header with its payload_length");
    size_t cap = s->payload_max ? s->payload_max : WY_PAYLOAD_MAX;
    if (n > cap)
        return fail(code, "too_large", why, whylen, "a raw PCM frame holds at most %zu bytes", cap);
    *ev = (struct wy_event){
        .type = WY_AUDIO_CHUNK, .timestamp_ms = -1, .seq = -1, .payload = p, .payload_len = n, .raw = 1};
    snprintf(ev->name, sizeof ev->name, "audio-chunk");
    return WY_EVENT;
}
