/* Memory store: rows in `memories`, text search through memories_fts (SQLite) or the tsv
 * column (PostgreSQL). Scores are "higher is better" on both: -bm25 on SQLite, ts_rank_cd on
 * PostgreSQL (not comparable across backends, only within one result list). */
#include "brain/memory.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "store/db.h"

#define MEMORY_COLUMNS                                                                                              \
    "m.id, m.kind, m.text, m.media_id, m.start_ms, m.end_ms, m.char_start, m.char_end, m.page, m.speaker, "       \
    "m.importance, m.version, m.created_at, m.updated_at"
#define NCOLS 14

static json_t *int_or_null(const struct db_rows *r, int i, int c)
{
    return db_rows_is_null(r, i, c) ? json_null() : json_integer(db_rows_int(r, i, c));
}

static json_t *memory_from_row(const struct db_rows *r, int i)
{
    json_t *source = json_null();
    if (!db_rows_is_null(r, i, 3))
        source = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "media_id", db_rows_text(r, i, 3), "start_ms",
                           int_or_null(r, i, 4), "end_ms", int_or_null(r, i, 5), "char_start", int_or_null(r, i, 6),
                           "char_end", int_or_null(r, i, 7), "page", int_or_null(r, i, 8));
    return json_pack("{s:s,s:s,s:s,s:o,s:s?,s:f,s:I,s:s,s:s}", "id", db_rows_text(r, i, 0), "kind",
                     db_rows_text(r, i, 1), "text", db_rows_text(r, i, 2), "source", source, "speaker",
                     db_rows_text(r, i, 9), "importance", db_rows_real(r, i, 10), "version",
                     (json_int_t)db_rows_int(r, i, 11), "created_at", db_rows_text(r, i, 12), "updated_at",
                     db_rows_text(r, i, 13));
}

int memory_query_terms(const char *q, int postgres, char *out, size_t cap)
{
    size_t at = 0;
    int n = 0;
    out[0] = 0;
    for (const unsigned char *p = (const unsigned char *)q; *p && n < MEMORY_QUERY_TERMS;) {
        /* A term: ASCII letters/digits and any non-ASCII bytes (letters of other scripts). */
        while (*p && !(isalnum(*p) || *p >= 0x80))
            p++;
        const unsigned char *s = p;
        while (*p && (isalnum(*p) || *p >= 0x80))
            p++;
        size_t len = (size_t)(p - s);
        if (!len)
            continue;
        if (len > 64)
            len = 64;
        /* FTS5 takes each term quoted (no operators from the user); tsquery takes bare words
         * joined by | (only letters and digits reach it, so nothing can break its syntax). */
        size_t need = len + 8;
        if (at + need >= cap)
            break;
        if (n)
            at += (size_t)snprintf(out + at, cap - at, postgres ? " | " : " OR ");
        at += (size_t)snprintf(out + at, cap - at, postgres ? "%.*s" : "\"%.*s\"", (int)len, (const char *)s);
        n++;
    }
    return n;
}

int memory_get(struct db *db, const char *avatar_id, const char *memory_id, json_t **out)
{
    if (!id_valid(memory_id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(memory_id), DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT " MEMORY_COLUMNS " FROM memories m WHERE m.id = ? AND m.avatar_id = ?", p, 2, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        *out = memory_from_row(r, 0);
    db_rows_free(r);
    return err;
}

int memory_list(struct db *db, const char *avatar_id, const char *q, const char *cursor, long limit, json_t **items,
                char **next_cursor, char *msg, size_t msglen)
{
    struct db_rows *r;
    int err, pg = db_dialect(db) == DB_POSTGRES;
    *next_cursor = NULL;
    if (!q) {
        char sql[384];
        snprintf(sql, sizeof sql, "SELECT " MEMORY_COLUMNS " FROM memories m WHERE m.avatar_id = ?%s ORDER BY m.id LIMIT ?",
                 cursor ? " AND m.id > ?" : "");
        struct db_val p[3] = {DB_TEXT(avatar_id)};
        int np = 1;
        if (cursor)
            p[np++] = DB_TEXT(cursor);
        p[np++] = DB_INT(limit);
        if ((err = db_query(db, sql, p, np, &r)))
            return err;
        *items = json_array();
        for (int i = 0; i < r->nrows; i++)
            json_array_append_new(*items, memory_from_row(r, i));
        if (r->nrows == limit)
            *next_cursor = strdup(db_rows_text(r, r->nrows - 1, 0));
        db_rows_free(r);
        return DP_OK;
    }
    if (strlen(q) > MEMORY_QUERY_MAX) {
        snprintf(msg, msglen, "q is longer than %d bytes", MEMORY_QUERY_MAX);
        return DP_ERR_INVALID;
    }
    char expr[MEMORY_QUERY_MAX * 2 + 256];
    if (memory_query_terms(q, pg, expr, sizeof expr) == 0) {
        snprintf(msg, msglen, "q has no word to search for");
        return DP_ERR_INVALID;
    }
    /* Search pages by offset: the cursor is "o<offset>". */
    long offset = 0;
    if (cursor && (cursor[0] != 'o' || (offset = strtol(cursor + 1, NULL, 10)) < 0 || offset > 100000)) {
        snprintf(msg, msglen, "cursor is not valid");
        return DP_ERR_INVALID;
    }
    struct db_val p[] = {DB_TEXT(expr), DB_TEXT(avatar_id), DB_INT(limit), DB_INT(offset)};
    if (pg)
        err = db_query(db,
                       "SELECT " MEMORY_COLUMNS ", ts_rank_cd(m.tsv, q) AS score, ts_headline('english', m.text, q, "
                       "'StartSel=\u00ab, StopSel=\u00bb, MaxWords=24, MinWords=8, MaxFragments=1') "
                       "FROM memories m, to_tsquery('english', ?) q WHERE m.avatar_id = ? AND m.tsv @@ q "
                       "ORDER BY score DESC, m.id LIMIT ? OFFSET ?",
                       p, 4, &r);
    else
        err = db_query(db,
                       "SELECT " MEMORY_COLUMNS ", -bm25(memories_fts) AS score, "
                       "snippet(memories_fts, 0, '\u00ab', '\u00bb', '\u2026', 24) FROM memories_fts "
                       "JOIN memories m ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND m.avatar_id = ? "
                       "ORDER BY score DESC, m.id LIMIT ? OFFSET ?",
                       p, 4, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++) {
        json_t *m = memory_from_row(r, i);
        json_object_set_new(m, "score", json_real(db_rows_real(r, i, NCOLS)));
        json_object_set_new(m, "highlight", json_string(db_rows_text(r, i, NCOLS + 1) ? db_rows_text(r, i, NCOLS + 1) : ""));
        json_array_append_new(*items, m);
    }
    if (r->nrows == limit) {
        char next[32];
        snprintf(next, sizeof next, "o%ld", offset + limit);
        *next_cursor = strdup(next);
    }
    db_rows_free(r);
    return DP_OK;
}

int memory_create(struct db *db, const char *avatar_id, const char *text, const char *kind, double importance,
                  const char *speaker, json_t **out)
{
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(id),         DB_TEXT(avatar_id), DB_TEXT(kind),  DB_TEXT(text),
                         DB_TEXT(speaker),    DB_REAL(importance), DB_TEXT(now),  DB_TEXT(now)};
    int err = db_query(db,
                       "INSERT INTO memories (id, avatar_id, kind, text, speaker, importance, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 8, NULL);
    return err ? err : memory_get(db, avatar_id, id, out);
}

int memory_update(struct db *db, const char *avatar_id, const char *memory_id, const char *text, const char *kind,
                  const double *importance, const char *editor_id, json_t **out)
{
    json_t *old;
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
                         DB_TEXT(now),
                         DB_TEXT(memory_id),
                         DB_INT(version)};
    struct db_rows *r = NULL;
    /* The version check makes two concurrent edits of one memory a conflict, not a lost update. */
    if (!err)
        err = db_query(db,
                       "UPDATE memories SET text = ?, kind = ?, importance = ?, version = version + 1, updated_at = ? "
                       "WHERE id = ? AND version = ?",
                       u, 6, &r);
    if (!err && r->changes != 1)
        err = DP_ERR_CONFLICT;
    db_rows_free(r);
    json_decref(old);
    if (!err)
        err = db_commit(db);
    if (err)
        goto out_rollback;
    return memory_get(db, avatar_id, memory_id, out);
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
        json_array_append_new(*items, json_pack("{s:I,s:s,s:s,s:f,s:s?,s:s}", "version", (json_int_t)db_rows_int(r, i, 0),
                                                "text", db_rows_text(r, i, 1), "kind", db_rows_text(r, i, 2),
                                                "importance", db_rows_real(r, i, 3), "edited_by",
                                                db_rows_text(r, i, 4), "replaced_at", db_rows_text(r, i, 5)));
    db_rows_free(r);
    return DP_OK;
}
