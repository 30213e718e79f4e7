/* GET /api/v1/messages/{mid}/audio: a reply heard in the avatar's own recorded voice — the span of
 * the recording its first citation points at (cut from PCM WAV). Spoken (synthesised) replies
 * arrive with speech synthesis. Reached by the signed link a message's audio_url carries (given to
 * whoever could read the message: the conversation's user, or a visitor of a legacy page), or with
 * a bearer token by the conversation's user while the avatar is visible to them. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "talk/talk.h"
#include "auth/url_sig.h"
#include "avatar/clip.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/blob.h"

static int message_audio(struct request *req, struct response *res)
{
    struct context e;
    struct talk_audio a;
    int has;
    const char *mid = req_param(req, "mid"), *sig = req_query(req, "sig");
    int err = api_env(req, &e);
    if (err)
        return err;
    if (sig)
        err = url_sig_check("message-audio", mid, req_query(req, "exp"), sig, time_now_ms() / 1000);
    else
        err = authn_hook(req, res); /* without a signed link: the conversation's user, by token */
    if (err || (err = talk_reply_audio(e.db, sig ? NULL : api_caller(req), mid, &a, &has)))
        return err;
    if (!has) {
        res_error(res, req, DP_ERR_NOT_FOUND,
                  "this reply has no audio: it quotes no recording (spoken replies arrive with speech synthesis)");
        return DP_ERR_NOT_FOUND;
    }
    if (!clip_is_wav(a.mime)) {
        res_error(res, req, DP_ERR_NOT_IMPLEMENTED,
                  "clips are cut from WAV recordings for now; cutting %s arrives with the speech capability", a.mime);
        return DP_ERR_NOT_IMPLEMENTED;
    }
    /* The bytes follow from the recording and the span: that is the validator. */
    char etag[BLOB_KEY_LEN + 64];
    snprintf(etag, sizeof etag, "\"%s.%lld-%lld\"", a.key, (long long)a.start_ms, (long long)a.end_ms);
    if (req->if_none_match && strstr(req->if_none_match, etag)) {
        res_header(res, "ETag", etag);
        res_header(res, "Cache-Control", "private, max-age=3600");
        res_body(res, 304, "", NULL, 0);
        res->content_type[0] = 0;
        return DP_OK;
    }
    int fd;
    uint64_t size;
    err = clip_wav_open(e.blobs, a.key, a.start_ms, a.end_ms, &fd, &size);
    if (err == DP_ERR_UNSUPPORTED) {
        res_error(res, req, DP_ERR_NOT_IMPLEMENTED,
                  "clips are cut from integer PCM WAV for now; other WAV encodings arrive with the speech capability");
        return DP_ERR_NOT_IMPLEMENTED;
    }
    if (err == DP_ERR_UNPROCESSABLE) {
        res_error(res, req, err, "the recording this reply quotes is not a readable WAV file");
        return err;
    }
    if (err)
        return err == DP_ERR_NOT_FOUND ? DP_ERR_INTERNAL : err; /* a media row without its blob */
    /* No Range: clips are short, and media.c's range answer would need a shared helper first. */
    res->status = 200;
    res_header(res, "ETag", etag);
    res_header(res, "Cache-Control", "private, max-age=3600");
    res->fd = fd;
    res->fd_off = 0;
    res->fd_len = size;
    snprintf(res->content_type, sizeof res->content_type, "audio/wav");
    return DP_OK;
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char audio_doc[] = J({
    "query": {"exp": {"type": "integer", "description": "the signed link's expiry (unix seconds)"},
              "sig": {"type": "string", "description": "the signed link's signature"}},
    "responses": {
        "200": {"description": "the reply as audio",
                "content": {"audio/wav": {"schema": {"type": "string", "contentMediaType": "audio/wav"}}}},
        "304": {"description": "not modified (If-None-Match)"}},
    "errors": [401, 403, 422, 501]});

const struct route messages_audio_routes[] = {
    {"GET", "/api/v1/messages/{mid}/audio", ROUTE_PUBLIC, 0, message_audio, "conversations",
     "A reply as audio (audio/wav, ETag): the span of the avatar's recording its first citation quotes, "
     "by the signed link of the message's audio_url (?exp=&sig=, 1–2 hours) or with a bearer token; 404 for "
     "replies without audio (spoken replies arrive with speech synthesis), 501 for recordings other than PCM WAV",
     audio_doc, NULL, NULL},
    {0},
};
