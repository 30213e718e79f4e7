/* Media sniffing, kinds and rows. */
#include "avatar/media.h"
#include "avatar/media_timeline.h"
#include "avatar/avatar.h"
#include "avatar/quota.h"
#include "auth/users.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/blob.h"
#include "store/db.h"
#include "store/db_read.h"

/* libmagic handles are not thread-safe: one per worker thread, loaded once, closed when the
 * thread ends (a key destructor) or by media_thread_cleanup on threads that never end. */
static _Thread_local magic_t thread_magic;
static pthread_key_t magic_key;
static pthread_once_t magic_key_once = PTHREAD_ONCE_INIT;

static void magic_destroy(void *m)
{
    magic_close(m);
    thread_magic = NULL;
}

static void magic_key_init(void)
{
    pthread_key_create(&magic_key, magic_destroy);
}

void media_thread_cleanup(void)
{
    if (thread_magic) {
        pthread_setspecific(magic_key, NULL);
        magic_destroy(thread_magic);
    }
}

int media_sniff(const void *p, size_t n, char mime[128])
{
    pthread_once(&magic_key_once, magic_key_init);
    if (!thread_magic) {
        thread_magic = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF);
        if (!thread_magic || magic_load(thread_magic, NULL)) {
            DP_LOG(LOG_ERROR, "[media] libmagic failed to load its database");
            if (thread_magic)
                magic_close(thread_magic);
            thread_magic = NULL;
            return DP_ERR_INTERNAL;
        }
        pthread_setspecific(magic_key, thread_magic);
    }
    const char *m = magic_buffer(thread_magic, p, n);
    snprintf(mime, 128, "%s", m ? m : "application/octet-stream");
    return DP_OK;
}

static const struct {
    const char *mime;
    const char *kind;
} accepted[] = {
    {"text/plain", "text"},
    {"text/markdown", "text"},
    {"text/csv", "text"}, /* libmagic's guess for prose with commas on every line */
    {"text/html", "document"},
    {"application/pdf", "document"},
    {"application/epub+zip", "document"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"},
    {"audio/x-wav", "audio"},
    {"audio/wav", "audio"},
    {"audio/mpeg", "audio"},
    {"audio/ogg", "audio"},
    {"audio/flac", "audio"},
    {"audio/x-flac", "audio"},
    {"audio/x-m4a", "audio"},
    {"audio/mp4", "audio"},
    {"audio/webm", "audio"},
    {"video/mp4", "video"},
    {"video/webm", "video"},
    {"video/quicktime", "video"},
    {"image/png", "image"},
    {"image/jpeg", "image"},
    {"image/webp", "image"},
    {"image/gif", "image"},
};

static int has_ext(const char *filename, const char *ext)
{
    size_t n = filename ? strlen(filename) : 0, e = strlen(ext);
    return n > e && !strcasecmp(filename + n - e, ext);
}

const char *media_kind_for(const char *mime, const char *filename, const char **refined_mime)
{
    *refined_mime = mime;
    /* libmagic calls Markdown plain text and an M4A "video/mp4" or "audio/x-m4a"; the name
     * decides between equally plausible readings, never against the bytes. */
    if (!strcmp(mime, "text/plain") && (has_ext(filename, ".md") || has_ext(filename, ".markdown")))
        *refined_mime = "text/markdown";
    if (!strcmp(mime, "video/mp4") && has_ext(filename, ".m4a"))
        *refined_mime = "audio/mp4";
    if (!strcmp(mime, "video/webm") && (has_ext(filename, ".weba") || has_ext(filename, ".opus")))
        *refined_mime = "audio/webm";
    /* EPUB and DOCX are zip files; libmagic names them only when the archive is laid out
     * canonically. The extractor checks the contents either way. */
    if (!strcmp(mime, "application/zip") && has_ext(filename, ".epub"))
        *refined_mime = "application/epub+zip";
    if (!strcmp(mime, "application/zip") && has_ext(filename, ".docx"))
        *refined_mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++)
        if (!strcmp(*refined_mime, accepted[i].mime))
            return accepted[i].kind;
    return NULL;
}

/* Characters a displayed file name must not carry: controls (C0, DEL, C1), the bidirectional
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: "invoice\u202Efdp.exe" would
 * show as "invoiceexe.pdf"), the direction marks (U+200E, U+200F, U+061C), line and paragraph
 * separators and the byte order mark. */
static int filename_drops(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||
           c == 0x200E || c == 0x200F || c == 0x061C || c == 0x2028 || c == 0x2029 || c == 0xFEFF;
}

void media_clean_filename(const char *in, char out[256])
{
    const char *base = in ? strrchr(in, '/') : NULL;
    base = base ? base + 1 : in ? in : "";
    const char *bs = strrchr(base, '\\');
    if (bs)
        base = bs + 1;
    const unsigned char *p = (const unsigned char *)base;
    size_t n = 0, left = strlen(base);
    /* Whole characters only: bytes that are not well-formed UTF-8 are dropped, and a character
     * that would not fit in 255 bytes ends the name. */
    while (left) {
        uint32_t c;
        size_t k = utf8_decode(p, left, &c);
        if (!k) {
            p++, left--;
            continue;
        }
        if (!filename_drops(c)) {
            if (n + k > 255)
                break;
            memcpy(out + n, p, k);
            n += k;
        }
        p += k, left -= k;
    }
    out[n] = 0;
}

json_t *media_from_row(const struct db_rows *r, int i)
{
    const char *meta = db_rows_text(r, i, 10);
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s?,s:s,s:s?,s:o,s:s?,s:s,s:s,s:b}", "id", db_rows_text(r, i, 0),
                     "avatar_id", db_rows_text(r, i, 1), "owner_id", db_rows_text(r, i, 2), "sha256",
                     db_rows_text(r, i, 3), "size", (json_int_t)db_rows_int(r, i, 4), "mime", db_rows_text(r, i, 5),
                     "kind", db_rows_text(r, i, 6), "filename", db_rows_text(r, i, 7), "status", db_rows_text(r, i, 8),
                     "status_detail", db_rows_text(r, i, 9), "meta", m ? m : json_object(), "job_id",
                     db_rows_text(r, i, 11), "created_at", db_rows_text(r, i, 12), "updated_at", db_rows_text(r, i, 13),
                     "own_words", db_rows_int(r, i, 14) != 0);
}

int media_set_own_words(struct db *db, const char *media_id, int own)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_rows *r;
    struct db_val p[] = {DB_INT(own ? 1 : 0), DB_TEXT(now), DB_TEXT(media_id)};
    int err = db_query(db, "UPDATE media SET own_words = ?, updated_at = ? WHERE id = ?", p, 3, &r);
    if (err)
        return err;
    err = r->changes == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    db_rows_free(r);
    return err;
}

void media_release_blob(struct db *db, struct blob_store *bs, const char *key)
{
    struct db_rows *r = NULL;
    /* Any doubt keeps the blob: keeping an orphan is better than losing a file. */
    if (db_begin(db))
        return;
    /* A device recording keeps its audio too (its conversation's media item shares the blob). */
    struct db_val p2[] = {DB_TEXT(key), DB_TEXT(key), DB_TEXT(key)};
    if (!db_xact_lock(db, MEDIA_LOCK_BLOBS) &&
        !db_query(db,
                  "SELECT 1 FROM media WHERE blob_key = ? UNION ALL SELECT 1 FROM media_derived WHERE blob_key = ? "
                  "UNION ALL SELECT 1 FROM recordings WHERE blob_key = ?",
                  p2, 3, &r) &&
        r->nrows == 0)
        blob_remove(bs, key);
    db_rows_free(r);
    db_commit(db);
}

int media_delete(struct db *db, struct blob_store *bs, const char *media_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id), DB_TEXT(media_id)};
    int err = db_query(
        db, "SELECT blob_key FROM media WHERE id = ? UNION SELECT blob_key FROM media_derived WHERE media_id = ?", p, 2,
        &r);
    if (err)
        return err;
    /* Memories and derived rows go with the row (ON DELETE CASCADE); blobs after, if unshared. */
    err = db_query(db, "DELETE FROM media WHERE id = ?", p, 1, NULL);
    for (int i = 0; !err && i < r->nrows; i++)
        media_release_blob(db, bs, db_rows_text(r, i, 0));
    db_rows_free(r);
    return err;
}

/* The media row id as JSON with "duplicate_of": its id; job_id "" (no new job). */
static int media_existing(struct db *db, const char *id, json_t **media, char job_id[ID_LEN])
{
    struct db_rows *r;
    struct db_val q[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT " MEDIA_COLUMNS " FROM media WHERE id = ?", q, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) { /* deleted in between: the caller may simply upload again */
        db_rows_free(r);
        return DP_ERR_CONFLICT;
    }
    *media = media_from_row(r, 0);
    db_rows_free(r);
    if (!*media)
        return DP_ERR_NOMEM;
    json_object_set_new(*media, "duplicate_of", json_string(id));
    job_id[0] = 0;
    return DP_OK;
}

int media_create(struct db *db, struct blob_store *bs, struct blob_writer *w, uint64_t size, const char *sniff,
                 size_t sniff_len, const char *avatar_id, const char *owner_id, const char *org_id,
                 const char *filename, int flags, const struct media_origin *origin, json_t **media,
                 char job_id[ID_LEN], char *msg, size_t msglen)
{
    char mime[128], key[BLOB_KEY_LEN + 1], id[ID_LEN], now[RFC3339_LEN];
    const char *refined, *kind;
    int err;
    /* Refusals come before anything is stored. */
    if (size == 0) {
        blob_abort(w);
        snprintf(msg, msglen, "the file is empty");
        return DP_ERR_UNPROCESSABLE;
    }
    if ((err = media_sniff(sniff, sniff_len, mime))) {
        blob_abort(w);
        return err;
    }
    if (!(kind = media_kind_for(mime, filename, &refined))) {
        blob_abort(w);
        snprintf(msg, msglen, "files of type %s are not accepted (text, documents, audio, video, images)", mime);
        return DP_ERR_UNSUPPORTED;
    }
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    /* The blob, the row and its job become durable together, before anyone is told. */
    if ((err = db_begin(db))) {
        blob_abort(w);
        return err;
    }
    uint64_t stored = 0;
    int committed = 0;
    /* The avatar may have been deleted while the bytes arrived. On PostgreSQL the row stays
     * share-locked until commit, so a delete waits for this media to exist and takes it along. */
    struct db_rows *av = NULL;
    struct db_val ap[] = {DB_TEXT(avatar_id)};
    err = db_query(db,
                   db_dialect(db) == DB_POSTGRES ? "SELECT 1 FROM avatars WHERE id = ? AND deleted_at IS NULL FOR SHARE"
                                                 : "SELECT 1 FROM avatars WHERE id = ? AND deleted_at IS NULL",
                   ap, 1, &av);
    if (!err && av->nrows == 0) {
        err = DP_ERR_NOT_FOUND;
        snprintf(msg, msglen, "the avatar was deleted while the file was uploading");
    }
    db_rows_free(av);
    /* A commit takes the writer whether it succeeds or fails; without one, it is aborted here. */
    if (!err && !(err = db_xact_lock(db, MEDIA_LOCK_BLOBS)))
        committed = !(err = blob_commit(w, key, &stored));
    else
        blob_abort(w);
    /* The same bytes uploaded to this avatar again would double every memory made from them.
     * Under the blob lock, so two identical uploads at once cannot both miss each other. The
     * existing media's row still holds the blob: nothing needs releasing. */
    char dup[ID_LEN] = "";
    if (!err && !(flags & MEDIA_ALLOW_DUPLICATE)) {
        struct db_rows *d;
        struct db_val dp[] = {DB_TEXT(avatar_id), DB_TEXT(key)};
        if (!(err = db_query(db, "SELECT id FROM media WHERE avatar_id = ? AND blob_key = ? ORDER BY id LIMIT 1", dp, 2,
                             &d))) {
            if (d->nrows == 1)
                snprintf(dup, sizeof dup, "%s", db_rows_text(d, 0, 0));
            db_rows_free(d);
        }
        if (!err && *dup) {
            db_rollback(db);
            return media_existing(db, dup, media, job_id);
        }
    }
    /* After the duplicate check: a file the avatar has already costs nothing. */
    if (!err)
        err = quota_check(db, avatar_id, (int64_t)stored, 0, msg, msglen);
    json_t *payload = json_pack("{s:s,s:s}", "media_id", id, "avatar_id", avatar_id);
    if (!err)
        err = job_enqueue(db, "media.ingest", payload, owner_id, org_id, job_id);
    json_decref(payload);
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(avatar_id),
                         DB_TEXT(owner_id),
                         DB_TEXT(key),
                         DB_INT(stored),
                         DB_TEXT(refined),
                         DB_TEXT(kind),
                         filename && *filename ? DB_TEXT(filename) : DB_NULL,
                         DB_TEXT("queued"),
                         DB_TEXT("waiting for processing"),
                         DB_TEXT(job_id),
                         DB_TEXT(now),
                         DB_TEXT(now),
                         DB_TEXT(origin ? origin->recorded_at : NULL),
                         DB_TEXT(origin ? origin->timeline : NULL)};
    if (!err)
        err = db_query(db,
                       "INSERT INTO media (id, avatar_id, owner_id, blob_key, size, mime, kind, filename, status, "
                       "status_detail, job_id, created_at, updated_at, recorded_at, timeline) VALUES (?, ?, ?, ?, ?, "
                       "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 15, NULL);
    if (!err)
        err = db_commit(db);
    if (err) {
        db_rollback(db);
        if (committed)
            media_release_blob(db, bs, key);
        return err;
    }
    struct db_rows *r;
    struct db_val q[] = {DB_TEXT(id)};
    if ((err = db_query(db, "SELECT " MEDIA_COLUMNS " FROM media WHERE id = ?", q, 1, &r)))
        return err;
    *media = media_from_row(r, 0);
    db_rows_free(r);
    return DP_OK;
}

int media_delete_user(struct context *e, const char *user_id, int removes_admin)
{
    /* Their avatars (and media rows) go with the user by cascade: the blobs are read first and
     * released after, each only if no other row still uses it. */
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(user_id)};
    struct db_rows *blobs = NULL;
    int err = db_query(e->db,
                       "SELECT m.blob_key FROM media m JOIN avatars a ON a.id = m.avatar_id WHERE a.owner_id = ? "
                       "UNION SELECT d.blob_key FROM media_derived d JOIN media m ON m.id = d.media_id JOIN avatars a "
                       "ON a.id = m.avatar_id WHERE a.owner_id = ?",
                       p, 2, &blobs);
    if (err)
        return err;
    /* Their avatars leave every cached answer that showed them (lists of their organisations). */
    struct db_rows *owned = NULL;
    if ((err = db_query(e->db, "SELECT id, org_id FROM avatars WHERE owner_id = ?", p, 1, &owned))) {
        db_rows_free(blobs);
        return err;
    }
    err = users_delete(e, user_id, removes_admin);
    for (int i = 0; !err && i < owned->nrows; i++) {
        avatar_cache_forget(e->cache, db_rows_text(owned, i, 0));
        avatar_lists_forget(e->cache, db_rows_text(owned, i, 1), user_id);
    }
    for (int i = 0; !err && i < blobs->nrows; i++)
        media_release_blob(e->db, e->blobs, db_rows_text(blobs, i, 0));
    db_rows_free(owned);
    db_rows_free(blobs);
    return err;
}

int media_list(struct db *db, const char *avatar_id, const char *after, long limit, json_t **items)
{
    struct db_val p[] = {DB_TEXT(avatar_id)};
    return db_page(db, "SELECT " MEDIA_COLUMNS " FROM media WHERE avatar_id = ?", "id", 0, p, 1, after, limit,
                   media_from_row, items);
}

int media_find(struct db *db, const struct caller *c, const char *id, enum avatar_access need, struct db_rows **row)
{
    if (!id || !id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT " MEDIA_COLUMNS " FROM media WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1 || (err = avatar_access(db, c, db_rows_text(r, 0, 1), need, NULL))) {
        db_rows_free(r);
        return err ? err : DP_ERR_NOT_FOUND;
    }
    *row = r;
    return DP_OK;
}

int media_variant(struct db *db, const char *media_id, const char *variant, char key[BLOB_KEY_LEN + 1], char mime[128])
{
    struct db_rows *d;
    struct db_val p[] = {DB_TEXT(media_id), DB_TEXT(variant)};
    int err = db_query(db, "SELECT blob_key, mime FROM media_derived WHERE media_id = ? AND variant = ?", p, 2, &d);
    if (err)
        return err;
    err = d->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err) {
        snprintf(key, BLOB_KEY_LEN + 1, "%s", db_rows_text(d, 0, 0));
        snprintf(mime, 128, "%s", db_rows_text(d, 0, 1));
    }
    db_rows_free(d);
    return err;
}

int media_derived_put(struct db *db, struct blob_store *bs, const char *media_id, const char *variant, const void *p,
                      size_t n, const char *mime)
{
    char key[BLOB_KEY_LEN + 1], old[BLOB_KEY_LEN + 1] = "", old_mime[128];
    int err = blob_put(bs, p, n, key);
    if (err)
        return err;
    int had = media_variant(db, media_id, variant, old, old_mime) == DP_OK;
    struct db_val d[] = {DB_TEXT(media_id), DB_TEXT(variant)};
    struct db_val ins[] = {DB_TEXT(media_id), DB_TEXT(variant), DB_TEXT(key), DB_TEXT(mime), DB_INT((int64_t)n)};
    if (!(err = db_begin(db)) &&
        !(err = db_query(db, "DELETE FROM media_derived WHERE media_id = ? AND variant = ?", d, 2, NULL)) &&
        !(err =
              db_query(db, "INSERT INTO media_derived (media_id, variant, blob_key, mime, size) VALUES (?, ?, ?, ?, ?)",
                       ins, 5, NULL)))
        err = db_commit(db);
    if (err) {
        db_rollback(db);
        media_release_blob(db, bs, key);
        return err;
    }
    if (had && strcmp(old, key)) /* the previous version's file, unless something else holds it */
        media_release_blob(db, bs, old);
    return DP_OK;
}

int media_reprocess(struct db *db, const char *media_id, const char *avatar_id, const char *owner_id,
                    const char *org_id, char job_id[ID_LEN])
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    json_t *payload = json_pack("{s:s,s:s}", "media_id", media_id, "avatar_id", avatar_id);
    if (!payload)
        return DP_ERR_NOMEM;
    int err = db_begin(db);
    if (!err)
        err = job_enqueue(db, "media.ingest", payload, owner_id, org_id, job_id);
    json_decref(payload);
    struct db_val p[] = {DB_TEXT(job_id), DB_TEXT(now), DB_TEXT(media_id)};
    if (!err)
        err = db_query(db,
                       "UPDATE media SET status = 'queued', status_detail = 'waiting to be processed again', "
                       "job_id = ?, updated_at = ? WHERE id = ?",
                       p, 3, NULL);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    return err;
}
