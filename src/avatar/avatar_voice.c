/* Avatars' remote synthesizer voices (see avatar_voice.h). */
#include "avatar/avatar_voice.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

const char *avatar_tts_voice_problem(json_t *v)
{
    static const char why[] = "tts_voice must be null or 1 to 128 letters, digits and _ . : - (the speech "
                              "provider's voice id or name)";
    if (!v || json_is_null(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!n || n > AVATAR_TTS_VOICE_MAX ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != n)
        return why;
    return NULL;
}

int avatar_tts_voice_set(struct db *db, const char *avatar_id, const char *voice)
{
    if (!voice) {
        struct db_val p[] = {DB_TEXT(avatar_id)};
        return db_query(db, "DELETE FROM avatar_voices WHERE avatar_id = ?", p, 1, NULL);
    }
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(voice), DB_TEXT(now)};
    return db_query(
        db,
        "INSERT INTO avatar_voices (avatar_id, tts_voice, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (avatar_id) DO UPDATE SET tts_voice = excluded.tts_voice, updated_at = excluded.updated_at",
        p, 3, NULL);
}

int avatar_tts_voice_get(struct db *db, const char *avatar_id, char out[AVATAR_TTS_VOICE_MAX + 1])
{
    out[0] = 0;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT tts_voice FROM avatar_voices WHERE avatar_id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows == 1 && db_rows_text(r, 0, 0))
        snprintf(out, AVATAR_TTS_VOICE_MAX + 1, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return DP_OK;
}
