/* The speech engines' figures (bench/voice/engines.sh), each beside a peer measured in the same run
 * (times are CPU time of the measuring thread):
 *   STT  real-time factor, latency of the final result after the last sample, and word error rate
 *        of our pocketsphinx stream (-fwdflat no -bestpath no) against a decoder with pocketsphinx's
 *        default search, on 20 sentences spoken by flite's rms voice (fed in 20 ms chunks);
 *   TTS  real-time factor of our streaming flite engine (phones, chunks) against bare
 *        flite_text_to_wave with the same voice;
 *   voice match: speakers made by flite's kal16 voice at known pitches and rates; their profile
 *        (features of three sentences) drives a reply (talk_voice_for: another stock voice,
 *        retargeted); the reply's measured mean F0 and rate against the profile's (targets: within
 *        10 % and 15 %). Figures are printed, never pass/fail. */
#include <cmn.h>
#include <flite/flite.h>
#include <math.h>
#include <pocketsphinx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/features.h"
#include "core/err.h"
#include "providers/stt.h"
#include "providers/tts.h"
#include "talk/reply_voice.h"

cst_voice *register_cmu_us_rms(const char *voxdir);

static const char *const sentences[20] = {
    "The weather was warm and sunny all week.",   "I grew up in a small town by the sea.",
    "My father worked at the post office.",       "We had a dog called Max.",
    "She played the piano every evening.",        "The children walked to school together.",
    "Our house had a red door and a big garden.", "He liked to read the newspaper in the morning.",
    "We went fishing on the lake in summer.",     "My mother made bread on Sundays.",
    "The winter was long and very cold.",         "I met your grandmother at a dance.",
    "We moved to the city when I was twenty.",    "I worked in a factory for ten years.",
    "The church bells rang every hour.",          "My brother joined the navy.",
    "We drove to the mountains for our holiday.", "She wrote letters to her sister every week.",
    "The market was busy on Saturday morning.",   "I remember the day you were born."};

/* CPU seconds of this thread: on a shared 2-core machine wall time measures the neighbours too
 * (the real-time factors below are CPU time over audio time; the final-result latencies too). */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int16_t *speak(const char *text, const char *voice, float pitch, float rate, size_t *n)
{
    struct tts_voice v = {.voice = voice, .pitch_hz = pitch, .rate = rate};
    int16_t *pcm = NULL;
    char why[128];
    if (tts_synthesize_all(tts_current(), text, &v, &pcm, n, NULL, NULL, why, sizeof why)) {
        fprintf(stderr, "synthesis failed: %s\n", why);
        exit(1);
    }
    return pcm;
}

/* Word-level edit distance. */
static int word_errors(const char *ref, const char *hyp, int *ref_words)
{
    char r[64][32], h[64][32];
    int nr = 0, nh = 0;
    for (const char *p = ref; *p && nr < 64;) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '\''))
            p++;
        int k = 0;
        while (*p && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '\'')) {
            if (k < 31)
                r[nr][k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            p++;
        }
        r[nr][k] = 0;
        if (k)
            nr++;
    }
    for (const char *p = hyp; *p && nh < 64;) {
        while (*p == ' ')
            p++;
        int k = 0;
        while (*p && *p != ' ') {
            if (k < 31)
                h[nh][k++] = *p;
            p++;
        }
        h[nh][k] = 0;
        if (k)
            nh++;
    }
    int d[65][65];
    for (int i = 0; i <= nr; i++)
        d[i][0] = i;
    for (int j = 0; j <= nh; j++)
        d[0][j] = j;
    for (int i = 1; i <= nr; i++)
        for (int j = 1; j <= nh; j++) {
            int sub = d[i - 1][j - 1] + (strcmp(r[i - 1], h[j - 1]) != 0);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    *ref_words = nr;
    return d[nr][nh];
}

/* pocketsphinx with its default search: the peer. */
static ps_decoder_t *default_decoder(void)
{
    const char *dir = "/usr/share/pocketsphinx/model/en-us";
    char hmm[256], lm[256], dict[256];
    snprintf(hmm, sizeof hmm, "%s/en-us", dir);
    snprintf(lm, sizeof lm, "%s/en-us.lm.bin", dir);
    snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", dir);
    cmd_ln_t *c =
        cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict, "-logfn", "/dev/null", NULL);
    return ps_init(c);
}

static void bench_stt(int16_t **pcm, size_t *n)
{
    struct stt_engine *e = stt_current();
    ps_decoder_t *peer = default_decoder();
    double ours_t = 0, peer_t = 0, ours_final = 0, peer_final = 0, audio_s = 0;
    int ours_err = 0, peer_err = 0, words = 0;
    struct stt_stream *s;
    e->ops->open(e, &s);
    for (int i = 0; i < 20; i++) {
        audio_s += (double)n[i] / 16000;
        double t0 = now();
        for (size_t at = 0; at < n[i]; at += 320)
            e->ops->feed(s, pcm[i] + at, n[i] - at < 320 ? n[i] - at : 320);
        double t1 = now();
        struct stt_result r;
        char why[64];
        e->ops->finish(s, &r, why, sizeof why);
        double t2 = now();
        ours_t += t2 - t0;
        ours_final += t2 - t1;
        int nw;
        ours_err += word_errors(sentences[i], r.text, &nw);
        words += nw;
        stt_result_free(&r);

        t0 = now();
        ps_start_utt(peer);
        for (size_t at = 0; at < n[i]; at += 320)
            ps_process_raw(peer, pcm[i] + at, n[i] - at < 320 ? n[i] - at : 320, FALSE, FALSE);
        t1 = now();
        ps_end_utt(peer);
        const char *hyp = ps_get_hyp(peer, NULL);
        t2 = now();
        peer_t += t2 - t0;
        peer_final += t2 - t1;
        peer_err += word_errors(sentences[i], hyp ? hyp : "", &nw);
    }
    e->ops->close(s);
    ps_free(peer);
    printf("STT (20 sentences, %.1f s of flite rms speech, fed in 20 ms chunks)\n", audio_s);
    printf("  %-44s RTF %.3f  final result %5.1f ms after the last sample  WER %.1f %%\n",
           "ours: pocketsphinx -fwdflat no -bestpath no", ours_t / audio_s, ours_final * 1000 / 20,
           100.0 * ours_err / words);
    printf("  %-44s RTF %.3f  final result %5.1f ms after the last sample  WER %.1f %%\n",
           "peer: pocketsphinx default search", peer_t / audio_s, peer_final * 1000 / 20, 100.0 * peer_err / words);
}

static void bench_tts(void)
{
    double ours_t = 0, peer_t = 0, audio_s = 0;
    cst_voice *rms = register_cmu_us_rms(NULL);
    for (int i = 0; i < 20; i++) {
        size_t n;
        double t0 = now();
        int16_t *pcm = speak(sentences[i], "rms", 0, 0, &n);
        ours_t += now() - t0;
        audio_s += (double)n / 16000;
        free(pcm);
        t0 = now();
        cst_wave *w = flite_text_to_wave(sentences[i], rms);
        peer_t += now() - t0;
        delete_wave(w);
    }
    printf("TTS (20 sentences, %.1f s of speech, voice rms)\n", audio_s);
    printf("  %-44s RTF %.4f  (%.0fx real time)\n", "ours: streaming, phone timings", ours_t / audio_s,
           audio_s / ours_t);
    printf("  %-44s RTF %.4f  (%.0fx real time)\n", "ceiling: bare flite_text_to_wave", peer_t / audio_s,
           audio_s / peer_t);
}

static void bench_match(void)
{
    static const struct {
        float pitch, rate;
    } speakers[] = {{95, 0.9f}, {120, 1.0f}, {150, 1.15f}, {190, 0.95f}, {220, 1.1f}, {250, 1.0f}};
    printf("Voice match (speaker: flite kal16 at a pitch and rate; profile: 3 sentences; reply: talk_voice_for)\n");
    printf("  %-22s %-24s %-24s %-9s %-9s\n", "speaker asked", "profile F0 / rate", "reply F0 / rate", "F0 err",
           "rate err");
    int f0_ok = 0, rate_ok = 0, k = (int)(sizeof speakers / sizeof speakers[0]);
    for (int i = 0; i < k; i++) {
        size_t n;
        char text[600];
        snprintf(text, sizeof text, "%s %s %s", sentences[i], sentences[i + 6], sentences[i + 12]);
        int16_t *pcm = speak(text, "kal16", speakers[i].pitch, speakers[i].rate, &n);
        struct voice_features profile, reply;
        features_measure(pcm, n, &profile);
        free(pcm);
        struct tts_voice v;
        talk_voice_for(&profile, &v);
        snprintf(text, sizeof text, "%s %s", sentences[19 - i], sentences[13 - i]);
        pcm = speak(text, v.voice, v.pitch_hz, v.rate, &n);
        features_measure(pcm, n, &reply);
        free(pcm);
        double f0e = fabs(reply.f0_mean_hz - profile.f0_mean_hz) / profile.f0_mean_hz;
        double re = fabs(reply.rate_sps - profile.rate_sps) / profile.rate_sps;
        f0_ok += f0e <= 0.10;
        rate_ok += re <= 0.15;
        printf("  %5.0f Hz, rate %.2f     %6.1f Hz / %4.2f syl/s    %6.1f Hz / %4.2f syl/s    %5.1f %%   %5.1f %%\n",
               speakers[i].pitch, speakers[i].rate, profile.f0_mean_hz, profile.rate_sps, reply.f0_mean_hz,
               reply.rate_sps, 100 * f0e, 100 * re);
    }
    printf("  within target: mean F0 (10 %%) %d of %d, speaking rate (15 %%) %d of %d\n", f0_ok, k, rate_ok, k);
}

int main(int argc, char **argv)
{
    int match_only = argc > 1 && !strcmp(argv[1], "match"); /* engines.sh match: the voice match alone */
    char msg[256];
    struct stt_config sc = {.provider = "pocketsphinx", .pool = 1};
    struct tts_config tc = {.provider = "flite"};
    if (stt_configure(&sc, msg, sizeof msg) || tts_configure(&tc, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    if (!match_only) {
        int16_t *pcm[20];
        size_t n[20];
        for (int i = 0; i < 20; i++)
            pcm[i] = speak(sentences[i], "rms", 0, 0, &n[i]);
        bench_stt(pcm, n);
        bench_tts();
        for (int i = 0; i < 20; i++)
            free(pcm[i]);
    }
    bench_match();
    stt_shutdown();
    tts_shutdown();
    return 0;
}
