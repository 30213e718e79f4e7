/* Text to speech from ElevenLabs' streaming endpoint: POST
 * {url}/text-to-speech/{voice_id}/stream?output_format=pcm_16000 with "xi-api-key: KEY" and
 * {text, model_id} → raw 16 kHz mono PCM16 (little-endian) as it is made; errors {detail:{status,
 * message}} (or detail as a string, or a list for a 422). The voice id is the avatar's when it has
 * one (a per-avatar voice), else --tts-voice. The base URL is https://api.elevenlabs.io/v1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/err.h"
#include "net/http_client.h"
#include "providers/provider_call.h"
#include "providers/tts_remote.h"

#define ELEVENLABS_RATE 16000

struct call {
    struct tts_remote_out *o;
};

static int on_audio(void *ctx, const void *p, size_t len)
{
    struct call *c = ctx;
    return tts_remote_pcm(c->o, ELEVENLABS_RATE, p, len);
}

static const char *detail_message(json_t *body)
{
    json_t *d = json_object_get(body, "detail");
    if (json_is_string(d))
        return json_string_value(d);
    if (json_is_array(d))
        d = json_array_get(d, 0);
    const char *m = json_string_value(json_object_get(d, "message"));
    return m ? m : json_string_value(json_object_get(d, "msg"));
}

static int elevenlabs_speak(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                            struct tts_remote_out *o, long *retry_after_ms, char *why, size_t whylen)
{
    const char *voice = v && v->voice && *v->voice ? v->voice : r->base.voice;
    json_t *body = json_pack("{s:s%,s:s}", "text", text, len, "model_id", r->model[0] ? r->model : "eleven_flash_v2_5");
    char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *id = curl_easy_escape(NULL, voice, 0); /* a voice id from an avatar's settings: never a path */
    char path[400];
    snprintf(path, sizeof path, "text-to-speech/%s/stream?output_format=pcm_16000", id ? id : "");
    curl_free(id);
    char *url = provider_url(r->url, path);
    char auth[600] = "";
    if (r->key[0])
        snprintf(auth, sizeof auth, "xi-api-key: %s", r->key);
    int err = json && url ? DP_OK : DP_ERR_NOMEM;
    struct http_stream_result hr = {0};
    struct call c = {o};
    if (!err) {
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
    if (!err && hr.status / 100 != 2)
        err = tts_status_error(hr.status, detail_message(hr.error_body), why, whylen);
    json_decref(hr.error_body);
    free(json);
    free(url);
    return err;
}

int tts_elevenlabs_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    struct tts_remote *r;
    int err = tts_remote_new(cfg, "elevenlabs", elevenlabs_speak, 1, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
