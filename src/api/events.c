/* The events WebSocket (GET /api/v1/events, ?ticket= or ?token=, ?since=N): the caller's live
 * events — message.new, message.updated, receipt.read (logged, numbered per user, caught up on
 * reconnect), typing.start/typing.stop, presence, job.updated (live only). chat/hub.c runs it. */
#include "api/api_util.h"
#include "api/schemas.h"
#include "chat/chat.h"
#include "chat/hub.h"
#include "core/err.h"
#include "net/ws.h"
#include "store/db.h"

/* The context of a worker, for the hub's database and cache work. */
static int worker_env(void *state, struct context *e)
{
    struct worker *w = state;
    *e = (struct context){0};
    e->blobs = app_get()->blobs;
    int err = worker_db(w, &e->db);
    if (!err)
        err = worker_cache(w, &e->cache);
    if (!err)
        err = worker_security(w, &e->security);
    return err;
}

int events_start(struct app *app)
{
    chat_group_max = (int)app->cfg.chat_group_max;
    struct chat_hub_config cfg = {(int)app->cfg.chat_typing_ttl, (int)app->cfg.chat_presence_grace, 1000,
                                  (int)app->cfg.chat_frame_rate, NULL};
    /* SQLite: sends on one connection of their own keep its page cache (see send_db); PostgreSQL
     * keeps no cache in the connection, and its writers need not wait for each other. */
    struct db *db;
    if (!db_open(&db, app->database_url)) {
        if (db_dialect(db) == DB_SQLITE)
            cfg.send_db = db;
        else
            db_close(db);
    }
    return chat_hub_start(app->loop, app->pool, app->cfg.redis_url, &cfg, worker_env);
}

void events_stop(void)
{
    chat_hub_stop();
}

static const char events_doc[] = J({
    "query" : {
        "since" : {
            "type" : "integer",
            "minimum" : 0,
            "description" : "the last event seq the client has: everything after it comes first, from the log"
        },
        "ticket" : {"type" : "string", "description" : "from POST /api/v1/auth/ws-ticket (browsers)"},
        "token" : {"type" : "string", "description" : "an access token (devices)"}
    },
    "description" :
        "Server frames are JSON {type, seq?, data}: ready {seq} once caught up; message.new, message.updated, receipt.read (these carry the user's seq: resume with ?since=); typing.start {chat_id, user_id, expires_in_ms}, typing.stop, presence {user_id, status: online|away|offline, last_seen}, job.updated {job}; error {code, message}; pong. Client frames: typing.start / typing.stop {chat_id}, presence {status: online|away}, ping. A socket whose session ends (logout, logout everywhere, password change, account deletion, revocation) gets error {code: session_ended} and closes with code 4401: sign in again rather than reconnect.",
    "responses" : {"101" : {"description" : "switching to WebSocket"}},
    "errors" : [426]
});

const struct route events_routes[] = {
    {"GET", "/api/v1/events", ROUTE_WEBSOCKET, 0, NULL, "chats", "The caller's live events (WebSocket)", events_doc,
     &chat_events_ws, NULL},
    {0},
};
