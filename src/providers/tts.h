/* Text-to-speech engines behind struct tts_ops, one registry row per provider (flite offline by
 * default; remote providers fit the same table). Synthesis streams: PCM chunks reach the sink as
 * they are made, each sentence's phone timings before its audio, so a caller can start playing
 * (and animating lips) before the whole reply is spoken. Engines are shared and thread-safe. */
#ifndef DP_TTS_H
#define DP_TTS_H

#include <stddef.h>
#include <stdint.h>

#define TTS_TEXT_MAX 8192 /* bytes of text one call speaks */
#define TTS_PHONE_MAX 8   /* bytes of a phone name, NUL included */

/* How to speak: 0 / NULL leaves the voice's own. */
struct tts_voice {
    const char *voice;  /* the engine's voice name ("slt", "rms", "awb", "kal16" for flite) */
    float pitch_hz;     /* mean F0 to aim at */
    float pitch_std_hz; /* spread of F0 around the mean (intonation) */
    float rate;         /* speaking rate relative to the voice's own: 1.25 = a quarter faster */
};

/* One phone of the audio being delivered, in ms from the start of the whole call's audio. */
struct tts_phone {
    char phone[TTS_PHONE_MAX]; /* the engine's phone set (ARPAbet-like for flite; "pau" = silence) */
    int start_ms, end_ms;
};

/* Where the audio goes. audio gets mono PCM16 at the engine's rate (tts_engine.rate); phones (may
 * be NULL) gets a sentence's phones before that sentence's audio. A nonzero return from either
 * stops synthesis (the call then returns DP_ERR_CANCELLED): barge-in. */
struct tts_sink {
    int (*audio)(void *arg, const int16_t *pcm, size_t n);
    int (*phones)(void *arg, const struct tts_phone *p, int n);
    void *arg;
};

struct tts_engine;

struct tts_ops {
    const char *name;
    /* Speaks text (UTF-8, ≤ TTS_TEXT_MAX bytes) through sink, sentence by sentence. */
    int (*synthesize)(struct tts_engine *e, const char *text, const struct tts_voice *v, const struct tts_sink *sink,
                      char *why, size_t whylen);
    void (*destroy)(struct tts_engine *e);
};

struct tts_engine {
    const struct tts_ops *ops;
    char name[32];  /* the provider's registry name */
    char voice[64]; /* the default voice */
    int rate;       /* samples per second of the PCM it delivers */
};

struct tts_config {
    const char *provider; /* none | flite (default) | … */
    const char *voice;    /* default voice; "" = the provider's */
    const char *url;      /* remote providers */
    const char *model;
    const char *api_key;
    long timeout_ms;
    const char *fallback; /* remote providers: the local engine that speaks when they fail; "" / none */
};

/* What a provider's registry row holds (struct backend.ops). */
struct tts_provider {
    int (*create)(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen);
};

struct registry;
/* The TTS providers (core/registry.h), by name: flite. */
struct registry *tts_registry(void);
/* Makes the process-wide engine from cfg ("none" leaves none). DP_ERR_INVALID with msg for an
 * unknown provider or voice. Call before threads start. */
int tts_configure(const struct tts_config *cfg, char *msg, size_t msglen);
/* The process-wide engine, or NULL when none is configured. */
struct tts_engine *tts_current(void);
void tts_shutdown(void);

/* Speaks text into one malloc'd buffer (*pcm, *n samples at e->rate); phones likewise when
 * phones is not NULL. */
int tts_synthesize_all(struct tts_engine *e, const char *text, const struct tts_voice *v, int16_t **pcm, size_t *n,
                       struct tts_phone **phones, int *n_phones, char *why, size_t whylen);

/* The mouth shape of a phone, for lip sync: one of sil PP FF TH DD kk CH SS nn RR aa E ih oh ou
 * (the Oculus/MPEG-4-style set of 15). Unknown phones are "sil". */
const char *tts_viseme(const char *phone);

/* The end of the first sentence of text[0..len): the offset just past its terminator (. ! ? …
 * followed by space or the end, or a newline), or len when there is none. For speaking a reply
 * that is still being written one sentence at a time. */
size_t tts_sentence_end(const char *text, size_t len);

extern const struct tts_ops tts_flite_ops;
int tts_flite_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen);
/* Remote synthesizers (tts_remote.h): OpenAI /audio/speech, ElevenLabs streaming, Wyoming TTS. */
int tts_openai_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen);
int tts_elevenlabs_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen);
int tts_wyoming_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen);

#endif
