/* Shares and invitations of avatars (see sharing.h). */
#include "avatar/sharing.h"

#include <stdio.h>
#include <string.h>

#include "auth/accounts.h"
#include "avatar/avatar.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"

static int put_share(struct db *db, const char *avatar_id, const char *user_id, const char *role)
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(user_id), DB_TEXT(role), DB_TEXT(now)};
    struct db_val u[] = {DB_TEXT(role), DB_TEXT(avatar_id), DB_TEXT(user_id)};
    int err = db_query(db, "INSERT INTO avatar_shares (avatar_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", p, 4,
                       NULL);
    if (err == DP_ERR_CONFLICT) /* already shared: change the role */
        err = db_query(db, "UPDATE avatar_shares SET role = ? WHERE avatar_id = ? AND user_id = ?", u, 3, NULL);
    return err;
}

static int put_invitation(struct db *db, const char *avatar_id, const char *email, const char *role, const char *by,
                          char token[SECRET_LEN])
{
    char now[RFC3339_LEN], hash[SECRET_HASH_LEN];
    time_rfc3339(time_now_ms(), now);
    secret_new(token, hash);
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(email), DB_TEXT(role), DB_TEXT(by), DB_TEXT(hash), DB_TEXT(now)};
    struct db_val u[] = {DB_TEXT(role), DB_TEXT(hash), DB_TEXT(avatar_id), DB_TEXT(email)};
    int err = db_query(db,
                       "INSERT INTO avatar_invitations (avatar_id, email, role, invited_by, token_hash, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       p, 6, NULL);
    if (err == DP_ERR_CONFLICT)
        err = db_query(db, "UPDATE avatar_invitations SET role = ?, token_hash = ? WHERE avatar_id = ? AND email = ?",
                       u, 4, NULL);
    return err;
}

/* The user of org with id user_id, or (user_id NULL) with address email: found into out. */
static int org_user(struct db *db, const char *org, const char *user_id, const char *email, char out[ID_LEN])
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(user_id ? user_id : email), DB_TEXT(org)};
    int err = db_query(db,
                       user_id ? "SELECT id FROM users WHERE id = ? AND org_id = ?"
                               : "SELECT id FROM users WHERE lower(email) = ? AND org_id = ?",
                       p, 2, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        snprintf(out, ID_LEN, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return err;
}

int sharing_add(struct db *db, const struct avatar_ref *ref, const char *user_id, const char *email, const char *role,
                const char *by, struct share_outcome *out)
{
    memset(out, 0, sizeof *out);
    int err;
    if (!user_id) {
        if ((err = email_normalize(email, out->email, sizeof out->email)))
            return err;
        err = org_user(db, ref->org_id, NULL, out->email, out->user_id);
        if (err == DP_ERR_NOT_FOUND) {
            out->invited = 1;
            return put_invitation(db, ref->id, out->email, role, by, out->token);
        }
    } else
        err = org_user(db, ref->org_id, user_id, NULL, out->user_id); /* shares never cross organisations */
    if (err)
        return err == DP_ERR_NOT_FOUND ? DP_ERR_UNPROCESSABLE : err;
    if (!strcmp(out->user_id, ref->owner_id))
        return DP_ERR_UNPROCESSABLE;
    return put_share(db, ref->id, out->user_id, role);
}

int sharing_list(struct db *db, const char *avatar_id, json_t **items)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db,
                       "SELECT s.user_id, u.display_name, s.role, s.created_at FROM avatar_shares s JOIN users u ON "
                       "u.id = s.user_id WHERE s.avatar_id = ? ORDER BY s.created_at",
                       p, 1, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, json_pack("{s:s,s:s,s:s,s:s}", "user_id", db_rows_text(r, i, 0), "display_name",
                                                db_rows_text(r, i, 1), "role", db_rows_text(r, i, 2), "created_at",
                                                db_rows_text(r, i, 3)));
    db_rows_free(r);
    if ((err = db_query(
             db, "SELECT email, role, created_at FROM avatar_invitations WHERE avatar_id = ? ORDER BY created_at", p, 1,
             &r))) {
        json_decref(*items);
        return err;
    }
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, json_pack("{s:s,s:s,s:s,s:s}", "email", db_rows_text(r, i, 0), "role",
                                                db_rows_text(r, i, 1), "status", "invited", "created_at",
                                                db_rows_text(r, i, 2)));
    db_rows_free(r);
    return DP_OK;
}

int sharing_remove(struct db *db, const char *avatar_id, const char *who)
{
    char email[SHARING_EMAIL_MAX + 1];
    int invitation = strchr(who, '@') != NULL;
    if (invitation && email_normalize(who, email, sizeof email))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id), DB_TEXT(invitation ? email : who)};
    int err = db_query(db,
                       invitation ? "DELETE FROM avatar_invitations WHERE avatar_id = ? AND email = ?"
                                  : "DELETE FROM avatar_shares WHERE avatar_id = ? AND user_id = ?",
                       p, 2, &r);
    if (err)
        return err;
    int64_t n = r->changes;
    db_rows_free(r);
    return n ? DP_OK : DP_ERR_NOT_FOUND;
}

int sharing_invited_org(struct db *db, const char *email, const char *token, char org[ID_LEN])
{
    char e[SHARING_EMAIL_MAX + 1], hash[SECRET_HASH_LEN];
    if (!token || strlen(token) >= SECRET_LEN || email_normalize(email, e, sizeof e))
        return DP_ERR_NOT_FOUND;
    secret_hash(token, hash);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(e), DB_TEXT(hash)};
    int err = db_query(db,
                       "SELECT a.org_id FROM avatar_invitations i JOIN avatars a ON a.id = i.avatar_id AND "
                       "a.deleted_at IS NULL WHERE i.email = ? AND i.token_hash = ?",
                       p, 2, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        snprintf(org, ID_LEN, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return err;
}

int sharing_accept_invitations(struct db *db, const char *email, const char *user_id, const char *org)
{
    char e[SHARING_EMAIL_MAX + 1];
    if (email_normalize(email, e, sizeof e))
        return DP_OK;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(e), DB_TEXT(org)};
    int err = db_query(db,
                       "SELECT i.avatar_id, i.role FROM avatar_invitations i JOIN avatars a ON a.id = i.avatar_id AND "
                       "a.deleted_at IS NULL WHERE i.email = ? AND a.org_id = ?",
                       p, 2, &r);
    if (err)
        return err;
    for (int i = 0; i < r->nrows && !err; i++) {
        struct db_val d[] = {DB_TEXT(db_rows_text(r, i, 0)), DB_TEXT(e)};
        err = put_share(db, db_rows_text(r, i, 0), user_id, db_rows_text(r, i, 1));
        if (!err)
            err = db_query(db, "DELETE FROM avatar_invitations WHERE avatar_id = ? AND email = ?", d, 2, NULL);
    }
    db_rows_free(r);
    return err;
}
