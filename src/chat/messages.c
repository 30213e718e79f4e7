/* Chat messages: sends (durable before acknowledged, idempotent by client id, numbered per
 * chat), edits and deletes for everyone, history pages and read state with receipts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/timeutil.h"

/* The message id (or the message with client_id of sender) as JSON; DP_ERR_NOT_FOUND. */
static int message_by(struct db *db, const char *sql, const char *a, const char *b, json_t **out)
{
    struct db_val p[] = {DB_TEXT(a), DB_TEXT(b)};
    struct db_rows *rows;
    int err = db_query(db, sql, p, 2, &rows);
    if (err)
        return err;
    err = rows->nrows ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err && !(*out = chat_message_json(rows, 0, 0)))
        err = DP_ERR_NOMEM;
    db_rows_free(rows);
    return err;
}

static int by_client_id(struct db *db, const char *sender, const char *client_id, json_t **out)
{
    return message_by(db, "SELECT " CHAT_MESSAGE_COLS " FROM chat_messages WHERE sender_id = ? AND client_id = ?",
                      sender, client_id, out);
}

/* The attachments as stored: [{media_id, kind, mime, size, filename}], each one of the sender's
 * uploads. DP_ERR_INVALID otherwise. */
static int attachments_json(struct db *db, const char *sender, const json_t *ids, json_t **out)
{
    *out = json_array();
    if (!ids)
        return DP_OK;
    if (!json_is_array(ids) || json_array_size(ids) > CHAT_ATTACHMENTS_MAX) {
        json_decref(*out);
        return DP_ERR_INVALID;
    }
    size_t i;
    json_t *it;
    json_array_foreach (ids, i, it) {
        const char *mid = json_string_value(it);
        struct db_rows *rows;
        struct db_val p[] = {DB_TEXT(mid), DB_TEXT(sender)};
        int err = mid && id_valid(mid) ? db_query(db,
                                                  "SELECT id, kind, mime, size, filename FROM media "
                                                  "WHERE id = ? AND owner_id = ?",
                                                  p, 2, &rows)
                                       : DP_ERR_INVALID;
        if (!err && !rows->nrows) {
            db_rows_free(rows);
            err = DP_ERR_INVALID;
        }
        if (err) {
            json_decref(*out);
            return err;
        }
        const char *fn = db_rows_text(rows, 0, 4);
        json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:I,s:o}", "media_id", db_rows_text(rows, 0, 0), "kind",
                                              db_rows_text(rows, 0, 1), "mime", db_rows_text(rows, 0, 2), "size",
                                              (json_int_t)db_rows_int(rows, 0, 3), "filename",
                                              fn ? json_string(fn) : json_null()));
        db_rows_free(rows);
    }
    return DP_OK;
}

/* In a one-to-one chat, DP_ERR_FORBIDDEN when either blocked the other. */
static int direct_block_check(struct db *db, const char *chat_id, const char *me)
{
    struct db_val p[] = {DB_TEXT(chat_id), DB_TEXT(me)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT user_id FROM chat_members WHERE chat_id = ? AND user_id <> ?", p, 2, &rows);
    if (err)
        return err;
    int blocked = 0;
    for (int i = 0; i < rows->nrows && !err && !blocked; i++)
        err = chat_blocked_between(db, me, db_rows_text(rows, i, 0), &blocked);
    db_rows_free(rows);
    return err ? err : blocked ? DP_ERR_FORBIDDEN : DP_OK;
}

/* A send checked and ready to write: its stored attachments, then (written) its message's JSON
 * (the event to publish once the transaction is committed, and the sender's answer). */
struct staged {
    char *att_text;
    struct chat_recipient *r;
    int n;
    char *data;
};

static void staged_clear(struct staged *st)
{
    free(st->att_text);
    free(st->r);
    free(st->data);
    memset(st, 0, sizeof *st);
}

/* The message just stored, as chat_message_json gives it, written straight to text (no SELECT
 * of the row and no tree: both were a fifth of a send's instructions). */
static char *written_json(const char *id, const char *chat_id, int64_t seq, const char *sender,
                          const struct chat_send *s, const char *att_text, const char *now)
{
    struct buf b;
    struct jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_obj(&w);
    jw_kstr(&w, "id", id);
    jw_kstr(&w, "chat_id", chat_id);
    jw_kint(&w, "seq", seq);
    jw_kstr(&w, "sender_id", sender);
    jw_kstr(&w, "client_id", s->client_id);
    jw_kstr(&w, "text", s->text);
    jw_kstr(&w, "reply_to", s->reply_to);
    jw_key(&w, "attachments");
    jw_raw(&w, att_text, strlen(att_text));
    jw_key(&w, "edited_at");
    jw_null(&w);
    jw_kbool(&w, "deleted", 0);
    jw_kstr(&w, "created_at", now);
    jw_obj_end(&w);
    if (jw_finish(&w)) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_steal(&b, NULL); /* NUL-terminated */
}

/* What a batch has read once for all its sends, inside its transaction: the chat whose
 * membership and blocks were checked for the caller (its next sends to it skip those two checks:
 * nothing changes them meanwhile), and the messages its client ids already name. */
struct checked_chat {
    char chat_id[ID_LEN]; /* "" when none */
    json_t **prior;       /* NULL: look each client id up; else per send, the message or NULL */
    int at;               /* the send being checked */
};

/* prior[i]: the caller's message already stored with send i's client id (one query for all). */
static int prior_sends(struct db *db, const char *me, const struct chat_send_item *v, int n, json_t **prior)
{
    static const char head[] = "SELECT " CHAT_MESSAGE_COLS " FROM chat_messages WHERE sender_id = ? AND client_id IN (";
    struct db_val *p = calloc((size_t)n + 1, sizeof *p);
    char *sql = malloc(sizeof head + 2 * (size_t)n + 2);
    int k = 0, err = p && sql ? DP_OK : DP_ERR_NOMEM;
    struct db_rows *rows = NULL;
    if (!err) {
        p[k++] = DB_TEXT(me);
        size_t o = sizeof head - 1;
        memcpy(sql, head, o);
        for (int i = 0; i < n; i++)
            if (v[i].send.client_id) {
                p[k++] = DB_TEXT(v[i].send.client_id);
                memcpy(sql + o, "?,", 2);
                o += 2;
            }
        memcpy(sql + o - 1, ")", 2); /* the last comma (k > 1 when called) */
        err = k > 1 ? db_query(db, sql, p, k, &rows) : DP_OK;
    }
    for (int r = 0; rows && r < rows->nrows && !err; r++)
        for (int i = 0; i < n && !err; i++)
            if (v[i].send.client_id && !strcmp(v[i].send.client_id, db_rows_text(rows, r, 4)) && !prior[i] &&
                !(prior[i] = chat_message_json(rows, r, 0)))
                err = DP_ERR_NOMEM;
    db_rows_free(rows);
    free(p);
    free(sql);
    return err;
}

/* The checks of a send, before any write: membership, a retried client_id (*msg, *dup), blocks
 * (these two skipped for the chat memo holds; recorded in it once passed), attachments, reply_to. */
static int send_check(struct context *e, const char *chat_id, const struct chat_send *s, struct staged *st,
                      json_t **msg, int *dup, struct checked_chat *memo)
{
    const char *me = e->caller->user_id;
    char kind[8] = "";
    json_t *att = NULL;
    int known = memo && !strcmp(memo->chat_id, chat_id), err;
    *dup = 0;
    if (!known && (err = chat_member_check(e->db, chat_id, me, kind)))
        return err;
    if (s->client_id && memo && memo->prior)
        err = memo->prior[memo->at] ? (*msg = json_incref(memo->prior[memo->at]), DP_OK) : DP_ERR_NOT_FOUND;
    else if (s->client_id)
        err = by_client_id(e->db, me, s->client_id, msg);
    if (s->client_id && !err) {
        *dup = 1; /* a retry: the first send's message, nothing stored again */
        if (strcmp(json_string_value(json_object_get(*msg, "chat_id")), chat_id)) {
            json_decref(*msg);
            *msg = NULL; /* the caller frees what it gets */
            return DP_ERR_CONFLICT;
        }
        return DP_OK;
    }
    if (err && err != DP_ERR_NOT_FOUND && s->client_id)
        return err;
    if (!known && !strcmp(kind, "direct") && (err = direct_block_check(e->db, chat_id, me)))
        return err;
    if (memo && !known)
        snprintf(memo->chat_id, sizeof memo->chat_id, "%s", chat_id);
    if ((err = attachments_json(e->db, me, s->attachments, &att)))
        return err;
    if (!s->text && !json_array_size(att)) {
        json_decref(att);
        return DP_ERR_INVALID;
    }
    if (s->reply_to) {
        struct db_val p[] = {DB_TEXT(s->reply_to), DB_TEXT(chat_id)};
        struct db_rows *rows;
        if (!id_valid(s->reply_to) ||
            (err = db_query(e->db, "SELECT 1 FROM chat_messages WHERE id = ? AND chat_id = ?", p, 2, &rows)) ||
            (rows->nrows == 0 && (db_rows_free(rows), err = DP_ERR_INVALID))) {
            json_decref(att);
            return err ? err : DP_ERR_INVALID;
        }
        db_rows_free(rows);
    }
    st->att_text = json_array_size(att) ? json_dumps(att, JSON_COMPACT) : strdup("[]"); /* the usual: none */
    json_decref(att);
    return st->att_text ? DP_OK : DP_ERR_NOMEM;
}

/* The members of chat_id who get its message.new: those of the batch's previous send when it went
 * to the same chat (the transaction holds what they were), else read. */
static int recipients_of(struct db *db, const char *chat_id, const struct staged *prev, const char *prev_chat,
                         struct staged *st)
{
    if (!prev || !prev->r || strcmp(prev_chat, chat_id))
        return chat_members_recipients(db, chat_id, &st->r, &st->n);
    st->r = malloc(((size_t)prev->n + 1) * sizeof *st->r);
    if (!st->r)
        return DP_ERR_NOMEM;
    memcpy(st->r, prev->r, ((size_t)prev->n + 1) * sizeof *st->r);
    st->n = prev->n;
    return DP_OK;
}

/* Takes the next k seqs of chat_id (the first in *first) and marks it active now. */
static int seqs_take(struct db *db, const char *chat_id, int k, int64_t *first)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_rows *rows;
    struct db_val u[] = {DB_INT(k), DB_TEXT(now), DB_TEXT(chat_id)};
    /* SQLite: the update, then a read of the row (RETURNING costs it a temporary table). */
    int sqlite = db_dialect(db) == DB_SQLITE;
    int err =
        db_query(db,
                 sqlite ? "UPDATE chats SET last_seq = last_seq + ?, updated_at = ? WHERE id = ?"
                        : "UPDATE chats SET last_seq = last_seq + ?, updated_at = ? WHERE id = ? RETURNING last_seq",
                 u, 3, sqlite ? NULL : &rows);
    if (!err && sqlite)
        err = db_query(db, "SELECT last_seq FROM chats WHERE id = ?", u + 2, 1, &rows);
    if (err)
        return err;
    *first = rows->nrows ? db_rows_int(rows, 0, 0) - k + 1 : 0;
    db_rows_free(rows);
    return *first > 0 ? DP_OK : DP_ERR_NOT_FOUND;
}

/* Inside the open transaction: stores the message with seq, appends message.new to the members'
 * logs; st->r and st->data are set for the publish after the commit. */
static int send_write(struct context *e, const char *chat_id, int64_t seq, const struct chat_send *s, struct staged *st,
                      const struct staged *prev, const char *prev_chat)
{
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    int err;
    struct db_val m[] = {DB_TEXT(id),           DB_TEXT(chat_id), DB_INT(seq),          DB_TEXT(e->caller->user_id),
                         DB_TEXT(s->client_id), DB_TEXT(s->text), DB_TEXT(s->reply_to), DB_TEXT(st->att_text),
                         DB_TEXT(now)};
    if ((err = db_query(e->db,
                        "INSERT INTO chat_messages (id, chat_id, seq, sender_id, client_id, text, reply_to, "
                        "attachments, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        m, 9, NULL)) ||
        (err = recipients_of(e->db, chat_id, prev, prev_chat, st)))
        return err;
    if (!(st->data = written_json(id, chat_id, seq, e->caller->user_id, s, st->att_text, now)))
        return DP_ERR_NOMEM;
    return chat_events_append(e->db, chat_id, st->r, st->n, "message.new", st->data);
}

static void send_publish(struct context *e, struct staged *st)
{
    int err = e->cache ? chat_events_publish(e->cache, st->r, st->n, "message.new", st->data) : DP_OK;
    if (err)
        DP_LOG(LOG_WARN, "[chat] publishing message.new failed (%s): clients catch up on reconnect", dp_strerror(err));
}

int chat_send(struct context *e, const char *chat_id, const struct chat_send *s, json_t **msg, int *dup)
{
    struct staged st = {0};
    int err = send_check(e, chat_id, s, &st, msg, dup, NULL);
    if (err || *dup)
        return err;
    if ((err = db_begin(e->db)))
        goto out;
    int64_t seq;
    if ((err = seqs_take(e->db, chat_id, 1, &seq)) || (err = send_write(e, chat_id, seq, s, &st, NULL, NULL)) ||
        (err = db_commit(e->db))) {
        db_rollback(e->db);
        if (err == DP_ERR_CONFLICT && s->client_id && !by_client_id(e->db, e->caller->user_id, s->client_id, msg)) {
            *dup = 1; /* the same send, racing itself: the first one won */
            err = DP_OK;
        }
        goto out;
    }
    send_publish(e, &st);
    if (!(*msg = json_loads(st.data, 0, NULL)))
        err = DP_ERR_NOMEM; /* stored and published: a retry with the client_id answers it */
out:
    staged_clear(&st);
    return err;
}

void chat_send_batch(struct context *e, struct chat_send_item *v, int n)
{
    struct staged *st = calloc((size_t)n, sizeof *st);
    struct checked_chat checked = {.chat_id = ""};
    int writes = 0, err = st ? DP_OK : DP_ERR_NOMEM, prev = -1;
    /* One transaction for the checks and writes of all of them, one commit: under load a
     * connection's sends queue up behind the one being written and go in together. The checks
     * read inside it too: in SQLite every statement outside a transaction begins a read
     * transaction of its own (and remaps the database file after another connection's commit). */
    if (!err)
        err = db_begin(e->db);
    json_t **prior = calloc((size_t)n, sizeof *prior);
    if (!err && prior && !prior_sends(e->db, e->caller->user_id, v, n, prior))
        checked.prior = prior; /* else each send looks its client id up */
    for (int i = 0; i < n; i++) {
        json_t *m = NULL;
        checked.at = i;
        v[i].msg = NULL;
        v[i].err = err ? DP_ERR_DB : send_check(e, v[i].chat_id, &v[i].send, &st[i], &m, &v[i].dup, &checked);
        if (!v[i].err && v[i].dup && !(v[i].msg = json_dumps(m, JSON_COMPACT)))
            v[i].err = DP_ERR_NOMEM;
        json_decref(m);
        writes += !v[i].err && !v[i].dup;
    }
    for (int i = 0; prior && i < n; i++)
        json_decref(prior[i]);
    free(prior);
    if (err)
        goto one_by_one;
    if (!writes) {
        db_rollback(e->db); /* nothing was written: only reads to end */
        goto one_by_one;
    }
    /* The seqs of a run of sends to one chat are taken together, at its first: one update of the
     * chat, not one each (the run ends at the next send to another chat, so none is left unused). */
    int64_t seq = 0;
    int seq_left = 0;
    for (int i = 0; i < n && !err; i++)
        if (!v[i].err && !v[i].dup) {
            if (!seq_left) {
                for (int j = i; j < n; j++)
                    if (!v[j].err && !v[j].dup) {
                        if (strcmp(v[j].chat_id, v[i].chat_id))
                            break;
                        seq_left++;
                    }
                if ((err = seqs_take(e->db, v[i].chat_id, seq_left, &seq)))
                    break;
            }
            err = send_write(e, v[i].chat_id, seq++, &v[i].send, &st[i], prev >= 0 ? &st[prev] : NULL,
                             prev >= 0 ? v[prev].chat_id : NULL);
            seq_left--;
            prev = i;
        }
    if (err || (err = db_commit(e->db)))
        db_rollback(e->db);
    if (!err) {
        for (int i = 0; i < n; i++)
            if (!v[i].err && !v[i].dup) {
                send_publish(e, &st[i]);
                v[i].msg = st[i].data; /* the answer: the message's JSON */
                st[i].data = NULL;
            }
        goto out;
    }
one_by_one:
    /* Nothing was stored: one at a time, so that one bad send (a client_id racing an HTTP retry)
     * does not fail the others; a check the failed transaction cut short (DP_ERR_DB) is redone. */
    for (int i = 0; i < n; i++)
        if ((!v[i].err && !v[i].dup) || v[i].err == DP_ERR_DB || v[i].err == DP_ERR_NOMEM) {
            json_t *m = NULL;
            free(v[i].msg);
            v[i].msg = NULL;
            v[i].dup = 0;
            v[i].err = chat_send(e, v[i].chat_id, &v[i].send, &m, &v[i].dup);
            if (!v[i].err && !(v[i].msg = json_dumps(m, JSON_COMPACT)))
                v[i].err = DP_ERR_NOMEM;
            json_decref(m);
        }
out:
    for (int i = 0; st && i < n; i++)
        staged_clear(&st[i]);
    free(st);
}

int chat_edit(struct context *e, const char *chat_id, const char *message_id, const char *text, json_t **msg)
{
    const char *me = e->caller->user_id;
    char now[RFC3339_LEN];
    int err = chat_member_check(e->db, chat_id, me, NULL);
    if (err)
        return err;
    if (!id_valid(message_id))
        return DP_ERR_NOT_FOUND;
    time_rfc3339(time_now_ms(), now);
    if ((err = db_begin(e->db)))
        return err;
    struct db_rows *rows;
    struct db_val p[] = {DB_TEXT(message_id), DB_TEXT(chat_id), DB_TEXT(me)};
    if ((err = db_query(e->db, "SELECT deleted_at FROM chat_messages WHERE id = ? AND chat_id = ? AND sender_id = ?", p,
                        3, &rows)))
        goto rollback;
    err = !rows->nrows ? DP_ERR_NOT_FOUND : !db_rows_is_null(rows, 0, 0) ? DP_ERR_CONFLICT : DP_OK;
    db_rows_free(rows);
    if (err)
        goto rollback;
    struct db_val u[] = {DB_TEXT(text), DB_TEXT(now), DB_TEXT(message_id)};
    err = text
              ? db_query(e->db, "UPDATE chat_messages SET text = ?, edited_at = ? WHERE id = ?", u, 3, NULL)
              : db_query(e->db, "UPDATE chat_messages SET text = NULL, attachments = '[]', deleted_at = ? WHERE id = ?",
                         u + 1, 2, NULL);
    if (err || (err = message_by(e->db, "SELECT " CHAT_MESSAGE_COLS " FROM chat_messages WHERE id = ? AND chat_id = ?",
                                 message_id, chat_id, msg)))
        goto rollback;
    struct chat_recipient *r = NULL;
    int n = 0;
    if ((err = chat_members_recipients(e->db, chat_id, &r, &n))) {
        json_decref(*msg);
        goto rollback;
    }
    err = chat_commit_event(e, chat_id, r, n, "message.updated", *msg);
    free(r);
    if (err)
        json_decref(*msg);
    return err;
rollback:
    db_rollback(e->db);
    return err;
}

int chat_history(struct context *e, const char *chat_id, int64_t before, long limit, json_t **items)
{
    int err = chat_member_check(e->db, chat_id, e->caller->user_id, NULL);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(chat_id), DB_INT(before), DB_INT(before), DB_INT(limit)};
    struct db_rows *rows;
    if ((err = db_query(e->db,
                        "SELECT " CHAT_MESSAGE_COLS " FROM chat_messages WHERE chat_id = ? AND (? = 0 OR seq < ?) "
                        "ORDER BY seq DESC LIMIT ?",
                        p, 4, &rows)))
        return err;
    *items = json_array();
    for (int i = 0; i < rows->nrows; i++)
        json_array_append_new(*items, chat_message_json(rows, i, 0));
    db_rows_free(rows);
    return DP_OK;
}

int chat_read(struct context *e, const char *chat_id, int64_t up_to, int64_t *read_seq)
{
    const char *me = e->caller->user_id;
    int send_receipts, hide;
    int err = chat_member_check(e->db, chat_id, me, NULL);
    if (err || (err = chat_prefs_read(e->db, me, &send_receipts, &hide)) || (err = db_begin(e->db)))
        return err;
    struct db_val p[] = {DB_TEXT(chat_id), DB_TEXT(me)};
    struct db_rows *rows;
    if ((err = db_query(e->db,
                        "SELECT m.last_read_seq, c.last_seq FROM chat_members m JOIN chats c ON c.id = m.chat_id "
                        "WHERE m.chat_id = ? AND m.user_id = ?",
                        p, 2, &rows)))
        goto rollback;
    int64_t was = db_rows_int(rows, 0, 0), last = db_rows_int(rows, 0, 1);
    db_rows_free(rows);
    int64_t now = up_to > last ? last : up_to;
    if (now <= was) {
        *read_seq = was;
        db_rollback(e->db);
        return DP_OK;
    }
    struct db_val u[] = {DB_INT(now), DB_TEXT(chat_id), DB_TEXT(me)};
    if ((err = db_query(e->db, "UPDATE chat_members SET last_read_seq = ? WHERE chat_id = ? AND user_id = ?", u, 3,
                        NULL)))
        goto rollback;
    *read_seq = now;
    /* With receipts off nobody else hears of it; the reader's own devices still do (unread counts). */
    struct chat_recipient *r = NULL, self = {.seq = 0};
    int n = 0;
    if (send_receipts) {
        if ((err = chat_members_recipients(e->db, chat_id, &r, &n)))
            goto rollback;
    } else {
        snprintf(self.user_id, ID_LEN, "%s", me);
        n = 1;
    }
    json_t *data = json_pack("{s:s,s:s,s:I}", "chat_id", chat_id, "user_id", me, "up_to", (json_int_t)now);
    err = data ? chat_commit_event(e, chat_id, r ? r : &self, n, "receipt.read", data) : DP_ERR_NOMEM;
    if (!data)
        db_rollback(e->db);
    json_decref(data);
    free(r);
    return err;
rollback:
    db_rollback(e->db);
    return err;
}
