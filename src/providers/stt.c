/* The STT registry, the process-wide engine, and whole-recording transcription (cut at pauses,
 * each stretch recognised as one utterance). */
#include "providers/stt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"

static struct stt_engine *current;

static const struct stt_provider pocketsphinx_provider = {stt_pocketsphinx_new};
static const struct backend stt_pocketsphinx_row = {"pocketsphinx", NULL, 0, &pocketsphinx_provider};

static const struct stt_provider openai_provider = {stt_openai_new};
static const struct backend stt_openai_row = {"openai", NULL, 0, &openai_provider};
static const struct stt_provider deepgram_provider = {stt_deepgram_new};
static const struct backend stt_deepgram_row = {"deepgram", NULL, 0, &deepgram_provider};

static const struct stt_provider deepgram_live_provider = {stt_deepgram_live_new};
static const struct backend stt_deepgram_live_row = {"deepgram-live", NULL, 0, &deepgram_live_provider};

static const struct stt_provider wyoming_provider = {stt_wyoming_new};
static const struct backend stt_wyoming_row = {"wyoming", NULL, 0, &wyoming_provider};

static struct registry stt_backends = {
    "stt",
    {&stt_pocketsphinx_row, &stt_openai_row, &stt_deepgram_row, &stt_deepgram_live_row, &stt_wyoming_row},
    5,
    -1};

struct registry *stt_registry(void)
{
    return &stt_backends;
}

int stt_configure(const struct stt_config *cfg, char *msg, size_t msglen)
{
    stt_shutdown();
    const char *name = cfg->provider && *cfg->provider ? cfg->provider : "pocketsphinx";
    if (!strcmp(name, "none"))
        return DP_OK;
    const struct backend *b = registry_find(&stt_backends, name);
    if (!b) {
        snprintf(msg, msglen,
                 "stt-provider must be none, pocketsphinx, openai, deepgram, deepgram-live or wyoming, not \"%s\"",
                 name);
        return DP_ERR_INVALID;
    }
    int err = ((const struct stt_provider *)b->ops)->create(cfg, &current, msg, msglen);
    if (!err)
        DP_LOG(LOG_INFO, "[stt] %s model %s%s%s", current->name, current->model, cfg->url && *cfg->url ? " at " : "",
               cfg->url && *cfg->url ? cfg->url : "");
    return err;
}

struct stt_engine *stt_current(void)
{
    return current;
}

void stt_shutdown(void)
{
    if (current)
        current->ops->destroy(current);
    current = NULL;
}

void stt_result_free(struct stt_result *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->words);
    memset(r, 0, sizeof *r);
}

void stt_segments_free(struct stt_segment *segs, int n)
{
    for (int i = 0; i < n; i++) {
        free(segs[i].text);
        free(segs[i].words);
    }
    free(segs);
}

/* ---- cutting a recording at its pauses ------------------------------------------------------- */

#define FRAME 160            /* 10 ms at 16 kHz */
#define PAUSE_FRAMES 30      /* 300 ms below the threshold ends an utterance */
#define MIN_SPEECH_FRAMES 15 /* shorter bursts (clicks, coughs) are not sent to the engine */
#define PAD_FRAMES 20        /* 200 ms of context kept on each side */
#define MAX_UTT_FRAMES 2000  /* 20 s: longer stretches are cut at their quietest frame */
_Static_assert((MAX_UTT_FRAMES + 2 * PAD_FRAMES) * 10 <= STT_SPAN_MAX_MS, "STT_SPAN_MAX_MS holds a stretch");

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Energy of each 10 ms frame in dB (full scale 0). */
static float *frame_db(const int16_t *pcm, size_t n, size_t *nf)
{
    *nf = n / FRAME;
    float *db = malloc((*nf ? *nf : 1) * sizeof *db);
    if (!db)
        return NULL;
    for (size_t f = 0; f < *nf; f++) {
        double sum = 0;
        for (int i = 0; i < FRAME; i++) {
            double s = pcm[f * FRAME + i] / 32768.0;
            sum += s * s;
        }
        db[f] = (float)(10 * log10(sum / FRAME + 1e-10));
    }
    return db;
}

/* The speech threshold: above the noise floor (10th percentile) by a share of the dynamic range,
 * and never below -50 dBFS, so that a quiet room does not make its hiss speech. */
static float speech_threshold(const float *db, size_t nf)
{
    float *s = malloc(nf * sizeof *s);
    if (!s)
        return -40;
    memcpy(s, db, nf * sizeof *s);
    qsort(s, nf, sizeof *s, cmp_float);
    float floor_db = s[nf / 10], peak = s[nf * 95 / 100];
    free(s);
    float t = floor_db + fmaxf(6.0f, (peak - floor_db) * 0.3f);
    return fmaxf(t, -50.0f);
}

struct span {
    size_t a, b; /* frames [a, b) */
};

/* Appends the stretch [a, b) as one or more spans of at most MAX_UTT_FRAMES, each cut at the
 * quietest frame of its last quarter. */
static int add_spans(struct span **v, int *n, int *cap, const float *db, size_t a, size_t b)
{
    while (a < b) {
        size_t end = b;
        if (end - a > MAX_UTT_FRAMES) {
            size_t lo = a + MAX_UTT_FRAMES * 3 / 4, hi = a + MAX_UTT_FRAMES;
            end = lo;
            for (size_t f = lo; f < hi; f++)
                if (db[f] < db[end])
                    end = f;
        }
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 16;
            struct span *nv = realloc(*v, (size_t)nc * sizeof *nv);
            if (!nv)
                return DP_ERR_NOMEM;
            *v = nv;
            *cap = nc;
        }
        (*v)[(*n)++] = (struct span){a, end};
        a = end;
    }
    return DP_OK;
}

/* The stretches of speech in the recording, padded, in order. */
static int find_spans(const float *db, size_t nf, struct span **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!nf)
        return DP_OK;
    float thr = speech_threshold(db, nf);
    int cap = 0, err = DP_OK;
    size_t f = 0;
    while (f < nf && !err) {
        while (f < nf && db[f] <= thr)
            f++;
        if (f >= nf)
            break;
        size_t start = f, last = f, speech = 0;
        for (; f < nf && f - last < PAUSE_FRAMES; f++)
            if (db[f] > thr) {
                last = f;
                speech++;
            }
        if (speech < MIN_SPEECH_FRAMES)
            continue;
        size_t a = start > PAD_FRAMES ? start - PAD_FRAMES : 0;
        size_t b = last + 1 + PAD_FRAMES < nf ? last + 1 + PAD_FRAMES : nf;
        if (*n_out && (*out)[*n_out - 1].b > a) /* padding never overlaps the previous stretch */
            a = (*out)[*n_out - 1].b;
        err = add_spans(out, n_out, &cap, db, a, b);
    }
    return err;
}

static int recognise_span(struct stt_stream *s, struct stt_engine *e, const int16_t *pcm, const struct span *sp,
                          struct stt_segment *seg, char *why, size_t whylen)
{
    int err = e->ops->feed(s, pcm + sp->a * FRAME, (sp->b - sp->a) * FRAME);
    struct stt_result r = {0};
    if (!err)
        err = e->ops->finish(s, &r, why, whylen);
    else
        e->ops->reset(s);
    if (err)
        return err;
    int off = (int)(sp->a * 10);
    for (int i = 0; i < r.n_words; i++) {
        r.words[i].start_ms += off;
        r.words[i].end_ms += off;
    }
    *seg = (struct stt_segment){
        .start_ms = r.n_words ? r.words[0].start_ms : off,
        .end_ms = r.n_words ? r.words[r.n_words - 1].end_ms : (int)(sp->b * 10),
        .text = r.text,
        .confidence = r.confidence,
        .words = r.words,
        .n_words = r.n_words,
    };
    return DP_OK;
}

/* Lets the stream hear up to STT_PRIME_MS of the speech and forgets the words (the channel
 * estimate stays): how an adapting engine tunes in before the real pass. */
static int prime(struct stt_stream *s, struct stt_engine *e, const int16_t *pcm, const struct span *spans, int n)
{
    size_t budget = (size_t)STT_PRIME_MS / 10;
    for (int i = 0; i < n && budget; i++) {
        size_t frames = spans[i].b - spans[i].a;
        if (frames > budget)
            frames = budget;
        budget -= frames;
        int err = e->ops->feed(s, pcm + spans[i].a * FRAME, frames * FRAME);
        struct stt_result r;
        char why[64];
        if (!err)
            err = e->ops->finish(s, &r, why, sizeof why);
        else
            e->ops->reset(s);
        if (err)
            return err;
        stt_result_free(&r);
    }
    return DP_OK;
}

int stt_transcribe_window(struct stt_engine *e, struct stt_stream *s, int *primed, const int16_t *pcm, size_t n,
                          int64_t start_ms, int64_t keep_ms, struct stt_segment **segs, int *n_segs, int64_t *next_ms,
                          stt_progress_fn progress, void *arg, char *why, size_t whylen)
{
    *segs = NULL;
    *n_segs = 0;
    *next_ms = start_ms + (keep_ms < 0 ? (int64_t)n * 1000 / STT_RATE : keep_ms);
    if (whylen)
        why[0] = 0;
    size_t nf;
    float *db = frame_db(pcm, n, &nf);
    struct span *spans = NULL;
    int n_spans = 0;
    int err = db ? find_spans(db, nf, &spans, &n_spans) : DP_ERR_NOMEM;
    free(db);
    /* An adapting engine tunes in on the speech of the whole window (as on a whole recording). */
    if (!err && n_spans && e->adapts && !*primed) {
        err = prime(s, e, pcm, spans, n_spans);
        *primed = !err;
    }
    /* Only the stretches that begin before keep_ms: the rest is the next window's. */
    while (!err && keep_ms >= 0 && n_spans && (int64_t)spans[n_spans - 1].a * 10 >= keep_ms)
        n_spans--;
    struct stt_segment *out = n_spans ? calloc((size_t)n_spans, sizeof *out) : NULL;
    if (!err && n_spans && !out)
        err = DP_ERR_NOMEM;
    int k = 0;
    int64_t total_ms = (int64_t)n * 1000 / STT_RATE;
    for (int i = 0; i < n_spans && !err; i++) {
        err = recognise_span(s, e, pcm, &spans[i], &out[k], why, whylen);
        if (!err && out[k].text && out[k].text[0])
            k++;
        else if (!err) {
            free(out[k].text);
            free(out[k].words);
            memset(&out[k], 0, sizeof out[k]);
        }
        if (!err && progress && progress(arg, (int64_t)spans[i].b * 10, total_ms))
            err = DP_ERR_CANCELLED;
    }
    if (!err && n_spans && keep_ms >= 0 && (int64_t)spans[n_spans - 1].b * 10 > keep_ms)
        *next_ms = start_ms + (int64_t)spans[n_spans - 1].b * 10; /* the last one ran past keep_ms */
    free(spans);
    if (err) {
        stt_segments_free(out, k);
        return err;
    }
    for (int i = 0; i < k; i++) { /* times in the whole recording */
        out[i].start_ms += (int)start_ms;
        out[i].end_ms += (int)start_ms;
        for (int w = 0; w < out[i].n_words; w++) {
            out[i].words[w].start_ms += (int)start_ms;
            out[i].words[w].end_ms += (int)start_ms;
        }
    }
    *segs = out;
    *n_segs = k;
    if (!k)
        free(out), *segs = NULL;
    return DP_OK;
}

int stt_transcribe(struct stt_engine *e, const int16_t *pcm, size_t n, struct stt_segment **segs, int *n_segs,
                   stt_progress_fn progress, void *arg, char *why, size_t whylen)
{
    struct stt_stream *s;
    int primed = 0;
    int64_t next;
    *segs = NULL;
    *n_segs = 0;
    int err = e->ops->open(e, &s);
    if (err)
        return err;
    err = stt_transcribe_window(e, s, &primed, pcm, n, 0, -1, segs, n_segs, &next, progress, arg, why, whylen);
    e->ops->close(s);
    return err;
}
