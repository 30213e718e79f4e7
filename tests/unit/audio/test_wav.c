/* Tests of src/audio/wav: header parsing (layouts writers produce, damaged and hostile files),
 * frame-exact spans and the fresh header of a clip. */
#include <stdint.h>
#include <string.h>

#include "../test.h"
#include "audio/wav.h"
#include "core/err.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* A file under construction. */
struct file {
    uint8_t b[16384];
    size_t n;
};

static void put(struct file *f, const void *p, size_t n)
{
    CHECK(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void u16(struct file *f, unsigned v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(f, b, 2);
}

static void u32(struct file *f, uint32_t v)
{
    u16(f, v & 0xffff);
    u16(f, v >> 16);
}

static void riff(struct file *f)
{
    f->n = 0;
    put(f, "RIFF", 4);
    u32(f, 0); /* the RIFF size is not trusted: left 0 as streaming writers do */
    put(f, "WAVE", 4);
}

/* A plain 16-byte fmt chunk; align is written as given (to make it lie). */
static void fmt(struct file *f, unsigned tag, unsigned channels, uint32_t rate, unsigned bits, unsigned align)
{
    put(f, "fmt ", 4);
    u32(f, 16);
    u16(f, tag);
    u16(f, channels);
    u32(f, rate);
    u32(f, rate * align);
    u16(f, align);
    u16(f, bits);
}

static void fmt_pcm(struct file *f, unsigned channels, uint32_t rate, unsigned bits)
{
    fmt(f, 1, channels, rate, bits, channels * bits / 8);
}

/* WAVE_FORMAT_EXTENSIBLE with the given sub-format tag (1 PCM, 3 float). */
static void fmt_extensible(struct file *f, unsigned sub, unsigned channels, uint32_t rate, unsigned bits)
{
    static const uint8_t tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
    put(f, "fmt ", 4);
    u32(f, 40);
    u16(f, 0xfffe);
    u16(f, channels);
    u32(f, rate);
    u32(f, rate * channels * bits / 8);
    u16(f, channels * bits / 8);
    u16(f, bits);
    u16(f, 22);   /* cbSize */
    u16(f, bits); /* valid bits */
    u32(f, 3);    /* channel mask */
    u16(f, sub);
    put(f, tail, sizeof tail);
}

/* A chunk of n bytes (plus its pad byte when n is odd). */
static void chunk(struct file *f, const char *id, size_t n)
{
    put(f, id, 4);
    u32(f, (uint32_t)n);
    for (size_t i = 0; i < n + (n & 1); i++)
        put(f, "x", 1);
}

/* A data chunk announcing declared bytes and holding n sample bytes 0, 1, 2 … */
static void data(struct file *f, uint32_t declared, size_t n)
{
    put(f, "data", 4);
    u32(f, declared);
    for (size_t i = 0; i < n; i++) {
        uint8_t v = (uint8_t)i;
        put(f, &v, 1);
    }
}

static int parse(const struct file *f, struct wav_info *w)
{
    return wav_parse_mem(f->b, f->n, w);
}

TEST(wav_canonical_16bit_mono)
{
    struct file f;
    struct wav_info w;
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    data(&f, 3200, 3200);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.channels, 1);
    CHECK_EQ_INT(w.rate, 16000);
    CHECK_EQ_INT(w.bits, 16);
    CHECK_EQ_INT(w.frame_bytes, 2);
    CHECK_EQ_INT(w.data_off, 44);
    CHECK_EQ_INT(w.frames, 1600);
    CHECK_EQ_INT(wav_duration_ms(&w), 100);
}

TEST(wav_other_chunks_odd_padding_and_data_before_fmt)
{
    struct file f;
    struct wav_info w;
    /* LIST (odd size, padded) before fmt, fact between fmt and data. */
    riff(&f);
    chunk(&f, "LIST", 13);
    fmt_pcm(&f, 2, 8000, 8);
    chunk(&f, "fact", 4);
    size_t at = f.n + 8;
    data(&f, 100, 100);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.data_off, at);
    CHECK_EQ_INT(w.frames, 50);
    /* data first, fmt after it (and after an odd-sized data chunk's pad byte). */
    riff(&f);
    data(&f, 7, 7);
    put(&f, "\0", 1);
    fmt_pcm(&f, 1, 8000, 8);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.data_off, 20);
    CHECK_EQ_INT(w.frames, 7);
    /* A second fmt chunk does not override the first. */
    riff(&f);
    fmt_pcm(&f, 1, 8000, 16);
    fmt(&f, 1, 2, 44100, 16, 4);
    data(&f, 8, 8);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.rate, 8000);
    CHECK_EQ_INT(w.frames, 4);
}

TEST(wav_truncated_or_streamed_data_runs_to_the_end)
{
    struct file f;
    struct wav_info w;
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    data(&f, 100000, 301); /* cut mid-frame: whole frames only */
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.frames, 150);
    riff(&f);
    fmt_pcm(&f, 2, 16000, 24);
    data(&f, 0xffffffffu, 60);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.frame_bytes, 6);
    CHECK_EQ_INT(w.frames, 10);
    /* An empty data chunk is an empty recording. */
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    data(&f, 0, 0);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.frames, 0);
    CHECK_EQ_INT(wav_duration_ms(&w), 0);
}

TEST(wav_sample_formats)
{
    struct file f;
    struct wav_info w;
    static const unsigned bits[] = {8, 16, 24, 32};
    for (int i = 0; i < 4; i++) {
        riff(&f);
        fmt_pcm(&f, 3, 48000, bits[i]);
        data(&f, 3 * bits[i] / 8 * 5, 3 * bits[i] / 8 * 5);
        OK(parse(&f, &w));
        CHECK_EQ_INT(w.frames, 5);
    }
    riff(&f);
    fmt_extensible(&f, 1, 2, 44100, 24);
    data(&f, 12, 12);
    OK(parse(&f, &w));
    CHECK_EQ_INT(w.bits, 24);
    CHECK_EQ_INT(w.frames, 2);
    /* Float, extensible float, µ-law, 12-bit PCM: a WAV, but not one we cut. */
    riff(&f);
    fmt(&f, 3, 1, 16000, 32, 4);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_UNSUPPORTED);
    riff(&f);
    fmt_extensible(&f, 3, 1, 16000, 32);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_UNSUPPORTED);
    riff(&f);
    fmt(&f, 7, 1, 8000, 8, 1);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_UNSUPPORTED);
    riff(&f);
    fmt(&f, 1, 1, 8000, 12, 2);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_UNSUPPORTED);
}

TEST(wav_damaged_headers_are_invalid)
{
    struct file f;
    struct wav_info w = {0};
    /* Not RIFF/WAVE. */
    CHECK_EQ_INT(wav_parse_mem("RIFX\0\0\0\0WAVE", 12, &w), DP_ERR_INVALID);
    CHECK_EQ_INT(wav_parse_mem("RIFF\0\0\0\0AVI ", 12, &w), DP_ERR_INVALID);
    CHECK_EQ_INT(wav_parse_mem("RIFF", 4, &w), DP_ERR_INVALID);
    CHECK_EQ_INT(wav_parse_mem("", 0, &w), DP_ERR_INVALID);
    /* No data chunk; no fmt chunk. */
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
    riff(&f);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
    /* A data chunk longer than the file before any fmt: nothing after it can be found. */
    riff(&f);
    data(&f, 1000, 8);
    fmt_pcm(&f, 1, 16000, 16);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
    /* Impossible fields. */
    static const struct {
        unsigned channels;
        uint32_t rate;
        unsigned bits, align;
    } bad[] = {{0, 16000, 16, 0},   {65, 16000, 8, 65}, {1, 0, 16, 2},
               {1, 2000000, 16, 2}, {2, 16000, 16, 2},  {1, 16000, 16, 4}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        riff(&f);
        fmt(&f, 1, bad[i].channels, bad[i].rate, bad[i].bits, bad[i].align);
        data(&f, 8, 8);
        CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
        CHECK_EQ_INT(w.frames, 0); /* zeroed on error */
    }
    /* A fmt chunk shorter than 16 bytes, or cut by the end of the file. */
    riff(&f);
    chunk(&f, "fmt ", 14);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    CHECK_EQ_INT(wav_parse_mem(f.b, f.n - 3, &w), DP_ERR_INVALID);
    /* Extensible with a short cbSize. */
    riff(&f);
    fmt_extensible(&f, 1, 1, 16000, 16);
    f.b[12 + 8 + 16] = 10;
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
}

TEST(wav_hostile_chunk_sizes)
{
    struct file f;
    struct wav_info w;
    /* A chunk claiming 4 GiB jumps past the end: no fmt is found, nothing is read out of bounds. */
    riff(&f);
    put(&f, "LIST", 4);
    u32(&f, 0xfffffff0u);
    fmt_pcm(&f, 1, 16000, 16);
    data(&f, 8, 8);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
    /* More chunks than WAV_MAX_CHUNKS before the data: refused instead of walked for ever. */
    riff(&f);
    fmt_pcm(&f, 1, 16000, 16);
    while (f.n + 8 <= sizeof f.b - 16)
        chunk(&f, "junk", 0);
    data(&f, 8, 8);
    CHECK(f.n / 8 > WAV_MAX_CHUNKS);
    CHECK_EQ_INT(parse(&f, &w), DP_ERR_INVALID);
}

TEST(wav_spans_are_frame_exact)
{
    struct wav_info w = {.channels = 1, .rate = 16000, .bits = 16, .frame_bytes = 2, .data_off = 44, .frames = 16000};
    uint64_t first, count;
    wav_span(&w, 100, 350, &first, &count);
    CHECK_EQ_INT(first, 1600);
    CHECK_EQ_INT(count, 4000);
    wav_span(&w, 900, 5000, &first, &count); /* clamped to the end */
    CHECK_EQ_INT(first, 14400);
    CHECK_EQ_INT(count, 1600);
    wav_span(&w, 1000, 2000, &first, &count); /* starts at the end */
    CHECK_EQ_INT(count, 0);
    wav_span(&w, 500, 500, &first, &count);
    CHECK_EQ_INT(count, 0);
    wav_span(&w, 600, 500, &first, &count);
    CHECK_EQ_INT(count, 0);
    wav_span(&w, UINT64_MAX - 5, UINT64_MAX, &first, &count); /* no overflow */
    CHECK_EQ_INT(count, 0);
    /* 44.1 kHz: frames are not whole per millisecond; adjacent spans tile the file. */
    struct wav_info c = {.channels = 2, .rate = 44100, .bits = 16, .frame_bytes = 4, .frames = 441000};
    uint64_t f1, n1, f2, n2;
    wav_span(&c, 0, 1001, &f1, &n1);
    wav_span(&c, 1001, 2003, &f2, &n2);
    CHECK_EQ_INT(f1, 0);
    CHECK_EQ_INT(n1, 44144); /* floor(1001 * 44.1) */
    CHECK_EQ_INT(f2, f1 + n1);
    CHECK_EQ_INT(f2 + n2, 88332); /* floor(2003 * 44.1) */
    CHECK_EQ_INT(wav_duration_ms(&c), 10000);
    c.frames = 44101;
    CHECK_EQ_INT(wav_duration_ms(&c), 1001); /* rounded up */
}

TEST(wav_span_capped_to_one_header)
{
    struct wav_info w = {.channels = 8, .rate = 1000000, .bits = 32, .frame_bytes = 32, .frames = UINT64_C(1) << 40};
    uint64_t first, count;
    wav_span(&w, 0, 600000, &first, &count);
    CHECK(count * w.frame_bytes + WAV_HEADER_LEN - 8 <= UINT32_MAX);
    CHECK(count > 0);
}

TEST(wav_clip_header_round_trips)
{
    struct file f;
    struct wav_info w, back;
    riff(&f);
    chunk(&f, "LIST", 5);
    fmt_extensible(&f, 1, 2, 22050, 24);
    data(&f, 7200, 7200);
    OK(parse(&f, &w));
    uint64_t first, count;
    wav_span(&w, 10, 50, &first, &count);
    CHECK_EQ_INT(first, 220);
    CHECK_EQ_INT(count, 882);
    /* The clip is a fresh header and the span's bytes; it parses back as the same format. */
    static uint8_t clip[WAV_HEADER_LEN + 7200];
    wav_header(&w, count, clip);
    memcpy(clip + WAV_HEADER_LEN, f.b + w.data_off + first * w.frame_bytes, count * w.frame_bytes);
    OK(wav_parse_mem(clip, WAV_HEADER_LEN + count * w.frame_bytes, &back));
    CHECK_EQ_INT(back.channels, 2);
    CHECK_EQ_INT(back.rate, 22050);
    CHECK_EQ_INT(back.bits, 24);
    CHECK_EQ_INT(back.data_off, WAV_HEADER_LEN);
    CHECK_EQ_INT(back.frames, count);
    CHECK(!memcmp(clip, "RIFF", 4));
    CHECK_EQ_INT(clip[4] | clip[5] << 8 | clip[6] << 16 | (uint32_t)clip[7] << 24, 36 + count * 6);
    CHECK_EQ_INT(clip[20], 1); /* plain PCM */
    CHECK_EQ_INT(clip[28] | clip[29] << 8 | clip[30] << 16, 22050 * 6);
    CHECK_EQ_INT(clip[32], 6);
    CHECK_EQ_INT(clip[WAV_HEADER_LEN], (uint8_t)(first * 6)); /* data bytes were 0, 1, 2 … */
}
