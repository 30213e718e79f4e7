/* What the media.ingest handlers share (avatar_jobs.c, media_speech.c): the row's status and the
 * transaction that replaces a file's memories. */
#ifndef DP_MEDIA_INGEST_H
#define DP_MEDIA_INGEST_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct blob_store;
struct job_ctx;

/* Sets a media row's status, detail and (when given) meta. */
int media_job_status(struct db *db, const char *media_id, const char *status, const char *detail, json_t *meta);

/* Starts the transaction that replaces the memories of media_id: its passages and utterances go
 * first, so that a re-run (or a file read as a document once and as a dialogue later) leaves no
 * duplicates. On error nothing is open. */
int media_memories_begin(struct db *db, const char *media_id);
/* Ends what media_memories_begin() started: commits when err is DP_OK, else rolls back. */
int media_memories_end(struct db *db, int err);

/* media.ingest of an audio or video file: decoded to 16 kHz mono, transcribed into timestamped
 * segments stored as utterance memories (source {media_id, start_ms, end_ms}), the transcript
 * kept as the media's "transcript" derived file with a version counted up on every run. */
int media_ingest_speech(struct job_ctx *ctx, struct blob_store *bs, const char *media_id, const char *avatar_id,
                        const char *key, int own_voice, char **error_msg, int *error_owned);

#define MEDIA_SPEECH_WINDOW_MS ((long)10 * 60 * 1000) /* recording decoded and transcribed at a time */
/* The window of transcription (ms; before serving; tests make it small). 0 = the default. */
void media_speech_configure(long window_ms);

struct stt_segment;
/* {engine, duration_ms, truncated, text, segments:[{start_ms,end_ms,text,confidence}]}: a transcript
 * as the API shows it (GET /media/{id} adds its version; POST /transcriptions answers it). */
json_t *speech_transcript_json(const struct stt_segment *s, int n, const char *engine, int64_t duration_ms,
                               int truncated);

#define MEDIA_TRANSCRIPT_MAX ((uint64_t)16 << 20) /* bytes of a stored transcript read back */

/* The latest transcript of media_id (its "transcript" derived file), or *out NULL when it has none. */
int media_transcript(struct db *db, struct blob_store *bs, const char *media_id, json_t **out);

#endif
