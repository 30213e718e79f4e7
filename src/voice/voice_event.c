/* The voice WebSocket's client events: one JSON object a text frame, checked field by field. */
#include "voice/voice_event.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"

static const struct {
    const char *name;
    enum voice_event_type type;
} event_names[] = {
    {"session.start", VOICE_EV_SESSION_START},
    {"input.commit", VOICE_EV_INPUT_COMMIT},
    {"response.cancel", VOICE_EV_RESPONSE_CANCEL},
    {"session.end", VOICE_EV_SESSION_END},
};

const char *voice_format_name(enum voice_format f)
{
    return f == VOICE_OPUS ? "opus" : "pcm16";
}

int voice_rate_supported(enum voice_format f, int rate)
{
    /* Opus packets decode at any of its rates whatever they were made at; PCM at the rates sound
     * cards and browsers use, resampled to and from the speech engines' own (16 kHz). */
    static const int opus[] = {8000, 12000, 16000, 24000, 48000};
    static const int pcm[] = {8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000};
    const int *r = f == VOICE_OPUS ? opus : pcm;
    size_t n = f == VOICE_OPUS ? sizeof opus / sizeof *opus : sizeof pcm / sizeof *pcm;
    for (size_t i = 0; i < n; i++)
        if (r[i] == rate)
            return 1;
    return 0;
}

static int fail(const char **code, const char *c, char *msg, size_t msglen, const char *what, int err)
{
    *code = c;
    snprintf(msg, msglen, "%s", what);
    return err;
}

/* Reads {format, rate} at key of o into spec (defaults kept when the key is absent). */
static int audio_spec(const json_t *o, const char *key, struct voice_audio_spec *spec, const char **code, char *msg,
                      size_t msglen)
{
    json_t *a = json_object_get(o, key);
    if (!a)
        return DP_OK;
    if (!json_is_object(a)) {
        snprintf(msg, msglen, "%s must be an object {format, rate}", key);
        *code = "invalid_event";
        return DP_ERR_INVALID;
    }
    json_t *f = json_object_get(a, "format"), *r = json_object_get(a, "rate");
    if (f) {
        const char *s = json_string_value(f);
        if (s && !strcmp(s, "pcm16"))
            spec->format = VOICE_PCM16;
        else if (s && !strcmp(s, "opus"))
            spec->format = VOICE_OPUS;
        else {
            snprintf(msg, msglen, "%s.format must be \"pcm16\" or \"opus\"", key);
            *code = "unsupported_audio";
            return DP_ERR_INVALID;
        }
        if (!r)
            spec->rate = spec->format == VOICE_OPUS ? 48000 : 16000;
    }
    if (r) {
        if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 192000) {
            snprintf(msg, msglen, "%s.rate must be an integer (Hz)", key);
            *code = "invalid_event";
            return DP_ERR_INVALID;
        }
        spec->rate = (int)json_integer_value(r);
    }
    if (!voice_rate_supported(spec->format, spec->rate)) {
        snprintf(
            msg, msglen,
            "%s: %s at %d Hz is not supported (pcm16: 8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000; opus: 8000, 12000, 16000, 24000, 48000)",
            key, voice_format_name(spec->format), spec->rate);
        *code = "unsupported_audio";
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

int voice_event_parse(const char *p, size_t n, struct voice_event *ev, const char **code, char *msg, size_t msglen)
{
    json_t *o = NULL;
    memset(ev, 0, sizeof *ev);
    ev->audio = (struct voice_audio_spec){VOICE_PCM16, 16000};
    ev->reply_audio = (struct voice_audio_spec){VOICE_PCM16, 16000};
    int err = json_parse_body(p, n, VOICE_EVENT_MAX, &o, msg, msglen);
    if (err) {
        *code = err == DP_ERR_TOO_LARGE ? "too_large" : "invalid_json"; /* msg says where */
        return err;
    }
    if (!json_is_object(o)) {
        err = fail(code, "invalid_event", msg, msglen, "an event is a JSON object with a \"type\"", DP_ERR_INVALID);
        goto out;
    }
    const char *type = json_get_str(o, "type");
    if (!type) {
        err = fail(code, "invalid_event", msg, msglen, "the event has no \"type\" string", DP_ERR_INVALID);
        goto out;
    }
    for (size_t i = 0; i < sizeof event_names / sizeof *event_names; i++)
        if (!strcmp(type, event_names[i].name))
            ev->type = event_names[i].type;
    if (!ev->type) {
        char t[48];
        snprintf(t, sizeof t, "%s", type);
        snprintf(msg, msglen, "unknown event type \"%s\" (session.start, input.commit, response.cancel, session.end)",
                 t);
        *code = "unknown_event";
        err = DP_ERR_INVALID;
        goto out;
    }
    if (ev->type != VOICE_EV_SESSION_START)
        goto out;
    if ((err = audio_spec(o, "audio", &ev->audio, code, msg, msglen)) ||
        (err = audio_spec(o, "reply_audio", &ev->reply_audio, code, msg, msglen)))
        goto out;
    json_t *td = json_object_get(o, "turn_detection");
    if (td) {
        const char *t = json_string_value(td);
        if (!t || (strcmp(t, "vad") && strcmp(t, "manual"))) {
            err = fail(code, "invalid_event", msg, msglen, "turn_detection must be \"vad\" or \"manual\"",
                       DP_ERR_INVALID);
            goto out;
        }
        ev->manual = !strcmp(t, "manual");
    }
    json_t *cid = json_object_get(o, "conversation_id");
    if (cid && !json_is_null(cid)) {
        const char *s = json_string_value(cid);
        if (!s || !id_valid(s)) {
            err = fail(code, "invalid_event", msg, msglen, "conversation_id must be a conversation id", DP_ERR_INVALID);
            goto out;
        }
        snprintf(ev->conversation_id, sizeof ev->conversation_id, "%s", s);
    }
out:
    json_decref(o);
    return err;
}
