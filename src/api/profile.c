/* Profile routes: personality and voice training samples, and the avatar's profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "avatar/avatar.h"
#include "avatar/personality.h"
#include "avatar/personality_store.h"
#include "avatar/voice_profile.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/err.h"
#include "ingest/audio_decode.h"
#include "store/cache.h"

#define VOICE_SAMPLE_BODY_MAX ((size_t)10 << 20)

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
    json_t *personality, *voice;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = personality_profile(e.db, ref.id, &personality)))
        return err;
    if ((err = voice_profile_json(e.db, ref.id, &voice))) {
        json_decref(personality);
        return err;
    }
    return profile_json(res, 200,
                        json_pack("{s:s,s:o,s:o}", "avatar_id", ref.id, "personality", personality, "voice", voice));
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

/* A recording of the avatar's voice (a form's file part or the raw body, any container): measured,
 * and only the measurements are kept. */
static int train_voice(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)))
        return err;
    const char *body;
    size_t len;
    struct buf form;
    if ((err = api_upload_bytes(req, res, VOICE_SAMPLE_BODY_MAX, "voice sample", &form, &body, &len)))
        return err;
    int16_t *pcm;
    size_t n;
    int truncated;
    char why[600];
    err = audio_decode_mem(body, len, VOICE_SAMPLE_MAX_MS, &pcm, &n, &truncated, why, sizeof why);
    buf_cleanup(&form);
    if (err == DP_ERR_UNSUPPORTED)
        res_error(res, req, err, "%s", why);
    if (err)
        return err;
    struct voice_features f;
    features_measure(pcm, n, &f);
    free(pcm);
    if (truncated) {
        res_error(res, req, DP_ERR_TOO_LARGE,
                  "a voice sample is at most %d s (upload longer recordings as media "
                  "marked own_words)",
                  VOICE_SAMPLE_MAX_MS / 1000);
        return DP_ERR_TOO_LARGE;
    }
    if (f.speech_s * 1000 < VOICE_SAMPLE_MIN_MS || f.voiced_s <= 0) {
        res_error(res, req, DP_ERR_UNPROCESSABLE, "the sample holds %.1f s of speech; at least %d s are needed",
                  f.speech_s, VOICE_SAMPLE_MIN_MS / 1000);
        return DP_ERR_UNPROCESSABLE;
    }
    char id[ID_LEN];
    json_t *voice;
    if ((err = voice_profile_add(e.db, ref.id, NULL, &f, id)) || (err = voice_profile_json(e.db, ref.id, &voice)))
        return err;
    avatar_cache_forget(e.cache, ref.id);
    json_t *sample = voice_features_json(&f);
    json_object_set_new(sample, "id", json_string(id));
    return profile_json(res, 201, json_pack("{s:o,s:o}", "sample", sample, "voice", voice));
}

static const char profile_doc[] =
    "{\"description\":\"The personality profile is computed from the avatar's own words: the samples posted to "
    "/training/personality, the text of media marked own_words (on upload, or PATCH /media/{id}), and the avatar's "
    "own lines in chat and dialogue transcripts (speaker = its name or a word of it). Each sample, marked media "
    "item and transcript counts once toward progress (100 % at four); personality.sources says how many of each. "
    "Scores are rounded to 3 decimals. What it drives: the recall brain greets with the person's own most used "
    "opening word when the avatar has no greeting, and says it does not remember in the person's register "
    "(formality).\",\"responses\":{\"200\":\"Profile\"}}";
static const char training_doc[] =
    J({"requestBody" : "TextSample", "responses" : {"201" : "Trained"}, "errors" : [ 403, 409, 422 ]});

static const char voice_doc[] =
    "{\"description\":\"A recording of the avatar's voice (about 10 s of speech; 3 to 60 s; any container ffmpeg "
    "decodes, as multipart/form-data or the raw body, up to 10 MiB). Its pitch (mean, spread), level, speaking rate "
    "and MFCC means are measured and kept — the audio is not. The voice profile is their mean weighted by seconds "
    "of speech, with the recordings marked own_words; ready after three samples. Replies are synthesized with its "
    "pitch and rate.\",\"requestBody\":{\"content\":{\"multipart/form-data\":{\"schema\":{\"type\":\"object\","
    "\"properties\":{\"file\":{\"type\":\"string\",\"format\":\"binary\"}}}},\"application/octet-stream\":"
    "{\"schema\":{\"type\":\"string\",\"format\":\"binary\"}}}},\"responses\":{\"201\":\"VoiceTrained\"},"
    "\"errors\":[403,413,415,422]}";

const struct route profile_routes[] = {
    {"POST", "/api/v1/avatars/{id}/training/voice", 0, VOICE_SAMPLE_BODY_MAX + 65536, train_voice, "avatars",
     "Add a voice sample (a recording); the voice profile is updated (ready after three)", voice_doc, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/profile", 0, 0, get_profile, "avatars",
     "Personality traits and style (with their evidence), voice profile, training progress", profile_doc, NULL, NULL},
    {"POST", "/api/v1/avatars/{id}/training/personality", ROUTE_JSON, 0, train_personality, "avatars",
     "Add a text sample {text}; the profile is recomputed (25 % per sample up to 100 % after four)", training_doc, NULL,
     NULL},
    {0},
};
