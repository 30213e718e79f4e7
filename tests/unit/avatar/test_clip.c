/* Tests of src/avatar/clip: WAV spans of blobs cut into temporary files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support.h"
#include "../test.h"
#include "audio/wav.h"
#include "avatar/clip.h"
#include "core/err.h"
#include "store/blob.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static struct blob_store *store(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/blobs", test_tmpdir());
    struct blob_store *bs = NULL;
    OK(blob_store_open(&bs, dir));
    return bs;
}

static void le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A 16-bit stereo 8 kHz WAV of `frames` frames with a LIST chunk of odd size before fmt; sample
 * bytes are 0, 1, 2 … (mod 256). tag 3 makes it float. Returns the length; data starts at *off. */
static size_t make_wav(uint8_t *b, uint32_t frames, unsigned tag, size_t *off)
{
    size_t n = 0;
    memcpy(b, "RIFFxxxxWAVELIST", 16);
    le(b + 4, 0xffffffffu, 4);
    le(b + 16, 3, 4);
    memcpy(b + 20, "abc\0", 4); /* 3 bytes + pad */
    n = 24;
    memcpy(b + n, "fmt ", 4);
    le(b + n + 4, 16, 4);
    le(b + n + 8, tag, 2);
    le(b + n + 10, 2, 2);
    le(b + n + 12, 8000, 4);
    le(b + n + 16, 32000, 4);
    le(b + n + 20, 4, 2);
    le(b + n + 22, tag == 3 ? 32 : 16, 2);
    n += 24;
    memcpy(b + n, "data", 4);
    le(b + n + 4, frames * 4, 4);
    n += 8;
    *off = n;
    for (uint32_t i = 0; i < frames * 4; i++)
        b[n++] = (uint8_t)i;
    return n;
}

static uint8_t *read_all(int fd, uint64_t len)
{
    uint8_t *p = malloc(len + 1);
    CHECK(p);
    CHECK_EQ_INT(pread(fd, p, len, 0), (long long)len);
    return p;
}

TEST(clip_wav_cuts_the_span_with_a_fresh_header)
{
    struct blob_store *bs = store();
    static uint8_t wav[64 + 8000 * 4];
    size_t off;
    size_t n = make_wav(wav, 8000, 1, &off);
    char key[BLOB_KEY_LEN + 1];
    OK(blob_put(bs, wav, n, key));
    int fd;
    uint64_t len;
    OK(clip_wav_open(bs, key, 250, 500, &fd, &len)); /* frames 2000 … 3999 */
    CHECK_EQ_INT(len, WAV_HEADER_LEN + 2000 * 4);
    uint8_t *c = read_all(fd, len);
    struct wav_info w;
    OK(wav_parse_mem(c, len, &w));
    CHECK_EQ_INT(w.channels, 2);
    CHECK_EQ_INT(w.rate, 8000);
    CHECK_EQ_INT(w.bits, 16);
    CHECK_EQ_INT(w.frames, 2000);
    CHECK(!memcmp(c + WAV_HEADER_LEN, wav + off + 2000 * 4, 2000 * 4));
    free(c);
    close(fd);
    /* Past the end: clamped to the recording. */
    OK(clip_wav_open(bs, key, 900, 5000, &fd, &len));
    CHECK_EQ_INT(len, WAV_HEADER_LEN + 800 * 4);
    close(fd);
    blob_store_close(bs);
}

TEST(clip_wav_refuses_what_it_cannot_cut)
{
    struct blob_store *bs = store();
    static uint8_t wav[64 + 100 * 8];
    size_t off;
    char key[BLOB_KEY_LEN + 1];
    int fd = -1;
    uint64_t len;
    OK(blob_put(bs, wav, make_wav(wav, 100, 3, &off), key));
    CHECK_EQ_INT(clip_wav_open(bs, key, 0, 10, &fd, &len), DP_ERR_UNSUPPORTED);
    OK(blob_put(bs, "ID3\3not a wav at all", 20, key));
    CHECK_EQ_INT(clip_wav_open(bs, key, 0, 10, &fd, &len), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(
        clip_wav_open(bs, "0000000000000000000000000000000000000000000000000000000000000000", 0, 10, &fd, &len),
        DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(fd, -1);
    CHECK(clip_is_wav("audio/x-wav") && clip_is_wav("audio/wav") && !clip_is_wav("audio/mpeg") && !clip_is_wav(NULL));
    blob_store_close(bs);
}
