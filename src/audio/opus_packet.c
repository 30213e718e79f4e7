/* Opus packets over libopus: one decoder or encoder per live stream. */
#include "audio/opus_packet.h"

#include <opus.h>
#include <stdlib.h>

struct opus_dec {
    OpusDecoder *d;
};

struct opus_enc {
    OpusEncoder *e;
    int rate;
};

struct opus_dec *opus_dec_new(int rate)
{
    struct opus_dec *d = calloc(1, sizeof *d);
    int err;
    if (!d)
        return NULL;
    d->d = opus_decoder_create(rate, 1, &err);
    if (!d->d || err != OPUS_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void opus_dec_free(struct opus_dec *d)
{
    if (!d)
        return;
    opus_decoder_destroy(d->d);
    free(d);
}

int opus_dec_packet(struct opus_dec *d, const uint8_t *p, size_t n, int16_t *pcm, int max)
{
    if (!n || n > OPUS_PACKET_MAX)
        return -1;
    /* The packet's own header says how many samples it holds: check before decoding. */
    int fs = opus_packet_get_nb_samples(p, (opus_int32)n, 48000);
    if (fs <= 0 || fs > 5760)
        return -1;
    int r = opus_decode(d->d, p, (opus_int32)n, pcm, max, 0);
    return r < 0 ? -1 : r;
}

struct opus_enc *opus_enc_new(int rate, int bitrate)
{
    struct opus_enc *e = calloc(1, sizeof *e);
    int err;
    if (!e)
        return NULL;
    e->e = opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &err);
    if (!e->e || err != OPUS_OK) {
        free(e);
        return NULL;
    }
    opus_encoder_ctl(e->e, OPUS_SET_BITRATE(bitrate));
    e->rate = rate;
    return e;
}

void opus_enc_free(struct opus_enc *e)
{
    if (!e)
        return;
    opus_encoder_destroy(e->e);
    free(e);
}

int opus_enc_frame(struct opus_enc *e, const int16_t *pcm, uint8_t *out, int max)
{
    int r = opus_encode(e->e, pcm, e->rate / 50, out, max);
    return r < 0 ? -1 : r;
}
