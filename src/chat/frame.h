/* The frames a client sends on the events WebSocket, parsed and checked before anything acts on them. */
#ifndef DP_CHAT_FRAME_H
#define DP_CHAT_FRAME_H

#include <stddef.h>

#include "core/id.h"

#define CHAT_FRAME_MAX 1024 /* bytes of a client frame */

enum chat_frame_kind {
    CHAT_FRAME_TYPING_START,
    CHAT_FRAME_TYPING_STOP,
    CHAT_FRAME_PRESENCE, /* {"type":"presence","status":"online"|"away"} */
    CHAT_FRAME_PING,     /* answered with pong */
};

struct chat_frame {
    enum chat_frame_kind kind;
    char chat_id[ID_LEN]; /* typing */
    int away;             /* presence */
};

/* Parses one text frame. DP_ERR_INVALID with *why (static text) for anything else: not JSON,
 * over CHAT_FRAME_MAX, an unknown type, a missing or malformed field. */
int chat_frame_parse(const char *p, size_t n, struct chat_frame *out, const char **why);

#endif
