/* User-to-user chat: chats (one-to-one and groups) between people who may reach each other,
 * messages with per-chat sequence numbers, read state, blocks, contact requests and preferences.
 * Every change a member must not miss is appended to their event log (chat/events.h) in the
 * same transaction and published after it commits. Runs on workers (blocking database calls). */
#ifndef DP_CHAT_H
#define DP_CHAT_H

#include <jansson.h>
#include <stdint.h>

#include "core/context.h"
#include "store/blob.h"

#define CHAT_TEXT_MAX 4000      /* bytes of a message's text */
#define CHAT_TITLE_MAX 200      /* bytes of a group's title */
#define CHAT_CLIENT_ID_MAX 64   /* bytes of a client message id */
#define CHAT_ATTACHMENTS_MAX 10 /* media a message may carry */

/* Set once at start (--chat-group-max); the members a group may have, the creator included. */
extern int chat_group_max;

/* Starts a chat of the caller with participants (a JSON array of user ids, the caller left out
 * or not). One other participant and group 0: the pair's one-to-one chat, which is answered
 * again (*created 0) when it exists. Every participant must be reachable (same org, a shared
 * avatar or an accepted contact request) and not have blocked the caller, else
 * DP_ERR_NOT_FOUND (a stranger is indistinguishable from an unknown id) or DP_ERR_FORBIDDEN
 * (blocked). DP_ERR_INVALID for a malformed list, DP_ERR_TOO_LARGE over chat_group_max.
 * *out: the chat JSON (caller's). */
int chat_create(struct context *e, const json_t *participants, const char *title, int group, json_t **out,
                int *created);
/* The caller's chats (left ones excluded), the most recently active first, each with its last
 * message and the caller's unread count; cursor is the previous page's last chat id. */
int chat_list(struct context *e, const char *cursor, long limit, json_t **items);
/* One chat of the caller; DP_ERR_NOT_FOUND when they are not (or no longer) in it. */
int chat_get(struct context *e, const char *chat_id, json_t **out);
/* Leaves a chat (history stays readable until then; nothing new arrives). */
int chat_leave(struct context *e, const char *chat_id);
/* Mutes or unmutes the chat for the caller (muted chats still deliver; clients stay quiet). */
int chat_set_muted(struct context *e, const char *chat_id, int muted);

/* What a send carries (text and/or attachments). */
struct chat_send {
    const char *text;          /* NULL or up to CHAT_TEXT_MAX bytes */
    const char *client_id;     /* NULL or the sender's id for this send: a retry answers the first */
    const char *reply_to;      /* NULL or a message id of the same chat */
    const json_t *attachments; /* NULL or an array of media ids the sender uploaded */
};
/* Stores a message (durably, with the members' events) and publishes message.new. *dup 1 when
 * client_id was sent before: *msg is that first message and nothing is stored. DP_ERR_INVALID
 * (empty, reply_to of another chat, media not the sender's), DP_ERR_FORBIDDEN (a one-to-one chat
 * with someone who blocked the sender, or whom the sender blocked). */
int chat_send(struct context *e, const char *chat_id, const struct chat_send *s, json_t **msg, int *dup);
/* One send of a batch: in, what to send; out, err or the message (*msg, caller's) and dup. */
struct chat_send_item {
    const char *chat_id;
    struct chat_send send;
    int err;
    char *msg; /* the message's JSON text (malloc'd: the caller frees it) */
    int dup;
};
/* Sends n messages of the caller (chats may differ) with one commit; each item gets its own
 * outcome, as chat_send would give it. */
void chat_send_batch(struct context *e, struct chat_send_item *v, int n);
/* Edits the text of the caller's own message, or deletes it for everyone (text NULL, deleted
 * marker); publishes message.updated. DP_ERR_NOT_FOUND, DP_ERR_CONFLICT (already deleted). */
int chat_edit(struct context *e, const char *chat_id, const char *message_id, const char *text, json_t **msg);
/* History newest first: messages with seq < before (0: from the newest), at most limit. */
int chat_history(struct context *e, const char *chat_id, int64_t before, long limit, json_t **items);
/* The caller has read the chat up to seq up_to (kept as the highest seen; clamped to the last
 * message). Publishes receipt.read to the other members unless the caller turned receipts off.
 * *read_seq: the caller's last read after. */
int chat_read(struct context *e, const char *chat_id, int64_t up_to, int64_t *read_seq);

/* A media attached to a message, as a member reads it. */
struct chat_attachment {
    char key[BLOB_KEY_LEN + 1]; /* the blob */
    char mime[128];
    char kind[16];      /* image, audio, video, document */
    char filename[256]; /* "media" when the upload had no name */
};
/* The media media_id attached to message_id of chat_id (variant NULL, or "thumbnail" for an
 * image's derived thumbnail), when the caller is a current member and the message (not deleted)
 * carries it. DP_ERR_NOT_FOUND otherwise, the same for every reason (no oracle). */
int chat_attachment_find(struct context *e, const char *chat_id, const char *message_id, const char *media_id,
                         const char *variant, struct chat_attachment *out);

/* Blocks (on 1) or unblocks a user; DP_ERR_NOT_FOUND for an unknown id or oneself. */
int chat_block(struct context *e, const char *user_id, int on);
int chat_blocks_list(struct context *e, json_t **items);

/* Asks user_id for contact (or accepts their pending request to the caller). A request to
 * someone who blocked the caller is stored and never shown (no oracle). *out {user, status}. */
int chat_contact_request(struct context *e, const char *user_id, json_t **out);
/* Accepts the pending request of user_id to the caller. DP_ERR_NOT_FOUND. */
int chat_contact_accept(struct context *e, const char *user_id, json_t **out);
/* Drops a request or contact between the caller and user_id, either direction. */
int chat_contact_remove(struct context *e, const char *user_id);
/* The caller's contacts and requests: [{user:{id,display_name}, status, direction}]. */
int chat_contacts_list(struct context *e, json_t **items);

/* The caller's preferences {hide_presence, send_receipts}; set: the fields of patch. */
int chat_prefs_get(struct context *e, json_t **out);
int chat_prefs_set(struct context *e, const json_t *patch, json_t **out);

/* For the events WebSocket. Everyone who may see user_id's presence: members of a chat with
 * them and their accepted contacts (at most max); NULL when they hide it. *out a JSON array. */
int chat_presence_audience(struct db *db, const char *user_id, int max, json_t **out);
/* The people user_id may see the presence of (the same audience), those hiding theirs left out:
 * [{user_id, last_seen (null when never seen)}]; NULL when user_id hides theirs. One query. */
int chat_presence_visible(struct db *db, const char *user_id, int max, json_t **out);
/* The members (still in it, other than user_id) of a chat user_id is in; DP_ERR_NOT_FOUND. */
int chat_typing_audience(struct db *db, const char *chat_id, const char *user_id, json_t **out);
/* Records the user's last seen time (they went offline). */
int chat_last_seen_set(struct db *db, const char *user_id, const char *when);

#endif
