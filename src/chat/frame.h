/* The frames a client sends on the events WebSocket, parsed and checked before anything acts on them. */
#ifndef DP_CHAT_FRAME_H
#define DP_CHAT_FRAME_H

#include <jansson.h>
#include <stddef.h>

#include "core/id.h"

#define CHAT_FRAME_MAX 16384 /* bytes of a client frame */

enum chat_frame_kind {
    CHAT_FRAME_TYPING_START,
    CHAT_FRAME_TYPING_STOP,
    CHAT_FRAME_PRESENCE, /* {"type":"presence","status":"online"|"away"} */
    CHAT_FRAME_PING,     /* answered with pong */
    CHAT_FRAME_SEND,     /* {"type":"message.send","chat_id","client_id","text"?,"reply_to"?,"attachments"?} */
};

struct chat_frame {
    enum chat_frame_kind kind;
    char chat_id[ID_LEN]; /* typing, send */
    int away;             /* presence */
    /* send: the client's id for it (required: the ack names it), and what it carries */
    char client_id[65];
    char reply_to[ID_LEN]; /* "" when none */
    char *text;            /* NULL when none (malloc'd) */
    json_t *attachments;   /* NULL when none (a reference) */
};

/* Parses one text frame. DP_ERR_INVALID with *why (static text) for anything else: not JSON,
 * over CHAT_FRAME_MAX, an unknown type, a missing or malformed field. */
int chat_frame_parse(const char *p, size_t n, struct chat_frame *out, const char **why);
/* The same, always with jansson (the fuzz target holds the fast reading of chat_frame_parse to it). */
int chat_frame_parse_json(const char *p, size_t n, struct chat_frame *out, const char **why);
/* Frees what a parsed frame holds (text, attachments). */
void chat_frame_clear(struct chat_frame *f);

#endif
