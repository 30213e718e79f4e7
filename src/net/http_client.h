/* Outbound HTTP for providers (embeddings, language models; speech later): blocking JSON POSTs
 * on the calling thread — a job worker, or a thread of the provider pool (server.h's
 * ROUTE_SLOW), never the event loop nor a CPU worker — with deadlines and a cap on the answer's
 * size; streamed answers are handed over line by line as they arrive. */
#ifndef DP_HTTP_CLIENT_H
#define DP_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Call once at start, before threads (libcurl's global state). */
int http_client_global_init(void);

struct http_post {
    const char *url;
    const char *bearer; /* Authorization: Bearer … (NULL or "" = none) */
    const json_t *body; /* sent as application/json */
    long timeout_ms;    /* whole exchange */
    size_t answer_max;  /* bytes; larger answers fail with DP_ERR_TOO_LARGE */
};

/* POSTs p->body to p->url. DP_OK with *status (the HTTP status) and *answer (parsed JSON, or NULL
 * when the answer is not JSON) — the caller judges the status. DP_ERR_UNAVAILABLE when the server
 * cannot be reached or the deadline passes, DP_ERR_TOO_LARGE past answer_max; why (may be NULL)
 * says what happened, never the key. */
int http_post_json(const struct http_post *p, long *status, json_t **answer, char *why, size_t whylen);

/* A streamed POST (server-sent events): the answer's lines reach line() as they arrive when the
 * status is 2xx; another status's body is collected whole (up to answer_max) as *error_body. */
struct http_stream {
    const char *url;
    const char *bearer; /* never logged, never in why */
    const json_t *body;
    long connect_timeout_ms; /* to connect */
    long idle_timeout_ms;    /* longest silence, from sending the request to the last byte (a stalled stream) */
    long total_timeout_ms;   /* whole exchange */
    size_t answer_max;       /* bytes of the whole answer */
    /* One line of a 2xx answer, without its line ending (len excludes it). Nonzero stops the transfer
     * (http_post_stream then answers DP_ERR_CANCELLED). */
    int (*line)(void *ctx, const char *line, size_t len);
    /* 1 once nobody waits for the answer (checked between bytes and at least every 100 ms). */
    int (*cancelled)(void *ctx);
    void *ctx;
};

/* What a streamed POST came to. */
struct http_stream_result {
    long status;        /* 0 when no answer came */
    long retry_after_s; /* the answer's Retry-After in seconds (-1: none) */
    json_t *error_body; /* a non-2xx answer's JSON (owned; NULL when none or not JSON) */
    size_t bytes;       /* bytes of the answer's body received */
};

/* POSTs p->body to p->url and streams the answer. DP_OK once the answer ended (any status: the
 * caller judges it); DP_ERR_CANCELLED when p->cancelled said so or line() stopped it;
 * DP_ERR_TIMEOUT when a deadline passed (idle or total); DP_ERR_UNAVAILABLE when the server cannot
 * be reached or hung up mid-answer; DP_ERR_TOO_LARGE past answer_max. why says which. */
int http_post_stream(const struct http_stream *p, struct http_stream_result *r, char *why, size_t whylen);

/* A POST of any body whose 2xx answer arrives as bytes (audio, or JSON the caller gathers): speech
 * providers upload recordings (multipart or raw) and stream synthesized audio. */
struct http_bytes {
    const char *url;
    const char *auth;         /* one whole header line ("Authorization: Token …", "xi-api-key: …");
                               * never logged, never in why; NULL or "" = none */
    const char *content_type; /* of body */
    const void *body;
    size_t body_len;
    const char *accept;      /* NULL: any */
    long connect_timeout_ms; /* to connect */
    long idle_timeout_ms;    /* longest silence (0: none) */
    long total_timeout_ms;   /* whole exchange */
    size_t answer_max;       /* bytes of the whole answer */
    /* Bytes of a 2xx answer as they arrive; nonzero stops the transfer (DP_ERR_CANCELLED). */
    int (*data)(void *ctx, const void *p, size_t len);
    int (*cancelled)(void *ctx); /* may be NULL */
    void *ctx;
};

/* POSTs p->body and hands a 2xx answer's bytes to data(); another status's body is collected (up
 * to answer_max) as r->error_body when it is JSON. Errors as http_post_stream's. */
int http_post_bytes(const struct http_bytes *p, struct http_stream_result *r, char *why, size_t whylen);

#endif
