/* Outbound TCP for providers that speak their own protocol over a socket (Wyoming): a connect with a
 * deadline and blocking sends and receives with one, on the calling thread (a job worker or the
 * provider pool, like http_client). */
#ifndef DP_TCP_CLIENT_H
#define DP_TCP_CLIENT_H

#include <stddef.h>

/* Connects to address ("tcp://host:port" or "host:port"). DP_OK with *fd (close it), DP_ERR_INVALID
 * for an address without a port, DP_ERR_UNAVAILABLE when nothing answers within timeout_ms; why
 * says which. */
int tcp_connect(const char *address, long timeout_ms, int *fd, char *why, size_t whylen);
/* Sends all n bytes within timeout_ms: DP_OK, DP_ERR_TIMEOUT or DP_ERR_UNAVAILABLE (hung up). */
int tcp_send_all(int fd, const void *p, size_t n, long timeout_ms);
/* Receives what arrives (up to cap bytes) within timeout_ms: the count (> 0), 0 when the peer
 * closed, -1 on an error, -2 when nothing came in time. */
long tcp_recv(int fd, void *p, size_t cap, long timeout_ms);

#endif
