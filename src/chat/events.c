/* Each user's event log (numbered per user, read back on reconnect) and the fan-out wire format. */
#include "chat/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fmt.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/db.h"

static int by_user(const void *a, const void *b)
{
    return strcmp(((const struct chat_recipient *)a)->user_id, ((const struct chat_recipient *)b)->user_id);
}

int chat_recipients_sort(struct chat_recipient *r, int n)
{
    if (n < 2)
        return n;
    qsort(r, (size_t)n, sizeof *r, by_user);
    int k = 1;
    for (int i = 1; i < n; i++)
        if (strcmp(r[i].user_id, r[k - 1].user_id))
            r[k++] = r[i];
    return k;
}

/* Recipients numbered and referenced with one statement each of up to this many rows. */
#define APPEND_BATCH 100

/* Stores the event itself once; its row id in *id. */
static int event_store(struct db *db, const char *type, const char *data, int64_t *id)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(type), DB_TEXT(data), DB_TEXT(now)};
    struct db_rows *rows;
    int err =
        db_query(db, "INSERT INTO chat_events (type, data, created_at) VALUES (?, ?, ?) RETURNING id", p, 3, &rows);
    if (err)
        return err;
    *id = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    db_rows_free(rows);
    return *id ? DP_OK : DP_ERR_DB;
}

int chat_events_append(struct db *db, struct chat_recipient *r, int n, const char *type, const char *data)
{
    static const char seq_head[] = "INSERT INTO user_event_seq (user_id, last_seq) VALUES ",
                      seq_tail[] = " ON CONFLICT (user_id) DO UPDATE SET last_seq = user_event_seq.last_seq + 1 "
                                   "RETURNING user_id, last_seq",
                      ref_head[] = "INSERT INTO user_event_refs (user_id, seq, event_id) VALUES ",
                      seq_row[] = "(?, 1),", ref_row[] = "(?, ?, ?),";
    char sql[sizeof ref_head + APPEND_BATCH * (sizeof ref_row - 1) + sizeof seq_tail];
    struct db_val q[APPEND_BATCH * 3];
    int64_t event_id;
    int err = n > 0 ? event_store(db, type, data, &event_id) : DP_OK;
    if (err)
        return err;
    for (int at = 0; at < n; at += APPEND_BATCH) {
        int k = n - at < APPEND_BATCH ? n - at : APPEND_BATCH;
        for (int i = 0; i < k; i++)
            r[at + i].seq = 0;
        /* One statement numbers the event for k recipients: their counter rows are made or bumped,
         * and locked in the order of r (sorted by user id) until the transaction ends. */
        size_t o = sizeof seq_head - 1;
        memcpy(sql, seq_head, o);
        for (int i = 0; i < k; i++) {
            memcpy(sql + o, seq_row, sizeof seq_row - 1);
            o += sizeof seq_row - 1;
            q[i] = DB_TEXT(r[at + i].user_id);
        }
        memcpy(sql + o - 1, seq_tail, sizeof seq_tail); /* over the last comma */
        struct db_rows *rows;
        if ((err = db_query(db, sql, q, k, &rows)))
            return err;
        for (int i = 0; i < rows->nrows; i++) {
            /* RETURNING promises no order: match the rows to recipients by id. */
            const char *uid = db_rows_text(rows, i, 0);
            int j = i < k && !strcmp(r[at + i].user_id, uid) ? i : -1;
            for (int m = 0; j < 0 && m < k; m++)
                if (!strcmp(r[at + m].user_id, uid))
                    j = m;
            if (j >= 0)
                r[at + j].seq = db_rows_int(rows, i, 1);
        }
        db_rows_free(rows);
        /* Each recipient's log gets a reference to the one stored event under its own number. */
        o = sizeof ref_head - 1;
        memcpy(sql, ref_head, o);
        for (int i = 0; i < k; i++) {
            if (!r[at + i].seq)
                return DP_ERR_DB; /* a duplicate recipient or a missing row: never numbered */
            memcpy(sql + o, ref_row, sizeof ref_row - 1);
            o += sizeof ref_row - 1;
            q[3 * i] = DB_TEXT(r[at + i].user_id);
            q[3 * i + 1] = DB_INT(r[at + i].seq);
            q[3 * i + 2] = DB_INT(event_id);
        }
        sql[o - 1] = 0; /* the last comma */
        if ((err = db_query(db, sql, q, 3 * k, NULL)))
            return err;
    }
    return DP_OK;
}

int chat_events_publish(struct cache *c, const struct chat_recipient *r, int n, const char *type, const char *data)
{
    if (n <= 0)
        return DP_OK;
    size_t len;
    char *msg = chat_fanout_encode(r, n, type, data, &len);
    if (!msg)
        return DP_ERR_NOMEM;
    int err = cache_publish(c, CHAT_EVENTS_CHANNEL, msg, len);
    free(msg);
    return err;
}

char *chat_frame_build(const char *type, int64_t seq, const char *data, size_t data_len, size_t *len)
{
    size_t cap = strlen(type) + data_len + 64;
    char *f = malloc(cap);
    if (!f)
        return NULL;
    int h = seq ? snprintf(f, cap, "{\"type\":\"%s\",\"seq\":%lld,\"data\":", type, (long long)seq)
                : snprintf(f, cap, "{\"type\":\"%s\",\"data\":", type);
    memcpy(f + h, data, data_len);
    f[h + data_len] = '}';
    f[h + data_len + 1] = 0;
    *len = (size_t)h + data_len + 1;
    return f;
}

void chat_frames_free(struct chat_frames *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->frame[i]);
    free(f->frame);
    free(f->len);
    memset(f, 0, sizeof *f);
}

int chat_events_since(struct db *db, const char *user_id, int64_t since, struct chat_frames *out)
{
    memset(out, 0, sizeof *out);
    out->last_seq = since;
    struct db_val p[] = {DB_TEXT(user_id), DB_INT(since), DB_INT(CHAT_EVENTS_PAGE)};
    struct db_rows *rows;
    int err = db_query(db,
                       "SELECT r.seq, e.type, e.data FROM user_event_refs r JOIN chat_events e ON e.id = r.event_id "
                       "WHERE r.user_id = ? AND r.seq > ? ORDER BY r.seq LIMIT ?",
                       p, 3, &rows);
    if (err)
        return err;
    if (rows->nrows) {
        out->frame = calloc((size_t)rows->nrows, sizeof *out->frame);
        out->len = calloc((size_t)rows->nrows, sizeof *out->len);
        if (!out->frame || !out->len)
            err = DP_ERR_NOMEM;
    }
    for (int i = 0; !err && i < rows->nrows; i++) {
        const char *data = db_rows_text(rows, i, 2);
        int64_t seq = db_rows_int(rows, i, 0);
        if (!(out->frame[i] = chat_frame_build(db_rows_text(rows, i, 1), seq, data, strlen(data), &out->len[i])))
            err = DP_ERR_NOMEM;
        else {
            out->n++;
            out->last_seq = seq;
        }
    }
    db_rows_free(rows);
    if (err)
        chat_frames_free(out);
    return err;
}

int chat_events_last(struct db *db, const char *user_id, int64_t *seq)
{
    struct db_val p[] = {DB_TEXT(user_id)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT last_seq FROM user_event_seq WHERE user_id = ?", p, 1, &rows);
    if (err)
        return err;
    *seq = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    db_rows_free(rows);
    return DP_OK;
}

char *chat_fanout_encode(const struct chat_recipient *r, int n, const char *type, const char *data, size_t *len)
{
    size_t dlen = strlen(data), cap = 16 + (size_t)n * (ID_LEN + 24) + strlen(type) + 2 + dlen + 1;
    char *m = malloc(cap);
    if (!m)
        return NULL;
    size_t o = fmt_i64(m, n);
    m[o++] = '\n';
    for (int i = 0; i < n; i++) {
        size_t ul = strnlen(r[i].user_id, ID_LEN - 1);
        memcpy(m + o, r[i].user_id, ul);
        o += ul;
        m[o++] = ' ';
        o += fmt_i64(m + o, r[i].seq);
        m[o++] = '\n';
    }
    o += (size_t)snprintf(m + o, cap - o, "%s\n", type);
    memcpy(m + o, data, dlen + 1);
    *len = o + dlen;
    return m;
}

static int id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Checks one "user seq\n" line at p (before end); the byte after it, or NULL. */
static const char *recipient_line(const char *p, const char *end)
{
    const char *s = p;
    while (p < end && id_char(*p))
        p++;
    if (p == s || p - s >= ID_LEN || p >= end || *p++ != ' ')
        return NULL;
    s = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == s || p - s > 18 || p >= end || *p != '\n')
        return NULL;
    return p + 1;
}

int chat_fanout_parse(const char *msg, size_t len, struct chat_fanout *out)
{
    const char *p = msg, *end = msg + len;
    int n = 0;
    while (p < end && *p >= '0' && *p <= '9' && n <= CHAT_FANOUT_MAX)
        n = n * 10 + (*p++ - '0');
    if (p == msg || p >= end || *p++ != '\n' || n < 1 || n > CHAT_FANOUT_MAX)
        return DP_ERR_INVALID;
    out->n = n;
    out->next = p;
    for (int i = 0; i < n; i++)
        if (!(p = recipient_line(p, end)))
            return DP_ERR_INVALID;
    const char *t = p;
    while (p < end && ((*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_'))
        p++;
    if (p == t || p - t >= (long)sizeof out->type_buf || p >= end || *p++ != '\n')
        return DP_ERR_INVALID;
    memcpy(out->type_buf, t, (size_t)(p - 1 - t));
    out->type_buf[p - 1 - t] = 0;
    out->type = out->type_buf;
    /* The data is the publishing instance's JSON object; its braces are checked, not its body. */
    if (end - p < 2 || *p != '{' || end[-1] != '}' || memchr(p, 0, (size_t)(end - p)))
        return DP_ERR_INVALID;
    out->data = p;
    out->data_len = (size_t)(end - p);
    return DP_OK;
}

int chat_fanout_next(struct chat_fanout *f, char user_id[ID_LEN], int64_t *seq)
{
    if (f->n <= 0)
        return 0;
    const char *p = f->next, *sp = strchr(p, ' ');
    memcpy(user_id, p, (size_t)(sp - p));
    user_id[sp - p] = 0;
    *seq = strtoll(sp + 1, (char **)&p, 10);
    f->next = p + 1;
    f->n--;
    return 1;
}
