/* The voice WebSocket's client events (API.md "Voice WebSocket"): JSON text frames parsed and
 * checked into one struct, so the session never reads outside JSON itself. */
#ifndef DP_VOICE_EVENT_H
#define DP_VOICE_EVENT_H

#include <stddef.h>

#include "core/id.h"

#define VOICE_EVENT_MAX 4096 /* bytes of one client event */

enum voice_event_type {
    VOICE_EV_SESSION_START = 1,
    VOICE_EV_INPUT_COMMIT,
    VOICE_EV_RESPONSE_CANCEL,
    VOICE_EV_SESSION_END,
};

enum voice_format {
    VOICE_PCM16 = 1, /* little-endian signed 16-bit mono */
    VOICE_OPUS,      /* one Opus packet a binary frame */
};

struct voice_audio_spec {
    enum voice_format format;
    int rate; /* Hz */
};

struct voice_event {
    enum voice_event_type type;
    /* session.start only: */
    struct voice_audio_spec audio;       /* what the client sends (default pcm16 16000) */
    struct voice_audio_spec reply_audio; /* what it wants back (default pcm16 16000) */
    char conversation_id[ID_LEN];        /* "" = start a new conversation */
    int manual;                          /* turn_detection "manual": turns end at input.commit only */
};

/* Parses one text frame. DP_OK with *ev filled, or DP_ERR_INVALID / DP_ERR_BAD_JSON /
 * DP_ERR_TOO_LARGE with code (a stable error code for the client's `error` event, static) and msg
 * (what is wrong) set. */
int voice_event_parse(const char *p, size_t n, struct voice_event *ev, const char **code, char *msg, size_t msglen);

/* 1 when rate (Hz) is one a client may send or ask for with this format. */
int voice_rate_supported(enum voice_format f, int rate);

const char *voice_format_name(enum voice_format f);

#endif
