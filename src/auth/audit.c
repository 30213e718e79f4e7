/* Audit log writer. */
#include "auth/audit.h"

#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/db.h"

void audit_write(struct db *db, const char *action, const char *actor, const char *target, const char *org,
                 const char *ip, json_t *detail)
{
    char id[ID_LEN], at[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), at);
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(at), DB_TEXT(action), DB_TEXT(actor), DB_TEXT(target),
                         DB_TEXT(org), DB_TEXT(ip),  DB_TEXT(d)};
    int err = db_query(db,
                       "INSERT INTO audit_log (id, at, action, actor_id, target_id, org_id, ip, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 8, NULL);
    if (err)
        DP_LOG(LOG_ERROR, "[audit] cannot record %s: %s", action, db_errmsg(db));
    free(d);
}
