/* Tests of src/voice/echo: the reply's own voice coming back (delayed, quieter, with room noise)
 * matches; a different voice talking over silence or over the reply does not. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../test.h"
#include "core/err.h"
#include "voice/echo.h"

/* A syllable-like level contour: bursts of a buzz of random lengths (80–300 ms) and gaps, as
 * speech has; seed picks the voice. */
static void voice(int16_t *pcm, size_t n, uint32_t seed, double amp)
{
    size_t i = 0;
    while (i < n) {
        seed ^= seed << 13; /* xorshift32 */
        seed ^= seed >> 17;
        seed ^= seed << 5;
        size_t syl = 16 * (80 + (seed >> 8) % 220), gap = 16 * (20 + (seed >> 20) % 150);
        for (size_t k = 0; k < syl && i < n; k++, i++)
            pcm[i] = (int16_t)(amp * sin(M_PI * (double)k / (double)syl) * sin(2 * M_PI * 140 * (double)i / 16000));
        for (size_t k = 0; k < gap && i < n; k++, i++)
            pcm[i] = 0;
    }
}

static double level(const int16_t *p, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++)
        e += (double)p[i] * p[i];
    return 10 * log10(e / n / (32768.0 * 32768.0) + 1e-12);
}

/* Feeds the mic frames heard while reply frame f was playing; returns after how many voiced frames
 * (louder than -50 dBFS) 30 of them — 300 ms, a barge-in — were not taken for echo (-1: never). */
static int hears(struct echo *e, const int16_t *mic, int frames)
{
    int voiced = 0, person = 0, at = -1;
    for (int f = 0; f < frames; f++) {
        double db = level(mic + f * 160, 160);
        echo_add_mic(e, (float)db, f);
        if (db > -50) {
            voiced++;
            person += !echo_heard(e);
            if (person == 30 && at < 0)
                at = voiced;
        }
    }
    fprintf(stderr, "    %d of %d voiced frames not echo; a barge-in after %d\n", person, voiced, at);
    return at;
}

TEST(echo_the_reply_coming_back_matches_another_voice_does_not)
{
    enum { N = 16000 * 2 };
    int16_t *reply = malloc(N * sizeof *reply), *mic = malloc(N * sizeof *mic), *other = malloc(N * sizeof *other);
    voice(reply, N, 11, 12000);
    voice(other, N, 12345, 9000);
    struct echo e = {0};
    echo_reset(&e, 16000);
    CHECK_EQ_INT(echo_add_reply(&e, reply, N), DP_OK);

    /* 120 ms later, at a quarter of the level, with some noise. */
    uint32_t rng = 7;
    for (int i = 0; i < N; i++) {
        rng = rng * 1664525u + 1013904223u;
        int d = i - 1920;
        mic[i] = (int16_t)((d >= 0 ? reply[d] / 4 : 0) + (int)(rng >> 24) - 128);
    }
    CHECK(hears(&e, mic, N / 160) < 0); /* the echo never interrupts */

    /* Someone else talking. */
    echo_reset(&e, 16000);
    CHECK_EQ_INT(echo_add_reply(&e, reply, N), DP_OK);
    /* A person quieter than the reply, from its first syllable: until an echo could have been
     * learnt (a second of the reply speaking) only their loudest frames count, so a barge-in takes
     * longer than 300 ms — the price of never interrupting itself. */
    int at = hears(&e, other, N / 160);
    CHECK(at > 0 && at <= 120);

    /* Someone louder talking over the echo. */
    for (int i = 0; i < N; i++)
        mic[i] = (int16_t)(other[i] + (i >= 1920 ? reply[i - 1920] / 8 : 0));
    echo_reset(&e, 16000);
    CHECK_EQ_INT(echo_add_reply(&e, reply, N), DP_OK);
    at = hears(&e, mic, N / 160);
    CHECK(at > 0 && at <= 120);
    echo_cleanup(&e);
    free(reply);
    free(mic);
    free(other);
}
