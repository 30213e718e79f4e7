/* Device capture: wearables and phones stream audio over WebSocket (Wyoming framing); it is
 * synced to disk before it is acknowledged, so nothing acknowledged is ever lost. */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <jansson.h>
#include <stddef.h>

struct context;
struct ws_handler;
struct capture_session;

struct capture_config {
    const char *dir;      /* where open recordings live: <data-dir>/capture */
    const char *instance; /* this instance's name in the shared device state (stable across restarts) */
    long sync_ms;         /* audio is synced and acknowledged in groups of this many ms */
    long silence_close_s; /* a silence this long after speech closes a conversation (per user/device) */
    long idle_close_s;    /* an open recording left this long is closed (not resumed) */
    long device_ttl_s;    /* a device's shared state outlives its instance's last refresh this long */
    long max_seconds;     /* a recording this long is closed; the stream goes on in a new one */
    size_t payload_max;   /* bytes of one chunk's payload */
    size_t pending_max;   /* unsynced bytes one device may have queued */
    /* The calling worker's engines (database, blobs) from the state ws_submit hands its work. */
    int (*env)(void *worker_state, struct context *e);
};

/* Keeps cfg (its strings must outlive the process's sessions) and creates the directory.
 * DP_ERR_IO. */
int capture_configure(const struct capture_config *cfg);

/* Start-up recovery (worker or CLI thread, before sessions): every open recording of this data
 * directory is cut back to its last sync (a torn tail trimmed) and stays open for its device to
 * resume; those idle past idle_close_s are closed; stray files of closed ones removed. */
int capture_recover(const struct context *e, int *recovered, int *closed);

/* The handshake of /ws_pcm (opus 0) and /ws_omi (opus 1), on a worker: a session for the user's
 * device. DP_ERR_INVALID (device name: 1–64 of A-Z a-z 0-9 . _ -), DP_ERR_CONFLICT (that device
 * is streaming already). Freed by capture_session_free when the upgrade does not happen. */
int capture_session_new(const struct context *e, const char *user_id, const char *device_name, int opus,
                        struct capture_session **out);
void capture_session_free(void *session);
/* 1 when d is a device name: 1–64 of A-Z a-z 0-9 . _ - */
int capture_device_name_ok(const char *d);
/* The WebSocket callbacks of both routes (the session is the connection's ws_user). */
extern const struct ws_handler capture_ws_handler;

/* The user's connected devices on every instance: [{client_id, device_name, codec, connected_at,
 * recording_id, bytes, seq}]. Worker (cache, database). */
json_t *capture_clients_json(const struct context *e, const char *user_id);
/* Refreshes the shared state of the devices connected here (every third of device_ttl_s). Worker. */
void capture_heartbeat(const struct context *e);

/* POST /recordings/{id}/close: closes the user's open recording now; when a device is writing it,
 * the device's session closes it after its next sync (*deferred 1). DP_ERR_NOT_FOUND (not the
 * user's), DP_ERR_CONFLICT (already closed). */
int capture_close_request(const struct context *e, const char *user_id, const char *id, int *deferred);

const struct capture_config *capture_cfg(void);

#endif
