/* What the chat module's files share: membership checks, reach, and the JSON of rows. */
#ifndef DP_CHAT_IMPL_H
#define DP_CHAT_IMPL_H

#include <jansson.h>

#include "chat/chat.h"
#include "auth/caller.h"
#include "chat/events.h"
#include "store/db.h"

/* The columns chat_message_json reads, in order (prefix them with "m." in joins). */
#define CHAT_MESSAGE_COLS                                                                                              \
    "id, chat_id, seq, sender_id, client_id, text, reply_to, attachments, edited_at, deleted_at, created_at"

/* The message of row i of rows selected with CHAT_MESSAGE_COLS from column col. */
json_t *chat_message_json(const struct db_rows *rows, int i, int col);
/* DP_OK when user_id is a current member of chat_id (kind_out, may be NULL, gets its kind:
 * "direct" or "group"), else DP_ERR_NOT_FOUND. */
int chat_member_check(struct db *db, const char *chat_id, const char *user_id, char kind_out[8]);
/* 1 when a may start a chat with b: same org, a shared avatar or an accepted contact. */
int chat_reachable(struct db *db, const char *a, const char *b, int *out);
/* 1 when either blocked the other. */
int chat_blocked_between(struct db *db, const char *a, const char *b, int *out);
/* The current members of chat_id as recipients (at most CHAT_FANOUT_MAX), sorted by user id. */
int chat_members_recipients(struct db *db, const char *chat_id, struct chat_recipient **out, int *n);
/* Appends an event for the recipients inside the open transaction, commits, then publishes it
 * (a failed publish is logged: the events are durable and found on reconnect). Rolls back on
 * failure. Takes no ownership. */
int chat_commit_event(struct context *e, const char *chat_id, struct chat_recipient *r, int n, const char *type,
                      const json_t *data);
/* The caller's send_receipts and hide_presence (defaults 1 and 0). */
int chat_prefs_read(struct db *db, const char *user_id, int *send_receipts, int *hide_presence);

#endif
