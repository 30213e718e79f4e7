/* Job workers: threads that claim due jobs, run their handlers and record the outcome, plus one
 * heartbeat thread that renews leases of long handlers and refreshes the queue-depth gauge.
 *
 * Wakeups: a worker waits on a condition variable between polls, at most 250 ms; job_enqueue
 * (and job_retry) signal it, so a job queued in this process starts at once and one queued by
 * another instance within a poll. Lease renewal: the heartbeat thread, on its own connection,
 * extends the lease of every running job once half the lease has passed — handlers need not
 * cooperate, and a handler stuck in a blocking call keeps its job as long as the process
 * lives. A process that dies (kill -9) stops renewing: the lease runs out and any worker of
 * any instance claims the job again. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "jobs/jobs_impl.h"
#include "store/cache.h"
#include "store/db.h"

#define POLL_MS 250           /* a worker looks for due jobs at least this often */
#define PROGRESS_MIN_MS 250   /* progress is written at most this often (100 always) */
#define DEPTH_EVERY_MS 1000   /* the queue-depth gauge is refreshed this often */
#define STOP_TIMEOUT_MS 10000 /* jobs_stop waits this long for running handlers by default */
#define RECONNECT_MS 1000     /* pause after a database/cache failure */

/* ---- the kind registry ---------------------------------------------------------------------- */

struct kind {
    char *name;
    job_handler handler;
    int max_attempts;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kind kinds[JOB_MAX_KINDS];
static int nkinds;

void jobs_register(const char *kind, job_handler handler, int max_attempts)
{
    DP_ASSERT(kind && *kind && strlen(kind) <= JOB_KIND_MAX && handler && max_attempts >= 1);
    pthread_mutex_lock(&reg_lock);
    int i = 0;
    while (i < nkinds && strcmp(kinds[i].name, kind))
        i++;
    DP_ASSERT(i < JOB_MAX_KINDS);
    if (i == nkinds) {
        kinds[i].name = strdup(kind); /* process lifetime, like the registry */
        DP_ASSERT(kinds[i].name);
        nkinds++;
    }
    kinds[i].handler = handler;
    kinds[i].max_attempts = max_attempts;
    pthread_mutex_unlock(&reg_lock);
}

/* Looks kind up; 1 when registered (handler / max_attempts filled when not NULL). */
static int kind_lookup(const char *kind, job_handler *handler, int *max_attempts)
{
    pthread_mutex_lock(&reg_lock);
    int found = 0;
    for (int i = 0; i < nkinds && !found; i++)
        if (!strcmp(kinds[i].name, kind)) {
            found = 1;
            if (handler)
                *handler = kinds[i].handler;
            if (max_attempts)
                *max_attempts = kinds[i].max_attempts;
        }
    pthread_mutex_unlock(&reg_lock);
    return found;
}

int jobs_kind_max_attempts(const char *kind)
{
    int n = JOB_DEFAULT_MAX_ATTEMPTS;
    kind_lookup(kind, NULL, &n);
    return n;
}

/* The registered names (pointers stay valid: names are never freed). */
static int kind_names(const char *names[JOB_MAX_KINDS])
{
    pthread_mutex_lock(&reg_lock);
    int n = nkinds;
    for (int i = 0; i < n; i++)
        names[i] = kinds[i].name;
    pthread_mutex_unlock(&reg_lock);
    return n;
}

/* ---- metrics ---------------------------------------------------------------------------------- */

static struct metric *m_total, *m_duration, *m_depth;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    static const double buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
    const char *l2[] = {"kind", "result"};
    m_total = metric_new(METRIC_COUNTER, "doppel_jobs_total",
                         "finished job attempts by kind and result (done|retry|dead)", 2, l2, NULL, 0);
    m_duration = metric_new(METRIC_HISTOGRAM, "doppel_job_duration_seconds", "job handler run time by kind", 1, l2,
                            buckets, (int)(sizeof buckets / sizeof buckets[0]));
    m_depth =
        metric_new(METRIC_GAUGE, "doppel_jobs_queue_depth", "jobs queued or retrying and due now", 0, NULL, NULL, 0);
}

static void count_result(const char *kind, const char *result)
{
    const char *l[] = {kind, result};
    metric_add(m_total, l, 1);
}

/* ---- the runner -------------------------------------------------------------------------------- */

struct jworker {
    int idx;
    pthread_t thread;
    struct db *db;
    struct cache *cache;
    struct job_run run; /* the job in hand; shared with the heartbeat under R.lock */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* workers wait here between polls (monotonic clock) */
    pthread_cond_t hb_wake; /* the heartbeat waits here */
    int ready;              /* lock/conds initialised for the monotonic clock */
    int started;
    volatile int stopping; /* no more claims; handlers should wrap up */
    int hb_stopping;
    struct timespec stop_deadline; /* CLOCK_REALTIME bound of jobs_stop, set with stopping */
    unsigned long wakes;           /* bumped by jobs_wake */
    int n;
    struct jworker *w;
    pthread_t heartbeat;
    char *db_url, *cache_url;
    struct blob_store *blobs; /* shared by the workers (thread-safe) */
    int64_t lease_ms;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Deadline ms from now on the monotonic clock (the conds use it). */
static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void jobs_wake(void)
{
    pthread_mutex_lock(&R.lock);
    R.wakes++;
    if (R.ready)
        pthread_cond_signal(&R.wake);
    pthread_mutex_unlock(&R.lock);
}

/* Sleeps up to ms or until woken or stopping; R.lock not held. */
static void idle_wait(int64_t ms, unsigned long seen)
{
    pthread_mutex_lock(&R.lock);
    if (!R.stopping && R.wakes == seen) {
        struct timespec ts = deadline_in(ms);
        pthread_cond_timedwait(&R.wake, &R.lock, &ts);
    }
    pthread_mutex_unlock(&R.lock);
}

int job_should_stop(struct job_ctx *ctx)
{
    struct job_run *run = ctx->priv;
    if (!run)
        return 0;
    if (!run->lock)
        return run->stopping && *run->stopping;
    pthread_mutex_lock(run->lock);
    int stop = run->lost || (run->stopping && *run->stopping);
    pthread_mutex_unlock(run->lock);
    return stop;
}

void job_progress(struct job_ctx *ctx, int percent)
{
    struct job_run *run = ctx->priv;
    if (!run)
        return;
    percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    if (percent == run->progress)
        return;
    double now = time_mono();
    if (percent != 100 && (now - run->progress_at) * 1000.0 < PROGRESS_MIN_MS)
        return; /* throttled: a later call carries a newer value */
    int err = job_set_progress(ctx->db, run->claim->id, run->claim->token, percent);
    if (err == DP_ERR_NOT_FOUND) {
        if (run->lock)
            pthread_mutex_lock(run->lock);
        run->lost = 1;
        if (run->lock)
            pthread_mutex_unlock(run->lock);
        return;
    }
    if (err) {
        DP_LOG(LOG_WARN, "[jobs] progress of %s not written: %s", run->claim->id, dp_strerror(err));
        return;
    }
    run->progress = percent;
    run->progress_at = now;
    job_publish(ctx->db, ctx->cache, run->claim->id);
}

/* Runs a finishing call, retrying briefly through a busy SQLite or a reconnecting PostgreSQL. */
static int finish_with_retry(struct jworker *w, const struct job_claim *c, int rc, const char *msg, int release,
                             enum job_outcome *outcome)
{
    int err = DP_OK;
    for (int i = 0; i < 5; i++) {
        err = release ? job_release(w->db, c, outcome) : job_finish(w->db, c, rc, msg, outcome, NULL);
        if (err != DP_ERR_UNAVAILABLE && err != DP_ERR_DB)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return err;
}

/* Runs claim c on worker w and records the outcome. */
static void run_job(struct jworker *w, struct job_claim *c)
{
    if (c->dead) {
        DP_LOG(LOG_WARN, "[jobs] job %s (%s) dead: its worker stopped during the last attempt (%d)", c->id, c->kind,
               c->attempt);
        count_result(c->kind, "dead");
        job_publish(w->db, w->cache, c->id);
        return;
    }
    job_handler handler = NULL;
    if (!kind_lookup(c->kind, &handler, NULL))
        return; /* cannot happen: claims are limited to registered kinds */
    struct job_ctx ctx = {.kind = c->kind,
                          .payload = c->payload,
                          .attempt = c->attempt,
                          .db = w->db,
                          .cache = w->cache,
                          .blobs = R.blobs,
                          .priv = &w->run};
    memcpy(ctx.id, c->id, ID_LEN);

    pthread_mutex_lock(&R.lock);
    w->run.claim = c;
    w->run.active = 1;
    w->run.lost = 0;
    w->run.renewed_at = time_now_ms();
    w->run.progress = 0;
    w->run.progress_at = 0;
    pthread_mutex_unlock(&R.lock);

    DP_LOG(LOG_DEBUG, "[jobs] running %s (%s) attempt %d/%d", c->id, c->kind, c->attempt, c->max_attempts);
    job_publish(w->db, w->cache, c->id);
    double t0 = time_mono();
    char *msg = NULL;
    int owned = 0;
    int rc = handler(&ctx, &msg, &owned);
    double took = time_mono() - t0;

    pthread_mutex_lock(&R.lock);
    w->run.active = 0;
    int lost = w->run.lost, stopping = R.stopping;
    pthread_mutex_unlock(&R.lock);

    enum job_outcome outcome = JOB_OUT_LOST;
    int release = rc == DP_ERR_CANCELLED && stopping;
    int err = lost ? DP_OK : finish_with_retry(w, c, rc, msg, release, &outcome);
    if (err) {
        DP_LOG(LOG_WARN, "[jobs] outcome of %s (%s) not recorded (%s): it runs again when its lease ends", c->id,
               c->kind, dp_strerror(err));
    } else if (outcome == JOB_OUT_LOST) {
        DP_LOG(LOG_WARN, "[jobs] job %s (%s) lost its lease during attempt %d: another worker owns it", c->id, c->kind,
               c->attempt);
    } else {
        const char *l[] = {c->kind};
        static const char *const results[] = {"done", "retry", "dead"};
        if (outcome != JOB_OUT_RELEASED) {
            metric_observe(m_duration, l, took);
            count_result(c->kind, results[outcome]);
        }
        if (outcome == JOB_OUT_DONE)
            DP_LOG(LOG_INFO, "[jobs] job %s (%s) done in %.3f s", c->id, c->kind, took);
        else if (outcome == JOB_OUT_RELEASED)
            DP_LOG(LOG_INFO, "[jobs] job %s (%s) handed back at shutdown", c->id, c->kind);
        else
            DP_LOG(outcome == JOB_OUT_DEAD ? LOG_ERROR : LOG_WARN, "[jobs] job %s (%s) attempt %d/%d failed%s: %s",
                   c->id, c->kind, c->attempt, c->max_attempts, outcome == JOB_OUT_DEAD ? " for good" : "",
                   msg ? msg : dp_strerror(rc));
        job_publish(w->db, w->cache, c->id);
    }
    if (owned)
        free(msg);
}

/* Opens what the worker lacks; DP_OK when both connections are there. */
static int ensure_conns(struct db **db, struct cache **cache, int with_cache)
{
    int err = DP_OK;
    if (!*db && (err = db_open(db, R.db_url)))
        *db = NULL;
    if (!err && with_cache && !*cache && (err = cache_open(cache, R.cache_url)))
        *cache = NULL;
    return err;
}

static void *worker_main(void *arg)
{
    struct jworker *w = arg;
    int complained = 0;
    for (;;) {
        pthread_mutex_lock(&R.lock);
        int stop = R.stopping;
        unsigned long seen = R.wakes;
        pthread_mutex_unlock(&R.lock);
        if (stop)
            break;
        int err = ensure_conns(&w->db, &w->cache, 1);
        if (err) {
            if (!complained++)
                DP_LOG(LOG_WARN, "[jobs] worker %d cannot reach the database or cache (%s); retrying", w->idx,
                       dp_strerror(err));
            idle_wait(RECONNECT_MS, seen);
            continue;
        }
        const char *names[JOB_MAX_KINDS];
        int n = kind_names(names);
        struct job_claim c;
        err = n ? job_claim(w->db, R.lease_ms, names, n, &c) : DP_ERR_NOT_FOUND;
        if (!err) {
            complained = 0;
            run_job(w, &c);
            job_claim_cleanup(&c);
            continue; /* there may be more due: look again at once */
        }
        if (err != DP_ERR_NOT_FOUND) {
            if (!complained++)
                DP_LOG(LOG_WARN, "[jobs] worker %d: claiming failed (%s: %s)", w->idx, dp_strerror(err),
                       db_errmsg(w->db));
            idle_wait(RECONNECT_MS, seen);
            continue;
        }
        complained = 0;
        idle_wait(POLL_MS, seen);
    }
    return NULL;
}

/* Kinds with due jobs that no handler here knows: logged once each (another instance or a
 * newer version may know them, so they stay queued). */
static void log_unknown_kinds(struct db *db, int64_t now_ms)
{
    static char *told[JOB_MAX_KINDS];
    static int ntold;
    struct db_rows *r;
    struct db_val p[] = {DB_INT(now_ms)};
    if (db_query(db, "SELECT DISTINCT kind FROM jobs WHERE status IN ('queued', 'retrying') AND run_at <= ?", p, 1, &r))
        return;
    for (int i = 0; i < r->nrows; i++) {
        const char *k = db_rows_text(r, i, 0);
        if (!k || kind_lookup(k, NULL, NULL))
            continue;
        int seen = 0;
        for (int j = 0; j < ntold && !seen; j++)
            seen = !strcmp(told[j], k);
        if (seen || ntold == JOB_MAX_KINDS)
            continue;
        told[ntold++] = strdup(k);
        DP_LOG(LOG_WARN, "[jobs] jobs of kind \"%.64s\" are due but no handler is registered here: left queued", k);
    }
    db_rows_free(r);
}

/* Extends the leases of jobs running for more than half a lease. */
static void renew_leases(struct db *db)
{
    for (int i = 0; i < R.n; i++) {
        struct jworker *w = &R.w[i];
        char id[ID_LEN], token[ID_LEN];
        int64_t now = time_now_ms();
        pthread_mutex_lock(&R.lock);
        int due = w->run.active && !w->run.lost && now - w->run.renewed_at >= R.lease_ms / 2;
        if (due) {
            memcpy(id, w->run.claim->id, ID_LEN);
            memcpy(token, w->run.claim->token, ID_LEN);
        }
        pthread_mutex_unlock(&R.lock);
        if (!due)
            continue;
        int err = job_renew(db, id, token, now + R.lease_ms);
        pthread_mutex_lock(&R.lock);
        int same = w->run.active && !strcmp(w->run.claim->token, token);
        if (same && !err)
            w->run.renewed_at = now;
        else if (same && err == DP_ERR_NOT_FOUND)
            w->run.lost = 1;
        pthread_mutex_unlock(&R.lock);
        if (same && err == DP_ERR_NOT_FOUND)
            DP_LOG(LOG_WARN, "[jobs] job %s: lease taken over by another worker", id);
        else if (err && err != DP_ERR_NOT_FOUND)
            DP_LOG(LOG_WARN, "[jobs] renewing the lease of %s failed: %s", id, dp_strerror(err));
    }
}

static void *heartbeat_main(void *arg)
{
    (void)arg;
    struct db *db = NULL;
    struct cache *none = NULL;
    int64_t interval = R.lease_ms / 4;
    interval = interval < 50 ? 50 : interval > 1000 ? 1000 : interval;
    double depth_at = 0;
    for (;;) {
        pthread_mutex_lock(&R.lock);
        int stop = R.hb_stopping;
        pthread_mutex_unlock(&R.lock);
        if (stop)
            break;
        if (!ensure_conns(&db, &none, 0)) {
            renew_leases(db);
            if ((time_mono() - depth_at) * 1000.0 >= DEPTH_EVERY_MS) {
                int64_t now = time_now_ms(), depth;
                depth_at = time_mono();
                if (!job_queue_depth(db, now, &depth))
                    metric_set(m_depth, NULL, (double)depth);
                log_unknown_kinds(db, now);
            }
        }
        pthread_mutex_lock(&R.lock);
        if (!R.hb_stopping) {
            struct timespec ts = deadline_in(interval);
            pthread_cond_timedwait(&R.hb_wake, &R.lock, &ts);
        }
        pthread_mutex_unlock(&R.lock);
    }
    if (db)
        db_close(db);
    return NULL;
}

int jobs_start(const char *database_url, const char *cache_url, struct blob_store *blobs, int n, int lease_s)
{
    if (n < 1 || lease_s < 1 || !database_url)
        return DP_ERR_INVALID;
    pthread_once(&metrics_once, metrics_init);
    pthread_mutex_lock(&R.lock);
    int busy = R.started;
    pthread_mutex_unlock(&R.lock);
    if (busy)
        return DP_ERR_CONFLICT;

    int err = DP_ERR_NOMEM;
    R.db_url = strdup(database_url);
    R.cache_url = strdup(cache_url ? cache_url : "");
    R.w = calloc((size_t)n, sizeof *R.w);
    if (!R.db_url || !R.cache_url || !R.w)
        goto out_free;
    R.n = n;
    R.blobs = blobs;
    R.lease_ms = (int64_t)lease_s * 1000;
    R.stopping = 0;
    R.hb_stopping = 0;
    if (!R.ready) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&R.wake, &ca);
        pthread_cond_init(&R.hb_wake, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_lock(&R.lock);
        R.ready = 1;
        pthread_mutex_unlock(&R.lock);
    }
    err = DP_ERR_INTERNAL;
    int started = 0;
    for (int i = 0; i < n; i++) {
        R.w[i].idx = i;
        R.w[i].run.lock = &R.lock;
        R.w[i].run.stopping = &R.stopping;
        if (pthread_create(&R.w[i].thread, NULL, worker_main, &R.w[i]))
            goto out_stop;
        started++;
    }
    if (pthread_create(&R.heartbeat, NULL, heartbeat_main, NULL))
        goto out_stop;
    pthread_mutex_lock(&R.lock);
    R.started = 1;
    pthread_mutex_unlock(&R.lock);
    DP_LOG(LOG_INFO, "[jobs] %d job worker(s) started, lease %d s", n, lease_s);
    return DP_OK;

out_stop:
    pthread_mutex_lock(&R.lock);
    R.stopping = 1;
    pthread_cond_broadcast(&R.wake);
    pthread_mutex_unlock(&R.lock);
    for (int i = 0; i < started; i++)
        pthread_join(R.w[i].thread, NULL);
    for (int i = 0; i < started; i++) {
        if (R.w[i].db)
            db_close(R.w[i].db);
        if (R.w[i].cache)
            cache_close(R.w[i].cache);
    }
out_free:
    free(R.db_url);
    free(R.cache_url);
    free(R.w);
    R.db_url = R.cache_url = NULL;
    R.w = NULL;
    R.n = 0;
    return err;
}

/* Sets stopping and the deadline of jobs_stop (unless set already); R.lock held. */
static void begin_stop_locked(int timeout_ms)
{
    if (R.stopping)
        return;
    R.stopping = 1;
    clock_gettime(CLOCK_REALTIME, &R.stop_deadline);
    R.stop_deadline.tv_sec += timeout_ms / 1000;
    R.stop_deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (R.stop_deadline.tv_nsec >= 1000000000L) {
        R.stop_deadline.tv_sec++;
        R.stop_deadline.tv_nsec -= 1000000000L;
    }
    pthread_cond_broadcast(&R.wake);
}

void jobs_stop_begin(int timeout_ms)
{
    pthread_mutex_lock(&R.lock);
    if (R.started)
        begin_stop_locked(timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_unlock(&R.lock);
}

int jobs_stop(void)
{
    pthread_mutex_lock(&R.lock);
    if (!R.started) {
        pthread_mutex_unlock(&R.lock);
        return 0;
    }
    begin_stop_locked(STOP_TIMEOUT_MS);
    struct timespec until = R.stop_deadline;
    pthread_mutex_unlock(&R.lock);

    /* Running handlers finish their attempt (the heartbeat keeps their leases), within a bound. */
    int stuck = 0;
    for (int i = 0; i < R.n; i++) {
        if (pthread_timedjoin_np(R.w[i].thread, NULL, &until)) {
            stuck++;
            pthread_detach(R.w[i].thread);
        }
    }
    pthread_mutex_lock(&R.lock);
    R.hb_stopping = 1;
    pthread_cond_broadcast(&R.hb_wake);
    pthread_mutex_unlock(&R.lock);
    pthread_join(R.heartbeat, NULL);
    if (stuck) {
        /* Their state stays allocated (the threads still use it) and is not freed: the process
         * is exiting. Their jobs' leases run out and another worker runs them again. */
        DP_LOG(LOG_WARN, "[jobs] %d job handler(s) still running at the shutdown deadline: left behind", stuck);
        pthread_mutex_lock(&R.lock);
        R.started = 0;
        pthread_mutex_unlock(&R.lock);
        return stuck;
    }
    for (int i = 0; i < R.n; i++) {
        if (R.w[i].db)
            db_close(R.w[i].db);
        if (R.w[i].cache)
            cache_close(R.w[i].cache);
    }
    free(R.w);
    free(R.db_url);
    free(R.cache_url);
    pthread_mutex_lock(&R.lock);
    R.w = NULL;
    R.db_url = R.cache_url = NULL;
    R.n = 0;
    R.started = 0;
    pthread_mutex_unlock(&R.lock);
    DP_LOG(LOG_INFO, "[jobs] job workers stopped");
    return 0;
}
