/* Internals of src/jobs/ shared by queue.c, runner.c and the unit tests: claims, finishing
 * updates guarded by the lease token, lease renewal, backoff, the kind registry, wakeups. */
#ifndef DP_JOBS_IMPL_H
#define DP_JOBS_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "jobs/jobs.h"

#define JOB_KIND_MAX 64            /* bytes of a kind name */
#define JOB_PAYLOAD_MAX (1 << 20)  /* bytes of a serialised payload */
#define JOB_DEFAULT_MAX_ATTEMPTS 5 /* for a kind this process has not registered */
#define JOB_MAX_KINDS 64

/* Backoff of a failed attempt: base × 2^(attempt-1), capped, ±25 % jitter. Tests lower them. */
extern int64_t job_backoff_base_ms; /* 2000 */
extern int64_t job_backoff_cap_ms;  /* 600000 */

/* A job this worker claimed. payload is owned (json_decref in job_claim_cleanup). */
struct job_claim {
    char id[ID_LEN];
    char token[ID_LEN]; /* this claim's lease token: finishing updates must match it */
    char kind[JOB_KIND_MAX + 1];
    json_t *payload;
    int attempt; /* attempts after this claim (1 for the first run) */
    int max_attempts;
    int64_t lease_until; /* ms */
    int dead;            /* the claim found a lost last attempt and marked the job dead */
};

/* What a finishing update did. */
enum job_outcome {
    JOB_OUT_DONE,     /* status done */
    JOB_OUT_RETRY,    /* status retrying, run_at moved forward */
    JOB_OUT_DEAD,     /* status dead, last_error kept */
    JOB_OUT_RELEASED, /* status queued again, the attempt not counted (shutdown) */
    JOB_OUT_LOST,     /* nothing changed: this worker no longer held the lease */
};

/* The runner's bookkeeping of one running job (struct job_ctx.priv). Fields marked (lock) are
 * shared with the heartbeat thread under lock. */
struct job_run {
    pthread_mutex_t *lock; /* the runner's lock; NULL when run outside the runner (tests) */
    const struct job_claim *claim;
    int active;                   /* (lock) the handler is running */
    int lost;                     /* (lock) the heartbeat found the lease taken over */
    int64_t renewed_at;           /* (lock) ms when the lease was last extended */
    int progress;                 /* the last progress written */
    double progress_at;           /* time_mono() of the last progress write */
    const volatile int *stopping; /* the runner's stop flag (may be NULL) */
};

/* Claims the first due job whose kind is in kinds[0..nkinds) with a lease of lease_ms:
 * queued/retrying with run_at <= now, or running with an expired lease (its worker died).
 * A job whose expired attempt was its last becomes dead instead (out->dead = 1; not to be
 * run). PostgreSQL: one UPDATE … (SELECT … FOR UPDATE SKIP LOCKED) RETURNING; SQLite: the
 * same inside BEGIN IMMEDIATE. DP_ERR_NOT_FOUND when nothing is due. On DP_OK the caller
 * owns out (job_claim_cleanup). */
int job_claim(struct db *db, int64_t lease_ms, const char *const *kinds, int nkinds, struct job_claim *out);
void job_claim_cleanup(struct job_claim *c);

/* Ends the attempt of claim c: result DP_OK → done; an error → retrying with backoff, or dead
 * when the attempts are used up (error, may be NULL, becomes last_error). Applies only while
 * c's lease token is still the job's; else *outcome = JOB_OUT_LOST. *run_at (may be NULL)
 * gets the next run of a retry. */
int job_finish(struct db *db, const struct job_claim *c, int result, const char *error, enum job_outcome *outcome,
               int64_t *run_at);
/* Gives the job back (queued, due now, the attempt not counted): the worker is stopping.
 * *outcome: JOB_OUT_RELEASED or JOB_OUT_LOST. */
int job_release(struct db *db, const struct job_claim *c, enum job_outcome *outcome);
/* Extends the lease to lease_until (ms). DP_ERR_NOT_FOUND when the token no longer holds it. */
int job_renew(struct db *db, const char *id, const char *token, int64_t lease_until);
/* Writes progress (0–100) while token holds the lease. DP_ERR_NOT_FOUND when it does not. */
int job_set_progress(struct db *db, const char *id, const char *token, int percent);

/* The delay before attempt+1 after attempt failed; u in [0, 1) picks the jitter. */
int64_t job_backoff_ms(int attempt, double u);

/* Jobs queued or retrying and due at now_ms. */
int job_queue_depth(struct db *db, int64_t now_ms, int64_t *n);

/* Publishes {"type":"job.updated","job":{…}} on events:user:<owner_id> (nothing for a job
 * without owner). Failures are logged, never returned. cache may be NULL (no-op). */
void job_publish(struct db *db, struct cache *cache, const char *id);

/* The registered max_attempts of kind, or JOB_DEFAULT_MAX_ATTEMPTS. */
int jobs_kind_max_attempts(const char *kind);
/* Wakes one local job worker (a job was queued). Callable from any thread, any time. */
void jobs_wake(void);

#endif
