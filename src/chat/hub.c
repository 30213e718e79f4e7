/* The events WebSocket's live side: connections by user, pub/sub delivery without gaps, typing
 * indicators that expire on their own, presence with a grace period and a rate per user. Every
 * function here runs on the loop thread; database and cache work goes to workers. */
#include "chat/hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth/accounts.h"
#include "auth/caller.h"
#include "chat/chat.h"
#include "chat/events.h"
#include "chat/frame.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include "net/http.h"
#include "net/ws.h"
#include "store/cache.h"
#include "store/db.h"

#define USER_BUCKETS 16384
#define TYPING_MAX 4     /* chats one connection may be typing in at once */
#define PENDING_MAX 1000 /* live events held while a connection catches up */
#define SWEEP_MS 250
#define PRESENCE_SNAPSHOT_MAX 200
#define PRESENCE_KEY_TTL_MS (24 * 3600 * 1000)
#define JOB_CHANNEL_PREFIX "events:user:"
#define SEND_QUEUE_MAX 256 /* message.send frames waiting on one connection */
#define SEND_BATCH_MAX 64  /* sends written with one commit */
#define FRAME_HEAD_MAX 96  /* {"type":"<31 bytes>","seq":<20 digits>,"data": */

enum presence { P_OFFLINE, P_ONLINE, P_AWAY };
static const char *const presence_names[] = {"offline", "online", "away"};

/* A live event held while its connection catches up from the log. */
struct pend {
    struct pend *next;
    int64_t seq; /* 0: live only */
    size_t len;
    char frame[];
};

struct typing {
    char chat_id[ID_LEN];
    double expires;   /* time_mono() when it ends unless refreshed */
    double published; /* when typing.start last went out */
};

struct hub_user;

/* One events WebSocket. */
struct ev_conn {
    struct ws_conn *ws;
    struct hub_user *u;
    struct ev_conn *next; /* the user's other connections */
    int64_t since;        /* ?since=, -1 when not given */
    int64_t sent;         /* the last logged event delivered */
    int ready;            /* caught up: live events go straight out */
    int syncing;          /* a catch-up read is in flight */
    int greeted;          /* the ready frame went out */
    int known;            /* sent is a position in the log (since given, or read) */
    int overflow;         /* logged events were dropped from pend: read them again */
    int away;
    int npend;
    struct pend *pend, **pend_tail;
    struct typing *typing; /* TYPING_MAX entries once the connection types */
    int ntyping;
    struct ev_conn *tnext, **tpprev; /* in the list of typing connections */
    double tokens, tokens_at;        /* the client frame bucket */
    struct send_q *sq, **sq_tail;    /* message.send frames waiting for the batch in flight */
    int nsq, sending;
};

struct send_q {
    struct send_q *next;
    struct chat_frame f;
};

struct hub_user {
    char id[ID_LEN];
    struct hub_user *next; /* bucket chain */
    struct ev_conn *conns;
    int nconns;
    enum presence published;      /* what the audience last heard */
    int counted;                  /* holds one in the shared count of devices (presence:<id>) */
    double changed, published_at; /* time_mono() of the last local change / publish */
    int dirty;
    struct hub_user *dnext; /* in the dirty list: the wanted state may differ */
};

static struct {
    uv_loop_t *loop;
    struct pool *pool;
    struct pubsub *ps;
    uv_timer_t sweep;
    int started;
    struct chat_hub_config cfg;
    int (*env)(void *state, struct context *e);
    struct hub_user *buckets[USER_BUCKETS];
    struct hub_user *dirty;
    struct ev_conn *typing;
    long nconns, nusers;
    char *scratch; /* frame building */
    size_t scratch_cap;
    pthread_mutex_t send_lock; /* held while a worker writes a batch on cfg.send_db */
} hub = {.send_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- users ------------------------------------------------------------------------------ */

static struct hub_user **user_slot(const char *id)
{
    struct hub_user **p = &hub.buckets[hash_fnv1a(id, strlen(id)) % USER_BUCKETS];
    while (*p && strcmp((*p)->id, id))
        p = &(*p)->next;
    return p;
}

static struct hub_user *user_find(const char *id)
{
    return *user_slot(id);
}

/* Frees u once nothing needs it: no connection, nothing to publish, no device counted. */
static void user_maybe_free(struct hub_user *u)
{
    if (u->nconns || u->dirty || u->counted || u->published != P_OFFLINE)
        return;
    struct hub_user **p = user_slot(u->id);
    *p = u->next;
    hub.nusers--;
    free(u);
}

static enum presence user_wanted(const struct hub_user *u)
{
    if (!u->nconns)
        return P_OFFLINE;
    for (const struct ev_conn *c = u->conns; c; c = c->next)
        if (!c->away)
            return P_ONLINE;
    return P_AWAY;
}

static void user_changed(struct hub_user *u)
{
    u->changed = time_mono();
    if (!u->dirty) {
        u->dirty = 1;
        u->dnext = hub.dirty;
        hub.dirty = u;
    }
}

/* ---- tasks on workers -------------------------------------------------------------------- */

/* A piece of work with no connection to come back to (expiry, presence, a closed connection). */
struct hub_task {
    struct pool_task t;
    void (*work)(struct hub_task *k, struct context *e);
    char user[ID_LEN];
    char chat[ID_LEN];
    int op;          /* typing: 1 start, 0 stop; presence: enum presence */
    int was_counted; /* presence: the device count holds this instance's one */
    json_t *result;  /* snapshot: presence frames for the connection */
    int err;
};

static void hub_task_run(struct pool_task *t, void *state)
{
    struct hub_task *k = (struct hub_task *)t;
    struct context e;
    k->err = hub.env(state, &e);
    if (!k->err)
        k->work(k, &e);
}

static void hub_task_free(struct pool_task *t)
{
    struct hub_task *k = (struct hub_task *)t;
    json_decref(k->result);
    free(k);
}

static struct hub_task *task_new(void (*work)(struct hub_task *, struct context *), const char *user)
{
    struct hub_task *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->t.work = hub_task_run;
    k->t.done = hub_task_free;
    k->work = work;
    snprintf(k->user, sizeof k->user, "%s", user);
    return k;
}

/* Publishes a live-only event to the users of a JSON array of ids. */
static void publish_live(struct context *e, json_t *users, const char *type, json_t *data)
{
    size_t n = json_array_size(users);
    if (!n)
        return;
    struct chat_recipient *r = calloc(n, sizeof *r);
    char *text = json_dumps(data, JSON_COMPACT);
    if (r && text) {
        for (size_t i = 0; i < n; i++)
            snprintf(r[i].user_id, ID_LEN, "%s", json_string_value(json_array_get(users, i)));
        int err = chat_events_publish(e->cache, r, (int)n, type, text);
        if (err)
            DP_LOG(LOG_WARN, "[chat] publishing %s failed: %s", type, dp_strerror(err));
    }
    free(r);
    free(text);
}

static void typing_work(struct hub_task *k, struct context *e)
{
    json_t *users = NULL;
    if ((k->err = chat_typing_audience(e->db, k->chat, k->user, &users)))
        return;
    json_t *data = k->op ? json_pack("{s:s,s:s,s:i}", "chat_id", k->chat, "user_id", k->user, "expires_in_ms",
                                     hub.cfg.typing_ttl_ms)
                         : json_pack("{s:s,s:s}", "chat_id", k->chat, "user_id", k->user);
    publish_live(e, users, k->op ? "typing.start" : "typing.stop", data);
    json_decref(data);
    json_decref(users);
}

static void presence_work(struct hub_task *k, struct context *e)
{
    char key[64], now[RFC3339_LEN];
    snprintf(key, sizeof key, "presence:%s", k->user);
    int64_t devices = 1;
    /* The shared count of instances holding a device of the user: offline only at zero. */
    if (k->op == P_OFFLINE && k->was_counted) {
        if (cache_incr(e->security, key, -1, PRESENCE_KEY_TTL_MS, &devices) == DP_OK && devices <= 0)
            cache_del(e->security, key);
        if (devices > 0)
            return; /* still online elsewhere */
    } else if (k->op != P_OFFLINE && !k->was_counted) {
        cache_incr(e->security, key, 1, PRESENCE_KEY_TTL_MS, &devices);
    }
    json_t *users = NULL;
    if (k->op == P_OFFLINE) {
        time_rfc3339(time_now_ms(), now);
        chat_last_seen_set(e->db, k->user, now);
    }
    if ((k->err = chat_presence_audience(e->db, k->user, CHAT_FANOUT_MAX, &users)) || !users)
        return; /* hidden */
    json_t *data = json_pack("{s:s,s:s,s:o}", "user_id", k->user, "status", presence_names[k->op], "last_seen",
                             k->op == P_OFFLINE ? json_string(now) : json_null());
    publish_live(e, users, "presence", data);
    json_decref(data);
    json_decref(users);
}

static void submit_typing(const char *user, const char *chat, int start)
{
    struct hub_task *k = task_new(typing_work, user);
    if (!k)
        return;
    snprintf(k->chat, sizeof k->chat, "%s", chat);
    k->op = start;
    pool_submit(hub.pool, &k->t);
}

/* ---- frames to a connection --------------------------------------------------------------- */

static void send_error(struct ev_conn *c, const char *code, const char *message)
{
    char f[320];
    int n = snprintf(f, sizeof f, "{\"type\":\"error\",\"data\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
    ws_send_text(c->ws, f, (size_t)n);
}

static void pend_add(struct ev_conn *c, const char *f, size_t len, int64_t seq)
{
    if (c->npend >= PENDING_MAX) {
        if (seq)
            c->overflow = 1; /* it is in the log: the next read finds it */
        return;
    }
    struct pend *p = malloc(sizeof *p + len);
    if (!p) {
        c->overflow |= seq != 0;
        return;
    }
    p->next = NULL;
    p->seq = seq;
    p->len = len;
    memcpy(p->frame, f, len);
    *c->pend_tail = p;
    c->pend_tail = &p->next;
    c->npend++;
}

static void start_sync(struct ev_conn *c);

/* Delivers one event to c: in order, each logged one once; a gap sends c back to the log. */
static void conn_deliver(struct ev_conn *c, const char *f, size_t len, int64_t seq)
{
    if (!c->ready) {
        pend_add(c, f, len, seq);
        return;
    }
    if (seq) {
        if (seq <= c->sent)
            return; /* the log read delivered it already */
        if (seq > c->sent + 1) {
            /* An earlier event has not arrived (another instance published later, or the
             * pub/sub lost it): read the log from where this connection is. */
            c->ready = 0;
            pend_add(c, f, len, seq);
            start_sync(c);
            return;
        }
        c->sent = seq;
    }
    ws_send_text(c->ws, f, len);
}

/* Sends what was held while catching up; stops at a gap (and reads the log again). */
static void flush_pend(struct ev_conn *c)
{
    while (c->pend) {
        struct pend *p = c->pend;
        if (p->seq && p->seq > c->sent + 1) {
            start_sync(c);
            return;
        }
        c->pend = p->next;
        c->npend--;
        if (!p->seq || p->seq == c->sent + 1) {
            if (p->seq)
                c->sent = p->seq;
            ws_send_text(c->ws, p->frame, p->len);
        }
        free(p);
    }
    c->pend_tail = &c->pend;
    if (c->overflow) {
        c->overflow = 0;
        start_sync(c);
        return;
    }
    c->ready = 1;
}

/* ---- catching up from the log ------------------------------------------------------------- */

struct sync_task {
    char user[ID_LEN];
    int64_t since; /* -1: only learn the latest number */
    struct chat_frames frames;
    int64_t last;
    int err;
};

static void sync_work(void *arg, void *state)
{
    struct sync_task *k = arg;
    struct context e;
    if ((k->err = hub.env(state, &e)) || (k->err = chat_events_last(e.db, k->user, &k->last)))
        return;
    if (k->since >= 0 && k->since < k->last)
        k->err = chat_events_since(e.db, k->user, k->since, &k->frames);
}

static void send_ready(struct ev_conn *c)
{
    char f[96];
    int n = snprintf(f, sizeof f, "{\"type\":\"ready\",\"data\":{\"seq\":%lld}}", (long long)c->sent);
    ws_send_text(c->ws, f, (size_t)n);
}

static void snapshot_work(struct hub_task *k, struct context *e)
{
    json_t *users = NULL;
    /* Who the user may see: the same people who would see theirs (chats and contacts), with their
     * last seen times (one query), online or not from their device counts (read a few at a time). */
    if ((k->err = chat_presence_visible(e->db, k->user, PRESENCE_SNAPSHOT_MAX, &users)) || !users)
        return;
    k->result = json_array();
    size_t n = json_array_size(users);
    for (size_t at = 0; at < n; at += CACHE_GET_MANY_MAX) {
        char keys[CACHE_GET_MANY_MAX][64], *vals[CACHE_GET_MANY_MAX] = {0};
        const char *kp[CACHE_GET_MANY_MAX];
        size_t lens[CACHE_GET_MANY_MAX], m = n - at < CACHE_GET_MANY_MAX ? n - at : CACHE_GET_MANY_MAX;
        for (size_t i = 0; i < m; i++) {
            const char *id = json_string_value(json_object_get(json_array_get(users, at + i), "user_id"));
            snprintf(keys[i], sizeof keys[i], "presence:%s", id);
            kp[i] = keys[i];
        }
        if (cache_get_many(e->security, kp, (int)m, vals, lens))
            memset(vals, 0, sizeof vals); /* unknown: shown offline, as a count that expired */
        for (size_t i = 0; i < m; i++) {
            json_t *u = json_array_get(users, at + i);
            int online = vals[i] && atoll(vals[i]) > 0;
            json_array_append_new(k->result, json_pack("{s:O,s:s,s:O}", "user_id", json_object_get(u, "user_id"),
                                                       "status", online ? "online" : "offline", "last_seen",
                                                       online ? json_null() : json_object_get(u, "last_seen")));
            free(vals[i]);
        }
    }
    json_decref(users);
}

static void snapshot_done(struct ws_conn *ws, void *arg, int open)
{
    struct hub_task *k = arg;
    if (open && k->result) {
        size_t i;
        json_t *it;
        json_array_foreach (k->result, i, it) {
            char *data = json_dumps(it, JSON_COMPACT);
            size_t len;
            char *f = data ? chat_frame_build("presence", 0, data, strlen(data), &len) : NULL;
            if (f)
                ws_send_text(ws, f, len);
            free(f);
            free(data);
        }
    }
    hub_task_free(&k->t);
}

static void task_run_ws(void *arg, void *state)
{
    hub_task_run(&((struct hub_task *)arg)->t, state);
}

static void sync_done(struct ws_conn *ws, void *arg, int open)
{
    struct sync_task *k = arg;
    struct ev_conn *c = open ? ws_user(ws) : NULL;
    if (!c) {
        chat_frames_free(&k->frames);
        free(k);
        return;
    }
    c->syncing = 0;
    if (k->err) {
        DP_LOG(LOG_WARN, "[chat] reading the event log failed: %s", dp_strerror(k->err));
        send_error(c, dp_errcode(k->err), "the event log cannot be read now; reconnect with since");
        ws_close(ws, 1011, "try again");
    } else {
        for (int i = 0; i < k->frames.n; i++)
            ws_send_text(ws, k->frames.frame[i], k->frames.len[i]);
        c->known = 1;
        if (k->frames.n)
            c->sent = k->frames.last_seq;
        else if (k->since < 0 || k->since > k->last)
            c->sent = k->last; /* a fresh start, or a client ahead of the log: from now on */
        if (k->frames.n == CHAT_EVENTS_PAGE) {
            start_sync(c); /* more to read */
        } else {
            if (!c->greeted) {
                c->greeted = 1;
                send_ready(c);
                struct hub_task *s = task_new(snapshot_work, c->u->id);
                if (s && ws_submit(ws, task_run_ws, snapshot_done, s))
                    hub_task_free(&s->t);
            }
            flush_pend(c);
        }
    }
    chat_frames_free(&k->frames);
    free(k);
}

static void start_sync(struct ev_conn *c)
{
    c->ready = 0;
    if (c->syncing)
        return;
    struct sync_task *k = calloc(1, sizeof *k);
    if (!k) {
        ws_close(c->ws, 1011, "out of memory");
        return;
    }
    snprintf(k->user, sizeof k->user, "%s", c->u->id);
    k->since = c->known ? c->sent : -1;
    if (ws_submit(c->ws, sync_work, sync_done, k)) {
        free(k);
        ws_close(c->ws, 1011, "out of memory");
        return;
    }
    c->syncing = 1;
}

/* ---- pub/sub ------------------------------------------------------------------------------ */

static char *scratch_reserve(size_t n)
{
    if (n > hub.scratch_cap) {
        char *p = realloc(hub.scratch, n);
        if (!p)
            return NULL;
        hub.scratch = p;
        hub.scratch_cap = n;
    }
    return hub.scratch;
}

/* Builds {"type","seq","data"} in the scratch buffer. */
static size_t frame_in_scratch(const char *type, int64_t seq, const char *data, size_t data_len)
{
    char *f = scratch_reserve(data_len + 96);
    if (!f)
        return 0;
    int h = seq ? snprintf(f, 96, "{\"type\":\"%s\",\"seq\":%lld,\"data\":", type, (long long)seq)
                : snprintf(f, 96, "{\"type\":\"%s\",\"data\":", type);
    memcpy(f + h, data, data_len);
    f[h + data_len] = '}';
    return (size_t)h + data_len + 1;
}

static void on_fanout(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg;
    (void)channel;
    struct chat_fanout f;
    if (chat_fanout_parse(msg, len, &f)) {
        DP_LOG(LOG_WARN, "[chat] a malformed event on %s was dropped", CHAT_EVENTS_CHANNEL);
        return;
    }
    /* The frame is made once for all local recipients: the data copied once, after room for the
     * head, and each recipient's head {"type":…,"seq":N,"data": written right before it (only N
     * differs). */
    char *body = scratch_reserve(FRAME_HEAD_MAX + f.data_len + 1);
    if (!body)
        return;
    body += FRAME_HEAD_MAX;
    memcpy(body, f.data, f.data_len);
    body[f.data_len] = '}';
    char head[FRAME_HEAD_MAX], user[ID_LEN];
    size_t type_end = (size_t)snprintf(head, sizeof head, "{\"type\":\"%s\"", f.type); /* type: < 32 bytes */
    int64_t seq;
    while (chat_fanout_next(&f, user, &seq)) {
        struct hub_user *u = user_find(user);
        if (!u || !u->conns)
            continue;
        size_t h = type_end;
        if (seq) {
            memcpy(head + h, ",\"seq\":", 7);
            h += 7 + fmt_i64(head + h + 7, seq);
        }
        memcpy(head + h, ",\"data\":", 8);
        h += 8;
        memcpy(body - h, head, h);
        for (struct ev_conn *c = u->conns; c; c = c->next)
            conn_deliver(c, body - h, h + f.data_len + 1, seq);
    }
}

/* job.updated of the jobs queue ({"type":"job.updated","job":{…}} on events:user:<id>). */
static void on_job(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg;
    struct hub_user *u = user_find(channel + strlen(JOB_CHANNEL_PREFIX));
    if (!u || !u->conns)
        return;
    json_t *j = json_loadb(msg, len, 0, NULL);
    char *data = json_is_object(json_object_get(j, "job")) ? json_dumps(json_object_get(j, "job"), JSON_COMPACT) : NULL;
    size_t n = data ? frame_in_scratch("job.updated", 0, data, strlen(data)) : 0;
    for (struct ev_conn *c = u->conns; c && n; c = c->next)
        conn_deliver(c, hub.scratch, n, 0);
    free(data);
    json_decref(j);
}

/* A session ended (logout, logout everywhere, password or role change, account deletion):
 * "user_id session_id" on ACCOUNTS_REVOKED_CHANNEL. Its sockets close with CHAT_CLOSE_SESSION_ENDED,
 * which tells a client to sign in again rather than reconnect. */
static void on_revoked(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg;
    (void)channel;
    char user[ID_LEN], sid[ID_LEN];
    if (len >= 2 * ID_LEN || len < 3 || !memchr(msg, ' ', len))
        return;
    const char *sp = memchr(msg, ' ', len);
    snprintf(user, sizeof user, "%.*s", (int)(sp - msg), msg);
    snprintf(sid, sizeof sid, "%.*s", (int)(msg + len - sp - 1), sp + 1);
    struct hub_user *u = user_find(user);
    struct ev_conn *next;
    for (struct ev_conn *c = u ? u->conns : NULL; c; c = next) {
        next = c->next; /* ws_close may tear c down and unlink it */
        if (!strcmp(ws_auth(c->ws)->session_id, sid)) {
            send_error(c, "session_ended", "signed out: sign in again");
            ws_close(c->ws, CHAT_CLOSE_SESSION_ENDED, "session ended");
        }
    }
}

/* ---- typing ------------------------------------------------------------------------------- */

static void typing_unlink(struct ev_conn *c)
{
    if (!c->tpprev)
        return;
    *c->tpprev = c->tnext;
    if (c->tnext)
        c->tnext->tpprev = c->tpprev;
    c->tpprev = NULL;
    c->tnext = NULL;
}

static void typing_remove(struct ev_conn *c, int i, int publish)
{
    if (publish)
        submit_typing(c->u->id, c->typing[i].chat_id, 0);
    c->typing[i] = c->typing[--c->ntyping];
    if (!c->ntyping)
        typing_unlink(c);
}

static void typing_start_done(struct ws_conn *ws, void *arg, int open)
{
    struct hub_task *k = arg;
    struct ev_conn *c = open ? ws_user(ws) : NULL;
    if (c && k->err) {
        for (int i = 0; i < c->ntyping; i++)
            if (!strcmp(c->typing[i].chat_id, k->chat)) {
                typing_remove(c, i, 0);
                break;
            }
        send_error(c, dp_errcode(k->err), k->err == DP_ERR_NOT_FOUND ? "no such chat" : "typing failed");
    }
    hub_task_free(&k->t);
}

static void on_typing(struct ev_conn *c, const char *chat, int start)
{
    double now = time_mono(), ttl = hub.cfg.typing_ttl_ms / 1000.0;
    int i = 0;
    while (i < c->ntyping && strcmp(c->typing[i].chat_id, chat))
        i++;
    if (!start) {
        if (i < c->ntyping)
            typing_remove(c, i, 1);
        return;
    }
    if (i < c->ntyping) {
        c->typing[i].expires = now + ttl;
        /* A refresh goes out again only when half the receivers' time is gone. */
        if (now - c->typing[i].published < ttl / 2)
            return;
    } else {
        if (c->ntyping == TYPING_MAX) {
            send_error(c, "rate_limited", "typing in too many chats at once");
            return;
        }
        if (!c->typing && !(c->typing = calloc(TYPING_MAX, sizeof *c->typing)))
            return;
        snprintf(c->typing[i].chat_id, ID_LEN, "%s", chat);
        c->typing[i].expires = now + ttl;
        c->ntyping++;
        if (!c->tpprev) {
            c->tnext = hub.typing;
            if (hub.typing)
                hub.typing->tpprev = &c->tnext;
            c->tpprev = &hub.typing;
            hub.typing = c;
        }
    }
    c->typing[i].published = now;
    struct hub_task *k = task_new(typing_work, c->u->id);
    if (!k)
        return;
    snprintf(k->chat, sizeof k->chat, "%s", chat);
    k->op = 1;
    if (ws_submit(c->ws, task_run_ws, typing_start_done, k))
        hub_task_free(&k->t);
}

/* ---- sending over the socket -------------------------------------------------------------- */

struct send_task {
    struct caller caller;
    int n;
    struct send_q *q[SEND_BATCH_MAX];
    struct chat_send_item items[SEND_BATCH_MAX];
};

static void send_q_free(struct send_q *q)
{
    chat_frame_clear(&q->f);
    free(q);
}

static void send_work(void *arg, void *state)
{
    struct send_task *k = arg;
    struct context e;
    int err = hub.env(state, &e);
    for (int i = 0; i < k->n; i++) {
        struct chat_frame *f = &k->q[i]->f;
        k->items[i] =
            (struct chat_send_item){.chat_id = f->chat_id,
                                    .send = {f->text, f->client_id, *f->reply_to ? f->reply_to : NULL, f->attachments},
                                    .err = err};
    }
    if (err)
        return;
    e.caller = &k->caller;
    if (hub.cfg.send_db) {
        pthread_mutex_lock(&hub.send_lock);
        e.db = hub.cfg.send_db;
    }
    chat_send_batch(&e, k->items, k->n);
    if (hub.cfg.send_db)
        pthread_mutex_unlock(&hub.send_lock);
}

static void send_message_error(struct ws_conn *ws, const char *client_id, int err)
{
    static const char *const why[] = {[DP_ERR_INVALID] = "a message needs text (up to 4000 bytes) or attachments "
                                                         "(up to 10 of your own media ids); reply_to must be a "
                                                         "message of this chat",
                                      [DP_ERR_NOT_FOUND] = "no such chat",
                                      [DP_ERR_FORBIDDEN] = "blocked: one of you has blocked the other",
                                      [DP_ERR_CONFLICT] = "client_id was used for a message of another chat"};
    const char *msg = err > 0 && err < (int)(sizeof why / sizeof *why) && why[err] ? why[err] : dp_strerror(err);
    json_t *j = json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "message.error", "data", "client_id", client_id, "code",
                          dp_errcode(err), "message", msg);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (t)
        ws_send_text(ws, t, strlen(t));
    free(t);
    json_decref(j);
}

/* message.ack {client_id, duplicate, message}: the message's JSON goes in as it is. */
static void send_ack(struct ws_conn *ws, const char *client_id, int dup, const char *msg)
{
    struct buf b;
    struct jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_obj(&w);
    jw_kstr(&w, "type", "message.ack");
    jw_key(&w, "data");
    jw_obj(&w);
    jw_kstr(&w, "client_id", client_id);
    jw_kbool(&w, "duplicate", dup);
    jw_key(&w, "message");
    jw_raw(&w, msg, strlen(msg));
    jw_obj_end(&w);
    jw_obj_end(&w);
    if (!jw_finish(&w))
        ws_send_text(ws, b.data, b.len);
    buf_cleanup(&b);
}

static void start_send(struct ev_conn *c);

static void send_done(struct ws_conn *ws, void *arg, int open)
{
    struct send_task *k = arg;
    struct ev_conn *c = open ? ws_user(ws) : NULL;
    for (int i = 0; i < k->n; i++) {
        struct chat_send_item *it = &k->items[i];
        if (c && it->err) {
            send_message_error(ws, k->q[i]->f.client_id, it->err);
        } else if (c) {
            send_ack(ws, k->q[i]->f.client_id, it->dup, it->msg);
        }
        free(it->msg);
        send_q_free(k->q[i]);
    }
    free(k);
    if (c) {
        c->sending = 0;
        start_send(c);
    }
}

/* Hands the waiting sends (up to SEND_BATCH_MAX) to a worker, unless a batch is in flight. */
static void start_send(struct ev_conn *c)
{
    if (c->sending || !c->sq)
        return;
    struct send_task *k = calloc(1, sizeof *k);
    if (!k)
        return; /* they wait for the next frame */
    k->caller = *ws_auth(c->ws);
    while (c->sq && k->n < SEND_BATCH_MAX) {
        struct send_q *q = c->sq;
        c->sq = q->next;
        c->nsq--;
        k->q[k->n++] = q;
    }
    if (!c->sq)
        c->sq_tail = &c->sq;
    if (ws_submit(c->ws, send_work, send_done, k)) {
        for (int i = 0; i < k->n; i++) {
            send_message_error(c->ws, k->q[i]->f.client_id, DP_ERR_NOMEM);
            send_q_free(k->q[i]);
        }
        free(k);
        return;
    }
    c->sending = 1;
}

/* A message.send frame: queued (the frame is the queue's), written with the others waiting. */
static void on_send(struct ev_conn *c, struct chat_frame *f)
{
    struct send_q *q = c->nsq < SEND_QUEUE_MAX ? malloc(sizeof *q) : NULL;
    if (!q) {
        send_message_error(c->ws, f->client_id, DP_ERR_RATE_LIMITED);
        chat_frame_clear(f);
        return;
    }
    q->next = NULL;
    q->f = *f;
    if (!c->sq_tail)
        c->sq_tail = &c->sq;
    *c->sq_tail = q;
    c->sq_tail = &q->next;
    c->nsq++;
    start_send(c);
}

/* ---- the sweep: typing expiry and presence ----------------------------------------------- */

static void sweep_presence(double now)
{
    struct hub_user **p = &hub.dirty;
    while (*p) {
        struct hub_user *u = *p;
        enum presence want = user_wanted(u);
        int settled = want == u->published;
        if (!settled && want == P_OFFLINE && now - u->changed < hub.cfg.presence_grace_ms / 1000.0) {
            p = &u->dnext; /* a reconnect within the grace is no change */
            continue;
        }
        if (!settled && now - u->published_at < hub.cfg.presence_gap_ms / 1000.0) {
            p = &u->dnext;
            continue;
        }
        if (!settled) {
            struct hub_task *k = task_new(presence_work, u->id);
            if (!k) {
                p = &u->dnext;
                continue;
            }
            k->op = (int)want;
            k->was_counted = u->counted;
            pool_submit(hub.pool, &k->t);
            u->published = want;
            u->published_at = now;
            u->counted = want != P_OFFLINE;
        }
        *p = u->dnext;
        u->dirty = 0;
        user_maybe_free(u);
    }
}

static void on_sweep(uv_timer_t *t)
{
    (void)t;
    double now = time_mono();
    for (struct ev_conn *c = hub.typing, *next; c; c = next) {
        next = c->tnext; /* the last expiry unlinks c */
        for (int i = c->ntyping - 1; i >= 0; i--)
            if (c->typing[i].expires <= now)
                typing_remove(c, i, 1);
    }
    sweep_presence(now);
}

/* ---- the WebSocket ------------------------------------------------------------------------ */

static int ev_upgrade(const struct request *req, void **user)
{
    struct ev_conn *c = calloc(1, sizeof *c);
    if (!c)
        return DP_ERR_NOMEM;
    c->since = -1;
    const char *since = req_query(req, "since");
    if (since) {
        char *end;
        errno = 0;
        long long v = strtoll(since, &end, 10);
        /* A malformed cursor is told on open (since stays -2 until then). */
        c->since = errno || end == since || *end || v < 0 ? -2 : v;
    }
    c->pend_tail = &c->pend;
    *user = c;
    return DP_OK;
}

static void ev_open(struct ws_conn *ws)
{
    struct ev_conn *c = ws_user(ws);
    struct caller *who = ws_auth(ws);
    c->ws = ws;
    if (!who) {
        ws_close(ws, 1008, "authentication required");
        return;
    }
    if (c->since == -2) {
        send_error(c, "invalid", "since must be a non-negative integer (the last seq the client has)");
        c->since = -1;
        ws_close(ws, 1008, "invalid since");
        return;
    }
    struct hub_user **slot = user_slot(who->user_id), *u = *slot;
    if (!u) {
        if (!(u = calloc(1, sizeof *u))) {
            ws_close(ws, 1011, "out of memory");
            return;
        }
        snprintf(u->id, sizeof u->id, "%s", who->user_id);
        *slot = u;
        hub.nusers++;
    }
    c->u = u;
    c->next = u->conns;
    u->conns = c;
    u->nconns++;
    hub.nconns++;
    if (c->since >= 0) {
        c->sent = c->since;
        c->known = 1;
    }
    c->tokens = hub.cfg.frame_rate * 2;
    c->tokens_at = time_mono();
    user_changed(u);
    start_sync(c);
}

static int take_token(struct ev_conn *c)
{
    double now = time_mono(), burst = hub.cfg.frame_rate * 2;
    c->tokens += (now - c->tokens_at) * hub.cfg.frame_rate;
    c->tokens_at = now;
    if (c->tokens > burst)
        c->tokens = burst;
    if (c->tokens < 1)
        return 0;
    c->tokens -= 1;
    return 1;
}

static void ev_message(struct ws_conn *ws, int is_text, const uint8_t *p, size_t n)
{
    struct ev_conn *c = ws_user(ws);
    if (!c->u)
        return;
    if (!is_text) {
        ws_close(ws, 1003, "text frames only");
        return;
    }
    if (!take_token(c)) {
        send_error(c, "rate_limited", "too many frames; slow down");
        return;
    }
    struct chat_frame f;
    const char *why;
    if (chat_frame_parse((const char *)p, n, &f, &why)) {
        send_error(c, "invalid", why);
        return;
    }
    switch (f.kind) {
    case CHAT_FRAME_TYPING_START:
    case CHAT_FRAME_TYPING_STOP:
        on_typing(c, f.chat_id, f.kind == CHAT_FRAME_TYPING_START);
        break;
    case CHAT_FRAME_PRESENCE:
        if (c->away != f.away) {
            c->away = f.away;
            user_changed(c->u);
        }
        break;
    case CHAT_FRAME_PING:
        ws_send_text(ws, "{\"type\":\"pong\",\"data\":{}}", 25);
        break;
    case CHAT_FRAME_SEND:
        on_send(c, &f);
        return; /* f is the queue's now */
    }
    chat_frame_clear(&f);
}

static void ev_close(struct ws_conn *ws)
{
    struct ev_conn *c = ws_user(ws);
    ws_set_user(ws, NULL);
    if (!c)
        return;
    struct hub_user *u = c->u;
    if (u) {
        while (c->ntyping)
            typing_remove(c, c->ntyping - 1, 1); /* the others see them stop now, not in 6 s */
        struct ev_conn **p = &u->conns;
        while (*p != c)
            p = &(*p)->next;
        *p = c->next;
        u->nconns--;
        hub.nconns--;
        user_changed(u);
    }
    typing_unlink(c);
    for (struct send_q *q = c->sq, *next; q; q = next) {
        next = q->next;
        send_q_free(q);
    }
    for (struct pend *q = c->pend, *next; q; q = next) {
        next = q->next;
        free(q);
    }
    free(c->typing);
    free(c);
}

const struct ws_handler chat_events_ws = {ev_open, ev_message, ev_close, ev_upgrade};

/* ---- start and stop ----------------------------------------------------------------------- */

int chat_hub_start(struct uv_loop_s *loop, struct pool *pool, const char *pubsub_url, const struct chat_hub_config *cfg,
                   int (*env)(void *state, struct context *e))
{
    hub.loop = loop;
    hub.pool = pool;
    hub.env = env;
    hub.cfg = *cfg;
    int err = pubsub_open(&hub.ps, loop, pubsub_url);
    if (err || (err = pubsub_subscribe(hub.ps, CHAT_EVENTS_CHANNEL, on_fanout, NULL)) ||
        (err = pubsub_subscribe(hub.ps, JOB_CHANNEL_PREFIX "*", on_job, NULL)) ||
        (err = pubsub_subscribe(hub.ps, ACCOUNTS_REVOKED_CHANNEL, on_revoked, NULL))) {
        if (hub.ps)
            pubsub_close(hub.ps);
        hub.ps = NULL;
        if (hub.cfg.send_db)
            db_close(hub.cfg.send_db);
        hub.cfg.send_db = NULL;
        return err;
    }
    uv_timer_init(loop, &hub.sweep);
    uv_timer_start(&hub.sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&hub.sweep);
    hub.started = 1;
    return DP_OK;
}

void chat_hub_stop(void)
{
    if (!hub.started)
        return;
    hub.started = 0;
    if (hub.cfg.send_db)
        db_close(hub.cfg.send_db); /* the workers are gone: no batch holds it */
    hub.cfg.send_db = NULL;
    pubsub_close(hub.ps);
    hub.ps = NULL;
    uv_timer_stop(&hub.sweep);
    uv_close((uv_handle_t *)&hub.sweep, NULL);
    free(hub.scratch);
    hub.scratch = NULL;
    hub.scratch_cap = 0;
}

void chat_hub_counts(long *conns, long *users)
{
    *conns = hub.nconns;
    *users = hub.nusers;
}
