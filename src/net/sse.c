/* SSE streams: a mutex-protected buffer between a producer thread and the loop's content reader.
 * The reader suspends the connection when the buffer is empty (never a busy loop); a send
 * resumes it through server_post. A producer never waits for its client (a client too far
 * behind is cancelled), but it holds a worker for as long as it produces: only a share of the
 * workers may run producers at once (struct sse_slots); later streams wait their turn on the
 * loop, holding no thread, so ordinary requests always find a worker. A ROUTE_SLOW route's
 * producer (a reply that waits on a language model) runs on the provider pool instead, with
 * slots of its own. */
#include "net/sse.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/server_internal.h"

#define SSE_BUFFER_MAX (4u << 20) /* a producer far ahead of a slow client is cancelled */

struct sse {
    struct server *srv;
    pthread_mutex_t lock;
    struct buf out; /* bytes not yet handed to libmicrohttpd */
    size_t out_off;
    int ended;           /* the producer returned */
    int cancelled;       /* client gone, or server stopping */
    int refs;            /* response + producer */
    int wake_pending;    /* a resume is posted */
    struct conn_req *cr; /* loop thread only; NULL once the response is gone */
    int waiting;         /* the reader suspended the connection (loop thread) */
    int slow;            /* produced on the provider pool (a ROUTE_SLOW route) */
    sse_producer producer;
    void *arg;
    void (*arg_free)(void *);
    struct pool_task task;
    struct sse *next, **pprev; /* server's list, loop thread */
    struct sse *wait_next;     /* server's queue of streams waiting for a producer slot */
};

static struct metric *m_cancelled;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_cancelled = metric_new(METRIC_COUNTER, "doppel_sse_cancelled_total",
                             "SSE streams whose client went away before the end", 0, NULL, NULL, 0);
}

static void sse_unref(struct sse *s)
{
    pthread_mutex_lock(&s->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&s->lock);
    if (left)
        return;
    if (s->arg_free)
        s->arg_free(s->arg);
    buf_cleanup(&s->out);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int sse_respond(struct request *req, struct response *res, sse_producer producer, void *arg, void (*arg_free)(void *))
{
    pthread_once(&metrics_once, metrics_init); /* handlers run on any worker */
    struct sse *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    pthread_mutex_init(&s->lock, NULL);
    buf_init(&s->out, SSE_BUFFER_MAX);
    s->srv = req->server;
    s->slow = req->server && server_route_slow(req->server, req->route);
    s->refs = 2;
    s->producer = producer;
    s->arg = arg;
    s->arg_free = arg_free;
    res->status = 200;
    res->sse = s;
    snprintf(res->content_type, sizeof res->content_type, "text/event-stream; charset=utf-8");
    res_header(res, "Cache-Control", "no-cache");
    res_header(res, "X-Accel-Buffering", "no");
    return DP_OK;
}

/* Loop thread: resume the reader if it is waiting for data. */
static void sse_wake(void *arg)
{
    struct sse *s = arg;
    pthread_mutex_lock(&s->lock);
    s->wake_pending = 0;
    pthread_mutex_unlock(&s->lock);
    if (s->cr && s->waiting) {
        s->waiting = 0;
        server_resume(s->srv, s->cr);
    }
    sse_unref(s);
}

static void sse_post_wake(struct sse *s)
{
    /* Called with s->lock held. At most one wake in flight. */
    if (s->wake_pending)
        return;
    s->wake_pending = 1;
    s->refs++;
    server_post(s->srv, sse_wake, s);
}

int sse_send(struct sse *s, const char *event, const char *data)
{
    pthread_mutex_lock(&s->lock);
    if (s->cancelled) {
        pthread_mutex_unlock(&s->lock);
        return DP_ERR_CANCELLED;
    }
    int err = DP_OK;
    if (event)
        err = buf_printf(&s->out, "event: %s\n", event);
    for (const char *p = data; !err;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        err = buf_append(&s->out, "data: ", 6);
        if (!err)
            err = buf_append(&s->out, p, n);
        if (!err)
            err = buf_append(&s->out, "\n", 1);
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!err)
        err = buf_append(&s->out, "\n", 1);
    if (err) {
        s->cancelled = 1; /* the client cannot keep up: end the stream rather than grow */
        err = DP_ERR_CANCELLED;
    }
    sse_post_wake(s);
    pthread_mutex_unlock(&s->lock);
    return err;
}

int sse_cancelled(struct sse *s)
{
    pthread_mutex_lock(&s->lock);
    int c = s->cancelled;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *s = cls;
    pthread_mutex_lock(&s->lock);
    size_t avail = s->out.len - s->out_off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, s->out.data + s->out_off, n);
        s->out_off += n;
        if (s->out_off == s->out.len)
            s->out.len = s->out_off = 0;
        pthread_mutex_unlock(&s->lock);
        return (ssize_t)n;
    }
    int done = s->ended || s->cancelled;
    pthread_mutex_unlock(&s->lock);
    if (done)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send yet: suspend until a producer's send wakes us. */
    if (s->cr && !s->waiting) {
        s->waiting = 1;
        server_suspend(s->srv, s->cr);
    }
    return 0;
}

static void sse_response_gone(void *cls)
{
    struct sse *s = cls;
    pthread_mutex_lock(&s->lock);
    if (!s->ended && !s->cancelled && m_cancelled)
        metric_add(m_cancelled, NULL, 1);
    s->cancelled = 1;
    pthread_mutex_unlock(&s->lock);
    if (s->waiting && s->cr)
        server_resume(s->srv, s->cr);
    s->cr = NULL;
    *s->pprev = s->next;
    if (s->next)
        s->next->pprev = s->pprev;
    sse_unref(s);
}

struct MHD_Response *sse_response(struct sse *s, struct conn_req *cr)
{
    s->cr = cr;
    struct sse **head = server_sse_list(s->srv);
    s->next = *head;
    if (*head)
        (*head)->pprev = &s->next;
    s->pprev = head;
    *head = s;
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_response_gone);
}

static void producer_work(struct pool_task *t, void *state)
{
    struct sse *s = (struct sse *)(void *)((char *)t - offsetof(struct sse, task));
    s->producer(s, s->arg, state);
    pthread_mutex_lock(&s->lock);
    s->ended = 1;
    sse_post_wake(s);
    pthread_mutex_unlock(&s->lock);
}

static void run_producer(struct sse *s);

/* Gives a freed slot to the next waiting stream whose client is still there. Loop thread. */
static void start_next_waiting(struct sse_slots *sl)
{
    while (sl->wait_head && sl->running < sl->max) {
        struct sse *s = sl->wait_head;
        sl->waiting--;
        sl->wait_head = s->wait_next;
        if (!sl->wait_head)
            sl->wait_tail = &sl->wait_head;
        if (sse_cancelled(s)) {
            /* Gone while waiting: its producer never runs (the same as a cancel at once). */
            pthread_mutex_lock(&s->lock);
            s->ended = 1;
            pthread_mutex_unlock(&s->lock);
            sse_unref(s); /* the producer's reference */
            continue;
        }
        run_producer(s);
    }
}

static void producer_done(struct pool_task *t)
{
    struct sse *s = (struct sse *)(void *)((char *)t - offsetof(struct sse, task));
    struct sse_slots *sl = server_sse_slots_of(s->srv, s->slow);
    sl->running--;
    sse_unref(s);
    start_next_waiting(sl);
}

static void run_producer(struct sse *s)
{
    server_sse_slots_of(s->srv, s->slow)->running++;
    s->task.work = producer_work;
    s->task.done = producer_done;
    pool_submit(server_pool_of(s->srv, s->slow), &s->task);
}

void sse_start_producer(struct sse *s)
{
    struct sse_slots *sl = server_sse_slots_of(s->srv, s->slow);
    if (sl->running < sl->max && !sl->wait_head) {
        run_producer(s);
        return;
    }
    s->wait_next = NULL;
    sl->waiting++;
    *sl->wait_tail = s;
    sl->wait_tail = &s->wait_next;
}

void sse_cancel_all(struct server *srv)
{
    for (struct sse *s = *server_sse_list(srv); s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->cancelled = 1;
        pthread_mutex_unlock(&s->lock);
        if (s->waiting && s->cr) {
            s->waiting = 0;
            server_resume(srv, s->cr);
        }
    }
}

void sse_discard(struct sse *s)
{
    s->cancelled = 1;
    sse_unref(s); /* the response's reference */
    sse_unref(s); /* the producer's, which never ran */
}
