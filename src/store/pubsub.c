/* Pub/sub delivered on a libuv loop: in-process via uv_async_t, or Redis via async hiredis. */
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "store/cache_impl.h"

#define QUEUE_MAX_MSGS 10000 /* undelivered messages per memory subscriber */
#define QUEUE_MAX_BYTES ((size_t)64 << 20)
#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct sub {
    struct sub *next;
    pubsub_cb cb;
    void *arg;
    char channel[]; /* NUL-terminated */
};

/* A queued in-process message: channel NUL, then the message bytes and a NUL. */
struct qmsg {
    struct qmsg *next;
    size_t clen, mlen;
    char data[];
};

enum pubsub_kind { PS_MEMORY, PS_REDIS };

struct pubsub {
    enum pubsub_kind kind;
    uv_loop_t *loop;
    struct sub *subs, **subs_tail; /* loop thread only */
    int closing;                   /* pubsub_close was called; nothing more is delivered */
    int open_handles;              /* our uv handles and requests still pending; freed at 0 */

    /* memory */
    uv_async_t async;
    pthread_mutex_t qmu; /* guards the queue: publishers run on any thread */
    struct qmsg *qhead, **qtail;
    size_t qcount, qbytes;
    int qdropping;           /* dropping since the queue filled (logged once) */
    struct pubsub *reg_next; /* in the process-wide list of memory subscribers */

    /* redis */
    struct redis_url u;
    redisAsyncContext *ac; /* NULL while disconnected */
    int connected;
    uv_timer_t timer; /* connect timeout, then reconnect backoff */
    uv_getaddrinfo_t gai;
    int resolving;
    int backoff_ms;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pubsub *reg_head; /* memory subscribers of this process */

static void ps_free(struct pubsub *ps)
{
    for (struct sub *s = ps->subs, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    for (struct qmsg *m = ps->qhead, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    if (ps->kind == PS_MEMORY)
        pthread_mutex_destroy(&ps->qmu);
    free(ps);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct pubsub *ps = h->data;
    if (--ps->open_handles == 0)
        ps_free(ps);
}

/* Runs the callbacks subscribed to channel, stopping if one of them closes ps. */
/* A subscription ending in '*' is a pattern: every channel starting with what precedes it. */
static int is_pattern(const char *channel, size_t *prefix)
{
    size_t n = strlen(channel);
    *prefix = n ? n - 1 : 0;
    return n && channel[n - 1] == '*';
}

static int sub_matches(const struct sub *s, const char *channel)
{
    size_t prefix;
    if (is_pattern(s->channel, &prefix))
        return strncmp(s->channel, channel, prefix) == 0;
    return strcmp(s->channel, channel) == 0;
}

static void dispatch(struct pubsub *ps, const char *channel, const char *msg, size_t len)
{
    for (struct sub *s = ps->subs; s && !ps->closing; s = s->next)
        if (sub_matches(s, channel))
            s->cb(s->arg, channel, msg, len);
}

/* ---- memory ----------------------------------------------------------------------------- */

static void on_async(uv_async_t *h)
{
    struct pubsub *ps = h->data;
    pthread_mutex_lock(&ps->qmu);
    struct qmsg *m = ps->qhead;
    ps->qhead = NULL;
    ps->qtail = &ps->qhead;
    ps->qcount = ps->qbytes = 0;
    ps->qdropping = 0;
    pthread_mutex_unlock(&ps->qmu);
    while (m) {
        struct qmsg *next = m->next;
        if (!ps->closing)
            dispatch(ps, m->data, m->data + m->clen + 1, m->mlen);
        free(m);
        m = next;
    }
}

int pubsub_memory_publish(const char *channel, const void *msg, size_t len)
{
    size_t clen = strlen(channel);
    int err = DP_OK;
    pthread_mutex_lock(&reg_mu);
    for (struct pubsub *ps = reg_head; ps; ps = ps->reg_next) {
        struct qmsg *m = malloc(sizeof(*m) + clen + len + 2);
        if (!m) {
            err = DP_ERR_NOMEM;
            continue;
        }
        m->next = NULL;
        m->clen = clen;
        m->mlen = len;
        memcpy(m->data, channel, clen + 1);
        if (len)
            memcpy(m->data + clen + 1, msg, len);
        m->data[clen + 1 + len] = 0;
        pthread_mutex_lock(&ps->qmu);
        if (ps->qcount >= QUEUE_MAX_MSGS || ps->qbytes + len > QUEUE_MAX_BYTES) {
            if (!ps->qdropping++)
                DP_LOG(LOG_WARN, "[pubsub] subscriber queue full; dropping messages");
            free(m);
        } else {
            *ps->qtail = m;
            ps->qtail = &m->next;
            ps->qcount++;
            ps->qbytes += len;
        }
        pthread_mutex_unlock(&ps->qmu);
        uv_async_send(&ps->async);
    }
    pthread_mutex_unlock(&reg_mu);
    return err;
}

static int memory_open(struct pubsub *ps)
{
    if (pthread_mutex_init(&ps->qmu, NULL) != 0)
        return DP_ERR_INTERNAL;
    ps->qtail = &ps->qhead;
    if (uv_async_init(ps->loop, &ps->async, on_async) != 0) {
        pthread_mutex_destroy(&ps->qmu);
        return DP_ERR_INTERNAL;
    }
    ps->async.data = ps;
    ps->open_handles = 1;
    pthread_mutex_lock(&reg_mu);
    ps->reg_next = reg_head;
    reg_head = ps;
    pthread_mutex_unlock(&reg_mu);
    return DP_OK;
}

static void memory_close(struct pubsub *ps)
{
    pthread_mutex_lock(&reg_mu); /* after this no publisher touches ps */
    for (struct pubsub **pp = &reg_head; *pp; pp = &(*pp)->reg_next) {
        if (*pp == ps) {
            *pp = ps->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    uv_close((uv_handle_t *)&ps->async, on_handle_closed);
}

/* ---- redis ------------------------------------------------------------------------------ */

static void redis_start(struct pubsub *ps);
static void schedule_retry(struct pubsub *ps);

static void on_timer(uv_timer_t *t)
{
    struct pubsub *ps = t->data;
    if (ps->closing)
        return;
    if (ps->ac && !ps->connected) {
        DP_LOG(ps->backoff_ms ? LOG_DEBUG : LOG_WARN, "[pubsub] connecting to redis %s:%d timed out", ps->u.host,
               ps->u.port);
        redisAsyncContext *ac = ps->ac;
        ps->ac = NULL;
        redisAsyncFree(ac); /* not connected: no disconnect callback */
        schedule_retry(ps);
    } else if (!ps->ac && !ps->resolving) {
        redis_start(ps);
    }
}

/* Arms the timer to reconnect after the next backoff step. */
static void schedule_retry(struct pubsub *ps)
{
    if (ps->closing)
        return;
    ps->backoff_ms = ps->backoff_ms ? ps->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (ps->backoff_ms > BACKOFF_MAX_MS)
        ps->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&ps->timer, on_timer, (uint64_t)ps->backoff_ms, 0);
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct pubsub *ps = privdata;
    redisReply *r = reply;
    if (!r || ps->closing)
        return; /* NULL: the context is going away */
    if (r->type == REDIS_REPLY_ERROR) {
        DP_LOG(LOG_WARN, "[pubsub] redis: %s", r->str);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "pmessage") == 0 && r->element[2]->type == REDIS_REPLY_STRING &&
        r->element[3]->type == REDIS_REPLY_STRING) {
        dispatch(ps, r->element[2]->str, r->element[3]->str, r->element[3]->len);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return; /* subscribe confirmations */
    dispatch(ps, r->element[1]->str, r->element[2]->str, r->element[2]->len);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        DP_LOG(LOG_ERROR, "[pubsub] redis AUTH failed: %s", r->str);
}

static void send_subscribe(struct pubsub *ps, const char *channel)
{
    size_t prefix;
    int pattern = is_pattern(channel, &prefix);
    const char *argv[2] = {pattern ? "PSUBSCRIBE" : "SUBSCRIBE", channel};
    size_t len[2] = {pattern ? 10u : 9u, strlen(channel)};
    redisAsyncCommandArgv(ps->ac, on_message, ps, 2, argv, len);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct pubsub *ps = ac->data;
    if (status != REDIS_OK) {
        DP_LOG(ps->backoff_ms ? LOG_DEBUG : LOG_WARN, "[pubsub] cannot connect to redis %s:%d: %s", ps->u.host,
               ps->u.port, ac->errstr ? ac->errstr : "error");
        ps->ac = NULL; /* hiredis frees the context after this callback */
        schedule_retry(ps);
        return;
    }
    ps->connected = 1;
    ps->backoff_ms = 0;
    uv_timer_stop(&ps->timer);
    DP_LOG(LOG_INFO, "[pubsub] connected to redis %s:%d", ps->u.host, ps->u.port);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct pubsub *ps = ac->data;
    ps->ac = NULL;
    ps->connected = 0;
    if (ps->closing)
        return;
    DP_LOG(LOG_WARN, "[pubsub] lost the redis connection (%s); reconnecting",
           status == REDIS_OK || !ac->errstr ? "closed" : ac->errstr);
    schedule_retry(ps); /* messages published meanwhile are lost, as with any Redis pub/sub */
}

/* hiredis 0.14's libuv adapter drops a poll callback with an error status (libuv reports
 * EPOLLERR, e.g. a refused connect or a reset, as UV_EBADF and stops the handle), so hiredis
 * would never learn that the connection failed. These replace the adapter's event hooks with
 * ones that hand such events to hiredis, which then sees the socket error itself (the fix
 * hiredis 1.0 made upstream). The adapter still allocates and cleans up redisLibuvEvents. */
static void glue_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

static void glue_update(redisLibuvEvents *p)
{
    if (p->events)
        uv_poll_start(&p->handle, p->events, glue_poll);
    else
        uv_poll_stop(&p->handle);
}

static void glue_add_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_READABLE;
    glue_update(p);
}

static void glue_del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_READABLE;
    glue_update(p);
}

static void glue_add_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_WRITABLE;
    glue_update(p);
}

static void glue_del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_WRITABLE;
    glue_update(p);
}

/* Connects to the resolved address ip and queues AUTH and every SUBSCRIBE (hiredis sends
 * them once connected); a connection not up within CONNECT_TIMEOUT_MS is abandoned. */
static void redis_connect_ip(struct pubsub *ps, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, ps->u.port);
    if (!ac || ac->err) {
        DP_LOG(ps->backoff_ms ? LOG_DEBUG : LOG_WARN, "[pubsub] cannot connect to redis %s:%d: %s", ps->u.host,
               ps->u.port, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(ps);
        return;
    }
    ac->data = ps;
    if (redisLibuvAttach(ac, ps->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(ps);
        return;
    }
    ac->ev.addRead = glue_add_read;
    ac->ev.delRead = glue_del_read;
    ac->ev.addWrite = glue_add_write;
    ac->ev.delWrite = glue_del_write;
    redisEnableKeepAlive(&ac->c); /* a peer that vanished without a reset is noticed too */
    ps->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (ps->u.pass[0]) {
        const char *argv[3] = {"AUTH", ps->u.user, ps->u.pass};
        size_t len[3] = {4, strlen(ps->u.user), strlen(ps->u.pass)};
        if (ps->u.user[0]) {
            redisAsyncCommandArgv(ac, on_auth, ps, 3, argv, len);
        } else {
            argv[1] = argv[2];
            len[1] = len[2];
            redisAsyncCommandArgv(ac, on_auth, ps, 2, argv, len);
        }
    }
    for (struct sub *s = ps->subs; s; s = s->next) {
        int dup = 0;
        for (struct sub *t = ps->subs; t != s && !dup; t = t->next)
            dup = strcmp(t->channel, s->channel) == 0;
        if (!dup)
            send_subscribe(ps, s->channel);
    }
    uv_timer_start(&ps->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct pubsub *ps = req->data;
    ps->resolving = 0;
    if (--ps->open_handles == 0) { /* closed meanwhile, and the timer is closed too */
        uv_freeaddrinfo(res);
        ps_free(ps);
        return;
    }
    if (ps->closing) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status != 0) {
        DP_LOG(ps->backoff_ms ? LOG_DEBUG : LOG_WARN, "[pubsub] cannot resolve redis host %s: %s", ps->u.host,
               uv_strerror(status));
        schedule_retry(ps);
        return;
    }
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) { /* a server bound to 127.0.0.1 is not on ::1 */
            pick = a;
            break;
        }
    }
    char ip[64] = "";
    if (pick->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)(void *)pick->ai_addr, ip, sizeof(ip));
    else
        uv_ip4_name((const struct sockaddr_in *)(void *)pick->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    redis_connect_ip(ps, ip);
}

/* Resolves the host off the loop thread (uv_getaddrinfo), then connects. */
static void redis_start(struct pubsub *ps)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ps->gai.data = ps;
    ps->resolving = 1;
    ps->open_handles++;
    int rc = uv_getaddrinfo(ps->loop, &ps->gai, on_resolved, ps->u.host, NULL, &hints);
    if (rc != 0) {
        ps->resolving = 0;
        ps->open_handles--;
        DP_LOG(LOG_WARN, "[pubsub] cannot resolve redis host %s: %s", ps->u.host, uv_strerror(rc));
        schedule_retry(ps);
    }
}

static int redis_open(struct pubsub *ps, const char *url)
{
    int err = redis_url_parse(url, &ps->u);
    if (err)
        return err;
    if (uv_timer_init(ps->loop, &ps->timer) != 0)
        return DP_ERR_INTERNAL;
    ps->timer.data = ps;
    ps->open_handles = 1;
    redis_start(ps);
    return DP_OK;
}

static void redis_close(struct pubsub *ps)
{
    if (ps->ac) {
        redisAsyncContext *ac = ps->ac;
        ps->ac = NULL;
        redisAsyncFree(ac); /* deferred by hiredis when called from one of its callbacks */
    }
    if (ps->resolving)
        uv_cancel((uv_req_t *)&ps->gai); /* on_resolved still runs, with UV_ECANCELED */
    uv_close((uv_handle_t *)&ps->timer, on_handle_closed);
}

/* ---- public ----------------------------------------------------------------------------- */

int pubsub_open(struct pubsub **out, struct uv_loop_s *loop, const char *url)
{
    *out = NULL;
    const struct cache_ops *ops = cache_ops_for_url(url);
    if (!ops || !loop)
        return DP_ERR_INVALID;
    struct pubsub *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return DP_ERR_NOMEM;
    ps->loop = loop;
    ps->subs_tail = &ps->subs;
    int err;
    if (ops == &cache_memory_ops) {
        ps->kind = PS_MEMORY;
        err = memory_open(ps);
    } else {
        ps->kind = PS_REDIS;
        err = redis_open(ps, url);
    }
    if (err) {
        free(ps);
        return err;
    }
    *out = ps;
    return DP_OK;
}

int pubsub_subscribe(struct pubsub *ps, const char *channel, pubsub_cb cb, void *arg)
{
    if (!channel || !*channel || !cb || ps->closing)
        return DP_ERR_INVALID;
    size_t n = strlen(channel);
    if (n > CACHE_KEY_MAX)
        return DP_ERR_INVALID;
    struct sub *s = malloc(sizeof(*s) + n + 1);
    if (!s)
        return DP_ERR_NOMEM;
    s->next = NULL;
    s->cb = cb;
    s->arg = arg;
    memcpy(s->channel, channel, n + 1);
    int known = 0;
    for (struct sub *t = ps->subs; t && !known; t = t->next)
        known = strcmp(t->channel, channel) == 0;
    *ps->subs_tail = s;
    ps->subs_tail = &s->next;
    if (ps->kind == PS_REDIS && ps->ac && !known)
        send_subscribe(ps, channel);
    return DP_OK;
}

void pubsub_close(struct pubsub *ps)
{
    if (!ps || ps->closing)
        return;
    ps->closing = 1;
    if (ps->kind == PS_MEMORY)
        memory_close(ps);
    else
        redis_close(ps);
}
