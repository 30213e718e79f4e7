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
    char *id = curl_easy_escape(NULL, voice, 0); /* a voice id from an avatar's settings: never a path */
    char path[400];
    snprintf(path, sizeof path, "text-to-speech/%s/stream?output_format=pcm_16000", id ? id : "");
    curl_free(id);
    return tts_remote_post_pcm(r, provider_url(r->url, path), "xi-api-key: %s", body, ELEVENLABS_RATE, o,
                               detail_message, retry_after_ms, why, whylen);
}

int tts_elevenlabs_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    struct tts_remote *r;
    int err = tts_remote_new(cfg, "elevenlabs", elevenlabs_speak, 1, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
