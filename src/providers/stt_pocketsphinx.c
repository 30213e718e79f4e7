/* The offline STT engine: CMU pocketsphinx 0.8 with Debian's US English models. A decoder holds
 * ~90 MB and is not thread-safe, so the engine keeps a small pool, loaded ahead as streams open, and a
 * stream borrows one only from the first sample of an utterance to its end: idle streams (a voice
 * session between turns) hold none. Decoding runs with -fwdflat no -bestpath no: the final
 * result then comes a few ms after the last sample instead of ~300 ms. */
#include <cmn.h>
#include <feat.h>
#include <pocketsphinx.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "core/metrics.h"
#include "providers/stt.h"

#define PS_DEFAULT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#define PS_POOL_MAX 16
#define PS_WAIT_MS 15000 /* finish waits this long for a decoder before answering unavailable */

struct ps_engine {
    struct stt_engine base;
    char hmm[512], lm[512], dict[512];
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int size;         /* decoders allowed */
    int loaded;       /* decoders made or being made */
    int made;         /* decoders made */
    int streams;      /* streams open: decoders are loaded ahead for them */
    pthread_t loader; /* loader_main, started with the first stream */
    int loader_started, loader_failed, stopping;
    pthread_cond_t want;             /* a stream opened */
    ps_decoder_t *idle[PS_POOL_MAX]; /* loaded and not lent */
    int n_idle;
    ps_decoder_t *all[PS_POOL_MAX];
    mfcc_t *cmn0; /* the cepstral mean a fresh decoder starts from (-cmninit) */
    int veclen;
};

struct stt_stream {
    struct ps_engine *e;
    ps_decoder_t *dec; /* lent while an utterance is fed; NULL between utterances */
    int16_t *backlog;  /* samples fed while every decoder was lent */
    size_t n_backlog, cap_backlog;
    size_t fed;  /* samples in the current utterance */
    mfcc_t *cmn; /* this stream's channel estimate, carried from utterance to utterance */
};

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static ps_decoder_t *load_decoder(const struct ps_engine *e)
{
    cmd_ln_t *cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", e->hmm, "-lm", e->lm, "-dict", e->dict, "-fwdflat", "no",
                                "-bestpath", "no", "-samprate", "16000", "-logfn", "/dev/null", NULL);
    if (!cfg)
        return NULL;
    ps_decoder_t *d = ps_init(cfg);
    cmd_ln_free_r(cfg); /* the decoder holds its own reference */
    return d;
}

static struct metric *m_decoders;
static pthread_once_t metric_once = PTHREAD_ONCE_INIT;

static void metric_init(void)
{
    const char *l[] = {"state"};
    m_decoders = metric_new(METRIC_GAUGE, "doppel_stt_decoders",
                            "pocketsphinx decoders loaded, and lent to a stream that is speaking", 1, l, NULL, 0);
}

/* The pool's gauges after a change (under e->mu). */
static void count(const struct ps_engine *e)
{
    metric_set(m_decoders, (const char *[]){"loaded"}, e->made);
    metric_set(m_decoders, (const char *[]){"lent"}, e->made - e->n_idle);
}

/* The cepstral mean a fresh decoder starts from, kept from the first one loaded (under e->mu). */
static void keep_cmn0(struct ps_engine *e, ps_decoder_t *d)
{
    if (e->cmn0)
        return;
    cmn_t *cmn = ps_get_feat(d)->cmn_struct;
    e->veclen = cmn->veclen;
    e->cmn0 = malloc((size_t)cmn->veclen * sizeof *e->cmn0);
    if (e->cmn0)
        memcpy(e->cmn0, cmn->cmn_mean, (size_t)cmn->veclen * sizeof *e->cmn0);
}

/* A decoder for a stream: an idle one, a new one while the pool has room, else NULL (wait_ms 0)
 * or after waiting up to wait_ms for one to be given back. */
static ps_decoder_t *borrow(struct ps_engine *e, int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (e->n_idle) {
            ps_decoder_t *d = e->idle[--e->n_idle];
            count(e);
            pthread_mutex_unlock(&e->mu);
            return d;
        }
        if (e->loaded < e->size && (!e->loader_started || e->loader_failed)) { /* else the loader makes it */
            int slot = e->loaded++;
            pthread_mutex_unlock(&e->mu); /* loading takes ~0.3 s: others keep going */
            ps_decoder_t *d = load_decoder(e);
            pthread_mutex_lock(&e->mu);
            if (d)
                keep_cmn0(e, d);
            if (d) {
                e->all[slot] = d;
                e->made++;
                count(e);
            } else {
                e->loaded--;
            }
            pthread_mutex_unlock(&e->mu);
            return d;
        }
        if (wait_ms <= 0 || pthread_cond_timedwait(&e->freed, &e->mu, &until)) {
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
    }
}

static void give_back(struct ps_engine *e, ps_decoder_t *d)
{
    pthread_mutex_lock(&e->mu);
    e->idle[e->n_idle++] = d;
    count(e);
    pthread_cond_signal(&e->freed);
    pthread_mutex_unlock(&e->mu);
}

/* Decoders are loaded ahead, one per open stream (up to the pool's size), by a thread of the
 * engine's own: loading takes 0.3–1 s of CPU, which on the speech path (a stream speaking for the
 * first time) would hold its samples back and make its final late, and on a worker would hold up
 * every other session's recognition meanwhile. */
static int want_more(const struct ps_engine *e)
{
    return e->loaded < e->size && e->loaded < e->streams;
}

static void *loader_main(void *arg)
{
    struct ps_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stopping && !want_more(e))
            pthread_cond_wait(&e->want, &e->mu);
        if (e->stopping)
            break;
        int slot = e->loaded++;
        pthread_mutex_unlock(&e->mu);
        ps_decoder_t *d = load_decoder(e);
        pthread_mutex_lock(&e->mu);
        if (!d) {
            e->loaded--;
            e->loader_failed = 1; /* borrow() loads on demand from now on */
            break;
        }
        keep_cmn0(e, d);
        e->all[slot] = d;
        e->made++;
        e->idle[e->n_idle++] = d;
        count(e);
        pthread_cond_signal(&e->freed);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static int ps_open(struct stt_engine *base, struct stt_stream **out)
{
    struct stt_stream *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    s->e = (struct ps_engine *)base;
    struct ps_engine *e = s->e;
    pthread_mutex_lock(&e->mu);
    e->streams++;
    if (!e->loader_started && !pthread_create(&e->loader, NULL, loader_main, e))
        e->loader_started = 1;
    pthread_cond_signal(&e->want);
    pthread_mutex_unlock(&e->mu);
    *out = s;
    return DP_OK;
}

static int process(struct stt_stream *s, const int16_t *pcm, size_t n)
{
    return ps_process_raw(s->dec, pcm, n, FALSE, FALSE) < 0 ? DP_ERR_INTERNAL : DP_OK;
}

/* Takes a decoder (waiting up to wait_ms) and runs the backlog through it. */
static int attach(struct stt_stream *s, int wait_ms)
{
    s->dec = borrow(s->e, wait_ms);
    if (!s->dec)
        return DP_ERR_UNAVAILABLE;
    /* A new pocketsphinx stream for every utterance: word times count from its first sample. The
     * channel estimate (live cepstral mean) is the stream's own, learnt from its earlier
     * utterances, never what the decoder heard for another stream: the same audio on a fresh
     * stream is always heard the same way. */
    const mfcc_t *mean = s->cmn ? s->cmn : s->e->cmn0;
    if (mean)
        cmn_live_set(ps_get_feat(s->dec)->cmn_struct, mean);
    if (ps_start_stream(s->dec) < 0 || ps_start_utt(s->dec) < 0) {
        give_back(s->e, s->dec);
        s->dec = NULL;
        return DP_ERR_INTERNAL;
    }
    int err = s->n_backlog ? process(s, s->backlog, s->n_backlog) : DP_OK;
    s->n_backlog = 0;
    return err;
}

static int ps_feed(struct stt_stream *s, const int16_t *pcm, size_t n)
{
    if (s->fed + n > (size_t)STT_STREAM_MAX_MS * (STT_RATE / 1000))
        return DP_ERR_TOO_LARGE;
    s->fed += n;
    if (!s->dec)
        attach(s, 0); /* none free: the samples wait in the backlog */
    if (s->dec)
        return process(s, pcm, n);
    if (s->n_backlog + n > s->cap_backlog) {
        size_t nc = (s->n_backlog + n) * 2;
        int16_t *nb = realloc(s->backlog, nc * sizeof *nb);
        if (!nb)
            return DP_ERR_NOMEM;
        s->backlog = nb;
        s->cap_backlog = nc;
    }
    memcpy(s->backlog + s->n_backlog, pcm, n * sizeof *pcm);
    s->n_backlog += n;
    return DP_OK;
}

static int ps_ready(struct stt_stream *s)
{
    if (!s->dec && s->n_backlog)
        attach(s, 0);
    return s->dec != NULL || !s->n_backlog;
}

static int ps_partial(struct stt_stream *s, char **text)
{
    const char *h = s->dec ? ps_get_hyp(s->dec, NULL) : NULL;
    *text = strdup(h ? h : "");
    return *text ? DP_OK : DP_ERR_NOMEM;
}

/* A real word: not a filler (<s>, </s>, <sil>, [NOISE], ++BREATH++); "read(2)" → "read". */
static int word_of(const char *w, char *out)
{
    if (!w || !*w || w[0] == '<' || w[0] == '[' || w[0] == '+')
        return 0;
    size_t len = strcspn(w, "(");
    if (len >= STT_WORD_MAX)
        len = STT_WORD_MAX - 1;
    memcpy(out, w, len);
    out[len] = 0;
    return len > 0;
}

static int collect(struct stt_stream *s, struct stt_result *out)
{
    logmath_t *lmath = ps_get_logmath(s->dec);
    int cap = 0;
    size_t text_len = 0;
    for (ps_seg_t *seg = ps_seg_iter(s->dec); seg; seg = ps_seg_next(seg)) {
        struct stt_word w;
        if (!word_of(ps_seg_word(seg), w.word))
            continue;
        int sf, ef;
        ps_seg_frames(seg, &sf, &ef);
        int32 ascr, lscr, lback;
        double p = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        w.start_ms = sf * 10;
        w.end_ms = (ef + 1) * 10;
        w.confidence = (float)(p < 0 ? 0 : p > 1 ? 1 : p);
        if (out->n_words == cap) {
            cap = cap ? cap * 2 : 16;
            struct stt_word *nw = realloc(out->words, (size_t)cap * sizeof *nw);
            if (!nw) {
                ps_seg_free(seg);
                return DP_ERR_NOMEM;
            }
            out->words = nw;
        }
        out->words[out->n_words++] = w;
        text_len += strlen(w.word) + 1;
    }
    out->text = malloc(text_len + 1);
    if (!out->text)
        return DP_ERR_NOMEM;
    out->text[0] = 0;
    char *p = out->text;
    double conf = 0;
    for (int i = 0; i < out->n_words; i++) {
        p += sprintf(p, "%s%s", i ? " " : "", out->words[i].word);
        conf += out->words[i].confidence;
    }
    out->confidence = out->n_words ? (float)(conf / out->n_words) : 0;
    return DP_OK;
}

/* Gives the decoder back, keeping what it learnt of this stream's channel. */
static void detach(struct stt_stream *s)
{
    if (s->dec && s->e->cmn0) {
        const cmn_t *cmn = ps_get_feat(s->dec)->cmn_struct;
        if (!s->cmn)
            s->cmn = malloc((size_t)s->e->veclen * sizeof *s->cmn);
        if (s->cmn)
            memcpy(s->cmn, cmn->cmn_mean, (size_t)s->e->veclen * sizeof *s->cmn);
    }
    if (s->dec)
        give_back(s->e, s->dec);
    s->dec = NULL;
    s->n_backlog = 0;
    s->fed = 0;
}

static int ps_finish(struct stt_stream *s, struct stt_result *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    out->duration_ms = (int)(s->fed * 1000 / STT_RATE);
    int err = DP_OK;
    if (!s->fed) {
        out->text = strdup("");
        return out->text ? DP_OK : DP_ERR_NOMEM;
    }
    if (!s->dec && (err = attach(s, PS_WAIT_MS))) {
        snprintf(why, whylen, "every speech recognition decoder is busy");
        detach(s);
        return err;
    }
    if (ps_end_utt(s->dec) < 0)
        err = DP_ERR_INTERNAL;
    if (!err)
        err = collect(s, out);
    if (err) {
        snprintf(why, whylen, "speech recognition failed");
        stt_result_free(out);
        out->duration_ms = (int)(s->fed * 1000 / STT_RATE);
    }
    detach(s);
    return err;
}

static void ps_reset(struct stt_stream *s)
{
    if (s->dec)
        ps_end_utt(s->dec);
    detach(s);
}

static void ps_close(struct stt_stream *s)
{
    if (!s)
        return;
    ps_reset(s);
    pthread_mutex_lock(&s->e->mu);
    s->e->streams--;
    pthread_mutex_unlock(&s->e->mu);
    free(s->backlog);
    free(s->cmn);
    free(s);
}

static void ps_destroy(struct stt_engine *base)
{
    struct ps_engine *e = (struct ps_engine *)base;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->want);
    pthread_mutex_unlock(&e->mu);
    if (e->loader_started)
        pthread_join(e->loader, NULL);
    for (int i = 0; i < e->loaded; i++)
        if (e->all[i])
            ps_free(e->all[i]);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->freed);
    pthread_cond_destroy(&e->want);
    free(e->cmn0);
    free(e);
}

const struct stt_ops stt_pocketsphinx_ops = {
    .name = "pocketsphinx",
    .open = ps_open,
    .feed = ps_feed,
    .partial = ps_partial,
    .finish = ps_finish,
    .ready = ps_ready,
    .reset = ps_reset,
    .close = ps_close,
    .destroy = ps_destroy,
};

int stt_pocketsphinx_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    const char *dir = cfg->model_dir && *cfg->model_dir ? cfg->model_dir : PS_DEFAULT_MODEL_DIR;
    if (cfg->pool < 0 || cfg->pool > PS_POOL_MAX) {
        snprintf(msg, msglen, "stt-pool must be 1 … %d", PS_POOL_MAX);
        return DP_ERR_INVALID;
    }
    struct ps_engine *e = calloc(1, sizeof *e);
    if (!e)
        return DP_ERR_NOMEM;
    snprintf(e->hmm, sizeof e->hmm, "%s/en-us", dir);
    snprintf(e->lm, sizeof e->lm, "%s/en-us.lm.bin", dir);
    snprintf(e->dict, sizeof e->dict, "%s/cmudict-en-us.dict", dir);
    if (!file_exists(e->hmm) || !file_exists(e->lm) || !file_exists(e->dict)) {
        snprintf(msg, msglen, "stt-model-dir %s lacks en-us/, en-us.lm.bin or cmudict-en-us.dict", dir);
        free(e);
        return DP_ERR_INVALID;
    }
    e->base.ops = &stt_pocketsphinx_ops;
    snprintf(e->base.name, sizeof e->base.name, "pocketsphinx");
    snprintf(e->base.model, sizeof e->base.model, "%s", dir);
    e->base.adapts = 1;
    pthread_once(&metric_once, metric_init);
    e->size = cfg->pool ? cfg->pool : 8;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->freed, NULL);
    pthread_cond_init(&e->want, NULL);
    *out = &e->base;
    return DP_OK;
}
