/* RFC 6455 framing, server side, without sockets: client frames read (masked, fragmented, control
 * frames between fragments) and server frames' headers written (unmasked). net/ws.c feeds it the
 * bytes it reads. An idle reader holds no memory: bytes are kept only while a frame or a
 * fragmented message is incomplete. */
#ifndef DP_WS_FRAME_H
#define DP_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

#define WS_FRAME_HEADER_MAX 10 /* a server frame's header: 2 bytes + a 64-bit length */
#define WS_CONTROL_MAX 125     /* payload of a control frame */

/* Writes the header of a whole (FIN) unmasked frame of opcode carrying n bytes; its length. */
size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], int opcode, size_t n);
/* The length of the server frame (header + payload) starting at p[0..n), 0 when its header is not
 * all there. Reads frames written with ws_frame_header only. */
size_t ws_frame_size(const uint8_t *p, size_t n);

/* Called for each whole data message (WS_OP_TEXT/BINARY, fragments joined) and each control
 * frame, its payload unmasked (writable, valid until the call returns). A close frame's payload
 * has been checked (no 1-byte payload, a code a peer may send, a UTF-8 reason). Nonzero stops
 * the reader: ws_reader_feed returns WS_READER_STOPPED at once. */
typedef int (*ws_reader_cb)(void *arg, int opcode, uint8_t *p, size_t n);

#define WS_READER_STOPPED (-1)

struct ws_reader {
    uint8_t *held; /* the bytes of a frame not yet whole (NULL when none) */
    size_t held_len, held_cap;
    uint8_t *msg; /* a fragmented message's payload so far (NULL when none) */
    size_t msg_len, msg_cap;
    int msg_opcode; /* its opcode; 0 when no fragmented message is open */
    size_t max_msg; /* largest message (joined fragments) */
};

void ws_reader_init(struct ws_reader *r, size_t max_msg);
/* Reads p[0..n) (unmasked in place). 0 when all was taken; WS_READER_STOPPED when the callback
 * said so; otherwise the close code to answer with (1002 protocol error, 1007 bad close reason,
 * 1009 too big, 1011 out of memory); after a nonzero answer the reader must not be fed again. */
int ws_reader_feed(struct ws_reader *r, uint8_t *p, size_t n, ws_reader_cb cb, void *arg);
/* Frees what the reader holds; it reads as new afterwards. */
void ws_reader_clear(struct ws_reader *r);

#endif
