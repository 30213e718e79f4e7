/* Parses the client frames of the events WebSocket. A frame is read into its known fields, then
 * checked once (frame_from). Frames made only of short ASCII strings and nulls — nearly every
 * message.send, typing and presence frame — are read by a scanner of that subset (a tenth of a
 * JSON parse's work, which was a sixth of a message's on the loop thread); anything else (escapes,
 * other bytes, numbers, arrays, unknown keys) goes to jansson, so both read the same language. */
#include "chat/frame.h"

#include <jansson.h>
#include <string.h>

#include "chat/chat.h"
#include "core/err.h"

enum field_state { F_ABSENT, F_NULL, F_STR, F_OTHER };

struct field {
    enum field_state st;
    const char *s; /* F_STR: the value, n bytes (not NUL-terminated) */
    size_t n;
};

enum { K_TYPE, K_CHAT, K_CLIENT, K_TEXT, K_REPLY, K_STATUS, K_ATT, K_COUNT };
static const char *const key_names[K_COUNT] = {"type",     "chat_id", "client_id",  "text",
                                               "reply_to", "status",  "attachments"};

struct fields {
    struct field f[K_COUNT];
    json_t *attachments; /* the jansson reading's (borrowed), when F_OTHER */
};

static int field_is(const struct field *f, const char *s)
{
    return f->st == F_STR && f->n == strlen(s) && !memcmp(f->s, s, f->n);
}

/* 1 when f is a string holding a valid id, copied to out. */
static int field_id(const struct field *f, char out[ID_LEN])
{
    if (f->st != F_STR || f->n != ID_LEN - 1)
        return 0;
    memcpy(out, f->s, ID_LEN - 1);
    out[ID_LEN - 1] = 0;
    return id_valid(out);
}

/* The fields of message.send into out; NULL or what is wrong. */
static const char *send_from(const struct fields *x, struct chat_frame *out)
{
    const struct field *cid = &x->f[K_CLIENT], *text = &x->f[K_TEXT], *reply = &x->f[K_REPLY];
    if (!field_id(&x->f[K_CHAT], out->chat_id))
        return "chat_id is required";
    if (cid->st != F_STR || !cid->n || cid->n > CHAT_CLIENT_ID_MAX || memchr(cid->s, 0, cid->n))
        return "client_id is required (up to 64 bytes): the ack names it, a resend with it is not stored twice";
    memcpy(out->client_id, cid->s, cid->n);
    out->client_id[cid->n] = 0;
    if (reply->st != F_ABSENT && reply->st != F_NULL && !field_id(reply, out->reply_to))
        return "reply_to is a message id";
    if (text->st != F_ABSENT && text->st != F_NULL) {
        if (text->st != F_STR || text->n > CHAT_TEXT_MAX || memchr(text->s, 0, text->n))
            return "text is a string of up to 4000 bytes";
        size_t blank = 0;
        while (blank < text->n && memchr(" \t\r\n", text->s[blank], 4))
            blank++;
        if (blank < text->n && !(out->text = strndup(text->s, text->n)))
            return "out of memory";
    }
    if (x->f[K_ATT].st == F_OTHER) {
        if (!json_is_array(x->attachments) || json_array_size(x->attachments) > CHAT_ATTACHMENTS_MAX)
            return "attachments is an array of up to 10 media ids";
        out->attachments = json_incref(x->attachments);
    } else if (x->f[K_ATT].st == F_STR) {
        return "attachments is an array of up to 10 media ids";
    }
    if (!out->text && !json_array_size(out->attachments))
        return "a message needs text or attachments";
    return NULL;
}

/* The frame the fields make; NULL or what is wrong. */
static const char *frame_from(const struct fields *x, struct chat_frame *out)
{
    const struct field *type = &x->f[K_TYPE], *status = &x->f[K_STATUS];
    if (type->st != F_STR)
        return "type is required";
    if (field_is(type, "typing.start") || field_is(type, "typing.stop")) {
        out->kind = field_is(type, "typing.start") ? CHAT_FRAME_TYPING_START : CHAT_FRAME_TYPING_STOP;
        return field_id(&x->f[K_CHAT], out->chat_id) ? NULL : "chat_id is required";
    }
    if (field_is(type, "presence")) {
        out->kind = CHAT_FRAME_PRESENCE;
        out->away = field_is(status, "away");
        return out->away || field_is(status, "online") ? NULL : "status is online or away";
    }
    if (field_is(type, "message.send")) {
        out->kind = CHAT_FRAME_SEND;
        return send_from(x, out);
    }
    if (field_is(type, "ping")) {
        out->kind = CHAT_FRAME_PING;
        return NULL;
    }
    return "unknown type (message.send, typing.start, typing.stop, presence, ping)";
}

/* ---- the two readings ---------------------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string of printable ASCII without escapes, p at its opening quote: its end (after the closing
 * quote) with s/n set, or NULL when it is not one. */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *n)
{
    const char *q = ++p;
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f)
        q++;
    if (q >= end || *q != '"')
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

/* Reads a flat object of known keys with plain strings or null as values. 1 when it could (x
 * filled), 0 when jansson must read it (whatever it is, valid or not). */
static int read_plain(const char *p, size_t len, struct fields *x)
{
    const char *end = p + len, *s;
    size_t n;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return 0;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end;
    for (;;) {
        if (p >= end || *p != '"' || !(p = plain_string(p, end, &s, &n)))
            return 0;
        int k = 0;
        while (k < K_COUNT && !(strlen(key_names[k]) == n && !memcmp(key_names[k], s, n)))
            k++;
        if (k == K_COUNT || x->f[k].st != F_ABSENT)
            return 0; /* an unknown key (any value), or a duplicate: jansson's to judge */
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            return 0;
        p = skip_ws(p, end);
        if (p < end && *p == '"') {
            if (!(p = plain_string(p, end, &x->f[k].s, &x->f[k].n)))
                return 0;
            x->f[k].st = F_STR;
        } else if (end - p >= 4 && !memcmp(p, "null", 4)) {
            p += 4;
            x->f[k].st = F_NULL;
        } else {
            return 0;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        return p < end && *p == '}' && skip_ws(p + 1, end) == end;
    }
}

/* The fields of a jansson object (strings borrowed from it). */
static void read_json(json_t *j, struct fields *x)
{
    for (int k = 0; k < K_COUNT; k++) {
        json_t *v = json_object_get(j, key_names[k]);
        struct field *f = &x->f[k];
        f->st = !v ? F_ABSENT : json_is_null(v) ? F_NULL : json_is_string(v) ? F_STR : F_OTHER;
        if (f->st == F_STR) {
            f->s = json_string_value(v);
            f->n = json_string_length(v);
        }
        if (k == K_ATT && f->st == F_OTHER)
            x->attachments = v;
    }
}

static int parse(const char *p, size_t n, struct chat_frame *out, const char **why, int plain_ok)
{
    struct fields x = {0};
    json_t *j = NULL;
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (n > CHAT_FRAME_MAX) {
        *why = "frame too large";
        return DP_ERR_INVALID;
    }
    if (!plain_ok || !read_plain(p, n, &x)) {
        memset(&x, 0, sizeof x);
        j = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            *why = "a frame is a JSON object with a type";
            return DP_ERR_INVALID;
        }
        read_json(j, &x);
    }
    *why = frame_from(&x, out);
    json_decref(j);
    if (!*why)
        return DP_OK;
    chat_frame_clear(out);
    return DP_ERR_INVALID;
}

int chat_frame_parse(const char *p, size_t n, struct chat_frame *out, const char **why)
{
    return parse(p, n, out, why, 1);
}

int chat_frame_parse_json(const char *p, size_t n, struct chat_frame *out, const char **why)
{
    return parse(p, n, out, why, 0);
}

void chat_frame_clear(struct chat_frame *f)
{
    free(f->text);
    f->text = NULL;
    json_decref(f->attachments);
    f->attachments = NULL;
}
