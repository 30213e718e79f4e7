/* The synthesis every remote provider shares (see tts_remote.h): sentence by sentence through the
 * breaker, audio converted to TTS_REMOTE_RATE as it streams, one retry, then the local fallback. */
#include "providers/tts_remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/resample_stream.h"
#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"
#include "net/http_client.h"
#include "providers/provider_call.h"
#include "providers/provider_retry.h"

struct tts_remote_out {
    const struct tts_sink *sink;
    struct audio_resampler *rs; /* made at the first bytes, for their rate */
    int rate;
    uint8_t carry; /* the first byte of a sample split between two pieces */
    int has_carry;
    size_t bytes; /* of this sentence, delivered */
    int stopped;  /* the sink said stop */
};

static int to_sink(void *arg, const int16_t *pcm, size_t n)
{
    struct tts_remote_out *o = arg;
    if (o->sink->audio(o->sink->arg, pcm, n))
        o->stopped = 1;
    return o->stopped;
}

int tts_remote_pcm(struct tts_remote_out *o, int rate, const void *bytes, size_t len)
{
    if (o->stopped)
        return 1;
    if (!o->rs || o->rate != rate) {
        audio_resampler_free(o->rs);
        if (!(o->rs = audio_resampler_new(rate, TTS_REMOTE_RATE)))
            return 1;
        o->rate = rate;
    }
    const uint8_t *p = bytes;
    o->bytes += len;
    int16_t s[1024];
    size_t k = 0;
    if (o->has_carry && len) {
        s[k++] = (int16_t)(uint16_t)(o->carry | (uint16_t)p[0] << 8);
        p++, len--;
        o->has_carry = 0;
    }
    while (len >= 2) {
        s[k++] = (int16_t)(uint16_t)(p[0] | (uint16_t)p[1] << 8);
        p += 2, len -= 2;
        if (k == sizeof s / sizeof s[0]) {
            if (audio_resampler_feed(o->rs, s, k, 0, to_sink, o))
                return 1;
            k = 0;
        }
    }
    if (len) {
        o->carry = p[0];
        o->has_carry = 1;
    }
    return k ? audio_resampler_feed(o->rs, s, k, 0, to_sink, o) : 0;
}

struct attempt {
    struct tts_remote *r;
    const char *text;
    size_t len;
    const struct tts_voice *v;
    const struct tts_sink *sink;
    struct tts_remote_out o;
    char *why;
    size_t whylen;
};

static int attempt_run(void *arg, long *retry_after_ms)
{
    struct attempt *a = arg;
    audio_resampler_free(a->o.rs);
    a->o = (struct tts_remote_out){.sink = a->sink};
    int err = a->r->speak(a->r, a->text, a->len, a->v, &a->o, retry_after_ms, a->why, a->whylen);
    if (!err && !a->o.stopped && a->o.rs && audio_resampler_feed(a->o.rs, NULL, 0, 1, to_sink, &a->o))
        err = DP_ERR_CANCELLED;
    return a->o.stopped ? DP_ERR_CANCELLED : err;
}

/* Once part of the sentence was heard, trying it again would say it twice. */
static int attempt_again(void *arg, int err)
{
    (void)err;
    return !((struct attempt *)arg)->o.bytes;
}

/* Down means unreachable, 5xx or stalled; a refusal, a 429 or a barge-in says the provider is up. */
static int remote_healthy(int err)
{
    return err != DP_ERR_UNAVAILABLE && err != DP_ERR_TIMEOUT;
}

/* One sentence from the provider: DP_OK, DP_ERR_CANCELLED (the sink stopped), DP_ERR_IO (broke off
 * mid-sentence), or the failure. */
static int speak_remote(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                        const struct tts_sink *sink, char *why, size_t whylen)
{
    const struct provider_call pc = {"tts", r->base.name, 5, 30000, remote_healthy};
    struct attempt a = {r, text, len, v, sink, {.sink = sink}, why, whylen};
    const struct provider_retry pr = {&pc, attempt_run, attempt_again, &a, TTS_REMOTE_RETRY_WAIT_MAX_MS};
    int ran, err = provider_retry(&pr, &ran);
    audio_resampler_free(a.o.rs);
    if (!ran) {
        snprintf(why, whylen, "the speech synthesizer %s is failing; trying it again later", r->base.name);
        return err;
    }
    return a.o.bytes && err && err != DP_ERR_CANCELLED ? DP_ERR_IO : err;
}

/* The fallback's audio, converted to TTS_REMOTE_RATE when its own differs. */
struct fb_out {
    const struct tts_sink *sink;
    struct audio_resampler *rs;
};

static int fb_out_audio(void *arg, const int16_t *pcm, size_t n)
{
    struct fb_out *f = arg;
    return audio_resampler_feed(f->rs, pcm, n, 0, f->sink->audio, f->sink->arg);
}

static int speak_fallback(struct tts_remote *r, const char *text, const struct tts_voice *v,
                          const struct tts_sink *sink, char *why, size_t whylen)
{
    struct fb_out f = {sink, audio_resampler_new(r->fallback->rate, TTS_REMOTE_RATE)};
    if (!f.rs)
        return DP_ERR_NOMEM;
    /* The remote voice's name means nothing to the local engine: its own voice, the same pitch and rate. */
    struct tts_voice fv = v ? *v : (struct tts_voice){0};
    fv.voice = NULL;
    const struct tts_sink fs = {fb_out_audio, NULL, &f};
    int err = r->fallback->ops->synthesize(r->fallback, text, &fv, &fs, why, whylen);
    if (!err && audio_resampler_feed(f.rs, NULL, 0, 1, sink->audio, sink->arg))
        err = DP_ERR_CANCELLED;
    audio_resampler_free(f.rs);
    return err;
}

static int remote_synthesize(struct tts_engine *e, const char *text, const struct tts_voice *v,
                             const struct tts_sink *sink, char *why, size_t whylen)
{
    struct tts_remote *r = (struct tts_remote *)e;
    if (whylen)
        why[0] = 0;
    size_t len = strlen(text);
    if (len > TTS_TEXT_MAX) {
        snprintf(why, whylen, "the text is longer than %d bytes", TTS_TEXT_MAX);
        return DP_ERR_TOO_LARGE;
    }
    size_t at = 0;
    while (at < len) {
        while (at < len && (text[at] == ' ' || text[at] == '\n' || text[at] == '\t' || text[at] == '\r'))
            at++;
        if (at >= len)
            break;
        size_t n = tts_sentence_end(text + at, len - at);
        if (n > TTS_REMOTE_SENTENCE_MAX) { /* a run-on sentence: cut at its last space that fits */
            n = TTS_REMOTE_SENTENCE_MAX;
            while (n > 1 && text[at + n] != ' ')
                n--;
            if (n <= 1)
                n = TTS_REMOTE_SENTENCE_MAX;
            while (n && ((unsigned char)text[at + n] & 0xC0) == 0x80) /* never inside a character */
                n--;
        }
        int err = speak_remote(r, text + at, n, v, sink, why, whylen);
        if (err == DP_ERR_CANCELLED)
            return err;
        if (err) {
            if (!r->fallback)
                return err == DP_ERR_IO ? DP_ERR_UNAVAILABLE : err;
            DP_LOG(LOG_WARN, "[tts] %s: %s; %s speaks the rest", r->base.name, why, r->fallback->name);
            /* The rest of the reply, this sentence included unless half of it was heard. */
            return speak_fallback(r, text + (err == DP_ERR_IO ? at + n : at), v, sink, why, whylen);
        }
        at += n;
    }
    return DP_OK;
}

static void remote_destroy(struct tts_engine *e)
{
    struct tts_remote *r = (struct tts_remote *)e;
    if (r->cleanup)
        r->cleanup(r);
    if (r->fallback)
        r->fallback->ops->destroy(r->fallback);
    free(r->url);
    if (r->key)
        memset(r->key, 0, strlen(r->key));
    free(r->key);
    free(r->model);
    free(r);
}

static const struct tts_ops remote_ops = {"remote", remote_synthesize, remote_destroy};

int tts_remote_new(const struct tts_config *cfg, const char *name, tts_speak_fn fn, int needs_voice,
                   struct tts_remote **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (!cfg->url || !*cfg->url) {
        snprintf(msg, msglen, "tts-provider %s needs tts-url", name);
        return DP_ERR_INVALID;
    }
    if (needs_voice && (!cfg->voice || !*cfg->voice)) {
        snprintf(msg, msglen, "tts-provider %s needs tts-voice (a voice id)", name);
        return DP_ERR_INVALID;
    }
    struct tts_remote *r = calloc(1, sizeof *r);
    if (!r)
        return DP_ERR_NOMEM;
    r->base.ops = &remote_ops;
    snprintf(r->base.name, sizeof r->base.name, "%s", name);
    snprintf(r->base.voice, sizeof r->base.voice, "%s", cfg->voice ? cfg->voice : "");
    r->base.rate = TTS_REMOTE_RATE;
    r->speak = fn;
    r->url = strdup(cfg->url);
    r->key = strdup(cfg->api_key ? cfg->api_key : "");
    r->model = strdup(cfg->model ? cfg->model : "");
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    if (!r->url || !r->key || !r->model) {
        remote_destroy(&r->base);
        return DP_ERR_NOMEM;
    }
    const char *fb = cfg->fallback;
    if (fb && *fb && strcmp(fb, "none")) {
        const struct backend *b = registry_find(tts_registry(), fb);
        struct tts_config fc = *cfg;
        fc.provider = fb;
        fc.voice = "";
        fc.fallback = "none";
        int err = b && strcmp(fb, name) ? ((const struct tts_provider *)b->ops)->create(&fc, &r->fallback, msg, msglen)
                                        : DP_ERR_INVALID;
        if (err) {
            if (!b || !strcmp(fb, name))
                snprintf(msg, msglen, "tts-fallback must be none or a local engine (flite), not \"%s\"", fb);
            remote_destroy(&r->base);
            return err;
        }
    }
    *out = r;
    return DP_OK;
}

int tts_status_error(long status, const char *message, char *why, size_t whylen)
{
    snprintf(why, whylen, "the speech synthesizer answered %ld%s%.200s", status, message ? ": " : "",
             message ? message : "");
    if (status == 429)
        return DP_ERR_RATE_LIMITED;
    if (status == 408 || status >= 500)
        return DP_ERR_UNAVAILABLE;
    return DP_ERR_INVALID;
}

/* Bytes of PCM at a fixed rate, as an HTTP answer streams them. */
struct pcm_call {
    struct tts_remote_out *o;
    int rate;
};

static int on_pcm(void *ctx, const void *p, size_t len)
{
    struct pcm_call *c = ctx;
    return tts_remote_pcm(c->o, c->rate, p, len);
}

int tts_remote_post_pcm(struct tts_remote *r, char *url, const char *auth_format, json_t *body, int rate,
                        struct tts_remote_out *o, const char *(*message)(json_t *error_body), long *retry_after_ms,
                        char *why, size_t whylen)
{
    char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char auth[600] = "";
    if (r->key[0])
        snprintf(auth, sizeof auth, auth_format, r->key);
    int err = json && url ? DP_OK : DP_ERR_NOMEM;
    struct http_stream_result hr = {0};
    struct pcm_call c = {o, rate};
    if (!err) {
        /* The idle deadline covers the first byte too: a stalled synthesizer is left for the fallback. */
        struct http_bytes hb = {url,
                                auth,
                                "application/json",
                                json,
                                strlen(json),
                                "audio/pcm",
                                5000,
                                r->timeout_ms / 2,
                                r->timeout_ms,
                                TTS_REMOTE_ANSWER_MAX,
                                on_pcm,
                                NULL,
                                &c};
        err = http_post_bytes(&hb, &hr, why, whylen);
    }
    memset(auth, 0, sizeof auth);
    if (hr.retry_after_s >= 0)
        *retry_after_ms = hr.retry_after_s * 1000;
    if (err == DP_ERR_TOO_LARGE)
        err = DP_ERR_UNAVAILABLE;
    if (!err && hr.status / 100 != 2)
        err = tts_status_error(hr.status, message(hr.error_body), why, whylen);
    json_decref(hr.error_body);
    free(json);
    free(url);
    return err;
}
