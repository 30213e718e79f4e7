/* Connected devices across instances: each instance keeps the state of the devices connected
 * to it in the cache (Redis when there are several instances), under a key per device that
 * expires --capture-device-ttl after its instance last refreshed it — an instance that dies takes its
 * devices with it within that time. The database lists a user's devices (capture_devices), so
 * that GET /clients/active reads their keys without scanning the cache. A device is refused on
 * one instance while another holds it. Blocking (cache, database): workers only. */
#ifndef DP_CAPTURE_DEVICES_H
#define DP_CAPTURE_DEVICES_H

#include <jansson.h>
#include <stdint.h>

struct context;
struct client_entry;

#define DEVICE_PUBLISH_MS 1000 /* progress (bytes, seq) goes out at most this often per device */

/* This instance's name in device keys (stable across its restarts: a device reconnecting to a
 * restarted instance is not refused for the key its previous life left), and how long a key
 * outlives its last refresh (--capture-device-ttl; devices_heartbeat runs every third of it). */
void devices_configure(const char *name, long ttl_ms);

/* A device connects: DP_ERR_CONFLICT when another live instance holds it; else its key is
 * written and it is listed for its user. Cache or database trouble never refuses a device. */
int devices_announce(const struct context *e, struct client_entry *ce, const char *user_id, const char *device);
/* Writes ce's state (force: now, else at most every DEVICE_PUBLISH_MS). */
void devices_publish(const struct context *e, struct client_entry *ce, int force);
/* The connection session (clients_entry_session) of a device is gone: its key goes, unless it
 * holds another connection's state by now (the device reconnected). */
void devices_forget(const struct context *e, const char *key, const char *session);
/* Refreshes the keys of every device connected to this instance (every third of the TTL). */
void devices_heartbeat(const struct context *e);
/* The user's connected devices on every instance ([ActiveClient]). */
json_t *devices_active_json(const struct context *e, const char *user_id);

#endif
