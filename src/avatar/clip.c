/* Spans of recordings (see clip.h): memory sources are checked against the avatar's own media,
 * replies are given audio when their first citation points at a recording, and WAV spans are cut
 * into a temporary file so that a clip of any allowed length is served without holding it in memory. */
#include "avatar/clip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/wav.h"
#include "brain/memory.h"
#include "core/err.h"
#include "core/fd_io.h"
#include "store/blob.h"
#include "store/db.h"

#define COPY_CHUNK (64 * 1024)

static int invalid(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int invalid(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return DP_ERR_INVALID;
}

int clip_is_wav(const char *mime)
{
    return mime && (!strcmp(mime, "audio/x-wav") || !strcmp(mime, "audio/wav") || !strcmp(mime, "audio/wave") ||
                    !strcmp(mime, "audio/vnd.wave"));
}

/* wav_read_fn over a blob reader. */
static long reader_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    return blob_read_at(ctx, off, buf, n);
}

/* Parses the WAV blob key: *r open on it (the caller closes) on DP_OK. */
static int open_wav(struct blob_store *bs, const char *key, struct blob_reader **r, struct wav_info *w)
{
    uint64_t size;
    int err = blob_reader_open(bs, key, r, &size);
    if (err)
        return err;
    if ((err = wav_parse(reader_read, *r, size, w))) {
        blob_reader_close(*r);
        *r = NULL;
    }
    return err;
}

int clip_source_read(struct db *db, struct blob_store *bs, const char *avatar_id, json_t *src,
                     struct memory_source *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(src))
        return invalid(msg, msglen, "source must be an object {media_id, start_ms, end_ms} or null");
    const char *media_id = json_string_value(json_object_get(src, "media_id"));
    json_t *s = json_object_get(src, "start_ms"), *e = json_object_get(src, "end_ms");
    if (!media_id)
        return invalid(msg, msglen, "source.media_id must be the id of a recording of this avatar");
    if (!json_is_integer(s) || !json_is_integer(e))
        return invalid(msg, msglen, "source.start_ms and source.end_ms must be whole milliseconds");
    json_int_t start = json_integer_value(s), end = json_integer_value(e);
    if (start < 0 || end <= start)
        return invalid(msg, msglen, "source needs 0 <= start_ms < end_ms");
    if (end - start > CLIP_SPAN_MAX_MS)
        return invalid(msg, msglen, "a source span is at most %d minutes", CLIP_SPAN_MAX_MS / 60000);
    /* The same answer for an unknown id and another avatar's media: ids of other avatars'
     * recordings are not confirmed to anyone. */
    if (!id_valid(media_id))
        return invalid(msg, msglen, "source.media_id is not a recording of this avatar");
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id), DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT kind, mime, blob_key FROM media WHERE id = ? AND avatar_id = ?", p, 2, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return invalid(msg, msglen, "source.media_id is not a recording of this avatar");
    }
    const char *kind = db_rows_text(r, 0, 0);
    if (strcmp(kind, "audio") && strcmp(kind, "video")) {
        err = invalid(msg, msglen, "source.media_id must be an audio or video recording, not %s", kind);
        goto out_free;
    }
    /* The length is known for PCM WAV (from its header); other formats are taken at their word
     * until the speech capability reads them. */
    struct wav_info w;
    struct blob_reader *br;
    if (clip_is_wav(db_rows_text(r, 0, 1)) && !open_wav(bs, db_rows_text(r, 0, 2), &br, &w)) {
        blob_reader_close(br);
        if ((uint64_t)end > wav_duration_ms(&w)) {
            err = invalid(msg, msglen, "source.end_ms is past the end of the recording (%llu ms long)",
                          (unsigned long long)wav_duration_ms(&w));
            goto out_free;
        }
    }
    out->media_id = media_id;
    out->start_ms = start;
    out->end_ms = end;
out_free:
    db_rows_free(r);
    return err;
}

int clip_reply_memory(struct db *db, const char *avatar_id, json_t *citations, char out[ID_LEN])
{
    json_t *c = json_array_get(citations, 0), *src = json_object_get(c, "source");
    const char *memory_id = json_string_value(json_object_get(c, "memory_id"));
    /* Most citations are passages of documents: decided without a query. */
    if (!memory_id || !json_is_integer(json_object_get(src, "start_ms")) ||
        !json_is_integer(json_object_get(src, "end_ms")))
        return 0;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(memory_id), DB_TEXT(avatar_id)};
    if (db_query(db,
                 "SELECT m.id FROM memories m JOIN media d ON d.id = m.media_id WHERE m.id = ? AND m.avatar_id = ? "
                 "AND m.start_ms IS NOT NULL AND m.end_ms IS NOT NULL AND m.start_ms < m.end_ms "
                 "AND d.kind IN ('audio', 'video')",
                 p, 2, &r))
        return 0;
    int found = r->nrows == 1;
    if (found)
        snprintf(out, ID_LEN, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return found;
}

/* An unlinked read-write file in $TMPDIR (or /tmp); -1 on failure. */
static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    /* File systems without O_TMPFILE: a named file, unlinked at once. */
    char path[4096];
    if (snprintf(path, sizeof path, "%s/doppel-clip-XXXXXX", dir) >= (int)sizeof path)
        return -1;
    int t = mkostemp(path, O_CLOEXEC);
    if (t >= 0)
        unlink(path);
    return t;
}

/* Copies len bytes at off of src to the end of dst. */
static int copy_range(struct blob_reader *src, uint64_t off, uint64_t len, int dst)
{
    char *buf = malloc(COPY_CHUNK);
    if (!buf)
        return DP_ERR_NOMEM;
    int err = DP_OK;
    while (len && !err) {
        size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
        long got = blob_read_at(src, off, buf, want);
        if (got != (long)want) /* the blob shrank under us, or failed */
            err = DP_ERR_IO;
        else
            err = fd_write_all(dst, buf, want);
        off += want;
        len -= want;
    }
    free(buf);
    return err;
}

int clip_wav_open(struct blob_store *bs, const char *key, int64_t start_ms, int64_t end_ms, int *fd, uint64_t *len)
{
    struct wav_info w;
    struct blob_reader *src;
    int err = open_wav(bs, key, &src, &w);
    if (err)
        return err == DP_ERR_INVALID ? DP_ERR_UNPROCESSABLE : err;
    uint64_t first, count;
    wav_span(&w, start_ms < 0 ? 0 : (uint64_t)start_ms, end_ms < 0 ? 0 : (uint64_t)end_ms, &first, &count);
    uint8_t head[WAV_HEADER_LEN];
    wav_header(&w, count, head);
    int t = temp_file();
    if (t < 0) {
        err = DP_ERR_IO;
        goto out_close_src;
    }
    if ((err = fd_write_all(t, head, sizeof head)) ||
        (err = copy_range(src, w.data_off + first * w.frame_bytes, count * w.frame_bytes, t))) {
        close(t);
        goto out_close_src;
    }
    *fd = t;
    *len = sizeof head + count * w.frame_bytes;
out_close_src:
    blob_reader_close(src);
    return err;
}
