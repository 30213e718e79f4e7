/* GET /api/v1/messages/{mid}/audio: a reply heard in the avatar's own recorded voice — the span of
 * the recording its first citation points at (cut from PCM WAV). Spoken (synthesised) replies
 * arrive with speech synthesis. Reached by the signed link a message's audio_url carries (given to
 * whoever could read the message: the conversation's user, or a visitor of a legacy page), or with
 * a bearer token by the conversation's user while the avatar is visible to them. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api_util.h"
#include "auth/url_sig.h"
#include "avatar/avatar.h"
#include "avatar/clip.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/blob.h"
#include "store/db.h"

/* What a reply's audio is cut from. */
struct reply_audio {
    char key[BLOB_KEY_LEN + 1]; /* the recording's blob */
    char mime[128];
    int64_t start_ms, end_ms;
};

/* 1 when the holder of the message's conversation (row i: avatar, user, the user's org, visibility,
 * visitor_talk) may still hear it: a user while the avatar is visible to them, a visitor while the
 * page takes visitors. What a signed link is checked against, so that it dies with the access. */
static int holder_still_may(struct db *db, const struct db_rows *r)
{
    if (db_rows_is_null(r, 0, 5)) {
        const char *vis = db_rows_text(r, 0, 7);
        return (!strcmp(vis, "link") || !strcmp(vis, "public")) && db_rows_int(r, 0, 8);
    }
    struct caller holder = {0};
    snprintf(holder.user_id, sizeof holder.user_id, "%s", db_rows_text(r, 0, 5));
    snprintf(holder.org_id, sizeof holder.org_id, "%s", db_rows_is_null(r, 0, 6) ? "" : db_rows_text(r, 0, 6));
    return avatar_access(db, &holder, db_rows_text(r, 0, 0), AVATAR_VIEW, NULL) == DP_OK;
}

/* Finds message mid in one of the caller's conversations whose avatar they still see — or, with c
 * NULL (a signed link), in a conversation whose holder still may — and the recording span it is
 * heard from. DP_ERR_NOT_FOUND (nothing set) when it may not be heard; DP_OK with *has 0 when the
 * reply has no audio. */
static int load_reply_audio(struct db *db, const struct caller *c, const char *mid, struct reply_audio *a, int *has)
{
    *has = 0;
    if (!mid || !id_valid(mid))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(mid), DB_TEXT(c ? c->user_id : ""), DB_INT(!c)};
    int err = db_query(db,
                       "SELECT c.avatar_id, d.blob_key, d.mime, mem.start_ms, mem.end_ms, c.user_id, u.org_id, "
                       "a.visibility, a.visitor_talk FROM messages m "
                       "JOIN conversations c ON c.id = m.conversation_id "
                       "JOIN avatars a ON a.id = c.avatar_id AND a.deleted_at IS NULL "
                       "LEFT JOIN users u ON u.id = c.user_id "
                       "LEFT JOIN memories mem ON mem.id = m.audio_memory_id "
                       "LEFT JOIN media d ON d.id = mem.media_id WHERE m.id = ? AND (c.user_id = ? OR ? = 1)",
                       p, 3, &r);
    if (err)
        return err;
    int may = r->nrows == 1 && (c ? !(err = avatar_access(db, c, db_rows_text(r, 0, 0), AVATAR_VIEW, NULL))
                                  : holder_still_may(db, r));
    if (!may) {
        db_rows_free(r);
        return err ? err : DP_ERR_NOT_FOUND;
    }
    if (!db_rows_is_null(r, 0, 1) && !db_rows_is_null(r, 0, 3) && !db_rows_is_null(r, 0, 4)) {
        snprintf(a->key, sizeof a->key, "%s", db_rows_text(r, 0, 1));
        snprintf(a->mime, sizeof a->mime, "%s", db_rows_text(r, 0, 2));
        a->start_ms = db_rows_int(r, 0, 3);
        a->end_ms = db_rows_int(r, 0, 4);
        *has = 1;
    }
    db_rows_free(r);
    return DP_OK;
}

static int message_audio(struct request *req, struct response *res)
{
    struct auth_env e;
    struct reply_audio a;
    int has;
    const char *mid = req_param(req, "mid"), *sig = req_query(req, "sig");
    int err = api_env(req, &e);
    if (err)
        return err;
    if (sig)
        err = url_sig_check("message-audio", mid, req_query(req, "exp"), sig, time_now_ms() / 1000);
    else
        err = authn_hook(req, res); /* without a signed link: the conversation's user, by token */
    if (err || (err = load_reply_audio(e.db, sig ? NULL : api_caller(req), mid, &a, &has)))
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
    err = clip_wav_open(app_get()->blobs, a.key, a.start_ms, a.end_ms, &fd, &size);
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

const struct route messages_audio_routes[] = {
    {"GET", "/api/v1/messages/{mid}/audio", ROUTE_PUBLIC, 0, message_audio, "conversations",
     "A reply as audio (audio/wav, ETag): the span of the avatar's recording its first citation quotes, "
     "by the signed link of the message's audio_url (?exp=&sig=, 1–2 hours) or with a bearer token; 404 for "
     "replies without audio (spoken replies arrive with speech synthesis), 501 for recordings other than PCM WAV",
     NULL, NULL, NULL},
    {0},
};
