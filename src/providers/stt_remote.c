/* The stream every remote recogniser shares (see stt_remote.h): feed gathers, finish recognises
 * through the breaker, with one retry and the local fallback. */
#include "providers/stt_remote.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/wav.h"
#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/utf8.h"
#include "providers/provider_call.h"
#include "providers/provider_retry.h"

/* A recognition running on a thread of its own (voice sessions ask ready() instead of waiting):
 * shared by the stream and the thread, freed by whichever lets go last. */
struct bg_job {
    pthread_mutex_t mu;
    int refs, done, err;
    struct stt_remote *r;
    int16_t *pcm;
    size_t n;
    struct stt_result out;
    char why[160];
    char *partial; /* the transcript so far a streaming provider reported (stt_remote_partial), or NULL */
};

/* The background recognition this thread runs (stt_remote_partial reports into it), or NULL. */
static _Thread_local struct bg_job *bg_current;

struct stt_stream {
    struct stt_remote *r;
    int16_t *pcm;
    size_t n, cap;
    struct bg_job *bg; /* the utterance being recognised in the background, or NULL */
};

static int remote_open(struct stt_engine *e, struct stt_stream **out)
{
    struct stt_stream *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    s->r = (struct stt_remote *)e;
    *out = s;
    return DP_OK;
}

int stt_pcm_append(int16_t **pcm, size_t *n, size_t *cap, const int16_t *add, size_t k)
{
    if (*n + k > (size_t)STT_STREAM_MAX_MS * (STT_RATE / 1000))
        return DP_ERR_TOO_LARGE;
    if (*n + k > *cap) {
        size_t nc = (*n + k) * 2;
        int16_t *np = realloc(*pcm, nc * sizeof *np);
        if (!np)
            return DP_ERR_NOMEM;
        *pcm = np;
        *cap = nc;
    }
    memcpy(*pcm + *n, add, k * sizeof *add);
    *n += k;
    return DP_OK;
}

static int remote_feed(struct stt_stream *s, const int16_t *pcm, size_t n)
{
    return s->bg ? DP_ERR_TOO_LARGE : stt_pcm_append(&s->pcm, &s->n, &s->cap, pcm, n);
}

static int remote_partial(struct stt_stream *s, char **text)
{
    /* The utterance goes out whole when it ends: partials only while a streaming provider (Wyoming
     * ≥ 1.6) reads it back before its final. */
    struct bg_job *j = s->bg;
    if (!j)
        return DP_ERR_UNSUPPORTED;
    pthread_mutex_lock(&j->mu);
    *text = j->partial ? strdup(j->partial) : NULL;
    pthread_mutex_unlock(&j->mu);
    return *text ? DP_OK : DP_ERR_UNSUPPORTED;
}

void stt_remote_partial(const char *text)
{
    struct bg_job *j = bg_current;
    char *t = j ? strdup(text) : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&j->mu);
    free(j->partial);
    j->partial = t;
    pthread_mutex_unlock(&j->mu);
}

static void bg_release(struct bg_job *j)
{
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&j->mu);
    stt_result_free(&j->out);
    free(j->partial);
    free(j->pcm);
    free(j);
}

static void remote_reset(struct stt_stream *s)
{
    if (s->bg)
        bg_release(s->bg); /* its answer is dropped when it comes */
    s->bg = NULL;
    s->n = 0;
}

static void remote_close(struct stt_stream *s)
{
    remote_reset(s);
    free(s->pcm);
    free(s);
}

struct attempt {
    struct stt_remote *r;
    const int16_t *pcm;
    size_t n;
    struct stt_result *out;
    char *why;
    size_t whylen;
};

static int attempt_run(void *arg, long *retry_after_ms)
{
    struct attempt *a = arg;
    memset(a->out, 0, sizeof *a->out);
    int err = a->r->recognize(a->r, a->pcm, a->n, a->out, retry_after_ms, a->why, a->whylen);
    if (err)
        stt_result_free(a->out);
    return err;
}

/* Down means unreachable, 5xx or stalled; a refusal or a 429 says the provider is up. */
static int remote_healthy(int err)
{
    return err != DP_ERR_UNAVAILABLE && err != DP_ERR_TIMEOUT;
}

static int recognise_remote(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out, char *why,
                            size_t whylen)
{
    const struct provider_call pc = {"stt", r->base.name, 5, 30000, remote_healthy};
    struct attempt a = {r, pcm, n, out, why, whylen};
    const struct provider_retry pr = {&pc, attempt_run, NULL, &a, STT_REMOTE_RETRY_WAIT_MAX_MS};
    int ran, err = provider_retry(&pr, &ran);
    if (!ran)
        snprintf(why, whylen, "the speech recogniser %s is failing; trying it again later", r->base.name);
    return err;
}

int stt_remote_fallback(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out, char *why,
                        size_t whylen)
{
    struct stt_engine *f = r->fallback;
    DP_LOG(LOG_WARN, "[stt] %s: %s; %s answers", r->base.name, why, f->name);
    struct stt_stream *fs;
    int err = f->ops->open(f, &fs);
    if (err)
        return err;
    err = f->ops->feed(fs, pcm, n);
    if (!err)
        err = f->ops->finish(fs, out, why, whylen);
    f->ops->close(fs);
    return err;
}

/* The provider, then the fallback when it failed. */
static int recognise(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out, char *why,
                     size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (whylen)
        why[0] = 0;
    int err = recognise_remote(r, pcm, n, out, why, whylen);
    if (err && r->fallback)
        err = stt_remote_fallback(r, pcm, n, out, why, whylen);
    if (!err)
        out->duration_ms = (int)(n * 1000 / STT_RATE);
    return err;
}

static void *bg_run(void *arg)
{
    struct bg_job *j = arg;
    bg_current = j;
    int err = recognise(j->r, j->pcm, j->n, &j->out, j->why, sizeof j->why);
    bg_current = NULL;
    pthread_mutex_lock(&j->mu);
    j->err = err;
    j->done = 1;
    pthread_mutex_unlock(&j->mu);
    bg_release(j);
    return NULL;
}

/* The utterance goes to a thread of its own at the first ask; 1 once its answer is in. */
static int remote_ready(struct stt_stream *s)
{
    if (!s->n)
        return 1;
    if (!s->bg) {
        struct bg_job *j = calloc(1, sizeof *j);
        if (!j)
            return 1; /* finish recognises in place */
        pthread_mutex_init(&j->mu, NULL);
        j->refs = 2;
        j->r = s->r;
        j->pcm = s->pcm;
        j->n = s->n;
        pthread_attr_t at;
        pthread_attr_t *pa = pthread_attr_init(&at) ? NULL : &at;
        pthread_t t;
        if (pa) {
            pthread_attr_setdetachstate(pa, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(pa, 256 << 10);
        }
        int bad = pthread_create(&t, pa, bg_run, j);
        if (pa)
            pthread_attr_destroy(pa);
        if (bad) {
            pthread_mutex_destroy(&j->mu);
            free(j);
            return 1;
        }
        s->bg = j; /* the job owns the utterance's samples now */
        s->pcm = NULL;
        s->cap = 0;
    }
    pthread_mutex_lock(&s->bg->mu);
    int done = s->bg->done;
    pthread_mutex_unlock(&s->bg->mu);
    return done;
}

static int remote_finish(struct stt_stream *s, struct stt_result *out, char *why, size_t whylen)
{
    struct bg_job *j = s->bg;
    int err;
    if (j) {
        while (!remote_ready(s)) { /* asked before it was ready: wait for it */
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
        *out = j->out;
        memset(&j->out, 0, sizeof j->out);
        snprintf(why, whylen, "%s", j->why);
        err = j->err;
    } else
        err = recognise(s->r, s->pcm, s->n, out, why, whylen);
    remote_reset(s);
    return err;
}

void stt_remote_destroy(struct stt_engine *e)
{
    struct stt_remote *r = (struct stt_remote *)e;
    if (r->cleanup)
        r->cleanup(r);
    if (r->fallback)
        r->fallback->ops->destroy(r->fallback);
    free(r->url);
    if (r->key)
        memset(r->key, 0, strlen(r->key));
    free(r->key);
    free(r->language);
    free(r);
}

/* ready() sends the utterance off on a thread of its own: a voice session asks again on later ticks
 * instead of holding a worker while the provider answers. */
static const struct stt_ops remote_ops = {
    .name = "remote",
    .open = remote_open,
    .feed = remote_feed,
    .partial = remote_partial,
    .finish = remote_finish,
    .ready = remote_ready,
    .reset = remote_reset,
    .close = remote_close,
    .destroy = stt_remote_destroy,
};

int stt_remote_new(const struct stt_config *cfg, const char *name, stt_recognize_fn fn, struct stt_remote **out,
                   char *msg, size_t msglen)
{
    *out = NULL;
    if (!cfg->url || !*cfg->url) {
        snprintf(msg, msglen, "stt-provider %s needs stt-url", name);
        return DP_ERR_INVALID;
    }
    struct stt_remote *r = calloc(1, sizeof *r);
    if (!r)
        return DP_ERR_NOMEM;
    r->base.ops = &remote_ops;
    snprintf(r->base.name, sizeof r->base.name, "%s", name);
    snprintf(r->base.model, sizeof r->base.model, "%s", cfg->model ? cfg->model : "");
    r->recognize = fn;
    r->url = strdup(cfg->url);
    r->key = strdup(cfg->api_key ? cfg->api_key : "");
    r->language = strdup(cfg->language ? cfg->language : "");
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    if (!r->url || !r->key || !r->language) {
        stt_remote_destroy(&r->base);
        return DP_ERR_NOMEM;
    }
    const char *fb = cfg->fallback;
    if (fb && *fb && strcmp(fb, "none")) {
        const struct backend *b = registry_find(stt_registry(), fb);
        struct stt_config fc = *cfg;
        fc.provider = fb;
        fc.fallback = "none";
        int err = b && b->ops && strcmp(fb, name)
                      ? ((const struct stt_provider *)b->ops)->create(&fc, &r->fallback, msg, msglen)
                      : DP_ERR_INVALID;
        if (err) {
            if (!b || !strcmp(fb, name))
                snprintf(msg, msglen, "stt-fallback must be none or a local engine (pocketsphinx), not \"%s\"", fb);
            stt_remote_destroy(&r->base);
            return err;
        }
    }
    *out = r;
    return DP_OK;
}

uint8_t *stt_wav_bytes(const int16_t *pcm, size_t n, size_t *len)
{
    struct wav_info w = {.channels = 1, .rate = STT_RATE, .bits = 16, .frame_bytes = 2};
    *len = WAV_HEADER_LEN + n * 2;
    uint8_t *b = malloc(*len);
    if (!b)
        return NULL;
    wav_header(&w, n, b);
    uint8_t *p = b + WAV_HEADER_LEN;
    for (size_t i = 0; i < n; i++) { /* little-endian whatever the host */
        p[2 * i] = (uint8_t)((uint16_t)pcm[i] & 0xff);
        p[2 * i + 1] = (uint8_t)((uint16_t)pcm[i] >> 8);
    }
    return b;
}

int stt_status_error(long status, const char *message, char *why, size_t whylen)
{
    snprintf(why, whylen, "the speech recogniser answered %ld%s%.200s", status, message ? ": " : "",
             message ? message : "");
    if (status == 429)
        return DP_ERR_RATE_LIMITED;
    if (status == 408 || status >= 500)
        return DP_ERR_UNAVAILABLE;
    return DP_ERR_INVALID;
}

int stt_result_add_word(struct stt_result *r, int *cap, const char *word, double start_s, double end_s, double conf)
{
    while (*word == ' ')
        word++;
    if (!*word || !isfinite(start_s) || !isfinite(end_s) || start_s < 0 || end_s < start_s || end_s > 86400)
        return DP_OK; /* nothing said, or times no recording has: skipped */
    if (r->n_words == *cap) {
        int nc = *cap ? *cap * 2 : 32;
        struct stt_word *nw = realloc(r->words, (size_t)nc * sizeof *nw);
        if (!nw)
            return DP_ERR_NOMEM;
        r->words = nw;
        *cap = nc;
    }
    struct stt_word *w = &r->words[r->n_words++];
    /* A word longer than the slot loses its end at a character boundary (answers are JSON
     * strings, so valid UTF-8): a cut inside a character would make the transcript invalid. */
    utf8_copy(w->word, sizeof w->word, word);
    w->start_ms = (int)(start_s * 1000 + 0.5);
    w->end_ms = (int)(end_s * 1000 + 0.5);
    w->confidence = (float)(conf >= 0 && conf <= 1 ? conf : conf > 1 ? 1 : 0);
    return DP_OK;
}

int stt_result_add_words(struct stt_result *r, int *cap, json_t *words, const char *key, const char *alt_key,
                         const char *conf_key)
{
    size_t i;
    json_t *w;
    json_array_foreach (words, i, w) {
        const char *t = json_string_value(json_object_get(w, key));
        if (!t && alt_key)
            t = json_string_value(json_object_get(w, alt_key));
        json_t *c = json_object_get(w, conf_key), *s = json_object_get(w, "start"), *e = json_object_get(w, "end");
        if (t && json_is_number(s) && json_is_number(e)) {
            int err = stt_result_add_word(r, cap, t, json_number_value(s), json_number_value(e),
                                          json_is_number(c) ? json_number_value(c) : 1.0);
            if (err)
                return err;
        }
    }
    return DP_OK;
}
