/* The live side of chat, on the loop thread: the events WebSocket's connections by user, events
 * arriving through pub/sub (from this instance or any other) delivered in order and without gaps
 * (a gap is filled from the user's event log), typing indicators that expire, presence. */
#ifndef DP_CHAT_HUB_H
#define DP_CHAT_HUB_H

#include "core/context.h"

struct uv_loop_s;
struct pool;
struct db;

/* Tunables (set before chat_hub_start; milliseconds). */
struct chat_hub_config {
    int typing_ttl_ms;     /* a typing indicator ends this long after its last refresh (6000) */
    int presence_grace_ms; /* a user's last device gone this long before they are offline (3000) */
    int presence_gap_ms;   /* at most one presence change of a user published in this time (1000) */
    int frame_rate;        /* client frames a second per connection, bursts of twice that (10) */
    /* NULL, or the connection every message.send batch is written on, one batch at a time (the
     * hub's from chat_hub_start on, which closes it when it fails, else chat_hub_stop). For SQLite: a connection drops its page cache whenever
     * another one has committed, so sends spread over the workers' connections re-read the
     * pages they write from the file each time; on one connection they stay cached. */
    struct db *send_db;
};

/* Subscribes to the events channels on loop through pubsub_url (Redis, or "" in-process) and
 * starts the sweep timer. env builds a context from the worker state ws_submit and pool tasks
 * hand to their work. DP_OK or an error. */
int chat_hub_start(struct uv_loop_s *loop, struct pool *pool, const char *pubsub_url, const struct chat_hub_config *cfg,
                   int (*env)(void *state, struct context *e));
/* Unsubscribes and stops the timer (connections are closed by the server). */
void chat_hub_stop(void);
/* Connections on this instance and the users they belong to (for metrics and benchmarks). */
void chat_hub_counts(long *conns, long *users);

/* The close code of an events socket whose session ended (logout, password change, account
 * deletion, revocation): sign in again, do not reconnect with the same credentials. */
#define CHAT_CLOSE_SESSION_ENDED 4401

/* The handler of GET /api/v1/events (?since=N: the events after N first). */
extern const struct ws_handler chat_events_ws;

#endif
