/* Recordings of device audio: rows, closing into the blob store, listing, sweeping after a crash. */
#include "capture/recording.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/wav.h"
#include "capture/clients.h"
#include "capture/conversation.h"
#include "capture/recfile.h"
#include "core/context.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/blob.h"
#include "store/db.h"

/* A recording and, once filed, the media item its conversation became (its transcription's state). */
#define COLS                                                                                                           \
    "r.id, r.client_id, r.device_name, r.codec, r.mode, r.rate, r.channels, r.status, r.durable_bytes, r.last_seq, "   \
    "r.blob_key, r.close_reason, r.started_at, r.created_at, r.closed_at, r.conversation, r.speech_ms, r.segments, "   \
    "r.media_id, m.avatar_id, m.status, m.status_detail, r.conversation_error"
#define FROM " FROM recordings r LEFT JOIN media m ON m.id = r.media_id "

int recording_find_open(struct db *db, struct recording *rec)
{
    char started[RFC3339_LEN];
    time_rfc3339(rec->started_ms, started);
    struct db_val p[6] = {DB_TEXT(rec->user_id),
                          DB_TEXT(rec->client_id),
                          DB_TEXT(rec->opus ? "opus" : "pcm"),
                          DB_TEXT(rec->batch ? "batch" : "streaming"),
                          DB_INT(rec->rate),
                          DB_INT(rec->channels)};
    struct db_rows *r;
    int err = db_query(db,
                       "SELECT id, started_at FROM recordings WHERE user_id = ? AND client_id = ? AND status = 'open' "
                       "AND codec = ? AND mode = ? AND rate = ? AND channels = ? ORDER BY id DESC",
                       p, 6, &r);
    if (err)
        return err;
    err = DP_ERR_NOT_FOUND;
    for (int i = 0; i < r->nrows; i++) {
        /* A back-fill continues only the recording that started at the same device time. */
        if (rec->batch && strcmp(db_rows_text(r, i, 1), started))
            continue;
        snprintf(rec->id, sizeof rec->id, "%s", db_rows_text(r, i, 0));
        time_parse_rfc3339(db_rows_text(r, i, 1), &rec->started_ms);
        err = DP_OK;
        break;
    }
    db_rows_free(r);
    return err;
}

int recording_create(struct db *db, struct recording *rec)
{
    char started[RFC3339_LEN], now[RFC3339_LEN];
    id_new(rec->id);
    time_rfc3339(rec->started_ms, started);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[10] = {DB_TEXT(rec->id),
                           DB_TEXT(rec->user_id),
                           DB_TEXT(rec->client_id),
                           DB_TEXT(rec->device_name),
                           DB_TEXT(rec->opus ? "opus" : "pcm"),
                           DB_TEXT(rec->batch ? "batch" : "streaming"),
                           DB_INT(rec->rate),
                           DB_INT(rec->channels),
                           DB_TEXT(started),
                           DB_TEXT(now)};
    return db_query(db,
                    "INSERT INTO recordings (id, user_id, client_id, device_name, codec, mode, rate, channels, status, "
                    "started_at, created_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, NULL)",
                    p, 10, NULL);
}

/* Copies the durable audio of rf into a new blob as a WAV. */
static int audio_to_blob(struct blob_store *bs, const struct recfile *rf, long rate, long channels,
                         char key[BLOB_KEY_LEN + 1])
{
    struct wav_info w = {
        .channels = (uint16_t)channels, .rate = (uint32_t)rate, .bits = 16, .frame_bytes = (uint32_t)(2 * channels)};
    uint64_t frames = rf->bytes / w.frame_bytes;
    uint8_t hdr[WAV_HEADER_LEN];
    wav_header(&w, frames, hdr);
    struct blob_writer *bw;
    int err = blob_writer_new(bs, &bw);
    if (err)
        return err;
    if ((err = blob_write(bw, hdr, sizeof hdr)))
        goto out_abort;
    static const size_t piece = 64 * 1024;
    char *buf = malloc(piece);
    if (!buf) {
        err = DP_ERR_NOMEM;
        goto out_abort;
    }
    uint64_t total = frames * w.frame_bytes;
    for (uint64_t off = 0; off < total && !err;) {
        size_t want = total - off < piece ? (size_t)(total - off) : piece;
        long got = recfile_read(rf, off, buf, want);
        if (got != (long)want)
            err = DP_ERR_IO;
        else
            err = blob_write(bw, buf, want);
        off += want;
    }
    free(buf);
    if (err)
        goto out_abort;
    uint64_t size;
    return blob_commit(bw, key, &size);
out_abort:
    blob_abort(bw);
    return err;
}

int recording_close(const struct context *e, const char *dir, const char *id, const char *reason)
{
    struct db_val pid = DB_TEXT(id);
    struct db_rows *r;
    int err =
        db_query(e->db, "SELECT rate, channels, user_id FROM recordings WHERE id = ? AND status = 'open'", &pid, 1, &r);
    if (err)
        return err;
    if (r->nrows == 0) {
        db_rows_free(r);
        recfile_remove(dir, id); /* a crash after the row closed and before the unlink */
        return DP_ERR_NOT_FOUND;
    }
    long rate = (long)db_rows_int(r, 0, 0), channels = (long)db_rows_int(r, 0, 1);
    char user_id[ID_LEN], job[ID_LEN];
    snprintf(user_id, sizeof user_id, "%s", db_rows_text(r, 0, 2));
    db_rows_free(r);
    struct recfile rf;
    char key[BLOB_KEY_LEN + 1] = "";
    uint64_t bytes = 0;
    int64_t seq = -1;
    err = recfile_open(dir, id, 0, &rf);
    if (err && err != DP_ERR_NOT_FOUND)
        return err;
    if (!err) {
        bytes = rf.bytes;
        seq = rf.seq;
        if (bytes)
            err = audio_to_blob(e->blobs, &rf, rate, channels, key);
        recfile_close(&rf);
        if (err)
            return err;
    }
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[6] = {DB_INT(bytes),   DB_INT(seq),  DB_TEXT(*key ? key : NULL),
                          DB_TEXT(reason), DB_TEXT(now), DB_TEXT(id)};
    /* Closed and queued for transcription together: a crash between them loses no conversation. */
    if ((err = db_begin(e->db)))
        return err;
    struct db_rows *u = NULL;
    err = db_query(e->db,
                   "UPDATE recordings SET status = 'closed', durable_bytes = ?, last_seq = ?, blob_key = ?, "
                   "close_reason = ?, closed_at = ? WHERE id = ? AND status = 'open'",
                   p, 6, &u);
    int changed = u && u->changes > 0;
    db_rows_free(u);
    if (!err && changed && *key)
        err = conversation_enqueue(e->db, id, user_id, job);
    if (!err)
        err = db_commit(e->db);
    if (err) {
        db_rollback(e->db);
        return err;
    }
    recfile_remove(dir, id);
    DP_LOG(LOG_INFO, "[capture] recording closed id=%s bytes=%llu reason=%s", id, (unsigned long long)bytes, reason);
    return DP_OK;
}

/* Seconds since <dir>/<id>.pcm was last written; -1 when it is not there. */
static long idle_seconds(const char *dir, const char *id)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s.pcm", dir, id);
    if (stat(p, &st))
        return -1;
    return (long)(time_now_ms() / 1000 - (int64_t)st.st_mtime);
}

/* Removes the files of <dir> whose recording is no longer open. */
static void sweep_orphans(struct db *db, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n != ID_LEN - 1 + 4 || strcmp(de->d_name + ID_LEN - 1, ".pcm"))
            continue;
        char id[ID_LEN];
        memcpy(id, de->d_name, ID_LEN - 1);
        id[ID_LEN - 1] = 0;
        struct db_val p = DB_TEXT(id);
        struct db_rows *r;
        if (!id_valid(id) || db_query(db, "SELECT 1 FROM recordings WHERE id = ? AND status = 'open'", &p, 1, &r))
            continue;
        if (r->nrows == 0)
            recfile_remove(dir, id);
        db_rows_free(r);
    }
    closedir(d);
}

int recording_sweep(const struct context *e, const char *dir, const char *user_id, long idle_s, int *closed)
{
    struct db_val p = DB_TEXT(user_id);
    struct db_rows *r;
    *closed = 0;
    int err = user_id ? db_query(e->db, "SELECT id FROM recordings WHERE status = 'open' AND user_id = ?", &p, 1, &r)
                      : db_query(e->db, "SELECT id FROM recordings WHERE status = 'open'", NULL, 0, &r);
    if (err)
        return err;
    for (int i = 0; i < r->nrows && !err; i++) {
        const char *id = db_rows_text(r, i, 0);
        long idle = idle_seconds(dir, id);
        /* Not here (another instance's data directory, or never written): only idle rows go. */
        if (idle < 0 && !recfile_exists(dir, id))
            idle = idle_s;
        if (idle < idle_s || clients_begin_close(id, 0))
            continue; /* recent, or a device writes it, or someone closes it */
        err = recording_close(e, dir, id, "idle");
        clients_end_close(id);
        if (err == DP_ERR_NOT_FOUND)
            err = DP_OK;
        else if (!err)
            (*closed)++;
    }
    db_rows_free(r);
    if (!user_id)
        sweep_orphans(e->db, dir);
    return err;
}

/* {state, speech_ms, segments, media_id, avatar_id, detail}: where the conversation is. state:
 * recording (open), pending (closed, its speech not looked for yet), silent (no conversation in it),
 * transcribing, ready, failed (its media's transcription). */
static json_t *conversation_json(const struct db_rows *r, int i)
{
    const char *state = "pending";
    if (!strcmp(db_rows_text(r, i, 7), "open"))
        state = "recording";
    else if (!db_rows_is_null(r, i, 15) && !strcmp(db_rows_text(r, i, 15), "silent"))
        state = "silent";
    else if (!db_rows_is_null(r, i, 15) && !strcmp(db_rows_text(r, i, 15), "failed"))
        state = "failed"; /* not filed: conversation_error says why */
    else if (!db_rows_is_null(r, i, 20)) {
        const char *ms = db_rows_text(r, i, 20);
        state = !strcmp(ms, "ready") ? "ready" : !strcmp(ms, "failed") ? "failed" : "transcribing";
    } else if (!db_rows_is_null(r, i, 15))
        state = "failed"; /* filed, and its media deleted since: reprocess files it again */
    json_t *segs = db_rows_is_null(r, i, 17) ? NULL : json_loads(db_rows_text(r, i, 17), 0, NULL);
    return json_pack("{s:s,s:o,s:o,s:s*,s:s*,s:s*}", "state", state, "speech_ms",
                     db_rows_is_null(r, i, 16) ? json_null() : json_integer(db_rows_int(r, i, 16)), "segments",
                     segs ? segs : json_array(), "media_id", db_rows_is_null(r, i, 18) ? NULL : db_rows_text(r, i, 18),
                     "avatar_id", db_rows_is_null(r, i, 19) ? NULL : db_rows_text(r, i, 19), "detail",
                     !db_rows_is_null(r, i, 21)  ? db_rows_text(r, i, 21)
                     : db_rows_is_null(r, i, 22) ? NULL
                                                 : db_rows_text(r, i, 22));
}

static json_t *row_json(const struct db_rows *r, int i, const char *dir)
{
    const char *status = db_rows_text(r, i, 7);
    int64_t bytes = db_rows_int(r, i, 8);
    int open = !strcmp(status, "open");
    if (open) { /* the file is the truth while it is open (what is written; the ack says what is synced) */
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s.pcm", dir, db_rows_text(r, i, 0));
        if (!stat(p, &st))
            bytes = (int64_t)st.st_size;
    }
    long rate = (long)db_rows_int(r, i, 5), channels = (long)db_rows_int(r, i, 6);
    int64_t samples = bytes / (2 * (channels > 0 ? channels : 1));
    int64_t seq = db_rows_int(r, i, 9);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:o,s:s?,s:s?,s:s,s:s,s:s?,s:o}", "id",
                     db_rows_text(r, i, 0), "client_id", db_rows_text(r, i, 1), "device_name", db_rows_text(r, i, 2),
                     "codec", db_rows_text(r, i, 3), "mode", db_rows_text(r, i, 4), "rate", (json_int_t)rate,
                     "channels", (json_int_t)channels, "status", status, "bytes", (json_int_t)bytes, "samples",
                     (json_int_t)samples, "duration_ms", (json_int_t)(rate > 0 ? samples * 1000 / rate : 0), "last_seq",
                     open || seq < 0 ? json_null() : json_integer(seq), "sha256", db_rows_text(r, i, 10),
                     "close_reason", db_rows_text(r, i, 11), "started_at", db_rows_text(r, i, 12), "created_at",
                     db_rows_text(r, i, 13), "closed_at", db_rows_text(r, i, 14), "conversation",
                     conversation_json(r, i));
}

int recording_list_json(struct db *db, const char *dir, const char *user_id, const char *after, long limit,
                        json_t **items)
{
    struct db_val p[3] = {DB_TEXT(user_id), DB_TEXT(after ? after : ""), DB_INT(limit)};
    struct db_rows *r;
    int err = db_query(db,
                       after ? "SELECT " COLS FROM "WHERE r.user_id = ? AND r.id < ? ORDER BY r.id DESC LIMIT ?"
                             : "SELECT " COLS FROM "WHERE r.user_id = ? AND ? = '' ORDER BY r.id DESC LIMIT ?",
                       p, 3, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, row_json(r, i, dir));
    db_rows_free(r);
    return DP_OK;
}

int recording_get_json(struct db *db, const char *dir, const char *user_id, const char *id, json_t **out)
{
    struct db_val p[2] = {DB_TEXT(id), DB_TEXT(user_id)};
    struct db_rows *r;
    int err = db_query(db, "SELECT " COLS FROM "WHERE r.id = ? AND r.user_id = ?", p, 2, &r);
    if (err)
        return err;
    if (r->nrows == 0) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    *out = row_json(r, 0, dir);
    db_rows_free(r);
    return DP_OK;
}
