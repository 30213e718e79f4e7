/* The direct JSON writer (json_writer.h). */
#include "core/json_writer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/fmt.h"
#include "core/utf8.h"

void jw_init(struct jw *w, struct buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void put(struct jw *w, const char *p, size_t n)
{
    if (!w->err)
        w->err = buf_append(w->out, p, n);
}

/* What comes before a value: a comma after an earlier member; refuses a value where an object's
 * key is due. */
static int before_value(struct jw *w)
{
    if (w->err)
        return 0;
    if (w->after_key) {
        w->after_key = 0;
        return 1;
    }
    if (w->depth > 0) {
        if (w->is_obj[w->depth - 1]) {
            w->err = DP_ERR_INVALID;
            return 0;
        }
        if (w->members[w->depth - 1])
            put(w, ",", 1);
        w->members[w->depth - 1] = 1;
    }
    return !w->err;
}

static void open_container(struct jw *w, int obj)
{
    if (!before_value(w))
        return;
    if (w->depth == JW_MAX_DEPTH) {
        w->err = DP_ERR_TOO_LARGE;
        return;
    }
    w->is_obj[w->depth] = (uint8_t)obj;
    w->members[w->depth++] = 0;
    put(w, obj ? "{" : "[", 1);
}

static void close_container(struct jw *w, int obj)
{
    if (w->err)
        return;
    if (!w->depth || w->is_obj[w->depth - 1] != obj || w->after_key) {
        w->err = DP_ERR_INVALID;
        return;
    }
    w->depth--;
    put(w, obj ? "}" : "]", 1);
}

void jw_obj(struct jw *w)
{
    open_container(w, 1);
}

void jw_obj_end(struct jw *w)
{
    close_container(w, 1);
}

void jw_arr(struct jw *w)
{
    open_container(w, 0);
}

void jw_arr_end(struct jw *w)
{
    close_container(w, 0);
}

/* Strings up to this long made only of printable ASCII other than '"' and '\\' — nearly every
 * key and most values — are written with one append, their punctuation included. */
#define PLAIN_MAX 120

/* head, then s[0..n) quoted, then tail (each at most a byte) with one append, when s is short and
 * plain; else 0 and nothing written. */
static int put_plain(struct jw *w, char head, const char *s, size_t n, char tail)
{
    char t[PLAIN_MAX + 4];
    if (n > PLAIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return 0;
    }
    size_t o = 0;
    if (head)
        t[o++] = head;
    t[o++] = '"';
    memcpy(t + o, s, n);
    o += n;
    t[o++] = '"';
    if (tail)
        t[o++] = tail;
    put(w, t, o);
    return 1;
}

/* s[0..n) as a JSON string: runs of plain bytes are copied whole; quotes, backslashes and control
 * characters are escaped; a byte that starts no well-formed UTF-8 sequence becomes U+FFFD. */
static void put_string(struct jw *w, const char *s, size_t n)
{
    if (put_plain(w, 0, s, n, 0))
        return;
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n && !w->err;) {
        unsigned char c = p[i];
        size_t len = 1;
        const char *esc = NULL;
        char u[6];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80 && (len = utf8_decode(p + i, n - i, NULL)) > 0) {
            i += len;
            continue;
        }
        put(w, s + run, i - run);
        if (c >= 0x80) { /* not UTF-8 */
            esc = "\xef\xbf\xbd";
            len = 1;
        } else if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c == '\n') {
            esc = "\\n";
        } else if (c == '\r') {
            esc = "\\r";
        } else if (c == '\t') {
            esc = "\\t";
        } else if (c == '\b') {
            esc = "\\b";
        } else if (c == '\f') {
            esc = "\\f";
        } else {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        }
        if (esc)
            put(w, esc, strlen(esc));
        else
            put(w, u, 6);
        i += len;
        run = i;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void jw_key(struct jw *w, const char *key)
{
    if (w->err)
        return;
    if (!w->depth || !w->is_obj[w->depth - 1] || w->after_key) {
        w->err = DP_ERR_INVALID;
        return;
    }
    int comma = w->members[w->depth - 1];
    w->members[w->depth - 1] = 1;
    w->after_key = 1;
    size_t n = strlen(key);
    if (put_plain(w, comma ? ',' : 0, key, n, ':'))
        return;
    if (comma)
        put(w, ",", 1);
    put_string(w, key, n);
    put(w, ":", 1);
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    if (before_value(w))
        put_string(w, s, n);
}

void jw_str(struct jw *w, const char *s)
{
    if (!s)
        jw_null(w);
    else
        jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
    char t[FMT_I64_MAX];
    if (before_value(w))
        put(w, t, fmt_i64(t, v));
}

void jw_real(struct jw *w, double v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    char t[40];
    int n = snprintf(t, sizeof t, "%.17g", v);
    if (n > 0 && (size_t)n < sizeof t - 2 && !strpbrk(t, ".eE")) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    /* As jansson: no '+' and no leading zeros in the exponent (1e300, 2.5e-7). */
    char *e = strchr(t, 'e');
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from++, to++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(t);
    }
    if (before_value(w))
        put(w, t, (size_t)n);
}

void jw_bool(struct jw *w, int v)
{
    if (before_value(w))
        put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
    if (before_value(w))
        put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
    if (before_value(w))
        put(w, json, n);
}

void jw_kstr(struct jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_str(w, s);
}

void jw_kint(struct jw *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_int(w, v);
}

void jw_kbool(struct jw *w, const char *key, int v)
{
    jw_key(w, key);
    jw_bool(w, v);
}

int jw_finish(const struct jw *w)
{
    return w->err ? w->err : w->depth || w->after_key ? DP_ERR_INVALID : DP_OK;
}
