/* Finding a conversation again by what it holds. A client of the OpenAI-compatible facade keeps
 * the conversation and sends all of it with each message; the hash of the turns a conversation
 * holds, stored with it, finds it when the same turns come back, so that one chat in the client
 * is one conversation here (not one per message). The hash is a chain — each turn's hash covers
 * the one before — so a conversation's is moved on turn by turn without reading it. */
#ifndef DP_HISTORY_HASH_H
#define DP_HISTORY_HASH_H

#include "core/id.h"

struct db;

#define HISTORY_HASH_LEN 65 /* hex SHA-256 + NUL */

/* The hash of a history ending in prev ("" for none) followed by one turn (role "user" or
 * "avatar", its text) into out (may be prev). */
void talk_history_step(const char *prev, const char *role, const char *text, char out[HISTORY_HASH_LEN]);

/* The most recent conversation of avatar_id held by user_id whose turns hash to hash, into conv;
 * DP_ERR_NOT_FOUND when there is none. */
int talk_find_by_history(struct db *db, const char *avatar_id, const char *user_id, const char *hash,
                         char conv[ID_LEN]);

/* Notes that conv now holds the turns that hash to hash. */
int talk_set_history(struct db *db, const char *conv, const char *hash);

#endif
