/* Profile routes: personality training samples and the avatar's profile (personality now; the
 * voice profile arrives with the speech capability and says so). */
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "avatar/avatar.h"
#include "avatar/personality.h"
#include "avatar/personality_store.h"
#include "core/json.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/db.h"

#define PERSONALITY_SAMPLES_MAX 200 /* samples kept per avatar */

static json_t *voice_placeholder(void)
{
    return json_pack("{s:s,s:i,s:s}", "status", "not_available", "progress", 0, "detail",
                     "voice training arrives with the speech capability; no voice profile yet");
}

/* Answers with a profile document: its numbers are rounded for display, and print so. */
static int profile_json(struct response *res, int status, json_t *doc)
{
    size_t len;
    char *text = doc ? json_dump_display(doc, &len) : NULL;
    json_decref(doc);
    if (!text)
        return DP_ERR_NOMEM;
    res_body(res, status, "application/json; charset=utf-8", text, len);
    return DP_OK;
}

static int get_profile(struct request *req, struct response *res)
{
    struct auth_env e;
    struct avatar_ref ref;
    json_t *personality;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = personality_profile(e.db, ref.id, &personality)))
        return err;
    return profile_json(res, 200,
                        json_pack("{s:s,s:o,s:o}", "avatar_id", ref.id, "personality", personality, "voice",
                                  voice_placeholder()));
}

static int train_personality(struct request *req, struct response *res)
{
    struct auth_env e;
    struct avatar_ref ref;
    const char *text;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = api_body_str(req, res, "text", PERSONALITY_SAMPLE_MAX, &text)))
        return err;
    if (!text || strspn(text, " \t\r\n") == strlen(text)) {
        res_error(res, req, DP_ERR_INVALID, "text is required (a sample of how the person writes or speaks)");
        return DP_ERR_INVALID;
    }
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    if ((err = db_begin(e.db)))
        return err;
    struct db_rows *r = NULL;
    struct db_val a[] = {DB_TEXT(ref.id)};
    struct db_val ins[] = {DB_TEXT(id), DB_TEXT(ref.id), DB_TEXT(text), DB_TEXT(now)};
    if (!(err = db_query(e.db, "SELECT COUNT(*) FROM personality_samples WHERE avatar_id = ?", a, 1, &r)) &&
        db_rows_int(r, 0, 0) >= PERSONALITY_SAMPLES_MAX) {
        db_rows_free(r);
        db_rollback(e.db);
        res_error(res, req, DP_ERR_CONFLICT, "this avatar has %d samples, the most it keeps", PERSONALITY_SAMPLES_MAX);
        return DP_ERR_CONFLICT;
    }
    db_rows_free(r);
    r = NULL;
    if (!err)
        err = db_query(e.db, "INSERT INTO personality_samples (id, avatar_id, text, created_at) VALUES (?, ?, ?, ?)",
                       ins, 4, NULL);
    json_t *profile = NULL;
    if (!err)
        err = personality_profile(e.db, ref.id, &profile);
    char *ps = profile ? json_dump_display(profile, NULL) : NULL;
    struct db_val up[] = {DB_TEXT(ps), DB_TEXT(now), DB_TEXT(ref.id)};
    struct db_val upins[] = {DB_TEXT(ref.id), DB_TEXT(ps), DB_TEXT(now)};
    if (!err) {
        err = db_query(e.db, "UPDATE avatar_profiles SET personality = ?, updated_at = ? WHERE avatar_id = ?", up, 3,
                       &r);
        int updated = !err && r->changes == 1;
        db_rows_free(r);
        if (!err && !updated)
            err = db_query(e.db, "INSERT INTO avatar_profiles (avatar_id, personality, updated_at) VALUES (?, ?, ?)",
                           upins, 3, NULL);
    }
    free(ps);
    if (!err)
        err = db_commit(e.db);
    if (err) {
        db_rollback(e.db);
        json_decref(profile);
        return err;
    }
    avatar_cache_forget(e.cache, ref.id);
    return profile_json(res, 201, json_pack("{s:s,s:o}", "sample_id", id, "personality", profile));
}

static const char profile_doc[] =
    "{\"description\":\"The personality profile is computed from the avatar's own words: the samples posted to "
    "/training/personality, the text of media marked own_words (on upload, or PATCH /media/{id}), and the avatar's "
    "own lines in chat and dialogue transcripts (speaker = its name or a word of it). Each sample, marked media "
    "item and transcript counts once toward progress (100 % at four); personality.sources says how many of each. "
    "Scores are rounded to 3 decimals. What it drives: the recall brain greets with the person's own most used "
    "opening word when the avatar has no greeting, and says it does not remember in the person's register "
    "(formality).\"}";

const struct route profile_routes[] = {
    {"GET", "/api/v1/avatars/{id}/profile", 0, 0, get_profile, "avatars",
     "Personality traits and style (with their evidence), voice profile, training progress", profile_doc, NULL,
     NULL},
    {"POST", "/api/v1/avatars/{id}/training/personality", ROUTE_JSON, 0, train_personality, "avatars",
     "Add a text sample {text}; the profile is recomputed (25 % per sample up to 100 % after four)", profile_doc,
     NULL, NULL},
    {0},
};
