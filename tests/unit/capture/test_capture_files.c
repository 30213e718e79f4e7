/* Tests of src/capture: the durable file pair (sync, recovery of torn tails and torn index
 * records after a crash) and the Wyoming framing parser. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../support.h"
#include "../test.h"
#include "capture/recfile.h"
#include "capture/wyoming.h"
#include "core/err.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static const char *ID = "01a24f12-0000-7000-8000-000000000001";

static void append_raw(const char *ext, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", test_tmpdir(), ID, ext);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

TEST(recfile_appends_and_reopens_at_the_durable_end)
{
    struct recfile rf;
    OK(recfile_open(test_tmpdir(), ID, 1, &rf));
    CHECK_EQ_INT((int)rf.bytes, 0);
    CHECK_EQ_INT((int)rf.seq, -1);
    OK(recfile_append(&rf, "aabb", 4, 0, 1));
    OK(recfile_append(&rf, "ccdd", 4, -1, 1)); /* unnumbered: the seq stays */
    OK(recfile_append(&rf, "eeff", 4, 7, 1));
    recfile_close(&rf);
    OK(recfile_open(test_tmpdir(), ID, 0, &rf));
    CHECK_EQ_INT((int)rf.bytes, 12);
    CHECK_EQ_INT((int)rf.seq, 7);
    char b[16];
    CHECK_EQ_INT((int)recfile_read(&rf, 0, b, sizeof b), 12);
    CHECK(!memcmp(b, "aabbccddeeff", 12));
    recfile_close(&rf);
}

TEST(recfile_trims_audio_no_index_record_vouches_for)
{
    struct recfile rf;
    OK(recfile_open(test_tmpdir(), ID, 1, &rf));
    OK(recfile_append(&rf, "aabb", 4, 1, 1));
    recfile_close(&rf);
    append_raw("pcm", "XYZ", 3); /* a crash after the audio write, before its record */
    OK(recfile_open(test_tmpdir(), ID, 0, &rf));
    CHECK_EQ_INT((int)rf.bytes, 4);
    CHECK_EQ_INT((int)rf.seq, 1);
    OK(recfile_append(&rf, "ccdd", 4, 2, 1)); /* and appends go on from the durable end */
    recfile_close(&rf);
    OK(recfile_open(test_tmpdir(), ID, 0, &rf));
    char b[16];
    CHECK_EQ_INT((int)recfile_read(&rf, 0, b, sizeof b), 8);
    CHECK(!memcmp(b, "aabbccdd", 8));
    recfile_close(&rf);
}

TEST(recfile_ignores_a_torn_or_lying_index_record)
{
    struct recfile rf;
    OK(recfile_open(test_tmpdir(), ID, 1, &rf));
    OK(recfile_append(&rf, "aabb", 4, 3, 1));
    recfile_close(&rf);
    append_raw("idx", "\x01\x02\x03\x04\x05", 5); /* half a record */
    OK(recfile_open(test_tmpdir(), ID, 0, &rf));
    CHECK_EQ_INT((int)rf.bytes, 4);
    CHECK_EQ_INT((int)rf.seq, 3);
    recfile_close(&rf);
    /* A whole record whose check fails (garbage), and one that claims audio not on disk. */
    uint64_t garbage[3] = {9, 400, 12345};
    append_raw("idx", garbage, sizeof garbage);
    OK(recfile_open(test_tmpdir(), ID, 0, &rf));
    CHECK_EQ_INT((int)rf.bytes, 4);
    CHECK_EQ_INT((int)rf.seq, 3);
    recfile_close(&rf);
    CHECK_EQ_INT(recfile_open(test_tmpdir(), "01a24f12-0000-7000-8000-00000000ffff", 0, &rf), DP_ERR_NOT_FOUND);
}

static enum wy_result feed(struct wy_stream *s, int text, const char *p, size_t n, struct wy_event *ev,
                           const char **code)
{
    char why[256];
    return wy_feed(s, text, (const uint8_t *)p, n, ev, code, why, sizeof why);
}

#define FEED_TEXT(s, str, ev, code) feed((s), 1, (str), strlen(str), (ev), (code))

TEST(wyoming_header_then_payload)
{
    struct wy_stream s = {0};
    struct wy_event ev;
    const char *code = "";
    CHECK_EQ_INT(FEED_TEXT(&s,
                           "{\"type\":\"audio-start\",\"data\":{\"rate\":16000,\"width\":2,\"channels\":1,"
                           "\"mode\":\"batch\",\"timestamp\":1234}}\n",
                           &ev, &code),
                 WY_EVENT);
    CHECK_EQ_INT(ev.type, WY_AUDIO_START);
    CHECK_EQ_INT((int)ev.rate, 16000);
    CHECK_EQ_INT(ev.batch, 1);
    CHECK_EQ_INT((int)ev.timestamp_ms, 1234);
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"audio-chunk\",\"data\":{\"seq\":5},\"payload_length\":4}", &ev, &code),
                 WY_MORE);
    CHECK_EQ_INT(feed(&s, 0, "abcd", 4, &ev, &code), WY_EVENT);
    CHECK_EQ_INT(ev.type, WY_AUDIO_CHUNK);
    CHECK_EQ_INT((int)ev.seq, 5);
    CHECK_EQ_INT((int)ev.payload_len, 4);
    CHECK(!memcmp(ev.payload, "abcd", 4));
}

TEST(wyoming_data_block_inline_or_next_frame)
{
    struct wy_stream s = {0};
    struct wy_event ev;
    const char *code = "";
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"audio-start\",\"data_length\":13}\n{\"rate\":8000}", &ev, &code), WY_EVENT);
    CHECK_EQ_INT((int)ev.rate, 8000);
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"audio-chunk\",\"data_length\":10,\"payload_length\":2}\n", &ev, &code),
                 WY_MORE);
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"seq\":42}", &ev, &code), WY_MORE);
    CHECK_EQ_INT(feed(&s, 0, "xy", 2, &ev, &code), WY_EVENT);
    CHECK_EQ_INT((int)ev.seq, 42);
}

TEST(wyoming_errors_leave_the_stream_usable)
{
    struct wy_stream s = {0};
    struct wy_event ev;
    const char *code = "";
    CHECK_EQ_INT(FEED_TEXT(&s, "[1,2]", &ev, &code), WY_ERROR);
    CHECK(!strcmp(code, "bad_header"));
    CHECK_EQ_INT(feed(&s, 0, "raw", 3, &ev, &code), WY_ERROR); /* no raw PCM allowed here */
    CHECK(!strcmp(code, "no_header"));
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"audio-chunk\",\"payload_length\":999999999}", &ev, &code), WY_ERROR);
    CHECK(!strcmp(code, "too_large"));
    s.allow_raw = 1;
    CHECK_EQ_INT(feed(&s, 0, "skipped", 7, &ev, &code), WY_MORE); /* the refused header's payload */
    CHECK_EQ_INT(feed(&s, 0, "rawpcm", 6, &ev, &code), WY_EVENT);
    CHECK_EQ_INT(ev.raw, 1);
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"audio-chunk\",\"payload_length\":8}", &ev, &code), WY_MORE);
    CHECK_EQ_INT(feed(&s, 0, "short", 5, &ev, &code), WY_ERROR);
    CHECK(!strcmp(code, "payload_mismatch"));
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"ping\"}", &ev, &code), WY_EVENT);
    CHECK_EQ_INT(ev.type, WY_PING);
    CHECK_EQ_INT(FEED_TEXT(&s, "{\"type\":\"ping\",\"payload_length\":3}", &ev, &code), WY_ERROR);
}
