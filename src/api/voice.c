/* WS /api/v1/avatars/{id}/voice: the real-time voice conversation (voice/session.c). The
 * handshake is checked here like any avatar route — the caller (token or ticket) must see the
 * avatar (another user's is an unknown one: 404) and hold fewer sessions than allowed (429). */
#include "api/api_util.h"
#include "api/app.h"
#include "api/schemas.h"
#include "avatar/avatar.h"
#include "core/err.h"
#include "talk/talk.h"
#include "voice/session.h"

static int env_db(void *worker_state, struct db **out)
{
    return worker_db(worker_state, out);
}

static const struct voice_env env = {env_db};

/* The new session s (err from making it) goes to the WebSocket; too many: 429 saying full. */
static int hand_over(struct request *req, struct response *res, int err, struct voice_session *s, const char *full)
{
    if (err == DP_ERR_RATE_LIMITED)
        res_error(res, req, err, "%s", full);
    if (err)
        return err;
    req->ws_user = s;
    req->ws_user_free = voice_session_free;
    return DP_OK;
}

static int voice_handshake(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    struct avatar_ref ref;
    struct voice_session *s;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    err = voice_session_new(c->user_id, ref.id, &env, &s);
    return hand_over(req, res, err, s, "you hold as many voice sessions as allowed (--voice-sessions-per-user)");
}

/* The legacy page's visitor, in the conversation the page gave them: the token comes in the query
 * (a browser's WebSocket carries no header) and is checked as their text turns check it. Rate
 * limited per address like the page's other routes; another page's, a wrong token or visitors'
 * talk turned off is a 404. */
static int visitor_handshake(struct request *req, struct response *res)
{
    struct context e;
    struct talk_conversation conv;
    struct voice_session *s;
    char key[112];
    snprintf(key, sizeof key, "rl:legacy-voice:ip:%s", req->client_ip);
    const char *token = req_query(req, "visitor_token");
    int err = api_env(req, &e);
    if (err || (err = api_rate_limit(req, res, e.security, "legacy", key, 0.2, 10.0)) ||
        (err = talk_visitor_conversation(e.db, req_param(req, "slug"), req_param(req, "cid"), token, &conv)))
        return err;
    err = voice_session_new_visitor(req_param(req, "slug"), conv.id, token, conv.avatar_id, &env, &s);
    return hand_over(req, res, err, s, "this conversation holds as many voice sessions as allowed");
}

static const char voice_doc[] = J({
    "description" :
        "Upgrade to a WebSocket (token or ?ticket=). Text frames are JSON events with a type; binary frames are audio. Client: session.start {audio:{format: pcm16|opus, rate}, reply_audio:{format, rate}, turn_detection?: vad|manual, conversation_id?}, binary audio (pcm16 mono little-endian, or one Opus packet a frame), input.commit, response.cancel, session.end. Server: session.started, speech.started, speech.stopped, transcript.partial, transcript.final, response.started, response.text.delta (as the brain writes the reply), response.citation, response.audio.start {format, rate}, binary audio, response.viseme {t_ms, viseme}, response.done {status, text, played_ms, message_id, latency:{stt_ms, brain_ms, tts_first_byte_ms, turn_ms}}, error {code, message}. The reply is spoken while it is written: its first clause, then each sentence once whole. A speech.started while a response plays interrupts it: flush what is queued.",
    "errors" : [426]
});

static const char visitor_voice_doc[] = J({
    "description" :
        "A legacy page visitor's voice conversation: ?visitor_token= (from POST /legacy/{slug}/conversations). Events as on /avatars/{id}/voice; session.start continues this conversation.",
    "query" : {"visitor_token" : {"type" : "string"}},
    "errors" : [426]
});

const struct route voice_routes[] = {
    {"GET", "/api/v1/avatars/{id}/voice", ROUTE_WEBSOCKET, 0, voice_handshake, "voice",
     "Real-time voice conversation (WebSocket): VAD, streaming transcripts, spoken cited replies, barge-in", voice_doc,
     &voice_ws_handler, NULL},
    {"GET", "/api/v1/legacy/{slug}/conversations/{cid}/voice", ROUTE_PUBLIC | ROUTE_WEBSOCKET, 0, visitor_handshake,
     "legacy", "A visitor's voice conversation on a legacy page (WebSocket; ?visitor_token=)", visitor_voice_doc,
     &voice_ws_handler, NULL},
    {0},
};
