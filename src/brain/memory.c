/* Memory store: the rows of `memories`, manual memories and their versioned edits. Listing and
 * search live in memory_search.c. */
#include "brain/memory.h"
#include "brain/memory_embed.h"
#include "brain/memory_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "store/db_read.h"

static json_t *int_or_null(const struct db_rows *r, int i, int c)
{
    return db_rows_is_null(r, i, c) ? json_null() : json_integer(db_rows_int(r, i, c));
}

json_t *memory_from_row(const struct db_rows *r, int i)
{
    json_t *source = json_null();
    if (!db_rows_is_null(r, i, 3))
        source = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "media_id", db_rows_text(r, i, 3), "start_ms",
                           int_or_null(r, i, 4), "end_ms", int_or_null(r, i, 5), "char_start", int_or_null(r, i, 6),
                           "char_end", int_or_null(r, i, 7), "page", int_or_null(r, i, 8));
    const char *occurred = db_rows_text(r, i, 14);
    json_t *m = json_pack("{s:s,s:s,s:s,s:o,s:s?,s:f,s:I,s:s,s:s,s:o}", "id", db_rows_text(r, i, 0), "kind",
                          db_rows_text(r, i, 1), "text", db_rows_text(r, i, 2), "source", source, "speaker",
                          db_rows_text(r, i, 9), "importance", db_rows_real(r, i, 10), "version",
                          (json_int_t)db_rows_int(r, i, 11), "created_at", db_rows_text(r, i, 12), "updated_at",
                          db_rows_text(r, i, 13), "occurred_at", occurred ? json_string(occurred) : json_null());
    /* A fact read from a conversation: the messages it came from. */
    const char *ids = db_rows_is_null(r, i, 15) ? NULL : db_rows_text(r, i, 16);
    json_t *list = ids ? json_loads(ids, 0, NULL) : NULL;
    if (m && json_is_array(list))
        json_object_set_new(m, "messages",
                            json_pack("{s:s,s:O}", "conversation_id", db_rows_text(r, i, 15), "message_ids", list));
    json_decref(list);
    return m;
}

/* Code point at p (valid UTF-8 assumed; callers check), its byte length in *len. */
int memory_get(struct db *db, const char *avatar_id, const char *memory_id, json_t **out)
{
    if (!id_valid(memory_id))
        return DP_ERR_NOT_FOUND;
    struct db_val p[] = {DB_TEXT(memory_id), DB_TEXT(avatar_id)};
    return db_one(db, "SELECT " MEMORY_COLUMNS " FROM memories m WHERE m.id = ? AND m.avatar_id = ?", p, 2,
                  memory_from_row, out);
}

int memory_create(struct db *db, const char *avatar_id, const char *text, const char *kind, double importance,
                  const char *speaker, json_t **out)
{
    return memory_create_with_source(db, avatar_id, text, kind, importance, speaker, NULL, out);
}

int memory_create_with_source(struct db *db, const char *avatar_id, const char *text, const char *kind,
                              double importance, const char *speaker, const struct memory_source *source, json_t **out)
{
    char id[ID_LEN], now[RFC3339_LEN];
    int sourced = source && source->media_id;
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(avatar_id),
                         DB_TEXT(kind),
                         DB_TEXT(text),
                         DB_TEXT(speaker),
                         DB_REAL(importance),
                         DB_TEXT(sourced ? source->media_id : NULL),
                         sourced ? DB_INT(source->start_ms) : DB_NULL,
                         sourced ? DB_INT(source->end_ms) : DB_NULL,
                         DB_TEXT(source ? source->occurred_at : NULL),
                         DB_TEXT(source ? source->conversation_id : NULL),
                         DB_TEXT(source && source->conversation_id ? source->message_ids : NULL),
                         DB_TEXT(now),
                         DB_TEXT(now)};
    int err = db_query(db,
                       "INSERT INTO memories (id, avatar_id, kind, text, speaker, importance, media_id, start_ms, "
                       "end_ms, occurred_at, conversation_id, message_ids, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 14, NULL);
    if (err)
        return err;
    memory_embed_after_write(db, avatar_id, id);
    return memory_get(db, avatar_id, id, out);
}

int memory_update(struct db *db, const char *avatar_id, const char *memory_id, const char *text, const char *kind,
                  const double *importance, const char *speaker, const char *occurred_at, const char *editor_id,
                  json_t **out)
{
    json_t *old;
    if (!text && !kind && !importance && !speaker && !occurred_at) /* nothing to change: no new version */
        return memory_get(db, avatar_id, memory_id, out);
    int err = db_begin(db);
    if (err)
        return err;
    if ((err = memory_get(db, avatar_id, memory_id, &old)))
        goto out_rollback;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    json_int_t version = json_integer_value(json_object_get(old, "version"));
    struct db_val v[] = {DB_TEXT(memory_id),
                         DB_INT(version),
                         DB_TEXT(json_string_value(json_object_get(old, "text"))),
                         DB_TEXT(json_string_value(json_object_get(old, "kind"))),
                         DB_REAL(json_real_value(json_object_get(old, "importance"))),
                         DB_TEXT(editor_id),
                         DB_TEXT(now)};
    err = db_query(db,
                   "INSERT INTO memory_versions (memory_id, version, text, kind, importance, edited_by, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   v, 7, NULL);
    struct db_val u[] = {DB_TEXT(text ? text : json_string_value(json_object_get(old, "text"))),
                         DB_TEXT(kind ? kind : json_string_value(json_object_get(old, "kind"))),
                         DB_REAL(importance ? *importance : json_real_value(json_object_get(old, "importance"))),
                         DB_TEXT(speaker ? speaker : json_string_value(json_object_get(old, "speaker"))),
                         DB_TEXT(occurred_at ? (*occurred_at ? occurred_at : NULL)
                                             : json_string_value(json_object_get(old, "occurred_at"))),
                         DB_TEXT(now),
                         DB_TEXT(memory_id),
                         DB_INT(version)};
    struct db_rows *r = NULL;
    /* The version check makes two concurrent edits of one memory a conflict, not a lost update. */
    if (!err)
        err = db_query(db,
                       "UPDATE memories SET text = ?, kind = ?, importance = ?, speaker = ?, occurred_at = ?, "
                       "version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                       u, 8, &r);
    if (!err && r->changes != 1)
        err = DP_ERR_CONFLICT;
    db_rows_free(r);
    json_decref(old);
    /* Read back inside the transaction: the answer is this edit, not a later one. */
    if (!err)
        err = memory_get(db, avatar_id, memory_id, out);
    if (!err && (err = db_commit(db)))
        json_decref(*out);
    if (err)
        goto out_rollback;
    if (text)
        memory_embed_after_write(db, avatar_id, memory_id);
    return DP_OK;
out_rollback:
    db_rollback(db);
    return err;
}

int memory_delete(struct db *db, const char *avatar_id, const char *memory_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(memory_id), DB_TEXT(avatar_id)};
    int err = db_query(db, "DELETE FROM memories WHERE id = ? AND avatar_id = ?", p, 2, &r);
    if (err)
        return err;
    err = r->changes == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    db_rows_free(r);
    return err;
}

int memory_versions(struct db *db, const char *avatar_id, const char *memory_id, json_t **items)
{
    json_t *cur;
    int err = memory_get(db, avatar_id, memory_id, &cur);
    if (err)
        return err;
    json_decref(cur);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(memory_id)};
    if ((err = db_query(db,
                        "SELECT version, text, kind, importance, edited_by, created_at FROM memory_versions "
                        "WHERE memory_id = ? ORDER BY version DESC",
                        p, 1, &r)))
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, json_pack("{s:I,s:s,s:s,s:f,s:s?,s:s}", "version",
                                                (json_int_t)db_rows_int(r, i, 0), "text", db_rows_text(r, i, 1), "kind",
                                                db_rows_text(r, i, 2), "importance", db_rows_real(r, i, 3), "edited_by",
                                                db_rows_text(r, i, 4), "replaced_at", db_rows_text(r, i, 5)));
    db_rows_free(r);
    return DP_OK;
}

int memory_avatar_rev(struct db *db, const char *avatar_id, int64_t *rev)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT memory_rev FROM avatars WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    *rev = r->nrows ? db_rows_int(r, 0, 0) : -1;
    db_rows_free(r);
    return DP_OK;
}
