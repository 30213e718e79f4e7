/* Outbound HTTP on libcurl's easy interface. Blocking by design: provider calls run on job workers
 * or on the provider pool's threads (server.h's ROUTE_SLOW), which have nothing else to do while
 * they wait; the CPU workers and the event loop never run one. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"

int http_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? DP_OK : DP_ERR_IO;
}

/* Each thread that calls out keeps one easy handle between its calls: the handle's connection
 * cache keeps the provider's connection open, so every call after the first goes without a TCP
 * (and TLS) handshake — most of what a remote model's first token costs beyond the model itself.
 * Freed when the thread ends; the main thread (a CLI command) makes a handle per call. */
static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;
static int handle_key_ok;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void handle_key_init(void)
{
    handle_key_ok = pthread_key_create(&handle_key, handle_free) == 0;
}

/* A handle for one call: the thread's own (*kept 1: not to be cleaned up), reset, or a new one. */
static CURL *call_handle(int *kept)
{
    *kept = 0;
    pthread_once(&handle_once, handle_key_init);
    if (!handle_key_ok || syscall(SYS_gettid) == getpid())
        return curl_easy_init();
    CURL *c = pthread_getspecific(handle_key);
    if (c) {
        curl_easy_reset(c); /* options go; the connection cache stays */
        *kept = 1;
        return c;
    }
    c = curl_easy_init();
    if (c && !pthread_setspecific(handle_key, c))
        *kept = 1;
    return c;
}

struct sink {
    struct buf b;
    int too_large;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    int err = buf_append(&s->b, p, size * n);
    s->too_large |= err == DP_ERR_TOO_LARGE;
    return err ? 0 : size * n; /* 0 aborts the transfer */
}

/* What a POST sends, whatever happens to the answer: the body, the headers (the key only in a
 * header, never in a URL or a message) and the options every call shares. */
struct post_setup {
    CURL *c;
    int kept; /* c is the thread's (call_handle) */
    struct curl_slist *h;
    char *body; /* a JSON body's text (owned) */
};

static struct curl_slist *add_header(struct curl_slist *h, const char *line)
{
    struct curl_slist *n = h ? curl_slist_append(h, line) : NULL;
    if (!n)
        curl_slist_free_all(h);
    return n;
}

/* auth: a whole header line ("Authorization: Bearer …", "xi-api-key: …"), wiped after use. */
static int post_setup_bytes(struct post_setup *ps, const char *url, const char *auth, const char *content_type,
                            const void *body, size_t len, const char *accept)
{
    char line[600];
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    ps->c = call_handle(&ps->kept);
    ps->h = curl_slist_append(NULL, line);
    /* No "Expect: 100-continue" for bodies over 1 KiB: a prompt would wait a round trip (or a
     * second, with servers that never answer it) before it is sent. */
    ps->h = add_header(ps->h, "Expect:");
    snprintf(line, sizeof line, "Accept: %s", accept);
    ps->h = add_header(ps->h, line);
    if (auth && *auth) {
        snprintf(line, sizeof line, "%s", auth);
        ps->h = add_header(ps->h, line);
        sodium_memzero(line, sizeof line);
    }
    if (!ps->c || !ps->h)
        return DP_ERR_NOMEM;
    curl_easy_setopt(ps->c, CURLOPT_URL, url);
    curl_easy_setopt(ps->c, CURLOPT_HTTPHEADER, ps->h);
    curl_easy_setopt(ps->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(ps->c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(ps->c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(ps->c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(ps->c, CURLOPT_TCP_NODELAY, 1L);
    return DP_OK;
}

static int post_setup(struct post_setup *ps, const char *url, const char *bearer, const json_t *body,
                      const char *accept)
{
    memset(ps, 0, sizeof *ps);
    if (!(ps->body = json_dumps(body, JSON_COMPACT)))
        return DP_ERR_NOMEM;
    char auth[600] = "";
    if (bearer && *bearer)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
    int err = post_setup_bytes(ps, url, auth, "application/json", ps->body, strlen(ps->body), accept);
    sodium_memzero(auth, sizeof auth);
    return err;
}

static void post_cleanup(struct post_setup *ps)
{
    curl_slist_free_all(ps->h);
    if (ps->c && !ps->kept)
        curl_easy_cleanup(ps->c);
    free(ps->body);
}

int http_post_json(const struct http_post *p, long *status, json_t **answer, char *why, size_t whylen)
{
    char dummy[1];
    if (!why)
        why = dummy, whylen = sizeof dummy;
    why[0] = 0;
    *answer = NULL;
    *status = 0;
    struct post_setup ps;
    struct sink s = {0};
    buf_init(&s.b, p->answer_max);
    int err = post_setup(&ps, p->url, p->bearer, p->body, "application/json");
    if (err)
        goto out;
    curl_easy_setopt(ps.c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(ps.c, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(ps.c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(ps.c, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(ps.c);
    if (s.too_large) {
        snprintf(why, whylen, "the answer is larger than %zu bytes", p->answer_max);
        err = DP_ERR_TOO_LARGE;
        goto out;
    }
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
        err = DP_ERR_UNAVAILABLE;
        goto out;
    }
    curl_easy_getinfo(ps.c, CURLINFO_RESPONSE_CODE, status);
    if (s.b.len)
        *answer = json_loadb(s.b.data, s.b.len, 0, NULL);
    err = DP_OK;
out:
    buf_cleanup(&s.b);
    post_cleanup(&ps);
    return err;
}

/* A streamed answer as it arrives. */
struct stream_state {
    CURL *c;
    /* What the caller asked for (struct http_stream or struct http_bytes). */
    int (*line_fn)(void *ctx, const char *line, size_t len); /* lines of a 2xx answer, or */
    int (*data_fn)(void *ctx, const void *p, size_t len);    /* its bytes as they come */
    int (*cancelled)(void *ctx);
    void *ctx;
    long idle_timeout_ms, total_timeout_ms;
    size_t answer_max;
    long status; /* once the headers are in */
    long retry_after_s;
    struct buf line; /* the line being received (2xx), or the whole body (other statuses) */
    size_t bytes;
    double last_byte; /* time_mono() of the last byte (or of the start) */
    int stopped;      /* line() asked to stop */
    int stalled;      /* idle_timeout_ms passed without a byte */
    int too_large;
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct stream_state *st = arg;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        char v[32];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        char *end;
        long s = strtol(v, &end, 10);
        /* Delta-seconds only; an HTTP date is treated as "some time": a second. */
        st->retry_after_s = end != v && s >= 0 ? s : 1;
    }
    return len;
}

/* Hands every complete line in st->line to line(); keeps the unfinished rest. */
static int flush_lines(struct stream_state *st)
{
    struct buf *b = &st->line;
    size_t start = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] != '\n')
            continue;
        size_t end = i > start && b->data[i - 1] == '\r' ? i - 1 : i;
        b->data[end] = 0;
        if (st->line_fn(st->ctx, b->data + start, end - start))
            return 1;
        start = i + 1;
    }
    memmove(b->data, b->data + start, b->len - start);
    b->len -= start;
    b->data[b->len] = 0;
    return 0;
}

static size_t on_stream_data(char *p, size_t size, size_t n, void *arg)
{
    struct stream_state *st = arg;
    size_t len = size * n;
    if (!st->status)
        curl_easy_getinfo(st->c, CURLINFO_RESPONSE_CODE, &st->status);
    st->bytes += len;
    st->last_byte = time_mono();
    if (st->bytes > st->answer_max) {
        st->too_large = 1;
        return 0;
    }
    if (st->status / 100 == 2 && st->data_fn) {
        if (st->data_fn(st->ctx, p, len)) {
            st->stopped = 1;
            return 0;
        }
        return len;
    }
    int err = buf_append(&st->line, p, len);
    if (err) {
        st->too_large = err == DP_ERR_TOO_LARGE;
        return 0;
    }
    if (st->status / 100 == 2 && flush_lines(st)) {
        st->stopped = 1;
        return 0;
    }
    return len;
}

/* libcurl calls this at least every second and while bytes flow: the caller gone, or the stream
 * silent for too long, ends the transfer. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct stream_state *st = arg;
    if (st->cancelled && st->cancelled(st->ctx)) {
        st->stopped = 1;
        return 1;
    }
    if (st->idle_timeout_ms > 0 && (time_mono() - st->last_byte) * 1000 > (double)st->idle_timeout_ms) {
        st->stalled = 1;
        return 1;
    }
    return 0;
}

/* Runs the prepared POST with st's callbacks and fills r (see http_post_stream). */
static int run_stream(struct post_setup *ps, struct stream_state *st, long connect_timeout_ms,
                      struct http_stream_result *r, char *why, size_t whylen)
{
    st->c = ps->c;
    curl_easy_setopt(ps->c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms > 0 ? connect_timeout_ms : 10000);
    if (st->total_timeout_ms > 0)
        curl_easy_setopt(ps->c, CURLOPT_TIMEOUT_MS, st->total_timeout_ms);
    curl_easy_setopt(ps->c, CURLOPT_WRITEFUNCTION, on_stream_data);
    curl_easy_setopt(ps->c, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(ps->c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(ps->c, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(ps->c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(ps->c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(ps->c, CURLOPT_XFERINFODATA, st);
    CURLcode rc = curl_easy_perform(ps->c);
    curl_easy_getinfo(ps->c, CURLINFO_RESPONSE_CODE, &r->status);
    r->retry_after_s = st->retry_after_s;
    r->bytes = st->bytes;
    int err = DP_OK;
    if (st->stopped) {
        snprintf(why, whylen, "cancelled");
        err = DP_ERR_CANCELLED;
    } else if (st->stalled || rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(why, whylen, st->stalled ? "no byte for %ld ms" : "the answer took longer than %ld ms",
                 st->stalled ? st->idle_timeout_ms : st->total_timeout_ms);
        err = DP_ERR_TIMEOUT;
    } else if (st->too_large) {
        snprintf(why, whylen, "the answer is larger than %zu bytes", st->answer_max);
        err = DP_ERR_TOO_LARGE;
    } else if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
        err = DP_ERR_UNAVAILABLE;
    } else if (r->status / 100 == 2 && st->line.len && st->line_fn) {
        /* The last line had no line ending. */
        st->line.data[st->line.len] = 0;
        if (st->line_fn(st->ctx, st->line.data, st->line.len))
            err = DP_ERR_CANCELLED;
    } else if (r->status / 100 != 2 && st->line.len) {
        r->error_body = json_loadb(st->line.data, st->line.len, 0, NULL);
    }
    return err;
}

static void result_init(struct http_stream_result *r, char **why, size_t *whylen, char *dummy)
{
    if (!*why)
        *why = dummy, *whylen = 1;
    (*why)[0] = 0;
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
}

/* The prepared POST ps (err: how preparing it went) streamed to line_fn (lines) or p->data (bytes),
 * with p's deadlines, cap and cancellation; ps cleaned up. */
static int stream_call(struct post_setup *ps, int err, const struct http_bytes *p,
                       int (*line_fn)(void *ctx, const char *line, size_t len), struct http_stream_result *r, char *why,
                       size_t whylen)
{
    struct stream_state st = {.line_fn = line_fn,
                              .data_fn = line_fn ? NULL : p->data,
                              .cancelled = p->cancelled,
                              .ctx = p->ctx,
                              .idle_timeout_ms = p->idle_timeout_ms,
                              .total_timeout_ms = p->total_timeout_ms,
                              .answer_max = p->answer_max,
                              .retry_after_s = -1,
                              .last_byte = time_mono()};
    /* A line longer than the whole answer cap cannot be: the buffer shares it. */
    buf_init(&st.line, p->answer_max);
    if (!err)
        err = run_stream(ps, &st, p->connect_timeout_ms, r, why, whylen);
    buf_cleanup(&st.line);
    post_cleanup(ps);
    return err;
}

int http_post_stream(const struct http_stream *p, struct http_stream_result *r, char *why, size_t whylen)
{
    char dummy[1];
    result_init(r, &why, &whylen, dummy);
    struct post_setup ps;
    const struct http_bytes hb = {.connect_timeout_ms = p->connect_timeout_ms,
                                  .idle_timeout_ms = p->idle_timeout_ms,
                                  .total_timeout_ms = p->total_timeout_ms,
                                  .answer_max = p->answer_max,
                                  .cancelled = p->cancelled,
                                  .ctx = p->ctx};
    int err = post_setup(&ps, p->url, p->bearer, p->body, "text/event-stream");
    return stream_call(&ps, err, &hb, p->line, r, why, whylen);
}

int http_post_bytes(const struct http_bytes *p, struct http_stream_result *r, char *why, size_t whylen)
{
    char dummy[1];
    result_init(r, &why, &whylen, dummy);
    struct post_setup ps = {0};
    int err =
        post_setup_bytes(&ps, p->url, p->auth, p->content_type, p->body, p->body_len, p->accept ? p->accept : "*/*");
    return stream_call(&ps, err, p, NULL, r, why, whylen);
}
