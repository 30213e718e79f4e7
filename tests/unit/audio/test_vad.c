/* Tests of src/audio/vad: precision and recall on fixtures made here — sentences spoken by
 * espeak-ng, laid between stretches of silence and of noise (white, and a louder hum-free rumble),
 * noise mixed over the speech too — and that clicks and steady noise never start speech. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "audio/vad.h"

struct pcm {
    int16_t *s;
    size_t n, cap;
    uint8_t *truth; /* per 10 ms frame: 1 inside a spoken sentence */
};

static void push(struct pcm *p, double v, int speech)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 1 << 16;
        p->s = realloc(p->s, p->cap * sizeof *p->s);
        p->truth = realloc(p->truth, p->cap / VAD_FRAME + 1);
        CHECK(p->s && p->truth);
    }
    if (v > 32767)
        v = 32767;
    if (v < -32768)
        v = -32768;
    if (p->n % VAD_FRAME == 0)
        p->truth[p->n / VAD_FRAME] = 0;
    if (speech)
        p->truth[p->n / VAD_FRAME] = 1;
    p->s[p->n++] = (int16_t)v;
}

static uint32_t rng = 12345;
static double noise(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((double)(rng >> 8) / (1 << 24)) * 2 - 1;
}

/* espeak-ng's 22.05 kHz WAV of text, resampled to 16 kHz (linear); NULL when espeak-ng is absent. */
static int16_t *speak(const char *text, size_t *n)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "espeak-ng --stdout '%s' 2>/dev/null", text);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    static uint8_t buf[4 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    pclose(f);
    if (len < 44 + 1000)
        return NULL;
    const int16_t *in = (const int16_t *)(buf + 44);
    size_t nin = (len - 44) / 2;
    *n = (size_t)((double)nin * 16000 / 22050);
    int16_t *out = malloc(*n * sizeof *out);
    for (size_t i = 0; i < *n; i++) {
        double x = (double)i * 22050 / 16000;
        size_t k = (size_t)x;
        double fr = x - k;
        out[i] = (int16_t)(k + 1 < nin ? in[k] * (1 - fr) + in[k + 1] * fr : in[nin - 1]);
    }
    return out;
}

/* Appends ms of noise at amplitude amp (0: silence); brown: a rumble (integrated white noise). */
static void add_noise(struct pcm *p, int ms, double amp, int brown)
{
    static double b;
    for (int i = 0; i < ms * 16; i++) {
        double w = noise();
        b = 0.98 * b + 0.2 * w;
        push(p, amp * (brown ? b : w), 0);
    }
}

static void add_speech(struct pcm *p, const int16_t *s, size_t n, double noise_amp)
{
    /* The sentence's own silences at both ends are not speech. */
    size_t a = 0, z = n;
    while (a < n && abs(s[a]) < 300)
        a++;
    while (z > a && abs(s[z - 1]) < 300)
        z--;
    for (size_t i = 0; i < n; i++)
        push(p, s[i] + noise_amp * noise(), i >= a && i < z);
}

TEST(vad_precision_recall_on_spoken_fixtures)
{
    static const char *sentences[] = {
        "My grandmother grew tomatoes behind the old stone house",
        "We sailed to the island every summer when I was a boy",
        "The bakery on the corner sold the best bread in town",
        "I remember the winter the river froze solid",
    };
    struct pcm p = {0};
    int spoken = 0;
    for (int i = 0; i < 4; i++) {
        size_t n;
        int16_t *s = speak(sentences[i], &n);
        if (!s)
            SKIP("espeak-ng is not installed");
        add_noise(&p, 800, 0, 0);
        add_noise(&p, 1500, i % 2 ? 600 : 300, i % 2); /* noise alone: never speech */
        add_noise(&p, 400, 30, 0);
        add_speech(&p, s, n, i >= 2 ? 400 : 0); /* the last two under noise (~15–20 dB SNR) */
        free(s);
        spoken++;
    }
    add_noise(&p, 1000, 0, 0);
    struct vad v;
    vad_init(&v, NULL);
    size_t frames = p.n / VAD_FRAME;
    uint8_t *said = calloc(frames, 1);
    int starts = 0, in = 0;
    for (size_t f = 0; f < frames; f++) {
        enum vad_event e = vad_frame(&v, p.s + f * VAD_FRAME);
        if (e == VAD_START) {
            starts++;
            for (int64_t k = v.start_frame; k < (int64_t)f; k++)
                said[k] = 1;
            in = 1;
        } else if (e == VAD_STOP) {
            for (int64_t k = v.last_voiced + 1; k <= (int64_t)f; k++)
                said[k] = 0; /* the hangover is not claimed as speech */
            in = 0;
        }
        if (in)
            said[f] = 1;
    }
    /* Speech frames (truth) found, and frames called speech that are speech. A frame called speech
     * within 150 ms of true speech counts as speech (pauses between words). */
    long tp = 0, fn = 0, fp = 0, tp_said = 0;
    for (size_t f = 0; f < frames; f++) {
        int near = 0;
        for (long k = (long)f - 15; k <= (long)f + 15; k++)
            if (k >= 0 && k < (long)frames && p.truth[k])
                near = 1;
        if (p.truth[f])
            said[f] ? tp++ : fn++;
        if (said[f])
            near ? tp_said++ : fp++;
    }
    double recall = (double)tp / (tp + fn), precision = (double)tp_said / (tp_said + fp);
    printf("    vad: %d sentences, %d speech starts, recall %.3f, precision %.3f (%zu frames)\n", spoken, starts,
           recall, precision, frames);
    CHECK(recall >= 0.85);
    CHECK(precision >= 0.9);
    CHECK(starts >= spoken && starts <= 3 * spoken);
    free(said);
    free(p.s);
    free(p.truth);
}

TEST(vad_ignores_clicks_and_steady_noise)
{
    struct pcm p = {0};
    add_noise(&p, 500, 0, 0);
    for (int i = 0; i < 10; i++) { /* 30 ms clicks of loud noise and a 40 ms tone blip */
        add_noise(&p, 30, 20000, 0);
        add_noise(&p, 300, 0, 0);
    }
    for (int i = 0; i < 40 * 16; i++)
        push(&p, 12000 * sin(2 * M_PI * 200 * i / 16000.0), 0);
    add_noise(&p, 3000, 3000, 0);
    add_noise(&p, 3000, 3000, 1);
    struct vad v;
    vad_init(&v, NULL);
    for (size_t f = 0; f < p.n / VAD_FRAME; f++) {
        enum vad_event e = vad_frame(&v, p.s + f * VAD_FRAME);
        if (e == VAD_START)
            fprintf(stderr, "    speech started at %lld ms\n", (long long)vad_frame_ms((int64_t)f));
        CHECK(e != VAD_START);
    }
    free(p.s);
    free(p.truth);
}

TEST(vad_a_held_vowel_starts_and_stops_with_the_hangover)
{
    struct pcm p = {0};
    add_noise(&p, 300, 0, 0);
    for (int i = 0; i < 500 * 16; i++) /* 500 ms of a 150 Hz buzz with harmonics */
        push(&p, 4000 * (sin(2 * M_PI * 150 * i / 16000.0) + 0.5 * sin(2 * M_PI * 300 * i / 16000.0)), 1);
    add_noise(&p, 600, 0, 0);
    struct vad v;
    vad_init(&v, NULL);
    int64_t start = -1, stop = -1;
    for (size_t f = 0; f < p.n / VAD_FRAME; f++) {
        enum vad_event e = vad_frame(&v, p.s + f * VAD_FRAME);
        if (e == VAD_START)
            start = (int64_t)f;
        if (e == VAD_STOP)
            stop = (int64_t)f;
    }
    CHECK(start >= 30 + 9 && start <= 30 + 14); /* after the minimum length */
    CHECK(v.start_frame >= 30 && v.start_frame <= 33);
    CHECK(v.last_voiced >= 78 && v.last_voiced <= 81);
    CHECK(stop == v.last_voiced + vad_defaults.hangover_ms / 10);
    free(p.s);
    free(p.truth);
}
