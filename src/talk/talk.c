/* Conversations with an avatar and one turn of them: the question stored before anything is
 * answered, the brain's reply (with the recording clip it can be heard as) stored after. */
#include "talk/talk.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/secret.h"
#include "auth/url_sig.h"
#include "avatar/avatar.h"
#include "avatar/avatar_store.h"
#include "avatar/clip.h"
#include "avatar/conversation_extract.h"
#include "avatar/personality_store.h"
#include "brain/brain.h"
#include "core/err.h"
#include "core/log.h"
#include "store/cache_gen.h"
#include "core/timeutil.h"
#include "providers/tts.h"
#include "store/db.h"
#include "store/db_read.h"

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
    if (!db_rows_is_null(r, i, 5) || (tts_current() && !strcmp(db_rows_text(r, i, 1), "avatar"))) {
        /* The reply can be heard — its clip, or spoken by speech synthesis (api/messages_audio.c
         * serves it): a signed link, so that an <audio src> plays it without a header, and a
         * visitor of a legacy page hears it too. */
        char url[192], sig[URL_SIG_LEN];
        int64_t exp = url_sig_expiry(time_now_ms() / 1000);
        url_sig_make("message-audio", db_rows_text(r, i, 0), exp, sig);
        snprintf(url, sizeof url, "/api/v1/messages/%s/audio?exp=%lld&sig=%s", db_rows_text(r, i, 0), (long long)exp,
                 sig);
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
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(conv),  DB_TEXT(role),         DB_TEXT(text),
                         DB_TEXT(c),  DB_TEXT(brain), DB_TEXT(audio_memory), DB_TEXT(now)};
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
    struct db_val p[] = {DB_TEXT(id)};
    return db_one(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?", p, 1, message_from_row, out);
}

/* The avatar fields a brain needs. */
struct persona {
    char name[512];
    char brain[16];
    int legacy;     /* kind legacy: the generative brain's guard watches its replies */
    char *greeting; /* malloc'd */
};

static int load_persona(struct db *db, const char *avatar_id, struct persona *p)
{
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT name, greeting, brain, kind FROM avatars WHERE id = ?", a, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    snprintf(p->name, sizeof p->name, "%s", db_rows_text(r, 0, 0));
    snprintf(p->brain, sizeof p->brain, "%s", db_rows_text(r, 0, 2));
    p->legacy = !strcmp(db_rows_text(r, 0, 3), "legacy");
    p->greeting = strdup(db_rows_text(r, 0, 1));
    db_rows_free(r);
    return p->greeting ? DP_OK : DP_ERR_NOMEM;
}

int talk_conversation(struct db *db, const char *cid, struct talk_conversation *out)
{
    if (!cid || !id_valid(cid))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(cid)};
    int err = db_query(db, "SELECT avatar_id, user_id, visitor_hash FROM conversations WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    snprintf(out->id, sizeof out->id, "%s", cid);
    snprintf(out->avatar_id, sizeof out->avatar_id, "%s", db_rows_text(r, 0, 0));
    snprintf(out->user_id, sizeof out->user_id, "%s", db_rows_is_null(r, 0, 1) ? "" : db_rows_text(r, 0, 1));
    snprintf(out->visitor_hash, sizeof out->visitor_hash, "%s", db_rows_is_null(r, 0, 2) ? "" : db_rows_text(r, 0, 2));
    db_rows_free(r);
    return DP_OK;
}

int talk_visitor_conversation(struct db *db, const char *slug, const char *cid, const char *token,
                              struct talk_conversation *out)
{
    json_t *a;
    int err = avatar_published(db, slug, &a);
    if (err)
        return err;
    int ok = json_is_true(json_object_get(a, "visitor_talk")) && !talk_conversation(db, cid, out) &&
             !strcmp(out->avatar_id, json_string_value(json_object_get(a, "id"))) && !*out->user_id;
    json_decref(a);
    if (!ok || !token || !*token)
        return DP_ERR_NOT_FOUND;
    char hash[SECRET_HASH_LEN];
    secret_hash(token, hash);
    return strlen(out->visitor_hash) == 64 && !sodium_memcmp(hash, out->visitor_hash, 64) ? DP_OK : DP_ERR_NOT_FOUND;
}

int talk_start(struct db *db, const char *avatar_id, const struct talk_holder *holder, char conv[ID_LEN],
               json_t **greeting)
{
    struct persona p = {0};
    int err = load_persona(db, avatar_id, &p);
    if (err)
        return err;
    char now[RFC3339_LEN], mid[ID_LEN], fallback[600];
    id_new(conv);
    time_rfc3339(time_now_ms(), now);
    snprintf(fallback, sizeof fallback, "Hello, I'm %s.", p.name);
    const char *text = *p.greeting ? p.greeting : fallback;
    struct db_val v[] = {DB_TEXT(conv), DB_TEXT(avatar_id), DB_TEXT(holder->user_id), DB_TEXT(holder->visitor_hash),
                         DB_TEXT(now),  DB_TEXT(now)};
    if (!(err = db_begin(db)) &&
        !(err = db_query(db,
                         "INSERT INTO conversations (id, avatar_id, user_id, visitor_hash, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         v, 6, NULL)) &&
        !(err = insert_message(db, conv, "avatar", text, NULL, "persona", NULL, mid)))
        err = db_commit(db);
    free(p.greeting);
    if (err) {
        db_rollback(db);
        return err;
    }
    return get_message(db, mid, greeting);
}

int talk_start_replay(struct db *db, const char *avatar_id, const struct talk_holder *holder,
                      const struct talk_turn *turns, int n, const char *text, char conv[ID_LEN], char user_mid[ID_LEN])
{
    char now[RFC3339_LEN], mid[ID_LEN];
    id_new(conv);
    time_rfc3339(time_now_ms(), now);
    struct db_val v[] = {DB_TEXT(conv), DB_TEXT(avatar_id), DB_TEXT(holder->user_id), DB_TEXT(holder->visitor_hash),
                         DB_TEXT(now),  DB_TEXT(now)};
    int err = db_begin(db);
    if (!err)
        err = db_query(db,
                       "INSERT INTO conversations (id, avatar_id, user_id, visitor_hash, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       v, 6, NULL);
    /* Only the last turns reach a brain: the older ones are not stored again on every request. */
    for (int i = n > HISTORY_TURNS ? n - HISTORY_TURNS : 0; i < n && !err; i++)
        err = insert_message(db, conv, turns[i].role, turns[i].text, NULL, NULL, NULL, mid);
    if (!err)
        err = insert_message(db, conv, "user", text, NULL, NULL, NULL, user_mid);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    return err;
}

int talk_add_user_message(struct db *db, const char *conv, const char *text, char mid[ID_LEN])
{
    int err = insert_message(db, conv, "user", text, NULL, NULL, NULL, mid);
    /* With --llm-extract, what the owner says is read for facts once the conversation goes quiet;
     * the turn is stored either way (a job not queued now is queued by the next turn). */
    int q = err ? DP_OK : conversation_extract_turn(db, conv);
    if (q)
        DP_LOG(LOG_WARN, "[talk] conversation %s: extraction not queued: %s", conv, dp_strerror(q));
    return err;
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

int talk_brain_persona(const struct brain_input *in, struct brain_persona *p)
{
    memset(p, 0, sizeof *p);
    struct db_rows *r;
    struct db_val a[] = {DB_TEXT(in->avatar_id)};
    int err =
        db_query(in->db, "SELECT description, personality, scenario, extensions FROM avatars WHERE id = ?", a, 1, &r);
    if (err)
        return err;
    int found = r->nrows == 1;
    json_t *x = found && !db_rows_is_null(r, 0, 3) ? json_loads(db_rows_text(r, 0, 3), 0, NULL) : NULL;
    const char *ex =
        json_string_value(json_object_get(json_object_get(json_object_get(x, "card"), "data"), "mes_example"));
    p->description = strdup(found ? db_rows_text(r, 0, 0) : "");
    p->personality = strdup(found ? db_rows_text(r, 0, 1) : "");
    p->scenario = strdup(found ? db_rows_text(r, 0, 2) : "");
    p->examples = strdup(ex ? ex : "");
    json_decref(x);
    db_rows_free(r);
    if (!p->description || !p->personality || !p->scenario || !p->examples) {
        brain_persona_cleanup(p);
        return DP_ERR_NOMEM;
    }
    return DP_OK;
}

int talk_brain_voice(const struct brain_input *in, char opening[32], double *formality)
{
    return personality_voice(in->db, in->avatar_id, opening, formality);
}

/* Sends a reply made whole to sink as a stream: word by word (with the spaces before each word), so
 * that every caller sees one shape of stream whatever the brain. */
static void stream_whole(const struct brain_sink *sink, const char *text, int (*cancelled)(void *), void *ctx)
{
    for (const char *p = text; *p && !(cancelled && cancelled(ctx));) {
        const char *e = p;
        while (*e == ' ')
            e++;
        while (*e && *e != ' ')
            e++;
        sink->delta(sink->ctx, p, (size_t)(e - p));
        p = e;
    }
}

int talk_answer(struct db *db, const char *conv, const char *avatar_id, const char *user_mid, const char *text,
                int (*cancelled)(void *ctx), void *ctx, const struct brain_sink *sink, json_t **reply)
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
    struct brain_input in = {db,  avatar_id,          p.name,           p.greeting, text,    hist, cancelled,
                             ctx, talk_brain_persona, talk_brain_voice, sink,       p.legacy};
    struct brain_reply out = {0};
    err = brain->reply(&in, &out);
    if (!err && brain_cancelled(&in))
        err = DP_ERR_CANCELLED; /* nothing half-stored: the history shows the question unanswered */
    json_decref(hist);
    free(p.greeting);
    if (!err && sink && sink->delta && !out.streamed)
        stream_whole(sink, out.text, cancelled, ctx);
    if (!err && sink && sink->citation) {
        size_t i;
        json_t *c;
        json_array_foreach (out.citations, i, c)
            sink->citation(sink->ctx, c);
    }
    if (!err && brain_cancelled(&in))
        err = DP_ERR_CANCELLED; /* gone while the pieces went out: nothing stored */
    char mid[ID_LEN], audio[ID_LEN];
    /* Decided once, here: reading a message then costs nothing more. */
    int heard = !err && clip_reply_memory(db, avatar_id, out.citations, audio);
    if (!err)
        err = insert_message(db, conv, "avatar", out.text, out.citations, brain->name, heard ? audio : NULL, mid);
    brain_reply_cleanup(&out);
    return err ? err : get_message(db, mid, reply);
}

int talk_keep_heard(struct db *db, const char *conv, const char *avatar_id, const char *heard, char mid[ID_LEN])
{
    struct persona p = {0};
    int err = load_persona(db, avatar_id, &p);
    if (err)
        return err;
    free(p.greeting);
    json_t *none = json_array();
    err = none ? insert_message(db, conv, "avatar", heard, none, p.brain, NULL, mid) : DP_ERR_NOMEM;
    json_decref(none);
    return err;
}

int talk_cut_reply(struct db *db, const char *conv, const char *mid, const char *heard)
{
    struct db_rows *r = NULL;
    int err;
    if (*heard) {
        struct db_val p[] = {DB_TEXT(heard), DB_TEXT(mid), DB_TEXT(conv)};
        err = db_query(db, "UPDATE messages SET text = ? WHERE id = ? AND conversation_id = ? AND role = 'avatar'", p,
                       3, &r);
    } else {
        struct db_val p[] = {DB_TEXT(mid), DB_TEXT(conv)};
        err = db_query(db, "DELETE FROM messages WHERE id = ? AND conversation_id = ? AND role = 'avatar'", p, 2, &r);
    }
    if (!err && (!r || !r->changes))
        err = DP_ERR_NOT_FOUND;
    db_rows_free(r);
    return err;
}

static json_t *conversation_from_row(const struct db_rows *r, int i)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", db_rows_text(r, i, 0), "avatar_id", db_rows_text(r, i, 1),
                     "created_at", db_rows_text(r, i, 2), "updated_at", db_rows_text(r, i, 3), "visitor",
                     db_rows_is_null(r, i, 4));
}

int talk_list(struct db *db, const char *avatar_id, const char *user_id, const char *before, long limit, json_t **items)
{
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(user_id)};
    return db_page(db,
                   user_id ? "SELECT id, avatar_id, created_at, updated_at, user_id FROM conversations WHERE "
                             "avatar_id = ? AND user_id = ?"
                           : "SELECT id, avatar_id, created_at, updated_at, user_id FROM conversations WHERE "
                             "avatar_id = ? AND user_id IS NULL",
                   "id", 1, p, user_id ? 2 : 1, before, limit, conversation_from_row, items);
}

int talk_messages(struct db *db, const char *conv, const char *from, int newest_first, long limit, json_t **items)
{
    struct db_val p[] = {DB_TEXT(conv)};
    return db_page(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?", "id", newest_first, p, 1,
                   from, limit, message_from_row, items);
}

int talk_conversation_full(struct db *db, const char *conv, long max, int *full)
{
    /* One index probe at the max-th row, not a count of every message on every turn. */
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(conv), DB_INT(max > 0 ? max - 1 : 0)};
    int err = db_query(db, "SELECT 1 FROM messages WHERE conversation_id = ? ORDER BY id LIMIT 1 OFFSET ?", p, 2, &r);
    if (err)
        return err;
    *full = r->nrows > 0;
    db_rows_free(r);
    return DP_OK;
}

/* 1 when the holder of the message's conversation (row i: avatar, user, the user's org, visibility,
 * visitor_talk) may still hear it: a user while the avatar is visible to them, a visitor while the
 * page takes visitors. What a signed link is checked against, so that it dies with the access. */
static int holder_still_may(struct db *db, const struct db_rows *r)
{
    if (db_rows_is_null(r, 0, 5)) {
        const char *vis = db_rows_text(r, 0, 7);
        return (!strcmp(vis, "link") || !strcmp(vis, "public")) && db_rows_int(r, 0, 8);
    }
    struct caller holder = {0};
    snprintf(holder.user_id, sizeof holder.user_id, "%s", db_rows_text(r, 0, 5));
    snprintf(holder.org_id, sizeof holder.org_id, "%s", db_rows_is_null(r, 0, 6) ? "" : db_rows_text(r, 0, 6));
    return avatar_access(db, &holder, db_rows_text(r, 0, 0), AVATAR_VIEW, NULL) == DP_OK;
}

/* Finds message mid in one of the caller's conversations whose avatar they still see — or, with c
 * NULL (a signed link), in a conversation whose holder still may — and the recording span it is
 * heard from. DP_ERR_NOT_FOUND (nothing set) when it may not be heard; DP_OK with *has 0 when the
 * reply has no audio. */
int talk_reply_audio(struct db *db, const struct caller *c, const char *mid, struct talk_audio *a, int *has)
{
    *has = 0;
    a->text = NULL;
    if (!mid || !id_valid(mid))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(mid), DB_TEXT(c ? c->user_id : ""), DB_INT(!c)};
    int err = db_query(db,
                       "SELECT c.avatar_id, d.blob_key, d.mime, mem.start_ms, mem.end_ms, c.user_id, u.org_id, "
                       "a.visibility, a.visitor_talk, m.role, m.text FROM messages m "
                       "JOIN conversations c ON c.id = m.conversation_id "
                       "JOIN avatars a ON a.id = c.avatar_id AND a.deleted_at IS NULL "
                       "LEFT JOIN users u ON u.id = c.user_id "
                       "LEFT JOIN memories mem ON mem.id = m.audio_memory_id "
                       "LEFT JOIN media d ON d.id = mem.media_id WHERE m.id = ? AND (c.user_id = ? OR ? = 1)",
                       p, 3, &r);
    if (err)
        return err;
    int may = r->nrows == 1 &&
              (c ? !(err = avatar_access(db, c, db_rows_text(r, 0, 0), AVATAR_VIEW, NULL)) : holder_still_may(db, r));
    if (!may) {
        db_rows_free(r);
        return err ? err : DP_ERR_NOT_FOUND;
    }
    if (!db_rows_is_null(r, 0, 1) && !db_rows_is_null(r, 0, 3) && !db_rows_is_null(r, 0, 4)) {
        snprintf(a->key, sizeof a->key, "%s", db_rows_text(r, 0, 1));
        snprintf(a->mime, sizeof a->mime, "%s", db_rows_text(r, 0, 2));
        a->start_ms = db_rows_int(r, 0, 3);
        a->end_ms = db_rows_int(r, 0, 4);
        *has = 1;
    } else if (tts_current() && !strcmp(db_rows_text(r, 0, 9), "avatar")) {
        if (!(a->text = strdup(db_rows_text(r, 0, 10)))) {
            db_rows_free(r);
            return DP_ERR_NOMEM;
        }
        *has = 2;
    }
    snprintf(a->avatar_id, sizeof a->avatar_id, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return DP_OK;
}

void talk_conversation_scope(const char *cid, char *out)
{
    cache_gen_scope(out, "conversation", cid);
}

void talk_conversation_changed(struct cache *c, const char *cid)
{
    char scope[CACHE_GEN_SCOPE_MAX];
    talk_conversation_scope(cid, scope);
    cache_gen_bump(c, scope);
}

void talk_audio_cleanup(struct talk_audio *a)
{
    free(a->text);
    a->text = NULL;
}
