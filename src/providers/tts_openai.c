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

/* OpenAI's error shape {error:{message}} (or error as a string). */
static const char *error_message(json_t *body)
{
    json_t *e = json_object_get(body, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : json_string_value(e);
}

static int openai_speak(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                        struct tts_remote_out *o, long *retry_after_ms, char *why, size_t whylen)
{
    const char *voice = v && v->voice && *v->voice ? v->voice : r->base.voice[0] ? r->base.voice : "alloy";
    json_t *body = json_pack("{s:s,s:s%,s:s,s:s}", "model", r->model[0] ? r->model : "tts-1", "input", text, len,
                             "voice", voice, "response_format", "pcm");
    if (body && v && v->rate > 0)
        json_object_set_new(body, "speed", json_real(v->rate < 0.25 ? 0.25 : v->rate > 4 ? 4 : v->rate));
    return tts_remote_post_pcm(r, provider_url(r->url, "audio/speech"), "Authorization: Bearer %s", body,
                               OPENAI_PCM_RATE, o, error_message, retry_after_ms, why, whylen);
}

int tts_openai_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    struct tts_remote *r;
    int err = tts_remote_new(cfg, "openai", openai_speak, 0, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
