/* Tests of src/jobs/: queue, claims and leases, backoff, the runner, circuit breakers (SQLite
 * always, PostgreSQL when DOPPEL_TEST_PG_URL is set). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "providers/circuit.h"
#include "jobs/jobs_impl.h"
#include "store/cache.h"
#include "store/db.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* ---- databases ---------------------------------------------------------------------------- */

/* A migrated database of the backend ("sqlite" | "pg"), removed at exit; its URL. */
static const char *fresh_url(const char *backend)
{
    return test_db_url(backend);
}

static struct db *open_url(const char *url)
{
    struct db *db = NULL;
    OK(db_open(&db, url));
    return db;
}

static int64_t scalar(struct db *db, const char *sql, const char *id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    OK(db_query(db, sql, p, id ? 1 : 0, &r));
    CHECK_EQ_INT(r->nrows, 1);
    int64_t v = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return v;
}

static const char *status_of(struct db *db, const char *id)
{
    static char s[16];
    json_t *j;
    OK(job_get_json(db, id, &j, NULL, NULL));
    snprintf(s, sizeof s, "%s", json_string_value(json_object_get(j, "status")));
    json_decref(j);
    return s;
}

/* Makes a waiting job due now (instead of sleeping through its backoff). */
static void make_due(struct db *db, const char *id)
{
    struct db_val p[] = {DB_INT(time_now_ms()), DB_TEXT(id)};
    OK(db_query(db, "UPDATE jobs SET run_at = ? WHERE id = ?", p, 2, NULL));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts))
        ;
}

static const char *const K_A[] = {"t.a"};

/* ---- backoff ------------------------------------------------------------------------------ */

TEST(jobs_backoff_math)
{
    CHECK_EQ_INT(job_backoff_ms(1, 0.5), 2000);
    CHECK_EQ_INT(job_backoff_ms(2, 0.5), 4000);
    CHECK_EQ_INT(job_backoff_ms(3, 0.5), 8000);
    CHECK_EQ_INT(job_backoff_ms(1, 0.0), 1500);
    CHECK(job_backoff_ms(1, 0.999999) < 2500 && job_backoff_ms(1, 0.999999) >= 2499);
    CHECK_EQ_INT(job_backoff_ms(9, 0.5), 512000);
    CHECK_EQ_INT(job_backoff_ms(10, 0.5), 600000); /* capped at 10 min */
    CHECK_EQ_INT(job_backoff_ms(1000, 0.5), 600000);
    CHECK_EQ_INT(job_backoff_ms(1000, 0.0), 450000);
    CHECK_EQ_INT(job_backoff_ms(0, 0.5), 2000);
}

/* ---- queue -------------------------------------------------------------------------------- */

static void enqueue_claim_done(const char *backend)
{
    struct db *db = open_url(fresh_url(backend));
    char id[ID_LEN], other[ID_LEN];
    json_t *payload = json_pack("{s:i}", "n", 7);
    OK(job_enqueue_ex(db, "t.a", payload, "owner-1", "org-1", 3, 0, id));
    json_decref(payload);
    OK(job_enqueue(db, "t.unknown", NULL, NULL, NULL, other));
    CHECK(id_valid(id));

    json_t *j;
    char owner[ID_LEN], org[ID_LEN];
    OK(job_get_json(db, id, &j, owner, org));
    CHECK_EQ_STR(owner, "owner-1");
    CHECK_EQ_STR(org, "org-1");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "queued");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "kind")), "t.a");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "attempts")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "max_attempts")), 3);
    CHECK(json_is_null(json_object_get(j, "finished_at")));
    CHECK(!json_object_get(j, "payload")); /* not public */
    json_decref(j);
    OK(job_get_json(db, other, &j, owner, org));
    CHECK_EQ_STR(owner, "");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "max_attempts")), JOB_DEFAULT_MAX_ATTEMPTS);
    json_decref(j);
    CHECK_EQ_INT(job_get_json(db, "01a206f1-4b43-748f-9bf3-6490d2860000", &j, NULL, NULL), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(job_get_json(db, "not-an-id", &j, NULL, NULL), DP_ERR_NOT_FOUND);

    int64_t depth;
    OK(job_queue_depth(db, time_now_ms(), &depth));
    CHECK_EQ_INT(depth, 2);

    struct job_claim c;
    OK(job_claim(db, 60000, K_A, 1, &c));
    CHECK_EQ_STR(c.id, id);
    CHECK_EQ_STR(c.kind, "t.a");
    CHECK_EQ_INT(c.attempt, 1);
    CHECK_EQ_INT(c.max_attempts, 3);
    CHECK_EQ_INT(c.dead, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(c.payload, "n")), 7);
    CHECK_EQ_STR(status_of(db, id), "running");
    /* Leased: nobody else gets it; the unknown kind is never claimed here. */
    struct job_claim none;
    CHECK_EQ_INT(job_claim(db, 60000, K_A, 1, &none), DP_ERR_NOT_FOUND);

    enum job_outcome o;
    OK(job_finish(db, &c, DP_OK, NULL, &o, NULL));
    CHECK_EQ_INT(o, JOB_OUT_DONE);
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "done");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "progress")), 100);
    CHECK(json_is_string(json_object_get(j, "finished_at")));
    json_decref(j);
    /* A second finish of the same claim changes nothing. */
    OK(job_finish(db, &c, DP_OK, NULL, &o, NULL));
    CHECK_EQ_INT(o, JOB_OUT_LOST);
    job_claim_cleanup(&c);

    json_t *counts;
    OK(job_counts_json(db, &counts));
    CHECK_EQ_INT(json_integer_value(json_object_get(counts, "done")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(counts, "queued")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(counts, "dead")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(counts, "queue_depth")), 1);
    json_decref(counts);

    /* Lists: newest first, by owner, by status, paged by cursor. */
    json_t *items;
    OK(job_list_json(db, &(struct job_filter){0}, NULL, 50, &items));
    CHECK_EQ_INT(json_array_size(items), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 0), "id")), other);
    json_decref(items);
    OK(job_list_json(db, &(struct job_filter){.owner_id = "owner-1"}, NULL, 50, &items));
    CHECK_EQ_INT(json_array_size(items), 1);
    json_decref(items);
    OK(job_list_json(db, &(struct job_filter){.status = "queued"}, NULL, 50, &items));
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 0), "id")), other);
    json_decref(items);
    OK(job_list_json(db, &(struct job_filter){0}, other, 50, &items));
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 0), "id")), id);
    json_decref(items);
    db_close(db);
}

TEST(jobs_enqueue_claim_done_sqlite)
{
    enqueue_claim_done("sqlite");
}

TEST(jobs_enqueue_claim_done_pg)
{
    enqueue_claim_done("pg");
}

/* Claims are fair between owners: with one job of A running, B's newer job comes before A's
 * older backlog; with none running anywhere, the oldest job comes first. */
static void fair_claims(const char *backend)
{
    struct db *db = open_url(fresh_url(backend));
    char a[4][ID_LEN], b[ID_LEN], sys[ID_LEN];
    for (int i = 0; i < 4; i++)
        OK(job_enqueue(db, "t.a", NULL, "owner-a", NULL, a[i]));
    time_advance_ms(5);
    OK(job_enqueue(db, "t.a", NULL, "owner-b", NULL, b));
    sleep_ms(5);
    OK(job_enqueue(db, "t.a", NULL, NULL, NULL, sys));
    struct job_claim c1, c2, c3, c4;
    OK(job_claim(db, 60000, K_A, 1, &c1));
    CHECK_EQ_STR(c1.id, a[0]); /* nobody runs anything: the oldest */
    OK(job_claim(db, 60000, K_A, 1, &c2));
    CHECK_EQ_STR(c2.id, b); /* A has one running, B none */
    OK(job_claim(db, 60000, K_A, 1, &c3));
    CHECK_EQ_STR(c3.id, sys); /* the owner-less jobs count as one more owner */
    OK(job_claim(db, 60000, K_A, 1, &c4));
    CHECK_EQ_STR(c4.id, a[1]); /* only A has jobs left */
    enum job_outcome o;
    OK(job_finish(db, &c2, DP_OK, NULL, &o, NULL));
    job_claim_cleanup(&c1);
    job_claim_cleanup(&c2);
    job_claim_cleanup(&c3);
    job_claim_cleanup(&c4);
    db_close(db);
}

TEST(jobs_fair_claims_sqlite)
{
    fair_claims("sqlite");
}

TEST(jobs_fair_claims_pg)
{
    fair_claims("pg");
}

TEST(jobs_enqueue_invalid)
{
    struct db *db = open_url(fresh_url("sqlite"));
    char id[ID_LEN], long_kind[JOB_KIND_MAX + 2];
    memset(long_kind, 'k', sizeof long_kind - 1);
    long_kind[sizeof long_kind - 1] = 0;
    json_t *arr = json_array();
    CHECK_EQ_INT(job_enqueue(db, "", NULL, NULL, NULL, id), DP_ERR_INVALID);
    CHECK_EQ_INT(job_enqueue(db, NULL, NULL, NULL, NULL, id), DP_ERR_INVALID);
    CHECK_EQ_INT(job_enqueue(db, long_kind, NULL, NULL, NULL, id), DP_ERR_INVALID);
    CHECK_EQ_INT(job_enqueue(db, "t.a", arr, NULL, NULL, id), DP_ERR_INVALID);
    CHECK_EQ_INT(job_enqueue_ex(db, "t.a", NULL, NULL, NULL, -1, 0, id), DP_ERR_INVALID);
    json_t *big = json_object();
    char *s = malloc(JOB_PAYLOAD_MAX + 1);
    memset(s, 'x', JOB_PAYLOAD_MAX);
    s[JOB_PAYLOAD_MAX] = 0;
    json_object_set_new(big, "x", json_string(s));
    CHECK_EQ_INT(job_enqueue(db, "t.a", big, NULL, NULL, id), DP_ERR_TOO_LARGE);
    free(s);
    json_decref(big);
    json_decref(arr);
    CHECK_EQ_INT(scalar(db, "SELECT COUNT(*) FROM jobs", NULL), 0);
    db_close(db);
}

/* Queued inside the caller's transaction: gone with a rollback, there after a commit. */
static void enqueue_in_transaction(const char *backend)
{
    struct db *db = open_url(fresh_url(backend));
    char id[ID_LEN];
    OK(db_begin(db));
    OK(job_enqueue(db, "t.a", NULL, NULL, NULL, id));
    OK(db_rollback(db));
    CHECK_EQ_INT(scalar(db, "SELECT COUNT(*) FROM jobs", NULL), 0);
    OK(db_begin(db));
    OK(job_enqueue(db, "t.a", NULL, NULL, NULL, id));
    OK(db_commit(db));
    CHECK_EQ_STR(status_of(db, id), "queued");
    db_close(db);
}

TEST(jobs_enqueue_in_transaction_sqlite)
{
    enqueue_in_transaction("sqlite");
}

TEST(jobs_enqueue_in_transaction_pg)
{
    enqueue_in_transaction("pg");
}

/* Failures: retrying with run_at moved forward by the backoff, then dead with last_error; an
 * admin's retry re-queues a dead job only. */
static void retry_backoff_dead(const char *backend)
{
    struct db *db = open_url(fresh_url(backend));
    char id[ID_LEN];
    OK(job_enqueue_ex(db, "t.a", NULL, "u", NULL, 3, 0, id));
    struct job_claim c, none;
    enum job_outcome o;
    int64_t run_at = 0, before = time_now_ms();

    OK(job_claim(db, 60000, K_A, 1, &c));
    OK(job_finish(db, &c, DP_ERR_UNAVAILABLE, "provider down", &o, &run_at));
    CHECK_EQ_INT(o, JOB_OUT_RETRY);
    CHECK(run_at >= before + 1500 && run_at <= time_now_ms() + 2500);
    CHECK_EQ_INT(scalar(db, "SELECT run_at FROM jobs WHERE id = ?", id), run_at);
    CHECK_EQ_STR(status_of(db, id), "retrying");
    job_claim_cleanup(&c);
    CHECK_EQ_INT(job_claim(db, 60000, K_A, 1, &none), DP_ERR_NOT_FOUND); /* not due yet */

    make_due(db, id);
    before = time_now_ms();
    OK(job_claim(db, 60000, K_A, 1, &c));
    CHECK_EQ_INT(c.attempt, 2);
    OK(job_finish(db, &c, DP_ERR_TIMEOUT, NULL, &o, &run_at));
    CHECK_EQ_INT(o, JOB_OUT_RETRY);
    CHECK(run_at >= before + 3000 && run_at <= time_now_ms() + 5000); /* 4 s ± 25 % */
    json_t *j;
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "last_error")), dp_strerror(DP_ERR_TIMEOUT));
    json_decref(j);
    job_claim_cleanup(&c);

    make_due(db, id);
    OK(job_claim(db, 60000, K_A, 1, &c));
    CHECK_EQ_INT(c.attempt, 3);
    OK(job_finish(db, &c, DP_ERR_UNAVAILABLE, "still down", &o, NULL));
    CHECK_EQ_INT(o, JOB_OUT_DEAD);
    job_claim_cleanup(&c);
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "dead");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "last_error")), "still down");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "attempts")), 3);
    CHECK(json_is_string(json_object_get(j, "finished_at")));
    json_decref(j);
    make_due(db, id);
    CHECK_EQ_INT(job_claim(db, 60000, K_A, 1, &none), DP_ERR_NOT_FOUND); /* dead stays dead */

    OK(job_retry(db, NULL, id));
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "queued");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "attempts")), 0);
    CHECK(json_is_null(json_object_get(j, "finished_at")));
    json_decref(j);
    CHECK_EQ_INT(job_retry(db, NULL, id), DP_ERR_CONFLICT);
    CHECK_EQ_INT(job_retry(db, NULL, "01a206f1-4b43-748f-9bf3-6490d2860000"), DP_ERR_NOT_FOUND);
    OK(job_claim(db, 60000, K_A, 1, &c));
    CHECK_EQ_INT(c.attempt, 1);
    job_claim_cleanup(&c);
    db_close(db);
}

TEST(jobs_retry_backoff_dead_sqlite)
{
    retry_backoff_dead("sqlite");
}

TEST(jobs_retry_backoff_dead_pg)
{
    retry_backoff_dead("pg");
}

/* A worker that stops renewing (killed) loses the job to the next claim; its late finish is
 * discarded; a lost last attempt makes the job dead. */
static void lease_expiry(const char *backend)
{
    const char *url = fresh_url(backend);
    struct db *db = open_url(url), *db2 = open_url(url);
    char id[ID_LEN], last[ID_LEN];
    OK(job_enqueue_ex(db, "t.a", NULL, NULL, NULL, 3, 0, id));
    struct job_claim c1, c2, none;
    enum job_outcome o;
    OK(job_claim(db, 150, K_A, 1, &c1));
    CHECK_EQ_INT(job_claim(db2, 150, K_A, 1, &none), DP_ERR_NOT_FOUND);
    OK(job_renew(db, c1.id, c1.token, time_now_ms() + 150)); /* the heartbeat's renewal */
    time_advance_ms(200);                                    /* past the renewed lease, without sleeping */
    OK(job_claim(db2, 60000, K_A, 1, &c2));
    CHECK_EQ_STR(c2.id, id);
    CHECK_EQ_INT(c2.attempt, 2);
    CHECK(strcmp(c1.token, c2.token));
    json_t *j;
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK(strstr(json_string_value(json_object_get(j, "last_error")), "lease expired"));
    json_decref(j);
    /* The old worker wakes up: it can neither renew, report progress nor finish. */
    CHECK_EQ_INT(job_renew(db, c1.id, c1.token, time_now_ms() + 60000), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(job_set_progress(db, c1.id, c1.token, 50), DP_ERR_NOT_FOUND);
    OK(job_finish(db, &c1, DP_ERR_UNAVAILABLE, "late", &o, NULL));
    CHECK_EQ_INT(o, JOB_OUT_LOST);
    CHECK_EQ_STR(status_of(db, id), "running");
    OK(job_set_progress(db2, c2.id, c2.token, 50));
    OK(job_finish(db2, &c2, DP_OK, NULL, &o, NULL));
    CHECK_EQ_INT(o, JOB_OUT_DONE);
    job_claim_cleanup(&c1);
    job_claim_cleanup(&c2);

    OK(job_enqueue_ex(db, "t.a", NULL, NULL, NULL, 1, 0, last));
    OK(job_claim(db, 50, K_A, 1, &c1));
    time_advance_ms(100);
    OK(job_claim(db2, 60000, K_A, 1, &c2));
    CHECK_EQ_STR(c2.id, last);
    CHECK_EQ_INT(c2.dead, 1);
    CHECK_EQ_INT(c2.attempt, 1);
    OK(job_get_json(db, last, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "dead");
    CHECK(strstr(json_string_value(json_object_get(j, "last_error")), "lease expired"));
    json_decref(j);
    job_claim_cleanup(&c1);
    job_claim_cleanup(&c2);
    CHECK_EQ_INT(job_claim(db2, 60000, K_A, 1, &none), DP_ERR_NOT_FOUND);
    db_close(db2);
    db_close(db);
}

TEST(jobs_lease_expiry_sqlite)
{
    lease_expiry("sqlite");
}

TEST(jobs_lease_expiry_pg)
{
    lease_expiry("pg");
}

/* A stopping worker hands its job back: queued (or retrying) again, the attempt not counted. */
TEST(jobs_release_sqlite)
{
    struct db *db = open_url(fresh_url("sqlite"));
    char id[ID_LEN];
    OK(job_enqueue(db, "t.a", NULL, NULL, NULL, id));
    struct job_claim c;
    enum job_outcome o;
    OK(job_claim(db, 60000, K_A, 1, &c));
    OK(job_release(db, &c, &o));
    CHECK_EQ_INT(o, JOB_OUT_RELEASED);
    CHECK_EQ_STR(status_of(db, id), "queued");
    CHECK_EQ_INT(scalar(db, "SELECT attempts FROM jobs WHERE id = ?", id), 0);
    OK(job_release(db, &c, &o));
    CHECK_EQ_INT(o, JOB_OUT_LOST);
    job_claim_cleanup(&c);
    OK(job_claim(db, 60000, K_A, 1, &c));
    CHECK_EQ_INT(c.attempt, 1);
    job_claim_cleanup(&c);
    db_close(db);
}

/* Progress is throttled to one write per 250 ms (100 always goes through). */
TEST(jobs_progress_throttle_sqlite)
{
    struct db *db = open_url(fresh_url("sqlite"));
    char id[ID_LEN];
    OK(job_enqueue(db, "t.a", NULL, NULL, NULL, id));
    struct job_claim c;
    OK(job_claim(db, 60000, K_A, 1, &c));
    struct job_run run = {.claim = &c};
    struct job_ctx ctx = {.kind = c.kind, .payload = c.payload, .attempt = 1, .db = db, .priv = &run};
    memcpy(ctx.id, c.id, ID_LEN);
    job_progress(&ctx, 10);
    CHECK_EQ_INT(scalar(db, "SELECT progress FROM jobs WHERE id = ?", id), 10);
    job_progress(&ctx, 20); /* within 250 ms: held back */
    CHECK_EQ_INT(scalar(db, "SELECT progress FROM jobs WHERE id = ?", id), 10);
    time_advance_ms(300);
    job_progress(&ctx, 30);
    CHECK_EQ_INT(scalar(db, "SELECT progress FROM jobs WHERE id = ?", id), 30);
    job_progress(&ctx, 250); /* clamped, and 100 is never held back */
    CHECK_EQ_INT(scalar(db, "SELECT progress FROM jobs WHERE id = ?", id), 100);
    CHECK_EQ_INT(job_should_stop(&ctx), 0);
    job_claim_cleanup(&c);
    db_close(db);
}

/* ---- concurrency: a job is never held by two workers at once ----------------------------- */

#define RACE_JOBS 60
#define RACE_THREADS 4

struct racer {
    const char *url;
    char ids[RACE_JOBS][ID_LEN];
    int n, errors;
};

static void *race_claims(void *arg)
{
    struct racer *r = arg;
    struct db *db = NULL;
    if (db_open(&db, r->url)) {
        r->errors++;
        return NULL;
    }
    for (int misses = 0; misses < 3 && r->n < RACE_JOBS;) {
        struct job_claim c;
        int err = job_claim(db, 60000, K_A, 1, &c);
        if (err == DP_ERR_NOT_FOUND) {
            misses++;
            continue;
        }
        if (err) {
            r->errors++;
            continue;
        }
        memcpy(r->ids[r->n++], c.id, ID_LEN);
        job_claim_cleanup(&c);
    }
    db_close(db);
    return NULL;
}

static void concurrent_claims(const char *backend)
{
    const char *url = fresh_url(backend);
    struct db *db = open_url(url);
    char ids[RACE_JOBS][ID_LEN];
    for (int i = 0; i < RACE_JOBS; i++)
        OK(job_enqueue(db, "t.a", NULL, NULL, NULL, ids[i]));
    static struct racer racers[RACE_THREADS];
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        racers[i].url = url;
        CHECK(pthread_create(&t[i], NULL, race_claims, &racers[i]) == 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    /* Every job claimed exactly once across all workers. */
    int total = 0;
    for (int i = 0; i < RACE_JOBS; i++) {
        int seen = 0;
        for (int k = 0; k < RACE_THREADS; k++)
            for (int m = 0; m < racers[k].n; m++)
                seen += !strcmp(racers[k].ids[m], ids[i]);
        CHECK_EQ_INT(seen, 1);
    }
    for (int k = 0; k < RACE_THREADS; k++) {
        CHECK_EQ_INT(racers[k].errors, 0);
        total += racers[k].n;
    }
    CHECK_EQ_INT(total, RACE_JOBS);
    CHECK_EQ_INT(scalar(db, "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND attempts = 1", NULL), RACE_JOBS);
    db_close(db);
}

TEST(jobs_concurrent_claims_sqlite)
{
    concurrent_claims("sqlite");
}

TEST(jobs_concurrent_claims_pg)
{
    concurrent_claims("pg");
}

/* ---- the runner --------------------------------------------------------------------------- */

#define RUN_JOBS 40
static atomic_int running_now[RUN_JOBS], runs[RUN_JOBS], overlaps;

/* Marks job i as running for 20 ms; two workers at once on one job counts an overlap. */
static int overlap_handler(struct job_ctx *ctx, char **msg, int *owned)
{
    (void)msg;
    (void)owned;
    int i = (int)json_integer_value(json_object_get(ctx->payload, "i"));
    if (i < 0 || i >= RUN_JOBS)
        return DP_ERR_INVALID;
    if (atomic_fetch_add(&running_now[i], 1) != 0)
        atomic_fetch_add(&overlaps, 1);
    sleep_ms(20);
    atomic_fetch_sub(&running_now[i], 1);
    atomic_fetch_add(&runs[i], 1);
    job_progress(ctx, 50);
    return DP_OK;
}

/* Waits until no job is queued, running or retrying; 0 on timeout. */
static int wait_all_finished(struct db *db, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (scalar(db, "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('done', 'dead')", NULL) == 0)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

static void runner_no_overlap(const char *backend)
{
    const char *url = fresh_url(backend);
    struct db *db = open_url(url);
    jobs_register("t.overlap", overlap_handler, 3);
    OK(jobs_start(url, "", NULL, 4, 30));
    CHECK_EQ_INT(jobs_start(url, "", NULL, 1, 30), DP_ERR_CONFLICT);
    for (int i = 0; i < RUN_JOBS; i++) {
        json_t *p = json_pack("{s:i}", "i", i);
        OK(job_enqueue(db, "t.overlap", p, "owner", NULL, NULL));
        json_decref(p);
    }
    CHECK(wait_all_finished(db, 20000));
    jobs_stop();
    jobs_stop(); /* idempotent */
    CHECK_EQ_INT(atomic_load(&overlaps), 0);
    for (int i = 0; i < RUN_JOBS; i++)
        CHECK_EQ_INT(atomic_load(&runs[i]), 1);
    CHECK_EQ_INT(scalar(db, "SELECT COUNT(*) FROM jobs WHERE status = 'done' AND attempts = 1", NULL), RUN_JOBS);
    db_close(db);
}

TEST(jobs_runner_no_overlap_sqlite)
{
    runner_no_overlap("sqlite");
}

TEST(jobs_runner_no_overlap_pg)
{
    runner_no_overlap("pg");
}

static atomic_int slow_runs;

static int slow_handler(struct job_ctx *ctx, char **msg, int *owned)
{
    (void)ctx;
    (void)msg;
    (void)owned;
    atomic_fetch_add(&slow_runs, 1);
    sleep_ms(2500);
    return DP_OK;
}

/* A handler running 2.5 lease-lengths keeps its job: the heartbeat renews the lease, so the
 * idle second worker never claims it again. */
static void runner_lease_renewal(const char *backend)
{
    const char *url = fresh_url(backend);
    struct db *db = open_url(url);
    jobs_register("t.slow", slow_handler, 3);
    OK(jobs_start(url, "", NULL, 2, 1));
    char id[ID_LEN];
    OK(job_enqueue(db, "t.slow", NULL, NULL, NULL, id));
    CHECK(wait_all_finished(db, 10000));
    jobs_stop();
    CHECK_EQ_INT(atomic_load(&slow_runs), 1);
    CHECK_EQ_STR(status_of(db, id), "done");
    CHECK_EQ_INT(scalar(db, "SELECT attempts FROM jobs WHERE id = ?", id), 1);
    db_close(db);
}

TEST(jobs_runner_lease_renewal_sqlite)
{
    runner_lease_renewal("sqlite");
}

TEST(jobs_runner_lease_renewal_pg)
{
    runner_lease_renewal("pg");
}

static int fail_handler(struct job_ctx *ctx, char **msg, int *owned)
{
    (void)owned;
    *msg = (char *)(ctx->attempt == 1 ? "first" : "second");
    return DP_ERR_UNAVAILABLE;
}

/* Failures through the runner: retried after the backoff, then dead; unknown kinds stay queued. */
TEST(jobs_runner_retry_dead_sqlite)
{
    const char *url = fresh_url("sqlite");
    struct db *db = open_url(url);
    job_backoff_base_ms = 100;
    jobs_register("t.fail", fail_handler, 2);
    OK(jobs_start(url, "", NULL, 1, 30));
    char id[ID_LEN], other[ID_LEN];
    OK(job_enqueue(db, "t.nobody", NULL, NULL, NULL, other));
    OK(job_enqueue(db, "t.fail", NULL, "someone", NULL, id));
    for (int waited = 0; waited < 5000 && strcmp(status_of(db, id), "dead"); waited += 50)
        sleep_ms(50);
    json_t *j;
    OK(job_get_json(db, id, &j, NULL, NULL));
    CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "dead");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "last_error")), "second");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "attempts")), 2);
    json_decref(j);
    sleep_ms(300);
    CHECK_EQ_STR(status_of(db, other), "queued");
    jobs_stop();
    db_close(db);
}

static atomic_int stop_seen;

static int stoppable_handler(struct job_ctx *ctx, char **msg, int *owned)
{
    (void)msg;
    (void)owned;
    for (int i = 0; i < 200; i++) {
        if (job_should_stop(ctx)) {
            atomic_store(&stop_seen, 1);
            return DP_ERR_CANCELLED;
        }
        sleep_ms(25);
    }
    return DP_OK;
}

/* jobs_stop lets a cooperative handler give its job back: queued again, the attempt not counted. */
TEST(jobs_runner_stop_hands_back_sqlite)
{
    const char *url = fresh_url("sqlite");
    struct db *db = open_url(url);
    jobs_register("t.stoppable", stoppable_handler, 3);
    OK(jobs_start(url, "", NULL, 1, 30));
    char id[ID_LEN];
    OK(job_enqueue(db, "t.stoppable", NULL, NULL, NULL, id));
    for (int waited = 0; waited < 3000 && strcmp(status_of(db, id), "running"); waited += 20)
        sleep_ms(20);
    CHECK_EQ_STR(status_of(db, id), "running");
    double t0 = time_mono();
    jobs_stop();
    CHECK(time_mono() - t0 < 2.0);
    CHECK_EQ_INT(atomic_load(&stop_seen), 1);
    CHECK_EQ_STR(status_of(db, id), "queued");
    CHECK_EQ_INT(scalar(db, "SELECT attempts FROM jobs WHERE id = ?", id), 0);
    db_close(db);
}

static int stubborn_handler(struct job_ctx *ctx, char **msg, int *owned)
{
    (void)ctx;
    (void)msg;
    (void)owned;
    sleep_ms(3000); /* never looks at job_should_stop */
    return DP_OK;
}

/* A handler that ignores the stop request is left behind at the deadline of jobs_stop_begin:
 * jobs_stop returns on time and the job stays leased to the dead run (another worker takes it
 * when the lease ends). */
TEST(jobs_runner_stop_is_bounded_sqlite)
{
    const char *url = fresh_url("sqlite");
    struct db *db = open_url(url);
    jobs_register("t.stubborn", stubborn_handler, 3);
    OK(jobs_start(url, "", NULL, 1, 30));
    char id[ID_LEN];
    OK(job_enqueue(db, "t.stubborn", NULL, NULL, NULL, id));
    for (int waited = 0; waited < 3000 && strcmp(status_of(db, id), "running"); waited += 20)
        sleep_ms(20);
    CHECK_EQ_STR(status_of(db, id), "running");
    double t0 = time_mono();
    jobs_stop_begin(300);
    sleep_ms(100); /* time spent elsewhere (HTTP drain) counts against the same bound */
    jobs_stop();
    double took = time_mono() - t0;
    CHECK(took >= 0.25 && took < 1.5);
    jobs_stop(); /* nothing left to join */
    CHECK_EQ_STR(status_of(db, id), "running");
    db_close(db);
    _exit(0); /* the abandoned handler thread is still sleeping */
}

/* ---- events ------------------------------------------------------------------------------ */

struct events {
    int n, done;
    char last[4096];
    uv_loop_t *loop;
};

static void on_event(void *arg, const char *channel, const char *msg, size_t len)
{
    struct events *ev = arg;
    CHECK_EQ_STR(channel, "events:user:owner-ev");
    ev->n++;
    snprintf(ev->last, sizeof ev->last, "%.*s", (int)len, msg);
    json_t *j = json_loads(ev->last, 0, NULL);
    CHECK(j);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "type")), "job.updated");
    const char *status = json_string_value(json_object_get(json_object_get(j, "job"), "status"));
    CHECK(status);
    if (!strcmp(status, "done")) {
        ev->done = 1;
        uv_stop(ev->loop);
    }
    json_decref(j);
}

static void on_give_up(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Every state change of an owned job is published on events:user:<owner> (running, progress, done). */
TEST(jobs_runner_publishes_events_sqlite)
{
    const char *url = fresh_url("sqlite");
    struct db *db = open_url(url);
    uv_loop_t loop;
    CHECK(uv_loop_init(&loop) == 0);
    struct pubsub *ps = NULL;
    struct events ev = {.loop = &loop};
    OK(pubsub_open(&ps, &loop, "memory:"));
    OK(pubsub_subscribe(ps, "events:user:owner-ev", on_event, &ev));
    jobs_register_test_kinds();
    OK(jobs_start(url, "memory:", NULL, 1, 30));
    json_t *p = json_pack("{s:i}", "ms", 400);
    char id[ID_LEN];
    OK(job_enqueue(db, "test.sleep", p, "owner-ev", NULL, id));
    json_decref(p);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_give_up, 5000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    jobs_stop();
    CHECK_EQ_INT(ev.done, 1);
    CHECK(ev.n >= 3); /* running, at least one progress, done */
    CHECK(strstr(ev.last, id));
    pubsub_close(ps);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    db_close(db);
}

/* ---- circuit breakers --------------------------------------------------------------------- */

TEST(jobs_circuit_transitions)
{
    struct circuit *c = circuit_get("test:provider", 3, 100);
    CHECK(circuit_get("test:provider", 9, 9) == c);
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_CLOSED);
    CHECK(circuit_allow(c));
    circuit_record(c, 0);
    circuit_record(c, 0);
    circuit_record(c, 1); /* a success resets the count */
    circuit_record(c, 0);
    circuit_record(c, 0);
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_CLOSED);
    circuit_record(c, 0);
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_OPEN);
    CHECK(!circuit_allow(c));
    time_advance_ms(120);    /* past the cooldown */
    CHECK(circuit_allow(c)); /* the one trial */
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_HALF_OPEN);
    CHECK(!circuit_allow(c));
    circuit_record(c, 0); /* trial failed: open again, a fresh cooldown */
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_OPEN);
    CHECK(!circuit_allow(c));
    time_advance_ms(120);
    CHECK(circuit_allow(c));
    circuit_record(c, 1);
    CHECK_EQ_INT(circuit_state_of(c), CIRCUIT_CLOSED);
    CHECK(circuit_allow(c) && circuit_allow(c));

    struct circuit *other = circuit_get("test:other", 1, 100000);
    circuit_record(other, 0);
    json_t *j = circuits_json();
    CHECK_EQ_STR(json_string_value(json_object_get(j, "test:provider")), "closed");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "test:other")), "open");
    json_decref(j);
}

#define CIRCUIT_THREADS 8
static struct circuit *race_circuit;
static atomic_int allowed;
static pthread_barrier_t barrier;

static void *circuit_racer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    if (circuit_allow(race_circuit))
        atomic_fetch_add(&allowed, 1);
    return NULL;
}

/* Many threads at a half-open breaker: exactly one trial goes through. */
TEST(jobs_circuit_one_trial_threads)
{
    race_circuit = circuit_get("test:race", 1, 50);
    circuit_record(race_circuit, 0);
    CHECK_EQ_INT(circuit_state_of(race_circuit), CIRCUIT_OPEN);
    time_advance_ms(70);
    pthread_barrier_init(&barrier, NULL, CIRCUIT_THREADS);
    pthread_t t[CIRCUIT_THREADS];
    for (int i = 0; i < CIRCUIT_THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, circuit_racer, NULL) == 0);
    for (int i = 0; i < CIRCUIT_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    CHECK_EQ_INT(atomic_load(&allowed), 1);
    CHECK_EQ_INT(circuit_state_of(race_circuit), CIRCUIT_HALF_OPEN);
}
