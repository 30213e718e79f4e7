/* Each user's event numbers. On PostgreSQL (instances share the database) a counter row per user,
 * bumped in the transaction and locked until it ends. On SQLite (one process owns the file, and
 * BEGIN IMMEDIATE lets one transaction write at a time) the counters live in this process's
 * memory: a 1 -> 100 fan-out then writes no row per recipient. A counter missing from memory (the
 * first event since the start, or after a reset) is read from the stored events themselves (the
 * user's last mark and the events after it), so nothing needs to be written for it. */
#include "chat/event_numbers.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "store/db.h"

/* ---- PostgreSQL: a counter row per user ---------------------------------------------------- */

/* One statement numbers the event for r[0..k): their counter rows are made or bumped, and locked
 * in the order of r (sorted by user id) until the transaction ends, so concurrent appends cannot
 * deadlock. */
static int number_batch(struct db *db, struct chat_recipient *r, int k)
{
    static const char head[] = "INSERT INTO user_event_seq (user_id, last_seq) VALUES ",
                      tail[] = " ON CONFLICT (user_id) DO UPDATE SET last_seq = user_event_seq.last_seq + 1 "
                               "RETURNING user_id, last_seq",
                      row[] = "(?, 1),";
    char sql[sizeof head + CHAT_NUMBERS_BATCH * (sizeof row - 1) + sizeof tail];
    struct db_val q[CHAT_NUMBERS_BATCH];
    size_t o = sizeof head - 1;
    memcpy(sql, head, o);
    for (int i = 0; i < k; i++) {
        r[i].seq = 0;
        memcpy(sql + o, row, sizeof row - 1);
        o += sizeof row - 1;
        q[i] = DB_TEXT(r[i].user_id);
    }
    memcpy(sql + o - 1, tail, sizeof tail); /* over the last comma */
    struct db_rows *rows;
    int err = db_query(db, sql, q, k, &rows);
    if (err)
        return err;
    for (int i = 0; i < rows->nrows; i++) {
        /* RETURNING promises no order: match the rows to recipients by id. */
        const char *uid = db_rows_text(rows, i, 0);
        int j = i < k && !strcmp(r[i].user_id, uid) ? i : -1;
        for (int m = 0; j < 0 && m < k; m++)
            if (!strcmp(r[m].user_id, uid))
                j = m;
        if (j >= 0)
            r[j].seq = db_rows_int(rows, i, 1);
    }
    db_rows_free(rows);
    for (int i = 0; i < k; i++)
        if (!r[i].seq)
            return DP_ERR_DB; /* a duplicate recipient or a missing row: never numbered */
    return DP_OK;
}

static int rows_take(struct db *db, struct chat_recipient *r, int n)
{
    int err = DP_OK;
    for (int at = 0; at < n && !err; at += CHAT_NUMBERS_BATCH)
        err = number_batch(db, r + at, n - at < CHAT_NUMBERS_BATCH ? n - at : CHAT_NUMBERS_BATCH);
    return err;
}

/* ---- SQLite: counters in memory ------------------------------------------------------------ */

#define MEM_BUCKETS 16384
#define MEM_MAX 200000 /* users held (~80 bytes each); past it, all are dropped and read again */
#define UNKNOWN (-2)

struct counter {
    struct counter *next;
    int64_t seq;
    char user_id[ID_LEN];
};

static struct {
    pthread_mutex_t lock;
    struct counter *buckets[MEM_BUCKETS];
    long n;
    /* The id of the last event numbers were handed out for, once it is stored. When the largest
     * stored id differs at the next take, a transaction that took numbers was rolled back (its
     * event is gone): every counter is dropped and read again. UNKNOWN between a take and the
     * event's insert, so that a failure in between is noticed the same way. */
    int64_t last_event;
    uint64_t last_xact; /* the transaction that stored last_event (db_xact_id; 0 when unknown) */
} mem = {.lock = PTHREAD_MUTEX_INITIALIZER, .last_event = UNKNOWN};

static void mem_clear(void)
{
    for (int i = 0; i < MEM_BUCKETS; i++)
        for (struct counter *c = mem.buckets[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    memset(mem.buckets, 0, sizeof mem.buckets);
    mem.n = 0;
}

static struct counter **mem_bucket(const char *user_id)
{
    return &mem.buckets[hash_fnv1a(user_id, strlen(user_id)) % MEM_BUCKETS];
}

static struct counter *mem_find(const char *user_id)
{
    for (struct counter *c = *mem_bucket(user_id); c; c = c->next)
        if (!strcmp(c->user_id, user_id))
            return c;
    return NULL;
}

/* user_id's counter, read from the stored events when it is not held. */
static int mem_counter(struct db *db, const char *user_id, struct counter **out)
{
    struct counter **b = mem_bucket(user_id);
    if ((*out = mem_find(user_id)))
        return DP_OK;
    int64_t last;
    int err = chat_events_last_stored(db, user_id, &last);
    if (err)
        return err;
    if (mem.n >= MEM_MAX)
        mem_clear(); /* b is still the right bucket, now empty */
    struct counter *c = malloc(sizeof *c);
    if (!c)
        return DP_ERR_NOMEM;
    c->seq = last;
    memcpy(c->user_id, user_id, strnlen(user_id, ID_LEN - 1) + 1);
    c->next = *b;
    *b = c;
    mem.n++;
    *out = c;
    return DP_OK;
}

static int mem_take(struct db *db, struct chat_recipient *r, int n, int64_t *event_id)
{
    /* The last event stored in this same open transaction (a batch of sends) is the largest id:
     * no other writer could come in between, so it is not read again. */
    int64_t stored = UNKNOWN;
    uint64_t xact = db_xact_id(db);
    int err = DP_OK;
    pthread_mutex_lock(&mem.lock);
    int ours = xact && xact == mem.last_xact && mem.last_event != UNKNOWN;
    if (ours)
        stored = mem.last_event;
    pthread_mutex_unlock(&mem.lock);
    if (!ours) {
        struct db_rows *rows;
        if ((err = db_query(db, "SELECT COALESCE(MAX(id), 0) FROM chat_events", NULL, 0, &rows)))
            return err;
        stored = rows->nrows ? db_rows_int(rows, 0, 0) : UNKNOWN;
        db_rows_free(rows);
    }
    *event_id = stored + 1; /* this transaction holds the only write lock */
    pthread_mutex_lock(&mem.lock);
    if (stored != mem.last_event)
        mem_clear();
    mem.last_event = UNKNOWN;
    for (int i = 0; i < n && !err; i++) {
        struct counter *c;
        if (!(err = mem_counter(db, r[i].user_id, &c)))
            r[i].seq = ++c->seq;
    }
    if (err)
        mem_clear();
    pthread_mutex_unlock(&mem.lock);
    return err;
}

/* SQLite: the counter in memory when it is committed, else read from the stored events. The
 * counters run ahead of the commit while a transaction that took numbers is open; they are all
 * committed when the largest event id this read sees is the one they were last taken for. */
static int mem_last(struct db *db, const char *user_id, int64_t *seq)
{
    struct db_rows *rows;
    int held = 0;
    pthread_mutex_lock(&mem.lock);
    int err = db_query(db, "SELECT COALESCE(MAX(id), 0) FROM chat_events", NULL, 0, &rows);
    if (!err) {
        if (rows->nrows && db_rows_int(rows, 0, 0) == mem.last_event) {
            struct counter *c = mem_find(user_id);
            if ((held = c != NULL))
                *seq = c->seq;
        }
        db_rows_free(rows);
    }
    pthread_mutex_unlock(&mem.lock);
    return err || held ? err : chat_events_last_stored(db, user_id, seq);
}

/* ---- either ---------------------------------------------------------------------------------- */

int chat_numbers_take(struct db *db, struct chat_recipient *r, int n, int64_t *event_id)
{
    *event_id = 0;
    return db_dialect(db) == DB_SQLITE ? mem_take(db, r, n, event_id) : rows_take(db, r, n);
}

void chat_numbers_stored(struct db *db, int64_t event_id)
{
    if (db_dialect(db) != DB_SQLITE)
        return;
    pthread_mutex_lock(&mem.lock);
    mem.last_event = event_id;
    mem.last_xact = db_xact_id(db);
    pthread_mutex_unlock(&mem.lock);
}

int chat_numbers_last(struct db *db, const char *user_id, int64_t *seq)
{
    if (db_dialect(db) == DB_SQLITE)
        return mem_last(db, user_id, seq);
    struct db_val p[] = {DB_TEXT(user_id)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT last_seq FROM user_event_seq WHERE user_id = ?", p, 1, &rows);
    if (err)
        return err;
    *seq = rows->nrows ? db_rows_int(rows, 0, 0) : 0;
    db_rows_free(rows);
    return DP_OK;
}
