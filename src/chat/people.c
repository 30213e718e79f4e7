/* The people around a chat user: blocks, contact requests, preferences (presence hidden,
 * receipts off), and who may see their presence and typing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_impl.h"
#include "core/err.h"
#include "core/id.h"
#include "core/timeutil.h"

static int user_exists(struct db *db, const char *id, char name[256])
{
    if (!id || !id_valid(id))
        return DP_ERR_NOT_FOUND;
    struct db_val p[] = {DB_TEXT(id)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT display_name FROM users WHERE id = ?", p, 1, &rows);
    if (err)
        return err;
    err = rows->nrows ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err && name)
        snprintf(name, 256, "%s", db_rows_text(rows, 0, 0));
    db_rows_free(rows);
    return err;
}

int chat_block(struct context *e, const char *user_id, int on)
{
    const char *me = e->caller->user_id;
    if (!user_id || !strcmp(user_id, me))
        return DP_ERR_NOT_FOUND;
    int err = user_exists(e->db, user_id, NULL);
    if (err)
        return err;
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(me), DB_TEXT(user_id), DB_TEXT(now)};
    return on ? db_query(e->db,
                         "INSERT INTO chat_blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?) "
                         "ON CONFLICT DO NOTHING",
                         p, 3, NULL)
              : db_query(e->db, "DELETE FROM chat_blocks WHERE user_id = ? AND blocked_id = ?", p, 2, NULL);
}

int chat_blocks_list(struct context *e, json_t **items)
{
    struct db_val p[] = {DB_TEXT(e->caller->user_id)};
    struct db_rows *rows;
    int err = db_query(e->db,
                       "SELECT b.blocked_id, u.display_name, b.created_at FROM chat_blocks b "
                       "JOIN users u ON u.id = b.blocked_id WHERE b.user_id = ? ORDER BY b.created_at",
                       p, 1, &rows);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < rows->nrows; i++)
        json_array_append_new(*items,
                              json_pack("{s:{s:s,s:s},s:s}", "user", "id", db_rows_text(rows, i, 0), "display_name",
                                        db_rows_text(rows, i, 1), "created_at", db_rows_text(rows, i, 2)));
    db_rows_free(rows);
    return DP_OK;
}

static json_t *contact_json(const char *id, const char *name, const char *status, const char *direction)
{
    return json_pack("{s:{s:s,s:s},s:s,s:s}", "user", "id", id, "display_name", name, "status", status, "direction",
                     direction);
}

/* The status of the request between a and b ("pending"/"accepted", "" none) and who asked. */
static int contact_state(struct db *db, const char *a, const char *b, char status[16], char from[ID_LEN])
{
    struct db_val p[] = {DB_TEXT(a), DB_TEXT(b), DB_TEXT(b), DB_TEXT(a)};
    struct db_rows *rows;
    int err = db_query(db,
                       "SELECT status, from_id FROM chat_contacts WHERE (from_id = ? AND to_id = ?) OR "
                       "(from_id = ? AND to_id = ?)",
                       p, 4, &rows);
    if (err)
        return err;
    snprintf(status, 16, "%s", rows->nrows ? db_rows_text(rows, 0, 0) : "");
    snprintf(from, ID_LEN, "%s", rows->nrows ? db_rows_text(rows, 0, 1) : "");
    db_rows_free(rows);
    return DP_OK;
}

int chat_contact_request(struct context *e, const char *user_id, json_t **out)
{
    const char *me = e->caller->user_id;
    char name[256], status[16], from[ID_LEN], now[RFC3339_LEN];
    if (!user_id || !strcmp(user_id, me))
        return DP_ERR_NOT_FOUND;
    int err = user_exists(e->db, user_id, name);
    if (err || (err = contact_state(e->db, me, user_id, status, from)))
        return err;
    if (!strcmp(status, "pending") && !strcmp(from, user_id))
        return chat_contact_accept(e, user_id, out); /* they asked first: asking back accepts */
    if (!*status) {
        int blocked = 0;
        if ((err = chat_blocked_between(e->db, me, user_id, &blocked)))
            return err;
        /* A request to someone who blocked the caller looks sent and stays unseen. */
        time_rfc3339(time_now_ms(), now);
        struct db_val p[] = {DB_TEXT(me), DB_TEXT(user_id), DB_TEXT(now)};
        if (!blocked && (err = db_query(e->db,
                                        "INSERT INTO chat_contacts (from_id, to_id, status, created_at) "
                                        "VALUES (?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
                                        p, 3, NULL)))
            return err;
        snprintf(status, sizeof status, "pending");
    }
    *out = contact_json(user_id, name, status, "outgoing");
    return *out ? DP_OK : DP_ERR_NOMEM;
}

int chat_contact_accept(struct context *e, const char *user_id, json_t **out)
{
    const char *me = e->caller->user_id;
    char name[256];
    int err = user_exists(e->db, user_id, name);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(me)};
    struct db_rows *rows;
    if ((err = db_query(e->db,
                        "UPDATE chat_contacts SET status = 'accepted' WHERE from_id = ? AND to_id = ? "
                        "RETURNING from_id",
                        p, 2, &rows)))
        return err;
    int found = rows->nrows > 0;
    db_rows_free(rows);
    if (!found)
        return DP_ERR_NOT_FOUND;
    *out = contact_json(user_id, name, "accepted", "incoming");
    return *out ? DP_OK : DP_ERR_NOMEM;
}

int chat_contact_remove(struct context *e, const char *user_id)
{
    const char *me = e->caller->user_id;
    if (!user_id || !id_valid(user_id))
        return DP_ERR_NOT_FOUND;
    struct db_val p[] = {DB_TEXT(me), DB_TEXT(user_id), DB_TEXT(user_id), DB_TEXT(me)};
    struct db_rows *rows;
    int err = db_query(e->db,
                       "DELETE FROM chat_contacts WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?) "
                       "RETURNING from_id",
                       p, 4, &rows);
    if (err)
        return err;
    err = rows->nrows ? DP_OK : DP_ERR_NOT_FOUND;
    db_rows_free(rows);
    return err;
}

int chat_contacts_list(struct context *e, json_t **items)
{
    const char *me = e->caller->user_id;
    struct db_val p[] = {DB_TEXT(me), DB_TEXT(me)};
    struct db_rows *rows;
    int err = db_query(e->db,
                       "SELECT c.to_id, u.display_name, c.status, 'outgoing' FROM chat_contacts c "
                       "JOIN users u ON u.id = c.to_id WHERE c.from_id = ? "
                       "UNION ALL SELECT c.from_id, u.display_name, c.status, 'incoming' FROM chat_contacts c "
                       "JOIN users u ON u.id = c.from_id WHERE c.to_id = ? ORDER BY 2, 1",
                       p, 2, &rows);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < rows->nrows; i++)
        json_array_append_new(*items, contact_json(db_rows_text(rows, i, 0), db_rows_text(rows, i, 1),
                                                   db_rows_text(rows, i, 2), db_rows_text(rows, i, 3)));
    db_rows_free(rows);
    return DP_OK;
}

int chat_prefs_read(struct db *db, const char *user_id, int *send_receipts, int *hide_presence)
{
    struct db_val p[] = {DB_TEXT(user_id)};
    struct db_rows *rows;
    int err = db_query(db, "SELECT send_receipts, hide_presence FROM chat_prefs WHERE user_id = ?", p, 1, &rows);
    if (err)
        return err;
    *send_receipts = rows->nrows ? (int)db_rows_int(rows, 0, 0) : 1;
    *hide_presence = rows->nrows ? (int)db_rows_int(rows, 0, 1) : 0;
    db_rows_free(rows);
    return DP_OK;
}

int chat_prefs_get(struct context *e, json_t **out)
{
    int receipts, hide;
    int err = chat_prefs_read(e->db, e->caller->user_id, &receipts, &hide);
    if (err)
        return err;
    *out = json_pack("{s:b,s:b}", "hide_presence", hide, "send_receipts", receipts);
    return *out ? DP_OK : DP_ERR_NOMEM;
}

int chat_prefs_set(struct context *e, const json_t *patch, json_t **out)
{
    int receipts, hide;
    int err = chat_prefs_read(e->db, e->caller->user_id, &receipts, &hide);
    if (err)
        return err;
    json_t *h = json_object_get(patch, "hide_presence"), *r = json_object_get(patch, "send_receipts");
    if ((h && !json_is_boolean(h)) || (r && !json_is_boolean(r)))
        return DP_ERR_INVALID;
    if (h)
        hide = json_is_true(h);
    if (r)
        receipts = json_is_true(r);
    struct db_val p[] = {DB_TEXT(e->caller->user_id), DB_INT(hide), DB_INT(receipts)};
    if ((err = db_query(e->db,
                        "INSERT INTO chat_prefs (user_id, hide_presence, send_receipts) VALUES (?, ?, ?) "
                        "ON CONFLICT (user_id) DO UPDATE SET hide_presence = excluded.hide_presence, "
                        "send_receipts = excluded.send_receipts",
                        p, 3, NULL)))
        return err;
    return chat_prefs_get(e, out);
}

/* No block between the user (the next two parameters, both their id) and the id in column col. */
#define NOT_BLOCKED_COND(col)                                                                                          \
    "NOT EXISTS (SELECT 1 FROM chat_blocks b WHERE (b.user_id = ? AND b.blocked_id = " col ") "                        \
    "OR (b.user_id = " col " AND b.blocked_id = ?))"
#define NOT_BLOCKED(col) "WHERE " NOT_BLOCKED_COND(col)

/* The people who may see user_id's presence — members of a chat with them and their accepted
 * contacts, neither having blocked the other — at most max; seen 1: with their last_seen, those
 * hiding their own left out. NULL rows when user_id hides theirs. */
static int audience_rows(struct db *db, const char *user_id, int max, int seen, struct db_rows **rows)
{
    int receipts, hide;
    *rows = NULL;
    int err = chat_prefs_read(db, user_id, &receipts, &hide);
    if (err || hide)
        return err;
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(user_id), DB_TEXT(user_id), DB_TEXT(user_id),
                         DB_TEXT(user_id), DB_TEXT(user_id), DB_INT(max)};
    /* Blocked either way: neither sees the other's presence (nor, below, typing). */
#define AUDIENCE                                                                                                       \
    "(SELECT o.user_id AS uid FROM chat_members me JOIN chat_members o ON o.chat_id = me.chat_id "                     \
    "WHERE me.user_id = ? AND me.left_at IS NULL AND o.left_at IS NULL AND o.user_id <> ? "                            \
    "UNION SELECT CASE WHEN from_id = ? THEN to_id ELSE from_id END FROM chat_contacts "                               \
    "WHERE status = 'accepted' AND ? IN (from_id, to_id)) a "
    return db_query(db,
                    seen ? "SELECT a.uid, s.last_seen FROM " AUDIENCE "LEFT JOIN chat_prefs s ON s.user_id = a.uid "
                           "WHERE " NOT_BLOCKED_COND("a.uid") " AND COALESCE(s.hide_presence, 0) = 0 LIMIT ?"
                         : "SELECT a.uid FROM " AUDIENCE NOT_BLOCKED("a.uid") " LIMIT ?",
                    p, 7, rows);
#undef AUDIENCE
}

int chat_presence_audience(struct db *db, const char *user_id, int max, json_t **out)
{
    struct db_rows *rows;
    *out = NULL;
    int err = audience_rows(db, user_id, max, 0, &rows);
    if (err || !rows)
        return err;
    *out = json_array();
    for (int i = 0; i < rows->nrows; i++)
        json_array_append_new(*out, json_string(db_rows_text(rows, i, 0)));
    db_rows_free(rows);
    return DP_OK;
}

int chat_presence_visible(struct db *db, const char *user_id, int max, json_t **out)
{
    struct db_rows *rows;
    *out = NULL;
    int err = audience_rows(db, user_id, max, 1, &rows);
    if (err || !rows)
        return err;
    *out = json_array();
    for (int i = 0; i < rows->nrows; i++) {
        const char *seen = db_rows_text(rows, i, 1);
        json_array_append_new(*out, json_pack("{s:s,s:o}", "user_id", db_rows_text(rows, i, 0), "last_seen",
                                              seen && *seen ? json_string(seen) : json_null()));
    }
    db_rows_free(rows);
    return DP_OK;
}

int chat_typing_audience(struct db *db, const char *chat_id, const char *user_id, json_t **out)
{
    int err = chat_member_check(db, chat_id, user_id, NULL);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(chat_id), DB_TEXT(user_id), DB_TEXT(user_id), DB_TEXT(user_id),
                         DB_INT(CHAT_FANOUT_MAX)};
    struct db_rows *rows;
    if ((err = db_query(db,
                        "SELECT m.user_id FROM chat_members m WHERE m.chat_id = ? AND m.user_id <> ? "
                        "AND m.left_at IS NULL AND " NOT_BLOCKED_COND("m.user_id") " LIMIT ?",
                        p, 5, &rows)))
        return err;
    *out = json_array();
    for (int i = 0; i < rows->nrows; i++)
        json_array_append_new(*out, json_string(db_rows_text(rows, i, 0)));
    db_rows_free(rows);
    return DP_OK;
}

int chat_last_seen_set(struct db *db, const char *user_id, const char *when)
{
    struct db_val p[] = {DB_TEXT(user_id), DB_TEXT(when)};
    return db_query(db,
                    "INSERT INTO chat_prefs (user_id, last_seen) VALUES (?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen",
                    p, 2, NULL);
}
