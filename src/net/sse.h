/* Server-sent events: a handler answers with a stream that a producer fills from a worker. */
#ifndef DP_SSE_H
#define DP_SSE_H

#include <stddef.h>

#include "net/http.h"

struct sse;

/* Runs on a worker thread after the response headers are queued; returns when the stream is
 * complete (or sse_cancelled() says the client went away). state is the worker's state. */
typedef void (*sse_producer)(struct sse *s, void *arg, void *state);

/* Makes res a text/event-stream response fed by producer(arg). arg_free (may be NULL) frees arg
 * after the producer returned or when the stream never starts. Returns DP_OK or DP_ERR_NOMEM. */
int sse_respond(struct request *req, struct response *res, sse_producer producer, void *arg,
                void (*arg_free)(void *arg));
/* Sends one event (event may be NULL; data is split on newlines into data: lines).
 * DP_ERR_CANCELLED when the client is gone or the server is stopping. Any thread. */
int sse_send(struct sse *s, const char *event, const char *data);
int sse_cancelled(struct sse *s);

#endif
