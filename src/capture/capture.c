/* Device capture's configuration, start-up recovery and the requests that reach recordings from
 * outside their device's session. */
#include "capture/capture.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/clients.h"
#include "capture/devices.h"
#include "capture/group_sync.h"
#include "capture/recording.h"
#include "core/context.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"

static struct capture_config cfg;

int capture_configure(const struct capture_config *c)
{
    cfg = *c;
    devices_configure(cfg.instance, cfg.device_ttl_s * 1000);
    if (mkdir(cfg.dir, 0700) && errno != EEXIST) {
        DP_LOG(LOG_ERROR, "[capture] cannot create %s", cfg.dir);
        return DP_ERR_IO;
    }
    return group_sync_start(cfg.dir);
}

const struct capture_config *capture_cfg(void)
{
    return &cfg;
}

int capture_recover(const struct context *e, int *recovered, int *closed)
{
    /* Recordings idle past the grace are closed (their audio, up to the last sync, goes to the
     * blob store); the rest stay open for their device and are trimmed when it resumes. */
    int err = recording_sweep(e, cfg.dir, NULL, cfg.idle_close_s, closed);
    if (err)
        return err;
    struct db_rows *r;
    if ((err = db_query(e->db, "SELECT COUNT(*) FROM recordings WHERE status = 'open'", NULL, 0, &r)))
        return err;
    *recovered = (int)db_rows_int(r, 0, 0);
    db_rows_free(r);
    if (*recovered || *closed)
        DP_LOG(LOG_INFO, "[capture] start: %d recording(s) open for their devices, %d closed as idle", *recovered,
               *closed);
    return DP_OK;
}

json_t *capture_clients_json(const struct context *e, const char *user_id)
{
    return devices_active_json(e, user_id);
}

void capture_heartbeat(const struct context *e)
{
    devices_heartbeat(e);
}

int capture_close_request(const struct context *e, const char *user_id, const char *id, int *deferred)
{
    json_t *j;
    int err = recording_get_json(e->db, cfg.dir, user_id, id, &j);
    if (err)
        return err;
    int open = !strcmp(json_string_value(json_object_get(j, "status")), "open");
    json_decref(j);
    if (!open)
        return DP_ERR_CONFLICT;
    *deferred = 0;
    int r = clients_begin_close(id, 1);
    if (r > 0) {
        *deferred = 1; /* its device's session closes it after its next sync */
        return DP_OK;
    }
    if (r < 0)
        return DP_OK; /* someone is closing it right now */
    err = recording_close(e, cfg.dir, id, "request");
    clients_end_close(id);
    return err == DP_ERR_NOT_FOUND ? DP_ERR_CONFLICT : err;
}
