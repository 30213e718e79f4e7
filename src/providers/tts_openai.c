/* Text to speech from OpenAI's /audio/speech and the servers that speak it (openedai-speech,
 * Kokoro-FastAPI, LocalAI): POST {url}/audio/speech {model, input, voice, response_format: "pcm",
 * speed?} → the audio streamed as raw 24 kHz mono PCM16 (little-endian) as it is made; errors
 * {error:{message}}. The avatar's speaking rate becomes speed (0.25 … 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "net/http_client.h"
#include "providers/provider_call.h"
#include "providers/tts_remote.h"

#define OPENAI_PCM_RATE 24000

struct call {
    struct tts_remote_out *o;
};

static int on_audio(void *ctx, const void *p, size_t len)
{
    struct call *c = ctx;
    return tts_remote_pcm(c->o, OPENAI_PCM_RATE, p, len);
}

static int openai_speak(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                        struct tts_remote_out *o, long *retry_after_ms, char *why, size_t whylen)
{
    const char *voice = v && v->voice && *v->voice ? v->voice : r->base.voice[0] ? r->base.voice : "alloy";
    json_t *body = json_pack("{s:s,s:s%,s:s,s:s}", "model", r->model[0] ? r->model : "tts-1", "input", text, len,
                             "voice", voice, "response_format", "pcm");
    if (body && v && v->rate > 0)
        json_object_set_new(body, "speed", json_real(v->rate < 0.25 ? 0.25 : v->rate > 4 ? 4 : v->rate));
    char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *url = provider_url(r->url, "audio/speech");
    char auth[600] = "";
    if (r->key[0])
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->key);
    int err = json && url ? DP_OK : DP_ERR_NOMEM;
    struct http_stream_result hr = {0};
    struct call c = {o};
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
                                on_audio,
                                NULL,
                                &c};
        err = http_post_bytes(&hb, &hr, why, whylen);
    }
    memset(auth, 0, sizeof auth);
    if (hr.retry_after_s >= 0)
        *retry_after_ms = hr.retry_after_s * 1000;
    if (err == DP_ERR_TOO_LARGE)
        err = DP_ERR_UNAVAILABLE;
    if (!err && hr.status / 100 != 2) {
        json_t *e = json_object_get(hr.error_body, "error");
        const char *m = json_string_value(json_object_get(e, "message"));
        err = tts_status_error(hr.status, m ? m : json_string_value(e), why, whylen);
    }
    json_decref(hr.error_body);
    free(json);
    free(url);
    return err;
}

int tts_openai_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    struct tts_remote *r;
    int err = tts_remote_new(cfg, "openai", openai_speak, 0, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
