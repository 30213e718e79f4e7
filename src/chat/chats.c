/* Chats: starting one with people the caller may reach, listing (last message, unread count),
 * leaving and muting; and the membership and reach checks the other chat files share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_impl.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/cache.h"

int chat_group_max = 50;

int chat_member_check(struct db *db, const char *chat_id, const char *user_id, char kind_out[8])
{
    if (!id_valid(chat_id))
        return DP_ERR_NOT_FOUND;
    struct db_val p[] = {DB_TEXT(chat_id), DB_TEXT(user_id)};
    struct db_rows *rows;
    int err = db_query(db,
                       "SELECT c.kind FROM chats c JOIN chat_members m ON m.chat_id = c.id "
                       "WHERE c.id = ? AND m.user_id = ? AND m.left_at IS NULL",
                       p, 2, &rows);
    if (err)
        return err;
    err = rows->nrows ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err && kind_out)
        snprintf(kind_out, 8, "%s", db_rows_text(rows, 0, 0));
    db_rows_free(rows);
    return err;
}

static int exists(struct db *db, const char *sql, const struct db_val *p, int np, int *out)
{
    struct db_rows *rows;
    int err = db_query(db, sql, p, np, &rows);
    if (err)
        return err;
    *out = rows->nrows > 0;
    db_rows_free(rows);
    return DP_OK;
}

int chat_reachable(struct db *db, const char *a, const char *b, int *out)
{
    struct db_val p[] = {DB_TEXT(a), DB_TEXT(b), DB_TEXT(a), DB_TEXT(b), DB_TEXT(b),
                         DB_TEXT(a), DB_TEXT(a), DB_TEXT(a), DB_TEXT(b), DB_TEXT(b)};
    return exists(
        db,
        "SELECT 1 FROM users u1 JOIN users u2 ON u2.org_id = u1.org_id WHERE u1.id = ? AND u2.id = ? "
        "UNION ALL SELECT 1 FROM chat_contacts WHERE status = 'accepted' AND "
        "((from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)) "
        "UNION ALL SELECT 1 FROM avatars av WHERE av.deleted_at IS NULL "
        "AND (av.owner_id = ? OR EXISTS (SELECT 1 FROM avatar_shares s WHERE s.avatar_id = av.id AND s.user_id = ?)) "
        "AND (av.owner_id = ? OR EXISTS (SELECT 1 FROM avatar_shares s WHERE s.avatar_id = av.id AND s.user_id = ?))",
        p, 10, out);
}

int chat_blocked_between(struct db *db, const char *a, const char *b, int *out)
{
    struct db_val p[] = {DB_TEXT(a), DB_TEXT(b), DB_TEXT(b), DB_TEXT(a)};
    return exists(
        db, "SELECT 1 FROM chat_blocks WHERE (user_id = ? AND blocked_id = ?) OR (user_id = ? AND blocked_id = ?)", p,
        4, out);
}

int chat_members_recipients(struct db *db, const char *chat_id, struct chat_recipient **out, int *n)
{
    struct db_val p[] = {DB_TEXT(chat_id), DB_INT(CHAT_FANOUT_MAX)};
    struct db_rows *rows;
    int err = db_query(db,
                       "SELECT user_id FROM chat_members WHERE chat_id = ? AND left_at IS NULL "
                       "ORDER BY user_id LIMIT ?",
                       p, 2, &rows);
    if (err)
        return err;
    *out = calloc((size_t)rows->nrows + 1, sizeof **out);
    if (!*out) {
        db_rows_free(rows);
        return DP_ERR_NOMEM;
    }
    for (int i = 0; i < rows->nrows; i++) {
        const char *id = db_rows_text(rows, i, 0);
        memcpy((*out)[i].user_id, id, strnlen(id, ID_LEN - 1)); /* calloc'd: NUL-ended */
    }
    *n = rows->nrows;
    db_rows_free(rows);
    return DP_OK;
}

int chat_commit_event(struct context *e, const char *chat_id, struct chat_recipient *r, int n, const char *type,
                      const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text) {
        db_rollback(e->db);
        return DP_ERR_NOMEM;
    }
    int err = chat_events_append(e->db, chat_id, r, n, type, text);
    if (err || (err = db_commit(e->db))) {
        db_rollback(e->db);
        free(text);
        return err;
    }
    int perr = e->cache ? chat_events_publish(e->cache, r, n, type, text) : DP_OK;
    if (perr)
        DP_LOG(LOG_WARN, "[chat] publishing %s failed (%s): clients catch up on reconnect", type, dp_strerror(perr));
    free(text);
    return DP_OK;
}

json_t *chat_message_json(const struct db_rows *rows, int i, int col)
{
    const char *att = db_rows_text(rows, i, col + 7);
    json_t *attachments = att ? json_loads(att, 0, NULL) : NULL;
    int deleted = !db_rows_is_null(rows, i, col + 9);
    const char *text = db_rows_text(rows, i, col + 5), *reply = db_rows_text(rows, i, col + 6),
               *client = db_rows_text(rows, i, col + 4), *edited = db_rows_text(rows, i, col + 8);
    return json_pack("{s:s,s:s,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:s}", "id", db_rows_text(rows, i, col), "chat_id",
                     db_rows_text(rows, i, col + 1), "seq", (json_int_t)db_rows_int(rows, i, col + 2), "sender_id",
                     db_rows_text(rows, i, col + 3), "client_id", client ? json_string(client) : json_null(), "text",
                     text ? json_string(text) : json_null(), "reply_to", reply ? json_string(reply) : json_null(),
                     "attachments", attachments ? attachments : json_array(), "edited_at",
                     edited ? json_string(edited) : json_null(), "deleted", deleted, "created_at",
                     db_rows_text(rows, i, col + 10));
}

/* The chat's JSON as user_id sees it: members, their own mute and unread count, the last message. */
static int chat_json(struct db *db, const char *chat_id, const char *user_id, json_t **out)
{
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(chat_id)};
    struct db_rows *rows, *mem = NULL, *last = NULL;
    int err = db_query(db,
                       "SELECT c.id, c.kind, c.title, c.created_by, c.last_seq, c.created_at, c.updated_at, m.muted, "
                       "m.last_read_seq FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? "
                       "WHERE c.id = ? AND m.left_at IS NULL",
                       p, 2, &rows);
    if (err)
        return err;
    if (!rows->nrows) {
        db_rows_free(rows);
        return DP_ERR_NOT_FOUND;
    }
    struct db_val q[] = {DB_TEXT(chat_id)};
    if ((err = db_query(db,
                        "SELECT m.user_id, u.display_name, m.last_read_seq FROM chat_members m "
                        "JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? AND m.left_at IS NULL "
                        "ORDER BY m.joined_at, m.user_id",
                        q, 1, &mem)) ||
        (err =
             db_query(db, "SELECT " CHAT_MESSAGE_COLS " FROM chat_messages WHERE chat_id = ? ORDER BY seq DESC LIMIT 1",
                      q, 1, &last)))
        goto out;
    json_t *members = json_array();
    for (int i = 0; i < mem->nrows; i++)
        json_array_append_new(members,
                              json_pack("{s:s,s:s,s:I}", "id", db_rows_text(mem, i, 0), "display_name",
                                        db_rows_text(mem, i, 1), "last_read_seq", (json_int_t)db_rows_int(mem, i, 2)));
    int64_t last_seq = db_rows_int(rows, 0, 4), read = db_rows_int(rows, 0, 8);
    int64_t unread = 0;
    if (last_seq > read) {
        /* Messages after the last read, not the caller's own, not deleted. */
        struct db_val u[] = {DB_TEXT(chat_id), DB_INT(read), DB_TEXT(user_id)};
        struct db_rows *cnt;
        if ((err = db_query(db,
                            "SELECT COUNT(*) FROM chat_messages WHERE chat_id = ? AND seq > ? AND sender_id <> ? "
                            "AND deleted_at IS NULL",
                            u, 3, &cnt))) {
            json_decref(members);
            goto out;
        }
        unread = db_rows_int(cnt, 0, 0);
        db_rows_free(cnt);
    }
    *out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:b,s:o,s:s,s:s}", "id", db_rows_text(rows, 0, 0), "kind",
                     db_rows_text(rows, 0, 1), "title", db_rows_text(rows, 0, 2), "created_by",
                     db_rows_text(rows, 0, 3), "members", members, "last_seq", (json_int_t)last_seq, "last_read_seq",
                     (json_int_t)read, "unread", (json_int_t)unread, "muted", (int)db_rows_int(rows, 0, 7),
                     "last_message", last->nrows ? chat_message_json(last, 0, 0) : json_null(), "created_at",
                     db_rows_text(rows, 0, 5), "updated_at", db_rows_text(rows, 0, 6));
    err = *out ? DP_OK : DP_ERR_NOMEM;
out:
    db_rows_free(rows);
    db_rows_free(mem);
    db_rows_free(last);
    return err;
}

int chat_get(struct context *e, const char *chat_id, json_t **out)
{
    if (!id_valid(chat_id))
        return DP_ERR_NOT_FOUND;
    return chat_json(e->db, chat_id, e->caller->user_id, out);
}

/* The distinct participants (the caller first), each checked: exists, reachable, not blocked. */
static int collect_participants(struct context *e, const json_t *list, char (**ids)[ID_LEN], int *n)
{
    const char *me = e->caller->user_id;
    if (!json_is_array(list) || json_array_size(list) < 1)
        return DP_ERR_INVALID;
    if (json_array_size(list) > (size_t)chat_group_max)
        return DP_ERR_TOO_LARGE;
    char(*v)[ID_LEN] = calloc(json_array_size(list) + 1, ID_LEN);
    if (!v)
        return DP_ERR_NOMEM;
    int k = 0, err = DP_OK;
    snprintf(v[k++], ID_LEN, "%s", me);
    size_t i;
    json_t *it;
    json_array_foreach (list, i, it) {
        const char *id = json_string_value(it);
        if (!id) {
            err = DP_ERR_INVALID;
            break;
        }
        int dup = 0;
        for (int j = 0; j < k && !dup; j++)
            dup = !strcmp(v[j], id);
        if (dup)
            continue;
        int ok = 0, blocked = 0;
        if (!id_valid(id) || (err = chat_reachable(e->db, me, id, &ok)) || !ok) {
            err = err ? err : DP_ERR_NOT_FOUND;
            break;
        }
        if ((err = chat_blocked_between(e->db, me, id, &blocked)))
            break;
        if (blocked) {
            err = DP_ERR_FORBIDDEN;
            break;
        }
        snprintf(v[k++], ID_LEN, "%s", id);
    }
    if (!err && k < 2)
        err = DP_ERR_INVALID; /* only the caller */
    if (!err && k > chat_group_max)
        err = DP_ERR_TOO_LARGE;
    if (err) {
        free(v);
        return err;
    }
    *ids = v;
    *n = k;
    return DP_OK;
}

int chat_create(struct context *e, const json_t *participants, const char *title, int group, json_t **out, int *created)
{
    char(*ids)[ID_LEN];
    int n, err = collect_participants(e, participants, &ids, &n);
    if (err)
        return err;
    const char *me = e->caller->user_id;
    char key[2 * ID_LEN + 1] = "", id[ID_LEN], now[RFC3339_LEN];
    int direct = n == 2 && !group;
    if (direct)
        snprintf(key, sizeof key, "%s:%s", strcmp(ids[0], ids[1]) < 0 ? ids[0] : ids[1],
                 strcmp(ids[0], ids[1]) < 0 ? ids[1] : ids[0]);
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    *created = 0;
    if ((err = db_begin(e->db)))
        goto out;
    if (direct) {
        struct db_val p[] = {DB_TEXT(key)};
        struct db_rows *rows;
        if ((err = db_query(e->db, "SELECT id FROM chats WHERE direct_key = ?", p, 1, &rows)))
            goto rollback;
        if (rows->nrows) {
            /* The pair's chat exists: whoever had left it is back in. */
            snprintf(id, sizeof id, "%s", db_rows_text(rows, 0, 0));
            db_rows_free(rows);
            struct db_val q[] = {DB_TEXT(id)};
            if ((err = db_query(e->db, "UPDATE chat_members SET left_at = NULL WHERE chat_id = ?", q, 1, NULL)) ||
                (err = db_commit(e->db)))
                goto rollback;
            goto answer;
        }
        db_rows_free(rows);
    }
    struct db_val c[] = {DB_TEXT(id),
                         DB_TEXT(direct ? "direct" : "group"),
                         DB_TEXT(title ? title : ""),
                         DB_TEXT(direct ? key : NULL),
                         DB_TEXT(me),
                         DB_TEXT(now),
                         DB_TEXT(now)};
    if ((err = db_query(e->db,
                        "INSERT INTO chats (id, kind, title, direct_key, created_by, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        c, 7, NULL)))
        goto rollback;
    for (int i = 0; i < n; i++) {
        struct db_val m[] = {DB_TEXT(id), DB_TEXT(ids[i]), DB_TEXT(now)};
        if ((err = db_query(e->db, "INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES (?, ?, ?)", m, 3,
                            NULL)))
            goto rollback;
    }
    if ((err = db_commit(e->db)))
        goto rollback;
    *created = 1;
answer:
    err = chat_json(e->db, id, me, out);
    goto out;
rollback:
    db_rollback(e->db);
    if (err == DP_ERR_CONFLICT && direct) { /* the pair's chat was made meanwhile */
        free(ids);
        return chat_create(e, participants, title, group, out, created);
    }
out:
    free(ids);
    return err;
}

int chat_list(struct context *e, const char *cursor, long limit, json_t **items)
{
    const char *me = e->caller->user_id;
    struct db_rows *rows;
    int err;
    if (cursor) {
        struct db_val p[] = {DB_TEXT(me), DB_TEXT(cursor), DB_TEXT(cursor), DB_TEXT(cursor), DB_INT(limit)};
        err = db_query(e->db,
                       "SELECT c.id FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? "
                       "WHERE m.left_at IS NULL AND (c.updated_at < (SELECT updated_at FROM chats WHERE id = ?) OR "
                       "(c.updated_at = (SELECT updated_at FROM chats WHERE id = ?) AND c.id < ?)) "
                       "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                       p, 5, &rows);
    } else {
        struct db_val p[] = {DB_TEXT(me), DB_INT(limit)};
        err = db_query(e->db,
                       "SELECT c.id FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ? "
                       "WHERE m.left_at IS NULL ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                       p, 2, &rows);
    }
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < rows->nrows && !err; i++) {
        json_t *c;
        if (!(err = chat_json(e->db, db_rows_text(rows, i, 0), me, &c)))
            json_array_append_new(*items, c);
    }
    db_rows_free(rows);
    if (err)
        json_decref(*items);
    return err;
}

int chat_leave(struct context *e, const char *chat_id)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    int err = chat_member_check(e->db, chat_id, e->caller->user_id, NULL);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(now), DB_TEXT(chat_id), DB_TEXT(e->caller->user_id)};
    return db_query(e->db, "UPDATE chat_members SET left_at = ? WHERE chat_id = ? AND user_id = ? AND left_at IS NULL",
                    p, 3, NULL);
}

int chat_set_muted(struct context *e, const char *chat_id, int muted)
{
    int err = chat_member_check(e->db, chat_id, e->caller->user_id, NULL);
    if (err)
        return err;
    struct db_val p[] = {DB_INT(muted ? 1 : 0), DB_TEXT(chat_id), DB_TEXT(e->caller->user_id)};
    return db_query(e->db, "UPDATE chat_members SET muted = ? WHERE chat_id = ? AND user_id = ?", p, 3, NULL);
}
