/* The devices connected to this process, and which recording each one writes. */
#include "capture/clients.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/recording.h"
#include "core/err.h"
#include "core/timeutil.h"

struct client_entry {
    char user_id[ID_LEN];
    char client_id[CLIENT_ID_MAX + 1];
    char device[65];
    int opus;
    int64_t connected_ms;
    char rec_id[ID_LEN]; /* "" when it writes none */
    uint64_t bytes;
    int64_t seq;
    int close_requested;
    int64_t published_ms; /* when its state last went to the shared state */
    char session[ID_LEN]; /* this connection's id in the shared state */
    struct client_entry *next;
};

/* Recordings being closed by someone other than their writer. */
struct closing {
    char id[ID_LEN];
    struct closing *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct client_entry *clients;
static struct closing *closing;

static int is_closing(const char *id)
{
    for (struct closing *c = closing; c; c = c->next)
        if (!strcmp(c->id, id))
            return 1;
    return 0;
}

int clients_add(const char *user_id, const char *client_id, const char *device, int opus, struct client_entry **out)
{
    struct client_entry *e = calloc(1, sizeof *e);
    if (!e)
        return DP_ERR_NOMEM;
    snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
    snprintf(e->client_id, sizeof e->client_id, "%s", client_id);
    snprintf(e->device, sizeof e->device, "%s", device);
    e->opus = opus;
    e->seq = -1;
    e->connected_ms = time_now_ms();
    id_new(e->session);
    pthread_mutex_lock(&mu);
    for (struct client_entry *o = clients; o; o = o->next)
        if (!strcmp(o->client_id, client_id)) {
            pthread_mutex_unlock(&mu);
            free(e);
            return DP_ERR_CONFLICT;
        }
    e->next = clients;
    clients = e;
    pthread_mutex_unlock(&mu);
    *out = e;
    return DP_OK;
}

void clients_remove(struct client_entry *e)
{
    pthread_mutex_lock(&mu);
    for (struct client_entry **p = &clients; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    pthread_mutex_unlock(&mu);
    free(e);
}

int clients_claim(struct client_entry *e, const char *id)
{
    pthread_mutex_lock(&mu);
    int busy = is_closing(id);
    if (!busy) {
        snprintf(e->rec_id, sizeof e->rec_id, "%s", id);
        e->bytes = 0;
        e->seq = -1;
        e->close_requested = 0;
    }
    pthread_mutex_unlock(&mu);
    return busy ? DP_ERR_CONFLICT : DP_OK;
}

void clients_unclaim(struct client_entry *e)
{
    pthread_mutex_lock(&mu);
    e->rec_id[0] = 0;
    e->close_requested = 0;
    pthread_mutex_unlock(&mu);
}

void clients_progress(struct client_entry *e, uint64_t bytes, int64_t seq)
{
    pthread_mutex_lock(&mu);
    e->bytes = bytes;
    e->seq = seq;
    pthread_mutex_unlock(&mu);
}

int clients_take_close_request(struct client_entry *e)
{
    pthread_mutex_lock(&mu);
    int r = e->close_requested;
    e->close_requested = 0;
    pthread_mutex_unlock(&mu);
    return r;
}

int clients_begin_close(const char *id, int ask)
{
    pthread_mutex_lock(&mu);
    int r = 0;
    for (struct client_entry *o = clients; o; o = o->next)
        if (!strcmp(o->rec_id, id)) {
            if (ask)
                o->close_requested = 1;
            r = 1;
        }
    if (!r && is_closing(id))
        r = -1;
    if (!r) {
        struct closing *c = calloc(1, sizeof *c);
        if (c) {
            snprintf(c->id, sizeof c->id, "%s", id);
            c->next = closing;
            closing = c;
        } else
            r = -1;
    }
    pthread_mutex_unlock(&mu);
    return r;
}

void clients_end_close(const char *id)
{
    pthread_mutex_lock(&mu);
    for (struct closing **p = &closing; *p; p = &(*p)->next)
        if (!strcmp((*p)->id, id)) {
            struct closing *c = *p;
            *p = c->next;
            free(c);
            break;
        }
    pthread_mutex_unlock(&mu);
}

/* Under mu. */
static json_t *entry_json(const struct client_entry *o)
{
    char at[RFC3339_LEN];
    time_rfc3339(o->connected_ms, at);
    return json_pack("{s:s,s:s,s:s,s:s,s:s?,s:I,s:o}", "client_id", o->client_id, "device_name", o->device, "codec",
                     o->opus ? "opus" : "pcm", "connected_at", at, "recording_id", *o->rec_id ? o->rec_id : NULL,
                     "bytes", (json_int_t)o->bytes, "seq", o->seq >= 0 ? json_integer(o->seq) : json_null());
}

json_t *clients_json(const char *user_id)
{
    json_t *a = json_array();
    pthread_mutex_lock(&mu);
    for (struct client_entry *o = clients; o; o = o->next)
        if (!strcmp(o->user_id, user_id))
            json_array_append_new(a, entry_json(o));
    pthread_mutex_unlock(&mu);
    return a;
}

void clients_entry_key(const struct client_entry *e, char *key, size_t cap)
{
    snprintf(key, cap, "capture:dev:%s:%s", e->user_id, e->device);
}

const char *clients_entry_session(const struct client_entry *e)
{
    return e->session; /* set once, before the entry is shared */
}

json_t *clients_entry_json(struct client_entry *e)
{
    pthread_mutex_lock(&mu);
    json_t *j = entry_json(e);
    pthread_mutex_unlock(&mu);
    return j;
}

int clients_publish_due(struct client_entry *e, int64_t ms)
{
    int64_t now = time_now_ms();
    pthread_mutex_lock(&mu);
    int due = now - e->published_ms >= ms;
    if (due)
        e->published_ms = now;
    pthread_mutex_unlock(&mu);
    return due;
}

json_t *clients_snapshot(void)
{
    json_t *a = json_array();
    pthread_mutex_lock(&mu);
    for (struct client_entry *o = clients; o; o = o->next) {
        char key[200];
        clients_entry_key(o, key, sizeof key);
        json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "key", key, "session", o->session, "state", entry_json(o)));
    }
    pthread_mutex_unlock(&mu);
    return a;
}
