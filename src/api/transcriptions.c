/* POST /api/v1/transcriptions: speech to text of an uploaded recording (any container ffmpeg
 * reads; a form's file part or the raw body), answered at once: {engine, duration_ms, truncated,
 * text, segments:[{start_ms,end_ms,text,confidence}]}. Capped in bytes and in length; heavy, so
 * each user gets a few a minute. Nothing is stored. */
#include <stdio.h>
#include <stdlib.h>

#include "api/transcriptions.h"

#include <string.h>

#include "api/api_util.h"
#include "auth/ratelimit.h"
#include "api/schemas.h"
#include "avatar/media_ingest.h"
#include "core/buf.h"
#include "core/err.h"
#include "ingest/audio_decode.h"
#include "providers/stt.h"

int transcribe_take(struct request *req, struct context *e, int64_t *retry_ms)
{
    /* Each call holds a worker while ffmpeg and the recogniser run: its own budget per user. */
    double per_minute = (double)app_get()->cfg.transcribe_rate;
    char key[96];
    snprintf(key, sizeof key, "rl:transcribe:%s", api_caller(req)->user_id);
    return ratelimit_take(e->security, key, per_minute / 60.0, per_minute, retry_ms);
}

int transcribe_bytes(const char *body, size_t len, struct transcript *t, char *why, size_t whylen)
{
    memset(t, 0, sizeof *t);
    why[0] = 0;
    struct stt_engine *stt = stt_current();
    if (!stt) {
        snprintf(why, whylen, "no speech recognition is configured (stt-provider none)");
        return DP_ERR_UNAVAILABLE;
    }
    int16_t *pcm = NULL;
    size_t n = 0;
    int truncated = 0;
    int err = audio_decode_mem(body, len, TRANSCRIBE_MAX_MS, &pcm, &n, &truncated, why, whylen);
    if (!err && truncated) {
        free(pcm);
        snprintf(why, whylen,
                 "the recording is longer than %d minutes: upload it as media to have it transcribed in the background",
                 (int)(TRANSCRIBE_MAX_MS / 60000));
        return DP_ERR_TOO_LARGE;
    }
    if (err)
        return err;
    err = stt_transcribe(stt, pcm, n, &t->segs, &t->n, NULL, NULL, why, whylen);
    free(pcm);
    if (err == DP_ERR_UNAVAILABLE && !why[0])
        snprintf(why, whylen, "speech recognition is busy; try again");
    t->duration_ms = (int64_t)n * 1000 / AUDIO_DECODE_RATE;
    t->engine = stt->name;
    return err;
}

static int transcribe(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    int64_t retry_ms;
    if (transcribe_take(req, &e, &retry_ms))
        return api_rate_refuse(req, res, "transcribe", retry_ms);
    if (!stt_current()) {
        res_error(res, req, DP_ERR_UNAVAILABLE, "no speech recognition is configured (stt-provider none)");
        return DP_ERR_UNAVAILABLE;
    }
    const char *body;
    size_t len;
    struct buf form;
    if ((err = api_upload_bytes(req, res, TRANSCRIBE_BODY_MAX, "recording", &form, &body, &len)))
        return err;
    struct transcript t;
    char why[600] = "";
    err = transcribe_bytes(body, len, &t, why, sizeof why);
    buf_cleanup(&form);
    if (err == DP_ERR_TOO_LARGE || err == DP_ERR_UNSUPPORTED || err == DP_ERR_UNAVAILABLE) {
        res_error(res, req, err, "%s", why);
        return err;
    }
    if (err)
        return err;
    json_t *j = speech_transcript_json(t.segs, t.n, t.engine, t.duration_ms, 0);
    stt_segments_free(t.segs, t.n);
    if (!j)
        return DP_ERR_NOMEM;
    res_json(res, 200, j);
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
