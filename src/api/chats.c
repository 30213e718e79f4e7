/* User-to-user chat over HTTP: chats, messages (send, edit, delete for everyone, history), read
 * receipts, blocks, contact requests and the caller's chat settings. The rules are chat/'s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "chat/chat.h"
#include "core/err.h"
#include "core/utf8.h"

static int invalid(struct request *req, struct response *res, const char *msg)
{
    res_error(res, req, DP_ERR_INVALID, "%s", msg);
    return DP_ERR_INVALID;
}

/* The messages of domain errors a client can act on; others keep their generic text. */
static int chat_err(struct request *req, struct response *res, int err, const char *invalid_msg)
{
    if (err == DP_ERR_INVALID && invalid_msg)
        return invalid(req, res, invalid_msg);
    if (err == DP_ERR_FORBIDDEN) {
        res_error(res, req, err, "blocked: one of you has blocked the other");
        return err;
    }
    if (err == DP_ERR_TOO_LARGE) {
        res_error(res, req, err, "a chat has at most %d members (--chat-group-max)", chat_group_max);
        return err;
    }
    return err;
}

/* An optional boolean body field into *out (unchanged when absent). */
static int body_bool(struct request *req, struct response *res, const char *key, int *out)
{
    json_t *v = json_object_get(req->json, key);
    if (!v)
        return DP_OK;
    if (!json_is_boolean(v)) {
        res_error(res, req, DP_ERR_INVALID, "%s must be true or false", key);
        return DP_ERR_INVALID;
    }
    *out = json_is_true(v);
    return DP_OK;
}

static int list_chats(struct request *req, struct response *res)
{
    struct context e;
    long limit;
    const char *cursor;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = api_page(req, res, &limit, &cursor)) || (err = chat_list(&e, cursor, limit, &items)))
        return err;
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

static int create_chat(struct request *req, struct response *res)
{
    struct context e;
    const char *title;
    int group = 0, created;
    json_t *chat;
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "title", CHAT_TITLE_MAX, &title)) ||
        (err = body_bool(req, res, "group", &group)))
        return err;
    if (title && !utf8_valid(title, strlen(title)))
        return invalid(req, res, "title must be UTF-8");
    err = chat_create(&e, json_object_get(req->json, "participants"), title, group, &chat, &created);
    if (err == DP_ERR_NOT_FOUND) {
        /* A stranger looks exactly like an unknown id. */
        res_error(res, req, err,
                  "no such user (you may message people of your organisation, people you share an "
                  "avatar with, and contacts who accepted your request)");
        return err;
    }
    if (err)
        return chat_err(req, res, err, "participants is a non-empty array of user ids other than yourself");
    res_json(res, created ? 201 : 200, chat);
    return DP_OK;
}

static int get_chat(struct request *req, struct response *res)
{
    struct context e;
    json_t *chat;
    int err = api_env(req, &e);
    if (err || (err = chat_get(&e, req_param(req, "id"), &chat)))
        return err;
    res_json(res, 200, chat);
    return DP_OK;
}

static int patch_chat(struct request *req, struct response *res)
{
    struct context e;
    int muted = -1;
    json_t *chat;
    int err = api_env(req, &e);
    if (err || (err = body_bool(req, res, "muted", &muted)))
        return err;
    if (muted >= 0 && (err = chat_set_muted(&e, req_param(req, "id"), muted)))
        return err;
    if ((err = chat_get(&e, req_param(req, "id"), &chat)))
        return err;
    res_json(res, 200, chat);
    return DP_OK;
}

static int leave_chat(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = chat_leave(&e, req_param(req, "id"))))
        return err;
    res_body(res, 204, "", NULL, 0);
    return DP_OK;
}

/* The bytes of a media attached to a message, for the chat's current members (404 otherwise). */
static int attachment_content(struct request *req, struct response *res)
{
    struct context e;
    struct chat_attachment a;
    const char *variant = req_query(req, "variant");
    int err = api_env(req, &e);
    if (err)
        return err;
    if (variant && strcmp(variant, "thumbnail"))
        return invalid(req, res, "variant must be thumbnail");
    if ((err = chat_attachment_find(&e, req_param(req, "id"), req_param(req, "mid"), req_param(req, "media"), variant,
                                    &a)))
        return err;
    return api_send_media(req, res, e.blobs, a.key, a.mime, a.kind, a.filename);
}

static int list_messages(struct request *req, struct response *res)
{
    struct context e;
    long limit, before;
    const char *cursor = req_query(req, "cursor");
    json_t *items;
    int err = api_env(req, &e);
    if (err)
        return err;
    if (req_query_long(req, "limit", 50, 1, 200, &limit))
        return invalid(req, res, "limit must be 1-200");
    /* ?before= (API.md) and ?cursor= (a page's next_cursor) are both a sequence number. */
    if (req_query_long(req, "before", 0, 0, INT64_MAX >> 1, &before))
        return invalid(req, res, "before must be a message seq");
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (end == cursor || *end || v < 1)
            return invalid(req, res, "cursor must be a page's next_cursor");
        before = (long)v;
    }
    if ((err = chat_history(&e, req_param(req, "id"), before, limit, &items)))
        return err;
    size_t n = json_array_size(items);
    char next[24];
    if (n == (size_t)limit)
        snprintf(next, sizeof next, "%lld",
                 (long long)json_integer_value(json_object_get(json_array_get(items, n - 1), "seq")));
    res_json(
        res, 200,
        json_pack("{s:o,s:o}", "items", items, "next_cursor", n == (size_t)limit ? json_string(next) : json_null()));
    return DP_OK;
}

static int send_message(struct request *req, struct response *res)
{
    struct context e;
    struct chat_send s = {0};
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "text", CHAT_TEXT_MAX, &s.text)) ||
        (err = api_body_str(req, res, "client_id", CHAT_CLIENT_ID_MAX, &s.client_id)) ||
        (err = api_body_str(req, res, "reply_to", 64, &s.reply_to)))
        return err;
    if (s.text && strspn(s.text, " \t\r\n") == strlen(s.text))
        s.text = NULL;
    if (s.client_id && !*s.client_id)
        return invalid(req, res, "client_id must not be empty");
    s.attachments = json_object_get(req->json, "attachments");
    json_t *msg;
    int dup;
    if ((err = chat_send(&e, req_param(req, "id"), &s, &msg, &dup))) {
        if (err == DP_ERR_CONFLICT) {
            res_error(res, req, err, "client_id was used for a message of another chat");
            return err;
        }
        return chat_err(req, res, err,
                        "a message needs text (up to 4000 bytes) or attachments (up to 10 of your own media ids); "
                        "reply_to must be a message of this chat");
    }
    res_json(res, dup ? 200 : 201, json_pack("{s:o,s:b}", "message", msg, "duplicate", dup));
    return DP_OK;
}

static int edit_message(struct request *req, struct response *res)
{
    struct context e;
    const char *text;
    json_t *msg;
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "text", CHAT_TEXT_MAX, &text)))
        return err;
    if (!text || strspn(text, " \t\r\n") == strlen(text))
        return invalid(req, res, "text is required (up to 4000 bytes)");
    if ((err = chat_edit(&e, req_param(req, "id"), req_param(req, "mid"), text, &msg))) {
        if (err == DP_ERR_CONFLICT)
            res_error(res, req, err, "the message was deleted");
        return err;
    }
    res_json(res, 200, json_pack("{s:o}", "message", msg));
    return DP_OK;
}

static int delete_message(struct request *req, struct response *res)
{
    struct context e;
    json_t *msg;
    int err = api_env(req, &e);
    if (err || (err = chat_edit(&e, req_param(req, "id"), req_param(req, "mid"), NULL, &msg))) {
        if (err == DP_ERR_CONFLICT)
            res_error(res, req, err, "the message was deleted already");
        return err;
    }
    res_json(res, 200, json_pack("{s:o}", "message", msg));
    return DP_OK;
}

static int read_chat(struct request *req, struct response *res)
{
    struct context e;
    int64_t read;
    json_t *up = json_object_get(req->json, "up_to");
    int err = api_env(req, &e);
    if (err)
        return err;
    if (!json_is_integer(up) || json_integer_value(up) < 0)
        return invalid(req, res, "up_to is the seq of the last message read");
    if ((err = chat_read(&e, req_param(req, "id"), json_integer_value(up), &read)))
        return err;
    res_json(res, 200, json_pack("{s:s,s:I}", "chat_id", req_param(req, "id"), "last_read_seq", (json_int_t)read));
    return DP_OK;
}

static int get_settings(struct request *req, struct response *res)
{
    struct context e;
    json_t *out;
    int err = api_env(req, &e);
    if (err || (err = chat_prefs_get(&e, &out)))
        return err;
    res_json(res, 200, out);
    return DP_OK;
}

static int patch_settings(struct request *req, struct response *res)
{
    struct context e;
    json_t *out;
    int err = api_env(req, &e);
    if (err)
        return err;
    if ((err = chat_prefs_set(&e, req->json, &out)))
        return err == DP_ERR_INVALID ? invalid(req, res, "hide_presence and send_receipts are true or false") : err;
    res_json(res, 200, out);
    return DP_OK;
}

static int list_blocks(struct request *req, struct response *res)
{
    struct context e;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = chat_blocks_list(&e, &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

static int add_block(struct request *req, struct response *res)
{
    struct context e;
    const char *user;
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "user_id", 64, &user)))
        return err;
    if (!user)
        return invalid(req, res, "user_id is required");
    if ((err = chat_block(&e, user, 1)))
        return err;
    res_body(res, 204, "", NULL, 0);
    return DP_OK;
}

static int remove_block(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = chat_block(&e, req_param(req, "uid"), 0)))
        return err;
    res_body(res, 204, "", NULL, 0);
    return DP_OK;
}

static int list_contacts(struct request *req, struct response *res)
{
    struct context e;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = chat_contacts_list(&e, &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

static int request_contact(struct request *req, struct response *res)
{
    struct context e;
    const char *user;
    json_t *out;
    int err = api_env(req, &e);
    if (err || (err = api_body_str(req, res, "user_id", 64, &user)))
        return err;
    if (!user)
        return invalid(req, res, "user_id is required");
    if ((err = chat_contact_request(&e, user, &out)))
        return err;
    res_json(res, 200, out);
    return DP_OK;
}

static int accept_contact(struct request *req, struct response *res)
{
    struct context e;
    json_t *out;
    int err = api_env(req, &e);
    if (err || (err = chat_contact_accept(&e, req_param(req, "uid"), &out)))
        return err;
    res_json(res, 200, out);
    return DP_OK;
}

static int remove_contact(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = chat_contact_remove(&e, req_param(req, "uid"))))
        return err;
    res_body(res, 204, "", NULL, 0);
    return DP_OK;
}

/* OpenAPI */
static const char list_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Chat>"}});
static const char create_doc[] = J({
    "requestBody" : "ChatCreate",
    "responses" : {
        "201" : "Chat",
        "200" : {
            "description" : "the pair's existing one-to-one chat",
            "content" : {"application/json" : {"schema" : "Chat"}}
        }
    },
    "errors" : [ 403, 404, 413 ]
});
static const char get_doc[] = J({"responses" : {"200" : "Chat"}});
static const char patch_doc[] = J({"requestBody" : "ChatPatch", "responses" : {"200" : "Chat"}});
static const char leave_doc[] = J({"responses" : {"204" : "-"}});
static const char history_doc[] = J({
    "query" : {
        "before" : {"type" : "integer", "minimum" : 0, "description" : "messages with a seq below this one"},
        "limit" : {"type" : "integer", "minimum" : 1, "maximum" : 200},
        "cursor" : {"type" : "string", "description" : "a page's next_cursor"}
    },
    "responses" : {"200" : "Page<ChatMessage>"}
});
static const char send_doc[] = J({
    "requestBody" : "ChatSend",
    "responses" : {
        "201" : "ChatMessageSent",
        "200" : {
            "description" : "a retry of a client_id: the first message",
            "content" : {"application/json" : {"schema" : "ChatMessageSent"}}
        }
    },
    "errors" : [ 403, 409 ]
});
static const char edit_doc[] =
    J({"requestBody" : "TextSample", "responses" : {"200" : "ChatMessageOne"}, "errors" : [409]});
static const char delete_doc[] = J({"responses" : {"200" : "ChatMessageOne"}, "errors" : [409]});
static const char read_doc[] = J({"requestBody" : "ChatRead", "responses" : {"200" : "ChatReadState"}});
static const char settings_doc[] = J({"responses" : {"200" : "ChatSettings"}});
static const char settings_patch_doc[] = J({"requestBody" : "ChatSettings", "responses" : {"200" : "ChatSettings"}});
static const char blocks_doc[] = J({"responses" : {"200" : "Page<ChatBlock>"}});
static const char block_doc[] = J({"requestBody" : "UserIdBody", "responses" : {"204" : "-"}, "errors" : [404]});
static const char unblock_doc[] = J({"responses" : {"204" : "-"}});
static const char contacts_doc[] = J({"responses" : {"200" : "Page<Contact>"}});
static const char contact_doc[] =
    J({"requestBody" : "UserIdBody", "responses" : {"200" : "Contact"}, "errors" : [404]});
static const char accept_doc[] = J({"responses" : {"200" : "Contact"}});
static const char uncontact_doc[] = J({"responses" : {"204" : "-"}});

const struct route chats_routes[] = {
    /* Literal paths first: the router takes the first match. */
    {"GET", "/api/v1/chats/settings", 0, 0, get_settings, "chats",
     "The caller's chat settings: presence hidden, read receipts sent", settings_doc, NULL, NULL},
    {"PATCH", "/api/v1/chats/settings", ROUTE_JSON, 0, patch_settings, "chats",
     "Hide presence; turn read receipts off (then none are sent)", settings_patch_doc, NULL, NULL},
    {"GET", "/api/v1/chats/blocks", 0, 0, list_blocks, "chats", "Users the caller blocked", blocks_doc, NULL, NULL},
    {"POST", "/api/v1/chats/blocks", ROUTE_JSON, 0, add_block, "chats",
     "Block a user: no chat can be started with them, no message sent in a one-to-one chat either way", block_doc, NULL,
     NULL},
    {"DELETE", "/api/v1/chats/blocks/{uid}", 0, 0, remove_block, "chats", "Unblock a user", unblock_doc, NULL, NULL},
    {"GET", "/api/v1/chats", 0, 0, list_chats, "chats",
     "Chats the caller is in, most recent activity first, with the last message and the unread count", list_doc, NULL,
     NULL},
    {"POST", "/api/v1/chats", ROUTE_JSON, 0, create_chat, "chats",
     "Start a chat with people the caller may reach (same organisation, a shared avatar, an accepted contact)",
     create_doc, NULL, NULL},
    {"GET", "/api/v1/chats/{id}", 0, 0, get_chat, "chats", "A chat of the caller", get_doc, NULL, NULL},
    {"PATCH", "/api/v1/chats/{id}", ROUTE_JSON, 0, patch_chat, "chats", "Mute or unmute a chat", patch_doc, NULL, NULL},
    {"POST", "/api/v1/chats/{id}/leave", 0, 0, leave_chat, "chats", "Leave a chat", leave_doc, NULL, NULL},
    {"GET", "/api/v1/chats/{id}/messages", 0, 0, list_messages, "chats",
     "History, newest first (?before= or ?cursor= a seq)", history_doc, NULL, NULL},
    {"POST", "/api/v1/chats/{id}/messages", ROUTE_JSON, 0, send_message, "chats",
     "Send {text, client_id?, reply_to?, attachments?}: stored before the answer; a retried client_id answers the "
     "first message",
     send_doc, NULL, NULL},
    {"PATCH", "/api/v1/chats/{id}/messages/{mid}", ROUTE_JSON, 0, edit_message, "chats", "Edit one's own message",
     edit_doc, NULL, NULL},
    {"DELETE", "/api/v1/chats/{id}/messages/{mid}", 0, 0, delete_message, "chats",
     "Delete one's own message for everyone (a marker stays)", delete_doc, NULL, NULL},
    {"GET", "/api/v1/chats/{id}/messages/{mid}/attachments/{media}", 0, 0, attachment_content, "chats",
     "The bytes of a media attached to a message (Range, ETag; ?variant=thumbnail for an image's thumbnail): for the "
     "chat's current members only",
     api_media_bytes_doc, NULL, NULL},
    {"POST", "/api/v1/chats/{id}/read", ROUTE_JSON, 0, read_chat, "chats",
     "Read up to a seq: the caller's last read; receipt.read to the others unless receipts are off", read_doc, NULL,
     NULL},
    {"GET", "/api/v1/contacts", 0, 0, list_contacts, "chats", "The caller's contacts and contact requests",
     contacts_doc, NULL, NULL},
    {"POST", "/api/v1/contacts", ROUTE_JSON, 0, request_contact, "chats",
     "Ask a user for contact (accepts theirs when they asked first)", contact_doc, NULL, NULL},
    {"POST", "/api/v1/contacts/{uid}/accept", 0, 0, accept_contact, "chats", "Accept a user's contact request",
     accept_doc, NULL, NULL},
    {"DELETE", "/api/v1/contacts/{uid}", 0, 0, remove_contact, "chats", "Withdraw, decline or end a contact",
     uncontact_doc, NULL, NULL},
    {0},
};
