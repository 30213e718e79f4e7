/* Pieces shared by the files of net/ (server, ws, sse, static files); not for other layers. */
#ifndef DP_SERVER_INTERNAL_H
#define DP_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>

#include "net/guard.h"
#include "net/server.h"

struct ws_conn;
struct sse;

/* One request in flight, from its first header callback until libmicrohttpd completes it. */
/* Bytes of a request's arena held inline (path, headers, query of an ordinary request fit), and
 * the most its arena may take from the heap beyond them. */
#define REQUEST_ARENA_INLINE 2048
#define REQUEST_ARENA_MAX (1u << 20)

struct conn_req {
    struct request req;
    struct response res;
    struct pool_task task;
    struct server *srv;
    struct MHD_Connection *conn;
    char peer[48];           /* the socket's address (before any trusted proxy's forwarding) */
    char *path_buf;          /* the raw (undecoded) path, the router's to cut (params point into it) */
    int begun;               /* the access handler has seen this request (headers complete) */
    int state;               /* enum conn_state */
    int suspended;           /* suspended in libmicrohttpd */
    int immediate;           /* queue the ready response at once (e.g. 413: don't read the body) */
    double start;            /* time_mono() at the first callback */
    const char *route_label; /* metrics label: the route pattern, "static" or "unmatched" */
    int status_sent;
    uint64_t discarded; /* body bytes read and dropped after a refusal */
    int task_kind;      /* enum task_kind: what the worker does next */
    int stream_begun;   /* stream->begin succeeded; abort owed unless end ran */
    void *stream_state; /* the stream handler's state */
    char *chunk;        /* a copy of the body bytes being handed to the worker */
    size_t chunk_len;
    size_t chunk_cap;                                  /* bytes allocated for chunk (reused across chunks) */
    uint64_t received;                                 /* body bytes received (streamed routes) */
    struct body_meter meter;                           /* body rate, against --http-min-body-rate */
    double paused_at;                                  /* time_mono() when a chunk went to a worker (reading paused) */
    struct conn_req *next_suspended, **prev_suspended; /* list of suspended requests */
    struct arena arena;                                /* req.arena */
    alignas(max_align_t) char arena_first[REQUEST_ARENA_INLINE];
};

/* Security, request-id and CORS headers added to every response. */
void server_add_common_headers(struct server *s, struct MHD_Response *r, const struct request *req);
/* How origin stands with the CORS allowlist: not allowed, named in it, or allowed by "*"
 * (which never grants credentials). */
enum cors_match { CORS_NO, CORS_LISTED, CORS_ANY };
enum cors_match server_origin_allowed(const struct server *s, const char *origin);

/* Static files: fills res for path (GET/HEAD) from web_dir; DP_ERR_NOT_FOUND when absent. Loop thread. */
/* 1 when path is the application's own (one of own, NULL-terminated; a prefix ending in '/' also
 * matches the path without it). */
int static_path_is_own(const char *const *own, const char *path);
int static_serve(const char *web_dir, const char *const *own, const char *path, const struct request *req,
                 struct response *res);

/* Suspend/resume bookkeeping (loop thread). */
void server_suspend(struct server *s, struct conn_req *cr);
void server_resume(struct server *s, struct conn_req *cr);

/* WebSocket: adopt an upgraded socket. release(arg) gives the socket back when done. user: the
 * route's state from its handshake (ws_user() from on_open on). peer: the socket's address,
 * counted in ws_peers while it is open. NULL when it fails (nothing taken). */
struct ws_conn *ws_adopt(struct server *s, const struct route *rt, int fd, const char *extra, size_t extra_len,
                         void (*release)(void *arg), void *release_arg, struct caller *auth, void *user,
                         const char *peer);
void ws_close_all(struct server *s, unsigned short code);
/* Open WebSockets of a peer address (ws_peers.c; the text of client_ip, "" when unknown). */
int ws_peers_count(const char *addr);
void ws_peers_add(const char *addr);
void ws_peers_del(const char *addr);
/* ws.c counts each connection it links into (+1) or unlinks from (-1) the list. */
void server_ws_counted(struct server *s, int delta);
/* Writes the frames queued on the connections of server_ws_dirty (the loop's check, and stop). */
void ws_flush_dirty(struct server *s);
/* Frees a caller set by the auth hook (NULL is fine). */
void server_release_auth(struct server *s, struct caller *c);
/* Computes Sec-WebSocket-Accept for key (29 bytes incl. NUL). */
void ws_accept_key(const char *key, char out[29]);

/* SSE: the libmicrohttpd response streaming s for cr. */
struct MHD_Response *sse_response(struct sse *s, struct conn_req *cr);
void sse_start_producer(struct sse *s);
/* Drops a stream whose response was never queued (handler error, shutdown). */
void sse_discard(struct sse *s);
void sse_cancel_all(struct server *s);

/* SSE producers hold a worker for as long as they stream: at most max run at once, so that the
 * other workers stay free for ordinary requests; the rest wait here in order (loop thread). */
struct sse_slots {
    int running;
    int max;
    int waiting;
    struct sse *wait_head, **wait_tail;
};

/* ---- the server's state (server.c: requests; server_loop.c: libmicrohttpd on the loop;
 * server_headers.c: common headers; server_life.c: start, stop, accessors) ---- */

enum conn_state { ST_BODY, ST_RUNNING, ST_READY, ST_QUEUED };
enum task_kind { TASK_HANDLER, TASK_STREAM_CHUNK, TASK_STREAM_END, TASK_STREAM_ABORT };

struct posted {
    void (*fn)(void *);
    void *arg;
    struct posted *next;
};

struct server {
    uv_loop_t *loop;
    struct server_config cfg;
    struct proxy_list *proxies; /* cfg.trusted_proxies, parsed */
    struct router *router;
    struct pool *pool;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_async_t post_async;
    pthread_mutex_t post_lock;
    struct posted *posted_head, **posted_tail;
    server_auth_hook auth_hook;
    server_auth_release auth_release;
    int port;
    int in_flight;
    struct conn_req *suspended;
    /* "timeout=N", a second under --http-header-timeout, which closes an idle keep-alive
     * connection: a client told it stops reusing the connection first, rather than send a request
     * (a POST is not retried) into one being closed. "" when there is no such deadline. */
    char keep_alive[32];
    struct ws_conn *ws_list;
    atomic_int ws_open; /* len(ws_list), readable from any thread */
    /* WebSocket frames queued during the loop's turn go out after its I/O callbacks, one write a
     * connection (ws.c): the check flushes them; the idle keeps the next poll from blocking when
     * frames were queued after this turn's check (in close callbacks). */
    struct ws_conn *ws_dirty;
    uv_check_t ws_flush_check;
    uv_idle_t ws_flush_idle;
    struct sse *sse_list;
    /* shutdown */
    int stopping;
    double stop_deadline;
    uv_timer_t stop_timer;
    void (*stop_done)(void *);
    void *stop_arg;
    int handles_open;
    int poll_inited;
    int inline_ok;      /* ROUTE_TRY_INLINE routes may be tried on the loop */
    struct guard guard; /* header deadlines */
    struct sse_slots sse_slots;
    struct pool *slow_pool;      /* ROUTE_SLOW routes; NULL: the workers */
    struct sse_slots slow_slots; /* their SSE producers */
};

/* server_loop.c */
void server_mhd_run(struct server *s);
void server_on_posted(uv_async_t *a);
void server_on_mhd_poll(uv_poll_t *p, int status, int events);

/* server.c: what libmicrohttpd and the pool call back, and the server's metrics */
void server_metrics_init(void);
void server_collect_gauges(void *arg);
void server_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result server_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls);
void server_on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe);
void server_after_tasks(void *arg);
void server_count_refused(void);
struct metric *server_slow_metric(void);

/* Server internals exposed to ws.c and sse.c. */
/* The pool and SSE slots of a route: the provider pool's for ROUTE_SLOW routes when there is one. */
int server_route_slow(const struct server *s, const struct route *rt);
struct pool *server_pool_of(struct server *s, int slow);
struct sse_slots *server_sse_slots_of(struct server *s, int slow);
struct ws_conn **server_ws_list(struct server *s);
/* The connections with frames to write at the end of the loop's turn; the caller is adding one. */
struct ws_conn **server_ws_dirty(struct server *s);
struct sse **server_sse_list(struct server *s);

#endif
