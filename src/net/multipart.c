/* Streaming multipart/form-data parser.
 *
 * Unprocessed bytes live in one buffer. In a part's body, everything except the last
 * (delimiter length − 1) bytes is emitted unless the delimiter "\r\n--boundary" is found, so a
 * delimiter split across chunks is still recognised and body bytes are never held back longer. */
#include "net/multipart.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/err.h"

enum mp_state { MP_PREAMBLE, MP_AFTER_BOUNDARY, MP_HEADERS, MP_BODY, MP_DONE };

struct multipart {
    enum mp_state state;
    char delim[80]; /* "\r\n--" + boundary */
    size_t dlen;
    struct buf pending; /* bytes not processed yet */
    int parts;
    struct multipart_cb cb;
    void *arg;
};

/* Reads a parameter (name="value" or name=value) of a header value into out. */
static int header_param(const char *v, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = v; (p = strcasestr(p, name)); p += nlen) {
        if (p != v && !(p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t'))
            continue;
        const char *q = p + nlen;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        size_t n = 0;
        if (*q == '"') {
            q++;
            while (*q && *q != '"' && n + 1 < cap) {
                if (*q == '\\' && q[1])
                    q++;
                out[n++] = *q++;
            }
        } else {
            while (*q && *q != ';' && *q != ' ' && n + 1 < cap)
                out[n++] = *q++;
        }
        out[n] = 0;
        return 1;
    }
    return 0;
}

int multipart_new(struct multipart **out, const char *content_type, const struct multipart_cb *cb, void *arg)
{
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19))
        return DP_ERR_INVALID;
    char boundary[72];
    if (!header_param(content_type, "boundary", boundary, sizeof boundary))
        return DP_ERR_INVALID;
    size_t blen = strlen(boundary);
    if (blen < 1 || blen > 70)
        return DP_ERR_INVALID;
    struct multipart *m = calloc(1, sizeof *m);
    if (!m)
        return DP_ERR_NOMEM;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, blen);
    m->dlen = 4 + blen;
    m->cb = *cb;
    m->arg = arg;
    buf_init(&m->pending, 0);
    /* The first delimiter may start the body without the CRLF: pretend it was there. */
    buf_append(&m->pending, "\r\n", 2);
    *out = m;
    return DP_OK;
}

void multipart_free(struct multipart *m)
{
    if (!m)
        return;
    buf_cleanup(&m->pending);
    free(m);
}

static void consume(struct multipart *m, size_t n)
{
    memmove(m->pending.data, m->pending.data + n, m->pending.len - n);
    m->pending.len -= n;
}

static int parse_headers(struct multipart *m, const char *h, size_t n)
{
    struct multipart_part part;
    memset(&part, 0, sizeof part);
    char line[MULTIPART_HEADERS_MAX + 1];
    for (size_t at = 0; at < n;) {
        const char *eol = memmem(h + at, n - at, "\r\n", 2);
        size_t len = eol ? (size_t)(eol - (h + at)) : n - at;
        memcpy(line, h + at, len);
        line[len] = 0;
        at += len + 2;
        if (memchr(line, 0, len))
            return DP_ERR_INVALID;
        char *colon = strchr(line, ':');
        if (!colon)
            return DP_ERR_INVALID;
        *colon = 0;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcasecmp(line, "Content-Disposition")) {
            if (strncasecmp(v, "form-data", 9))
                return DP_ERR_INVALID;
            header_param(v, "name", part.name, sizeof part.name);
            header_param(v, "filename", part.filename, sizeof part.filename);
        } else if (!strcasecmp(line, "Content-Type")) {
            size_t cl = strlen(v) < sizeof part.content_type - 1 ? strlen(v) : sizeof part.content_type - 1;
            memcpy(part.content_type, v, cl);
            part.content_type[cl] = 0;
        }
    }
    if (++m->parts > MULTIPART_PARTS_MAX)
        return DP_ERR_TOO_LARGE;
    return m->cb.part_begin ? m->cb.part_begin(m->arg, &part) : DP_OK;
}

/* Processes as much of pending as possible. */
static int run(struct multipart *m)
{
    for (;;) {
        char *p = m->pending.data;
        size_t n = m->pending.len;
        switch (m->state) {
        case MP_PREAMBLE: {
            char *d = n ? memmem(p, n, m->delim, m->dlen) : NULL;
            if (!d) {
                /* Preamble text is ignored; keep only what could start a delimiter. */
                if (n >= m->dlen)
                    consume(m, n - (m->dlen - 1));
                return DP_OK;
            }
            consume(m, (size_t)(d - p) + m->dlen);
            m->state = MP_AFTER_BOUNDARY;
            break;
        }
        case MP_AFTER_BOUNDARY:
            if (n < 2)
                return DP_OK;
            if (p[0] == '-' && p[1] == '-') {
                m->state = MP_DONE;
                return DP_OK;
            }
            {
                /* Transport padding (spaces, tabs) may follow a delimiter, then CRLF. */
                size_t i = 0;
                while (i < n && (p[i] == ' ' || p[i] == '\t'))
                    i++;
                if (i + 2 > n)
                    return i > 256 ? DP_ERR_INVALID : DP_OK;
                if (p[i] != '\r' || p[i + 1] != '\n')
                    return DP_ERR_INVALID;
                consume(m, i + 2);
                m->state = MP_HEADERS;
            }
            break;
        case MP_HEADERS: {
            char *end = n >= 2 && p[0] == '\r' && p[1] == '\n' ? p : memmem(p, n, "\r\n\r\n", 4);
            if (!end)
                return n > MULTIPART_HEADERS_MAX ? DP_ERR_TOO_LARGE : DP_OK;
            size_t hlen = (size_t)(end - p);
            if (hlen > MULTIPART_HEADERS_MAX)
                return DP_ERR_TOO_LARGE;
            int err = parse_headers(m, p, hlen);
            if (err)
                return err;
            consume(m, hlen + (end == p ? 2 : 4));
            m->state = MP_BODY;
            break;
        }
        case MP_BODY: {
            char *d = n ? memmem(p, n, m->delim, m->dlen) : NULL;
            if (!d) {
                if (n >= m->dlen) {
                    size_t emit = n - (m->dlen - 1);
                    int err = m->cb.data ? m->cb.data(m->arg, p, emit) : DP_OK;
                    if (err)
                        return err;
                    consume(m, emit);
                }
                return DP_OK;
            }
            int err = d > p && m->cb.data ? m->cb.data(m->arg, p, (size_t)(d - p)) : DP_OK;
            if (!err && m->cb.part_end)
                err = m->cb.part_end(m->arg);
            if (err)
                return err;
            consume(m, (size_t)(d - p) + m->dlen);
            m->state = MP_AFTER_BOUNDARY;
            break;
        }
        case MP_DONE:
            m->pending.len = 0; /* the epilogue is ignored */
            return DP_OK;
        }
    }
}

int multipart_feed(struct multipart *m, const char *p, size_t n)
{
    if (m->state == MP_DONE)
        return DP_OK;
    int err = buf_append(&m->pending, p, n);
    return err ? err : run(m);
}

int multipart_finish(struct multipart *m)
{
    return m->state == MP_DONE ? DP_OK : DP_ERR_INVALID;
}
