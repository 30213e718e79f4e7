/* A real-time voice conversation with an avatar over a WebSocket (API.md "Voice WebSocket"):
 * audio in → VAD → streaming STT → the conversation turn (talk/) → TTS streamed back with visemes,
 * barge-in, push-to-talk. The session lives on the loop thread and holds no worker while idle:
 * recognition, the brain and synthesis run as the connection's tasks (ws_submit), in order. */
#ifndef DP_VOICE_SESSION_H
#define DP_VOICE_SESSION_H

#include "core/id.h"

struct db;
struct ws_handler;

/* How a session's tasks reach their worker's engines (the API layer knows workers). */
struct voice_env {
    int (*db)(void *worker_state, struct db **out);
};

struct voice_limits {
    int sessions_per_user; /* live sessions of one user (0 = no cap) */
    long idle_ms;          /* nothing received for this long: the session ends */
    long session_ms;       /* a session's longest life */
};

/* The handlers of the voice WebSocket route. */
extern const struct ws_handler voice_ws_handler;

/* Sets the process's limits (before serving). */
void voice_configure(const struct voice_limits *lim);

struct voice_session;
/* A session of user_id with avatar_id (access already checked), counted against the user's cap:
 * DP_ERR_RATE_LIMITED when they hold as many as allowed, DP_ERR_NOMEM. Freed with
 * voice_session_free until the WebSocket takes it (then its on_close does). */
int voice_session_new(const char *user_id, const char *avatar_id, const struct voice_env *env,
                      struct voice_session **out);
/* A visitor's session on the legacy page slug, in their conversation cid (talk_visitor_conversation
 * already checked with token; every turn checks it again, as every text turn does). Counted
 * against the conversation as a user's are against the user. */
int voice_session_new_visitor(const char *slug, const char *cid, const char *token, const char *avatar_id,
                              const struct voice_env *env, struct voice_session **out);
void voice_session_free(void *session);

#endif
