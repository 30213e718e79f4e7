/* Organisations (see orgs.h). */
#include "auth/orgs.h"

#include <stdio.h>
#include <string.h>

#include "auth/accounts.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "store/db_read.h"

static json_t *org_from_row(const struct db_rows *r, int i)
{
    return json_pack("{s:s,s:s,s:s}", "id", db_rows_text(r, i, 0), "name", db_rows_text(r, i, 1), "created_at",
                     db_rows_text(r, i, 2));
}

int orgs_name_valid(const char *name)
{
    return name && display_name_valid(name) && strlen(name) <= ORG_NAME_MAX;
}

int orgs_list(struct db *db, const struct caller *c, const char *after, long limit, json_t **items)
{
    int admin = c->role == ROLE_ADMIN;
    struct db_val p[] = {DB_TEXT(c->org_id)};
    return db_page(db,
                   admin ? "SELECT id, name, created_at FROM orgs WHERE 1 = 1"
                         : "SELECT id, name, created_at FROM orgs WHERE id = ?",
                   "id", 0, p, admin ? 0 : 1, after, limit, org_from_row, items);
}

int orgs_get(struct db *db, const struct caller *c, const char *id, json_t **out)
{
    if (!id || strlen(id) >= ID_LEN || (c->role != ROLE_ADMIN && strcmp(c->org_id, id)))
        return DP_ERR_NOT_FOUND;
    json_t *org;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_one(db, "SELECT id, name, created_at FROM orgs WHERE id = ?", p, 1, org_from_row, &org);
    if (!err && out)
        *out = org;
    else if (!err)
        json_decref(org);
    return err;
}

int orgs_create(struct db *db, const char *name, json_t **out)
{
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(name), DB_TEXT(now)};
    int err = db_query(db, "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)", p, 3, NULL);
    if (!err)
        *out = json_pack("{s:s,s:s,s:s}", "id", id, "name", name, "created_at", now);
    return err;
}

int orgs_rename(struct db *db, const char *id, const char *name)
{
    struct db_val p[] = {DB_TEXT(name), DB_TEXT(id)};
    return db_query(db, "UPDATE orgs SET name = ? WHERE id = ?", p, 2, NULL);
}

int orgs_delete(struct db *db, const char *id, long long *users)
{
    *users = 0;
    if (!strcmp(id, "default"))
        return DP_ERR_CONFLICT;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT COUNT(*) FROM users WHERE org_id = ?", p, 1, &r);
    if (err)
        return err;
    *users = (long long)db_rows_int(r, 0, 0);
    db_rows_free(r);
    if (*users)
        return DP_ERR_CONFLICT;
    return db_query(db, "DELETE FROM orgs WHERE id = ?", p, 1, NULL);
}
