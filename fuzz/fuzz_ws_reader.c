/* libFuzzer target for the WebSocket frame reader (net/ws_frame) on its own, without a socket.
 * Input: byte 0 is the feed size (0: everything at once), the rest is what a client sent (masked
 * frames; the seeds are fuzz_ws_frames' own, whose first byte is a control byte of that target).
 * The bytes are read twice, at once and in feeds of that size: both readings must hand over the
 * same messages and control frames and end with the same answer, and every message handed over
 * keeps the reader's promises (a known opcode, control frames of at most 125 bytes, messages
 * within the cap, a close frame's code one a peer may send). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "net/ws_frame.h"

#define FUZZ_WS_MAX (64 * 1024)

struct reading {
    uint64_t digest; /* of every (opcode, payload) handed over, in order */
    size_t calls;
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ws_reader: %s\n", what);
    abort();
}

static int on_frame(void *arg, int opcode, uint8_t *p, size_t n)
{
    struct reading *r = arg;
    if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY && opcode != WS_OP_CLOSE && opcode != WS_OP_PING &&
        opcode != WS_OP_PONG)
        fail("handed over an unknown opcode");
    if (opcode >= 8 && n > WS_CONTROL_MAX)
        fail("a control frame over 125 bytes");
    if (n > FUZZ_WS_MAX)
        fail("a message over the cap");
    if (opcode == WS_OP_CLOSE && n == 1)
        fail("a one-byte close frame");
    r->digest = hash_fnv1a64_add(r->digest, (unsigned char)opcode);
    for (size_t i = 0; i < n; i++)
        r->digest = hash_fnv1a64_add(r->digest, p[i]);
    r->calls++;
    return opcode == WS_OP_CLOSE; /* as net/ws.c: nothing is read after the peer's close */
}

static int read_all(const uint8_t *data, size_t n, size_t step, struct reading *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, n);
    struct ws_reader r;
    ws_reader_init(&r, FUZZ_WS_MAX);
    out->digest = HASH_FNV64_INIT;
    out->calls = 0;
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += step) {
        size_t m = n - off < step ? n - off : step;
        rc = ws_reader_feed(&r, copy + off, m, on_frame, out);
    }
    if (!rc && !r.held != !r.held_len)
        fail("held bytes and their count disagree");
    ws_reader_clear(&r);
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] ? data[0] : size;
    struct reading whole, parts;
    int a = read_all(data + 1, size - 1, size, &whole);
    int b = read_all(data + 1, size - 1, step, &parts);
    if (a != b)
        fail("read at once and in parts, the answers differ");
    if (whole.calls != parts.calls || whole.digest != parts.digest)
        fail("read at once and in parts, different frames were handed over");
    if (a > 0 && a != 1002 && a != 1007 && a != 1009 && a != 1011)
        fail("an unknown close code");
    return 0;
}
