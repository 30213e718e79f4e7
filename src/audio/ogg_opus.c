/* Ogg/Opus with libopus + libogg (encode) and libopusfile (decode), all BSD-licensed. The encoder
 * writes the two header packets (OpusHead, OpusTags) on pages of their own, then one 20 ms packet
 * at a time with its granule position counted at 48 kHz as the format requires; the last page
 * carries end-of-stream and the granule that trims the padding of the final frame. */
#include "audio/ogg_opus.h"

#include <ogg/ogg.h>
#include <opus.h>
#include <opusfile.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

static int append_page(struct buf *b, const ogg_page *pg)
{
    int err = buf_append(b, pg->header, (size_t)pg->header_len);
    return err ? err : buf_append(b, pg->body, (size_t)pg->body_len);
}

/* Writes out every complete page (flush: also a partial one). */
static int drain(ogg_stream_state *os, struct buf *b, int flush)
{
    ogg_page pg;
    int err = DP_OK;
    while (!err && (flush ? ogg_stream_flush(os, &pg) : ogg_stream_pageout(os, &pg)))
        err = append_page(b, &pg);
    return err;
}

static void put_le16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, v & 0xffff);
    put_le16(p + 2, v >> 16);
}

static int packet_in(ogg_stream_state *os, const uint8_t *data, long len, int bos, int eos, int64_t granule, int64_t no)
{
    ogg_packet op = {(unsigned char *)data, len, bos, eos, granule, no};
    return ogg_stream_packetin(os, &op) ? DP_ERR_NOMEM : DP_OK;
}

int ogg_opus_encode(const int16_t *pcm, size_t n, int rate, int bitrate, uint8_t **out, size_t *len)
{
    if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000)
        return DP_ERR_INVALID;
    int oerr;
    OpusEncoder *enc = opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &oerr);
    if (!enc)
        return DP_ERR_INTERNAL;
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate > 0 ? bitrate : 32000));
    opus_int32 lookahead = 0;
    opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
    const int scale = 48000 / rate, frame = rate / 50; /* 20 ms */
    const int pre_skip = lookahead * scale;
    ogg_stream_state os;
    ogg_stream_init(&os, 0x646f7070); /* any serial: one stream per file */
    struct buf b;
    buf_init(&b, 0);
    uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1};
    put_le16(head + 10, (unsigned)pre_skip);
    put_le32(head + 12, (uint32_t)rate);
    static const uint8_t tags[] = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 6, 0, 0,
                                   0,   'd', 'o', 'p', 'p', 'e', 'l', 0,   0, 0, 0};
    int err = packet_in(&os, head, sizeof head, 1, 0, 0, 0);
    if (!err)
        err = drain(&os, &b, 1);
    if (!err)
        err = packet_in(&os, tags, sizeof tags, 0, 0, 0, 1);
    if (!err)
        err = drain(&os, &b, 1);
    int16_t *chunk = calloc((size_t)frame, sizeof *chunk);
    uint8_t packet[1500];
    int64_t no = 2;
    /* The encoder runs lookahead samples behind: enough silent frames follow the audio for its
     * end to come out (an empty file still has one packet). */
    size_t frames = (n + (size_t)lookahead + (size_t)frame - 1) / (size_t)frame;
    if (!chunk)
        err = DP_ERR_NOMEM;
    for (size_t f = 0; f < frames && !err; f++) {
        size_t at = f * (size_t)frame, take = at < n ? (n - at < (size_t)frame ? n - at : (size_t)frame) : 0;
        memset(chunk, 0, (size_t)frame * sizeof *chunk);
        if (take)
            memcpy(chunk, pcm + at, take * sizeof *chunk);
        opus_int32 got = opus_encode(enc, chunk, frame, packet, sizeof packet);
        if (got < 0) {
            err = DP_ERR_INTERNAL;
            break;
        }
        int last = f + 1 == frames;
        /* A granule counts the 48 kHz samples decoded so far, the pre-skip included; the last
         * one marks the true end (pre-skip + input), so players trim the padding. */
        int64_t granule = last ? (int64_t)pre_skip + (int64_t)n * scale : (int64_t)(at + (size_t)frame) * scale;
        err = packet_in(&os, packet, got, 0, last, granule, no++);
        if (!err)
            err = drain(&os, &b, last);
    }
    free(chunk);
    ogg_stream_clear(&os);
    opus_encoder_destroy(enc);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    *out = (uint8_t *)buf_steal(&b, len);
    return DP_OK;
}

int ogg_opus_decode(const uint8_t *data, size_t len, size_t max_samples, int16_t **pcm, size_t *n)
{
    *pcm = NULL;
    *n = 0;
    int oerr;
    OggOpusFile *of = op_open_memory(data, len, &oerr);
    if (!of)
        return DP_ERR_UNSUPPORTED;
    size_t cap = 48000, got = 0;
    int16_t *out = malloc(cap * sizeof *out);
    int err = out ? DP_OK : DP_ERR_NOMEM;
    float stereo[5760 * 2];
    while (!err && got < max_samples) {
        /* Downmixed by libopusfile: every channel layout reads as stereo, averaged here. */
        int r = op_read_float_stereo(of, stereo, (int)(sizeof stereo / sizeof stereo[0]));
        if (r < 0) {
            err = DP_ERR_UNSUPPORTED;
            break;
        }
        if (r == 0)
            break;
        if (got + (size_t)r > cap) {
            size_t nc = (got + (size_t)r) * 2;
            int16_t *np = realloc(out, nc * sizeof *np);
            if (!np) {
                err = DP_ERR_NOMEM;
                break;
            }
            out = np;
            cap = nc;
        }
        for (int i = 0; i < r && got < max_samples; i++) {
            float v = (stereo[2 * i] + stereo[2 * i + 1]) * 0.5f * 32767.0f;
            out[got++] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : v);
        }
    }
    op_free(of);
    if (err) {
        free(out);
        return err;
    }
    *pcm = out;
    *n = got;
    return DP_OK;
}
