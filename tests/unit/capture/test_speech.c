/* Tests of src/capture/speech: where speech is in a device's stream, in the recording's time —
 * a voiced buzz between stretches of noise gives one segment at its place, the silence after it
 * counts up from its end (and is -1 while speech goes on), a stream resumed mid-recording keeps the
 * recording's clock, and other rates and channels are brought to the VAD's 16 kHz mono. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "capture/speech.h"

/* ms of audio at rate/channels: a 150 Hz buzz with a harmonic when voiced, low noise always. */
static int16_t *make(long rate, long channels, int ms, int voiced, size_t *bytes)
{
    size_t frames = (size_t)(rate * ms / 1000);
    int16_t *p = malloc(frames * (size_t)channels * 2);
    CHECK(p);
    static uint32_t s = 7;
    for (size_t i = 0; i < frames; i++) {
        s = s * 1103515245u + 12345u;
        double v = (double)((int)((s >> 16) % 401) - 200);
        if (voiced)
            v += 3000 * sin(2 * M_PI * 150 * (double)i / (double)rate) +
                 1500 * sin(2 * M_PI * 300 * (double)i / (double)rate);
        for (long c = 0; c < channels; c++)
            p[i * (size_t)channels + (size_t)c] = (int16_t)v;
    }
    *bytes = frames * (size_t)channels * 2;
    return p;
}

static void feed(struct speech_track *t, long rate, long channels, int ms, int voiced)
{
    size_t n;
    int16_t *p = make(rate, channels, ms, voiced, &n);
    /* In 200 ms groups, as a session flushes (a frame split across them is kept). */
    size_t group = (size_t)(rate * channels * 2) / 5 + 6;
    for (size_t at = 0; at < n; at += group)
        CHECK(speech_track_feed(t, (char *)p + at, at + group < n ? group : n - at) == 0);
    free(p);
}

static void one_segment_at(long rate, long channels, int64_t base_ms)
{
    struct speech_track t;
    speech_track_init(&t, rate, channels, base_ms, 1);
    feed(&t, rate, channels, 1000, 0);
    CHECK(speech_track_silence_ms(&t) == -1); /* no speech yet: no silence after it either */
    feed(&t, rate, channels, 1500, 1);
    feed(&t, rate, channels, 2000, 0);
    CHECK(json_array_size(t.segments) == 1);
    int64_t s = json_integer_value(json_array_get(json_array_get(t.segments, 0), 0));
    int64_t e = json_integer_value(json_array_get(json_array_get(t.segments, 0), 1));
    CHECK(llabs(s - (base_ms + 1000)) <= 60);
    CHECK(llabs(e - (base_ms + 2500)) <= 60);
    CHECK(t.speech_ms == e - s);
    int64_t quiet = speech_track_silence_ms(&t);
    CHECK(quiet >= 1900 && quiet <= 2100);
    feed(&t, rate, channels, 1000, 1);
    CHECK(speech_track_silence_ms(&t) == -1); /* speaking again */
    speech_track_finish(&t);
    CHECK(json_array_size(t.segments) == 2);
    speech_track_free(&t);
}

TEST(speech_segment_and_silence_in_recording_time)
{
    one_segment_at(16000, 1, 0);
}

TEST(speech_resumed_stream_keeps_the_recording_clock)
{
    one_segment_at(16000, 1, 60000);
}

TEST(speech_other_rates_and_channels)
{
    one_segment_at(48000, 2, 0);
    one_segment_at(8000, 1, 0);
}

TEST(speech_noise_alone_is_no_speech)
{
    struct speech_track t;
    speech_track_init(&t, 16000, 1, 0, 0);
    feed(&t, 16000, 1, 5000, 0);
    speech_track_finish(&t);
    CHECK(t.speech_ms == 0 && t.segments == NULL && speech_track_silence_ms(&t) == -1);
    speech_track_free(&t);
}
