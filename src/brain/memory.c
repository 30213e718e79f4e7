/* Memory store: rows in `memories`, text search through memories_fts (SQLite) or the tsv
 * column (PostgreSQL). The engine picks the candidates; the ranking is done here, the same on
 * both backends, with this avatar's statistics only: more of the query's words first, then
 * BM25. Scores are "higher is better" and comparable within one result list. */
#include "brain/memory.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
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

/* Code point at p (valid UTF-8 assumed; callers check), its byte length in *len. */
static unsigned decode_cp(const unsigned char *p, size_t *len)
{
    if (p[0] < 0x80)
        return *len = 1, p[0];
    if ((p[0] & 0xe0) == 0xc0)
        return *len = 2, (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    if ((p[0] & 0xf0) == 0xe0)
        return *len = 3, (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    return *len = 4, (unsigned)(p[0] & 0x07) << 18 | (unsigned)(p[1] & 0x3f) << 12 | (unsigned)(p[2] & 0x3f) << 6 |
                     (p[3] & 0x3f);
}

/* Letters and digits of any script are word characters; ASCII punctuation, Unicode spaces
 * (Zs, Zl, Zp), general punctuation (dashes, quotes, bullets) and CJK punctuation are not. */
static int word_char(unsigned cp)
{
    if (cp < 0x80)
        return isalnum((int)cp);
    if ((cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x3000 && cp <= 0x3003) ||
        (cp >= 0x3008 && cp <= 0x3011) || cp == 0xfeff || (cp >= 0xff01 && cp <= 0xff0f) || cp == 0xff1a ||
        cp == 0xff1b || cp == 0xff1f || cp == 0xab || cp == 0xbb || cp == 0xb7 || cp == 0xbf || cp == 0xa1)
        return 0;
    return 1;
}

int memory_query_terms(const char *q, int postgres, char *out, size_t cap)
{
    size_t at = 0;
    int n = 0;
    out[0] = 0;
    if (!utf8_valid(q, strlen(q)))
        return 0;
    for (const unsigned char *p = (const unsigned char *)q; *p && n < MEMORY_QUERY_TERMS;) {
        size_t l;
        while (*p && !word_char(decode_cp(p, &l)))
            p += l;
        const unsigned char *s = p;
        while (*p && word_char(decode_cp(p, &l)))
            p += l;
        size_t len = (size_t)(p - s);
        /* Words are kept whole (a cut could split a character or miss the word); absurdly long
         * ones are dropped. */
        if (!len || len > MEMORY_TERM_MAX)
            continue;
        /* FTS5 takes each term quoted (no operators from the user); tsquery takes each term in
         * single quotes joined by | (only word characters are inside, so nothing breaks out). */
        if (at + len + 8 >= cap)
            break;
        if (n)
            at += (size_t)snprintf(out + at, cap - at, postgres ? " | " : " OR ");
        at += (size_t)snprintf(out + at, cap - at, postgres ? "'%.*s'" : "\"%.*s\"", (int)len, (const char *)s);
        n++;
    }
    return n;
}

/* Counts, for each word of q (up to MEMORY_QUERY_TERMS), its occurrences in text, and text's
 * length in words. Matching is case-insensitive for ASCII, on a light stem ("tree" meets
 * "trees", "planted" meets "planting"). Returns the number of query words. */
static int term_counts(const char *q, const char *text, int tf[MEMORY_QUERY_TERMS], int *doclen)
{
    int nq = 0;
    size_t l;
    const unsigned char *qs[MEMORY_QUERY_TERMS];
    size_t stems[MEMORY_QUERY_TERMS];
    for (const unsigned char *p = (const unsigned char *)q; *p && nq < MEMORY_QUERY_TERMS;) {
        while (*p && !word_char(decode_cp(p, &l)))
            p += l;
        const unsigned char *s = p;
        while (*p && word_char(decode_cp(p, &l)))
            p += l;
        size_t len = (size_t)(p - s);
        if (!len || len > MEMORY_TERM_MAX)
            continue;
        size_t stem = len;
        if (len > 5 && s[len - 3] == 'i' && s[len - 2] == 'n' && s[len - 1] == 'g')
            stem = len - 3;
        else if (len > 4 && s[len - 2] == 'e' && (s[len - 1] == 'd' || s[len - 1] == 's'))
            stem = len - 2;
        else if (len > 3 && s[len - 1] == 's')
            stem = len - 1;
        qs[nq] = s;
        stems[nq] = stem;
        tf[nq++] = 0;
    }
    *doclen = 0;
    for (const unsigned char *t = (const unsigned char *)text; *t;) {
        while (*t && !word_char(decode_cp(t, &l)))
            t += l;
        const unsigned char *w = t;
        while (*t && word_char(decode_cp(t, &l)))
            t += l;
        if (t == w)
            break;
        (*doclen)++;
        for (int i = 0; i < nq; i++) {
            size_t k = 0;
            while (k < stems[i] && w + k < t && tolower(w[k]) == tolower(qs[i][k]))
                k++;
            tf[i] += k == stems[i];
        }
    }
    return nq;
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

struct ranked {
    int row, hits;
    double score;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->hits != y->hits)
        return y->hits - x->hits;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->row - y->row; /* the engine's order (ties broken by id) */
}

static int64_t avatar_memory_count(struct db *db, const char *avatar_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    if (db_query(db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", p, 1, &r))
        return 0;
    int64_t n = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return n;
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
    if (!utf8_valid(q, strlen(q))) {
        snprintf(msg, msglen, "q is not valid UTF-8");
        return DP_ERR_INVALID;
    }
    char expr[MEMORY_QUERY_MAX * 2 + 256];
    if (memory_query_terms(q, pg, expr, sizeof expr) == 0) {
        snprintf(msg, msglen, "q has no word to search for");
        return DP_ERR_INVALID;
    }
    /* Search pages by offset: the cursor is "o<offset>". */
    long offset = 0;
    if (cursor) {
        char *end;
        offset = cursor[0] == 'o' ? strtol(cursor + 1, &end, 10) : -1;
        if (cursor[0] != 'o' || !cursor[1] || *end || offset < 0 || offset > MEMORY_SEARCH_WINDOW) {
            snprintf(msg, msglen, "cursor is not valid");
            return DP_ERR_INVALID;
        }
    }
    /* The engine's ranking (BM25 statistics are per table, ts_rank_cd counts repeats) picks a
     * window of candidates; within it, memories holding more of the query's words come first,
     * then the engine's score. */
    long window = offset + limit + 100;
    if (window > MEMORY_SEARCH_WINDOW)
        window = MEMORY_SEARCH_WINDOW;
    struct db_val p[] = {DB_TEXT(expr), DB_TEXT(avatar_id), DB_INT(window)};
    if (pg)
        err = db_query(db,
                       "SELECT " MEMORY_COLUMNS ", ts_rank_cd(m.tsv, q) AS score, ts_headline('english', m.text, q, "
                       "'StartSel=\u00ab, StopSel=\u00bb, MaxWords=24, MinWords=8, MaxFragments=1') "
                       "FROM memories m, to_tsquery('english', ?) q WHERE m.avatar_id = ? AND m.tsv @@ q "
                       "ORDER BY score DESC, m.id LIMIT ?",
                       p, 3, &r);
    else
        err = db_query(db,
                       "SELECT " MEMORY_COLUMNS ", -bm25(memories_fts) AS score, "
                       "snippet(memories_fts, 0, '\u00ab', '\u00bb', '\u2026', 24) FROM memories_fts "
                       "JOIN memories m ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND m.avatar_id = ? "
                       "ORDER BY score DESC, m.id LIMIT ?",
                       p, 3, &r);
    if (err)
        return err;
    /* Rank the candidates here, with statistics of this avatar only (the engines' own
     * statistics span every tenant, and ts_rank_cd rewards one repeated word): memories holding
     * more of the query's words first, then BM25 (k1 1.2, b 0.75) over the candidates. */
    struct ranked *rk = calloc((size_t)r->nrows + 1, sizeof *rk);
    int (*tf)[MEMORY_QUERY_TERMS] = calloc((size_t)r->nrows + 1, sizeof *tf);
    int *dl = calloc((size_t)r->nrows + 1, sizeof *dl);
    if (!rk || !tf || !dl) {
        free(rk);
        free(tf);
        free(dl);
        db_rows_free(r);
        return DP_ERR_NOMEM;
    }
    int nq = 0, df[MEMORY_QUERY_TERMS] = {0};
    double total_len = 0;
    for (int i = 0; i < r->nrows; i++) {
        nq = term_counts(q, db_rows_text(r, i, 2), tf[i], &dl[i]);
        total_len += dl[i];
        for (int t = 0; t < nq; t++)
            df[t] += tf[i][t] > 0;
    }
    double ndocs = (double)avatar_memory_count(db, avatar_id);
    if (ndocs < r->nrows)
        ndocs = r->nrows;
    double avgdl = r->nrows ? total_len / r->nrows : 1;
    for (int i = 0; i < r->nrows; i++) {
        rk[i].row = i;
        double score = 0;
        for (int t = 0; t < nq; t++) {
            if (!tf[i][t])
                continue;
            rk[i].hits++;
            double idf = log(1.0 + (ndocs - df[t] + 0.5) / (df[t] + 0.5));
            score += idf * tf[i][t] * 2.2 / (tf[i][t] + 1.2 * (0.25 + 0.75 * dl[i] / (avgdl > 0 ? avgdl : 1)));
        }
        rk[i].score = score;
    }
    free(tf);
    free(dl);
    qsort(rk, (size_t)r->nrows, sizeof *rk, cmp_ranked);
    *items = json_array();
    for (long k = offset; k < offset + limit && k < r->nrows; k++) {
        int i = rk[k].row;
        json_t *m = memory_from_row(r, i);
        json_object_set_new(m, "score", json_real(rk[k].score));
        json_object_set_new(m, "highlight", json_string(db_rows_text(r, i, NCOLS + 1) ? db_rows_text(r, i, NCOLS + 1) : ""));
        json_array_append_new(*items, m);
    }
    if (offset + limit < r->nrows) {
        char next[32];
        snprintf(next, sizeof next, "o%ld", offset + limit);
        *next_cursor = strdup(next);
    }
    free(rk);
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
                  const double *importance, const char *speaker, const char *editor_id, json_t **out)
{
    json_t *old;
    if (!text && !kind && !importance && !speaker) /* nothing to change: no new version */
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
                         DB_TEXT(now),
                         DB_TEXT(memory_id),
                         DB_INT(version)};
    struct db_rows *r = NULL;
    /* The version check makes two concurrent edits of one memory a conflict, not a lost update. */
    if (!err)
        err = db_query(db,
                       "UPDATE memories SET text = ?, kind = ?, importance = ?, speaker = ?, version = version + 1, "
                       "updated_at = ? WHERE id = ? AND version = ?",
                       u, 7, &r);
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
        json_array_append_new(*items, json_pack("{s:I,s:s,s:s,s:f,s:s?,s:s}", "version", (json_int_t)db_rows_int(r, i, 0),
                                                "text", db_rows_text(r, i, 1), "kind", db_rows_text(r, i, 2),
                                                "importance", db_rows_real(r, i, 3), "edited_by",
                                                db_rows_text(r, i, 4), "replaced_at", db_rows_text(r, i, 5)));
    db_rows_free(r);
    return DP_OK;
}
