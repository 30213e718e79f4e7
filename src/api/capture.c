/* Device capture routes: the device WebSockets (/ws_pcm, /ws_omi), connected devices, recordings. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "capture/capture.h"
#include "capture/conversation.h"
#include "capture/recording.h"
#include "capture/settings.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "net/ws.h"
#include "store/db.h"

/* A device session's worker task gets the worker's engines (ws_submit hands it the worker). */
static int worker_env(void *state, struct context *e)
{
    struct worker *w = state;
    memset(e, 0, sizeof *e);
    e->blobs = w->app->blobs;
    int err = worker_db(w, &e->db);
    if (!err)
        err = worker_cache(w, &e->cache);
    if (!err)
        err = worker_security(w, &e->security);
    return err;
}

int capture_setup(struct app *app)
{
    static char dir[4096], instance[32];
    snprintf(dir, sizeof dir, "%s/capture", app->cfg.data_dir);
    /* The host and the data directory name an instance: a restart keeps its name (and so the
     * devices it held), two instances never share it (each has its own capture directory). */
    char host[256] = "", both[4400];
    gethostname(host, sizeof host - 1);
    int n = snprintf(both, sizeof both, "%s|%s", host, dir);
    snprintf(instance, sizeof instance, "%016llx",
             (unsigned long long)hash_fnv1a64(both, n > 0 && (size_t)n < sizeof both ? (size_t)n : 0));
    struct capture_config c = {dir,
                               instance,
                               app->cfg.capture_sync_ms,
                               app->cfg.capture_silence_close,
                               app->cfg.capture_idle_close,
                               app->cfg.capture_device_ttl,
                               app->cfg.capture_max_seconds,
                               (size_t)app->cfg.capture_payload_max,
                               (size_t)app->cfg.capture_pending_max,
                               worker_env};
    int err = capture_configure(&c);
    if (err)
        return err;
    struct context e = {.blobs = app->blobs};
    if ((err = db_open(&e.db, app->database_url)))
        return err;
    int recovered, closed;
    err = capture_recover(&e, &recovered, &closed);
    if (err)
        DP_LOG(LOG_ERROR, "[capture] recovery at start failed (%s)", dp_strerror(err));
    db_close(e.db);
    return err;
}

void capture_beat(void *worker_state)
{
    struct context e;
    if (worker_env(worker_state, &e) == DP_OK)
        capture_heartbeat(&e);
}

void capture_sweep(void *worker_state)
{
    struct context e;
    int closed = 0;
    if (worker_env(worker_state, &e) == DP_OK)
        recording_sweep(&e, capture_cfg()->dir, NULL, capture_cfg()->idle_close_s, &closed);
}

/* The handshake of both device WebSockets (on a worker): the device's session becomes the
 * connection's state. ?device_name= (default "default"). */
static int handshake(struct request *req, struct response *res, int opus)
{
    const char *device = req_query(req, "device_name");
    struct capture_session *s;
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    err = capture_session_new(&e, api_caller(req)->user_id, device && *device ? device : "default", opus, &s);
    if (err == DP_ERR_INVALID)
        res_error(res, req, err, "device_name must be 1 to 64 of A-Z a-z 0-9 . _ -");
    else if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "this device is streaming already (one connection per device, on any instance)");
    if (err)
        return err;
    req->ws_user = s;
    req->ws_user_free = capture_session_free;
    res_json(res, 200, json_object()); /* the handshake passed: the server answers 101 */
    return DP_OK;
}

static int ws_pcm(struct request *req, struct response *res)
{
    return handshake(req, res, 0);
}

static int ws_omi(struct request *req, struct response *res)
{
    return handshake(req, res, 1);
}

/* GET /api/v1/clients/active: the caller's connected devices. */
static int clients_active(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    res_json(res, 200, json_pack("{s:o}", "items", capture_clients_json(&e, api_caller(req)->user_id)));
    return DP_OK;
}

static int list_page(struct db *db, const void *arg, const char *after, long limit, json_t **items)
{
    return recording_list_json(db, capture_cfg()->dir, arg, after, limit, items);
}

/* GET /api/v1/recordings: the caller's recordings, newest first. */
static int list_recordings(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    return api_list_page(req, res, e.db, list_page, api_caller(req)->user_id);
}

/* GET /api/v1/recordings/{id}: one of the caller's (anyone else's is a 404). */
static int get_recording(struct request *req, struct response *res)
{
    struct context e;
    json_t *j;
    int err = api_env(req, &e);
    if (err || (err = recording_get_json(e.db, capture_cfg()->dir, api_caller(req)->user_id, req_param(req, "id"), &j)))
        return err;
    if ((err = conversation_detail(&e, j))) {
        json_decref(j);
        return err;
    }
    res_json(res, 200, j);
    return DP_OK;
}

/* POST /api/v1/recordings/{id}/close: closes it now, or (its device streaming) after the next sync. */
static int close_recording(struct request *req, struct response *res)
{
    struct context e;
    int deferred = 0;
    const char *id = req_param(req, "id");
    int err = api_env(req, &e);
    if (err)
        return err;
    err = capture_close_request(&e, api_caller(req)->user_id, id, &deferred);
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, err, "the recording is closed already");
        return err;
    }
    if (err)
        return err;
    res_json(res, deferred ? 202 : 200, json_pack("{s:s,s:s}", "id", id, "status", deferred ? "closing" : "closed"));
    return DP_OK;
}

/* POST /api/v1/recordings/{id}/reprocess: the next version of its transcript and memories. */
static int reprocess_recording(struct request *req, struct response *res)
{
    struct context e;
    char job[ID_LEN];
    const char *id = req_param(req, "id");
    int err = api_env(req, &e);
    if (err)
        return err;
    err = conversation_reprocess(&e, api_caller(req)->user_id, id, job);
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, err, "the recording is still open: close it first");
        return err;
    }
    if (err)
        return err;
    res_json(res, 202, json_pack("{s:s,s:s}", "id", id, "job_id", job));
    return DP_OK;
}

/* GET /api/v1/capture/settings: the caller's silence close, their devices' own. */
static int get_settings(struct request *req, struct response *res)
{
    struct context e;
    json_t *out;
    int err = api_env(req, &e);
    if (err || (err = capture_settings_json(e.db, api_caller(req)->user_id, capture_cfg()->silence_close_s, &out)))
        return err;
    res_json(res, 200, out);
    return DP_OK;
}

/* PUT /api/v1/capture/settings {silence_close_s: 2–14400 | null, device_name?}: sets (null: removes)
 * the caller's own value, or one device's. */
static int put_settings(struct request *req, struct response *res)
{
    struct context e;
    json_t *s = json_object_get(req->json, "silence_close_s"), *d = json_object_get(req->json, "device_name");
    const char *device = d ? json_string_value(d) : "";
    if (!s || (!json_is_null(s) && !json_is_integer(s)) ||
        (json_is_integer(s) &&
         (json_integer_value(s) < CAPTURE_SILENCE_MIN || json_integer_value(s) > CAPTURE_SILENCE_MAX))) {
        res_error(res, req, DP_ERR_INVALID, "silence_close_s is a number of seconds from 2 to 14400, or null");
        return DP_ERR_INVALID;
    }
    if (!device || (*device && !capture_device_name_ok(device))) {
        res_error(res, req, DP_ERR_INVALID, "device_name must be 1 to 64 of A-Z a-z 0-9 . _ -");
        return DP_ERR_INVALID;
    }
    int err = api_env(req, &e);
    if (err || (err = capture_settings_put(e.db, api_caller(req)->user_id, device,
                                           json_is_null(s) ? 0 : (long)json_integer_value(s))))
        return err;
    return get_settings(req, res);
}

#define WS_DOC(what)                                                                                                   \
    "{\"description\":\"" what " Auth: ?token= (an access token) or ?ticket=. A text frame holds one JSON header "     \
    "line (audio-start {rate,width,channels,mode,timestamp}, audio-chunk with payload_length and an optional seq, "    \
    "audio-stop, ping); a payload follows as the next binary frame. The server sends ready, then ack "                 \
    "{samples,bytes,seq,recording_id} once audio is synced (and once after audio-start: the offset to resume "         \
    "from), pong, recording.closed and error {code,message}.\",\"query\":{\"device_name\":{\"type\":\"string\","       \
    "\"description\":\"1-64 of A-Z a-z 0-9 . _ - (default: default)\"},\"token\":{\"type\":\"string\"},"               \
    "\"ticket\":{\"type\":\"string\"}},\"errors\":[409,426]}"

static const char get_doc[] = J({"responses" : {"200" : "Recording"}});
static const char list_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Recording>"}});
static const char clients_doc[] = J({"responses" : {"200" : "ActiveClients"}});
static const char close_doc[] =
    J({"responses" : {"200" : "RecordingClose", "202" : "RecordingClose"}, "errors" : [409]});

static const char reprocess_doc[] = J({"responses" : {"202" : "RecordingReprocess"}, "errors" : [409]});
static const char settings_doc[] = J({"responses" : {"200" : "CaptureSettings"}});
static const char settings_put_doc[] =
    J({"requestBody" : "CaptureSettingsBody", "responses" : {"200" : "CaptureSettings"}});

const struct route capture_routes[] = {
    {"GET", "/ws_pcm", ROUTE_WEBSOCKET, 0, ws_pcm, "capture",
     "Device PCM16 audio (Wyoming-style WebSocket; raw binary PCM frames accepted too)",
     WS_DOC("Device audio as PCM16 (16 kHz mono by default)."), &capture_ws_handler, NULL},
    {"GET", "/ws_omi", ROUTE_WEBSOCKET, 0, ws_omi, "capture", "Device Opus audio (Wyoming-style WebSocket)",
     WS_DOC("Device audio, one Opus packet per audio-chunk (Omi: 16 kHz mono)."), &capture_ws_handler, NULL},
    {"GET", "/api/v1/clients/active", 0, 0, clients_active, "capture", "The caller's connected devices", clients_doc,
     NULL, NULL},
    {"GET", "/api/v1/recordings", 0, 0, list_recordings, "capture", "The caller's recordings, newest first", list_doc,
     NULL, NULL},
    {"GET", "/api/v1/recordings/{id}", 0, 0, get_recording, "capture", "A recording of the caller's", get_doc, NULL,
     NULL},
    {"POST", "/api/v1/recordings/{id}/close", 0, 0, close_recording, "capture",
     "Close a recording now (202 while its device streams: it closes after the next sync)", close_doc, NULL, NULL},
    {"POST", "/api/v1/recordings/{id}/reprocess", 0, 0, reprocess_recording, "capture",
     "Transcribe a closed recording again (the next transcript version; memories replaced)", reprocess_doc, NULL, NULL},
    {"GET", "/api/v1/capture/settings", 0, 0, get_settings, "capture",
     "The caller's capture settings: the silence that closes a conversation, per device", settings_doc, NULL, NULL},
    {"PUT", "/api/v1/capture/settings", ROUTE_JSON, 0, put_settings, "capture",
     "Set the silence that closes a conversation (seconds), the caller's own or one device's (null removes it)",
     settings_put_doc, NULL, NULL},
    {0},
};
