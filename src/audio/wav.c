/* WAV parsing and spans (see wav.h). Every offset is 64-bit and checked against the file's size
 * before it is read, so no header can make us read outside the file or walk chunks for ever. */
#include "audio/wav.h"

#include <string.h>

#include "core/err.h"

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

/* KSDATAFORMAT_SUBTYPE_PCM (00000001-0000-0010-8000-00aa00389b71) after its first two bytes, which
 * hold the format tag: WAVE_FORMAT_EXTENSIBLE files name their real format this way. */
static const uint8_t ks_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

#define FMT_PCM 0x0001
#define FMT_EXTENSIBLE 0xfffe
#define FMT_READ 40 /* bytes of a fmt chunk we look at (the extensible form is 40) */

/* Reads exactly n bytes at off: DP_ERR_INVALID when the file ends first (a truncated header). */
static int read_exact(wav_read_fn rd, void *ctx, uint64_t off, void *buf, size_t n)
{
    long got = rd(ctx, off, buf, n);
    if (got < 0)
        return DP_ERR_IO;
    return (size_t)got == n ? DP_OK : DP_ERR_INVALID;
}

/* Checks the fmt chunk (len bytes, the first min(len, FMT_READ) in f) and fills w's format. */
static int parse_fmt(const uint8_t *f, uint32_t len, struct wav_info *w)
{
    uint16_t tag = le16(f), channels = le16(f + 2), align = le16(f + 12), bits = le16(f + 14);
    uint32_t rate = le32(f + 4);
    if (tag == FMT_EXTENSIBLE) {
        /* cbSize (f + 16) covers valid bits, channel mask and the sub-format GUID. */
        if (len < FMT_READ || le16(f + 16) < 22)
            return DP_ERR_INVALID;
        if (memcmp(f + 26, ks_guid_tail, sizeof ks_guid_tail))
            return DP_ERR_UNSUPPORTED;
        tag = le16(f + 24);
    }
    if (tag != FMT_PCM || (bits != 8 && bits != 16 && bits != 24 && bits != 32))
        return DP_ERR_UNSUPPORTED;
    if (!channels || channels > WAV_MAX_CHANNELS || !rate || rate > WAV_MAX_RATE)
        return DP_ERR_INVALID;
    /* A frame is what block_align says; a header that disagrees with itself is not guessed at. */
    if (align != (uint32_t)channels * (bits / 8))
        return DP_ERR_INVALID;
    w->channels = channels;
    w->rate = rate;
    w->bits = bits;
    w->frame_bytes = align;
    return DP_OK;
}

int wav_parse(wav_read_fn rd, void *ctx, uint64_t size, struct wav_info *out)
{
    struct wav_info w = {0};
    uint8_t h[12];
    uint64_t data_len = 0, off = 12;
    int err, have_fmt = 0, have_data = 0;
    memset(out, 0, sizeof *out);
    if ((err = read_exact(rd, ctx, 0, h, sizeof h)))
        return err;
    /* The RIFF size is not used: writers that stream leave it 0 or 0xffffffff; the file's own
     * size bounds everything instead. */
    if (memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
        return DP_ERR_INVALID;
    for (int n = 0; !(have_fmt && have_data); n++) {
        uint8_t c[8];
        if (n == WAV_MAX_CHUNKS || off > size || size - off < sizeof c)
            return DP_ERR_INVALID;
        if ((err = read_exact(rd, ctx, off, c, sizeof c)))
            return err;
        uint32_t len = le32(c + 4);
        uint64_t body = off + sizeof c, left = size - body;
        if (!memcmp(c, "fmt ", 4) && !have_fmt) {
            uint8_t f[FMT_READ];
            if (len < 16)
                return DP_ERR_INVALID;
            if ((err = read_exact(rd, ctx, body, f, len < sizeof f ? len : sizeof f)) || (err = parse_fmt(f, len, &w)))
                return err;
            have_fmt = 1;
        } else if (!memcmp(c, "data", 4) && !have_data) {
            have_data = 1;
            w.data_off = body;
            if (len > left) {
                /* Longer than the file: truncated, or written while streaming (size unknown).
                 * The samples run to the end of the file and nothing after them can be found. */
                if (!have_fmt)
                    return DP_ERR_INVALID;
                data_len = left;
                break;
            }
            data_len = len;
        }
        off = body + len + (len & 1); /* chunks of odd size are followed by a pad byte */
    }
    w.frames = data_len / w.frame_bytes;
    *out = w;
    return DP_OK;
}

struct mem_file {
    const uint8_t *p;
    size_t n;
};

static long mem_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    const struct mem_file *m = ctx;
    if (off >= m->n)
        return 0;
    if (n > m->n - off)
        n = m->n - (size_t)off;
    memcpy(buf, m->p + off, n);
    return (long)n;
}

int wav_parse_mem(const void *p, size_t n, struct wav_info *out)
{
    struct mem_file m = {p, n};
    return wav_parse(mem_read, &m, n, out);
}

uint64_t wav_duration_ms(const struct wav_info *w)
{
    if (!w->rate)
        return 0;
    /* Split so that frames * 1000 cannot overflow. */
    uint64_t s = w->frames / w->rate, rest = w->frames % w->rate;
    return s * 1000 + (rest * 1000 + w->rate - 1) / w->rate;
}

/* The frame at time ms, floor(ms * rate / 1000), clamped to the end of the file. */
static uint64_t frame_at(const struct wav_info *w, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s > w->frames / w->rate) /* past the end; also keeps s * rate below from overflowing */
        return w->frames;
    uint64_t f = s * w->rate + (ms % 1000) * w->rate / 1000;
    return f < w->frames ? f : w->frames;
}

void wav_span(const struct wav_info *w, uint64_t start_ms, uint64_t end_ms, uint64_t *first, uint64_t *count)
{
    *first = *count = 0;
    if (!w->rate || !w->frame_bytes || end_ms <= start_ms)
        return;
    uint64_t a = frame_at(w, start_ms), b = frame_at(w, end_ms);
    uint64_t max = (UINT32_MAX - (WAV_HEADER_LEN - 8)) / w->frame_bytes; /* the RIFF size is 32-bit */
    *first = a;
    *count = b > a ? b - a : 0;
    if (*count > max)
        *count = max;
}

void wav_header(const struct wav_info *w, uint64_t frames, uint8_t out[WAV_HEADER_LEN])
{
    uint32_t data = (uint32_t)(frames * w->frame_bytes);
    memcpy(out, "RIFF", 4);
    put32(out + 4, WAV_HEADER_LEN - 8 + data);
    memcpy(out + 8, "WAVEfmt ", 8);
    put32(out + 16, 16);
    put16(out + 20, FMT_PCM);
    put16(out + 22, w->channels);
    put32(out + 24, w->rate);
    put32(out + 28, w->rate * w->frame_bytes);
    put16(out + 32, w->frame_bytes);
    put16(out + 34, w->bits);
    memcpy(out + 36, "data", 4);
    put32(out + 40, data);
}
