/* POST /api/v1/transcriptions: speech to text of an uploaded recording (any container ffmpeg
 * reads; a form's file part or the raw body), answered at once: {engine, duration_ms, truncated,
 * text, segments:[{start_ms,end_ms,text,confidence}]}. Capped in bytes and in length; heavy, so
 * each user gets a few a minute. Nothing is stored. */
#include <stdio.h>
#include <stdlib.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "avatar/media_ingest.h"
#include "core/buf.h"
#include "core/err.h"
#include "ingest/audio_decode.h"
#include "providers/stt.h"

#define TRANSCRIBE_BODY_MAX ((size_t)25 << 20)  /* bytes of an upload (OpenAI's cap too) */
#define TRANSCRIBE_MAX_MS ((int64_t)10 * 60000) /* longer recordings belong in media (a background job) */

static int transcribe(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    /* Each call holds a worker while ffmpeg and the recogniser run: its own budget per user. */
    double per_minute = (double)app_get()->cfg.transcribe_rate;
    char key[96];
    snprintf(key, sizeof key, "rl:transcribe:%s", api_caller(req)->user_id);
    if ((err = api_rate_limit(req, res, e.security, "transcribe", key, per_minute / 60.0, per_minute)))
        return err;
    struct stt_engine *stt = stt_current();
    if (!stt) {
        res_error(res, req, DP_ERR_UNAVAILABLE, "no speech recognition is configured (stt-provider none)");
        return DP_ERR_UNAVAILABLE;
    }
    const char *body;
    size_t len;
    struct buf form;
    if ((err = api_upload_bytes(req, res, TRANSCRIBE_BODY_MAX, "recording", &form, &body, &len)))
        return err;
    int16_t *pcm = NULL;
    size_t n = 0;
    int truncated = 0;
    char why[600] = "";
    err = audio_decode_mem(body, len, TRANSCRIBE_MAX_MS, &pcm, &n, &truncated, why, sizeof why);
    buf_cleanup(&form);
    if (!err && truncated) {
        free(pcm);
        res_error(
            res, req, DP_ERR_TOO_LARGE,
            "the recording is longer than %d minutes: upload it as media to have it transcribed in the background",
            (int)(TRANSCRIBE_MAX_MS / 60000));
        return DP_ERR_TOO_LARGE;
    }
    if (err == DP_ERR_UNSUPPORTED) {
        res_error(res, req, err, "%s", why);
        return err;
    }
    if (err)
        return err;
    struct stt_segment *segs = NULL;
    int ns = 0;
    err = stt_transcribe(stt, pcm, n, &segs, &ns, NULL, NULL, why, sizeof why);
    free(pcm);
    if (err == DP_ERR_UNAVAILABLE) {
        res_error(res, req, err, "%s", why[0] ? why : "speech recognition is busy; try again");
        return err;
    }
    if (err)
        return err;
    json_t *t = speech_transcript_json(segs, ns, stt->name, (int64_t)n * 1000 / AUDIO_DECODE_RATE, 0);
    stt_segments_free(segs, ns);
    if (!t)
        return DP_ERR_NOMEM;
    res_json(res, 200, t);
    return DP_OK;
}

static const char transcribe_doc[] =
    "{\"description\":\"The recording as multipart/form-data (the first part with a file name, as `curl -F "
    "file=@talk.mp3` sends it) or as the raw body. Any audio or video container ffmpeg decodes (WAV, MP3, M4A, "
    "Ogg/Opus, WebM, MP4, FLAC …); up to 25 MiB and 10 minutes (longer: upload it as media). --transcribe-rate per minute per "
    "user (12).\",\"requestBody\":{\"content\":{\"multipart/form-data\":{\"schema\":{\"type\":\"object\",\"properties\":"
    "{\"file\":{\"type\":\"string\",\"format\":\"binary\"}}}},\"application/octet-stream\":{\"schema\":{\"type\":"
    "\"string\",\"format\":\"binary\"}}}},\"responses\":{\"200\":\"Transcript\"},\"errors\":[413,415,429,503]}";

const struct route transcriptions_routes[] = {
    {"POST", "/api/v1/transcriptions", 0, TRANSCRIBE_BODY_MAX + 65536, transcribe, "media",
     "Transcribe an audio or video file: {text, segments:[{start_ms,end_ms,text,confidence}]}", transcribe_doc, NULL,
     NULL},
    {0},
};
