/* The database interface: one connection per thread, SQLite or PostgreSQL behind struct db_ops. */
#ifndef DP_DB_H
#define DP_DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* strlen in DB_TEXT */

enum db_type { DB_T_NULL = 0, DB_T_INT, DB_T_REAL, DB_T_TEXT, DB_T_BLOB };

/* A parameter or a result cell. Text/blob memory is borrowed (params) or owned by the rows. */
struct db_val {
    enum db_type type;
    int64_t i;     /* DB_T_INT */
    double d;      /* DB_T_REAL */
    const char *p; /* DB_T_TEXT (NUL-terminated) / DB_T_BLOB; in results also the decimal
                       text of a DB_T_INT / DB_T_REAL cell */
    size_t n;      /* byte length of p */
};

#define DB_NULL ((struct db_val){.type = DB_T_NULL})
#define DB_INT(v) ((struct db_val){.type = DB_T_INT, .i = (int64_t)(v)})
#define DB_REAL(v) ((struct db_val){.type = DB_T_REAL, .d = (double)(v)})
/* DB_TEXT is a function so that a char array argument is evaluated once and does not trip
 * -Waddress ("the address of 'buf' will always evaluate as true"); NULL gives SQL NULL. */
static inline struct db_val db_val_text(const char *s)
{
    return (struct db_val){.type = s ? DB_T_TEXT : DB_T_NULL, .p = s, .n = s ? strlen(s) : 0};
}
#define DB_TEXT(s) db_val_text(s)
#define DB_BLOB(ptr, len) ((struct db_val){.type = DB_T_BLOB, .p = (const char *)(ptr), .n = (len)})

/* A fully materialised result set; free with db_rows_free. */
struct db_rows {
    int nrows, ncols;
    char **names;         /* ncols column names */
    struct db_val *cells; /* nrows * ncols, row-major; text is NUL-terminated */
    int64_t changes;      /* rows changed by an INSERT/UPDATE/DELETE */
};

enum db_dialect { DB_SQLITE = 1, DB_POSTGRES = 2 };

struct db; /* one connection; not thread-safe: one per thread */

struct db_ops {
    const char *name;
    enum db_dialect dialect;
    int (*open)(struct db **out, const char *url);
    void (*close)(struct db *db);
    /* Runs sql with '?' placeholders; *out (may be NULL) receives the rows. */
    int (*query)(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out);
    /* Runs one or more statements without parameters (migrations). */
    int (*exec_script)(struct db *db, const char *sql);
    /* Cheap liveness probe; reconnects when the backend supports it. */
    int (*ping)(struct db *db);
    /* Exclusive lock across processes for migrations; released by migration_unlock. */
    int (*migration_lock)(struct db *db);
    int (*migration_unlock)(struct db *db);
};

/* Which backend a URL selects: postgres:// or postgresql:// → PostgreSQL, else a SQLite path. */
const struct db_ops *db_ops_for_url(const char *url); /* NULL when no backend serves url */
/* The name of the backend url chooses, or "unknown". */
const char *db_backend_for_url(const char *url);

/* Capability bits of database backends (struct backend.caps). */
#define DB_CAP_SHARED 1u /* several instances may share it */
struct registry;
/* The database backends (core/registry.h): sqlite (plain paths, sqlite://, file:) and postgres
 * (postgres://, postgresql://). */
struct registry *db_registry(void);

/* The mmap_size of SQLite connections opened from now on (bytes; 0 = off, the default). */
void db_sqlite_set_mmap(long bytes);

/* Opens a connection for url. Returns DP_OK or an error; *out owned by the caller (db_close). */
int db_open(struct db **out, const char *url);
void db_close(struct db *db);
enum db_dialect db_dialect(const struct db *db);
const char *db_backend_name(const struct db *db);

/* Runs sql ('?' placeholders, rewritten to $n for PostgreSQL). *out may be NULL.
 * Errors: DP_ERR_CONFLICT on unique/foreign-key violations, DP_ERR_UNAVAILABLE when the
 * server is unreachable, DP_ERR_DB otherwise. The last error text: db_errmsg(). */
int db_query(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out);
int db_exec_script(struct db *db, const char *sql);
int db_ping(struct db *db);
int db_begin(struct db *db); /* BEGIN (IMMEDIATE on SQLite) */
int db_commit(struct db *db);
/* Inside a transaction: waits for, and holds until it ends, the lock named key — so that
 * check-then-write sequences (e.g. "is this the last admin?") cannot interleave. */
int db_xact_lock(struct db *db, int64_t key);
int db_rollback(struct db *db);
/* Nonzero inside a transaction db_begin opened, the same until its commit or rollback and never
 * given to another transaction of the process (0 outside one). */
uint64_t db_xact_id(const struct db *db);
const char *db_errmsg(const struct db *db);

void db_rows_free(struct db_rows *r);
/* Cell accessors; NULL / 0 for SQL NULL or out of range. db_rows_text gives numbers as their
 * decimal text; db_rows_int / db_rows_real convert between numbers and parse numeric text. */
const char *db_rows_text(const struct db_rows *r, int row, int col);
int64_t db_rows_int(const struct db_rows *r, int row, int col);
double db_rows_real(const struct db_rows *r, int row, int col);
int db_rows_is_null(const struct db_rows *r, int row, int col);

/* Applies pending migrations of the connection's dialect under the migration lock.
 * *applied (may be NULL) receives how many were applied. */
int db_migrate(struct db *db, int *applied);
/* The highest applied migration version, 0 when none. */
int db_schema_version(struct db *db, int *version);

/* Rewrites '?' placeholders to $1..$n (PostgreSQL), leaving alone those in '...', E'...' and
 * $tag$...$tag$ strings, "identifiers", -- and (nested) block comments. Caller frees; NULL
 * when out of memory. */
char *db_sql_to_dollar(const char *sql);

/* Call latency observed by every db_query (seconds), for metrics; set by the server. */
extern void (*db_observe_hook)(const char *backend, const char *op, double seconds, int err);

#endif
