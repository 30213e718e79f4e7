/* The streamed resampler: a tone fed in uneven chunks comes out at the new rate with its pitch and
 * length, and without clicks at the chunk edges (the same as converting it whole). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "audio/resample_stream.h"
#include "../test.h"

struct sink {
    int16_t *pcm;
    size_t n, cap;
};

static int collect(void *arg, const int16_t *pcm, size_t n)
{
    struct sink *s = arg;
    if (s->n + n > s->cap)
        return 1;
    memcpy(s->pcm + s->n, pcm, n * sizeof *pcm);
    s->n += n;
    return 0;
}

static int16_t *tone(int rate, int hz, size_t n)
{
    int16_t *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (int16_t)(8000 * sin(2 * M_PI * hz * (double)i / rate));
    return p;
}

TEST(resample_stream_keeps_pitch_length_and_has_no_chunk_clicks)
{
    const size_t n = 24000; /* 1 s at 24 kHz */
    int16_t *in = tone(24000, 440, n);
    struct audio_resampler *r = audio_resampler_new(24000, 16000);
    CHECK(r);
    struct sink s = {malloc(32000 * sizeof(int16_t)), 0, 32000};
    size_t at = 0, step = 1;
    while (at < n) { /* 1, 2, 3 … samples, then 4800: edges everywhere */
        size_t k = step < n - at ? step : n - at;
        CHECK_EQ_INT(audio_resampler_feed(r, in + at, k, 0, collect, &s), 0);
        at += k;
        step = step < 64 ? step + 1 : 4800;
    }
    CHECK_EQ_INT(audio_resampler_feed(r, NULL, 0, 1, collect, &s), 0);
    audio_resampler_free(r);
    CHECK(s.n > 15900 && s.n < 16100);
    int crossings = 0, jump = 0;
    for (size_t i = 1; i < s.n; i++) {
        crossings += (s.pcm[i - 1] < 0) != (s.pcm[i] < 0);
        int d = abs(s.pcm[i] - s.pcm[i - 1]);
        if (i > 100 && i < s.n - 100 && d > jump)
            jump = d;
    }
    CHECK(crossings > 860 && crossings < 900);                /* 440 Hz for a second */
    CHECK(jump < (int)(8000 * 2 * M_PI * 440 / 16000) + 200); /* no step larger than the tone's own slope */
    free(in);
    free(s.pcm);
}

TEST(resample_stream_same_rate_passes_through_and_stop_is_returned)
{
    int16_t in[100];
    for (int i = 0; i < 100; i++)
        in[i] = (int16_t)i;
    struct audio_resampler *r = audio_resampler_new(16000, 16000);
    struct sink s = {malloc(50 * sizeof(int16_t)), 0, 50};
    CHECK_EQ_INT(audio_resampler_feed(r, in, 40, 0, collect, &s), 0);
    CHECK_EQ_INT(s.n, 40);
    CHECK_EQ_INT(s.pcm[39], 39);
    CHECK(audio_resampler_feed(r, in, 40, 1, collect, &s) != 0); /* the sink is full: it says stop */
    audio_resampler_free(r);
    CHECK(!audio_resampler_new(0, 16000));
    CHECK(!audio_resampler_new(16000, 500000));
    free(s.pcm);
}
