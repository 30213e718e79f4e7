/* Unit tests of the WebSocket framing (server side): headers written, client frames read. */
#include <stdint.h>

#include "../test.h"
#include "net/ws_frame.h"

/* What the reader handed over, joined: "op:payload|" per call. */
struct seen {
    char log[4096];
    size_t len;
    int stop_at; /* stop after this many calls (0: never) */
    int calls;
    size_t bytes;    /* payload bytes handed over */
    int all_letters; /* every payload byte was 'a' + i % 26 (the long test's text) */
};

static int record(void *arg, int opcode, uint8_t *p, size_t n)
{
    struct seen *s = arg;
    s->bytes += n;
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'a' + i % 26)
            s->all_letters = 0;
    s->len += (size_t)snprintf(s->log + s->len, sizeof s->log - s->len, "%d:%.*s|", opcode, (int)n, (const char *)p);
    return s->stop_at && ++s->calls >= s->stop_at;
}

/* A masked client frame of opcode carrying p[0..n) into out; its length. */
static size_t client_frame(uint8_t *out, int fin, int opcode, const char *p, size_t n)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t at = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        out[1] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        at = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        at = 10;
    }
    memcpy(out + at, mask, 4);
    for (size_t i = 0; i < n; i++)
        out[at + 4 + i] = (uint8_t)p[i] ^ mask[i & 3];
    return at + 4 + n;
}

TEST(ws_frame_header_uses_the_shortest_length_form_and_ws_frame_size_reads_it_back)
{
    uint8_t h[WS_FRAME_HEADER_MAX];
    size_t sizes[] = {0, 125, 126, 65535, 65536, 1u << 20};
    size_t lens[] = {2, 2, 4, 4, 10, 10};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t hl = ws_frame_header(h, WS_OP_TEXT, sizes[i]);
        CHECK_EQ_INT(hl, lens[i]);
        CHECK_EQ_INT(h[0], 0x81);
        CHECK_EQ_INT(ws_frame_size(h, hl), hl + sizes[i]);
        CHECK_EQ_INT(ws_frame_size(h, hl - 1), 0); /* a header not all there */
    }
    CHECK_EQ_INT(ws_frame_size(h, 1), 0);
}

TEST(ws_reader_unmasks_whole_frames_in_one_feed_and_across_byte_by_byte_feeds)
{
    uint8_t buf[512];
    size_t n = client_frame(buf, 1, WS_OP_TEXT, "hello", 5);
    n += client_frame(buf + n, 1, WS_OP_BINARY, "0123456789abcdefXYZ", 19);
    uint8_t copy[512];
    memcpy(copy, buf, n);
    struct ws_reader r;
    struct seen s = {0};
    ws_reader_init(&r, 1024);
    CHECK_EQ_INT(ws_reader_feed(&r, buf, n, record, &s), 0);
    CHECK(!strcmp(s.log, "1:hello|2:0123456789abcdefXYZ|"));
    CHECK(!r.held && !r.msg); /* nothing kept between whole frames */
    struct seen s2 = {0};
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(ws_reader_feed(&r, copy + i, 1, record, &s2), 0);
    CHECK(!strcmp(s2.log, s.log));
    CHECK(!r.held && !r.msg);
    ws_reader_clear(&r);
}

TEST(ws_reader_joins_fragments_with_control_frames_between_them)
{
    uint8_t buf[512];
    size_t n = client_frame(buf, 0, WS_OP_TEXT, "par", 3);
    n += client_frame(buf + n, 1, WS_OP_PING, "p", 1);
    n += client_frame(buf + n, 0, WS_OP_CONT, "ti", 2);
    n += client_frame(buf + n, 1, WS_OP_CONT, "al", 2);
    struct ws_reader r;
    struct seen s = {0};
    ws_reader_init(&r, 1024);
    CHECK_EQ_INT(ws_reader_feed(&r, buf, n, record, &s), 0);
    CHECK(!strcmp(s.log, "9:p|1:partial|"));
    CHECK(!r.msg && !r.msg_opcode);
}

TEST(ws_reader_refuses_protocol_errors_with_their_close_codes)
{
    uint8_t buf[512];
    struct ws_reader r;
    struct seen s = {0};
    size_t n;
#define EXPECT(code)                                                                                                   \
    do {                                                                                                               \
        ws_reader_init(&r, 16);                                                                                        \
        CHECK_EQ_INT(ws_reader_feed(&r, buf, n, record, &s), code);                                                    \
        ws_reader_clear(&r);                                                                                           \
    } while (0)
    n = client_frame(buf, 1, WS_OP_TEXT, "x", 1);
    buf[1] &= 0x7f; /* unmasked */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_TEXT, "x", 1);
    buf[0] |= 0x40; /* a reserved bit */
    EXPECT(1002);
    n = client_frame(buf, 1, 0x3, "x", 1); /* a reserved opcode */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_CONT, "x", 1); /* a continuation of nothing */
    EXPECT(1002);
    n = client_frame(buf, 0, WS_OP_PING, "x", 1); /* a fragmented control frame */
    EXPECT(1002);
    n = client_frame(buf, 0, WS_OP_TEXT, "a", 1);
    n += client_frame(buf + n, 1, WS_OP_TEXT, "b", 1); /* a new message inside a fragmented one */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_TEXT, "seventeen bytes!!", 17); /* over the cap of 16 */
    EXPECT(1009);
    n = client_frame(buf, 0, WS_OP_TEXT, "0123456789", 10);
    n += client_frame(buf + n, 1, WS_OP_CONT, "0123456789", 10); /* joined over the cap */
    EXPECT(1009);
    char big[200];
    memset(big, 'p', sizeof big);
    n = client_frame(buf, 1, WS_OP_PING, big, 126); /* a control frame over 125 bytes */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_CLOSE, "\x03", 1); /* a one-byte close */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_CLOSE, "\x03\xed", 2); /* 1005 may not be sent */
    EXPECT(1002);
    n = client_frame(buf, 1, WS_OP_CLOSE, "\x03\xe8\xff", 3); /* a reason that is not UTF-8 */
    EXPECT(1007);
    /* A 64-bit length with its top bit set, refused from its header alone. */
    uint8_t huge[14] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    memcpy(buf, huge, sizeof huge);
    n = sizeof huge;
    EXPECT(1002);
    /* A header announcing more than the cap is refused before its payload comes. */
    n = client_frame(buf, 1, WS_OP_BINARY, big, 200);
    n = 8;
    EXPECT(1009);
    CHECK(!strcmp(s.log, "")); /* none of them reached the callback */
#undef EXPECT
}

TEST(ws_reader_accepts_good_close_frames_and_stops_when_the_callback_says_so)
{
    uint8_t buf[512];
    size_t n = client_frame(buf, 1, WS_OP_CLOSE,
                            "\x03\xe8"
                            "bye",
                            5);
    n += client_frame(buf + n, 1, WS_OP_TEXT, "after", 5);
    struct ws_reader r;
    struct seen s = {.stop_at = 1};
    ws_reader_init(&r, 1024);
    CHECK_EQ_INT(ws_reader_feed(&r, buf, n, record, &s), WS_READER_STOPPED);
    CHECK(!strcmp(s.log, "8:\x03\xe8"
                         "bye|"));
    ws_reader_clear(&r);
    n = client_frame(buf, 1, WS_OP_CLOSE, "", 0); /* no code at all is fine too */
    struct seen s2 = {0};
    ws_reader_init(&r, 1024);
    CHECK_EQ_INT(ws_reader_feed(&r, buf, n, record, &s2), 0);
    CHECK(!strcmp(s2.log, "8:|"));
}

TEST(ws_reader_reads_16_and_64_bit_lengths_split_anywhere)
{
    static char text[70000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    static uint8_t buf[140100], copy[140100];
    size_t n = client_frame(buf, 1, WS_OP_BINARY, text, 300);
    n += client_frame(buf + n, 1, WS_OP_BINARY, text, sizeof text);
    memcpy(copy, buf, n);
    struct ws_reader r;
    ws_reader_init(&r, 1 << 20);
    /* Feeds of 7, 13, 1000 bytes: headers and payloads split at every kind of place. */
    size_t steps[] = {7, 13, 1000};
    for (size_t k = 0; k < 3; k++) {
        memcpy(buf, copy, n);
        struct seen s = {.all_letters = 1};
        for (size_t off = 0; off < n; off += steps[k]) {
            size_t m = n - off < steps[k] ? n - off : steps[k];
            CHECK_EQ_INT(ws_reader_feed(&r, buf + off, m, record, &s), 0);
        }
        CHECK(!r.held);
        CHECK_EQ_INT(s.bytes, 300 + sizeof text);
        CHECK(s.all_letters);
    }
    ws_reader_clear(&r);
}
