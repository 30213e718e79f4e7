/* Speech to text from Deepgram's pre-recorded API: POST {url}/listen?model=…&punctuate=true
 * [&language=…] with the recording as the body (audio/wav) and "Authorization: Token KEY" →
 * {metadata, results:{channels:[{alternatives:[{transcript, confidence, words:[{word, start, end,
 * confidence, punctuated_word}]}]}]}} (times in seconds); errors {err_code, err_msg}. The base URL
 * is https://api.deepgram.com/v1 (or a self-hosted Deepgram's). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "net/http_client.h"
#include "providers/provider_call.h"
#include "providers/stt_remote.h"

static int gather(void *ctx, const void *p, size_t len)
{
    return buf_append(ctx, p, len) ? 1 : 0;
}

static char *listen_url(const struct stt_remote *r)
{
    char q[256];
    /* Model and language are the operator's words, but still escaped: they end up in a URL. */
    char *m = curl_easy_escape(NULL, r->base.model[0] ? r->base.model : "nova-2", 0);
    char *l = r->language[0] ? curl_easy_escape(NULL, r->language, 0) : NULL;
    snprintf(q, sizeof q, "listen?model=%s&punctuate=true%s%s", m ? m : "nova-2", l ? "&language=" : "", l ? l : "");
    curl_free(m);
    curl_free(l);
    return provider_url(r->url, q);
}

int stt_deepgram_alternative(json_t *alt, struct stt_result *out, char *why, size_t whylen)
{
    const char *text = json_string_value(json_object_get(alt, "transcript"));
    if (!text || !utf8_valid(text, strlen(text))) {
        snprintf(why, whylen, "the speech recogniser's answer has no transcript");
        return DP_ERR_UNAVAILABLE;
    }
    int cap = 0;
    int err = stt_result_add_words(out, &cap, json_object_get(alt, "words"), "punctuated_word", "word", "confidence");
    if (err)
        return err;
    if (!(out->text = strdup(text)))
        return DP_ERR_NOMEM;
    json_t *c = json_object_get(alt, "confidence");
    double conf = json_is_number(c) ? json_number_value(c) : 1.0;
    out->confidence = (float)(conf >= 0 && conf <= 1 ? conf : conf > 1 ? 1 : 0);
    return DP_OK;
}

int stt_deepgram_answer(json_t *j, struct stt_result *out, char *why, size_t whylen)
{
    json_t *ch = json_array_get(json_object_get(json_object_get(j, "results"), "channels"), 0);
    return stt_deepgram_alternative(json_array_get(json_object_get(ch, "alternatives"), 0), out, why, whylen);
}

static int deepgram_recognize(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out,
                              long *retry_after_ms, char *why, size_t whylen)
{
    struct buf answer;
    buf_init(&answer, STT_REMOTE_ANSWER_MAX);
    size_t wlen;
    uint8_t *wav = stt_wav_bytes(pcm, n, &wlen);
    char *url = listen_url(r);
    char auth[600] = "";
    if (r->key[0])
        snprintf(auth, sizeof auth, "Authorization: Token %s", r->key);
    int err = wav && url ? DP_OK : DP_ERR_NOMEM;
    struct http_stream_result hr = {0};
    if (!err) {
        struct http_bytes hb = {
            url,    auth, "audio/wav", wav, wlen, "application/json", 5000, 0, r->timeout_ms, STT_REMOTE_ANSWER_MAX,
            gather, NULL, &answer};
        err = http_post_bytes(&hb, &hr, why, whylen);
    }
    memset(auth, 0, sizeof auth);
    if (hr.retry_after_s >= 0)
        *retry_after_ms = hr.retry_after_s * 1000;
    if (err == DP_ERR_TOO_LARGE || err == DP_ERR_CANCELLED)
        err = DP_ERR_UNAVAILABLE;
    if (!err && hr.status / 100 != 2) {
        const char *m = json_string_value(json_object_get(hr.error_body, "err_msg"));
        err = stt_status_error(hr.status, m, why, whylen);
    } else if (!err) {
        json_t *j = json_loadb(answer.data, answer.len, 0, NULL);
        err = stt_deepgram_answer(j, out, why, whylen);
        json_decref(j);
    }
    json_decref(hr.error_body);
    buf_cleanup(&answer);
    free(wav);
    free(url);
    return err;
}

int stt_deepgram_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    struct stt_remote *r;
    int err = stt_remote_new(cfg, "deepgram", deepgram_recognize, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
