/* Jobs of avatars and media. Both are idempotent: a worker may die mid-job and the job run again.
 *
 * avatar.delete  removes the media of a deleted avatar one by one (row, then its blob unless
 *                shared), then the avatar row (shares and memories cascade).
 * media.ingest   turns a stored file into memories: text and documents are extracted (in a
 *                sandboxed subprocess where a decoder is needed) and split into passages,
 *                or into utterances when the text is a chat or dialogue transcript;
 *                images get their dimensions and a thumbnail; audio and video are transcribed
 *                into timestamped utterances (media_speech.c). */
#include "avatar/avatar_jobs.h"
#include "avatar/media_ingest.h"
#include "brain/memory_embed.h"
#include "brain/text_index.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avatar/avatar.h"
#include "avatar/extract_job.h"
#include "avatar/media_timeline.h"
#include "avatar/media.h"
#include "avatar/quota.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "ingest/dialogue.h"
#include "ingest/extract.h"
#include "ingest/image_info.h"
#include "ingest/subprocess.h"
#include "ingest/passages.h"
#include "jobs/jobs.h"
#include "store/blob.h"
#include "store/cache.h"
#include "store/db.h"

static int avatar_delete(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    (void)error_owned;
    const char *id = json_string_value(json_object_get(ctx->payload, "avatar_id"));
    if (!id) {
        *error_msg = "payload has no avatar_id";
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(ctx->db, "SELECT id FROM media WHERE avatar_id = ?", p, 1, &r);
    if (err)
        return err;
    for (int i = 0; i < r->nrows && !err; i++) {
        err = media_delete(ctx->db, ctx->blobs, db_rows_text(r, i, 0));
        job_progress(ctx, (int)(90 * (i + 1) / r->nrows));
    }
    db_rows_free(r);
    if (!err)
        err = db_query(ctx->db, "DELETE FROM avatars WHERE id = ? AND deleted_at IS NOT NULL", p, 1, NULL);
    if (!err) {
        avatar_cache_forget(ctx->cache, id);
        text_index_forget(id);
    }
    return err;
}

int media_job_status(struct db *db, const char *media_id, const char *status, const char *detail, json_t *meta)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    char *m = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    struct db_val p[] = {DB_TEXT(status), DB_TEXT(detail), DB_TEXT(m), DB_TEXT(now), DB_TEXT(media_id)};
    int err = db_query(db,
                       "UPDATE media SET status = ?, status_detail = ?, meta = COALESCE(?, meta), updated_at = ? "
                       "WHERE id = ?",
                       p, 5, NULL);
    free(m);
    return err;
}

int media_memories_begin(struct db *db, const char *media_id)
{
    int err = db_begin(db);
    if (err)
        return err;
    struct db_val d[] = {DB_TEXT(media_id)};
    /* Only what processing made (it numbers its memories): a memory someone added by hand with
     * this file as its source stays. */
    err =
        db_query(db, "DELETE FROM memories WHERE media_id = ? AND kind IN ('passage', 'utterance') AND seq IS NOT NULL",
                 d, 1, NULL);
    if (err)
        db_rollback(db);
    return err;
}

int media_memories_end(struct db *db, int err)
{
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    return err;
}

/* Replaces the memories of media_id with the passages of x, in one transaction. */
static int store_passages(struct job_ctx *ctx, const char *avatar_id, const char *media_id, const struct extracted *x,
                          int *count)
{
    struct passage *ps = NULL;
    int n = 0;
    int err = passages_split(x->text, x->len, x->page_starts, x->npages, &ps, &n);
    if (err)
        return err;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    char qmsg[200];
    if ((err = media_memories_begin(ctx->db, media_id)))
        goto out;
    err = quota_check(ctx->db, avatar_id, 0, n, qmsg, sizeof qmsg); /* this file's old ones are gone */
    for (int i = 0; i < n && !err; i++) {
        char id[ID_LEN];
        id_new(id);
        /* The passage text carries its section heading as context; offsets point at the source. */
        struct db_val p[] = {DB_TEXT(id),
                             DB_TEXT(avatar_id),
                             DB_TEXT(ps[i].text),
                             DB_TEXT(media_id),
                             DB_INT(ps[i].char_start),
                             DB_INT(ps[i].char_end),
                             ps[i].page ? DB_INT(ps[i].page) : DB_NULL,
                             DB_INT(i),
                             DB_TEXT(now),
                             DB_TEXT(now)};
        err = db_query(ctx->db,
                       "INSERT INTO memories (id, avatar_id, kind, text, media_id, char_start, char_end, page, seq, "
                       "created_at, updated_at) VALUES (?, ?, 'passage', ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 10, NULL);
    }
    err = media_memories_end(ctx->db, err);
    *count = n;
out:
    passages_free(ps, n);
    return err;
}

/* Replaces the memories of media_id with the utterances of a dialogue transcript (speaker and
 * order kept, so recall can answer with what the other speaker said next), in one transaction. */
static int store_utterances(struct job_ctx *ctx, const char *avatar_id, const char *media_id, const struct dialogue *dl)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    char qmsg[200];
    int err = media_memories_begin(ctx->db, media_id);
    if (err)
        return err;
    err = quota_check(ctx->db, avatar_id, 0, dl->n, qmsg, sizeof qmsg); /* this file's old ones are gone */
    for (int i = 0; i < dl->n && !err; i++) {
        const struct utterance *u = &dl->u[i];
        char id[ID_LEN], when[RFC3339_LEN];
        id_new(id);
        if (u->occurred_ms) /* a chat export's timestamp: when it was said */
            time_rfc3339(u->occurred_ms, when);
        struct db_val p[] = {DB_TEXT(id),
                             DB_TEXT(avatar_id),
                             DB_TEXT(u->text),
                             DB_TEXT(media_id),
                             DB_INT(u->char_start),
                             DB_INT(u->char_end),
                             DB_TEXT(u->speaker),
                             DB_INT(u->seq),
                             DB_TEXT(now),
                             DB_TEXT(now),
                             DB_TEXT(u->occurred_ms ? when : NULL)};
        err =
            db_query(ctx->db,
                     "INSERT INTO memories (id, avatar_id, kind, text, media_id, char_start, char_end, speaker, "
                     "seq, created_at, updated_at, occurred_at) VALUES (?, ?, 'utterance', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     p, 11, NULL);
    }
    return media_memories_end(ctx->db, err);
}

/* Stores x as utterances when it is a chat or dialogue transcript; *n is their count, 0 when x
 * is not one (then nothing is stored). A chat of more than DIALOGUE_MAX_UTTERANCES lines is left
 * to the passages. */
static int store_dialogue(struct job_ctx *ctx, const char *avatar_id, const char *media_id, const struct extracted *x,
                          int *n)
{
    struct dialogue dl;
    int err = dialogue_parse(x->text, x->len, &dl);
    *n = 0;
    if (err)
        return err == DP_ERR_TOO_LARGE ? DP_OK : err;
    if (dl.n && !(err = store_utterances(ctx, avatar_id, media_id, &dl))) {
        json_t *meta = json_pack("{s:I,s:i,s:i,s:i}", "chars", (json_int_t)x->len, "pages", x->npages, "utterances",
                                 dl.n, "speakers", dl.nspeakers);
        char detail[96];
        snprintf(detail, sizeof detail, "dialogue transcript stored as %d utterances", dl.n);
        err = media_job_status(ctx->db, media_id, "ready", detail, meta);
        json_decref(meta);
        *n = dl.n;
    }
    dialogue_cleanup(&dl);
    return err;
}

static int ingest_text(struct job_ctx *ctx, const char *media_id, const char *avatar_id, const char *key,
                       const char *mime, const char *filename, char **error_msg, int *error_owned)
{
    char why[256] = "";
    struct blob_file file;
    int err = blob_file_get(ctx->blobs, key, &file);
    if (err)
        return err;
    struct extracted x;
    job_progress(ctx, 10);
    err = extract_text(file.path, mime, filename, &x, why, sizeof why);
    blob_file_release(&file);
    if (err == DP_ERR_UNAVAILABLE || err == DP_ERR_NOMEM || err == DP_ERR_IO) {
        *error_msg = strdup(why[0] ? why : dp_strerror(err));
        *error_owned = *error_msg != NULL;
        return err; /* may pass: retry */
    }
    if (err) {
        /* The file itself is the problem (damaged, encrypted, too big): retrying cannot help. */
        char detail[320];
        snprintf(detail, sizeof detail, "no text could be extracted: %s", why[0] ? why : dp_strerror(err));
        return media_job_status(ctx->db, media_id, "failed", detail, NULL);
    }
    job_progress(ctx, 60);
    int n = 0;
    err = store_dialogue(ctx, avatar_id, media_id, &x, &n);
    if (!err && !n && !(err = store_passages(ctx, avatar_id, media_id, &x, &n))) {
        json_t *meta = json_pack("{s:I,s:i,s:i}", "chars", (json_int_t)x.len, "pages", x.npages, "passages", n);
        err = media_job_status(ctx->db, media_id, "ready",
                               n ? "text extracted and stored as passages" : "the file holds no text", meta);
        json_decref(meta);
    }
    extracted_cleanup(&x);
    if (err == DP_ERR_QUOTA) {
        /* Retrying cannot help until the owner makes room; the file stays, its memories do not. */
        char detail[160];
        snprintf(detail, sizeof detail, "not stored as memories: the owner's memory quota (%lld) would be exceeded",
                 (long long)quota_cfg.memories);
        return media_job_status(ctx->db, media_id, "failed", detail, NULL);
    }
    return err;
}

/* A 256-pixel PNG thumbnail made by ImageMagick in a sandboxed subprocess (the decoder reads
 * untrusted bytes), stored as a derived blob. Idempotent: the variant row is replaced. */
static int make_thumbnail(struct job_ctx *ctx, const char *media_id, const char *key, const char *format, json_t *meta)
{
    char input[4200], why[256] = "";
    struct blob_file file;
    int err = blob_file_get(ctx->blobs, key, &file);
    if (err)
        return err;
    /* The explicit format prefix stops ImageMagick from guessing a coder from the bytes. */
    snprintf(input, sizeof input, "%s:%s[0]", format, file.path);
    const char *argv[] = {"convert",    "-limit",   "memory", "128MiB", "-limit", "map",
                          "256MiB",     "-limit",   "disk",   "0",      input,    "-auto-orient",
                          "-thumbnail", "256x256>", "-strip", "png:-",  NULL};
    /* ImageMagick writes a small temp file even with "-limit disk 0": allow a few MiB. */
    struct subproc_limits lim = {
        .timeout_ms = 20000, .cpu_seconds = 20, .mem_bytes = (size_t)768 << 20, .fsize_bytes = (size_t)16 << 20};
    struct buf out;
    buf_init(&out, (size_t)4 << 20);
    err = subproc_run(argv, NULL, &lim, &out, why, sizeof why);
    blob_file_release(&file);
    if (err || out.len == 0) {
        DP_LOG(LOG_INFO, "[media] no thumbnail for %s: %s", media_id, why[0] ? why : dp_strerror(err));
        buf_cleanup(&out);
        return err == DP_ERR_NOMEM ? err : DP_OK; /* an image without a thumbnail is still an image */
    }
    size_t size = out.len;
    err = media_derived_put(ctx->db, ctx->blobs, media_id, "thumbnail", out.data, out.len, "image/png");
    buf_cleanup(&out);
    if (err)
        return err;
    json_object_set_new(meta, "thumbnail", json_pack("{s:s,s:I}", "mime", "image/png", "size", (json_int_t)size));
    return DP_OK;
}

static int ingest_image(struct job_ctx *ctx, const char *media_id, const char *key)
{
    struct blob_reader *br;
    int err = blob_reader_open(ctx->blobs, key, &br, NULL);
    if (err)
        return err;
    uint8_t head[65536];
    long n = blob_read_at(br, 0, head, sizeof head);
    blob_reader_close(br);
    struct image_info info;
    json_t *meta = json_object();
    if (n > 0 && image_info(head, (size_t)n, &info) == DP_OK) {
        json_object_set_new(meta, "width", json_integer(info.width));
        json_object_set_new(meta, "height", json_integer(info.height));
        static const char *const formats[] = {"png", "jpeg", "gif", "webp"};
        const char *fmt = NULL;
        for (size_t i = 0; i < 4; i++)
            if (strstr(info.mime, formats[i]))
                fmt = formats[i];
        if (fmt && (err = make_thumbnail(ctx, media_id, key, fmt, meta))) {
            json_decref(meta);
            return err;
        }
    }
    err = media_job_status(ctx->db, media_id, "ready",
                           "stored; an image has no text without a vision provider, and none is configured", meta);
    json_decref(meta);
    return err;
}

static int media_ingest(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    const char *id = json_string_value(json_object_get(ctx->payload, "media_id"));
    if (!id) {
        *error_msg = "payload has no media_id";
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(ctx->db, "SELECT " MEDIA_COLUMNS " FROM media WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_OK; /* deleted meanwhile: nothing to do */
    }
    char avatar[ID_LEN], key[BLOB_KEY_LEN + 1], mime[128], kind[16], filename[256];
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 1));
    snprintf(key, sizeof key, "%s", db_rows_text(r, 0, 3));
    snprintf(mime, sizeof mime, "%s", db_rows_text(r, 0, 5));
    snprintf(kind, sizeof kind, "%s", db_rows_text(r, 0, 6));
    snprintf(filename, sizeof filename, "%s", db_rows_text(r, 0, 7) ? db_rows_text(r, 0, 7) : "");
    int own_voice = db_rows_int(r, 0, 14) != 0;
    db_rows_free(r);
    if ((err = media_job_status(ctx->db, id, "processing", "being processed", NULL)))
        return err;
    avatar_cache_forget(ctx->cache, avatar); /* its media list shows the status */
    if (!strcmp(kind, "text") || !strcmp(kind, "document")) {
        err = ingest_text(ctx, id, avatar, key, mime, filename, error_msg, error_owned);
        if (!err) /* the new passages or utterances get their vectors in the background */
            memory_embed_backfill(ctx->db, avatar, 1);
        if (!err) /* and, with --llm-extract, the facts they state become memories */
            err = extract_job_enqueue(ctx->db, avatar, id);
    } else if (!strcmp(kind, "image"))
        err = ingest_image(ctx, id, key);
    else if (!(err = media_ingest_speech(ctx, ctx->blobs, id, avatar, key, own_voice, error_msg, error_owned))) {
        memory_embed_backfill(ctx->db, avatar, 1);
        /* An uploaded recording or a device's conversation: with --llm-extract, the facts its
         * transcript states become fact memories, each citing the span of the transcript it was
         * read from (and, for a device's conversation, when it was said). */
        err = extract_job_enqueue(ctx->db, avatar, id);
    }
    /* Even a failure may have changed what its media and memory lists show (status, passages). */
    avatar_cache_forget(ctx->cache, avatar);
    return err;
}

void avatar_jobs_register(void)
{
    jobs_register("avatar.delete", avatar_delete, 5);
    jobs_register("media.ingest", media_ingest, 4);
}
