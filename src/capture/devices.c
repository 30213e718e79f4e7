/* Device keys in the cache: capture:dev:<user id>:<device name> → the device's state plus
 * "instance" (who holds it). */
#include "capture/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/clients.h"
#include "core/context.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/db.h"

#define DEVICES_LISTED 200 /* a user's most recently connected devices looked up */

static char instance[64] = "local";
static int ttl_ms = 30000;

void devices_configure(const char *name, long ttl)
{
    snprintf(instance, sizeof instance, "%s", name);
    ttl_ms = (int)ttl;
}

/* The cache for device keys: the space cached copies cannot evict. */
static struct cache *cache_of(const struct context *e)
{
    return e->security ? e->security : e->cache;
}

static int put_state(const struct context *e, const char *key, const char *session, json_t *state)
{
    json_object_set_new(state, "instance", json_string(instance));
    json_object_set_new(state, "session", json_string(session));
    size_t n;
    char *p = json_dump_compact(state, &n);
    int err = p ? cache_set(cache_of(e), key, p, n, ttl_ms) : DP_ERR_NOMEM;
    free(p);
    return err;
}

/* The instance and connection whose state key holds ("" when none or unreadable). */
static void holder_of(const struct context *e, const char *key, char holder[64], char session[ID_LEN])
{
    char *v = NULL;
    size_t n;
    *holder = *session = 0;
    if (cache_get(cache_of(e), key, &v, &n))
        return;
    json_t *j = json_loadb(v, n, 0, NULL);
    const char *i = json_string_value(json_object_get(j, "instance")),
               *s = json_string_value(json_object_get(j, "session"));
    snprintf(holder, 64, "%s", i ? i : "");
    snprintf(session, ID_LEN, "%s", s ? s : "");
    json_decref(j);
    free(v);
}

int devices_announce(const struct context *e, struct client_entry *ce, const char *user_id, const char *device)
{
    char key[200], holder[64], sid[ID_LEN], now[RFC3339_LEN];
    clients_entry_key(ce, key, sizeof key);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(device), DB_TEXT(now)};
    if (e->db &&
        db_query(e->db,
                 "INSERT INTO capture_devices (user_id, device_name, last_connected_at) VALUES (?, ?, ?) ON "
                 "CONFLICT (user_id, device_name) DO UPDATE SET last_connected_at = excluded.last_connected_at",
                 p, 3, NULL))
        DP_LOG(LOG_WARN, "[capture] device %s not listed for its user", device);
    if (!cache_of(e))
        return DP_OK;
    /* Read, then write: two instances taking the same device in the same instant both win (the
     * device itself connects once; a client reconnecting elsewhere finds its old key). */
    holder_of(e, key, holder, sid);
    if (*holder && strcmp(holder, instance))
        return DP_ERR_CONFLICT;
    json_t *state = clients_entry_json(ce);
    int err = state ? put_state(e, key, clients_entry_session(ce), state) : DP_ERR_NOMEM;
    json_decref(state);
    if (err)
        DP_LOG(LOG_WARN, "[capture] device state not shared (%s): other instances will not list it", dp_strerror(err));
    clients_publish_due(ce, 0);
    return DP_OK;
}

void devices_publish(const struct context *e, struct client_entry *ce, int force)
{
    if (!cache_of(e) || (!clients_publish_due(ce, force ? 0 : DEVICE_PUBLISH_MS)))
        return;
    char key[200];
    clients_entry_key(ce, key, sizeof key);
    json_t *state = clients_entry_json(ce);
    if (state)
        put_state(e, key, clients_entry_session(ce), state);
    json_decref(state);
}

void devices_forget(const struct context *e, const char *key, const char *session)
{
    char holder[64], sid[ID_LEN];
    if (!cache_of(e))
        return;
    holder_of(e, key, holder, sid);
    if (!strcmp(holder, instance) && !strcmp(sid, session))
        cache_del(cache_of(e), key);
}

void devices_heartbeat(const struct context *e)
{
    if (!cache_of(e))
        return;
    json_t *all = clients_snapshot();
    size_t i;
    json_t *it;
    json_array_foreach (all, i, it) {
        put_state(e, json_string_value(json_object_get(it, "key")), json_string_value(json_object_get(it, "session")),
                  json_object_get(it, "state"));
    }
    json_decref(all);
}

json_t *devices_active_json(const struct context *e, const char *user_id)
{
    /* This instance's own devices from memory (always right here), the others' from the cache. */
    json_t *items = clients_json(user_id);
    struct db_val p[] = {DB_TEXT(user_id), DB_INT(DEVICES_LISTED)};
    struct db_rows *r;
    if (!cache_of(e) || !e->db ||
        db_query(e->db,
                 "SELECT device_name FROM capture_devices WHERE user_id = ? ORDER BY last_connected_at DESC LIMIT ?", p,
                 2, &r))
        return items;
    for (int at = 0; at < r->nrows; at += CACHE_GET_MANY_MAX) {
        int n = r->nrows - at < CACHE_GET_MANY_MAX ? r->nrows - at : CACHE_GET_MANY_MAX;
        char keys[CACHE_GET_MANY_MAX][200];
        const char *kp[CACHE_GET_MANY_MAX];
        char *vals[CACHE_GET_MANY_MAX];
        size_t lens[CACHE_GET_MANY_MAX];
        for (int k = 0; k < n; k++) {
            snprintf(keys[k], sizeof keys[k], "capture:dev:%s:%s", user_id, db_rows_text(r, at + k, 0));
            kp[k] = keys[k];
        }
        if (cache_get_many(cache_of(e), kp, n, vals, lens))
            break;
        for (int k = 0; k < n; k++) {
            json_t *j = vals[k] ? json_loadb(vals[k], lens[k], 0, NULL) : NULL;
            const char *who = j ? json_string_value(json_object_get(j, "instance")) : NULL;
            if (who && strcmp(who, instance)) {
                json_object_del(j, "instance");
                json_object_del(j, "session");
                json_array_append(items, j);
            }
            json_decref(j);
            free(vals[k]);
        }
    }
    db_rows_free(r);
    return items;
}
