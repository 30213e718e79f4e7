/* The running application: configuration, engines and the per-worker state handlers use. */
#ifndef DP_APP_H
#define DP_APP_H

#include <uv.h>

#include "core/config.h"
#include "net/http.h"

struct blob_store;
struct db;
struct cache;

struct app {
    struct config cfg;
    char *database_url;       /* resolved: cfg value or <data-dir>/doppel.db */
    char *blob_url;           /* resolved: cfg value or <data-dir>/blobs */
    struct blob_store *blobs; /* thread-safe, shared */
    uv_loop_t *loop;
    struct server *server;
    struct pool *pool;
    struct pool *slow_pool; /* ROUTE_SLOW routes: replies that wait on remote providers */
    struct router *router;
    char *openapi_json; /* generated once from the route tables */
    size_t openapi_len;
    double started;                /* time_mono() at start */
    struct cache *inline_cache;    /* the in-process cache for loop-thread fast paths; NULL with Redis */
    struct cache *inline_security; /* its security space (session revocations), likewise */
    struct cache *near_cache;      /* with Redis: an in-process copy of cached answers under the same
                                * generation-stamped keys (the generations still come from Redis) */
    int abandoned;                 /* shutdown gave up waiting for running handlers */
};

/* The state each worker thread owns; handlers reach it through req->worker. */
struct worker {
    int idx;
    struct app *app;
    struct db *db;          /* this thread's connection; NULL while the database is unreachable */
    struct cache *cache;    /* this thread's cache handle: cached copies, evictable */
    struct cache *security; /* this thread's handle of the security space (rate limits, back-off, revocations) */
};

/* The process's application (one per process). */
struct app *app_get(void);

/* The worker's database connection, reconnecting when it was lost. DP_ERR_UNAVAILABLE when
 * the database cannot be reached. */
int worker_db(struct worker *w, struct db **out);
int worker_cache(struct worker *w, struct cache **out);
int worker_security(struct worker *w, struct cache **out);

/* The route tables of every resource (terminated by a row with method == NULL). */
extern const struct route ops_routes[];
extern const struct route test_routes[];
extern const struct route not_implemented_routes[];
extern const struct route openai_routes[];
extern const struct route api_keys_routes[];
extern const struct route openai_audio_routes[];
extern const struct route auth_routes[];
extern const struct route users_routes[];
extern const struct route orgs_routes[];
extern const struct route jobs_routes[];
extern const struct route jobs_test_routes[]; /* mounted with --test-routes only */
extern const struct route avatars_routes[];
extern const struct route media_routes[];
extern const struct route transcriptions_routes[];
extern const struct route cards_routes[];
extern const struct route profile_routes[];
extern const struct route memories_routes[];
extern const struct route conversations_routes[];
extern const struct route legacy_routes[];
extern const struct route messages_audio_routes[];
extern const struct route voice_routes[];
extern const struct route portraits_routes[];
extern const struct route chats_routes[];
extern const struct route events_routes[];

/* The events WebSocket's hub (api/events.c): start after the server and pool exist, on the loop;
 * stop before the server is freed. */
int events_start(struct app *app);
void events_stop(void);
extern const struct route capture_routes[];

/* Device capture: its directory and settings, then recovery of the recordings a crash left open
 * (api/capture.c). Call once at start, after the migrations, before serving. */
int capture_setup(struct app *app);
/* Closes the recordings whose device went away more than --capture-idle-close ago (on a worker:
 * worker_state is its struct worker). */
void capture_sweep(void *worker_state);
/* Refreshes the shared state of the devices connected to this instance (on a worker, every third
 * of --capture-device-ttl: other instances list them until it expires). */
void capture_beat(void *worker_state);

/* The authentication hook of non-public routes (api/authn.c). */
int authn_hook(struct request *req, struct response *res);
/* Frees a caller authn_hook set outside the request's arena (a WebSocket's: req_auth_in_arena). */
void authn_release(struct caller *c);
/* Frees the calling thread's memo of verified tokens (call when a thread ends). */
void authn_thread_cleanup(void);
/* Registers the accounts metrics (api/auth.c). Call once at start. */
void auth_metrics_register(void);

/* Builds the OpenAPI 3.1 document from the router; caller frees. */
char *openapi_generate(const struct router *r, size_t *len);

#endif
