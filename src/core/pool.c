/* Worker pool: a mutex/condvar queue feeding threads, a uv_async_t carrying completions back.
 *
 * Both directions are batched, because on a busy server the cost is the hand-off, not the work
 * (a one-row read takes a few microseconds; waking a thread, tens). Tasks submitted on the loop
 * thread wait in a local list until the end of the loop iteration (a uv_check, or a uv_prepare
 * before the loop would block) and are then queued with one lock and as many wake-ups as there
 * are idle workers — a worker is never woken for a task another is about to take. A worker
 * drains the queue before it tells the loop (at most every DONE_BATCH completions), and the loop
 * runs all completions, then the drained hook once. */
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"

#define DONE_BATCH 16
#define DONE_DELAY_MAX 0.001 /* s: tasks longer than this are told as they finish */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct pool {
    uv_loop_t *loop;
    uv_async_t async;
    uv_check_t flush_check;     /* end of a loop iteration: queue what the loop submitted */
    uv_prepare_t flush_prepare; /* and before the loop blocks */
    pthread_t loop_thread;
    struct pool_task *pend_head, *pend_tail; /* submitted on the loop thread, not queued yet */
    size_t npend;
    size_t idle; /* workers waiting for a task */
    int closing; /* handles still to close in pool_free */
    void (*drained)(void *arg);
    void *drained_arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pool_task *queue_head, *queue_tail; /* waiting for a worker */
    struct pool_task *done_head, *done_tail;   /* finished, waiting for the loop */
    size_t queued, busy;
    int nthreads, stopping;
    pthread_t *threads;
    void *(*thread_init)(int, void *);
    void (*thread_cleanup)(void *);
    void *arg;
};

struct worker_start {
    struct pool *pool;
    int idx;
};

static void *worker_main(void *varg)
{
    struct worker_start ws = *(struct worker_start *)varg;
    free(varg);
    struct pool *p = ws.pool;
    void *state = p->thread_init ? p->thread_init(ws.idx, p->arg) : NULL;
    int unreported = 0;
    double first_unreported = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue_head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        struct pool_task *t = p->queue_head;
        if (!t)
            break; /* stopping and drained */
        p->queue_head = t->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);

        double started = mono_s();
        t->work(t, state);

        pthread_mutex_lock(&p->lock);
        p->busy--;
        t->next = NULL;
        if (p->done_tail)
            p->done_tail->next = t;
        else
            p->done_head = t;
        p->done_tail = t;
        /* Tell the loop when the queue is empty, or every DONE_BATCH completions under load — unless
         * the batch's tasks take long (DONE_DELAY_MAX from the start of the first not yet told): a
         * done callback often submits its connection's next step (a voice session's recognition,
         * reply, synthesis), which must not wait behind other sessions' tasks of several ms each;
         * beside such tasks a wake-up of the loop costs nothing. */
        if (!unreported)
            first_unreported = started;
        if (!p->queue_head || ++unreported >= DONE_BATCH || mono_s() - first_unreported >= DONE_DELAY_MAX) {
            unreported = 0;
            pthread_mutex_unlock(&p->lock);
            uv_async_send(&p->async);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (p->thread_cleanup)
        p->thread_cleanup(state);
    return NULL;
}

/* Runs the done callbacks of the tasks finished so far; returns how many. */
static size_t run_done(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct pool_task *t = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    size_t ran = 0;
    while (t) {
        struct pool_task *next = t->next;
        t->done(t);
        t = next;
        ran++;
    }
    if (ran && p->drained)
        p->drained(p->drained_arg);
    return ran;
}

static void pool_drain_done(uv_async_t *a)
{
    run_done(a->data);
}

/* Queues the tasks the loop submitted during this iteration; wakes idle workers for them. */
static void flush_pending(struct pool *p)
{
    if (!p->pend_head)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->queue_tail)
        p->queue_tail->next = p->pend_head;
    else
        p->queue_head = p->pend_head;
    p->queue_tail = p->pend_tail;
    p->queued += p->npend;
    size_t wake = p->npend < p->idle ? p->npend : p->idle;
    pthread_mutex_unlock(&p->lock);
    p->pend_head = p->pend_tail = NULL;
    p->npend = 0;
    /* An idle worker counted above is inside pthread_cond_wait (it went in holding the lock),
     * so these signals reach it; a busy one finds the tasks when it looks at the queue. */
    if (wake > 1)
        pthread_cond_broadcast(&p->cond);
    else if (wake == 1)
        pthread_cond_signal(&p->cond);
}

static void on_flush_check(uv_check_t *h)
{
    flush_pending(h->data);
}

static void on_flush_prepare(uv_prepare_t *h)
{
    flush_pending(h->data);
}

void pool_on_drained(struct pool *p, void (*fn)(void *arg), void *arg)
{
    p->drained = fn;
    p->drained_arg = arg;
}

int pool_new(struct pool **out, uv_loop_t *loop, int nthreads, void *(*thread_init)(int, void *),
             void (*thread_cleanup)(void *), void *arg)
{
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return DP_ERR_NOMEM;
    p->loop = loop;
    p->nthreads = nthreads;
    p->thread_init = thread_init;
    p->thread_cleanup = thread_cleanup;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->loop_thread = pthread_self();
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads || uv_async_init(loop, &p->async, pool_drain_done)) {
        free(p->threads);
        free(p);
        return DP_ERR_NOMEM;
    }
    p->async.data = p;
    uv_check_init(loop, &p->flush_check);
    uv_prepare_init(loop, &p->flush_prepare);
    p->flush_check.data = p->flush_prepare.data = p;
    uv_check_start(&p->flush_check, on_flush_check);
    uv_prepare_start(&p->flush_prepare, on_flush_prepare);
    /* They must not keep the loop alive on their own. */
    uv_unref((uv_handle_t *)&p->flush_check);
    uv_unref((uv_handle_t *)&p->flush_prepare);
    for (int i = 0; i < nthreads; i++) {
        struct worker_start *ws = malloc(sizeof *ws);
        DP_ASSERT(ws);
        ws->pool = p;
        ws->idx = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, ws)) {
            DP_LOG(LOG_ERROR, "[pool] cannot start worker %d", i);
            free(ws);
            p->nthreads = i;
            break;
        }
    }
    *out = p;
    return DP_OK;
}

void pool_submit(struct pool *p, struct pool_task *t)
{
    t->next = NULL;
    if (pthread_equal(pthread_self(), p->loop_thread) && !p->stopping) {
        if (p->pend_tail)
            p->pend_tail->next = t;
        else
            p->pend_head = t;
        p->pend_tail = t;
        p->npend++;
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->queue_tail)
        p->queue_tail->next = t;
    else
        p->queue_head = t;
    p->queue_tail = t;
    p->queued++;
    int wake = p->idle > 0;
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->cond);
}

size_t pool_queue_depth(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->queued + p->npend;
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t pool_busy(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->busy;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int pool_size(const struct pool *p)
{
    return p->nthreads;
}

size_t pool_settle(struct pool *p)
{
    flush_pending(p);
    size_t ran = run_done(p);
    flush_pending(p);
    pthread_mutex_lock(&p->lock);
    size_t left = p->queued + p->busy + (p->done_head != NULL);
    pthread_mutex_unlock(&p->lock);
    return ran + left;
}

static void pool_closed(uv_handle_t *h)
{
    struct pool *p = h->data;
    if (--p->closing > 0)
        return; /* the last of the three handles frees */
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}

void pool_free(struct pool *p)
{
    flush_pending(p);
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pool_drain_done(&p->async);
    p->closing = 3;
    uv_close((uv_handle_t *)&p->flush_check, pool_closed);
    uv_close((uv_handle_t *)&p->flush_prepare, pool_closed);
    uv_close((uv_handle_t *)&p->async, pool_closed);
}
