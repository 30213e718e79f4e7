/* Resampling with speexdsp: audio_resample makes one resampler per call (reply audio, a clip), fed
 * in one go, the tail flushed with silence worth its latency; struct resampler keeps one for a
 * live stream fed piece by piece. */
#include "audio/resample.h"

#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int audio_resample(const int16_t *in, size_t n, int in_rate, int out_rate, int quality, int16_t **out, size_t *m)
{
    *out = NULL;
    *m = 0;
    if (in_rate < 1 || in_rate > 384000 || out_rate < 1 || out_rate > 384000)
        return DP_ERR_INVALID;
    size_t cap = (size_t)((double)n * out_rate / in_rate) + 64;
    int16_t *o = malloc(cap * sizeof *o);
    if (!o)
        return DP_ERR_NOMEM;
    if (in_rate == out_rate) {
        memcpy(o, in, n * sizeof *in);
        *out = o;
        *m = n;
        return DP_OK;
    }
    int err;
    SpeexResamplerState *st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality, &err);
    if (!st) {
        free(o);
        return DP_ERR_INTERNAL;
    }
    speex_resampler_skip_zeros(st); /* no leading delay: out[0] is in[0] */
    size_t done_in = 0, done_out = 0;
    while (done_in < n && done_out < cap) {
        spx_uint32_t il = (spx_uint32_t)(n - done_in > 1u << 20 ? 1u << 20 : n - done_in);
        spx_uint32_t ol = (spx_uint32_t)(cap - done_out > 1u << 20 ? 1u << 20 : cap - done_out);
        speex_resampler_process_int(st, 0, in + done_in, &il, o + done_out, &ol);
        if (!il && !ol)
            break;
        done_in += il;
        done_out += ol;
    }
    /* The filter still holds input_latency samples: push silence through to get them out. */
    int16_t zeros[256] = {0};
    size_t want = (size_t)((double)n * out_rate / in_rate);
    for (int i = 0; i < 64 && done_out < want && done_out < cap; i++) {
        spx_uint32_t il = sizeof zeros / sizeof zeros[0], ol = (spx_uint32_t)(cap - done_out);
        speex_resampler_process_int(st, 0, zeros, &il, o + done_out, &ol);
        done_out += ol;
    }
    speex_resampler_destroy(st);
    *out = o;
    *m = done_out < want ? done_out : want;
    return DP_OK;
}

struct resampler {
    SpeexResamplerState *st;
    int in_rate, out_rate;
};

int resampler_new(int in_rate, int out_rate, int quality, struct resampler **out)
{
    *out = NULL;
    if (in_rate < 1 || in_rate > 384000 || out_rate < 1 || out_rate > 384000)
        return DP_ERR_INVALID;
    struct resampler *r = calloc(1, sizeof *r);
    if (!r)
        return DP_ERR_NOMEM;
    int err;
    if (!(r->st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality, &err))) {
        free(r);
        return err == RESAMPLER_ERR_ALLOC_FAILED ? DP_ERR_NOMEM : DP_ERR_INVALID;
    }
    speex_resampler_skip_zeros(r->st);
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    *out = r;
    return DP_OK;
}

size_t resampler_room(const struct resampler *r, size_t n)
{
    /* The filter may release what it held back from the previous piece: a little more than n's share. */
    return (size_t)((double)n * r->out_rate / r->in_rate) + 2 + (size_t)(r->out_rate / r->in_rate);
}

size_t resampler_run(struct resampler *r, const int16_t *in, size_t n, int16_t *out, size_t cap)
{
    size_t done_in = 0, done_out = 0;
    while (done_in < n && done_out < cap) {
        spx_uint32_t il = (spx_uint32_t)(n - done_in > 1u << 20 ? 1u << 20 : n - done_in);
        spx_uint32_t ol = (spx_uint32_t)(cap - done_out > 1u << 20 ? 1u << 20 : cap - done_out);
        speex_resampler_process_int(r->st, 0, in + done_in, &il, out + done_out, &ol);
        if (!il && !ol)
            break;
        done_in += il;
        done_out += ol;
    }
    return done_out;
}

void resampler_free(struct resampler *r)
{
    if (!r)
        return;
    speex_resampler_destroy(r->st);
    free(r);
}

void audio_fade(int16_t *pcm, size_t n, int rate, int ms)
{
    size_t len = (size_t)rate * (size_t)ms / 1000;
    if (len > n / 2)
        len = n / 2;
    for (size_t i = 0; i < len; i++) {
        double g = (double)i / (double)len;
        pcm[i] = (int16_t)(pcm[i] * g);
        pcm[n - 1 - i] = (int16_t)(pcm[n - 1 - i] * g);
    }
}
