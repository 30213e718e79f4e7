/* RFC 6455 framing, server side (see ws_frame.h). */
#include "net/ws_frame.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], int opcode, size_t n)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n < 65536) {
        out[1] = 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

size_t ws_frame_size(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t len = p[1] & 0x7f;
    if (len < 126)
        return 2 + len;
    if (len == 126)
        return n < 4 ? 0 : 4 + ((size_t)p[2] << 8 | p[3]);
    if (n < 10)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[2 + i];
    return 10 + (size_t)v;
}

void ws_reader_init(struct ws_reader *r, size_t max_msg)
{
    memset(r, 0, sizeof *r);
    r->max_msg = max_msg;
}

void ws_reader_clear(struct ws_reader *r)
{
    free(r->held);
    free(r->msg);
    ws_reader_init(r, r->max_msg);
}

/* Grows *buf to hold need bytes. Nonzero when out of memory. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    uint8_t *b = realloc(*buf, c);
    if (!b)
        return 1;
    *buf = b;
    *cap = c;
    return 0;
}

/* A client frame's header. */
struct frame {
    int fin, opcode;
    size_t header; /* its bytes, mask included */
    uint64_t len;  /* payload bytes */
    uint8_t mask[4];
};

/* Reads the header at p[0..n): 0 with *f filled, 1 when more bytes are needed, else the close
 * code of what is wrong with it. */
static int parse_header(const struct ws_reader *r, const uint8_t *p, size_t n, struct frame *f)
{
    if (n < 2)
        return 1;
    f->fin = p[0] >> 7;
    f->opcode = p[0] & 0x0f;
    if (p[0] & 0x70)
        return 1002; /* no extension was negotiated: reserved bits must be 0 */
    if (!(p[1] & 0x80))
        return 1002; /* a client masks every frame */
    size_t len7 = p[1] & 0x7f, at = 2;
    int control = f->opcode >= 8;
    if (control ? f->opcode > WS_OP_PONG : f->opcode > WS_OP_BINARY)
        return 1002;
    if (control && (!f->fin || len7 > WS_CONTROL_MAX))
        return 1002;
    if (f->opcode == WS_OP_CONT ? !r->msg_opcode : !control && r->msg_opcode)
        return 1002; /* a continuation of nothing, or a new message inside a fragmented one */
    if (len7 == 126) {
        if (n < 4)
            return 1;
        f->len = (uint64_t)p[2] << 8 | p[3];
        at = 4;
    } else if (len7 == 127) {
        if (n < 10)
            return 1;
        f->len = 0;
        for (int i = 0; i < 8; i++)
            f->len = f->len << 8 | p[2 + i];
        if (f->len >> 63)
            return 1002;
        at = 10;
    } else {
        f->len = len7;
    }
    if (!control && f->len + (f->opcode == WS_OP_CONT ? r->msg_len : 0) > r->max_msg)
        return 1009;
    if (n < at + 4)
        return 1;
    memcpy(f->mask, p + at, 4);
    f->header = at + 4;
    return 0;
}

/* XORs the mask over p[0..n), eight bytes at a time where it can. */
static void unmask(uint8_t *p, size_t n, const uint8_t mask[4])
{
    uint8_t m8[8];
    for (int i = 0; i < 8; i++)
        m8[i] = mask[i & 3];
    uint64_t m;
    memcpy(&m, m8, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] ^= mask[i & 3];
}

/* The status codes a peer may put in a close frame (RFC 6455 7.4, IANA registry). */
static int close_code_ok(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Acts on one whole frame whose payload is p[0..n). 0, WS_READER_STOPPED, or a close code. */
static int on_frame(struct ws_reader *r, const struct frame *f, uint8_t *p, size_t n, ws_reader_cb cb, void *arg)
{
    if (f->opcode == WS_OP_CLOSE) {
        if (n == 1 || (n >= 2 && !close_code_ok((unsigned)p[0] << 8 | p[1])))
            return 1002;
        if (n > 2 && !utf8_valid((const char *)p + 2, n - 2))
            return 1007;
    }
    if (f->opcode >= 8 || (f->fin && f->opcode != WS_OP_CONT))
        return cb(arg, f->opcode, p, n) ? WS_READER_STOPPED : 0;
    if (reserve(&r->msg, &r->msg_cap, r->msg_len + n + 1)) /* + 1: never NULL, even for empty fragments */
        return 1011;
    memcpy(r->msg + r->msg_len, p, n);
    r->msg_len += n;
    if (f->opcode != WS_OP_CONT)
        r->msg_opcode = f->opcode;
    if (!f->fin)
        return 0;
    int op = r->msg_opcode, stop = cb(arg, op, r->msg, r->msg_len);
    free(r->msg);
    r->msg = NULL;
    r->msg_len = r->msg_cap = 0;
    r->msg_opcode = 0;
    return stop ? WS_READER_STOPPED : 0;
}

/* Reads the whole frames at the start of p[0..n); *used says how many bytes they took. */
static int consume(struct ws_reader *r, uint8_t *p, size_t n, size_t *used, ws_reader_cb cb, void *arg)
{
    size_t off = 0;
    int rc = 0;
    while (off < n) {
        struct frame f;
        rc = parse_header(r, p + off, n - off, &f);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc)
            break;
        if (n - off - f.header < f.len)
            break;
        uint8_t *payload = p + off + f.header;
        unmask(payload, (size_t)f.len, f.mask);
        off += f.header + (size_t)f.len;
        if ((rc = on_frame(r, &f, payload, (size_t)f.len, cb, arg)))
            break;
    }
    *used = off;
    return rc;
}

int ws_reader_feed(struct ws_reader *r, uint8_t *p, size_t n, ws_reader_cb cb, void *arg)
{
    size_t used;
    int rc;
    if (r->held_len) {
        if (reserve(&r->held, &r->held_cap, r->held_len + n))
            return 1011;
        memcpy(r->held + r->held_len, p, n);
        r->held_len += n;
        rc = consume(r, r->held, r->held_len, &used, cb, arg);
        if (rc)
            return rc;
        r->held_len -= used;
        if (!r->held_len) {
            free(r->held); /* an idle connection holds nothing */
            r->held = NULL;
            r->held_cap = 0;
        } else {
            memmove(r->held, r->held + used, r->held_len);
        }
        return 0;
    }
    rc = consume(r, p, n, &used, cb, arg);
    if (rc || used == n)
        return rc;
    if (reserve(&r->held, &r->held_cap, n - used))
        return 1011;
    memcpy(r->held, p + used, n - used);
    r->held_len = n - used;
    return 0;
}
