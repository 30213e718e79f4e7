/* Durable background jobs: a queue in the database, claimed with a lease, retried with
 * exponential backoff and jitter, dead after max attempts; handlers are idempotent. */
#ifndef DP_JOBS_H
#define DP_JOBS_H

#include <jansson.h>
#include <stdint.h>

#include "core/context.h"
#include "core/id.h"

struct db;
struct cache;
struct blob_store;
struct uv_loop_s;

enum job_status { JOB_QUEUED, JOB_RUNNING, JOB_RETRYING, JOB_DONE, JOB_DEAD };

/* What a handler sees while it runs (on a job worker thread, with its own connections). */
struct job_ctx {
    char id[ID_LEN];
    const char *kind;
    json_t *payload;          /* borrowed; the JSON object given to job_enqueue */
    int attempt;              /* 1 for the first run */
    struct db *db;            /* the job worker's connection */
    struct cache *cache;      /* the job worker's cache handle */
    struct blob_store *blobs; /* shared (thread-safe); NULL when the runner was given none */
    void *priv;               /* the runner's bookkeeping */
};

/* A job handler. Returns DP_OK (done), or an error: the job is retried with backoff until
 * max_attempts, then dead. It may run more than once for the same job (a worker can die
 * mid-job): it must be idempotent. *error_msg (may be left NULL) is a static or malloc'd
 * text kept as the job's last error; set *error_owned when malloc'd. */
typedef int (*job_handler)(struct job_ctx *ctx, char **error_msg, int *error_owned);

/* Registers a kind before jobs_start. max_attempts ≥ 1. */
void jobs_register(const char *kind, job_handler handler, int max_attempts);

/* Queues a job inside the caller's transaction (or alone). owner_id/org_id (may be NULL) say
 * who may see it; payload is borrowed. The new id goes to id_out (may be NULL). */
int job_enqueue(struct db *db, const char *kind, const json_t *payload, const char *owner_id, const char *org_id,
                char id_out[ID_LEN]);
/* As job_enqueue, with max_attempts (0 = the kind's registered value, else 5) and a first run
 * delay_ms from now. payload NULL means {}. DP_ERR_INVALID for an empty or > 64-byte kind or a
 * payload that is not an object; DP_ERR_TOO_LARGE past 1 MiB serialised. A local job worker is
 * woken at once; one inside an uncommitted transaction is found by the next poll (≤ 250 ms). */
int job_enqueue_ex(struct db *db, const char *kind, const json_t *payload, const char *owner_id, const char *org_id,
                   int max_attempts, int64_t delay_ms, char id_out[ID_LEN]);

/* Reports progress 0–100 (a long job calls this as it goes; also published as job.updated).
 * Written at most every 250 ms (100 always): calls in between are dropped, a later call carries
 * the newer value. A write that finds the lease gone marks the run lost (job_should_stop). */
void job_progress(struct job_ctx *ctx, int percent);
/* 1 when the handler should give up its attempt early: the runner is stopping (return
 * DP_ERR_CANCELLED and the job is handed back, the attempt not counted) or the lease was
 * lost to another worker (whatever it returns is discarded). */
int job_should_stop(struct job_ctx *ctx);

/* "queued" … "dead"; job_status_parse gives -1 for an unknown name. */
const char *job_status_name(enum job_status s);
int job_status_parse(const char *s);

/* The public JSON of a job: {id, kind, status, attempts, max_attempts, progress, last_error,
 * owner_id, avatar_id, media_id, created_at, updated_at, run_at, finished_at}. avatar_id and
 * media_id are what the job works on: the payload's "avatar_id" / "media_id" members when they
 * are ids, else null. DP_ERR_NOT_FOUND when absent. */
int job_get_json(struct db *db, const char *id, json_t **out, char owner_out[ID_LEN], char org_out[ID_LEN]);
/* owner_out / org_out may be NULL; they get "" for a job without owner / org. *out is the
 * caller's (json_decref). */

/* Which jobs job_list_json lists: every non-NULL field must match (all NULL: every job). */
struct job_filter {
    const char *owner_id;  /* whose jobs */
    const char *status;    /* a job_status_name */
    const char *avatar_id; /* the avatar it works on */
    const char *media_id;  /* the media it works on */
};

/* Jobs newest first as a JSON array (job_get_json objects) matching f, older than cursor (an
 * id; NULL = from the newest), at most limit. */
int job_list_json(struct db *db, const struct job_filter *f, const char *cursor, long limit, json_t **items);
/* Re-queues a dead job now with its attempts reset (last_error kept), wakes a local worker and
 * publishes job.updated (cache may be NULL). DP_ERR_NOT_FOUND; DP_ERR_CONFLICT when not dead. */
int job_retry(struct db *db, struct cache *cache, const char *id);
/* {"queued":n,"running":n,"retrying":n,"done":n,"dead":n,"queue_depth":n}; the caller's. */
int job_counts_json(struct db *db, json_t **out);

/* The one context (core/context.h) of a running job: its worker's engines, no caller. */
static inline struct context job_context(const struct job_ctx *j)
{
    return (struct context){.db = j->db, .cache = j->cache, .blobs = j->blobs};
}

/* Starts n job worker threads (each opening its own database and cache connections on
 * database_url / cache_url; blobs, thread-safe, is shared and may be NULL) that claim due jobs
 * with a lease of lease_s seconds. */
int jobs_start(const char *database_url, const char *cache_url, struct blob_store *blobs, int n, int lease_s);
/* Stops claiming, waits for running jobs to finish their current attempt (bounded), joins.
 * A no-op (0) when not started. Returns how many handlers were still running at the bound: they
 * are left behind (their jobs run again once their leases end), still using the engines, so the
 * caller must not free those under them. */
int jobs_stop(void);
/* Stops claiming now without waiting (at SIGTERM, while HTTP requests drain) and tells
 * handlers (job_should_stop); the jobs_stop that follows waits until timeout_ms after this
 * call at most (without this call: 10 s from jobs_stop). */
void jobs_stop_begin(int timeout_ms);
/* Registers the kinds used by test suites (mounted with --test-routes only): "test.sleep"
 * {"ms":N ≤ 60000,"fail_times":K}: sleeps N ms, then fails while attempt ≤ K. */
void jobs_register_test_kinds(void);

#endif
