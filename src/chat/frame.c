/* Parses the client frames of the events WebSocket. */
#include "chat/frame.h"

#include <jansson.h>
#include <string.h>

#include "chat/chat.h"
#include "core/err.h"

/* The fields of message.send into out; NULL or what is wrong. */
static const char *parse_send(json_t *j, struct chat_frame *out)
{
    const char *chat = json_string_value(json_object_get(j, "chat_id"));
    const char *cid = json_string_value(json_object_get(j, "client_id"));
    json_t *text = json_object_get(j, "text"), *reply = json_object_get(j, "reply_to"),
           *att = json_object_get(j, "attachments");
    if (!chat || !id_valid(chat))
        return "chat_id is required";
    memcpy(out->chat_id, chat, ID_LEN);
    if (!cid || !*cid || strlen(cid) > CHAT_CLIENT_ID_MAX)
        return "client_id is required (up to 64 bytes): the ack names it, a resend with it is not stored twice";
    memcpy(out->client_id, cid, strlen(cid) + 1);
    if (reply && !json_is_null(reply)) {
        const char *r = json_string_value(reply);
        if (!r || !id_valid(r))
            return "reply_to is a message id";
        memcpy(out->reply_to, r, ID_LEN);
    }
    if (text && !json_is_null(text)) {
        const char *t = json_string_value(text);
        if (!t || json_string_length(text) > CHAT_TEXT_MAX || strlen(t) != json_string_length(text))
            return "text is a string of up to 4000 bytes";
        if (strspn(t, " \t\r\n") < strlen(t) && !(out->text = strdup(t)))
            return "out of memory";
    }
    if (att && !json_is_null(att)) {
        if (!json_is_array(att) || json_array_size(att) > CHAT_ATTACHMENTS_MAX)
            return "attachments is an array of up to 10 media ids";
        out->attachments = json_incref(att);
    }
    if (!out->text && !json_array_size(out->attachments))
        return "a message needs text or attachments";
    return NULL;
}

int chat_frame_parse(const char *p, size_t n, struct chat_frame *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (n > CHAT_FRAME_MAX) {
        *why = "frame too large";
        return DP_ERR_INVALID;
    }
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        *why = "a frame is a JSON object with a type";
        return DP_ERR_INVALID;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    int err = DP_OK;
    *why = NULL;
    if (!type) {
        *why = "type is required";
    } else if (!strcmp(type, "typing.start") || !strcmp(type, "typing.stop")) {
        out->kind =
            type[7] == 's' && type[8] == 't' && type[9] == 'a' ? CHAT_FRAME_TYPING_START : CHAT_FRAME_TYPING_STOP;
        const char *chat = json_string_value(json_object_get(j, "chat_id"));
        if (!chat || !id_valid(chat))
            *why = "chat_id is required";
        else
            memcpy(out->chat_id, chat, strlen(chat) + 1);
    } else if (!strcmp(type, "presence")) {
        out->kind = CHAT_FRAME_PRESENCE;
        const char *status = json_string_value(json_object_get(j, "status"));
        if (status && !strcmp(status, "away"))
            out->away = 1;
        else if (!status || strcmp(status, "online"))
            *why = "status is online or away";
    } else if (!strcmp(type, "message.send")) {
        out->kind = CHAT_FRAME_SEND;
        *why = parse_send(j, out);
    } else if (!strcmp(type, "ping")) {
        out->kind = CHAT_FRAME_PING;
    } else {
        *why = "unknown type (message.send, typing.start, typing.stop, presence, ping)";
    }
    if (*why) {
        err = DP_ERR_INVALID;
        chat_frame_clear(out);
    }
    json_decref(j);
    return err;
}

void chat_frame_clear(struct chat_frame *f)
{
    free(f->text);
    f->text = NULL;
    json_decref(f->attachments);
    f->attachments = NULL;
}
