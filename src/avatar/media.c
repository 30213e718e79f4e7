/* Media sniffing, kinds and rows. */
#include "avatar/media.h"

#include <magic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/blob.h"
#include "store/db.h"

/* libmagic handles are not thread-safe: one per worker thread, loaded once. */
static _Thread_local magic_t thread_magic;

int media_sniff(const void *p, size_t n, char mime[128])
{
    if (!thread_magic) {
        thread_magic = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF);
        if (!thread_magic || magic_load(thread_magic, NULL)) {
            DP_LOG(LOG_ERROR, "[media] libmagic failed to load its database");
            if (thread_magic)
                magic_close(thread_magic);
            thread_magic = NULL;
            return DP_ERR_INTERNAL;
        }
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

void media_clean_filename(const char *in, char out[256])
{
    const char *base = in ? strrchr(in, '/') : NULL;
    base = base ? base + 1 : in ? in : "";
    const char *bs = strrchr(base, '\\');
    if (bs)
        base = bs + 1;
    size_t n = 0;
    for (const char *p = base; *p && n < 255; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            out[n++] = *p;
    out[n] = 0;
    /* Cut back to whole UTF-8 characters if the cap split one. */
    while (n && !utf8_valid(out, n))
        out[--n] = 0;
}

json_t *media_from_row(const struct db_rows *r, int i)
{
    const char *meta = db_rows_text(r, i, 10);
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s?,s:s,s:s?,s:o,s:s?,s:s,s:s}", "id", db_rows_text(r, i, 0),
                     "avatar_id", db_rows_text(r, i, 1), "owner_id", db_rows_text(r, i, 2), "sha256",
                     db_rows_text(r, i, 3), "size", (json_int_t)db_rows_int(r, i, 4), "mime", db_rows_text(r, i, 5),
                     "kind", db_rows_text(r, i, 6), "filename", db_rows_text(r, i, 7), "status", db_rows_text(r, i, 8),
                     "status_detail", db_rows_text(r, i, 9), "meta", m ? m : json_object(), "job_id",
                     db_rows_text(r, i, 11), "created_at", db_rows_text(r, i, 12), "updated_at",
                     db_rows_text(r, i, 13));
}

void media_release_blob(struct db *db, struct blob_store *bs, const char *key)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(key)};
    if (db_query(db, "SELECT 1 FROM media WHERE blob_key = ? LIMIT 1", p, 1, &r))
        return; /* unsure: keeping a blob is better than losing one */
    int used = r->nrows > 0;
    db_rows_free(r);
    if (!used)
        blob_remove(bs, key);
}
