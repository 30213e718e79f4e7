/* The job queue in the database: enqueue, claim with a lease, finish guarded by the lease token. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs_impl.h"
#include "store/cache.h"
#include "store/db.h"

int64_t job_backoff_base_ms = 2000;
int64_t job_backoff_cap_ms = 10 * 60 * 1000;

static const char *const status_names[] = {"queued", "running", "retrying", "done", "dead"};

const char *job_status_name(enum job_status s)
{
    return (unsigned)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "unknown";
}

int job_status_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof status_names / sizeof status_names[0]); i++)
        if (!strcmp(s, status_names[i]))
            return i;
    return -1;
}

int64_t job_backoff_ms(int attempt, double u)
{
    if (attempt < 1)
        attempt = 1;
    double d = (double)job_backoff_base_ms;
    for (int i = 1; i < attempt && d < (double)job_backoff_cap_ms; i++)
        d *= 2;
    if (d > (double)job_backoff_cap_ms)
        d = (double)job_backoff_cap_ms;
    /* ±25 % jitter keeps jobs that failed together (a provider outage) from retrying together. */
    d *= 0.75 + 0.5 * u;
    return (int64_t)d;
}

/* A uniform double in [0, 1). */
static double jitter_unit(void)
{
    return randombytes_uniform(1u << 30) / (double)(1u << 30);
}

int job_enqueue(struct db *db, const char *kind, const json_t *payload, const char *owner_id, const char *org_id,
                char id_out[ID_LEN])
{
    return job_enqueue_ex(db, kind, payload, owner_id, org_id, 0, 0, id_out);
}

/* The payload's string member name when it is an id ("avatar_id", "media_id"): the job is
 * tagged with what it works on, so lists can be filtered without reading payloads. */
static const char *payload_ref(const json_t *payload, const char *name)
{
    const char *v = json_string_value(json_object_get(payload, name));
    return v && id_valid(v) ? v : NULL;
}

int job_enqueue_ex(struct db *db, const char *kind, const json_t *payload, const char *owner_id, const char *org_id,
                   int max_attempts, int64_t delay_ms, char id_out[ID_LEN])
{
    if (!kind || !*kind || strlen(kind) > JOB_KIND_MAX || (payload && !json_is_object(payload)) || max_attempts < 0 ||
        delay_ms < 0)
        return DP_ERR_INVALID;
    if (!max_attempts)
        max_attempts = jobs_kind_max_attempts(kind);
    size_t len = 2;
    char *text = payload ? json_dump_compact(payload, &len) : strdup("{}");
    if (!text)
        return DP_ERR_NOMEM;
    int err = DP_ERR_TOO_LARGE;
    if (len > JOB_PAYLOAD_MAX)
        goto out_free_text;
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    int64_t now_ms = time_now_ms();
    time_rfc3339(now_ms, now);
    const char *avatar = payload_ref(payload, "avatar_id"), *media = payload_ref(payload, "media_id");
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(kind),
                         DB_TEXT(text),
                         DB_INT(max_attempts),
                         DB_TEXT(owner_id),
                         DB_TEXT(org_id),
                         avatar ? DB_TEXT(avatar) : DB_NULL,
                         media ? DB_TEXT(media) : DB_NULL,
                         DB_INT(now_ms + delay_ms),
                         DB_TEXT(now),
                         DB_TEXT(now)};
    err = db_query(db,
                   "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, progress, owner_id, org_id, "
                   "avatar_id, media_id, run_at, created_at, updated_at) "
                   "VALUES (?, ?, ?, 'queued', 0, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                   p, 11, NULL);
    if (err)
        goto out_free_text;
    if (id_out)
        memcpy(id_out, id, ID_LEN);
    if (!delay_ms)
        jobs_wake();
out_free_text:
    free(text);
    return err;
}

/* The columns job_from_row reads, in order. */
#define JOB_COLUMNS                                                                                                    \
    "id, kind, status, attempts, max_attempts, progress, last_error, owner_id, org_id, run_at, created_at, "           \
    "updated_at, finished_at, avatar_id, media_id"

static json_t *text_or_null(const struct db_rows *r, int row, int col)
{
    return db_rows_is_null(r, row, col) ? json_null() : json_string(db_rows_text(r, row, col));
}

/* The public JSON of row `row` of a SELECT JOB_COLUMNS. */
static json_t *job_from_row(const struct db_rows *r, int row)
{
    char run_at[RFC3339_LEN];
    time_rfc3339(db_rows_int(r, row, 9), run_at);
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:o}", "id", db_rows_text(r, row, 0), "kind",
                     db_rows_text(r, row, 1), "status", db_rows_text(r, row, 2), "attempts",
                     (json_int_t)db_rows_int(r, row, 3), "max_attempts", (json_int_t)db_rows_int(r, row, 4), "progress",
                     (json_int_t)db_rows_int(r, row, 5), "last_error", text_or_null(r, row, 6), "owner_id",
                     text_or_null(r, row, 7), "avatar_id", text_or_null(r, row, 13), "media_id",
                     text_or_null(r, row, 14), "run_at", run_at, "created_at", db_rows_text(r, row, 10), "updated_at",
                     db_rows_text(r, row, 11), "finished_at", text_or_null(r, row, 12));
}

int job_get_json(struct db *db, const char *id, json_t **out, char owner_out[ID_LEN], char org_out[ID_LEN])
{
    if (!id || !id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    if (owner_out)
        snprintf(owner_out, ID_LEN, "%s", db_rows_is_null(r, 0, 7) ? "" : db_rows_text(r, 0, 7));
    if (org_out)
        snprintf(org_out, ID_LEN, "%s", db_rows_is_null(r, 0, 8) ? "" : db_rows_text(r, 0, 8));
    *out = job_from_row(r, 0);
    db_rows_free(r);
    return *out ? DP_OK : DP_ERR_NOMEM;
}

int job_list_json(struct db *db, const struct job_filter *f, const char *cursor, long limit, json_t **items)
{
    char sql[400];
    struct db_val p[6];
    int np = 0;
    snprintf(sql, sizeof sql, "SELECT " JOB_COLUMNS " FROM jobs WHERE 1 = 1%s%s%s%s%s ORDER BY id DESC LIMIT ?",
             f->owner_id ? " AND owner_id = ?" : "", f->status ? " AND status = ?" : "",
             f->avatar_id ? " AND avatar_id = ?" : "", f->media_id ? " AND media_id = ?" : "",
             cursor ? " AND id < ?" : "");
    if (f->owner_id)
        p[np++] = DB_TEXT(f->owner_id);
    if (f->status)
        p[np++] = DB_TEXT(f->status);
    if (f->avatar_id)
        p[np++] = DB_TEXT(f->avatar_id);
    if (f->media_id)
        p[np++] = DB_TEXT(f->media_id);
    if (cursor)
        p[np++] = DB_TEXT(cursor);
    p[np++] = DB_INT(limit);
    struct db_rows *r;
    int err = db_query(db, sql, p, np, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows && *items; i++)
        json_array_append_new(*items, job_from_row(r, i));
    db_rows_free(r);
    return *items ? DP_OK : DP_ERR_NOMEM;
}

/* A due job: waiting and due, or running under a lease that ran out (its worker died). */
#define JOB_DUE "((status IN ('queued', 'retrying') AND run_at <= ?) OR (status = 'running' AND lease_until < ?))"
/* The claimed row was running when its lease ran out and that attempt was its last. */
#define JOB_LOST_LAST "(status = 'running' AND attempts >= max_attempts)"

int job_claim(struct db *db, int64_t lease_ms, const char *const *kinds, int nkinds, struct job_claim *out)
{
    memset(out, 0, sizeof *out);
    if (nkinds < 1 || nkinds > JOB_MAX_KINDS)
        return DP_ERR_NOT_FOUND;
    int pg = db_dialect(db) == DB_POSTGRES;
    int64_t now_ms = time_now_ms();
    char now[RFC3339_LEN], token[ID_LEN];
    time_rfc3339(now_ms, now);
    id_new(token);

    /* kind IN (?, ?, …): only kinds this process can run are claimed; others stay queued. */
    char in[JOB_MAX_KINDS * 3 + 1];
    size_t at = 0;
    for (int i = 0; i < nkinds; i++)
        at += (size_t)snprintf(in + at, sizeof in - at, i ? ", ?" : "?");
    struct db_val p[9 + JOB_MAX_KINDS];
    int np = 0;

    int err;
    if (!pg) {
        /* A cheap read first: idle pollers must not take SQLite's write lock 4 times a second. */
        char probe[256 + sizeof in];
        snprintf(probe, sizeof probe, "SELECT 1 FROM jobs WHERE " JOB_DUE " AND kind IN (%s) LIMIT 1", in);
        p[np++] = DB_INT(now_ms);
        p[np++] = DB_INT(now_ms);
        for (int i = 0; i < nkinds; i++)
            p[np++] = DB_TEXT(kinds[i]);
        struct db_rows *r;
        if ((err = db_query(db, probe, p, np, &r)))
            return err;
        int any = r->nrows > 0;
        db_rows_free(r);
        if (!any)
            return DP_ERR_NOT_FOUND;
        np = 0;
    }

    char sql[1600 + sizeof in];
    snprintf(sql, sizeof sql,
             "UPDATE jobs SET "
             "status = CASE WHEN " JOB_LOST_LAST " THEN 'dead' ELSE 'running' END, "
             "last_error = CASE WHEN status = 'running' THEN 'lease expired: the worker running attempt ' || "
             "attempts || ' stopped' ELSE last_error END, "
             "finished_at = CASE WHEN " JOB_LOST_LAST " THEN ? ELSE NULL END, "
             "lease_until = CASE WHEN " JOB_LOST_LAST " THEN NULL ELSE CAST(? AS BIGINT) END, "
             "lease_token = CASE WHEN " JOB_LOST_LAST " THEN NULL ELSE ? END, "
             "progress = CASE WHEN " JOB_LOST_LAST " THEN progress ELSE 0 END, "
             "attempts = CASE WHEN " JOB_LOST_LAST " THEN attempts ELSE attempts + 1 END, "
             "updated_at = ? "
             /* Fair between users: the oldest due job of the owner with the fewest jobs running
              * (live leases), so one user's backlog of a thousand uploads cannot starve everyone
              * else's; owner-less (system) jobs are one more owner. Running jobs are few (workers
              * × processes), so the count per owner is cheap. */
             "WHERE id = (SELECT j.id FROM jobs j LEFT JOIN (SELECT owner_id, COUNT(*) AS n FROM jobs "
             "WHERE status = 'running' AND lease_until >= ? GROUP BY owner_id) b "
             "ON COALESCE(b.owner_id, '') = COALESCE(j.owner_id, '') "
             "WHERE " JOB_DUE " AND kind IN (%s) ORDER BY COALESCE(b.n, 0), run_at, j.id LIMIT 1%s) "
             "RETURNING id, kind, payload, status, attempts, max_attempts",
             in, pg ? " FOR UPDATE OF j SKIP LOCKED" : "");
    p[np++] = DB_TEXT(now);
    p[np++] = DB_INT(now_ms + lease_ms);
    p[np++] = DB_TEXT(token);
    p[np++] = DB_TEXT(now);
    p[np++] = DB_INT(now_ms);
    p[np++] = DB_INT(now_ms);
    p[np++] = DB_INT(now_ms);
    for (int i = 0; i < nkinds; i++)
        p[np++] = DB_TEXT(kinds[i]);

    /* SQLite: BEGIN IMMEDIATE takes the write lock, so two workers (or processes) serialise here. */
    if (!pg && (err = db_begin(db)))
        return err;
    struct db_rows *r = NULL;
    err = db_query(db, sql, p, np, &r);
    if (!pg) {
        if (!err)
            err = db_commit(db);
        if (err)
            db_rollback(db);
    }
    if (err)
        goto out_free_rows;
    err = DP_ERR_NOT_FOUND;
    if (r->nrows != 1)
        goto out_free_rows;
    snprintf(out->id, sizeof out->id, "%s", db_rows_text(r, 0, 0));
    snprintf(out->kind, sizeof out->kind, "%s", db_rows_text(r, 0, 1));
    memcpy(out->token, token, ID_LEN);
    out->payload = json_loads(db_rows_text(r, 0, 2) ? db_rows_text(r, 0, 2) : "{}", 0, NULL);
    if (!json_is_object(out->payload)) {
        json_decref(out->payload);
        out->payload = json_object(); /* a corrupt row still runs (and fails) rather than wedging */
    }
    out->dead = !strcmp(db_rows_text(r, 0, 3), "dead");
    out->attempt = (int)db_rows_int(r, 0, 4);
    out->max_attempts = (int)db_rows_int(r, 0, 5);
    out->lease_until = now_ms + lease_ms;
    err = out->payload ? DP_OK : DP_ERR_NOMEM;
out_free_rows:
    db_rows_free(r);
    return err;
}

void job_claim_cleanup(struct job_claim *c)
{
    json_decref(c->payload);
    c->payload = NULL;
}

/* Runs a guarded update (its last two parameters are id and token); JOB_OUT_LOST when no row
 * matched. */
static int guarded(struct db *db, const char *sql, const struct db_val *p, int np, enum job_outcome ok,
                   enum job_outcome *outcome)
{
    struct db_rows *r;
    int err = db_query(db, sql, p, np, &r);
    if (err)
        return err;
    *outcome = r->changes > 0 ? ok : JOB_OUT_LOST;
    db_rows_free(r);
    return DP_OK;
}

int job_finish(struct db *db, const struct job_claim *c, int result, const char *error, enum job_outcome *outcome,
               int64_t *run_at)
{
    int64_t now_ms = time_now_ms();
    char now[RFC3339_LEN];
    time_rfc3339(now_ms, now);
    if (result == DP_OK) {
        struct db_val p[] = {DB_TEXT(now), DB_TEXT(now), DB_TEXT(c->id), DB_TEXT(c->token)};
        return guarded(db,
                       "UPDATE jobs SET status = 'done', progress = 100, lease_until = NULL, lease_token = NULL, "
                       "updated_at = ?, finished_at = ? WHERE status = 'running' AND id = ? AND lease_token = ?",
                       p, 4, JOB_OUT_DONE, outcome);
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", error && *error ? error : dp_strerror(result));
    if (c->attempt >= c->max_attempts) {
        struct db_val p[] = {DB_TEXT(msg), DB_TEXT(now), DB_TEXT(now), DB_TEXT(c->id), DB_TEXT(c->token)};
        return guarded(db,
                       "UPDATE jobs SET status = 'dead', last_error = ?, lease_until = NULL, lease_token = NULL, "
                       "updated_at = ?, finished_at = ? WHERE status = 'running' AND id = ? AND lease_token = ?",
                       p, 5, JOB_OUT_DEAD, outcome);
    }
    int64_t next = now_ms + job_backoff_ms(c->attempt, jitter_unit());
    if (run_at)
        *run_at = next;
    struct db_val p[] = {DB_TEXT(msg), DB_INT(next), DB_TEXT(now), DB_TEXT(c->id), DB_TEXT(c->token)};
    return guarded(db,
                   "UPDATE jobs SET status = 'retrying', last_error = ?, run_at = ?, lease_until = NULL, "
                   "lease_token = NULL, updated_at = ? WHERE status = 'running' AND id = ? AND lease_token = ?",
                   p, 5, JOB_OUT_RETRY, outcome);
}

int job_release(struct db *db, const struct job_claim *c, enum job_outcome *outcome)
{
    int64_t now_ms = time_now_ms();
    char now[RFC3339_LEN];
    time_rfc3339(now_ms, now);
    struct db_val p[] = {DB_INT(now_ms), DB_TEXT(now), DB_TEXT(c->id), DB_TEXT(c->token)};
    return guarded(db,
                   "UPDATE jobs SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END, "
                   "attempts = attempts - 1, run_at = ?, progress = 0, lease_until = NULL, lease_token = NULL, "
                   "updated_at = ? WHERE status = 'running' AND id = ? AND lease_token = ?",
                   p, 4, JOB_OUT_RELEASED, outcome);
}

int job_renew(struct db *db, const char *id, const char *token, int64_t lease_until)
{
    struct db_val p[] = {DB_INT(lease_until), DB_TEXT(id), DB_TEXT(token)};
    enum job_outcome o;
    int err = guarded(db, "UPDATE jobs SET lease_until = ? WHERE status = 'running' AND id = ? AND lease_token = ?", p,
                      3, JOB_OUT_DONE, &o);
    return err ? err : o == JOB_OUT_LOST ? DP_ERR_NOT_FOUND : DP_OK;
}

int job_set_progress(struct db *db, const char *id, const char *token, int percent)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_INT(percent), DB_TEXT(now), DB_TEXT(id), DB_TEXT(token)};
    enum job_outcome o;
    int err = guarded(db,
                      "UPDATE jobs SET progress = ?, updated_at = ? WHERE status = 'running' AND id = ? AND "
                      "lease_token = ?",
                      p, 4, JOB_OUT_DONE, &o);
    return err ? err : o == JOB_OUT_LOST ? DP_ERR_NOT_FOUND : DP_OK;
}

int job_retry(struct db *db, struct cache *cache, const char *id)
{
    if (!id || !id_valid(id))
        return DP_ERR_NOT_FOUND;
    int64_t now_ms = time_now_ms();
    char now[RFC3339_LEN];
    time_rfc3339(now_ms, now);
    struct db_val p[] = {DB_INT(now_ms), DB_TEXT(now), DB_TEXT(id)};
    struct db_rows *r;
    int err = db_query(db,
                       "UPDATE jobs SET status = 'queued', attempts = 0, progress = 0, run_at = ?, lease_until = NULL, "
                       "lease_token = NULL, finished_at = NULL, updated_at = ? WHERE id = ? AND status = 'dead'",
                       p, 3, &r);
    if (err)
        return err;
    int changed = r->changes > 0;
    db_rows_free(r);
    if (!changed) {
        json_t *j;
        if ((err = job_get_json(db, id, &j, NULL, NULL)))
            return err;
        json_decref(j);
        return DP_ERR_CONFLICT;
    }
    jobs_wake();
    job_publish(db, cache, id);
    return DP_OK;
}

int job_queue_depth(struct db *db, int64_t now_ms, int64_t *n)
{
    struct db_rows *r;
    struct db_val p[] = {DB_INT(now_ms)};
    int err =
        db_query(db, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'retrying') AND run_at <= ?", p, 1, &r);
    if (err)
        return err;
    *n = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return DP_OK;
}

int job_counts_json(struct db *db, json_t **out)
{
    struct db_rows *r;
    int err = db_query(db, "SELECT status, COUNT(*) FROM jobs GROUP BY status", NULL, 0, &r);
    if (err)
        return err;
    json_t *o = json_object();
    for (int i = 0; o && i < (int)(sizeof status_names / sizeof status_names[0]); i++)
        json_object_set_new(o, status_names[i], json_integer(0));
    for (int i = 0; o && i < r->nrows; i++)
        json_object_set_new(o, db_rows_text(r, i, 0), json_integer((json_int_t)db_rows_int(r, i, 1)));
    db_rows_free(r);
    int64_t depth = 0;
    if (!o)
        return DP_ERR_NOMEM;
    if ((err = job_queue_depth(db, time_now_ms(), &depth))) {
        json_decref(o);
        return err;
    }
    json_object_set_new(o, "queue_depth", json_integer((json_int_t)depth));
    *out = o;
    return DP_OK;
}

void job_publish(struct db *db, struct cache *cache, const char *id)
{
    if (!cache)
        return;
    json_t *j;
    char owner[ID_LEN];
    if (job_get_json(db, id, &j, owner, NULL))
        return;
    if (!*owner) {
        json_decref(j);
        return;
    }
    json_t *ev = json_pack("{s:s,s:o}", "type", "job.updated", "job", j);
    size_t len;
    char *msg = ev ? json_dump_compact(ev, &len) : NULL;
    json_decref(ev);
    char channel[32 + ID_LEN];
    snprintf(channel, sizeof channel, "events:user:%s", owner);
    int err = msg ? cache_publish(cache, channel, msg, len) : DP_ERR_NOMEM;
    if (err)
        DP_LOG(LOG_WARN, "[jobs] publishing job.updated of %s failed: %s", id, dp_strerror(err));
    free(msg);
}
