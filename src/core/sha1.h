/* SHA-1, needed only for the WebSocket handshake (RFC 6455); never for security. */
#ifndef DP_SHA1_H
#define DP_SHA1_H

#include <stddef.h>
#include <stdint.h>

void sha1(const void *data, size_t len, uint8_t out[20]);

#endif
