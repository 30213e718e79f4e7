/* What a closed recording becomes: the capture.transcribe job finds its speech (VAD) and, when
 * it holds a conversation, files its audio as a media item of the user's self avatar (created
 * on first use), whose transcription (media.ingest) makes the timestamped utterance memories,
 * each citing its span of the recording. Blocking (database, blobs): workers and jobs. */
#ifndef DP_CAPTURE_CONVERSATION_H
#define DP_CAPTURE_CONVERSATION_H

#include <jansson.h>

#include "core/id.h"

struct context;
struct db;

#define CONVERSATION_SPEECH_MIN_MS 1000 /* less speech than this in a recording: no conversation */

/* Queues the transcription of closed recording id of user_id (inside the caller's transaction). */
int conversation_enqueue(struct db *db, const char *id, const char *user_id, char job_id[ID_LEN]);

/* Registers capture.transcribe (before jobs_start). */
void conversation_jobs_register(void);

/* POST /recordings/{id}/reprocess: the next version of its transcript and memories (or a new
 * look for speech, when none was found or it is not filed yet). DP_ERR_NOT_FOUND (not the
 * user's), DP_ERR_CONFLICT (still open). */
int conversation_reprocess(const struct context *e, const char *user_id, const char *id, char job_id[ID_LEN]);

/* Adds to a recording's JSON (recording_get_json) its transcript and the memories made from it. */
int conversation_detail(const struct context *e, json_t *rec);

#endif
