/* The reply to a posted message, shared by the signed-in conversation routes and the legacy
 * page's visitors (api/legacy.c). */
#ifndef DP_API_CONVERSATIONS_H
#define DP_API_CONVERSATIONS_H

#include "net/http.h"

struct db;
struct talk_conversation;

/* Validates {text}, stores it, and answers with the avatar's reply: 201 {message} as JSON, or
 * with Accept: text/event-stream as SSE events delta, citation, done (error). */
int conversation_reply(struct request *req, struct response *res, struct db *db, const struct talk_conversation *c);

/* One page of the conversation's messages (?limit=, ?cursor=). */
int conversation_messages(struct request *req, struct response *res, struct db *db, const char *cid);

#endif
