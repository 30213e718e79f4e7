/* Portraits (see portrait.h). */
#include "avatar/portrait.h"

#include <stdio.h>
#include <string.h>

#include "avatar/avatar.h"
#include "avatar/media.h"
#include "core/context.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/db.h"

static int set_column(struct context *e, const char *avatar_id, const char *media_id)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {media_id ? DB_TEXT(media_id) : DB_NULL, DB_TEXT(now), DB_TEXT(avatar_id)};
    int err = db_query(e->db, "UPDATE avatars SET portrait_media_id = ?, updated_at = ? WHERE id = ?", p, 3, NULL);
    if (!err) /* lists show portrait_media_id too */
        avatar_changed_by_id(e->cache, e->db, avatar_id);
    return err;
}

int portrait_set(struct context *e, const struct avatar_ref *ref, const char *media_id, char *msg, size_t msglen)
{
    if (!media_id || !id_valid(media_id)) {
        snprintf(msg, msglen, "media_id must be the id of one of this avatar's images");
        return DP_ERR_INVALID;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id), DB_TEXT(ref->id)};
    int err = db_query(e->db, "SELECT kind, status FROM media WHERE id = ? AND avatar_id = ?", p, 2, &r);
    if (err)
        return err;
    if (r->nrows != 1)
        snprintf(msg, msglen, "media_id must be the id of one of this avatar's images");
    else if (strcmp(db_rows_text(r, 0, 0), "image"))
        snprintf(msg, msglen, "a portrait is an image, not %s", db_rows_text(r, 0, 0));
    else if (!strcmp(db_rows_text(r, 0, 1), "failed"))
        snprintf(msg, msglen, "this image could not be processed: choose another");
    else
        msg[0] = 0;
    db_rows_free(r);
    if (msg[0])
        return DP_ERR_INVALID;
    return set_column(e, ref->id, media_id);
}

int portrait_clear(struct context *e, const struct avatar_ref *ref)
{
    return set_column(e, ref->id, NULL);
}

int portrait_picture(struct db *db, const char *avatar_id, int original, char key[BLOB_KEY_LEN + 1], char mime[128])
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db,
                       "SELECT d.id, d.blob_key, d.mime FROM avatars a JOIN media d ON d.id = a.portrait_media_id "
                       "WHERE a.id = ? AND a.deleted_at IS NULL",
                       p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    if (original || media_variant(db, db_rows_text(r, 0, 0), "thumbnail", key, mime) != DP_OK) {
        snprintf(key, BLOB_KEY_LEN + 1, "%s", db_rows_text(r, 0, 1));
        snprintf(mime, 128, "%s", db_rows_text(r, 0, 2));
    }
    db_rows_free(r);
    return DP_OK;
}

int portrait_store(struct context *e, const char *avatar_id, const char *owner_id, const char *org_id, const void *p,
                   size_t n, const char *filename)
{
    struct blob_writer *w;
    int err = blob_writer_new(e->blobs, &w);
    if (err)
        return err;
    if ((err = blob_write(w, p, n))) {
        blob_abort(w);
        return err;
    }
    json_t *media = NULL;
    char job[ID_LEN], msg[256] = "";
    size_t sniff = n < MEDIA_SNIFF_BYTES ? n : MEDIA_SNIFF_BYTES;
    /* media_create takes the writer whatever happens. */
    err = media_create(e->db, e->blobs, w, n, p, sniff, avatar_id, owner_id, org_id, filename, 0, NULL, &media, job,
                       msg, sizeof msg);
    if (err) {
        DP_LOG(LOG_INFO, "[portrait] not stored for %s: %s", avatar_id, msg[0] ? msg : dp_strerror(err));
        return err;
    }
    const char *kind = json_string_value(json_object_get(media, "kind"));
    const char *media_id = json_string_value(json_object_get(media, "id"));
    err = kind && !strcmp(kind, "image") ? set_column(e, avatar_id, media_id) : DP_ERR_UNSUPPORTED;
    json_decref(media);
    return err;
}
