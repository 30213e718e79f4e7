/* The HTTP server: libmicrohttpd driven by the libuv loop; handlers dispatched to the worker pool. */
#ifndef DP_SERVER_H
#define DP_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "core/pool.h"
#include "net/http.h"
#include "net/router.h"

struct server_config {
    const char *listen; /* "host:port"; port 0 picks a free one */
    long max_connections;
    long timeout;          /* seconds of inactivity */
    long header_timeout;   /* seconds to receive a request's headers; 0 = no deadline */
    long min_body_rate;    /* bytes/s a request body must keep up; 0 = no minimum */
    long body_rate_window; /* seconds over which that rate is measured (the first is the grace) */
    long max_conns_per_ip; /* open connections per client address; 0 = no cap */
    size_t json_body_max;  /* default body cap */
    size_t upload_max;     /* default cap of streamed (ROUTE_STREAM) bodies */
    size_t ws_message_max;
    size_t ws_send_queue_max; /* unsent bytes a WebSocket may have queued; 0 = no cap */
    long ws_ping_interval;    /* seconds */
    long shutdown_timeout;    /* seconds */
    long sse_producers;       /* SSE streams produced at once; 0 = half the workers (at least 1) */
    const char *cors_origins; /* comma-separated allowlist */
    /* Reverse proxies whose X-Forwarded-For names the client (net/proxy.h): addresses and CIDR
     * blocks, comma-separated; NULL or "" = none (the header is ignored). */
    const char *trusted_proxies;
    const char *web_dir; /* static files; NULL = none */
    /* Path prefixes the application answers itself (its API, probes, device sockets): never a
     * static file nor the web app's index.html; NULL-terminated, NULL = none. */
    const char *const *own_prefixes;
};

struct server;

/* Authentication of non-public routes; runs on a worker before the handler. Returns DP_OK
 * (req->auth set) or an error (the response is set by the hook or mapped from the code). */
typedef int (*server_auth_hook)(struct request *req, struct response *res);
/* Frees what the hook put into req->auth (when the request or its WebSocket ends). */
typedef void (*server_auth_release)(struct caller *c);

/* Creates a server (not yet listening). router and pool stay owned by the caller. */
int server_new(struct server **out, uv_loop_t *loop, const struct server_config *cfg, struct router *router,
               struct pool *pool);
/* Binds and starts accepting. DP_ERR_IO when the address is taken or invalid. */
int server_start(struct server *s);
int server_port(const struct server *s);
void server_set_auth_hook(struct server *s, server_auth_hook hook, server_auth_release release);
/* Lets ROUTE_TRY_INLINE routes try the loop thread first (only when the cache is in-process,
 * so that a cache call never blocks). */
void server_allow_inline(struct server *s, int yes);
/* Graceful stop: stop accepting, let in-flight requests finish (bounded by shutdown_timeout),
 * close WebSockets with 1001, then call done on the loop thread. */
void server_shutdown(struct server *s, void (*done)(void *arg), void *arg);
void server_free(struct server *s);
/* Runs fn(arg) on the loop thread soon; callable from any thread. */
void server_post(struct server *s, void (*fn)(void *arg), void *arg);
uv_loop_t *server_loop(struct server *s);
struct pool *server_pool(struct server *s);
/* Gives ROUTE_SLOW routes (handlers and SSE producers) a pool of their own: threads that mostly
 * wait on remote providers, capped apart from the CPU workers. NULL (the default): the workers.
 * Call before the loop runs. */
void server_set_slow_pool(struct server *s, struct pool *slow);
const struct server_config *server_config(const struct server *s);
/* Lets libmicrohttpd make progress now (after a resume from outside its callbacks). Loop thread. */
void server_kick(struct server *s);
/* Open WebSocket connections; any thread. */
int server_ws_count(struct server *s);

#endif
