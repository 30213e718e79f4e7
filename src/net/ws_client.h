/* A WebSocket client (RFC 6455 via wslay) driven by one thread: `doppel capture` streams a device's
 * audio with it, and streaming speech providers (Deepgram) talk to their servers with it from a
 * thread of their own — never the event loop nor a worker. The bytes travel through libcurl's
 * connect-only mode, so wss:// gets TLS (and certificate checks) the way the HTTP client does. */
#ifndef DP_WS_CLIENT_H
#define DP_WS_CLIENT_H

#include <stddef.h>

#define WS_CLIENT_MSG_MAX ((size_t)1 << 20) /* bytes of one received message; larger ones break the connection */

struct ws_client;

/* Connects to ws[s]://host[:port]/path?query (http[s]:// also accepted), sending extra_headers
 * ("Name: value\r\n" lines, or NULL; never logged, never in err) with the upgrade. DP_ERR_IO (cannot
 * connect, no handshake answer), DP_ERR_INVALID (bad URL), DP_ERR_UNAUTHORIZED / DP_ERR_CONFLICT /
 * DP_ERR_RATE_LIMITED / DP_ERR_UNAVAILABLE (the handshake answered 401 or 403 / 409 / 429 / other;
 * err says the status). *out: ws_client_free. */
int ws_client_open(const char *url, const char *extra_headers, int timeout_ms, struct ws_client **out, char *err,
                   size_t errlen);
/* ws_client_open without extra headers. */
int ws_client_connect(const char *url, int timeout_ms, struct ws_client **out, char *err, size_t errlen);
/* A client over fd, already past the handshake (plain bytes; tests and the fuzzer). Owns fd. */
int ws_client_adopt(int fd, struct ws_client **out);
/* Queues and sends one message. DP_ERR_IO when the connection is gone. */
int ws_client_send(struct ws_client *c, int text, const void *p, size_t n);
/* Waits up to timeout_ms (0: only what is there) for one message: *out (malloc'd, NUL-terminated,
 * free it), *n, *text. DP_ERR_TIMEOUT (also when the wake fd became readable), DP_ERR_IO (closed or
 * broken). */
int ws_client_recv(struct ws_client *c, int timeout_ms, int *text, char **out, size_t *n);
/* Also returns from ws_client_recv when fd is readable (an eventfd the caller signals when it has
 * something to send); -1: none. */
void ws_client_wake_on(struct ws_client *c, int fd);
/* Starts the closing handshake with code (1000: normal). */
void ws_client_close(struct ws_client *c, int code);
/* The close code the server sent (0: none yet, 1005: a close without one). */
int ws_client_close_code(const struct ws_client *c);
void ws_client_free(struct ws_client *c);

#endif
