/* Each user's event log (numbered per user, read back on reconnect) and the fan-out wire format. */
#include "chat/events.h"
#include "chat/event_numbers.h"

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

/* Marks stored with one statement each of up to this many rows. */
#define APPEND_BATCH CHAT_NUMBERS_BATCH
/* Every MARK_EVERY-th number of a user (1, 1 + MARK_EVERY, ...) is a mark: where a read starts. */
#define MARK_EVERY 32
/* Event rows one catch-up query looks at before it asks for more. */
#define SCAN_BATCH 1000

/* "user seq\n" for each recipient at m (room for n * RECIPIENT_LINE_MAX bytes); its length. */
#define RECIPIENT_LINE_MAX (ID_LEN + 21)
static size_t recipient_lines(char *m, const struct chat_recipient *r, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t ul = strnlen(r[i].user_id, ID_LEN - 1);
        memcpy(m + o, r[i].user_id, ul);
        o += ul;
        m[o++] = ' ';
        o += fmt_i64(m + o, r[i].seq);
        m[o++] = '\n';
    }
    return o;
}

/* Stores the event itself once, with its chat and its recipients' numbers; its row id in *id
 * (given: that id, no RETURNING, which costs SQLite a temporary table). */
static int event_store(struct db *db, const char *chat_id, const struct chat_recipient *r, int n, const char *type,
                       const char *data, int64_t *id)
{
    char now[RFC3339_LEN], *lines = malloc((size_t)n * RECIPIENT_LINE_MAX + 1);
    if (!lines)
        return DP_ERR_NOMEM;
    lines[recipient_lines(lines, r, n)] = 0;
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(chat_id), DB_TEXT(type), DB_TEXT(data), DB_TEXT(lines), DB_TEXT(now), DB_INT(*id)};
    struct db_rows *rows;
    int err = *id ? db_query(db,
                             "INSERT INTO chat_events (chat_id, type, data, recipients, created_at, id) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             p, 6, NULL)
                  : db_query(db,
                             "INSERT INTO chat_events (chat_id, type, data, recipients, created_at) "
                             "VALUES (?, ?, ?, ?, ?) RETURNING id",
                             p, 5, &rows);
    free(lines);
    if (err || *id)
        return err;
    *id = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    db_rows_free(rows);
    return *id ? DP_OK : DP_ERR_DB;
}

/* The marks among r: where each recipient whose number is a MARK_EVERY-th one finds this event. */
static int marks_store(struct db *db, const struct chat_recipient *r, int n, int64_t event_id)
{
    static const char head[] = "INSERT INTO user_event_marks (user_id, seq, event_id) VALUES ", row[] = "(?, ?, ?),";
    char sql[sizeof head + APPEND_BATCH * (sizeof row - 1)];
    struct db_val q[APPEND_BATCH * 3];
    int k = 0, err = DP_OK;
    for (int i = 0; i <= n && !err; i++) {
        if (k && (i == n || k == APPEND_BATCH)) {
            size_t o = sizeof head - 1;
            memcpy(sql, head, o);
            for (int j = 0; j < k; j++, o += sizeof row - 1)
                memcpy(sql + o, row, sizeof row - 1);
            sql[o - 1] = 0; /* the last comma */
            err = db_query(db, sql, q, 3 * k, NULL);
            k = 0;
        }
        if (i < n && (r[i].seq - 1) % MARK_EVERY == 0) {
            q[3 * k] = DB_TEXT(r[i].user_id);
            q[3 * k + 1] = DB_INT(r[i].seq);
            q[3 * k + 2] = DB_INT(event_id);
            k++;
        }
    }
    return err;
}

int chat_events_append(struct db *db, const char *chat_id, struct chat_recipient *r, int n, const char *type,
                       const char *data)
{
    if (n <= 0)
        return DP_OK;
    /* The numbers first, then the event: a transaction that takes a user's next number after
     * another's commit also gets a later event id, so each user's log is in event id order (which
     * is how chat_events_since reads it) on PostgreSQL too, where ids are handed out unserialized. */
    int64_t event_id;
    int err = chat_numbers_take(db, r, n, &event_id);
    if (err || (err = event_store(db, chat_id, r, n, type, data, &event_id)))
        return err;
    chat_numbers_stored(db, event_id);
    return marks_store(db, r, n, event_id);
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

/* seq of user_id in an event's recipient lines; 0 when it is not one of them. */
static int64_t seq_in(const char *lines, const char *user_id, size_t ul)
{
    for (const char *p = lines; *p;) {
        if (!strncmp(p, user_id, ul) && p[ul] == ' ')
            return strtoll(p + ul + 1, NULL, 10);
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

/* Where to start reading user_id's events after since: the event of the last mark at or before
 * since + 1 (0: from the first). */
static int read_from(struct db *db, const char *user_id, int64_t since, int64_t *from)
{
    struct db_val p[] = {DB_TEXT(user_id), DB_INT(since + 1)};
    struct db_rows *rows;
    int err =
        db_query(db, "SELECT event_id FROM user_event_marks WHERE user_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
                 p, 2, &rows);
    if (err)
        return err;
    *from = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    db_rows_free(rows);
    return DP_OK;
}

/* Appends one frame to out (room for CHAT_EVENTS_PAGE made on the first). */
static int frames_add(struct chat_frames *out, const char *type, int64_t seq, const char *data)
{
    if (!out->frame) {
        out->frame = calloc(CHAT_EVENTS_PAGE, sizeof *out->frame);
        out->len = calloc(CHAT_EVENTS_PAGE, sizeof *out->len);
        if (!out->frame || !out->len)
            return DP_ERR_NOMEM;
    }
    if (!(out->frame[out->n] = chat_frame_build(type, seq, data, strlen(data), &out->len[out->n])))
        return DP_ERR_NOMEM;
    out->n++;
    out->last_seq = seq;
    return DP_OK;
}

/* Calls each(arg, seq, type, data) for user_id's events from event id `from` on, in id order
 * (type and data NULL unless with_data),
 * until it returns non-zero (DP_OK stops nothing; a positive value stops, an error too). The
 * user's events are the events of the chats they are or were in (a member who leaves keeps the
 * row) that name them among their recipients. */
static int scan(struct db *db, const char *user_id, int64_t from, int with_data,
                int (*each)(void *arg, int64_t seq, const char *type, const char *data), void *arg)
{
#define SCAN_WHERE                                                                                                     \
    " FROM chat_events WHERE chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = ?) AND id >= ? "             \
    "ORDER BY id LIMIT ?"
    size_t ul = strlen(user_id);
    int err = DP_OK, more = 1;
    while (!err && more) {
        struct db_val p[] = {DB_TEXT(user_id), DB_INT(from), DB_INT(SCAN_BATCH)};
        struct db_rows *rows;
        if ((err = db_query(
                 db, with_data ? "SELECT id, recipients, type, data" SCAN_WHERE : "SELECT id, recipients" SCAN_WHERE, p,
                 3, &rows)))
            break;
        more = rows->nrows == SCAN_BATCH;
        for (int i = 0; !err && i < rows->nrows; i++) {
            int64_t seq = seq_in(db_rows_text(rows, i, 1), user_id, ul);
            from = db_rows_int(rows, i, 0) + 1;
            if (seq)
                err = each(arg, seq, with_data ? db_rows_text(rows, i, 2) : NULL,
                           with_data ? db_rows_text(rows, i, 3) : NULL);
        }
        db_rows_free(rows);
    }
    return err > 0 ? DP_OK : err;
}

static int add_after(void *arg, int64_t seq, const char *type, const char *data)
{
    struct chat_frames *out = arg;
    if (seq <= out->last_seq)
        return DP_OK;
    int err = frames_add(out, type, seq, data);
    return err ? err : out->n == CHAT_EVENTS_PAGE;
}

int chat_events_since(struct db *db, const char *user_id, int64_t since, struct chat_frames *out)
{
    memset(out, 0, sizeof *out);
    out->last_seq = since;
    int64_t from;
    int err = read_from(db, user_id, since, &from);
    if (!err)
        err = scan(db, user_id, from, 1, add_after, out);
    if (err)
        chat_frames_free(out);
    return err;
}

static int keep_max(void *arg, int64_t seq, const char *type, const char *data)
{
    (void)type;
    (void)data;
    int64_t *max = arg;
    if (seq > *max)
        *max = seq;
    return DP_OK;
}

int chat_events_last_stored(struct db *db, const char *user_id, int64_t *seq)
{
    struct db_val p[] = {DB_TEXT(user_id)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT seq, event_id FROM user_event_marks WHERE user_id = ? ORDER BY seq DESC LIMIT 1", p,
                       1, &rows);
    if (err)
        return err;
    /* The first number of every user is a mark: none, no events. */
    *seq = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    int64_t from = rows->nrows ? db_rows_int(rows, 0, 1) : -1;
    db_rows_free(rows);
    return from < 0 ? DP_OK : scan(db, user_id, from, 0, keep_max, seq);
}

int chat_events_last(struct db *db, const char *user_id, int64_t *seq)
{
    return chat_numbers_last(db, user_id, seq);
}

char *chat_fanout_encode(const struct chat_recipient *r, int n, const char *type, const char *data, size_t *len)
{
    size_t dlen = strlen(data), cap = 16 + (size_t)n * RECIPIENT_LINE_MAX + strlen(type) + 2 + dlen + 1;
    char *m = malloc(cap);
    if (!m)
        return NULL;
    size_t o = fmt_i64(m, n);
    m[o++] = '\n';
    o += recipient_lines(m + o, r, n);
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
