/* Streamed resampling (see resample_stream.h). */
#include "audio/resample_stream.h"

#include <speex/speex_resampler.h>
#include <stdlib.h>

#include "core/err.h"

struct audio_resampler {
    SpeexResamplerState *st; /* NULL: the same rate */
    int in_rate, out_rate;
};

struct audio_resampler *audio_resampler_new(int in_rate, int out_rate)
{
    if (in_rate < 1 || in_rate > 384000 || out_rate < 1 || out_rate > 384000)
        return NULL;
    struct audio_resampler *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    if (in_rate != out_rate) {
        int err;
        /* Quality 4: speexdsp's VoIP default, enough for speech and cheap per chunk. */
        r->st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, 4, &err);
        if (!r->st) {
            free(r);
            return NULL;
        }
        speex_resampler_skip_zeros(r->st); /* no leading delay */
    }
    return r;
}

static int run(struct audio_resampler *r, const int16_t *in, size_t n,
               int (*out)(void *arg, const int16_t *pcm, size_t n), void *arg)
{
    int16_t o[1024];
    while (n) {
        spx_uint32_t il = (spx_uint32_t)(n > 512 ? 512 : n), ol = sizeof o / sizeof o[0];
        speex_resampler_process_int(r->st, 0, in, &il, o, &ol);
        if (!il && !ol)
            break;
        in += il;
        n -= il;
        int stop = ol ? out(arg, o, ol) : 0;
        if (stop)
            return stop;
    }
    return 0;
}

int audio_resampler_feed(struct audio_resampler *r, const int16_t *in, size_t n, int flush,
                         int (*out)(void *arg, const int16_t *pcm, size_t n), void *arg)
{
    if (!r->st)
        return n ? out(arg, in, n) : 0;
    int stop = run(r, in, n, out, arg);
    if (stop || !flush)
        return stop;
    /* The filter holds input_latency samples: silence pushes them out. */
    static const int16_t zeros[256];
    size_t tail = (size_t)speex_resampler_get_input_latency(r->st);
    while (tail && !stop) {
        size_t k = tail < 256 ? tail : 256;
        stop = run(r, zeros, k, out, arg);
        tail -= k;
    }
    return stop;
}

void audio_resampler_free(struct audio_resampler *r)
{
    if (!r)
        return;
    if (r->st)
        speex_resampler_destroy(r->st);
    free(r);
}
