/* Request accessors, response builders and the error → status mapping. */
#include "net/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"

const char *req_param(const struct request *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (!strcmp(req->params[i].name, name))
            return req->params[i].value;
    return NULL;
}

const char *req_query(const struct request *req, const char *name)
{
    for (int i = 0; i < req->nquery; i++)
        if (!strcmp(req->query[i].name, name))
            return req->query[i].value;
    return NULL;
}

int req_query_long(const struct request *req, const char *name, long def, long min, long max, long *out)
{
    const char *s = req_query(req, name);
    if (!s) {
        *out = def;
        return DP_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return DP_ERR_INVALID;
    *out = v;
    return DP_OK;
}

static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return 1;
}

int http_range_parse(const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    uint64_t a = 0, b = 0;
    int has_a = parse_u64(&p, &a);
    if (*p++ != '-')
        return 0;
    int has_b = parse_u64(&p, &b);
    if (*p || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *len = b < size ? b : size;
        *start = size - *len;
        return 1;
    }
    if (has_b && b < a)
        return 0;
    if (a >= size)
        return -1;
    uint64_t last = has_b && b < size - 1 ? b : size - 1;
    *start = a;
    *len = last - a + 1;
    return 1;
}

size_t http_pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = text_hexval(r[1])) >= 0 && (lo = text_hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

int http_status_for_err(int err)
{
    switch (err) {
    case DP_OK:
        return 200;
    case DP_ERR_INVALID:
    case DP_ERR_BAD_JSON:
        return 400;
    case DP_ERR_UNAUTHORIZED:
        return 401;
    case DP_ERR_FORBIDDEN:
        return 403;
    case DP_ERR_NOT_FOUND:
        return 404;
    case DP_ERR_CONFLICT:
        return 409;
    case DP_ERR_TOO_LARGE:
    case DP_ERR_QUOTA:
        return 413;
    case DP_ERR_UNSUPPORTED:
        return 415;
    case DP_ERR_UNPROCESSABLE:
        return 422;
    case DP_ERR_RATE_LIMITED:
        return 429;
    case DP_ERR_NOT_IMPLEMENTED:
        return 501;
    case DP_ERR_UNAVAILABLE:
    case DP_ERR_DB:
        return 503;
    case DP_ERR_TIMEOUT:
        return 504;
    default:
        return 500;
    }
}

static void res_reset_body(struct response *res)
{
    json_decref(res->json);
    res->json = NULL;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

void res_json(struct response *res, int status, json_t *json)
{
    res_reset_body(res);
    res->status = status;
    res->json = json;
    snprintf(res->content_type, sizeof res->content_type, "application/json; charset=utf-8");
}

static void res_error_v(struct response *res, const struct request *req, int status, const char *code, const char *fmt,
                        va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *e =
        json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", msg, "request_id", req ? req->request_id : "");
    res_json(res, status, e);
}

void res_error(struct response *res, const struct request *req, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res_error_v(res, req, http_status_for_err(err), dp_errcode(err), fmt, ap);
    va_end(ap);
    if (err == DP_ERR_INTERNAL || err == DP_ERR_NOMEM || err == DP_ERR_IO)
        DP_LOG(LOG_ERROR, "[http] %s %s failed: %s", req ? req->method : "", req ? req->path : "", dp_strerror(err));
}

void res_error_status(struct response *res, const struct request *req, int status, const char *code, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    res_error_v(res, req, status, code, fmt, ap);
    va_end(ap);
}

void res_body(struct response *res, int status, const char *content_type, char *body, size_t len)
{
    res_reset_body(res);
    res->status = status;
    res->body = body;
    res->body_len = len;
    snprintf(res->content_type, sizeof res->content_type, "%s", content_type);
}

void res_header(struct response *res, const char *name, const char *value)
{
    DP_ASSERT(res->nheaders < HTTP_MAX_RES_HEADERS);
    res->headers[res->nheaders].name = strdup(name);
    res->headers[res->nheaders].value = strdup(value);
    res->nheaders++;
}

int res_source_set(struct response *res, const struct res_source *source, uint64_t off, uint64_t len)
{
    struct res_source *s = malloc(sizeof *s);
    if (!s) {
        source->close(source->ctx);
        return DP_ERR_NOMEM;
    }
    *s = *source;
    res_source_free(res->source);
    res->source = s;
    res->fd_off = off;
    res->fd_len = len;
    return DP_OK;
}

void res_source_free(struct res_source *s)
{
    if (s) {
        s->close(s->ctx);
        free(s);
    }
}

void res_cleanup(struct response *res)
{
    res_reset_body(res);
    if (res->fd >= 0)
        close(res->fd);
    res->fd = -1;
    res_source_free(res->source);
    res->source = NULL;
    for (int i = 0; i < res->nheaders; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    res->nheaders = 0;
}

int req_auth_in_arena(const struct request *req)
{
    return req->arena && req->route && !(req->route->flags & ROUTE_WEBSOCKET);
}
