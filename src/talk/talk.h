/* Talking to an avatar, the domain side: conversations (a signed-in user's or a visitor's of a
 * legacy page), their messages, and one turn — the stored question answered by the avatar's
 * brain and the reply stored. Every caller (the HTTP routes, the legacy page's visitors, later
 * voice and the OpenAI-compatible facade) goes through these; access checks stay with the caller. */
#ifndef DP_TALK_H
#define DP_TALK_H

#include <jansson.h>

#include "core/id.h"
#include "store/blob.h"

struct db;
struct brain_sink;

#define TALK_MESSAGE_MAX 4000 /* bytes of one user message */

/* Who holds a conversation: a user, or a visitor known only by the hash (auth/secret.h) of the
 * token they were handed when it started (exactly one of the two is set). */
struct talk_holder {
    const char *user_id;
    const char *visitor_hash;
};

/* A stored conversation, as its access checks need it. */
struct cache;

struct talk_conversation {
    char id[ID_LEN];
    char avatar_id[ID_LEN];
    char user_id[ID_LEN];  /* "" for a visitor's */
    char visitor_hash[65]; /* hex SHA-256 of the visitor's token; "" for a user's */
};

/* The cache scope (store/cache_gen.h) of a conversation's messages, CACHE_GEN_SCOPE_MAX bytes. */
void talk_conversation_scope(const char *cid, char *out);
/* The conversation's messages changed (a message stored, a reply made or abandoned): cached
 * answers that show them are out of date. Call before the write is acknowledged. */
void talk_conversation_changed(struct cache *c, const char *cid);

/* Reads conversation cid; DP_ERR_NOT_FOUND when there is none (or cid is not an id). */
int talk_conversation(struct db *db, const char *cid, struct talk_conversation *out);

#define TALK_VISITOR_MESSAGES_MAX 400 /* messages of one visitor conversation, replies included */

/* The visitor's conversation cid of the legacy page slug, proven by the token handed out when it
 * started (text turns and the voice WebSocket check it alike). Anything else — another page's, a
 * user's, a wrong token, visitors' talk turned off since — is DP_ERR_NOT_FOUND. */
int talk_visitor_conversation(struct db *db, const char *slug, const char *cid, const char *token,
                              struct talk_conversation *out);

/* Starts a conversation of avatar_id for holder; the avatar's greeting (or "Hello, I'm NAME.")
 * is its first message, returned as *greeting (JSON, owned). Both are stored in one transaction. */
int talk_start(struct db *db, const char *avatar_id, const struct talk_holder *holder, char conv[ID_LEN],
               json_t **greeting);

/* One earlier message of a conversation kept by its client (the OpenAI-compatible facade's
 * stateless requests): role "user" or "avatar". */
struct talk_turn {
    const char *role;
    const char *text;
};

/* Starts a conversation of avatar_id for holder that already holds turns[0..n) (no greeting), then
 * the user's message text (its id in user_mid), in one transaction: what a client that keeps the
 * conversation itself sends each time becomes a conversation the turn (talk_answer) reads. */
int talk_start_replay(struct db *db, const char *avatar_id, const struct talk_holder *holder,
                      const struct talk_turn *turns, int n, const char *text, char conv[ID_LEN], char user_mid[ID_LEN]);

/* Stores a message of the user (or visitor) in conv; its id in mid. */
int talk_add_user_message(struct db *db, const char *conv, const char *text, char mid[ID_LEN]);

/* Answers the stored user message user_mid (text) of conv with avatar_id's brain and stores the
 * reply; *reply is its JSON (owned). sink (may be NULL) gets the reply's pieces as the brain makes
 * them (word by word when the brain makes it whole), then its citations, before it is stored. cancelled(ctx) (may be NULL) says the caller went away:
 * then nothing is stored and DP_ERR_CANCELLED is returned. DP_ERR_NOT_IMPLEMENTED when the
 * avatar's brain is not available. */
int talk_answer(struct db *db, const char *conv, const char *avatar_id, const char *user_mid, const char *text,
                int (*cancelled)(void *ctx), void *ctx, const struct brain_sink *sink, json_t **reply);

/* Keeps of the stored reply mid of conv only what its listener heard (a spoken reply interrupted):
 * its text becomes heard; with heard "" the reply goes, as if never made. DP_ERR_NOT_FOUND when
 * conv holds no avatar message mid. */
int talk_cut_reply(struct db *db, const char *conv, const char *mid, const char *heard);
/* Stores heard as avatar_id's reply in conv (id in mid): what its listener heard of a spoken reply
 * cut short while the brain was still writing it, before the brain stored anything. */
int talk_keep_heard(struct db *db, const char *conv, const char *avatar_id, const char *heard, char mid[ID_LEN]);

struct brain_input;
struct brain_persona;
/* What a brain asks talk for (brain.h's brain_persona_fn and brain_voice_fn): the avatar's
 * persona card fields and example dialogue, and its way of speaking from its personality profile. */
int talk_brain_persona(const struct brain_input *in, struct brain_persona *p);
int talk_brain_voice(const struct brain_input *in, char opening[32], double *formality);

/* What a reply's audio is cut from (api/messages_audio.c serves it). */
struct talk_audio {
    char key[BLOB_KEY_LEN + 1]; /* the recording's blob (a clip) */
    char mime[128];
    int64_t start_ms, end_ms;
    char avatar_id[ID_LEN];
    char *text; /* a reply without a clip: what is to be spoken (talk_audio_cleanup) */
};

void talk_audio_cleanup(struct talk_audio *a);

struct caller;
/* Finds message mid in one of c's conversations whose avatar c still sees — or, with c NULL (a
 * signed link), in a conversation whose holder still may — and how it is heard: *has 1 with the
 * recording span it quotes; 2 with its text, for a reply to be spoken by speech synthesis (when an
 * engine is configured); 0 when it has no audio (the user's own messages, no engine).
 * DP_ERR_NOT_FOUND (nothing set) when it may not be heard. */
int talk_reply_audio(struct db *db, const struct caller *c, const char *mid, struct talk_audio *a, int *has);

/* One page of avatar_id's conversations held by user_id — or, with user_id NULL, by visitors —
 * newest first: ids before `before`. Items {id, avatar_id, created_at, updated_at, visitor}. */
int talk_list(struct db *db, const char *avatar_id, const char *user_id, const char *before, long limit,
              json_t **items);

/* One page of conv's messages, oldest first (ids greater than from; NULL: from the start) or, with
 * newest_first, newest first (ids below from; NULL: from the end), so that a client shows the
 * end of a long history without reading all of it. */
int talk_messages(struct db *db, const char *conv, const char *from, int newest_first, long limit, json_t **items);

/* *full = 1 when conv holds max messages or more. */
int talk_conversation_full(struct db *db, const char *conv, long max, int *full);

#endif
