/* `doppel serve`: opens the engines, starts the worker pool and the HTTP server, runs the loop. */
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/settings.h"
#include "avatar/avatar_jobs.h"
#include "capture/conversation.h"
#include "avatar/conversation_extract.h"
#include "avatar/extract_job.h"
#include "avatar/media_ingest.h"
#include "brain/brain.h"
#include "brain/memory.h"
#include "brain/memory_embed.h"
#include "brain/text_index.h"
#include "brain/vectors.h"
#include "cli/cli.h"
#include "core/wordnet.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/procstats.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "net/http_client.h"
#include "net/router.h"
#include "providers/embed.h"
#include "providers/stt.h"
#include "providers/tts.h"
#include "voice/session.h"
#include "providers/llm.h"
#include "providers/stt.h"
#include "providers/tts.h"
#include "net/server.h"
#include "store/blob.h"
#include "store/cache.h"
#include "store/near.h"
#include "store/db.h"

static struct metric *m_db_calls, *m_cache_calls, *m_db_errors, *m_cache_errors;

static void observe_db(const char *backend, const char *op, double seconds, int err)
{
    const char *l[] = {backend, op};
    metric_observe(m_db_calls, l, seconds);
    if (err && err != DP_ERR_CONFLICT && err != DP_ERR_NOT_FOUND)
        metric_add(m_db_errors, l, 1);
}

static void observe_cache(const char *backend, const char *op, double seconds, int err)
{
    const char *l[] = {backend, op};
    metric_observe(m_cache_calls, l, seconds);
    if (err && err != DP_ERR_NOT_FOUND && err != DP_ERR_WOULDBLOCK) /* a near copy missing: a worker asks */
        metric_add(m_cache_errors, l, 1);
}

static void register_store_metrics(void)
{
    const char *l[] = {"backend", "op"};
    m_db_calls =
        metric_new(METRIC_HISTOGRAM, "doppel_db_call_duration_seconds", "database call latency", 2, l, NULL, 0);
    m_db_errors = metric_new(METRIC_COUNTER, "doppel_db_errors_total", "failed database calls", 2, l, NULL, 0);
    m_cache_calls =
        metric_new(METRIC_HISTOGRAM, "doppel_cache_call_duration_seconds", "cache call latency", 2, l, NULL, 0);
    m_cache_errors = metric_new(METRIC_COUNTER, "doppel_cache_errors_total", "failed cache calls", 2, l, NULL, 0);
    db_observe_hook = observe_db;
    cache_observe_hook = observe_cache;
}

/* What the application answers itself, never the web app: the API, the OpenAI-compatible facade,
 * the probes and the device sockets. */
static const char *const own_prefixes[] = {"/api/", "/v1/", "/ws_", "/health", "/ready", "/metrics", NULL};

static void *worker_init(int idx, void *arg)
{
    struct worker *w = calloc(1, sizeof *w);
    DP_ASSERT(w);
    w->idx = idx;
    w->app = arg;
    /* A database that is down at start is retried on first use (worker_db), not fatal. */
    if (db_open(&w->db, w->app->database_url))
        w->db = NULL;
    if (cache_open(&w->cache, w->app->cfg.redis_url))
        w->cache = NULL;
    if (cache_open_space(&w->security, w->app->cfg.redis_url, CACHE_SPACE_SECURITY))
        w->security = NULL;
    return w;
}

/* A provider pool thread: mostly waits on a remote model, so its database connection and cache
 * handles open on first use (worker_db, worker_cache) rather than one per thread at start. */
static void *slow_worker_init(int idx, void *arg)
{
    struct worker *w = calloc(1, sizeof *w);
    DP_ASSERT(w);
    w->idx = 1000 + idx;
    w->app = arg;
    return w;
}

static void worker_cleanup(void *state)
{
    struct worker *w = state;
    authn_thread_cleanup();
    if (w->db)
        db_close(w->db);
    if (w->cache)
        cache_close(w->cache);
    if (w->security)
        cache_close(w->security);
    free(w);
}

static uv_signal_t sig_term, sig_int;

/* The periodic sweeps: upload temp files (uploads killed mid-stream normally remove theirs, but
 * a worker stuck or a process killed leaves them behind until the next start), and recordings
 * whose device went away and did not come back within --capture-idle-close. Run on a worker
 * (directory scans, unlinks, closing recordings are disk work); one at a time, each at its own
 * period. */
static uv_timer_t sweep_timer;
/* Seconds between sweeps of idle recordings: a recording closes within 1.5 idle periods. */
static long sweep_capture_period(const struct app *app)
{
    return app->cfg.capture_idle_close / 2 > 0 ? app->cfg.capture_idle_close / 2 : 1;
}
/* Seconds between refreshes of the shared state of connected devices: three per TTL. */
static long device_beat_period(const struct app *app)
{
    return app->cfg.capture_device_ttl / 3 > 0 ? app->cfg.capture_device_ttl / 3 : 1;
}
static struct pool_task sweep_task;
static int sweep_running;                                /* loop thread only */
static double blob_swept, capture_swept, capture_beaten; /* time_mono() of each one's last run (the sweep's worker) */
static double sweep_slack; /* half the timer's period: a tick a little early still counts */

static void sweep_work(struct pool_task *t, void *state)
{
    (void)t;
    struct app *app = app_get();
    double now = time_mono();
    /* A live upload's file is locked (and written to within --http-timeout, or its connection
     * is closed): only files idle longer than that and unlocked go. */
    if (now - blob_swept + sweep_slack >= (double)app->cfg.blob_sweep_interval) {
        blob_sweep(app->blobs, app->cfg.http_timeout, NULL);
        blob_swept = now;
    }
    if (now - capture_beaten + sweep_slack >= (double)device_beat_period(app)) {
        capture_beat(state);
        capture_beaten = now;
    }
    if (now - capture_swept + sweep_slack >= (double)sweep_capture_period(app)) {
        capture_sweep(state);
        capture_swept = now;
    }
}

static void sweep_done(struct pool_task *t)
{
    (void)t;
    sweep_running = 0;
}

static void on_sweep_timer(uv_timer_t *h)
{
    struct app *app = h->data;
    if (sweep_running || !app->pool)
        return;
    sweep_running = 1;
    sweep_task.work = sweep_work;
    sweep_task.done = sweep_done;
    pool_submit(app->pool, &sweep_task);
}

/* Lets the tasks the connections' last done callbacks queued run before the pools stop (a voice
 * session's closing work queued behind its running turn would otherwise never run, nor be freed).
 * Bounded: what is still running after SETTLE_MAX_S is left to the abandon path below. */
#define SETTLE_MAX_S 2.0
static void settle_pools(struct app *app)
{
    double until = time_mono() + SETTLE_MAX_S;
    while ((pool_settle(app->pool) + (app->slow_pool ? pool_settle(app->slow_pool) : 0)) && time_mono() < until)
        usleep(1000);
}

static void on_stopped(void *arg)
{
    struct app *app = arg;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sweep_timer, NULL);
    int jobs_left = jobs_stop(); /* running jobs finish their attempt (bounded) before the pool goes */
    settle_pools(app);
    size_t busy = pool_busy(app->pool) + (app->slow_pool ? pool_busy(app->slow_pool) : 0) + (size_t)jobs_left;
    if (busy) {
        /* The shutdown deadline passed with handlers still running: joining them would
         * stretch the bound --shutdown-timeout promises. Exit without them (see cli_serve). */
        app->abandoned = (int)busy;
    } else {
        pool_free(app->pool);
        app->pool = NULL;
        if (app->slow_pool)
            pool_free(app->slow_pool);
        app->slow_pool = NULL;
    }
    /* The server's own handles stay open until server_free: end this run of the loop. */
    uv_stop(app->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *app = h->data;
    DP_LOG(LOG_INFO, "[serve] %s received: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_int);
    jobs_stop_begin((int)app->cfg.shutdown_timeout * 1000); /* no new jobs; both drain within the bound */
    server_shutdown(app->server, on_stopped, app);
}

/* Account security settings: signing key, token lifetimes, password cost, rate limits. */
static int auth_setup(struct app *app)
{
    if (auth_load_key(app->cfg.jwt_key, app->cfg.data_dir))
        return 1;
    auth_cfg.access_ttl = app->cfg.access_ttl;
    auth_cfg.refresh_ttl = app->cfg.refresh_ttl;
    auth_cfg.signup_open = app->cfg.signup_open;
    auth_cfg.auth_rate = app->cfg.auth_rate;
    auth_cfg.refresh_grace = app->cfg.refresh_grace;
    if (strcmp(app->cfg.signup_org, "personal") && strcmp(app->cfg.signup_org, "default")) {
        DP_LOG(LOG_ERROR, "[serve] --signup-org must be personal or default");
        return 1;
    }
    auth_cfg.signup_org_default = !strcmp(app->cfg.signup_org, "default");
    auth_cfg.api_rate = app->cfg.api_rate;
    if (password_setup((unsigned long long)app->cfg.argon2_ops, (size_t)app->cfg.argon2_memory_kib)) {
        DP_LOG(LOG_ERROR, "[serve] argon2id parameters are below libsodium's minimum");
        return 1;
    }
    auth_metrics_register();
    return 0;
}

/* Rate limits, login back-off and revocations must not be evicted to make room: with Redis that
 * is the server's maxmemory-policy, which only the operator can set. Says so at start. */
static void check_security_store(struct app *app)
{
    struct cache *c;
    if (!*app->cfg.redis_url || cache_open_space(&c, app->cfg.redis_url, CACHE_SPACE_SECURITY))
        return; /* in-process (a space of its own), or Redis down: the workers retry */
    char why[160];
    int evicts = cache_may_evict(c, why, sizeof why);
    if (evicts > 0)
        DP_LOG(LOG_WARN,
               "[serve] Redis may evict rate limits, login back-off and revocations (%s): "
               "set maxmemory-policy noeviction, or give it no maxmemory",
               why);
    else if (evicts < 0)
        DP_LOG(LOG_INFO, "[serve] Redis eviction policy unknown (%s): it should be noeviction", why);
    cache_close(c);
}

/* The speech engines: recognition and synthesis, offline by default. */
static int speech_setup(const struct config *c)
{
    struct stt_config sc = {.provider = c->stt_provider,
                            .model_dir = c->stt_model_dir,
                            .pool = (int)c->stt_pool,
                            .url = c->stt_url,
                            .model = c->stt_model,
                            .api_key = c->stt_api_key,
                            .timeout_ms = c->stt_timeout,
                            .language = c->stt_language,
                            .fallback = c->stt_fallback};
    struct tts_config tc = {.provider = c->tts_provider,
                            .voice = c->tts_voice,
                            .url = c->tts_url,
                            .model = c->tts_model,
                            .api_key = c->tts_api_key,
                            .timeout_ms = c->tts_timeout,
                            .fallback = c->tts_fallback};
    char msg[256] = "";
    if (stt_configure(&sc, msg, sizeof msg) || tts_configure(&tc, msg, sizeof msg)) {
        DP_LOG(LOG_ERROR, "[serve] %s", msg);
        return 1;
    }
    media_speech_configure(c->transcribe_window * 1000);
    return 0;
}

/* Memory search and its vectors: the embedding provider and the re-ranking knobs. */
static int brain_setup(struct app *app)
{
    const struct config *c = &app->cfg;
    if (speech_setup(c))
        return 1;
    struct embed_config ec = {c->embed_provider, c->embed_url, c->embed_model, c->embed_api_key, c->embed_timeout};
    struct llm_config lc = {c->llm_provider,
                            c->llm_url,
                            c->llm_model,
                            c->llm_api_key,
                            c->llm_connect_timeout,
                            c->llm_idle_timeout,
                            c->llm_timeout,
                            c->llm_max_tokens,
                            c->llm_retries,
                            c->llm_retry_wait_max,
                            c->llm_circuit_cooldown * 1000};
    char msg[256] = "cannot initialise libcurl";
    if (http_client_global_init() || embed_configure(&ec, msg, sizeof msg) || llm_configure(&lc, msg, sizeof msg)) {
        DP_LOG(LOG_ERROR, "[serve] %s", msg);
        return 1;
    }
    struct memory_tuning t = {c->search_importance_weight / 100.0, c->search_recency_weight / 100.0,
                              (double)c->search_recency_half_life, c->search_vector_min_similarity / 100.0};
    memory_tune(&t);
    text_index_limit(c->search_index_max);
    vectors_budget((size_t)c->vector_cache_max);
    memory_embed_register();
    char index_dir[4096]; /* the large avatars' search indexes, read back at the next start */
    snprintf(index_dir, sizeof index_dir, "%s/search-index", app->cfg.data_dir);
    if (text_index_start(app->database_url, index_dir)) {
        DP_LOG(LOG_ERROR, "[serve] cannot start the search index builder");
        return 1;
    }
    return 0;
}

/* Applies migrations at start; a lock in db_migrate keeps concurrent starts from racing. */
static int migrate_at_start(struct app *app)
{
    struct db *db;
    int err = db_open(&db, app->database_url);
    if (err) {
        DP_LOG(LOG_ERROR, "[serve] cannot open the database (%s)", dp_strerror(err));
        return err;
    }
    int applied = 0;
    err = db_migrate(db, &applied);
    if (err)
        DP_LOG(LOG_ERROR, "[serve] migrations failed: %s", db_errmsg(db));
    else if (applied)
        DP_LOG(LOG_INFO, "[serve] applied %d migration(s)", applied);
    db_close(db);
    return err;
}

/* After the embedding provider is set up: memories without a vector of its model (it changed)
 * get theirs from one background job. A failure to queue it is logged: searches still find them
 * by text, and each avatar's own backfill follows on its next search. */
static void embed_sweep_at_start(struct app *app)
{
    struct db *db;
    char job[ID_LEN];
    if (db_open(&db, app->database_url))
        return;
    int err = memory_embed_sweep(db, job);
    if (err)
        DP_LOG(LOG_WARN, "[serve] cannot queue the re-embedding of memories (%s)", dp_strerror(err));
    db_close(db);
}

/* A worker's heap shrank back whenever more than 128 KiB were free at its top and grew again on the
 * next request (a chat fan-out: 100 recipients' rows, then page faults to get the pages back):
 * 30 % of the server's CPU per fan-out delivery went to it (50 -> 34 µs). Keep up to 64 MiB free
 * per heap; fixing the trim threshold also fixes the mmap threshold, so set it to 4 MiB (larger
 * buffers, media, still come from mmap and go back at once). */
static void keep_heaps(void)
{
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

int cli_serve(int argc, char **argv)
{
    struct app *app = app_get();
    int rc = cli_load_config(app, argc, argv);
    if (rc)
        return rc < 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    keep_heaps();
    if (sodium_init() < 0) {
        DP_LOG(LOG_ERROR, "[serve] libsodium failed to initialise");
        return 1;
    }
    app->started = time_mono();
    procstats_register();
    register_store_metrics();

    int exit_code = 1;
    wordnet_use(app->cfg.wordnet_dir); /* loaded on first use; a warning now when missing */
    char index_dir[4096];
    snprintf(index_dir, sizeof index_dir, "%s/search-index", app->cfg.data_dir);
    char wordnet_cache[4200]; /* WordNet's parsed tables, beside the saved indexes */
    snprintf(wordnet_cache, sizeof wordnet_cache, "%s/wordnet.cache", index_dir);
    wordnet_cache_at(wordnet_cache);
    text_index_warm(index_dir); /* beside the rest of the start, when indexes were saved */
    if (auth_setup(app))
        goto out_config;
    if (migrate_at_start(app) || brain_setup(app))
        goto out_config;
    embed_sweep_at_start(app);
    check_security_store(app);
    if (blob_store_open(&app->blobs, app->blob_url)) {
        DP_LOG(LOG_ERROR, "[serve] cannot open the blob store at %s", app->blob_url);
        goto out_config;
    }
    if (capture_setup(app))
        goto out_blobs;
    cache_memory_set_budget((size_t)app->cfg.cache_memory_max); /* before the first handle */
    app->loop = uv_default_loop();
    long nworkers = app->cfg.workers ? app->cfg.workers : sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1)
        nworkers = 1;
    if (pool_new(&app->pool, app->loop, (int)nworkers, worker_init, worker_cleanup, app))
        goto out_blobs;
    /* Replies that wait on a remote model wait on threads of their own (ROUTE_SLOW), so that a
     * minute-long answer never holds a CPU worker (bench/llm.sh measures the difference). */
    if (llm_current() && app->cfg.provider_workers > 0 &&
        pool_new(&app->slow_pool, app->loop, (int)app->cfg.provider_workers, slow_worker_init, worker_cleanup, app))
        goto out_pool;
    /* Job kinds register before this (or any time later: workers re-read the registry). */
    if (app->cfg.test_routes)
        jobs_register_test_kinds();
    avatar_jobs_register();
    conversation_jobs_register();
    extract_job_register(app->cfg.llm_extract);
    conversation_extract_register(app->cfg.llm_extract_idle, app->cfg.llm_extract_turns);
    brain_generative_guard(app->cfg.legacy_guard);
    if (jobs_start(app->database_url, app->cfg.redis_url, app->blobs, (int)app->cfg.job_workers,
                   (int)app->cfg.job_lease))
        goto out_pool;

    const struct route *tables[32];
    int ntables = 0;
    tables[ntables++] = ops_routes;
    tables[ntables++] = auth_routes;
    tables[ntables++] = users_routes;
    tables[ntables++] = orgs_routes;
    tables[ntables++] = jobs_routes;
    tables[ntables++] = avatars_routes;
    tables[ntables++] = media_routes;
    tables[ntables++] = transcriptions_routes;
    tables[ntables++] = cards_routes;
    tables[ntables++] = profile_routes;
    tables[ntables++] = memories_routes;
    tables[ntables++] = conversations_routes;
    tables[ntables++] = legacy_routes;
    tables[ntables++] = messages_audio_routes;
    tables[ntables++] = voice_routes;
    struct voice_limits vl = {(int)app->cfg.voice_sessions_per_user, app->cfg.voice_idle_timeout * 1000L,
                              app->cfg.voice_session_max * 1000L};
    voice_configure(&vl);
    tables[ntables++] = portraits_routes;
    tables[ntables++] = openai_routes;
    tables[ntables++] = api_keys_routes;
    tables[ntables++] = openai_audio_routes;
    tables[ntables++] = chats_routes;
    tables[ntables++] = events_routes;
    tables[ntables++] = capture_routes;
    if (app->cfg.test_routes) {
        tables[ntables++] = test_routes;
        tables[ntables++] = jobs_test_routes;
    }
    tables[ntables++] = not_implemented_routes;
    if (router_new(&app->router, tables, ntables))
        goto out_pool;
    app->openapi_json = openapi_generate(app->router, &app->openapi_len);

    struct server_config scfg = {
        .listen = app->cfg.listen,
        .max_connections = app->cfg.max_connections,
        .timeout = app->cfg.http_timeout,
        .header_timeout = app->cfg.http_header_timeout,
        .min_body_rate = app->cfg.http_min_body_rate,
        .body_rate_window = app->cfg.http_body_rate_window,
        .max_conns_per_ip = app->cfg.max_conns_per_ip,
        .json_body_max = (size_t)app->cfg.json_body_max,
        .upload_max = (size_t)app->cfg.upload_max,
        .ws_message_max = (size_t)app->cfg.ws_message_max,
        .ws_send_queue_max = (size_t)app->cfg.ws_send_queue_max,
        .ws_ping_interval = app->cfg.ws_ping_interval,
        .shutdown_timeout = app->cfg.shutdown_timeout,
        .sse_producers = app->cfg.sse_producers,
        .cors_origins = app->cfg.cors_origins,
        .trusted_proxies = app->cfg.trusted_proxies,
        .web_dir = *app->cfg.web_dir ? app->cfg.web_dir : NULL,
        .own_prefixes = own_prefixes,
    };
    if (server_new(&app->server, app->loop, &scfg, app->router, app->pool) || server_start(app->server))
        goto out_router;
    server_set_auth_hook(app->server, authn_hook, authn_release);
    server_set_slow_pool(app->server, app->slow_pool);
    if (events_start(app)) {
        DP_LOG(LOG_ERROR, "[serve] cannot start the events hub (pub/sub)");
        goto out_router;
    }
    /* With the in-process cache, hot authenticated reads can be answered on the loop. */
    if (!*app->cfg.redis_url && cache_open(&app->inline_cache, "") == DP_OK &&
        cache_open_space(&app->inline_security, "", CACHE_SPACE_SECURITY) == DP_OK)
        server_allow_inline(app->server, 1);
    /* With Redis, an answer's bytes are kept here too: a warm read then fetches only the
     * generations from Redis (one round trip), not the answer. */
    if (*app->cfg.redis_url && cache_open(&app->near_cache, "") != DP_OK)
        app->near_cache = NULL;
    /* And near copies of the session states and generations (store/near.h), kept exact by
     * announcements: a warm read then needs no round trip at all and is answered on the loop. */
    static const char *const near_prefixes[] = {"gen:", "sess:", NULL};
    if (*app->cfg.redis_url && app->near_cache && near_start(app->loop, app->cfg.redis_url, near_prefixes) == DP_OK &&
        near_cache_open(&app->inline_cache, CACHE_SPACE_CACHED) == DP_OK &&
        near_cache_open(&app->inline_security, CACHE_SPACE_SECURITY) == DP_OK)
        server_allow_inline(app->server, 1);

    uv_signal_init(app->loop, &sig_term);
    uv_signal_init(app->loop, &sig_int);
    sig_term.data = sig_int.data = app;
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(app->loop, &sweep_timer);
    sweep_timer.data = app;
    blob_swept = capture_swept = time_mono();
    long period = sweep_capture_period(app) < app->cfg.blob_sweep_interval ? sweep_capture_period(app)
                                                                           : app->cfg.blob_sweep_interval;
    if (period > device_beat_period(app)) /* device keys expire unless refreshed in time */
        period = device_beat_period(app);
    sweep_slack = period / 2.0;
    uv_timer_start(&sweep_timer, on_sweep_timer, (uint64_t)period * 1000, (uint64_t)period * 1000);
    uv_unref((uv_handle_t *)&sweep_timer); /* never what keeps the loop alive */

    DP_LOG(LOG_INFO, "[serve] Doppel is listening on http://%.*s:%d/ (database: %s, cache: %s, %ld workers)",
           (int)(strrchr(app->cfg.listen, ':') - app->cfg.listen), app->cfg.listen, server_port(app->server),
           db_backend_for_url(app->database_url), *app->cfg.redis_url ? "redis" : "memory", nworkers);
    printf("Doppel is running: open http://%.*s:%d/\n", (int)(strrchr(app->cfg.listen, ':') - app->cfg.listen),
           app->cfg.listen, server_port(app->server));
    fflush(stdout);

    uv_run(app->loop, UV_RUN_DEFAULT);
    if (app->abandoned) {
        DP_LOG(LOG_WARN, "[serve] exiting with %d handler(s) still running (shutdown deadline)", app->abandoned);
        fflush(stdout);
        _exit(0); /* their threads still use the engines: nothing below may be freed under them */
    }
    server_free(app->server);
    app->server = NULL;
    events_stop();
    near_stop();
    uv_run(app->loop, UV_RUN_DEFAULT); /* let closed handles finish */
    exit_code = 0;
out_router:
    events_stop();
    near_stop();
    if (app->server) {
        if (app->pool) /* late completions must not reach the freed server */
            pool_on_drained(app->pool, NULL, NULL);
        if (app->slow_pool)
            pool_on_drained(app->slow_pool, NULL, NULL);
        server_free(app->server);
        uv_run(app->loop, UV_RUN_NOWAIT);
    }
    free(app->openapi_json);
    router_free(app->router);
    if (app->inline_cache)
        cache_close(app->inline_cache);
    if (app->near_cache)
        cache_close(app->near_cache);
    if (app->inline_security)
        cache_close(app->inline_security);
out_pool:
    jobs_stop(); /* a no-op when stopped already (on_stopped) or never started */
    if (app->slow_pool) {
        pool_free(app->slow_pool);
        uv_run(app->loop, UV_RUN_NOWAIT);
    }
    if (app->pool) {
        pool_free(app->pool);
        uv_run(app->loop, UV_RUN_NOWAIT);
    }
    near_free(); /* no worker reads the copies any more */
out_blobs:
    blob_store_close(app->blobs);
out_config:
    text_index_stop();
    embed_shutdown();
    stt_shutdown();
    tts_shutdown();
    llm_shutdown();
    stt_shutdown();
    tts_shutdown();
    authn_thread_cleanup(); /* the loop thread's memo */
    cli_free_config(app);
    DP_LOG(LOG_INFO, "[serve] exit %d", exit_code);
    return exit_code;
}
