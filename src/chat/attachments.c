/* The bytes behind a chat attachment: a member of a chat may read the media attached to a
 * message of it — only those, only while a member (leaving ends it, as it ends reading the
 * history), and never other media of the sender. Anything else is DP_ERR_NOT_FOUND. */
#include <stdio.h>
#include <string.h>

#include "avatar/media.h"
#include "chat/chat_impl.h"
#include "core/err.h"
#include "core/id.h"

/* 1 when the stored attachments (JSON text) name media_id. */
static int attached(const char *attachments, const char *media_id)
{
    json_t *a = attachments ? json_loads(attachments, 0, NULL) : NULL;
    size_t i;
    json_t *it;
    int found = 0;
    json_array_foreach (a, i, it) {
        const char *id = json_string_value(json_object_get(it, "media_id"));
        found |= id && !strcmp(id, media_id);
    }
    json_decref(a);
    return found;
}

int chat_attachment_find(struct context *e, const char *chat_id, const char *message_id, const char *media_id,
                         const char *variant, struct chat_attachment *out)
{
    if (!id_valid(message_id) || !id_valid(media_id))
        return DP_ERR_NOT_FOUND;
    int err = chat_member_check(e->db, chat_id, e->caller->user_id, NULL);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(message_id), DB_TEXT(chat_id)};
    struct db_rows *rows;
    /* A message deleted for everyone has dropped its attachments. */
    if ((err = db_query(e->db,
                        "SELECT sender_id, attachments FROM chat_messages WHERE id = ? AND chat_id = ? "
                        "AND deleted_at IS NULL",
                        p, 2, &rows)))
        return err;
    char sender[ID_LEN] = "";
    if (rows->nrows && attached(db_rows_text(rows, 0, 1), media_id))
        snprintf(sender, sizeof sender, "%s", db_rows_text(rows, 0, 0));
    db_rows_free(rows);
    if (!*sender)
        return DP_ERR_NOT_FOUND;
    /* Still the sender's upload (a media the sender deleted since is gone for everyone). */
    struct db_val q[] = {DB_TEXT(media_id), DB_TEXT(sender)};
    if ((err = db_query(e->db, "SELECT blob_key, mime, kind, filename FROM media WHERE id = ? AND owner_id = ?", q, 2,
                        &rows)))
        return err;
    err = rows->nrows ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err) {
        snprintf(out->key, sizeof out->key, "%s", db_rows_text(rows, 0, 0));
        snprintf(out->mime, sizeof out->mime, "%s", db_rows_text(rows, 0, 1));
        snprintf(out->kind, sizeof out->kind, "%s", db_rows_text(rows, 0, 2));
        const char *fn = db_rows_text(rows, 0, 3);
        snprintf(out->filename, sizeof out->filename, "%s", fn ? fn : "media");
    }
    db_rows_free(rows);
    if (!err && variant) {
        /* The derived file (an image's thumbnail) instead of the original. */
        if ((err = media_variant(e->db, media_id, variant, out->key, out->mime)))
            return err;
        snprintf(out->kind, sizeof out->kind, "image");
    }
    return err;
}
