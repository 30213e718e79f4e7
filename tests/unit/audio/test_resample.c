/* Tests of src/audio/resample: a stream resampled piece by piece (a microphone at 48, 44.1 or
 * 8 kHz) comes out as the whole resampled at once, and keeps its tone. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../test.h"
#include "audio/resample.h"
#include "core/err.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static int16_t *tone(int rate, double hz, size_t n)
{
    int16_t *p = malloc(n * sizeof *p);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (int16_t)(8000 * sin(2 * M_PI * hz * (double)i / rate));
    return p;
}

/* Zero crossings per second of pcm at rate: twice the tone's frequency. */
static double crossings_hz(const int16_t *p, size_t n, int rate)
{
    int c = 0;
    for (size_t i = 1; i < n; i++)
        c += (p[i - 1] < 0) != (p[i] < 0);
    return c / 2.0 / ((double)n / rate);
}

TEST(resample_stream_in_pieces_is_the_whole_at_once)
{
    const int rates[] = {8000, 22050, 44100, 48000};
    for (int k = 0; k < 4; k++) {
        int in_rate = rates[k];
        size_t n = (size_t)in_rate; /* 1 s */
        int16_t *in = tone(in_rate, 440, n);
        int16_t *whole;
        size_t m;
        OK(audio_resample(in, n, in_rate, 16000, 4, &whole, &m));
        struct resampler *r;
        OK(resampler_new(in_rate, 16000, 4, &r));
        int16_t *out = malloc(resampler_room(r, n) * sizeof *out);
        size_t got = 0;
        /* pieces of uneven sizes, as frames from a client come */
        for (size_t at = 0, step = 1; at < n; at += step, step = step * 7 % 997 + 1) {
            size_t len = at + step > n ? n - at : step;
            size_t room = resampler_room(r, len);
            got += resampler_run(r, in + at, len, out + got, room);
        }
        /* Both hold back the filter's latency at the end; the stream's share is the same audio. */
        CHECK(got + 64 >= m);
        size_t same = got < m ? got : m;
        for (size_t i = 0; i < same; i++)
            CHECK_EQ_INT(out[i], whole[i]);
        double hz = crossings_hz(out + 100, got - 200, 16000);
        CHECK(fabs(hz - 440) < 5);
        resampler_free(r);
        free(out);
        free(whole);
        free(in);
    }
}

TEST(resample_refuses_rates_out_of_range)
{
    struct resampler *r = (struct resampler *)1;
    CHECK_EQ_INT(resampler_new(0, 16000, 4, &r), DP_ERR_INVALID);
    CHECK(r == NULL);
    CHECK_EQ_INT(resampler_new(16000, 400000, 4, &r), DP_ERR_INVALID);
    resampler_free(NULL);
}
