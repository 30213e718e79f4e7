/* Conversations with an avatar: start (the greeting), list, history, and messages answered by
 * the avatar's brain — as JSON, or streamed as SSE (delta, citation, done). Messages are stored
 * before they are acknowledged. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "avatar/avatar.h"
#include "avatar/clip.h"
#include "brain/brain.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "net/sse.h"
#include "store/db.h"

#define MESSAGE_MAX 4000 /* bytes of one user message */
#define HISTORY_TURNS 12 /* earlier messages a brain sees */

/* The columns message_from_row reads, in order. */
#define MESSAGE_COLUMNS "id, role, text, citations, created_at, audio_memory_id"

static json_t *message_from_row(const struct db_rows *r, int i)
{
    const char *c = db_rows_text(r, i, 3);
    json_t *cites = c ? json_loads(c, 0, NULL) : NULL;
    json_t *m = json_pack("{s:s,s:s,s:s,s:o,s:s}", "id", db_rows_text(r, i, 0), "role", db_rows_text(r, i, 1), "text",
                          db_rows_text(r, i, 2), "citations", cites ? cites : json_array(), "created_at",
                          db_rows_text(r, i, 4));
    if (!db_rows_is_null(r, i, 5)) { /* the reply can be heard (messages_audio.c serves it) */
        char url[96];
        snprintf(url, sizeof url, "/api/v1/messages/%s/audio", db_rows_text(r, i, 0));
        json_object_set_new(m, "audio_url", json_string(url));
    }
    return m;
}

static int insert_message(struct db *db, const char *conv, const char *role, const char *text, json_t *citations,
                          const char *brain, const char *audio_memory, char id[ID_LEN])
{
    char now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    char *c = citations ? json_dumps(citations, JSON_COMPACT) : NULL;
    struct db_val p[] = {DB_TEXT(id),    DB_TEXT(conv), DB_TEXT(role),         DB_TEXT(text),
                         DB_TEXT(c),     DB_TEXT(brain), DB_TEXT(audio_memory), DB_TEXT(now)};
    int err = db_query(db,
                       "INSERT INTO messages (id, conversation_id, role, text, citations, brain, audio_memory_id, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 8, NULL);
    struct db_val u[] = {DB_TEXT(now), DB_TEXT(conv)};
    if (!err)
        err = db_query(db, "UPDATE conversations SET updated_at = ? WHERE id = ?", u, 2, NULL);
    free(c);
    return err;
}

static int get_message(struct db *db, const char *id, json_t **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        *out = message_from_row(r, 0);
    db_rows_free(r);
    return err;
}

/* The avatar fields a brain needs. */
struct persona {
    char id[ID_LEN];
    char name[512];
    char brain[16];
    char *greeting; /* malloc'd */
};

static int load_persona(struct db *db, const char *avatar_id, struct persona *p)
{
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT name, greeting, brain FROM avatars WHERE id = ?", a, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    snprintf(p->id, sizeof p->id, "%s", avatar_id);
    snprintf(p->name, sizeof p->name, "%s", db_rows_text(r, 0, 0));
    snprintf(p->brain, sizeof p->brain, "%s", db_rows_text(r, 0, 2));
    p->greeting = strdup(db_rows_text(r, 0, 1));
    db_rows_free(r);
    return p->greeting ? DP_OK : DP_ERR_NOMEM;
}

static int start_conversation(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    struct persona p = {0};
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = load_persona(e.db, ref.id, &p)))
        return err;
    char conv[ID_LEN], now[RFC3339_LEN], mid[ID_LEN];
    id_new(conv);
    time_rfc3339(time_now_ms(), now);
    char fallback[600];
    snprintf(fallback, sizeof fallback, "Hello, I'm %s.", p.name);
    const char *greeting = *p.greeting ? p.greeting : fallback;
    struct db_val v[] = {DB_TEXT(conv), DB_TEXT(ref.id), DB_TEXT(c->user_id), DB_TEXT(now), DB_TEXT(now)};
    if (!(err = db_begin(e.db)) &&
        !(err = db_query(e.db, "INSERT INTO conversations (id, avatar_id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                         v, 5, NULL)) &&
        !(err = insert_message(e.db, conv, "avatar", greeting, NULL, "persona", NULL, mid)))
        err = db_commit(e.db);
    free(p.greeting);
    if (err) {
        db_rollback(e.db);
        return err;
    }
    json_t *m;
    if ((err = get_message(e.db, mid, &m)))
        return err;
    res_json(res, 201, json_pack("{s:{s:s,s:s,s:s},s:o}", "conversation", "id", conv, "avatar_id", ref.id,
                                 "created_at", now, "message", m));
    return DP_OK;
}

static int list_conversations(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_VIEW, &ref)) ||
        (err = api_page(req, res, &limit, &cursor)))
        return err;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT id, created_at, updated_at FROM conversations WHERE avatar_id = ? AND user_id = ?%s "
             "ORDER BY id DESC LIMIT ?",
             cursor ? " AND id < ?" : "");
    struct db_val p[4] = {DB_TEXT(ref.id), DB_TEXT(c->user_id)};
    int np = 2;
    if (cursor)
        p[np++] = DB_TEXT(cursor);
    p[np++] = DB_INT(limit);
    struct db_rows *r;
    if ((err = db_query(e.db, sql, p, np, &r)))
        return err;
    json_t *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s}", "id", db_rows_text(r, i, 0), "avatar_id", ref.id,
                                               "created_at", db_rows_text(r, i, 1), "updated_at",
                                               db_rows_text(r, i, 2)));
    db_rows_free(r);
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

/* The caller's conversation (and its avatar still visible to them); else DP_ERR_NOT_FOUND. */
static int own_conversation(struct auth_env *e, const struct caller *c, const char *cid, char avatar[ID_LEN])
{
    if (!cid || !id_valid(cid))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(cid), DB_TEXT(c->user_id)};
    int err = db_query(e->db, "SELECT avatar_id FROM conversations WHERE id = ? AND user_id = ?", p, 2, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    snprintf(avatar, ID_LEN, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return avatar_access(e->db, c, avatar, AVATAR_VIEW, NULL);
}

static int list_messages(struct request *req, struct response *res)
{
    struct auth_env e;
    char avatar[ID_LEN];
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = own_conversation(&e, api_caller(req), req_param(req, "cid"), avatar)) ||
        (err = api_page(req, res, &limit, &cursor)))
        return err;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?%s ORDER BY id LIMIT ?",
             cursor ? " AND id > ?" : "");
    struct db_val p[3] = {DB_TEXT(req_param(req, "cid"))};
    int np = 1;
    if (cursor)
        p[np++] = DB_TEXT(cursor);
    p[np++] = DB_INT(limit);
    struct db_rows *r;
    if ((err = db_query(e.db, sql, p, np, &r)))
        return err;
    json_t *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(items, message_from_row(r, i));
    db_rows_free(r);
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

/* The last HISTORY_TURNS messages before `before_id`, oldest first. */
static json_t *history(struct db *db, const char *conv, const char *before_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(conv), DB_TEXT(before_id), DB_INT(HISTORY_TURNS)};
    json_t *items = json_array();
    if (db_query(db,
                 "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ? AND id < ? "
                 "ORDER BY id DESC LIMIT ?",
                 p, 3, &r))
        return items;
    for (int i = r->nrows - 1; i >= 0; i--)
        json_array_append_new(items, message_from_row(r, i));
    db_rows_free(r);
    return items;
}

/* The brain's cancel check for a streamed reply. */
static int client_gone(void *sse)
{
    return sse_cancelled(sse);
}

/* Answers the stored user message user_mid and stores the reply; *reply_out is its JSON. With
 * stream set, a client that goes away before the brain is done cancels the reply (nothing is
 * stored: the history then shows the question unanswered, never a reply nobody saw arrive). */
static int answer(struct db *db, const char *conv, const char *avatar_id, const char *user_mid, const char *text,
                  struct sse *stream, json_t **reply_out)
{
    struct persona p = {0};
    int err = load_persona(db, avatar_id, &p);
    if (err)
        return err;
    const struct brain_ops *brain = brain_for(p.brain);
    if (!brain) {
        free(p.greeting);
        return DP_ERR_NOT_IMPLEMENTED;
    }
    json_t *hist = history(db, conv, user_mid);
    struct brain_input in = {db, avatar_id, p.name, p.greeting, text, hist, stream ? client_gone : NULL, stream};
    struct brain_reply out = {0};
    err = brain->reply(&in, &out);
    if (!err && brain_cancelled(&in))
        err = DP_ERR_CANCELLED;
    json_decref(hist);
    free(p.greeting);
    char mid[ID_LEN], audio[ID_LEN];
    /* Decided once, here: reading a message then costs nothing more. */
    int heard = !err && clip_reply_memory(db, avatar_id, out.citations, audio);
    if (!err)
        err = insert_message(db, conv, "avatar", out.text, out.citations, brain->name, heard ? audio : NULL, mid);
    brain_reply_cleanup(&out);
    return err ? err : get_message(db, mid, reply_out);
}

struct stream_job {
    char conv[ID_LEN], avatar[ID_LEN], user_mid[ID_LEN];
    char *text;
};

static void stream_job_free(void *arg)
{
    struct stream_job *j = arg;
    free(j->text);
    free(j);
}

/* SSE: the reply word by word (delta), its citations, then done with the stored message. */
static void stream_reply(struct sse *s, void *arg, void *state)
{
    struct stream_job *j = arg;
    struct db *db;
    json_t *reply = NULL;
    int err = worker_db(state, &db);
    if (!err)
        err = answer(db, j->conv, j->avatar, j->user_mid, j->text, s, &reply);
    if (err == DP_ERR_CANCELLED)
        return; /* nobody is listening */
    if (err) {
        json_t *e = json_pack("{s:s,s:s}", "code", dp_errcode(err), "message", dp_strerror(err));
        char *ej = json_dumps(e, JSON_COMPACT);
        sse_send(s, "error", ej ? ej : "{}");
        free(ej);
        json_decref(e);
        return;
    }
    const char *t = json_string_value(json_object_get(reply, "text"));
    for (const char *p = t; *p && !sse_cancelled(s);) {
        const char *e = p;
        while (*e == ' ')
            e++;
        while (*e && *e != ' ')
            e++;
        json_t *d = json_pack("{s:s%}", "text", p, (size_t)(e - p));
        char *dj = json_dumps(d, JSON_COMPACT);
        sse_send(s, "delta", dj ? dj : "{}");
        free(dj);
        json_decref(d);
        p = e;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(reply, "citations"), i, c)
    {
        char *cj = json_dumps(c, JSON_COMPACT);
        sse_send(s, "citation", cj ? cj : "{}");
        free(cj);
    }
    json_t *done = json_pack("{s:O}", "message", reply);
    char *dj = json_dumps(done, JSON_COMPACT);
    sse_send(s, "done", dj ? dj : "{}");
    free(dj);
    json_decref(done);
    json_decref(reply);
}

static int post_message(struct request *req, struct response *res)
{
    struct auth_env e;
    char avatar[ID_LEN], user_mid[ID_LEN];
    const char *text;
    int err = api_env(req, &e);
    if (err || (err = own_conversation(&e, api_caller(req), req_param(req, "cid"), avatar)) ||
        (err = api_body_str(req, res, "text", MESSAGE_MAX, &text)))
        return err;
    if (!text || strspn(text, " \t\r\n") == strlen(text)) {
        res_error(res, req, DP_ERR_INVALID, "text is required (up to %d bytes)", MESSAGE_MAX);
        return DP_ERR_INVALID;
    }
    /* The user's message is durable before anything is answered. */
    if ((err = insert_message(e.db, req_param(req, "cid"), "user", text, NULL, NULL, NULL, user_mid)))
        return err;
    if (req->accept && strcasestr(req->accept, "text/event-stream")) {
        struct stream_job *j = calloc(1, sizeof *j);
        if (!j || !(j->text = strdup(text))) {
            free(j);
            return DP_ERR_NOMEM;
        }
        snprintf(j->conv, sizeof j->conv, "%s", req_param(req, "cid"));
        snprintf(j->avatar, sizeof j->avatar, "%s", avatar);
        snprintf(j->user_mid, sizeof j->user_mid, "%s", user_mid);
        err = sse_respond(req, res, stream_reply, j, stream_job_free);
        if (err)
            stream_job_free(j);
        return err;
    }
    json_t *reply;
    err = answer(e.db, req_param(req, "cid"), avatar, user_mid, text, NULL, &reply);
    if (err == DP_ERR_NOT_IMPLEMENTED) {
        res_error(res, req, err, "this avatar's brain is not available yet; the recall brain is");
        return err;
    }
    if (err)
        return err;
    res_json(res, 201, json_pack("{s:o}", "message", reply));
    return DP_OK;
}

const struct route conversations_routes[] = {
    {"POST", "/api/v1/avatars/{id}/conversations", 0, 0, start_conversation, "conversations",
     "Start a conversation; the avatar's greeting is its first message", NULL, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/conversations", 0, 0, list_conversations, "conversations",
     "The caller's conversations with this avatar, newest first", NULL, NULL, NULL},
    {"GET", "/api/v1/conversations/{cid}/messages", 0, 0, list_messages, "conversations", "Conversation history",
     NULL, NULL, NULL},
    {"POST", "/api/v1/conversations/{cid}/messages", ROUTE_JSON, 0, post_message, "conversations",
     "Send {text}; the reply {message:{id,text,citations,audio_url?}} — or with Accept: text/event-stream, SSE "
     "events delta, citation, done",
     NULL, NULL, NULL},
    {0},
};
