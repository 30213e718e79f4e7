/* Requests, responses and routes as handlers see them; no libmicrohttpd types leak out. */
#ifndef DP_HTTP_H
#define DP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_QUERY 32
#define HTTP_MAX_RES_HEADERS 12
#define HTTP_REQUEST_ID_MAX 64

struct route;
struct server;
struct sse;

struct http_kv {
    char *name;
    char *value;
};

/* A path parameter: its name is the router's (static), its value points into the request's path. */
struct http_param {
    const char *name;
    char *value;
};

/* A request, owned by the server; valid until its response is sent. Handlers read it. Its strings
 * live in its arena (freed when the request ends, with everything else handlers put there). */
struct caller; /* who is calling: the auth hook's (auth/caller.h), opaque here */

struct request {
    const struct route *route;
    const char *method; /* "GET", … (static string) */
    char *path;         /* decoded path, no query */
    int nparams;
    struct http_param params[HTTP_MAX_PARAMS]; /* path parameters, e.g. {id} */
    int nquery;
    struct http_kv query[HTTP_MAX_QUERY]; /* decoded query arguments (first HTTP_MAX_QUERY) */
    struct arena *arena;                  /* the request's: everything in it is let go when it ends */
    char *authorization;                  /* selected headers, copied from the connection */
    char *content_type;
    char *accept;
    char *origin;
    char *range;
    char *if_none_match;
    char *user_agent;
    char *cookie;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char client_ip[64];
    uint64_t content_length; /* from the header; 0 when absent */
    struct buf body;         /* the buffered body (JSON routes) */
    json_t *json;            /* parsed body when the route declares ROUTE_JSON */
    void *worker;            /* the worker thread's state (db, cache), NULL inline */
    struct server *server;
    struct caller
        *auth; /* the caller, set by the auth hook; in the arena or released by its release (req_auth_in_arena) */
    /* A WebSocket route's handshake handler may hand the connection its state: it becomes
     * ws_user() before on_open; freed with ws_user_free when the upgrade does not happen. */
    void *ws_user;
    void (*ws_user_free)(void *p);
};

/* A response under construction; the server turns it into bytes on the wire. */
struct response {
    int status;   /* 0 = not set yet */
    json_t *json; /* owned; serialised by the server */
    char *body;   /* owned raw body (malloc) when json is NULL */
    size_t body_len;
    int fd; /* >= 0: send this file (owned), fd_len bytes from fd_off */
    uint64_t fd_off, fd_len;
    struct res_source *source; /* else non-NULL: send fd_len bytes from fd_off of it (owned) */
    char content_type[96];
    int nheaders;
    struct http_kv headers[HTTP_MAX_RES_HEADERS]; /* owned copies */
    struct sse *sse;                              /* streamed body (text/event-stream) */
};

/* A body read piece by piece from something that is not a file of this machine (a blob behind a
 * reader): read_at answers up to n bytes from off (fewer only at its end), -1 on error; close
 * frees ctx once the body is sent or abandoned. */
struct res_source {
    long (*read_at)(void *ctx, uint64_t off, void *buf, size_t n);
    void (*close)(void *ctx);
    void *ctx;
};
/* Sends len bytes from off of source (owned from here on, even on failure). */
int res_source_set(struct response *res, const struct res_source *source, uint64_t off, uint64_t len);
void res_source_free(struct res_source *s); /* closes and frees; NULL is fine */

typedef int (*http_handler)(struct request *req, struct response *res);

enum route_flags {
    ROUTE_PUBLIC = 1 << 0,          /* no authentication */
    ROUTE_INLINE = 1 << 1,          /* runs on the loop thread: must never block */
    ROUTE_JSON = 1 << 2,            /* the body must be a JSON object, parsed before the handler */
    ROUTE_HIDDEN = 1 << 3,          /* left out of the OpenAPI document */
    ROUTE_NOT_IMPLEMENTED = 1 << 4, /* answers 501 not_implemented */
    ROUTE_WEBSOCKET = 1 << 5,       /* GET with Upgrade: websocket; ws holds the handlers */
    ROUTE_STREAM = 1 << 6,          /* the body is streamed to stream->chunk, never buffered whole */
    ROUTE_TRY_INLINE = 1 << 7,      /* try on the loop first (req->worker NULL: no blocking calls);
                                     * DP_ERR_WOULDBLOCK from the auth hook or handler moves it to a worker */
    ROUTE_SLOW = 1 << 8,            /* may wait on a remote provider (a language model's reply): the handler
                                     * and its SSE producer run on the provider pool (server_set_slow_pool),
                                     * so that the CPU workers stay free while it waits */
};

/* A streamed request body (uploads). Every callback runs on a worker, one at a time per request;
 * the connection is paused while a chunk is written, so a slow disk slows the client, not memory. */
struct stream_handler {
    /* After authentication, before the first byte: check access, open the sink. On error set
     * res (or return a code) and the rest of the body is discarded. */
    int (*begin)(struct request *req, struct response *res, void **state);
    int (*chunk)(struct request *req, void *state, const char *p, size_t n);
    /* The body is complete: finish and answer. Owns state from here (free it). */
    int (*end)(struct request *req, struct response *res, void *state);
    /* The request failed or the client went away: undo everything and free state. */
    void (*abort)(void *state);
};

struct ws_handler;
struct stream_handler;

/* One row of a resource's route table. */
struct route {
    const char *method;   /* "GET" | "POST" | "PUT" | "PATCH" | "DELETE" */
    const char *path;     /* "/api/v1/avatars/{id}" */
    unsigned flags;       /* enum route_flags */
    size_t body_max;      /* body cap in bytes; 0 = the configured JSON default */
    http_handler handler; /* NULL for NOT_IMPLEMENTED and WEBSOCKET routes */
    const char *tag;      /* OpenAPI tag (resource) */
    const char *summary;  /* OpenAPI summary */
    const char *openapi;  /* optional JSON object merged into the OpenAPI operation */
    const struct ws_handler *ws;
    const struct stream_handler *stream; /* ROUTE_STREAM routes */
};

/* Reading the request. NULL when absent. */
const char *req_param(const struct request *req, const char *name);
const char *req_query(const struct request *req, const char *name);
/* Reads an integer query argument in [min, max]; def when absent; DP_ERR_INVALID otherwise. */
int req_query_long(const struct request *req, const char *name, long def, long min, long max, long *out);
/* 1 when the request's caller (req->auth) belongs in its arena: the request ends with it. A WebSocket
 * route's caller outlives the request (its socket keeps it) and is the auth release hook's to free. */
int req_auth_in_arena(const struct request *req);

/* Building the response. They take ownership of json. */
void res_json(struct response *res, int status, json_t *json);
/* Sets the error body {"error":{code,message,request_id}} with the status that err maps to. */
void res_error(struct response *res, const struct request *req, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As res_error, with an explicit status and code (e.g. 405 method_not_allowed). */
void res_error_status(struct response *res, const struct request *req, int status, const char *code, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
void res_body(struct response *res, int status, const char *content_type, char *body, size_t len);
void res_header(struct response *res, const char *name, const char *value);
void res_cleanup(struct response *res);

/* Parses a Range header against a body of size bytes (one range: "bytes=a-b", "a-", "-n").
 * Returns 1 with *start and *len set, 0 when there is no usable range (serve it all: absent,
 * malformed, or several ranges), -1 when unsatisfiable (416). */
int http_range_parse(const char *h, uint64_t size, uint64_t *start, uint64_t *len);

/* Percent-decodes s in place and returns its new length. "%00" is left as it is: a NUL would cut
 * the C string short and make "/users/%00x" read as "/users/". '+' is not a space (paths). */
size_t http_pct_decode(char *s);

/* The HTTP status an error code maps to (the one place where that mapping lives). */
int http_status_for_err(int err);

#endif
