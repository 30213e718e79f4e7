/* Speech to text from OpenAI's /audio/transcriptions and the servers that speak it (faster-whisper-
 * server / speaches, whisper.cpp's server with --inference-path /v1/audio/transcriptions, LocalAI):
 * POST {url}/audio/transcriptions, multipart/form-data with file (a 16 kHz WAV), model,
 * response_format=verbose_json, timestamp_granularities[]=word and =segment, language → {text,
 * language, duration, words?:[{word, start, end}], segments?:[{start, end, text, avg_logprob,
 * words?}]} (times in seconds). Word timings come from the top-level words (OpenAI, faster-whisper)
 * or from each segment's (whisper.cpp); a server that gives neither still gives the text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "net/http_client.h"
#include "providers/provider_call.h"
#include "providers/stt_remote.h"

#define BOUNDARY "doppel-7c1f0e9a5b3d4c2e8f6a1b0d9c8e7f6a"

static int part(struct buf *b, const char *name, const char *value)
{
    return buf_printf(b, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", name, value);
}

/* The form: the model, the format, the granularities, the language and the recording. */
static int form_body(const struct stt_remote *r, const int16_t *pcm, size_t n, struct buf *b)
{
    size_t wlen;
    uint8_t *wav = stt_wav_bytes(pcm, n, &wlen);
    if (!wav)
        return DP_ERR_NOMEM;
    int err = part(b, "model", r->base.model[0] ? r->base.model : "whisper-1");
    if (!err)
        err = part(b, "response_format", "verbose_json");
    if (!err)
        err = part(b, "timestamp_granularities[]", "word");
    if (!err)
        err = part(b, "timestamp_granularities[]", "segment");
    if (!err && r->language[0])
        err = part(b, "language", r->language);
    if (!err)
        err =
            buf_printf(b, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\n"
                          "Content-Type: audio/wav\r\n\r\n");
    if (!err)
        err = buf_append(b, wav, wlen);
    if (!err)
        err = buf_printf(b, "\r\n--" BOUNDARY "--\r\n");
    free(wav);
    return err;
}

static int gather(void *ctx, const void *p, size_t len)
{
    return buf_append(ctx, p, len) ? 1 : 0;
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int stt_openai_answer(json_t *j, struct stt_result *out, char *why, size_t whylen)
{
    const char *text = json_string_value(json_object_get(j, "text"));
    if (!text || !utf8_valid(text, strlen(text))) {
        snprintf(why, whylen, "the speech recogniser's answer has no text");
        return DP_ERR_UNAVAILABLE;
    }
    while (*text == ' ')
        text++;
    int cap = 0, err = stt_result_add_words(out, &cap, json_object_get(j, "words"), "word", NULL, "probability");
    json_t *segs = json_object_get(j, "segments");
    size_t i;
    json_t *s;
    double logprob = 0;
    int n_lp = 0;
    json_array_foreach (segs, i, s) {
        if (!err && !json_object_get(j, "words"))
            err = stt_result_add_words(out, &cap, json_object_get(s, "words"), "word", NULL, "probability");
        double lp = num(s, "avg_logprob");
        if (!isnan(lp))
            logprob += lp, n_lp++;
    }
    if (err)
        return err;
    if (!(out->text = strdup(text)))
        return DP_ERR_NOMEM;
    float sum = 0;
    for (int k = 0; k < out->n_words; k++)
        sum += out->words[k].confidence;
    double c = n_lp ? exp(logprob / n_lp) : out->n_words ? sum / (float)out->n_words : 1.0;
    out->confidence = (float)(c >= 0 && c <= 1 ? c : c > 1 ? 1 : 0); /* a positive log-probability is no certainty */
    return DP_OK;
}

static int openai_recognize(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out,
                            long *retry_after_ms, char *why, size_t whylen)
{
    struct buf body, answer;
    buf_init(&body, 0);
    buf_init(&answer, STT_REMOTE_ANSWER_MAX);
    char *url = provider_url(r->url, "audio/transcriptions");
    char auth[600] = "";
    if (r->key[0])
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->key);
    int err = url ? form_body(r, pcm, n, &body) : DP_ERR_NOMEM;
    struct http_stream_result hr = {0};
    if (!err) {
        struct http_bytes hb = {url,
                                auth,
                                "multipart/form-data; boundary=" BOUNDARY,
                                body.data,
                                body.len,
                                "application/json",
                                5000,
                                0,
                                r->timeout_ms,
                                STT_REMOTE_ANSWER_MAX,
                                gather,
                                NULL,
                                &answer};
        err = http_post_bytes(&hb, &hr, why, whylen);
    }
    memset(auth, 0, sizeof auth);
    if (hr.retry_after_s >= 0)
        *retry_after_ms = hr.retry_after_s * 1000;
    if (err == DP_ERR_TOO_LARGE || err == DP_ERR_CANCELLED)
        err = DP_ERR_UNAVAILABLE;
    if (!err && hr.status / 100 != 2) {
        json_t *e = json_object_get(hr.error_body, "error");
        const char *m = json_string_value(json_object_get(e, "message"));
        err = stt_status_error(hr.status, m ? m : json_string_value(e), why, whylen);
    } else if (!err) {
        json_t *j = json_loadb(answer.data, answer.len, 0, NULL);
        err = stt_openai_answer(j, out, why, whylen);
        json_decref(j);
    }
    json_decref(hr.error_body);
    buf_cleanup(&body);
    buf_cleanup(&answer);
    free(url);
    return err;
}

int stt_openai_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    struct stt_remote *r;
    int err = stt_remote_new(cfg, "openai", openai_recognize, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
