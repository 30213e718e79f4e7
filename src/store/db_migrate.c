/* Schema migrations: the numbered SQL files of each dialect, compiled into the binary, applied
 * in order, each in its own transaction and recorded in schema_migrations. */
#include "store/db.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/db_impl.h"
#include "store/migrations.h"

int migration_parse(const struct embedded_file *f, struct migration *m)
{
    const char *slash = strchr(f->name, '/'), *dot = strrchr(f->name, '.');
    if (!slash || (size_t)(slash - f->name) >= sizeof m->dialect || !dot || strcmp(dot, ".sql") ||
        (size_t)(dot - slash - 1) >= sizeof m->name)
        return DP_ERR_INVALID;
    char *end;
    long v = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end != '_' || v < 1 || v > INT_MAX)
        return DP_ERR_INVALID;
    snprintf(m->dialect, sizeof m->dialect, "%.*s", (int)(slash - f->name), f->name);
    snprintf(m->name, sizeof m->name, "%.*s", (int)(dot - slash - 1), slash + 1);
    m->version = (int)v;
    m->sql = (const char *)f->data;
    return DP_OK;
}

static int rows_have_version(const struct db_rows *r, int version)
{
    for (int i = 0; i < r->nrows; i++)
        if (db_rows_int(r, i, 0) == version)
            return 1;
    return 0;
}

/* Applies one migration and records it, in one transaction. */
static int migration_apply(struct db *db, const struct migration *m)
{
    double t0 = db_monotonic();
    char now[32];
    int err = db_begin(db);
    if (err)
        goto out_log;
    err = db_exec_script(db, m->sql);
    if (err)
        goto out_rollback;
    db_now_rfc3339(now);
    struct db_val p[3] = {DB_INT(m->version), DB_TEXT(m->name), DB_TEXT(now)};
    err = db_query(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", p, 3, NULL);
    if (err)
        goto out_rollback;
    err = db_commit(db);
    if (err)
        goto out_rollback;
    DP_LOG(LOG_INFO, "[db] applied migration %s/%s in %.3fs", m->dialect, m->name, db_monotonic() - t0);
    return DP_OK;

out_rollback:;
    char msg[DB_ERRMSG_MAX];
    memcpy(msg, db->errmsg, sizeof(msg));
    db_rollback(db);
    memcpy(db->errmsg, msg, sizeof(msg));
out_log:
    DP_LOG(LOG_ERROR, "[db] migration %s/%s failed: %s", m->dialect, m->name, db->errmsg);
    return err;
}

int db_migrate(struct db *db, int *applied)
{
    const char *dialect = db->ops->name;
    struct db_rows *done = NULL;
    int n = 0, known_max = 0;
    if (applied)
        *applied = 0;
    int err = db->ops->migration_lock(db);
    if (err) {
        DP_LOG(LOG_ERROR, "[db] cannot take the migration lock: %s", db->errmsg);
        return err;
    }
    err = db_query(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                   NULL, 0, NULL);
    if (err)
        goto out_unlock;
    err = db_query(db, "SELECT version, name FROM schema_migrations ORDER BY version", NULL, 0, &done);
    if (err)
        goto out_unlock;
    for (const struct embedded_file *f = migration_files; f->name; f++) {
        struct migration mig, *m = &mig;
        if (migration_parse(f, m)) {
            DP_LOG(LOG_ERROR, "[db] the migration file %s is not named <dialect>/NNNN_name.sql", f->name);
            err = DP_ERR_INTERNAL;
            goto out_free_rows;
        }
        if (strcmp(m->dialect, dialect) != 0)
            continue;
        if (m->version > known_max)
            known_max = m->version;
        if (rows_have_version(done, m->version))
            continue;
        err = migration_apply(db, m);
        if (err)
            goto out_free_rows;
        n++;
    }
    for (int i = 0; i < done->nrows; i++)
        if (db_rows_int(done, i, 0) > known_max)
            DP_LOG(LOG_WARN,
                   "[db] the database has migration %s applied, which this build does not know "
                   "(a newer version ran here)",
                   db_rows_text(done, i, 1));

out_free_rows:
    db_rows_free(done);
out_unlock:;
    char msg[DB_ERRMSG_MAX];
    memcpy(msg, db->errmsg, sizeof(msg));
    int uerr = db->ops->migration_unlock(db);
    if (err)
        memcpy(db->errmsg, msg, sizeof(msg));
    else
        err = uerr;
    if (applied)
        *applied = n;
    return err;
}

int db_schema_version(struct db *db, int *version)
{
    struct db_rows *r = NULL;
    *version = 0;
    const char *exists_sql = db->ops->dialect == DB_SQLITE
                                 ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                                   "'schema_migrations'"
                                 : "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END";
    int err = db_query(db, exists_sql, NULL, 0, &r);
    if (err)
        return err;
    int exists = db_rows_int(r, 0, 0) > 0;
    db_rows_free(r);
    r = NULL;
    if (!exists)
        return DP_OK;
    err = db_query(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &r);
    if (err)
        return err;
    int64_t v = db_rows_int(r, 0, 0);
    *version = v > 0 && v <= INT_MAX ? (int)v : 0;
    db_rows_free(r);
    return DP_OK;
}
