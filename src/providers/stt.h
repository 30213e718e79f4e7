/* Speech-to-text engines: streaming recognition of 16 kHz mono PCM16 behind struct stt_ops, one
 * registry row per provider (pocketsphinx offline by default; a remote Whisper-class provider fits
 * the same table: it buffers what is fed, answers no partials, and sends the audio at finish).
 * An engine is shared and thread-safe; a stream belongs to one thread at a time. */
#ifndef DP_STT_H
#define DP_STT_H

#include <stddef.h>
#include <stdint.h>

#define STT_RATE 16000          /* the only input format: 16 kHz, mono, signed 16-bit */
#define STT_WORD_MAX 64         /* bytes of one recognised word, NUL included */
#define STT_STREAM_MAX_MS 60000 /* audio one utterance may hold before finish must be called */
#define STT_PRIME_MS 15000      /* speech stt_transcribe lets an adapting engine hear first */
#define STT_SPAN_MAX_MS 22000   /* the longest stretch stt_transcribe recognises at once, padding included */

/* One recognised word and where it was said, in ms from the start of the utterance. */
struct stt_word {
    char word[STT_WORD_MAX];
    int start_ms, end_ms;
    float confidence; /* 0 … 1 */
};

/* What a stream heard in one utterance. */
struct stt_result {
    char *text;             /* malloc'd UTF-8, words joined by one space; "" when nothing was heard */
    struct stt_word *words; /* malloc'd, n_words of them, in time order (NULL when none) */
    int n_words;
    float confidence; /* the utterance's, 0 … 1 (the words' mean where the engine gives only those) */
    int duration_ms;  /* audio the utterance held */
};

void stt_result_free(struct stt_result *r);

struct stt_engine;
struct stt_stream;

struct stt_ops {
    const char *name;
    /* A stream ready for its first utterance. Streams are cheap: an engine with a pool of decoders
     * lends one only while an utterance is being fed (what arrives while all are lent waits in the
     * stream), so many idle streams share a few decoders. */
    int (*open)(struct stt_engine *e, struct stt_stream **out);
    /* Adds n samples to the current utterance. DP_ERR_TOO_LARGE past STT_STREAM_MAX_MS. */
    int (*feed)(struct stt_stream *s, const int16_t *pcm, size_t n);
    /* The best guess so far (malloc'd, maybe ""), or DP_ERR_UNSUPPORTED for engines without
     * partial results. Cheap enough to call every few hundred ms. */
    int (*partial)(struct stt_stream *s, char **text);
    /* Ends the utterance: *out filled (free with stt_result_free); the stream is then ready for
     * the next utterance. why says what failed (never secrets); DP_ERR_UNAVAILABLE when no decoder
     * came free in time. */
    int (*finish)(struct stt_stream *s, struct stt_result *out, char *why, size_t whylen);
    /* 1 when finish would not wait: the stream holds a decoder, or one was free and is now its
     * (and what waited for it has been heard). A caller that must not hold its thread (a voice
     * session on the server's workers) asks again later instead of finishing now. NULL: an
     * engine whose finish never waits for a decoder. */
    int (*ready)(struct stt_stream *s);
    /* Drops the current utterance unheard (barge-in, cancel). */
    void (*reset)(struct stt_stream *s);
    /* Gives the stream (and its decoder) back. */
    void (*close)(struct stt_stream *s);
    void (*destroy)(struct stt_engine *e);
};

struct stt_engine {
    const struct stt_ops *ops;
    char name[32];   /* the provider's registry name */
    char model[128]; /* what recognises: a model directory or a remote model name */
    int adapts;      /* a stream learns the channel from what it hears (so a first hearing is worse) */
};

struct stt_config {
    const char *provider;  /* none | pocketsphinx (default) | … */
    const char *model_dir; /* pocketsphinx: acoustic model, language model and dictionary; "" = Debian's en-us */
    int pool;              /* pocketsphinx: decoders kept loaded (each ~90 MB); 0 = 2 */
    const char *url;       /* remote providers: base URL */
    const char *model;     /* remote providers: model name */
    const char *api_key;   /* remote providers: "" = none */
    long timeout_ms;
    const char *language; /* remote providers: ISO 639-1 code sent along; "" = the provider's guess */
    const char *fallback; /* remote providers: the local engine that answers when they fail; "" / none */
};

/* What a provider's registry row holds (struct backend.ops). */
struct stt_provider {
    int (*create)(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);
};

struct registry;
/* The STT providers (core/registry.h), by name: pocketsphinx. */
struct registry *stt_registry(void);
/* Makes the process-wide engine from cfg ("none" leaves none). DP_ERR_INVALID with msg for an
 * unknown provider or a model that does not load. Call before threads start. */
int stt_configure(const struct stt_config *cfg, char *msg, size_t msglen);
/* The process-wide engine, or NULL when none is configured. */
struct stt_engine *stt_current(void);
void stt_shutdown(void);

/* One stretch of a longer recording, from stt_transcribe. */
struct stt_segment {
    int start_ms, end_ms; /* in the whole recording */
    char *text;           /* malloc'd */
    float confidence;
    struct stt_word *words; /* malloc'd, times in the whole recording */
    int n_words;
};

/* Progress of stt_transcribe: done of total ms; returns nonzero to stop (DP_ERR_CANCELLED). */
typedef int (*stt_progress_fn)(void *arg, int64_t done_ms, int64_t total_ms);

/* Transcribes a whole recording (16 kHz mono PCM16) with e: cut at pauses into utterances of at
 * most ~20 s, each recognised on one stream, empty ones dropped. An engine that adapts first
 * listens to up to STT_PRIME_MS of the speech unrecorded, so the first utterances are heard as
 * well as the later ones. *segs malloc'd (free with
 * stt_segments_free). progress may be NULL. */
int stt_transcribe(struct stt_engine *e, const int16_t *pcm, size_t n, struct stt_segment **segs, int *n_segs,
                   stt_progress_fn progress, void *arg, char *why, size_t whylen);
void stt_segments_free(struct stt_segment *segs, int n);

/* stt_transcribe of one window of a longer recording, decoded from start_ms of it, on stream s
 * (the caller's, kept from window to window: an adapting engine is primed on the first one, while
 * *primed is 0). Only the stretches that begin before keep_ms (window time; all when keep_ms < 0)
 * are recognised, so a window decoded STT_SPAN_MAX_MS longer than keep_ms holds each of them
 * whole. Segment times are the whole recording's; *next_ms is where the next window starts: the
 * end of the last stretch heard, or start_ms + keep_ms. */
int stt_transcribe_window(struct stt_engine *e, struct stt_stream *s, int *primed, const int16_t *pcm, size_t n,
                          int64_t start_ms, int64_t keep_ms, struct stt_segment **segs, int *n_segs, int64_t *next_ms,
                          stt_progress_fn progress, void *arg, char *why, size_t whylen);

extern const struct stt_ops stt_pocketsphinx_ops;
int stt_pocketsphinx_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);
/* Remote recognisers (stt_remote.h): OpenAI/Whisper-compatible, Deepgram pre-recorded, Wyoming ASR. */
int stt_openai_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);
int stt_deepgram_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);
/* Deepgram live streaming over a WebSocket: interim results as partials, never a worker held. */
int stt_deepgram_live_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);
int stt_wyoming_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen);

#endif
