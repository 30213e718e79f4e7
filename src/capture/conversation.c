/* capture.transcribe: from a closed recording to the self avatar's memories. */
#include "capture/conversation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/wav.h"
#include "auth/caller.h"
#include "avatar/avatar.h"
#include "avatar/avatar_store.h"
#include "avatar/media.h"
#include "avatar/media_ingest.h"
#include "avatar/media_timeline.h"
#include "capture/crop.h"
#include "capture/speech.h"
#include "core/context.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "store/blob.h"
#include "store/db.h"

/* Serialises "find or create the user's self avatar" (two conversations closing at once). */
#define CONVERSATION_LOCK_SELF 0x646f7070656c0029LL
#define MEMORIES_SHOWN 500 /* memories listed on GET /recordings/{id} */

int conversation_enqueue(struct db *db, const char *id, const char *user_id, char job_id[ID_LEN])
{
    json_t *payload = json_pack("{s:s}", "recording_id", id);
    if (!payload)
        return DP_ERR_NOMEM;
    int err = job_enqueue(db, "capture.transcribe", payload, user_id, NULL, job_id);
    json_decref(payload);
    return err;
}

/* The VAD over the recording's WAV (written by recording_close: header, then PCM16). */
static int find_speech(struct blob_store *bs, const char *key, long rate, long channels, struct speech_track *t)
{
    struct blob_reader *r;
    uint64_t size;
    int err = blob_reader_open(bs, key, &r, &size);
    if (err)
        return err;
    speech_track_init(t, rate, channels, 0, 1);
    size_t piece = (size_t)(rate * channels * 2) * 10; /* 10 s */
    char *buf = malloc(piece);
    if (!buf) {
        blob_reader_close(r);
        return DP_ERR_NOMEM;
    }
    for (uint64_t off = WAV_HEADER_LEN; off < size && !err;) {
        long got = blob_read_at(r, off, buf, piece);
        if (got <= 0) {
            err = got < 0 ? DP_ERR_IO : DP_OK;
            break;
        }
        err = speech_track_feed(t, buf, (size_t)got);
        off += (uint64_t)got;
    }
    speech_track_finish(t);
    free(buf);
    blob_reader_close(r);
    return err;
}

/* The user's self avatar (their oldest live one), created when they have none. */
static int self_avatar(struct db *db, struct cache *cache, const char *user_id, char avatar_id[ID_LEN],
                       char org_id[ID_LEN])
{
    int created = 0;
    int err = db_begin(db);
    if (err)
        return err;
    struct db_rows *r = NULL;
    struct db_val p[] = {DB_TEXT(user_id)};
    if (!(err = db_xact_lock(db, CONVERSATION_LOCK_SELF)))
        err = db_query(db,
                       "SELECT u.org_id, u.display_name, (SELECT a.id FROM avatars a WHERE a.owner_id = u.id AND "
                       "a.kind = 'self' AND a.deleted_at IS NULL ORDER BY a.created_at, a.id LIMIT 1) FROM users u "
                       "WHERE u.id = ?",
                       p, 1, &r);
    if (!err && r->nrows == 0)
        err = DP_ERR_NOT_FOUND;
    if (!err) {
        snprintf(org_id, ID_LEN, "%s", db_rows_text(r, 0, 0));
        if (!db_rows_is_null(r, 0, 2))
            snprintf(avatar_id, ID_LEN, "%s", db_rows_text(r, 0, 2));
        else {
            struct caller c = {.role = ROLE_MEMBER};
            snprintf(c.user_id, sizeof c.user_id, "%s", user_id);
            snprintf(c.org_id, sizeof c.org_id, "%s", org_id);
            json_t *body = json_pack("{s:s,s:s,s:s}", "name", db_rows_text(r, 0, 1), "kind", "self", "description",
                                     "What I said, from my devices' recordings.");
            json_t *made = NULL;
            if (!(err = avatar_create(db, &c, body, &made))) {
                snprintf(avatar_id, ID_LEN, "%s", json_string_value(json_object_get(made, "id")));
                created = 1;
            }
            json_decref(body);
            json_decref(made);
        }
    }
    db_rows_free(r);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    else if (created) /* the user's avatar lists show it now */
        avatar_lists_forget(cache, org_id, user_id);
    return err;
}

/* Files the recording's audio, cropped to its speech (crop.h), as a media item of the self avatar
 * (queued for transcription) that knows when it was recorded (started_at) and what of the
 * recording it keeps. The same bytes filed again (a re-run after a crash) answer the existing
 * item: nothing doubles. */
static int file_audio(const struct context *e, const char *rec_id, const char *user_id, const char *key,
                      const char *device, const char *started_at, const json_t *timeline, char media_id[ID_LEN],
                      char avatar_id[ID_LEN], char *msg, size_t msglen)
{
    char org_id[ID_LEN];
    int err = self_avatar(e->db, e->cache, user_id, avatar_id, org_id);
    if (err)
        return err;
    struct blob_writer *w;
    uint64_t size;
    char sniff[MEDIA_SNIFF_BYTES];
    size_t sniff_len;
    if ((err = crop_write(e->blobs, key, timeline, &w, &size, sniff, sizeof sniff, &sniff_len)))
        return err;
    char name[128], job[ID_LEN];
    snprintf(name, sizeof name, "%s-%s.wav", device, rec_id);
    char *pieces = json_dumps(timeline, JSON_COMPACT);
    struct media_origin origin = {started_at, pieces};
    json_t *media = NULL;
    err = pieces ? media_create(e->db, e->blobs, w, size, sniff, sniff_len, avatar_id, user_id, org_id, name, 0,
                                &origin, &media, job, msg, msglen)
                 : (blob_abort(w), DP_ERR_NOMEM);
    free(pieces);
    if (err) {
        DP_LOG(LOG_WARN, "[capture] conversation %s not filed (%s %s)", rec_id, dp_strerror(err), msg);
        return err;
    }
    snprintf(media_id, ID_LEN, "%s", json_string_value(json_object_get(media, "id")));
    json_decref(media);
    avatar_cache_forget(e->cache, avatar_id);
    return DP_OK;
}

static int transcribe(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    (void)error_owned;
    const char *id = json_string_value(json_object_get(ctx->payload, "recording_id"));
    if (!id || !id_valid(id)) {
        *error_msg = "payload has no recording_id";
        return DP_ERR_INVALID;
    }
    struct context e = job_context(ctx);
    struct db_val p[] = {DB_TEXT(id)};
    struct db_rows *r;
    int err =
        db_query(e.db,
                 "SELECT user_id, blob_key, rate, channels, device_name, media_id, started_at FROM recordings WHERE "
                 "id = ? "
                 "AND status = 'closed'",
                 p, 1, &r);
    if (err)
        return err;
    /* Gone, or filed already (a reprocess of a filed one goes to its media instead). */
    if (r->nrows == 0 || !db_rows_is_null(r, 0, 5)) {
        db_rows_free(r);
        return DP_OK;
    }
    char user_id[ID_LEN], key[BLOB_KEY_LEN + 1] = "", device[65], started_at[RFC3339_LEN];
    snprintf(user_id, sizeof user_id, "%s", db_rows_text(r, 0, 0));
    snprintf(started_at, sizeof started_at, "%s", db_rows_text(r, 0, 6));
    if (!db_rows_is_null(r, 0, 1))
        snprintf(key, sizeof key, "%s", db_rows_text(r, 0, 1));
    long rate = (long)db_rows_int(r, 0, 2), channels = (long)db_rows_int(r, 0, 3);
    snprintf(device, sizeof device, "%s", db_rows_text(r, 0, 4));
    db_rows_free(r);
    struct speech_track t;
    speech_track_init(&t, rate, channels, 0, 1);
    if (*key) {
        speech_track_free(&t);
        if ((err = find_speech(e.blobs, key, rate, channels, &t))) {
            speech_track_free(&t);
            return err;
        }
    }
    job_progress(ctx, 30);
    char media_id[ID_LEN] = "", avatar_id[ID_LEN] = "";
    int heard = t.speech_ms >= CONVERSATION_SPEECH_MIN_MS;
    const char *state = heard ? "transcribed" : "silent", *why = NULL;
    char msg[256] = "";
    json_t *timeline = crop_plan(t.segments, t.fed_frames * 1000 / (rate > 0 ? rate : 1));
    if (heard &&
        (err = file_audio(&e, id, user_id, key, device, started_at, timeline, media_id, avatar_id, msg, sizeof msg))) {
        /* Refused for good (over the user's quota): said on the recording, not retried. */
        if (err != DP_ERR_QUOTA && err != DP_ERR_UNSUPPORTED && err != DP_ERR_UNPROCESSABLE) {
            json_decref(timeline);
            speech_track_free(&t);
            return err;
        }
        state = "failed";
        why = *msg ? msg : dp_strerror(err);
    }
    char *segs = json_dumps(t.segments, JSON_COMPACT);
    struct db_val u[] = {
        DB_TEXT(state), DB_TEXT(why), DB_INT(t.speech_ms), DB_TEXT(segs), DB_TEXT(*media_id ? media_id : NULL),
        DB_TEXT(id)};
    err = db_query(e.db,
                   "UPDATE recordings SET conversation = ?, conversation_error = ?, speech_ms = ?, segments = ?, "
                   "media_id = ? WHERE id = ? AND media_id IS NULL",
                   u, 6, NULL);
    free(segs);
    DP_LOG(LOG_INFO, "[capture] conversation %s: %lld ms of speech in %zu segment(s)%s%s", id, (long long)t.speech_ms,
           json_array_size(t.segments), *media_id ? ", filed cropped to speech as media " : " (no conversation)",
           media_id);
    json_decref(timeline);
    speech_track_free(&t);
    return err;
}

void conversation_jobs_register(void)
{
    jobs_register("capture.transcribe", transcribe, 5);
}

int conversation_reprocess(const struct context *e, const char *user_id, const char *id, char job_id[ID_LEN])
{
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(user_id)};
    struct db_rows *r;
    int err = db_query(e->db,
                       "SELECT r.status, r.media_id, m.avatar_id, a.org_id FROM recordings r LEFT JOIN media m ON m.id "
                       "= r.media_id LEFT JOIN avatars a ON a.id = m.avatar_id WHERE r.id = ? AND r.user_id = ?",
                       p, 2, &r);
    if (err)
        return err;
    if (r->nrows == 0)
        err = DP_ERR_NOT_FOUND;
    else if (strcmp(db_rows_text(r, 0, 0), "closed"))
        err = DP_ERR_CONFLICT;
    else if (!db_rows_is_null(r, 0, 1) && !db_rows_is_null(r, 0, 2))
        err = media_reprocess(e->db, db_rows_text(r, 0, 1), db_rows_text(r, 0, 2), user_id, db_rows_text(r, 0, 3),
                              job_id);
    else {
        /* Not filed (no speech found, or its media deleted): look for speech again. */
        struct db_val q[] = {DB_TEXT(id)};
        if (!(err = db_begin(e->db)) &&
            !(err = db_query(
                  e->db,
                  "UPDATE recordings SET conversation = NULL, conversation_error = NULL, media_id = NULL WHERE id = ?",
                  q, 1, NULL)) &&
            !(err = conversation_enqueue(e->db, id, user_id, job_id)))
            err = db_commit(e->db);
        if (err)
            db_rollback(e->db);
    }
    db_rows_free(r);
    return err;
}

int conversation_detail(const struct context *e, json_t *rec)
{
    const char *media_id = json_string_value(json_object_get(json_object_get(rec, "conversation"), "media_id"));
    json_t *transcript = NULL, *memories = json_array();
    int err = DP_OK;
    if (media_id) {
        char mid[ID_LEN];
        snprintf(mid, sizeof mid, "%s", media_id);
        if ((err = media_transcript(e->db, e->blobs, mid, &transcript)))
            goto out;
        /* What of the recording the filed audio keeps: the transcript's and memories' times are
         * in it (crop.h); filed before cropping existed, it is the recording uncut (null). */
        struct media_clock clock;
        if ((err = media_clock_load(e->db, mid, &clock)))
            goto out;
        json_object_set_new(json_object_get(rec, "conversation"), "crop",
                            clock.timeline ? json_incref(clock.timeline) : json_null());
        media_clock_free(&clock);
        struct db_val p[] = {DB_TEXT(mid), DB_INT(MEMORIES_SHOWN)};
        struct db_rows *r;
        if ((err = db_query(e->db,
                            "SELECT id, kind, text, start_ms, end_ms, occurred_at FROM memories WHERE media_id = ? "
                            "ORDER BY start_ms, id LIMIT ?",
                            p, 2, &r)))
            goto out;
        for (int i = 0; i < r->nrows; i++) {
            const char *said = db_rows_is_null(r, i, 5) ? NULL : db_rows_text(r, i, 5);
            json_array_append_new(memories,
                                  json_pack("{s:s,s:s,s:s,s:{s:s,s:I,s:I},s:o}", "id", db_rows_text(r, i, 0), "kind",
                                            db_rows_text(r, i, 1), "text", db_rows_text(r, i, 2), "source", "media_id",
                                            mid, "start_ms", (json_int_t)db_rows_int(r, i, 3), "end_ms",
                                            (json_int_t)db_rows_int(r, i, 4), "occurred_at",
                                            said ? json_string(said) : json_null()));
        }
        db_rows_free(r);
    }
out:
    json_object_set_new(rec, "transcript", transcript ? transcript : json_null());
    json_object_set_new(rec, "memories", memories);
    return err;
}
