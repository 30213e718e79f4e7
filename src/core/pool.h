/* The worker pool: blocking work runs on worker threads; completions run on the loop thread. */
#ifndef DP_POOL_H
#define DP_POOL_H

#include <stddef.h>
#include <uv.h>

struct pool;

/* A unit of work, embedded by the caller in its own struct (container_of style). */
struct pool_task {
    /* Runs on a worker thread; state is what thread_init returned for that worker. */
    void (*work)(struct pool_task *t, void *state);
    /* Runs on the loop thread after work returned. */
    void (*done)(struct pool_task *t);
    struct pool_task *next; /* queue link, owned by the pool */
};

/* Starts nthreads workers. thread_init (may be NULL) runs on each worker at start and returns
 * its state (e.g. its database connection); thread_cleanup runs at exit. Returns DP_OK or error. */
int pool_new(struct pool **out, uv_loop_t *loop, int nthreads, void *(*thread_init)(int idx, void *arg),
             void (*thread_cleanup)(void *state), void *arg);
/* Queues t; callable from any thread. On the loop thread the task is handed to the workers at
 * the end of the loop iteration, with the others submitted in it. */
void pool_submit(struct pool *p, struct pool_task *t);
/* fn runs on the loop thread after each batch of done callbacks (e.g. to flush I/O once). */
void pool_on_drained(struct pool *p, void (*fn)(void *arg), void *arg);
size_t pool_queue_depth(struct pool *p); /* tasks waiting for a worker */
size_t pool_busy(struct pool *p);        /* workers running a task */
int pool_size(const struct pool *p);
/* Runs the done callbacks of finished tasks now and hands what they submitted to the workers;
 * returns how many done callbacks it ran plus the tasks still queued, running or finished. Shutdown
 * calls it on every pool until all return 0 in one round: a done callback may submit a
 * connection's next task to either pool, which must run before the workers are joined (a callback
 * that ran counts, so the round after it sees what it submitted). Loop thread only. */
size_t pool_settle(struct pool *p);
/* Lets queued tasks finish, joins the workers, runs pending done callbacks, frees p.
 * Must be called on the loop thread. */
void pool_free(struct pool *p);

#endif
