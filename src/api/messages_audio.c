/* GET /api/v1/messages/{mid}/audio: a reply heard in the avatar's voice — the span of the
 * recording its first citation points at (cut sample-exact from a PCM WAV; decoded and faded from
 * any other container), or its text spoken by speech synthesis with the avatar's voice profile —
 * as WAV or, when the Accept header asks for it, Ogg/Opus; Range supported. Reached by the signed
 * link a message's audio_url carries (given to whoever could read the message: the conversation's
 * user, or a visitor of a legacy page), or with a bearer token by the conversation's user while the
 * avatar is visible to them. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "talk/reply_voice.h"
#include "talk/talk.h"
#include "auth/url_sig.h"
#include "avatar/clip.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/blob.h"

/* Ogg/Opus when the client names it (audio/ogg, audio/opus), else WAV. */
static enum reply_format wanted_format(const struct request *req)
{
    const char *a = req->accept;
    return a && (strcasestr(a, "audio/ogg") || strcasestr(a, "audio/opus")) ? REPLY_OGG : REPLY_WAV;
}

/* A reply made by talk_reply_voice (a spoken reply, or a clip of another container or format),
 * served from its blob: the blob key is the validator. */
static int made_audio(struct request *req, struct response *res, struct context *e, const struct talk_audio *a,
                      int spoken)
{
    enum reply_format fmt = wanted_format(req);
    char key[BLOB_KEY_LEN + 1], why[600], etag[BLOB_KEY_LEN + 3];
    int err = talk_reply_voice(e, a, spoken, fmt, key, why, sizeof why);
    if (err == DP_ERR_UNSUPPORTED || err == DP_ERR_UNAVAILABLE) {
        res_error(res, req, err == DP_ERR_UNSUPPORTED ? DP_ERR_UNPROCESSABLE : err, "%s", why);
        return err == DP_ERR_UNSUPPORTED ? DP_ERR_UNPROCESSABLE : err;
    }
    if (err)
        return err;
    snprintf(etag, sizeof etag, "\"%s\"", key);
    res_header(res, "ETag", etag);
    res_header(res, "Vary", "Accept");
    res_header(res, "Accept-Ranges", "bytes");
    res_header(res, "Cache-Control", "private, max-age=3600");
    struct blob_reader *br;
    uint64_t size;
    if ((err = api_blob_unless_cached(req, res, e->blobs, key, &br, &size)) || !br)
        return err;
    int sent = api_send_range(req, res, br, size);
    if (sent < 0)
        return DP_ERR_NOMEM;
    if (!sent)
        snprintf(res->content_type, sizeof res->content_type, fmt == REPLY_OGG ? "audio/ogg" : "audio/wav");
    return DP_OK;
}

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
                  "this message has no audio: it quotes no recording, and it is not a reply to be spoken "
                  "(or no speech synthesis is configured)");
        return DP_ERR_NOT_FOUND;
    }
    if (has == 2 || !clip_is_wav(a.mime) || wanted_format(req) == REPLY_OGG) {
        err = made_audio(req, res, &e, &a, has == 2);
        talk_audio_cleanup(&a);
        return err;
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
    if (err == DP_ERR_UNSUPPORTED) /* float, µ-law … WAV: decoded like any other container */
        return made_audio(req, res, &e, &a, 0);
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
    "query" : {
        "exp" : {"type" : "integer", "description" : "the signed link's expiry (unix seconds)"},
        "sig" : {"type" : "string", "description" : "the signed link's signature"}
    },
    "responses" : {
        "200" : {
            "description" : "the reply as audio",
            "content" : {
                "audio/wav" : {"schema" : {"type" : "string", "contentMediaType" : "audio/wav"}},
                "audio/ogg" : {"schema" : {"type" : "string", "contentMediaType" : "audio/ogg"}}
            }
        },
        "206" : {
            "description" : "the range asked for (Range)",
            "content" : {"audio/wav" : {"schema" : {"type" : "string"}}, "audio/ogg" : {"schema" : {"type" : "string"}}}
        },
        "304" : {"description" : "not modified (If-None-Match)"}
    },
    "errors" : [ 401, 403, 416, 422, 503 ]
});

const struct route messages_audio_routes[] = {
    {"GET", "/api/v1/messages/{mid}/audio", ROUTE_PUBLIC, 0, message_audio, "conversations",
     "A reply as audio (audio/wav, or audio/ogg (Opus) when Accept names it; ETag, Range): the span of the "
     "avatar's recording its first citation quotes (any container; short fades unless cut from a PCM WAV), "
     "otherwise the reply spoken by speech synthesis with the pitch and rate of the avatar's voice profile; by "
     "the signed link of the message's audio_url (?exp=&sig=, 1–2 hours) or with a bearer token; 404 for the "
     "user's own messages",
     audio_doc, NULL, NULL},
    {0},
};
