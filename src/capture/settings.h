/* Per-user and per-device capture settings: how long a silence after speech closes a
 * conversation (2 s – 4 h). A device's own value wins over the user's, which wins over the
 * server's --capture-silence-close. Blocking (database). */
#ifndef DP_CAPTURE_SETTINGS_H
#define DP_CAPTURE_SETTINGS_H

#include <jansson.h>

struct db;

#define CAPTURE_SILENCE_MIN 2
#define CAPTURE_SILENCE_MAX 14400

/* The silence close of user_id's device (dflt when neither is set). */
int capture_silence_for(struct db *db, const char *user_id, const char *device_name, long dflt, long *out);

/* {silence_close_s (the user's, else dflt), server_default, devices:[{device_name, silence_close_s}]} */
int capture_settings_json(struct db *db, const char *user_id, long dflt, json_t **out);

/* Sets (seconds) or removes (seconds 0) the value of device_name ("" or NULL: the user's own).
 * DP_ERR_INVALID outside 2 – 14400. */
int capture_settings_put(struct db *db, const char *user_id, const char *device_name, long seconds);

#endif
