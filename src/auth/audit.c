/* Audit log writer. */
#include "auth/audit.h"

#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/db.h"
#include "store/db_read.h"

void audit_write(struct db *db, const char *action, const char *actor, const char *target, const char *org,
                 const char *ip, json_t *detail)
{
    char id[ID_LEN], at[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), at);
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    struct db_val p[] = {DB_TEXT(id),     DB_TEXT(at),  DB_TEXT(action), DB_TEXT(actor),
                         DB_TEXT(target), DB_TEXT(org), DB_TEXT(ip),     DB_TEXT(d)};
    int err = db_query(db,
                       "INSERT INTO audit_log (id, at, action, actor_id, target_id, org_id, ip, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 8, NULL);
    if (err)
        DP_LOG(LOG_ERROR, "[audit] cannot record %s: %s", action, db_errmsg(db));
    free(d);
}

static json_t *audit_from_row(const struct db_rows *r, int i)
{
    const char *d = db_rows_text(r, i, 7);
    json_t *detail = d ? json_loads(d, 0, NULL) : NULL;
    return json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o}", "id", db_rows_text(r, i, 0), "at", db_rows_text(r, i, 1),
                     "action", db_rows_text(r, i, 2), "actor_id", db_rows_text(r, i, 3), "target_id",
                     db_rows_text(r, i, 4), "org_id", db_rows_text(r, i, 5), "ip", db_rows_text(r, i, 6), "detail",
                     detail ? detail : json_null());
}

int audit_list(struct db *db, const char *action, const char *before, long limit, json_t **items)
{
    struct db_val p[] = {DB_TEXT(action)};
    return db_page(db,
                   action ? "SELECT id, at, action, actor_id, target_id, org_id, ip, detail FROM audit_log "
                            "WHERE action = ?"
                          : "SELECT id, at, action, actor_id, target_id, org_id, ip, detail FROM audit_log WHERE 1 = 1",
                   "id", 1, p, action ? 1 : 0, before, limit, audit_from_row, items);
}
