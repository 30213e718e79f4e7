/* Parses the client frames of the events WebSocket. */
#include "chat/frame.h"

#include <jansson.h>
#include <string.h>

#include "core/err.h"

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
        out->kind = type[7] == 's' && type[8] == 't' && type[9] == 'a' ? CHAT_FRAME_TYPING_START
                                                                       : CHAT_FRAME_TYPING_STOP;
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
    } else if (!strcmp(type, "ping")) {
        out->kind = CHAT_FRAME_PING;
    } else {
        *why = "unknown type (typing.start, typing.stop, presence, ping)";
    }
    if (*why)
        err = DP_ERR_INVALID;
    json_decref(j);
    return err;
}
