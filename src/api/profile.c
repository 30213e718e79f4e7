/* Profile routes: personality training samples and the avatar's profile (personality now; the
 * voice profile arrives with the speech capability and says so). */
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "avatar/avatar.h"
#include "avatar/personality.h"
#include "avatar/personality_store.h"
#include "core/json.h"
#include "core/err.h"
#include "store/cache.h"

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
    struct context e;
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
    struct context e;
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
    char id[ID_LEN];
    json_t *profile;
    err = personality_add_sample(e.db, ref.id, text, id, &profile);
    if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "this avatar has %d samples, the most it keeps", PERSONALITY_SAMPLES_MAX);
    if (err)
        return err;
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
    "(formality).\",\"responses\":{\"200\":\"Profile\"}}";
static const char training_doc[] = J({"requestBody": "TextSample",
    "responses": {"201": "Trained"},
    "errors": [403, 409, 422]});

const struct route profile_routes[] = {
    {"GET", "/api/v1/avatars/{id}/profile", 0, 0, get_profile, "avatars",
     "Personality traits and style (with their evidence), voice profile, training progress", profile_doc, NULL,
     NULL},
    {"POST", "/api/v1/avatars/{id}/training/personality", ROUTE_JSON, 0, train_personality, "avatars",
     "Add a text sample {text}; the profile is recomputed (25 % per sample up to 100 % after four)", training_doc,
     NULL, NULL},
    {0},
};
