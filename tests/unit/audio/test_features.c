/* Voice features measured on flite voices asked for a known pitch and rate, and the Ogg/Opus
 * round trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/features.h"
#include "audio/ogg_opus.h"
#include "core/err.h"
#include "providers/tts.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)
#define SENTENCE "When I was a child we spent every summer at my grandmother's house by the lake."

static int16_t *speak(const char *voice, float pitch, float rate, size_t *n)
{
    char msg[256];
    struct tts_config tc = {.provider = "flite"};
    if (!tts_current())
        OK(tts_configure(&tc, msg, sizeof msg));
    struct tts_voice v = {.voice = voice, .pitch_hz = pitch, .rate = rate};
    int16_t *pcm;
    OK(tts_synthesize_all(tts_current(), SENTENCE, &v, &pcm, n, NULL, NULL, msg, sizeof msg));
    return pcm;
}

TEST(features_pitch_of_synthesized_voices_is_what_was_asked)
{
    const float asked[] = {95, 130, 180, 230};
    double prev = 0;
    for (int i = 0; i < 4; i++) {
        size_t n;
        int16_t *pcm = speak("kal16", asked[i], 1, &n);
        struct voice_features f;
        features_measure(pcm, n, &f);
        fprintf(stderr, "    asked %.0f Hz: F0 %.1f ± %.1f Hz, %.1f syll/s, %.1f dB, %.1f s speech\n", asked[i],
                f.f0_mean_hz, f.f0_std_hz, f.rate_sps, f.energy_db, f.speech_s);
        CHECK(fabs(f.f0_mean_hz - asked[i]) < asked[i] * 0.10);
        CHECK(f.f0_mean_hz > prev);
        CHECK(f.speech_s > 2 && f.rate_sps > 2 && f.rate_sps < 8);
        prev = f.f0_mean_hz;
        free(pcm);
    }
}

TEST(features_rate_follows_the_synthesizer)
{
    size_t n1, n2;
    int16_t *a = speak("kal16", 0, 1.0f, &n1), *b = speak("kal16", 0, 1.4f, &n2);
    struct voice_features fa, fb;
    features_measure(a, n1, &fa);
    features_measure(b, n2, &fb);
    fprintf(stderr, "    rate 1.0: %.2f syll/s; rate 1.4: %.2f syll/s\n", fa.rate_sps, fb.rate_sps);
    CHECK(fb.rate_sps > fa.rate_sps * 1.15);
    CHECK(fabs(fa.mfcc[1] - fb.mfcc[1]) < fabs(fa.mfcc[1]) * 0.5 + 1); /* the same timbre */
    free(a);
    free(b);
}

TEST(features_silence_has_no_pitch)
{
    int16_t *z = calloc(16000, sizeof *z);
    struct voice_features f;
    features_measure(z, 16000, &f);
    CHECK(f.f0_mean_hz == 0 && f.voiced_s == 0);
    free(z);
}

TEST(ogg_opus_round_trip_keeps_length_and_pitch)
{
    size_t n;
    int16_t *pcm = speak("kal16", 150, 1, &n);
    uint8_t *ogg;
    size_t len;
    OK(ogg_opus_encode(pcm, n, 16000, 0, &ogg, &len));
    CHECK(len > 1000 && len < n); /* far smaller than the PCM */
    CHECK(!memcmp(ogg, "OggS", 4));
    int16_t *back;
    size_t m;
    OK(ogg_opus_decode(ogg, len, 48000 * 60, &back, &m));
    fprintf(stderr, "    %zu samples in, %zu out at 48 kHz, %zu bytes\n", n, m, len);
    CHECK(labs((long)m - (long)n * 3) < 48); /* 48 kHz out, padding trimmed */
    /* Back to 16 kHz by taking every third sample (the signal is band-limited below 8 kHz). */
    for (size_t i = 0; i < m / 3; i++)
        back[i] = back[i * 3];
    struct voice_features a, b;
    features_measure(pcm, n, &a);
    features_measure(back, m / 3, &b);
    CHECK(fabs(a.f0_mean_hz - b.f0_mean_hz) < a.f0_mean_hz * 0.05);
    free(back);
    CHECK_EQ_INT(ogg_opus_decode((const uint8_t *)"not ogg at all", 14, 1000, &back, &m) == DP_OK ? 0 : 1, 1);
    free(ogg);
    free(pcm);
}
