/* Transcribing an uploaded recording, shared by POST /api/v1/transcriptions and the facade's
 * POST /v1/audio/transcriptions (each answers in its own shape). */
#ifndef DP_API_TRANSCRIPTIONS_H
#define DP_API_TRANSCRIPTIONS_H

#include <stddef.h>
#include <stdint.h>

#define TRANSCRIBE_BODY_MAX ((size_t)25 << 20)  /* bytes of an upload (OpenAI's cap too) */
#define TRANSCRIBE_MAX_MS ((int64_t)10 * 60000) /* longer recordings belong in media (a background job) */

struct context;
struct request;
struct stt_segment;

struct transcript {
    struct stt_segment *segs; /* free with stt_segments_free */
    int n;
    int64_t duration_ms;
    const char *engine; /* the configured recogniser's name */
};

/* Takes one of the caller's --transcribe-rate tokens: 0, or nonzero with *retry_ms to wait. */
int transcribe_take(struct request *req, struct context *e, int64_t *retry_ms);

/* Decodes a recording (any container ffmpeg reads) and transcribes it with the configured engine.
 * DP_ERR_TOO_LARGE (longer than TRANSCRIBE_MAX_MS), DP_ERR_UNSUPPORTED (not audio ffmpeg reads),
 * DP_ERR_UNAVAILABLE (no engine, or busy) with why. */
int transcribe_bytes(const char *body, size_t len, struct transcript *t, char *why, size_t whylen);

#endif
