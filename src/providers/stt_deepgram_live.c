/* Speech to text from Deepgram's live streaming API: a WebSocket to {url}/listen?model=…&encoding=
 * linear16&sample_rate=16000&channels=1&interim_results=true&punctuate=true[&language=…] with
 * "Authorization: Token KEY"; binary frames of audio; text messages {"type":"KeepAlive"} (silence
 * longer than a few seconds), {"type":"Finalize"} (flush what was heard) and {"type":"CloseStream"};
 * answers Results {is_final, speech_final, from_finalize, channel:{alternatives:[{transcript,
 * confidence, words}]}}, Metadata (after CloseStream), and errors as Error messages or close
 * codes (1008 the audio was refused, 1011 the server failed or heard nothing for too long).
 *
 * One connection per utterance, opened by the stream's own I/O thread when the first audio comes:
 * feed() only appends to the utterance (the thread sends it on), partial() reads the interim
 * results, ready() asks for the final and answers 1 once it is in, so a voice session never holds
 * a worker waiting on the network. The utterance is kept so that when Deepgram fails before its
 * first result (unreachable, refused, breaker open) the local fallback hears it instead; a failure
 * after results keeps what was heard. The whole streamed utterance is one provider_call
 * ("stt:deepgram-live": breaker, latency). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "net/ws_client.h"
#include "providers/provider_call.h"
#include "providers/stt_remote.h"

#define SEND_SAMPLES 3200 /* 200 ms of audio per binary frame at most */
#define KEEPALIVE_MS 5000 /* Deepgram closes a stream after ~10 s without audio */
#define CONNECT_TIMEOUT_MS 5000
#define LIVE_TEXT_MAX 65536 /* bytes of an utterance's transcript kept */

struct stt_stream {
    struct stt_remote *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake; /* eventfd: the thread has something to send or to stop */
    int quit;
    /* The utterance (under mu). gen counts utterances; the thread streams run_gen and touches what
     * follows only while gen == run_gen. */
    int gen, run_gen, running;
    int16_t *pcm;
    size_t n, cap, sent;
    int finalize;            /* the caller asked for the final */
    double finalize_at;      /* time_mono() of that */
    int done, failed, heard; /* the final came / the stream failed / a Results came */
    int fail_err;
    char why[160];
    struct stt_result finals; /* the is_final results joined */
    int words_cap;
    double conf_sum;
    int n_finals;
    char *interim;
};

static void wake(struct stt_stream *s)
{
    uint64_t one = 1;
    if (write(s->wake, &one, sizeof one) < 0 && errno != EAGAIN)
        DP_LOG(LOG_WARN, "[stt] deepgram-live: cannot wake the stream's thread");
}

/* ---- the messages ------------------------------------------------------------------------------ */

int stt_deepgram_live_message(const char *p, size_t n, struct dg_live_msg *m, char *why, size_t whylen)
{
    memset(m, 0, sizeof *m);
    json_t *j = json_loadb(p, n, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    int err = DP_OK;
    if (!type) {
        snprintf(why, whylen, "the speech recogniser sent a message that is not Deepgram's");
        err = DP_ERR_UNAVAILABLE;
    } else if (!strcmp(type, "Results")) {
        m->kind = DG_LIVE_RESULTS;
        m->is_final = json_is_true(json_object_get(j, "is_final"));
        m->speech_final = json_is_true(json_object_get(j, "speech_final"));
        m->from_finalize = json_is_true(json_object_get(j, "from_finalize"));
        json_t *alt = json_array_get(json_object_get(json_object_get(j, "channel"), "alternatives"), 0);
        err = stt_deepgram_alternative(alt, &m->alt, why, whylen);
        if (err)
            stt_result_free(&m->alt);
    } else if (!strcmp(type, "Metadata")) {
        m->kind = DG_LIVE_METADATA;
    } else if (!strcmp(type, "Error")) {
        m->kind = DG_LIVE_ERROR;
        const char *d = json_string_value(json_object_get(j, "description"));
        if (!d)
            d = json_string_value(json_object_get(j, "message"));
        utf8_copy(m->why, sizeof m->why, d && utf8_valid(d, strlen(d)) ? d : "an error");
    }
    json_decref(j);
    return err;
}

/* Takes one message into the utterance (under mu). */
static int take_message(struct stt_stream *s, struct dg_live_msg *m, int fin_sent)
{
    if (m->kind == DG_LIVE_ERROR) {
        int n = snprintf(s->why, sizeof s->why, "the speech recogniser said: ");
        utf8_copy(s->why + n, sizeof s->why - (size_t)n, m->why);
        return DP_ERR_UNAVAILABLE;
    }
    if (m->kind == DG_LIVE_METADATA) {
        s->done = fin_sent; /* after CloseStream: everything was said */
        return DP_OK;
    }
    if (m->kind != DG_LIVE_RESULTS)
        return DP_OK;
    s->heard = 1;
    if (m->is_final) {
        const char *t = m->alt.text;
        if (*t) {
            struct stt_result *f = &s->finals;
            size_t have = f->text ? strlen(f->text) : 0, add = strlen(t);
            if (have + add + 2 <= LIVE_TEXT_MAX) {
                char *nt = realloc(f->text, have + add + 2);
                if (!nt)
                    return DP_ERR_NOMEM;
                snprintf(nt + have, add + 2, "%s%s", have ? " " : "", t);
                f->text = nt;
            }
            for (int i = 0; i < m->alt.n_words; i++) {
                const struct stt_word *w = &m->alt.words[i];
                int err = stt_result_add_word(f, &s->words_cap, w->word, w->start_ms / 1000.0, w->end_ms / 1000.0,
                                              w->confidence);
                if (err)
                    return err;
            }
            s->conf_sum += m->alt.confidence;
            s->n_finals++;
        }
        free(s->interim);
        s->interim = NULL;
    } else {
        free(s->interim);
        s->interim = strdup(m->alt.text);
    }
    if (m->from_finalize)
        s->done = 1;
    return DP_OK;
}

/* ---- the stream's thread ------------------------------------------------------------------------ */

static char *live_url(const struct stt_remote *r)
{
    char q[400];
    char *m = curl_easy_escape(NULL, r->base.model[0] ? r->base.model : "nova-2", 0);
    char *l = r->language[0] ? curl_easy_escape(NULL, r->language, 0) : NULL;
    snprintf(q, sizeof q,
             "listen?model=%s&encoding=linear16&sample_rate=%d&channels=1&interim_results=true&punctuate=true%s%s",
             m ? m : "nova-2", STT_RATE, l ? "&language=" : "", l ? l : "");
    curl_free(m);
    curl_free(l);
    return provider_url(r->url, q);
}

static int send_text(struct ws_client *c, const char *type)
{
    char m[48];
    int n = snprintf(m, sizeof m, "{\"type\":\"%s\"}", type);
    return ws_client_send(c, 1, m, (size_t)n);
}

/* What a connection that ended before its final stands for. */
static int closed_error(struct stt_stream *s, int code)
{
    if (code == 1008) {
        snprintf(s->why, sizeof s->why, "the speech recogniser refused the audio (close 1008)");
        return DP_ERR_INVALID;
    }
    if (!s->why[0])
        snprintf(s->why, sizeof s->why, "the speech recogniser closed the stream (%s%d)", code ? "close " : "no close ",
                 code);
    return DP_ERR_UNAVAILABLE;
}

/* Streams utterance run_gen: connects, sends its audio as it comes, asks for the final when the
 * caller does, and gathers the results until the final (or a failure, or a newer utterance). */
static int stream_utterance(void *arg)
{
    struct stt_stream *s = arg;
    struct stt_remote *r = s->r;
    pthread_mutex_lock(&s->mu);
    int my = s->run_gen;
    pthread_mutex_unlock(&s->mu);
    char *url = live_url(r), hdr[600] = "", why[160] = "";
    if (r->key[0])
        snprintf(hdr, sizeof hdr, "Authorization: Token %s\r\n", r->key);
    struct ws_client *c = NULL;
    int err = url ? ws_client_open(url, hdr, CONNECT_TIMEOUT_MS, &c, why, sizeof why) : DP_ERR_NOMEM;
    memset(hdr, 0, sizeof hdr);
    free(url);
    if (err) {
        pthread_mutex_lock(&s->mu);
        snprintf(s->why, sizeof s->why, "the speech recogniser's stream: %s", why);
        pthread_mutex_unlock(&s->mu);
        return err == DP_ERR_UNAUTHORIZED ? DP_ERR_INVALID : err == DP_ERR_IO ? DP_ERR_UNAVAILABLE : err;
    }
    ws_client_wake_on(c, s->wake);
    int16_t chunk[SEND_SAMPLES];
    uint8_t bytes[SEND_SAMPLES * 2];
    int fin_sent = 0;
    double last_send = time_mono(), fin_at = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->gen != my || s->quit) {
            pthread_mutex_unlock(&s->mu);
            err = DP_ERR_CANCELLED;
            break;
        }
        if (s->done) {
            pthread_mutex_unlock(&s->mu);
            err = DP_OK;
            break;
        }
        size_t k = s->n - s->sent < SEND_SAMPLES ? s->n - s->sent : SEND_SAMPLES;
        memcpy(chunk, s->pcm + s->sent, k * sizeof *chunk);
        s->sent += k;
        int fin = s->finalize && s->sent == s->n && !fin_sent, more = s->sent < s->n;
        pthread_mutex_unlock(&s->mu);
        double now = time_mono();
        err = DP_OK;
        if (k) {
            for (size_t i = 0; i < k; i++) { /* little-endian whatever the host */
                bytes[2 * i] = (uint8_t)((uint16_t)chunk[i] & 0xff);
                bytes[2 * i + 1] = (uint8_t)((uint16_t)chunk[i] >> 8);
            }
            err = ws_client_send(c, 0, bytes, k * 2);
            last_send = now;
        } else if (!fin_sent && (now - last_send) * 1000 >= KEEPALIVE_MS) {
            err = send_text(c, "KeepAlive");
            last_send = now;
        }
        if (!err && fin) {
            err = send_text(c, "Finalize");
            if (!err)
                err = send_text(c, "CloseStream");
            fin_sent = 1;
            fin_at = now;
        }
        if (fin_sent && (now - fin_at) * 1000 > r->timeout_ms) {
            err = DP_ERR_TIMEOUT;
            pthread_mutex_lock(&s->mu);
            snprintf(s->why, sizeof s->why, "the speech recogniser gave no final within %ld ms", r->timeout_ms);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int text = 0;
        char *msg = NULL;
        size_t len = 0;
        if (!err)
            err = ws_client_recv(c, more ? 0 : 1000, &text, &msg, &len);
        uint64_t drained;
        if (read(s->wake, &drained, sizeof drained) < 0 && errno != EAGAIN)
            DP_LOG(LOG_WARN, "[stt] deepgram-live: cannot read the wake counter");
        if (err == DP_ERR_TIMEOUT)
            continue;
        if (err) {
            int code = ws_client_close_code(c);
            pthread_mutex_lock(&s->mu);
            err = s->done || (fin_sent && code == 1000) ? DP_OK : closed_error(s, code);
            s->done |= !err;
            pthread_mutex_unlock(&s->mu);
            break;
        }
        struct dg_live_msg m;
        if (text && !stt_deepgram_live_message(msg, len, &m, why, sizeof why)) {
            pthread_mutex_lock(&s->mu);
            if (s->gen == my) {
                err = take_message(s, &m, fin_sent);
                pthread_cond_broadcast(&s->cv);
            }
            pthread_mutex_unlock(&s->mu);
            stt_result_free(&m.alt);
        }
        free(msg);
        if (err)
            break;
    }
    ws_client_close(c, 1000);
    ws_client_free(c);
    return err;
}

/* A refusal (bad key, refused audio) says the provider is up; so does a stream the caller ended. */
static int live_healthy(int err)
{
    return err != DP_ERR_UNAVAILABLE && err != DP_ERR_TIMEOUT;
}

static void *stream_thread(void *arg)
{
    struct stt_stream *s = arg;
    const struct provider_call pc = {"stt", s->r->base.name, 5, 30000, live_healthy};
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->quit && !(s->n && !s->done && !s->failed && s->run_gen != s->gen))
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->quit)
            break;
        s->run_gen = s->gen;
        s->running = 1;
        s->why[0] = 0;
        pthread_mutex_unlock(&s->mu);
        int err = provider_call(&pc, stream_utterance, s);
        pthread_mutex_lock(&s->mu);
        s->running = 0;
        if (s->gen == s->run_gen && err && err != DP_ERR_CANCELLED) {
            s->failed = 1;
            s->fail_err = err;
            if (!s->why[0])
                snprintf(s->why, sizeof s->why, "the speech recogniser %s is failing; trying it again later",
                         s->r->base.name);
        }
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- stt_ops ------------------------------------------------------------------------------------ */

static int live_open(struct stt_engine *e, struct stt_stream **out)
{
    struct stt_stream *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    s->r = (struct stt_remote *)e;
    s->run_gen = -1;
    s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 << 10);
    int bad = s->wake < 0 || pthread_create(&s->thread, &at, stream_thread, s);
    pthread_attr_destroy(&at);
    if (bad) {
        if (s->wake >= 0)
            close(s->wake);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return DP_ERR_NOMEM;
    }
    *out = s;
    return DP_OK;
}

static int live_feed(struct stt_stream *s, const int16_t *pcm, size_t n)
{
    pthread_mutex_lock(&s->mu);
    int err = stt_pcm_append(&s->pcm, &s->n, &s->cap, pcm, n);
    if (!err && n)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!err && n)
        wake(s);
    return err;
}

static int live_partial(struct stt_stream *s, char **text)
{
    pthread_mutex_lock(&s->mu);
    const char *f = s->finals.text ? s->finals.text : "", *i = s->interim ? s->interim : "";
    size_t len = strlen(f) + strlen(i) + 2;
    *text = malloc(len);
    if (*text)
        snprintf(*text, len, "%s%s%s", f, *f && *i ? " " : "", i);
    pthread_mutex_unlock(&s->mu);
    return *text ? DP_OK : DP_ERR_NOMEM;
}

/* Asks for the final (under mu). */
static void ask_final(struct stt_stream *s)
{
    if (!s->finalize) {
        s->finalize = 1;
        s->finalize_at = time_mono();
        wake(s);
    }
}

/* Whether the utterance is over for finish (under mu): nothing to hear, the final came, it failed,
 * or the final is overdue. */
static int settled(struct stt_stream *s)
{
    return !s->n || s->done || s->failed || (time_mono() - s->finalize_at) * 1000 > s->r->timeout_ms + 1000;
}

static int live_ready(struct stt_stream *s)
{
    pthread_mutex_lock(&s->mu);
    ask_final(s);
    int r = settled(s);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Starts the next utterance (under mu): the thread drops the old one's connection. */
static void next_utterance(struct stt_stream *s)
{
    s->gen++;
    s->n = s->sent = 0;
    s->finalize = s->done = s->failed = s->heard = 0;
    s->fail_err = 0;
    s->why[0] = 0;
    stt_result_free(&s->finals);
    s->words_cap = 0;
    s->conf_sum = 0;
    s->n_finals = 0;
    free(s->interim);
    s->interim = NULL;
    wake(s);
}

static int live_finish(struct stt_stream *s, struct stt_result *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (whylen)
        why[0] = 0;
    pthread_mutex_lock(&s->mu);
    ask_final(s);
    while (!settled(s)) { /* callers without ready() (whole recordings) wait here */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int duration_ms = (int)(s->n * 1000 / STT_RATE), err = DP_OK;
    int16_t *pcm = NULL;
    size_t n = s->n;
    if (s->heard || !s->n) {
        /* What was heard stands, even when the stream failed after it: the finals, then the last
         * interim result that no final replaced. */
        *out = s->finals;
        memset(&s->finals, 0, sizeof s->finals);
        if (s->interim && *s->interim) {
            size_t have = out->text ? strlen(out->text) : 0;
            char *nt = realloc(out->text, have + strlen(s->interim) + 2);
            if (nt)
                sprintf(nt + have, "%s%s", have ? " " : "", s->interim), out->text = nt;
        }
        if (!out->text)
            out->text = strdup("");
        out->confidence = s->n_finals ? (float)(s->conf_sum / s->n_finals) : 0;
        err = out->text ? DP_OK : DP_ERR_NOMEM;
    } else {
        snprintf(why, whylen, "%s", s->why[0] ? s->why : "the speech recogniser gave no final in time");
        err = s->failed ? s->fail_err : DP_ERR_TIMEOUT;
        if (s->r->fallback && (pcm = malloc(n * sizeof *pcm)))
            memcpy(pcm, s->pcm, n * sizeof *pcm);
    }
    next_utterance(s);
    pthread_mutex_unlock(&s->mu);
    if (err && pcm) {
        err = stt_remote_fallback(s->r, pcm, n, out, why, whylen);
    }
    free(pcm);
    if (!err)
        out->duration_ms = duration_ms;
    return err;
}

static void live_reset(struct stt_stream *s)
{
    pthread_mutex_lock(&s->mu);
    next_utterance(s);
    pthread_mutex_unlock(&s->mu);
}

static void live_close(struct stt_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    wake(s);
    pthread_join(s->thread, NULL);
    close(s->wake);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    stt_result_free(&s->finals);
    free(s->interim);
    free(s->pcm);
    free(s);
}

static const struct stt_ops live_ops = {
    .name = "deepgram-live",
    .open = live_open,
    .feed = live_feed,
    .partial = live_partial,
    .finish = live_finish,
    .ready = live_ready,
    .reset = live_reset,
    .close = live_close,
    .destroy = stt_remote_destroy,
};

int stt_deepgram_live_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    struct stt_remote *r;
    int err = stt_remote_new(cfg, "deepgram-live", NULL, &r, msg, msglen);
    if (!err) {
        r->base.ops = &live_ops;
        *out = &r->base;
    }
    return err;
}
