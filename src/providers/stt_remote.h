/* What remote speech-to-text providers share (OpenAI/Whisper-compatible, Deepgram, Wyoming): a
 * stream that gathers an utterance and has it recognised in one call when it finishes, through the
 * provider's breaker ("stt:NAME", timed for /api/v1/admin/stats), tried once more after a failure
 * that may pass (unreachable, 5xx, stalled, a short 429), and otherwise heard by the local engine
 * (--stt-fallback, pocketsphinx by default) so that a failing provider costs accuracy, not the
 * transcript. A provider file gives only its recognise() and a constructor. */
#ifndef DP_STT_REMOTE_H
#define DP_STT_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "providers/stt.h"

#define STT_REMOTE_ANSWER_MAX ((size_t)4 << 20) /* bytes of one recognition's answer */
#define STT_REMOTE_RETRY_WAIT_MAX_MS 3000       /* longest 429 Retry-After waited for */

struct stt_remote;
/* Frees a remote engine (its provider's cleanup, its fallback, its settings). */
void stt_remote_destroy(struct stt_engine *e);

/* One recognition: pcm (16 kHz mono) → *out (words' times in ms from the start of pcm). Errors:
 * DP_ERR_RATE_LIMITED (*retry_after_ms, -1 when not said), DP_ERR_UNAVAILABLE (unreachable, 5xx,
 * hung up, an answer that is not the protocol's), DP_ERR_TIMEOUT, DP_ERR_INVALID (refused: 4xx);
 * why says what happened, never the key. */
typedef int (*stt_recognize_fn)(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out,
                                long *retry_after_ms, char *why, size_t whylen);

struct stt_remote {
    struct stt_engine base;
    stt_recognize_fn recognize;
    void (*cleanup)(struct stt_remote *r); /* frees what the provider added (may be NULL) */
    char *url;                             /* the configured base URL or host:port */
    char *key;                             /* "" = none; never logged */
    char *language;                        /* "" = the provider's guess */
    long timeout_ms;
    struct stt_engine *fallback; /* NULL: none (--stt-fallback none) */
    void *priv;                  /* the provider's own */
};

/* A remote engine named name (the registry's) recognising with fn; its fallback made from
 * cfg->fallback. DP_ERR_INVALID with msg when the URL is missing or the fallback cannot load. */
int stt_remote_new(const struct stt_config *cfg, const char *name, stt_recognize_fn fn, struct stt_remote **out,
                   char *msg, size_t msglen);

/* A streaming recogniser's transcript so far (Wyoming's transcript-chunk events, before its final
 * transcript): a voice session waiting for the final shows it as transcript.partial. Only heard
 * from a recognition run in the background for a voice session (ready()); ignored otherwise. */
void stt_remote_partial(const char *text);

/* Appends k samples to a growing utterance; DP_ERR_TOO_LARGE past STT_STREAM_MAX_MS. */
int stt_pcm_append(int16_t **pcm, size_t *n, size_t *cap, const int16_t *add, size_t k);
/* The local engine (r->fallback, not NULL) hears pcm after the provider failed (why says how; logged). */
int stt_remote_fallback(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out, char *why,
                        size_t whylen);

/* 16 kHz mono PCM16 as a WAV file in memory (malloc'd): what remote recognisers are sent. */
uint8_t *stt_wav_bytes(const int16_t *pcm, size_t n, size_t *len);

/* The error a non-2xx HTTP status stands for: 429 rate limited, 408/5xx unavailable, others
 * refused. why gets "the speech recogniser answered STATUS: message". */
int stt_status_error(long status, const char *message, char *why, size_t whylen);

/* Appends a word said from start_s to end_s (seconds) to r->words (*cap: its room); a word
 * without letters or with times no recording has is skipped. */
int stt_result_add_word(struct stt_result *r, int *cap, const char *word, double start_s, double end_s, double conf);

#include <jansson.h>
/* Appends each word of words ([{KEY: text, start, end, CONF: 0…1}], times in seconds) to r: its
 * text from key (or, when absent, from alt_key; may be NULL), its confidence from conf_key (absent:
 * 1). Entries without text or times are skipped. The one reader of every provider's word arrays. */
int stt_result_add_words(struct stt_result *r, int *cap, json_t *words, const char *key, const char *alt_key,
                         const char *conf_key);
/* One of Deepgram's alternatives ({transcript, confidence, words}) into *out (zeroed before):
 * pre-recorded answers and streamed Results share it. */
int stt_deepgram_alternative(json_t *alt, struct stt_result *out, char *why, size_t whylen);
/* A 2xx answer (NULL when it was not JSON) into *out (zeroed before; free with stt_result_free,
 * also after an error): OpenAI's verbose_json (or {text}) and Deepgram's pre-recorded result.
 * DP_ERR_UNAVAILABLE with why when it is not the protocol's. Separate for the fuzzer. */
int stt_openai_answer(json_t *answer, struct stt_result *out, char *why, size_t whylen);
int stt_deepgram_answer(json_t *answer, struct stt_result *out, char *why, size_t whylen);

/* One text message of Deepgram's live stream (/v1/listen over a WebSocket). */
enum dg_live_kind { DG_LIVE_OTHER, DG_LIVE_RESULTS, DG_LIVE_METADATA, DG_LIVE_ERROR };
struct dg_live_msg {
    enum dg_live_kind kind;
    int is_final, speech_final, from_finalize; /* Results */
    struct stt_result alt;                     /* Results: the first alternative (free with stt_result_free) */
    char why[200];                             /* Error: its description */
};
/* Parses p (n bytes): Results {is_final, speech_final, from_finalize, channel:{alternatives:[…]}},
 * Metadata, Error {description|message}, others (SpeechStarted, UtteranceEnd) as DG_LIVE_OTHER.
 * DP_ERR_UNAVAILABLE with why when it is not the protocol's. Separate for the fuzzer. */
int stt_deepgram_live_message(const char *p, size_t n, struct dg_live_msg *m, char *why, size_t whylen);

#endif
