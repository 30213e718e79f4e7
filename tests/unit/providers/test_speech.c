/* The speech engines end to end: flite speaks known sentences, pocketsphinx hears them back. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/registry.h"
#include "core/utf8.h"
#include "providers/stt.h"
#include "providers/stt_remote.h"
#include "providers/tts.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static void engines(void)
{
    char msg[256] = "";
    struct tts_config tc = {.provider = "flite"};
    struct stt_config sc = {.provider = "pocketsphinx", .pool = 2};
    OK(tts_configure(&tc, msg, sizeof msg));
    OK(stt_configure(&sc, msg, sizeof msg));
    CHECK(tts_current() && stt_current());
}

static int16_t *say(const char *text, const struct tts_voice *v, size_t *n)
{
    int16_t *pcm = NULL;
    char why[128];
    OK(tts_synthesize_all(tts_current(), text, v, &pcm, n, NULL, NULL, why, sizeof why));
    CHECK(*n > 8000);
    return pcm;
}

static char *hear(const int16_t *pcm, size_t n)
{
    struct stt_engine *e = stt_current();
    struct stt_stream *s = NULL;
    OK(e->ops->open(e, &s));
    for (size_t at = 0; at < n; at += 320) /* 20 ms frames, as a live client sends them */
        OK(e->ops->feed(s, pcm + at, n - at < 320 ? n - at : 320));
    struct stt_result r;
    char why[128];
    OK(e->ops->finish(s, &r, why, sizeof why));
    e->ops->close(s);
    for (int i = 1; i < r.n_words; i++)
        CHECK(r.words[i].start_ms >= r.words[i - 1].start_ms);
    char *text = strdup(r.text);
    stt_result_free(&r);
    return text;
}

TEST(speech_flite_sentence_is_heard_by_pocketsphinx)
{
    engines();
    size_t n;
    int16_t *pcm = say("Hello, my name is John. I live in London with my family.", NULL, &n);
    char *text = hear(pcm, n);
    fprintf(stderr, "    heard: %s\n", text);
    CHECK(strstr(text, "london") || strstr(text, "family") || strstr(text, "name"));
    free(text);
    free(pcm);
}

struct stream_log {
    int chunks, phones, audio_before_phones;
    size_t samples;
    int last_phone_end;
    int stop_after; /* chunks; 0 = never */
};

static int log_audio(void *arg, const int16_t *pcm, size_t n)
{
    (void)pcm;
    struct stream_log *l = arg;
    if (!l->phones)
        l->audio_before_phones = 1;
    l->chunks++;
    l->samples += n;
    return l->stop_after && l->chunks >= l->stop_after;
}

static int log_phones(void *arg, const struct tts_phone *p, int n)
{
    struct stream_log *l = arg;
    for (int i = 0; i < n; i++) {
        CHECK(p[i].start_ms >= l->last_phone_end - 1);
        CHECK(p[i].end_ms >= p[i].start_ms);
        CHECK(strlen(tts_viseme(p[i].phone)) > 0);
        l->last_phone_end = p[i].end_ms;
    }
    l->phones += n;
    return 0;
}

TEST(speech_flite_streams_chunks_after_each_sentences_phones)
{
    engines();
    struct tts_engine *e = tts_current();
    struct stream_log l = {0};
    const struct tts_sink sink = {log_audio, log_phones, &l};
    char why[128];
    OK(e->ops->synthesize(e, "The first sentence is short. The second one is a little longer than the first.", NULL,
                          &sink, why, sizeof why));
    CHECK(!l.audio_before_phones);
    CHECK(l.chunks > 4); /* streamed, not one buffer at the end */
    CHECK(l.phones > 30);
    int audio_ms = (int)(l.samples * 1000 / e->rate);
    fprintf(stderr, "    %d chunks, %d ms, phones end at %d ms\n", l.chunks, audio_ms, l.last_phone_end);
    CHECK(abs(audio_ms - l.last_phone_end) < 100); /* the timings describe this audio */
    CHECK_EQ_STR(tts_viseme("m"), "PP");
    CHECK_EQ_STR(tts_viseme("pau"), "sil");
}

TEST(speech_flite_stops_when_the_sink_says_so)
{
    engines();
    struct tts_engine *e = tts_current();
    struct stream_log l = {.stop_after = 2};
    const struct tts_sink sink = {log_audio, log_phones, &l};
    char why[128];
    CHECK_EQ_INT(e->ops->synthesize(e, "One sentence. Another sentence. And a third one to be cut.", NULL, &sink, why,
                                    sizeof why),
                 DP_ERR_CANCELLED);
    CHECK_EQ_INT(l.chunks, 2);
}

TEST(speech_flite_rate_changes_duration)
{
    engines();
    size_t n1, n2;
    struct tts_voice fast = {.rate = 1.5f};
    int16_t *a = say("We walked along the river until the sun went down.", NULL, &n1);
    int16_t *b = say("We walked along the river until the sun went down.", &fast, &n2);
    fprintf(stderr, "    normal %zu samples, 1.5x %zu\n", n1, n2);
    CHECK(n2 < n1 * 0.8 && n2 > n1 * 0.55);
    free(a);
    free(b);
}

TEST(speech_sentence_ends)
{
    const char *t = "Hi there. It is 3.5 km away! Really? yes";
    size_t e1 = tts_sentence_end(t, strlen(t));
    CHECK_EQ_INT(e1, 9);
    size_t e2 = e1 + tts_sentence_end(t + e1, strlen(t) - e1);
    CHECK_EQ_INT(e2, strlen("Hi there. It is 3.5 km away!"));
    CHECK_EQ_INT(tts_sentence_end("no end", 6), 6);
}

TEST(speech_transcribe_cuts_a_recording_at_its_pauses)
{
    engines();
    size_t n1, n2;
    int16_t *a = say("Good morning everyone.", NULL, &n1);
    int16_t *b = say("The meeting starts at nine o'clock.", NULL, &n2);
    size_t gap = 16000, n = gap + n1 + gap * 2 + n2 + gap; /* 1 s, speech, 2 s, speech, 1 s */
    int16_t *pcm = calloc(n, sizeof *pcm);
    memcpy(pcm + gap, a, n1 * sizeof *a);
    memcpy(pcm + gap + n1 + 2 * gap, b, n2 * sizeof *b);
    unsigned seed = 7; /* a little noise under everything */
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        pcm[i] = (int16_t)(pcm[i] + (int)((seed >> 16) % 201) - 100);
    }
    struct stt_segment *segs;
    int ns;
    char why[128];
    OK(stt_transcribe(stt_current(), pcm, n, &segs, &ns, NULL, NULL, why, sizeof why));
    for (int i = 0; i < ns; i++)
        fprintf(stderr, "    [%d–%d ms] %s\n", segs[i].start_ms, segs[i].end_ms, segs[i].text);
    CHECK_EQ_INT(ns, 2);
    int second_start = (int)((gap + n1 + 2 * gap) * 1000 / 16000);
    fprintf(stderr, "    second sentence at %d ms\n", second_start);
    CHECK(segs[0].start_ms >= 800 && segs[0].start_ms < 1300);
    CHECK(segs[1].start_ms >= second_start - 200 && segs[1].start_ms < second_start + 400);
    CHECK(segs[0].end_ms < second_start);
    CHECK(strstr(segs[0].text, "morning"));
    CHECK(strstr(segs[1].text, "meeting") || strstr(segs[1].text, "nine"));
    stt_segments_free(segs, ns);
    free(pcm);
    free(a);
    free(b);
}

/* ---- a provider added in one file ---- */

static int fake_create(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    (void)cfg;
    (void)msg;
    (void)msglen;
    struct stt_engine *e = calloc(1, sizeof *e);
    static const struct stt_ops ops = {.name = "fake", .destroy = (void (*)(struct stt_engine *))free};
    e->ops = &ops;
    snprintf(e->name, sizeof e->name, "fake");
    *out = e;
    return DP_OK;
}

TEST(speech_stt_provider_added_in_one_file_is_configurable)
{
    static const struct stt_provider fake = {fake_create};
    static const struct backend row = {"fake", NULL, 0, &fake};
    char msg[256] = "";
    struct stt_config c = {.provider = "fake"};
    CHECK_EQ_INT(stt_configure(&c, msg, sizeof msg), DP_ERR_INVALID);
    CHECK(strstr(msg, "fake"));
    OK(registry_add(stt_registry(), &row));
    OK(stt_configure(&c, msg, sizeof msg));
    CHECK_EQ_STR(stt_current()->name, "fake");
    c.provider = "none";
    OK(stt_configure(&c, msg, sizeof msg));
    CHECK(!stt_current());
    struct tts_config t = {.provider = "flite", .voice = "nobody"};
    CHECK_EQ_INT(tts_configure(&t, msg, sizeof msg), DP_ERR_INVALID);
}

TEST(speech_remote_word_too_long_is_cut_between_characters)
{
    char word[STT_WORD_MAX + 8];
    memset(word, 'a', STT_WORD_MAX - 2);
    strcpy(word + STT_WORD_MAX - 2, "\xc3\xa9\xc3\xa9"); /* "éé": the first straddles the slot's end */
    struct stt_result r = {0};
    int cap = 0;
    OK(stt_result_add_word(&r, &cap, word, 0.5, 1.0, 0.9));
    CHECK_EQ_INT(r.n_words, 1);
    CHECK_EQ_INT((int)strlen(r.words[0].word), STT_WORD_MAX - 2);
    CHECK(utf8_valid(r.words[0].word, strlen(r.words[0].word)));
    OK(stt_result_add_word(&r, &cap, "ok\xc3\xa9", 1.0, 1.5, 0.9));
    CHECK_EQ_STR(r.words[1].word, "ok\xc3\xa9");
    stt_result_free(&r);
}
