/* Unit tests of core/pool: a done callback's follow-up task runs before the workers stop. */
#include <uv.h>

#include "../test.h"
#include "core/pool.h"
#include "core/timeutil.h"

struct chain {
    struct pool_task t; /* first: the pool hands it back */
    struct pool *to;    /* where done submits the next link (NULL: the last) */
    struct chain *next;
    int *worked, *done;
};

static void chain_work(struct pool_task *t, void *state)
{
    (void)state;
    struct chain *c = (struct chain *)t;
    __atomic_add_fetch(c->worked, 1, __ATOMIC_SEQ_CST);
}

static void chain_done(struct pool_task *t)
{
    struct chain *c = (struct chain *)t;
    (*c->done)++;
    if (c->next)
        pool_submit(c->to, &c->next->t);
}

/* Shutdown's order: a connection's next task is submitted from the done callback of the one before
 * it, possibly to the other pool; pool_settle on both until quiet must run the whole chain. */
TEST(pool_settle_runs_what_done_callbacks_submit)
{
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pool *a, *b;
    CHECK(pool_new(&a, &loop, 2, NULL, NULL, NULL) == 0);
    CHECK(pool_new(&b, &loop, 1, NULL, NULL, NULL) == 0);
    int worked = 0, done = 0;
    struct chain links[6];
    for (int i = 0; i < 6; i++) {
        links[i] = (struct chain){.t = {.work = chain_work, .done = chain_done},
                                  .to = i % 2 ? a : b, /* the next link goes to the other pool */
                                  .next = i < 5 ? &links[i + 1] : NULL,
                                  .worked = &worked,
                                  .done = &done};
    }
    pool_submit(a, &links[0].t);
    double until = time_mono() + 10;
    while ((pool_settle(a) + pool_settle(b)) && time_mono() < until)
        uv_sleep(1);
    CHECK_EQ_INT(__atomic_load_n(&worked, __ATOMIC_SEQ_CST), 6);
    CHECK_EQ_INT(done, 6);
    CHECK_EQ_INT(pool_settle(a) + pool_settle(b), 0);
    pool_free(a);
    pool_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
