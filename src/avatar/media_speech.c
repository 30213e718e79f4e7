/* media.ingest for audio and video: ffmpeg (sandboxed) decodes the file to 16 kHz mono, the STT
 * engine transcribes it stretch by stretch between pauses, and each stretch becomes an utterance
 * memory pointing at its span of the recording, so recall can quote it and play it back. The
 * whole transcript is kept as a derived JSON file; re-running the job makes its next version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/media.h"
#include "avatar/media_ingest.h"
#include "avatar/media_timeline.h"
#include "avatar/quota.h"
#include "avatar/voice_profile.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "ingest/audio_decode.h"
#include "jobs/jobs.h"
#include "providers/stt.h"
#include "store/blob.h"
#include "store/db.h"

#define MEDIA_SPEECH_MAX_MS ((int64_t)3 * 3600 * 1000) /* longer recordings: the first 3 hours */
#define MEDIA_VOICE_MS ((size_t)5 * 60000)             /* of an own-voice file, what the profile measures */

static int64_t speech_window_ms = MEDIA_SPEECH_WINDOW_MS;

void media_speech_configure(long window_ms)
{
    speech_window_ms = window_ms > 0 ? window_ms : MEDIA_SPEECH_WINDOW_MS;
}

/* A file marked as the avatar's own voice feeds its voice profile (its first minutes: enough to
 * know a voice, and the measurement costs CPU). Too little speech adds nothing. */
static int feed_voice_profile(struct db *db, const char *avatar_id, const char *media_id, const int16_t *pcm, size_t n)
{
    struct voice_features f;
    size_t cap = MEDIA_VOICE_MS * (AUDIO_DECODE_RATE / 1000);
    features_measure(pcm, n < cap ? n : cap, &f);
    if (f.speech_s * 1000 < VOICE_SAMPLE_MIN_MS || f.voiced_s <= 0)
        return DP_OK;
    return voice_profile_add(db, avatar_id, media_id, &f, NULL);
}

/* The transcript version of media_id's last run (0: none yet), from its meta. */
static int last_version(struct db *db, const char *media_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id)};
    if (db_query(db, "SELECT meta FROM media WHERE id = ?", p, 1, &r))
        return 0;
    int v = 0;
    json_t *meta = r->nrows == 1 && db_rows_text(r, 0, 0) ? json_loads(db_rows_text(r, 0, 0), 0, NULL) : NULL;
    if (meta)
        v = (int)json_integer_value(json_object_get(meta, "transcript_version"));
    json_decref(meta);
    db_rows_free(r);
    return v;
}

/* Each segment becomes an utterance memory; a recording whose start is known (a device's
 * conversation) gives each the wall-clock time it was said (media_timeline.h). */
static int store_segments(struct db *db, const char *avatar_id, const char *media_id, const struct stt_segment *s,
                          int n)
{
    char now[RFC3339_LEN], qmsg[200];
    time_rfc3339(time_now_ms(), now);
    struct media_clock clock;
    int err = media_clock_load(db, media_id, &clock);
    if (err)
        return err;
    if ((err = media_memories_begin(db, media_id))) {
        media_clock_free(&clock);
        return err;
    }
    err = quota_check(db, avatar_id, 0, n, qmsg, sizeof qmsg); /* this file's old ones are gone */
    for (int i = 0; i < n && !err; i++) {
        char id[ID_LEN], said[RFC3339_LEN];
        id_new(id);
        int known = media_clock_at(&clock, s[i].start_ms, said);
        struct db_val p[] = {DB_TEXT(id),           DB_TEXT(avatar_id),          DB_TEXT(s[i].text), DB_TEXT(media_id),
                             DB_INT(s[i].start_ms), DB_INT(s[i].end_ms),         DB_INT(i),          DB_TEXT(now),
                             DB_TEXT(now),          DB_TEXT(known ? said : NULL)};
        err = db_query(db,
                       "INSERT INTO memories (id, avatar_id, kind, text, media_id, start_ms, end_ms, seq, created_at, "
                       "updated_at, occurred_at) VALUES (?, ?, 'utterance', ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 10, NULL);
    }
    media_clock_free(&clock);
    return media_memories_end(db, err);
}

json_t *speech_transcript_json(const struct stt_segment *s, int n, const char *engine, int64_t duration_ms,
                               int truncated)
{
    json_t *segs = json_array();
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        json_array_append_new(segs, json_pack("{s:i,s:i,s:s,s:f}", "start_ms", s[i].start_ms, "end_ms", s[i].end_ms,
                                              "text", s[i].text, "confidence", (double)s[i].confidence));
        len += strlen(s[i].text) + 1;
    }
    char *text = malloc(len + 1), *p = text;
    if (text) {
        *p = 0;
        for (int i = 0; i < n; i++)
            p += sprintf(p, "%s%s", i ? " " : "", s[i].text);
    }
    json_t *t = json_pack("{s:s,s:I,s:b,s:s,s:o}", "engine", engine, "duration_ms", (json_int_t)duration_ms,
                          "truncated", truncated, "text", text ? text : "", "segments", segs);
    free(text);
    return t;
}

struct progress {
    struct job_ctx *ctx;
};

/* Transcription is 20 … 90 % of the job. */
static int on_progress(void *arg, int64_t done_ms, int64_t total_ms)
{
    struct progress *pr = arg;
    job_progress(pr->ctx, 20 + (int)(70 * done_ms / (total_ms ? total_ms : 1)));
    return job_should_stop(pr->ctx);
}

static int retry_with(char **error_msg, int *error_owned, const char *why, int err)
{
    *error_msg = strdup(why[0] ? why : dp_strerror(err));
    *error_owned = *error_msg != NULL;
    return err;
}

/* Moves the n segments of w to the end of *all (w is freed). */
static int append_segments(struct stt_segment **all, int *n_all, struct stt_segment *w, int n)
{
    if (!n)
        return DP_OK;
    struct stt_segment *v = realloc(*all, (size_t)(*n_all + n) * sizeof *v);
    if (!v) {
        stt_segments_free(w, n);
        return DP_ERR_NOMEM;
    }
    memcpy(v + *n_all, w, (size_t)n * sizeof *w);
    free(w);
    *all = v;
    *n_all += n;
    return DP_OK;
}

/* Progress over a recording whose length is not known until its last window: what has been heard
 * of what has been seen, plus one window more. */
struct window_progress {
    struct job_ctx *ctx;
    int64_t start_ms, len_ms, more_ms;
};

static int on_window_progress(void *arg, int64_t done_ms, int64_t total_ms)
{
    (void)total_ms;
    struct window_progress *w = arg;
    struct progress pr = {w->ctx};
    return on_progress(&pr, w->start_ms + done_ms, w->start_ms + w->len_ms + w->more_ms);
}

/* Transcribes the recording at path a window at a time, so that memory holds one window of PCM
 * (speech_window_ms and the longest stretch after it: ~20 MB for 10 minutes), never the whole
 * recording: the stretches that begin in a window are heard whole, and the next window starts where
 * the last of them ends. One recognition stream serves every window (an adapting engine tunes in
 * once). An own-voice file (voice_avatar) feeds the profile from its first window. */
static int transcribe_windows(struct job_ctx *ctx, struct stt_engine *stt, const char *path, const char *voice_avatar,
                              const char *media_id, struct stt_segment **segs, int *ns, int64_t *duration_ms,
                              int *truncated, char *why, size_t whylen)
{
    struct stt_stream *stream = NULL;
    int err = stt->ops->open(stt, &stream), primed = 0;
    int64_t start = 0;
    for (int first = 1; !err; first = 0) {
        int64_t want = speech_window_ms + STT_SPAN_MAX_MS;
        if (want > MEDIA_SPEECH_MAX_MS - start)
            want = MEDIA_SPEECH_MAX_MS - start;
        int16_t *pcm = NULL;
        size_t n = 0;
        int more = 0;
        err = audio_decode_span(path, start, want, &pcm, &n, &more, why, whylen);
        if (err)
            break;
        int64_t got_ms = (int64_t)n * 1000 / AUDIO_DECODE_RATE;
        int last = !more || start + want >= MEDIA_SPEECH_MAX_MS;
        *duration_ms = start + got_ms;
        *truncated = more && last;
        if (first && voice_avatar)
            err = feed_voice_profile(ctx->db, voice_avatar, media_id, pcm, n);
        struct stt_segment *w = NULL;
        int nw = 0;
        int64_t next = start + got_ms;
        struct window_progress wp = {ctx, start, got_ms, last ? 0 : speech_window_ms};
        if (!err)
            err = stt_transcribe_window(stt, stream, &primed, pcm, n, start, last ? -1 : speech_window_ms, &w, &nw,
                                        &next, on_window_progress, &wp, why, whylen);
        free(pcm);
        if (!err)
            err = append_segments(segs, ns, w, nw);
        if (err || last)
            break;
        start = next;
    }
    if (stream)
        stt->ops->close(stream);
    return err;
}

int media_ingest_speech(struct job_ctx *ctx, struct blob_store *bs, const char *media_id, const char *avatar_id,
                        const char *key, int own_voice, char **error_msg, int *error_owned)
{
    struct stt_engine *stt = stt_current();
    if (!stt)
        return media_job_status(ctx->db, media_id, "stored",
                                "stored; not transcribed: no speech recognition is configured (stt-provider none)",
                                NULL);
    char why[512] = "", detail[640];
    struct blob_file file;
    int err = blob_file_get(bs, key, &file);
    if (err)
        return err;
    job_progress(ctx, 5);
    struct stt_segment *segs = NULL;
    int ns = 0, truncated = 0;
    int64_t duration_ms = 0;
    err = transcribe_windows(ctx, stt, file.path, own_voice ? avatar_id : NULL, media_id, &segs, &ns, &duration_ms,
                             &truncated, why, sizeof why);
    blob_file_release(&file);
    if (err == DP_ERR_UNSUPPORTED) { /* the file itself: retrying cannot help */
        snprintf(detail, sizeof detail, "no audio could be decoded: %s", why);
        return media_job_status(ctx->db, media_id, "failed", detail, NULL);
    }
    if (err) {
        stt_segments_free(segs, ns);
        return err == DP_ERR_CANCELLED || err == DP_ERR_NOMEM ? err : retry_with(error_msg, error_owned, why, err);
    }
    int version = last_version(ctx->db, media_id) + 1;
    json_t *t = speech_transcript_json(segs, ns, stt->name, duration_ms, truncated);
    json_object_set_new(t, "version", json_integer(version));
    char *doc = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    err = doc ? media_derived_put(ctx->db, bs, media_id, "transcript", doc, strlen(doc), "application/json")
              : DP_ERR_NOMEM;
    free(doc);
    if (!err)
        err = store_segments(ctx->db, avatar_id, media_id, segs, ns);
    stt_segments_free(segs, ns);
    if (err == DP_ERR_QUOTA) {
        snprintf(detail, sizeof detail,
                 "transcribed, but not stored as memories: the owner's memory quota (%lld) would be exceeded",
                 (long long)quota_cfg.memories);
        return media_job_status(ctx->db, media_id, "failed", detail, NULL);
    }
    if (err)
        return err;
    json_t *meta = json_pack("{s:I,s:i,s:i,s:b}", "duration_ms", (json_int_t)duration_ms, "segments", ns,
                             "transcript_version", version, "truncated", truncated);
    const char *segments = ns == 1 ? "segment" : "segments";
    if (truncated)
        snprintf(detail, sizeof detail, "the first %lld minutes transcribed into %d %s",
                 (long long)(MEDIA_SPEECH_MAX_MS / 60000), ns, segments);
    else if (ns)
        snprintf(detail, sizeof detail, "transcribed into %d %s", ns, segments);
    else
        snprintf(detail, sizeof detail, "no speech found");
    err = media_job_status(ctx->db, media_id, "ready", detail, meta);
    json_decref(meta);
    return err;
}

int media_transcript(struct db *db, struct blob_store *bs, const char *media_id, json_t **out)
{
    *out = NULL;
    char key[BLOB_KEY_LEN + 1], mime[128];
    int err = media_variant(db, media_id, "transcript", key, mime);
    if (err)
        return err == DP_ERR_NOT_FOUND ? DP_OK : err;
    char *text;
    size_t len;
    if ((err = blob_read_all(bs, key, MEDIA_TRANSCRIPT_MAX, &text, &len)))
        return err == DP_ERR_NOT_FOUND ? DP_OK : err; /* being replaced: as if none */
    *out = json_loadb(text, len, 0, NULL);
    free(text);
    return *out ? DP_OK : DP_ERR_INTERNAL;
}
