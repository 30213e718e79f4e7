/* Outbound HTTP for providers (embeddings now; speech and language models later): one blocking
 * JSON POST on the calling thread (a worker or a job worker, never the event loop), with a
 * deadline and a cap on the answer's size. */
#ifndef DP_HTTP_CLIENT_H
#define DP_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Call once at start, before threads (libcurl's global state). */
int http_client_global_init(void);

struct http_post {
    const char *url;
    const char *bearer;   /* Authorization: Bearer … (NULL or "" = none) */
    const json_t *body;   /* sent as application/json */
    long timeout_ms;      /* whole exchange */
    size_t answer_max;    /* bytes; larger answers fail with DP_ERR_TOO_LARGE */
};

/* POSTs p->body to p->url. DP_OK with *status (the HTTP status) and *answer (parsed JSON, or NULL
 * when the answer is not JSON) — the caller judges the status. DP_ERR_UNAVAILABLE when the server
 * cannot be reached or the deadline passes, DP_ERR_TOO_LARGE past answer_max; why (may be NULL)
 * says what happened, never the key. */
int http_post_json(const struct http_post *p, long *status, json_t **answer, char *why, size_t whylen);

#endif
