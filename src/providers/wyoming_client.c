/* Wyoming events over TCP (see wyoming_client.h). */
#include "providers/wyoming_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/timeutil.h"
#include "net/tcp_client.h"

void wyc_event_clear(struct wyc_event *ev)
{
    json_decref(ev->data);
    memset(ev, 0, sizeof *ev);
}

/* A header's length field: absent is 0; anything but an integer in [0, max] is an error (-1). */
static long long length_field(json_t *h, const char *key, size_t max)
{
    json_t *v = json_object_get(h, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (unsigned long long)json_integer_value(v) > max)
        return -1;
    return json_integer_value(v);
}

int wyc_parse(const uint8_t *buf, size_t len, struct wyc_event *ev, size_t *used, char *why, size_t whylen)
{
    memset(ev, 0, sizeof *ev);
    *used = 0;
    const uint8_t *nl = memchr(buf, '\n', len < WYC_HEADER_MAX ? len : WYC_HEADER_MAX);
    if (!nl) {
        if (len >= WYC_HEADER_MAX) {
            snprintf(why, whylen, "a header line longer than %d bytes", WYC_HEADER_MAX);
            return WYC_ERROR;
        }
        return WYC_MORE;
    }
    size_t hl = (size_t)(nl - buf);
    json_t *h = json_loadb((const char *)buf, hl, 0, NULL);
    const char *type = json_string_value(json_object_get(h, "type"));
    json_t *data = json_object_get(h, "data");
    long long dl = length_field(h, "data_length", WYC_HEADER_MAX);
    long long pl = length_field(h, "payload_length", WYC_PAYLOAD_MAX);
    if (!json_is_object(h) || !type || !*type || strlen(type) >= sizeof ev->type || dl < 0 || pl < 0 ||
        (data && !json_is_object(data) && !json_is_null(data))) {
        json_decref(h);
        snprintf(why, whylen, "not a Wyoming event header");
        return WYC_ERROR;
    }
    size_t need = hl + 1 + (size_t)dl + (size_t)pl;
    if (len < need) {
        json_decref(h);
        return WYC_MORE;
    }
    snprintf(ev->type, sizeof ev->type, "%s", type);
    ev->data = json_is_object(data) ? json_incref(data) : json_object();
    json_decref(h);
    if (dl) {
        json_t *more = json_loadb((const char *)buf + hl + 1, (size_t)dl, 0, NULL);
        int bad = !json_is_object(more) || json_object_update(ev->data, more);
        json_decref(more);
        if (bad) {
            wyc_event_clear(ev);
            snprintf(why, whylen, "a Wyoming data block that is not a JSON object");
            return WYC_ERROR;
        }
    }
    if (pl) {
        ev->payload = buf + hl + 1 + dl;
        ev->payload_len = (size_t)pl;
    }
    *used = need;
    return WYC_EVENT;
}

int wyc_open(struct wyc_conn *c, const char *address, long connect_ms, long idle_ms, long total_ms, char *why,
             size_t whylen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    buf_init(&c->in, WYC_HEADER_MAX * 2 + WYC_PAYLOAD_MAX);
    c->idle_ms = idle_ms;
    c->deadline = time_mono() + total_ms / 1000.0;
    return tcp_connect(address, connect_ms, &c->fd, why, whylen);
}

int wyc_send(struct wyc_conn *c, const char *type, json_t *data, const void *payload, size_t n)
{
    /* As the Python library writes it: the data in a block of its own after the header line. */
    char *d = data ? json_dumps(data, JSON_COMPACT) : NULL;
    size_t dl = d ? strlen(d) : 0;
    json_t *h = json_pack("{s:s,s:s,s:I,s:I}", "type", type, "version", WYC_VERSION, "data_length", (json_int_t)dl,
                          "payload_length", (json_int_t)n);
    char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    struct buf out;
    buf_init(&out, 0);
    int err = hs && (d || !data) ? DP_OK : DP_ERR_NOMEM;
    if (!err)
        err = buf_printf(&out, "%s\n", hs);
    if (!err && dl)
        err = buf_append(&out, d, dl);
    if (!err && n)
        err = buf_append(&out, payload, n);
    long left = (long)((c->deadline - time_mono()) * 1000);
    if (!err)
        err = left > 0 ? tcp_send_all(c->fd, out.data, out.len, left < c->idle_ms ? left : c->idle_ms) : DP_ERR_TIMEOUT;
    buf_cleanup(&out);
    free(hs);
    free(d);
    return err;
}

int wyc_next(struct wyc_conn *c, struct wyc_event *ev, char *why, size_t whylen)
{
    if (c->used) {
        memmove(c->in.data, c->in.data + c->used, c->in.len - c->used);
        c->in.len -= c->used;
        c->used = 0;
    }
    for (;;) {
        int r = c->in.len ? wyc_parse((const uint8_t *)c->in.data, c->in.len, ev, &c->used, why, whylen) : WYC_MORE;
        if (r == WYC_EVENT)
            return DP_OK;
        if (r == WYC_ERROR)
            return DP_ERR_UNAVAILABLE;
        long left = (long)((c->deadline - time_mono()) * 1000);
        if (left <= 0) {
            snprintf(why, whylen, "the Wyoming service took too long");
            return DP_ERR_TIMEOUT;
        }
        char tmp[16384];
        long got = tcp_recv(c->fd, tmp, sizeof tmp, left < c->idle_ms ? left : c->idle_ms);
        if (got == -2) {
            snprintf(why, whylen, "the Wyoming service sent nothing for %ld ms", left < c->idle_ms ? left : c->idle_ms);
            return DP_ERR_TIMEOUT;
        }
        if (got <= 0) {
            snprintf(why, whylen, "the Wyoming service hung up");
            return DP_ERR_UNAVAILABLE;
        }
        if (buf_append(&c->in, tmp, (size_t)got)) {
            snprintf(why, whylen, "the Wyoming service sent too much at once");
            return DP_ERR_UNAVAILABLE;
        }
    }
}

void wyc_close(struct wyc_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_cleanup(&c->in);
}
