/* WebSocket connections (RFC 6455, framing in net/ws_frame) for routes declared with ROUTE_WEBSOCKET. */
#ifndef DP_WS_H
#define DP_WS_H

#include <stddef.h>
#include <stdint.h>

struct ws_conn;
struct caller;
struct request;

/* What a WebSocket route does; every callback runs on the loop thread and must not block. */
struct ws_handler {
    void (*on_open)(struct ws_conn *c);
    /* A whole message (text is valid UTF-8). */
    void (*on_message)(struct ws_conn *c, int is_text, const uint8_t *p, size_t n);
    /* The connection is gone; free user data here. */
    void (*on_close)(struct ws_conn *c);
    /* Optional, before on_open: reads the upgrade request (its query string) into the
     * connection's user data (*user, then ws_user). Nonzero refuses: the socket is closed. */
    int (*on_upgrade)(const struct request *req, void **user);
};

/* Queue a message; DP_ERR_CANCELLED when the connection is closing. Loop thread only. */
int ws_send_text(struct ws_conn *c, const char *p, size_t n);
int ws_send_binary(struct ws_conn *c, const void *p, size_t n);
/* Starts the closing handshake with code and reason. */
void ws_close(struct ws_conn *c, uint16_t code, const char *reason);
void *ws_user(const struct ws_conn *c);
void ws_set_user(struct ws_conn *c, void *user);
/* The authenticated caller (from the upgrade request's auth hook), or NULL. */
struct caller *ws_auth(const struct ws_conn *c);

/* The route's one timer: cb(c) runs once on the loop thread after ms (a new start replaces the
 * pending one); never after on_close. Loop thread only. */
void ws_timer_start(struct ws_conn *c, uint64_t ms, void (*cb)(struct ws_conn *c));
void ws_timer_stop(struct ws_conn *c);

/* Hands work to a worker and comes back to the connection: work(arg, state) runs on a worker
 * (state: the worker's, e.g. its database), then done(c, arg, open) on the loop thread, open 0
 * when the connection has gone meanwhile (ws_send then answers DP_ERR_CANCELLED; c stays valid
 * until done returns, never longer). A connection's tasks run one at a time, in the order
 * submitted, so its replies keep their order. Loop thread only. DP_ERR_NOMEM. */
int ws_submit(struct ws_conn *c, void (*work)(void *arg, void *state),
              void (*done)(struct ws_conn *c, void *arg, int open), void *arg);
/* How a task runs (ws_submit_how). ORDERED: as ws_submit. SLOW: in that same order, on the
 * provider pool (work that mostly waits on a remote model, not on a CPU; the CPU pool when the
 * server has none). BESIDE: at once on the CPU pool, neither waiting for the ordered tasks nor
 * holding them up (its done may come before theirs: the caller orders what it needs). */
enum { WS_TASK_ORDERED, WS_TASK_SLOW, WS_TASK_BESIDE };
int ws_submit_how(struct ws_conn *c, int how, void (*work)(void *arg, void *state),
                  void (*done)(struct ws_conn *c, void *arg, int open), void *arg);

#endif
