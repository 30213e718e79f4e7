/* Worker pool: a mutex/condvar queue feeding threads, a uv_async_t carrying completions back. */
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"

struct pool {
    uv_loop_t *loop;
    uv_async_t async;
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
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue_head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        struct pool_task *t = p->queue_head;
        if (!t)
            break; /* stopping and drained */
        p->queue_head = t->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);

        t->work(t, state);

        pthread_mutex_lock(&p->lock);
        p->busy--;
        t->next = NULL;
        if (p->done_tail)
            p->done_tail->next = t;
        else
            p->done_head = t;
        p->done_tail = t;
        pthread_mutex_unlock(&p->lock);
        uv_async_send(&p->async);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (p->thread_cleanup)
        p->thread_cleanup(state);
    return NULL;
}

static void pool_drain_done(uv_async_t *a)
{
    struct pool *p = a->data;
    pthread_mutex_lock(&p->lock);
    struct pool_task *t = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    while (t) {
        struct pool_task *next = t->next;
        t->done(t);
        t = next;
    }
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
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads || uv_async_init(loop, &p->async, pool_drain_done)) {
        free(p->threads);
        free(p);
        return DP_ERR_NOMEM;
    }
    p->async.data = p;
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
    pthread_mutex_lock(&p->lock);
    if (p->queue_tail)
        p->queue_tail->next = t;
    else
        p->queue_head = t;
    p->queue_tail = t;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

size_t pool_queue_depth(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->queued;
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

static void pool_closed(uv_handle_t *h)
{
    struct pool *p = h->data;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}

void pool_free(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pool_drain_done(&p->async);
    uv_close((uv_handle_t *)&p->async, pool_closed);
}
