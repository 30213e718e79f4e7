/* What remote text-to-speech providers share (OpenAI /audio/speech, ElevenLabs, Wyoming): the reply
 * is spoken sentence by sentence, each sentence one call through the provider's breaker ("tts:NAME",
 * timed for /api/v1/admin/stats) whose audio streams to the sink as it arrives, converted to
 * TTS_REMOTE_RATE whatever rate the provider sends; a sentence that fails before its first byte is
 * tried once more (unreachable, 5xx, stalled, a short 429), and then it and the rest of the reply
 * are spoken by the local engine (--tts-fallback, flite by default). No phone timings: remote
 * engines give none. A provider file gives only its speak() and a constructor. */
#ifndef DP_TTS_REMOTE_H
#define DP_TTS_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "providers/tts.h"

#define TTS_REMOTE_RATE 16000                    /* what the sink gets (flite's rate, so fallback matches) */
#define TTS_REMOTE_SENTENCE_MAX 4000             /* bytes of one call (OpenAI takes 4096 characters) */
#define TTS_REMOTE_ANSWER_MAX ((size_t)64 << 20) /* bytes of one sentence's audio */
#define TTS_REMOTE_RETRY_WAIT_MAX_MS 3000        /* longest 429 Retry-After waited for */

struct tts_remote;
struct tts_remote_out;

/* Hands len bytes of little-endian PCM16 mono at rate (any split, odd lengths included) to the
 * reply's sink; nonzero when the sink stopped the call (barge-in): return it from a data callback. */
int tts_remote_pcm(struct tts_remote_out *o, int rate, const void *bytes, size_t len);

/* One sentence: text[0..len) spoken with v (voice NULL: r's default) into o. Errors as
 * stt_recognize_fn's, and DP_ERR_CANCELLED when o's sink stopped it. */
typedef int (*tts_speak_fn)(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                            struct tts_remote_out *o, long *retry_after_ms, char *why, size_t whylen);

struct tts_remote {
    struct tts_engine base; /* rate TTS_REMOTE_RATE; voice the configured default */
    tts_speak_fn speak;
    void (*cleanup)(struct tts_remote *r);
    char *url;   /* base URL or host:port */
    char *key;   /* "" = none; never logged */
    char *model; /* "" = the provider's default */
    long timeout_ms;
    struct tts_engine *fallback; /* NULL: none */
    void *priv;
};

/* A remote engine named name speaking with fn, its fallback made from cfg->fallback. needs_voice:
 * the provider has no default voice (ElevenLabs: a voice id). DP_ERR_INVALID with msg otherwise. */
int tts_remote_new(const struct tts_config *cfg, const char *name, tts_speak_fn fn, int needs_voice,
                   struct tts_remote **out, char *msg, size_t msglen);

/* The error a non-2xx HTTP status stands for (see stt_status_error); why names the synthesizer. */
int tts_status_error(long status, const char *message, char *why, size_t whylen);

#include <jansson.h>
/* POSTs body (JSON; taken) to url (malloc'd; taken) with the key in auth_format ("Authorization:
 * Bearer %s") and streams the 2xx answer, raw PCM16 at rate, into o; another status is judged by
 * tts_status_error with message(its JSON body) (may be NULL). For the HTTP providers. */
int tts_remote_post_pcm(struct tts_remote *r, char *url, const char *auth_format, json_t *body, int rate,
                        struct tts_remote_out *o, const char *(*message)(json_t *error_body), long *retry_after_ms,
                        char *why, size_t whylen);

#endif
