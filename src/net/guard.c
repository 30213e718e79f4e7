/* Slow-client defences: header deadlines (a timer over a deadline-ordered list) and body rates.
 *
 * libmicrohttpd's timeout counts silence only, so a client sending one header line every few
 * seconds kept its slot for ever. Every deadline here is the same length from its start, so
 * appending keeps the list ordered and one timer at the head's deadline is enough. An expired
 * connection is shut down (SHUT_RDWR): libmicrohttpd reads the end of stream and closes it
 * through its usual path, so no state of its own is freed behind its back. */
#include "net/guard.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"

struct guard_conn {
    struct guard *g;
    int fd;
    double deadline;                  /* when the headers must be complete */
    int waiting;                      /* on g's list */
    int done;                         /* upgraded or expired: never waits again */
    struct guard_conn *next, **pprev; /* g's list */
};

static void arm(struct guard *g);

static void unlink_conn(struct guard_conn *gc)
{
    if (!gc->waiting)
        return;
    gc->waiting = 0;
    *gc->pprev = gc->next;
    if (gc->next)
        gc->next->pprev = gc->pprev;
    else
        gc->g->tail = gc->pprev;
}

static void start_clock(struct guard_conn *gc)
{
    struct guard *g = gc->g;
    if (gc->done || gc->waiting)
        return;
    gc->deadline = time_mono() + g->header_timeout;
    gc->waiting = 1;
    gc->next = NULL;
    gc->pprev = g->tail;
    *g->tail = gc;
    g->tail = &gc->next;
    if (g->head == gc)
        arm(g);
}

static void on_timer(uv_timer_t *t)
{
    struct guard *g = t->data;
    double now = time_mono();
    while (g->head && g->head->deadline <= now) {
        struct guard_conn *gc = g->head;
        unlink_conn(gc);
        gc->done = 1;
        if (g->closed) {
            const char *labels[] = {"headers"};
            metric_add(g->closed, labels, 1);
        }
        DP_LOG(LOG_DEBUG, "[http] request headers not complete within %.0f s: closing", g->header_timeout);
        shutdown(gc->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
    }
    arm(g);
}

static void arm(struct guard *g)
{
    if (!g->head) {
        uv_timer_stop(&g->timer);
        return;
    }
    double left = g->head->deadline - time_mono();
    uint64_t ms = left > 0 ? (uint64_t)(left * 1000.0) + 1 : 0;
    uv_timer_start(&g->timer, on_timer, ms, 0);
}

void guard_init(struct guard *g, uv_loop_t *loop, double header_timeout, struct metric *closed)
{
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    g->header_timeout = header_timeout;
    g->head = NULL;
    g->tail = &g->head;
    g->closed = closed;
}

struct guard_conn *guard_conn_open(struct guard *g, int fd)
{
    struct guard_conn *gc = calloc(1, sizeof *gc);
    if (!gc)
        return NULL;
    gc->g = g;
    gc->fd = fd;
    start_clock(gc);
    return gc;
}

void guard_conn_close(struct guard_conn *gc)
{
    if (!gc)
        return;
    int was_head = gc->g->head == gc;
    unlink_conn(gc);
    if (was_head)
        arm(gc->g);
    free(gc);
}

void guard_headers_done(struct guard_conn *gc)
{
    if (gc)
        unlink_conn(gc); /* the timer may fire early once for a removed head: harmless */
}

void guard_request_done(struct guard_conn *gc)
{
    if (gc)
        start_clock(gc);
}

void guard_upgraded(struct guard_conn *gc)
{
    if (!gc)
        return;
    unlink_conn(gc);
    gc->done = 1;
}

void body_meter_start(struct body_meter *m, double now)
{
    m->mark = now;
    m->bytes = 0;
    m->paused = 0;
}

void body_meter_pause(struct body_meter *m, double seconds)
{
    m->paused += seconds;
}

int body_meter_add(struct body_meter *m, uint64_t n, double now, long min_rate, double window)
{
    m->bytes += n;
    double reading = now - m->mark - m->paused;
    if (min_rate <= 0 || reading < window)
        return 0;
    if ((double)m->bytes < (double)min_rate * reading)
        return 1;
    body_meter_start(m, now);
    return 0;
}
