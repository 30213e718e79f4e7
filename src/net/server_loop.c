/* libmicrohttpd on the libuv loop: its sockets and timer watched by the loop, calls posted to the
 * loop from other threads, connections suspended while a worker runs their handler. */
#include "net/server.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"
#include "net/server_internal.h"

static void on_mhd_timer(uv_timer_t *t);

/* Lets libmicrohttpd process what is ready, then re-arms the timer from its next timeout. */
void server_mhd_run(struct server *s)
{
    if (!s->mhd)
        return;
    MHD_run(s->mhd);
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(s->mhd, &to) == MHD_YES)
        uv_timer_start(&s->timer, on_mhd_timer, to, 0);
    else
        uv_timer_stop(&s->timer);
}

void server_kick(struct server *s)
{
    server_mhd_run(s);
}

static void on_mhd_timer(uv_timer_t *t)
{
    server_mhd_run(t->data);
}

void server_on_mhd_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    server_mhd_run(p->data);
}

void server_on_posted(uv_async_t *a)
{
    struct server *s = a->data;
    pthread_mutex_lock(&s->post_lock);
    struct posted *p = s->posted_head;
    s->posted_head = NULL;
    s->posted_tail = &s->posted_head;
    pthread_mutex_unlock(&s->post_lock);
    while (p) {
        struct posted *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
    server_mhd_run(s);
}

void server_post(struct server *s, void (*fn)(void *), void *arg)
{
    struct posted *p = malloc(sizeof *p);
    DP_ASSERT(p);
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&s->post_lock);
    *s->posted_tail = p;
    s->posted_tail = &p->next;
    pthread_mutex_unlock(&s->post_lock);
    uv_async_send(&s->post_async);
}

void server_suspend(struct server *s, struct conn_req *cr)
{
    DP_ASSERT(!cr->suspended);
    MHD_suspend_connection(cr->conn);
    cr->suspended = 1;
    cr->next_suspended = s->suspended;
    if (s->suspended)
        s->suspended->prev_suspended = &cr->next_suspended;
    cr->prev_suspended = &s->suspended;
    s->suspended = cr;
}

void server_resume(struct server *s, struct conn_req *cr)
{
    (void)s; /* the list head lives in s, reached through prev_suspended */
    if (!cr->suspended)
        return;
    cr->suspended = 0;
    *cr->prev_suspended = cr->next_suspended;
    if (cr->next_suspended)
        cr->next_suspended->prev_suspended = cr->prev_suspended;
    MHD_resume_connection(cr->conn);
}
