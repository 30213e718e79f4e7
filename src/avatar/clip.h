/* Spans of an avatar's recordings: the source of a memory ({media_id, start_ms, end_ms}), whether
 * a reply can be heard from the recording it cites, and the WAV clip of a span. */
#ifndef DP_CLIP_H
#define DP_CLIP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

struct blob_store;
struct db;
struct memory_source;

#define CLIP_SPAN_MAX_MS (10 * 60 * 1000) /* longest span a memory may point at */

/* Reads a memory's source object for avatar_id and checks it: media_id a media row of this
 * avatar (an unknown id and another avatar's media get the same answer, so nothing leaks), of
 * kind audio or video; 0 <= start_ms < end_ms; at most CLIP_SPAN_MAX_MS long; end_ms within the
 * recording when its length is known (PCM WAV). DP_OK with *out set (media_id borrowed from src);
 * DP_ERR_INVALID with the reason in msg; database errors as they come. */
int clip_source_read(struct db *db, struct blob_store *bs, const char *avatar_id, json_t *src,
                     struct memory_source *out, char *msg, size_t msglen);

/* The memory a reply can be heard from: its first citation's, when that memory of avatar_id
 * points at a span of an audio or video recording. 1 with out set; 0 when the reply has no audio
 * (also on a database error: a reply is not refused for want of a clip). */
int clip_reply_memory(struct db *db, const char *avatar_id, json_t *citations, char out[ID_LEN]);

/* Whether a media MIME type is WAV (the one container clip_wav_open cuts). */
int clip_is_wav(const char *mime);

/* Cuts [start_ms, end_ms) of the WAV blob `key` (on frame boundaries, clamped to the recording)
 * into an unlinked temporary file holding a WAV with a fresh header. On DP_OK *fd (the caller
 * closes it) and *len (header + samples) are set. DP_ERR_UNSUPPORTED: a WAV whose samples are not
 * integer PCM; DP_ERR_UNPROCESSABLE: not a readable WAV; DP_ERR_NOT_FOUND: no such blob; DP_ERR_IO. */
int clip_wav_open(struct blob_store *bs, const char *key, int64_t start_ms, int64_t end_ms, int *fd, uint64_t *len);

#endif
