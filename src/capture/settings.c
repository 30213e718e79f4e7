/* Capture settings rows (capture_settings: device_name '' is the user's default). */
#include "capture/settings.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

int capture_silence_for(struct db *db, const char *user_id, const char *device_name, long dflt, long *out)
{
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(device_name)};
    struct db_rows *r;
    /* The device's row sorts after the user's (''), so the last row is the one that wins. */
    int err = db_query(db,
                       "SELECT silence_close_s FROM capture_settings WHERE user_id = ? AND device_name IN ('', ?) "
                       "ORDER BY device_name",
                       p, 2, &r);
    if (err)
        return err;
    *out = r->nrows ? (long)db_rows_int(r, r->nrows - 1, 0) : dflt;
    db_rows_free(r);
    return DP_OK;
}

int capture_settings_json(struct db *db, const char *user_id, long dflt, json_t **out)
{
    struct db_val p[] = {DB_TEXT(user_id)};
    struct db_rows *r;
    int err = db_query(db,
                       "SELECT device_name, silence_close_s FROM capture_settings WHERE user_id = ? ORDER BY "
                       "device_name LIMIT 1000",
                       p, 1, &r);
    if (err)
        return err;
    long mine = dflt;
    json_t *devices = json_array();
    for (int i = 0; i < r->nrows; i++) {
        const char *d = db_rows_text(r, i, 0);
        long s = (long)db_rows_int(r, i, 1);
        if (!*d)
            mine = s;
        else
            json_array_append_new(devices, json_pack("{s:s,s:I}", "device_name", d, "silence_close_s", (json_int_t)s));
    }
    db_rows_free(r);
    *out = json_pack("{s:I,s:I,s:o}", "silence_close_s", (json_int_t)mine, "server_default", (json_int_t)dflt,
                     "devices", devices);
    return DP_OK;
}

int capture_settings_put(struct db *db, const char *user_id, const char *device_name, long seconds)
{
    const char *d = device_name ? device_name : "";
    if (seconds == 0) {
        struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(d)};
        return db_query(db, "DELETE FROM capture_settings WHERE user_id = ? AND device_name = ?", p, 2, NULL);
    }
    if (seconds < CAPTURE_SILENCE_MIN || seconds > CAPTURE_SILENCE_MAX)
        return DP_ERR_INVALID;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(d), DB_INT(seconds), DB_TEXT(now)};
    return db_query(db,
                    "INSERT INTO capture_settings (user_id, device_name, silence_close_s, updated_at) VALUES (?, ?, ?, "
                    "?) ON CONFLICT (user_id, device_name) DO UPDATE SET silence_close_s = excluded.silence_close_s, "
                    "updated_at = excluded.updated_at",
                    p, 4, NULL);
}
