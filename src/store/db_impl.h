/* Private to src/store: the common head of every database backend and the result-set builder. */
#ifndef DP_DB_IMPL_H
#define DP_DB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define DB_ERRMSG_MAX 512
#define DB_ROWS_MAX_BYTES ((size_t)256 << 20) /* a result set larger than this is refused */
#define DB_MIGRATION_LOCK_WAIT_S 300          /* how long db_migrate waits for another process */

/* Every backend's connection struct starts with this, so db.c can reach the ops table. */
struct db {
    const struct db_ops *ops;
    char errmsg[DB_ERRMSG_MAX]; /* last error text, "" when none */
    uint64_t xact;              /* db_xact_id: set by db_begin, 0 after commit or rollback */
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_postgres_ops;

/* Records the last error text of db (truncated to DB_ERRMSG_MAX). */
void db_set_errmsg(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Result-set builder used by the backends. db_rows_new returns NULL on allocation failure;
 * the others return DP_OK, DP_ERR_NOMEM or DP_ERR_TOO_LARGE (past DB_ROWS_MAX_BYTES).
 * On error the rows stay valid and are freed with db_rows_free. */
struct db_rows *db_rows_new(int ncols);
int db_rows_set_name(struct db_rows *r, int col, const char *name);
/* Appends a row of SQL NULLs; *row points to its ncols cells until the next append. */
int db_rows_add_row(struct db_rows *r, struct db_val **row);
/* Stores a copy of p[0..n) (NUL-terminated) in cell v of r; type is DB_T_TEXT or DB_T_BLOB. */
int db_rows_set_bytes(struct db_rows *r, struct db_val *v, enum db_type type, const void *p, size_t n);
/* Store a number in cell v, with its decimal text in v->p so db_rows_text works on it. */
int db_rows_set_int(struct db_rows *r, struct db_val *v, int64_t i);
int db_rows_set_real(struct db_rows *r, struct db_val *v, double d);

/* Current time as RFC 3339 UTC with milliseconds ("2024-01-02T03:04:05.678Z"). */
void db_now_rfc3339(char out[32]);
/* Monotonic clock in seconds. */
double db_monotonic(void);

#endif
