/* A blocking WebSocket client (RFC 6455 via wslay) for command-line tools: `doppel capture`
 * streams a device's audio with it. One thread; not for the server's loop. */
#ifndef DP_WS_CLIENT_H
#define DP_WS_CLIENT_H

#include <stddef.h>

struct ws_client;

/* Connects to ws://host:port/path?query (plain TCP; TLS is the proxy's). DP_ERR_IO (cannot
 * connect), DP_ERR_INVALID (bad URL), DP_ERR_UNAUTHORIZED / DP_ERR_CONFLICT / DP_ERR_UNAVAILABLE
 * (the handshake answered 401 / 409 / other; err says the status). *out: ws_client_free. */
int ws_client_connect(const char *url, int timeout_ms, struct ws_client **out, char *err, size_t errlen);
/* Queues and sends one message. DP_ERR_IO when the connection is gone. */
int ws_client_send(struct ws_client *c, int text, const void *p, size_t n);
/* Waits up to timeout_ms (0: only what is there) for one message: *out (malloc'd, NUL-terminated,
 * free it), *n, *text. DP_ERR_TIMEOUT, DP_ERR_IO (closed or broken). */
int ws_client_recv(struct ws_client *c, int timeout_ms, int *text, char **out, size_t *n);
void ws_client_free(struct ws_client *c);

#endif
