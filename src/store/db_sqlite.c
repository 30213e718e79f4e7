/* The SQLite backend of struct db_ops: one file, WAL, busy timeout, cached prepared statements. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "store/db_impl.h"
#include "store/db_sqlite_checkpoint.h"

#define STMT_CACHE 32           /* prepared statements kept per connection */
#define STMT_CACHE_MAX_SQL 8192 /* longer SQL is prepared for each call */
#define BUSY_TIMEOUT_MS 5000

struct stmt_slot {
    char *sql;     /* the cache key; NULL when the slot is free */
    uint64_t hash; /* of sql */
    sqlite3_stmt *st;
    uint64_t used; /* tick of the last use, for LRU eviction */
};

struct db_sqlite {
    struct db base;
    sqlite3 *h;
    char *path;  /* file path or ":memory:" */
    int memory;  /* an in-memory database: no file, no migration lock */
    int lock_fd; /* migration lock file while held, else -1 */
    uint64_t tick;
    struct stmt_slot cache[STMT_CACHE];
};

static struct db_sqlite *to_sqlite(struct db *db)
{
    return (struct db_sqlite *)(void *)db;
}

/* Maps a SQLite result code to a dp_err and records the error text. */
static int map_rc(struct db_sqlite *s, int rc)
{
    db_set_errmsg(&s->base, "%s", sqlite3_errmsg(s->h));
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return DP_ERR_CONFLICT;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DP_ERR_UNAVAILABLE; /* still locked by another writer after the busy timeout */
    case SQLITE_NOMEM:
        return DP_ERR_NOMEM;
    default:
        return DP_ERR_DB;
    }
}

/* Off unless --sqlite-mmap: with WAL and a connection per worker, each read transaction after
 * another connection's commit unmaps and maps the file again (13 % of the CPU of a chat message). */
static long mmap_bytes;

void db_sqlite_set_mmap(long bytes)
{
    mmap_bytes = bytes;
}

/* "sqlite:" prefix optional; "sqlite:///abs" and "sqlite://rel" drop the "//". */
static int parse_url(const char *url, char **path)
{
    const char *p = url;
    if (strncasecmp(p, "sqlite:", 7) == 0) {
        p += 7;
        if (p[0] == '/' && p[1] == '/')
            p += 2;
    }
    if (!*p || strlen(p) >= PATH_MAX)
        return DP_ERR_INVALID;
    *path = strdup(p);
    return *path ? DP_OK : DP_ERR_NOMEM;
}

/* Creates the missing parent directories of path (mode 0700). */
static int mkdir_parents(const char *path)
{
    char *tmp = strdup(path);
    if (!tmp)
        return DP_ERR_NOMEM;
    int err = DP_OK;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            DP_LOG(LOG_ERROR, "[db] cannot create directory %s: %s", tmp, strerror(errno));
            err = DP_ERR_IO;
            break;
        }
        *p = '/';
    }
    free(tmp);
    return err;
}

static uint64_t hash_sql(const char *s)
{
    return hash_fnv1a64(s, strlen(s));
}

static int only_space(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return 0;
    return 1;
}

/* Finds or prepares the statement for sql. *st is NULL for SQL without a statement (empty or
 * comments only). *slot is the cache slot holding it, or -1 when the caller must finalize. */
static int stmt_get(struct db_sqlite *s, const char *sql, sqlite3_stmt **st, int *slot)
{
    size_t len = strlen(sql);
    uint64_t h = hash_sql(sql);
    int cacheable = len <= STMT_CACHE_MAX_SQL;
    *st = NULL;
    *slot = -1;
    if (cacheable) {
        for (int i = 0; i < STMT_CACHE; i++) {
            struct stmt_slot *c = &s->cache[i];
            if (c->sql && c->hash == h && strcmp(c->sql, sql) == 0) {
                c->used = ++s->tick;
                *st = c->st;
                *slot = i;
                return DP_OK;
            }
        }
    }
    const char *tail = NULL;
    unsigned flags = cacheable ? SQLITE_PREPARE_PERSISTENT : 0;
    int rc = sqlite3_prepare_v3(s->h, sql, -1, flags, st, &tail);
    if (rc != SQLITE_OK)
        return map_rc(s, rc);
    if (tail && !only_space(tail)) {
        /* A second statement is refused: db_query runs one statement, db_exec_script many. */
        sqlite3_stmt *more = NULL;
        rc = sqlite3_prepare_v2(s->h, tail, -1, &more, NULL);
        int extra = rc != SQLITE_OK || more != NULL;
        sqlite3_finalize(more);
        if (extra) {
            sqlite3_finalize(*st);
            *st = NULL;
            db_set_errmsg(&s->base, "db_query runs one statement; use db_exec_script");
            return DP_ERR_INVALID;
        }
    }
    if (!*st || !cacheable)
        return DP_OK;
    char *key = strdup(sql);
    if (!key)
        return DP_OK; /* uncached, still usable */
    int victim = 0;
    for (int i = 0; i < STMT_CACHE; i++) {
        if (!s->cache[i].sql) {
            victim = i;
            break;
        }
        if (s->cache[i].used < s->cache[victim].used)
            victim = i;
    }
    struct stmt_slot *c = &s->cache[victim];
    if (c->sql) {
        sqlite3_finalize(c->st);
        free(c->sql);
    }
    c->sql = key;
    c->hash = h;
    c->st = *st;
    c->used = ++s->tick;
    *slot = victim;
    return DP_OK;
}

static int bind_params(struct db_sqlite *s, sqlite3_stmt *st, const struct db_val *params, int nparams)
{
    int want = sqlite3_bind_parameter_count(st);
    if (want != nparams) {
        db_set_errmsg(&s->base, "query has %d parameters, %d given", want, nparams);
        return DP_ERR_INVALID;
    }
    for (int i = 0; i < nparams; i++) {
        const struct db_val *v = &params[i];
        int rc;
        if ((v->type == DB_T_TEXT || v->type == DB_T_BLOB) && !v->p && v->n) {
            db_set_errmsg(&s->base, "parameter %d has no data", i + 1);
            return DP_ERR_INVALID;
        }
        switch (v->type) {
        case DB_T_NULL:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        case DB_T_INT:
            rc = sqlite3_bind_int64(st, i + 1, v->i);
            break;
        case DB_T_REAL:
            rc = sqlite3_bind_double(st, i + 1, v->d);
            break;
        case DB_T_TEXT:
            rc = sqlite3_bind_text64(st, i + 1, v->p ? v->p : "", v->n, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case DB_T_BLOB:
            rc = v->n ? sqlite3_bind_blob64(st, i + 1, v->p, v->n, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i + 1, 0);
            break;
        default:
            db_set_errmsg(&s->base, "parameter %d has an unknown type", i + 1);
            return DP_ERR_INVALID;
        }
        if (rc != SQLITE_OK)
            return map_rc(s, rc);
    }
    return DP_OK;
}

/* Copies the current row of st into a new row of r. */
static int materialise_row(sqlite3_stmt *st, struct db_rows *r)
{
    struct db_val *row;
    int err = db_rows_add_row(r, &row);
    for (int c = 0; !err && c < r->ncols; c++) {
        switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER:
            err = db_rows_set_int(r, &row[c], sqlite3_column_int64(st, c));
            break;
        case SQLITE_FLOAT:
            err = db_rows_set_real(r, &row[c], sqlite3_column_double(st, c));
            break;
        case SQLITE_TEXT: {
            const unsigned char *t = sqlite3_column_text(st, c);
            int n = sqlite3_column_bytes(st, c);
            if (!t && n)
                return DP_ERR_NOMEM;
            err = db_rows_set_bytes(r, &row[c], DB_T_TEXT, t ? (const char *)t : "", (size_t)n);
            break;
        }
        case SQLITE_BLOB: {
            const void *b = sqlite3_column_blob(st, c);
            int n = sqlite3_column_bytes(st, c);
            if (!b && n)
                return DP_ERR_NOMEM;
            err = db_rows_set_bytes(r, &row[c], DB_T_BLOB, b ? b : "", (size_t)n);
            break;
        }
        default:
            break; /* SQL NULL: the cell stays DB_T_NULL */
        }
    }
    return err;
}

static int sqlite_query(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out)
{
    struct db_sqlite *s = to_sqlite(db);
    struct db_rows *r = NULL;
    sqlite3_stmt *st;
    int slot;
    int err = stmt_get(s, sql, &st, &slot);
    if (err)
        return err;
    if (!st) {
        if (nparams) {
            db_set_errmsg(db, "query has 0 parameters, %d given", nparams);
            return DP_ERR_INVALID;
        }
        if (out && !(*out = db_rows_new(0)))
            return DP_ERR_NOMEM;
        return DP_OK;
    }
    err = bind_params(s, st, params, nparams);
    if (err)
        goto out_reset;
    sqlite3_int64 before = sqlite3_total_changes64(s->h);
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            err = map_rc(s, rc);
            goto out_reset;
        }
        if (out && !r) {
            /* Columns are read after the first step: a statement re-prepared for a schema
             * change (SELECT * after ALTER TABLE) may have a different shape by now. */
            int ncols = sqlite3_column_count(st);
            r = db_rows_new(ncols);
            if (!r) {
                err = DP_ERR_NOMEM;
                goto out_reset;
            }
            for (int c = 0; c < ncols && !err; c++)
                err = db_rows_set_name(r, c, sqlite3_column_name(st, c));
            if (err)
                goto out_reset;
        }
        if (rc == SQLITE_DONE)
            break;
        if (r && (err = materialise_row(st, r)) != DP_OK) {
            db_set_errmsg(db, "result set: %s", dp_strerror(err));
            goto out_reset;
        }
    }
    if (r) {
        /* sqlite3_changes() keeps the count of the last DML statement; report it only when
         * this statement changed something. */
        r->changes = sqlite3_total_changes64(s->h) != before ? sqlite3_changes64(s->h) : 0;
        *out = r;
        r = NULL;
    }
out_reset:
    db_rows_free(r);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (slot < 0)
        sqlite3_finalize(st);
    return err;
}

static int sqlite_exec_script(struct db *db, const char *sql)
{
    struct db_sqlite *s = to_sqlite(db);
    int rc = sqlite3_exec(s->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DP_OK : map_rc(s, rc);
}

static int sqlite_ping(struct db *db)
{
    return sqlite_query(db, "SELECT 1", NULL, 0, NULL);
}

/* Takes an exclusive flock on "<path>-migrate.lock" (a separate file: SQLite's own POSIX locks
 * on the database file must not be disturbed), waiting up to DB_MIGRATION_LOCK_WAIT_S. */
static int sqlite_migration_lock(struct db *db)
{
    struct db_sqlite *s = to_sqlite(db);
    if (s->memory)
        return DP_OK;
    if (s->lock_fd >= 0) {
        db_set_errmsg(db, "migration lock already held");
        return DP_ERR_INTERNAL;
    }
    char lock_path[PATH_MAX + 16];
    snprintf(lock_path, sizeof(lock_path), "%s-migrate.lock", s->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        db_set_errmsg(db, "cannot open %s: %s", lock_path, strerror(errno));
        return DP_ERR_IO;
    }
    double deadline = db_monotonic() + DB_MIGRATION_LOCK_WAIT_S;
    int logged = 0;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            db_set_errmsg(db, "flock %s: %s", lock_path, strerror(errno));
            close(fd);
            return DP_ERR_IO;
        }
        if (db_monotonic() > deadline) {
            db_set_errmsg(db, "timed out waiting for another process's migrations");
            close(fd);
            return DP_ERR_TIMEOUT;
        }
        if (!logged++)
            DP_LOG(LOG_INFO, "[db] waiting for another process to finish migrating");
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000}, NULL);
    }
    s->lock_fd = fd;
    return DP_OK;
}

static int sqlite_migration_unlock(struct db *db)
{
    struct db_sqlite *s = to_sqlite(db);
    if (s->lock_fd >= 0) {
        close(s->lock_fd); /* releases the flock; the file stays, removing it would race */
        s->lock_fd = -1;
    }
    return DP_OK;
}

static void sqlite_close(struct db *db)
{
    struct db_sqlite *s = to_sqlite(db);
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(s->cache[i].st);
        free(s->cache[i].sql);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    sqlite3_close_v2(s->h);
    free(s->path);
    free(s);
}

static int journal_cb(void *arg, int ncols, char **vals, char **names)
{
    (void)names;
    if (ncols > 0 && vals[0])
        snprintf(arg, 16, "%s", vals[0]);
    return 0;
}

/* Switching a fresh file to WAL needs an exclusive lock, and SQLite answers BUSY at
 * once (without the busy handler, to avoid deadlock) when another process is opening
 * the same new file at that moment; retry for as long as the busy timeout allows. */
static int enable_wal(sqlite3 *h, char mode[16])
{
    int rc = SQLITE_BUSY;
    for (int waited_ms = 0; waited_ms <= BUSY_TIMEOUT_MS; waited_ms += 10) {
        rc = sqlite3_exec(h, "PRAGMA journal_mode=WAL", journal_cb, mode, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
        sqlite3_sleep(10);
    }
    return rc;
}

static int sqlite_open(struct db **out, const char *url)
{
    struct db_sqlite *s = calloc(1, sizeof(*s));
    if (!s)
        return DP_ERR_NOMEM;
    s->base.ops = &db_sqlite_ops;
    s->lock_fd = -1;
    int err = parse_url(url, &s->path);
    if (err)
        goto out_free;
    s->memory = strcmp(s->path, ":memory:") == 0;
    if (!s->memory && (err = mkdir_parents(s->path)) != DP_OK)
        goto out_free;
    int rc = sqlite3_open_v2(s->path, &s->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        DP_LOG(LOG_ERROR, "[db] cannot open sqlite database %s: %s", s->path,
               s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(rc));
        err = DP_ERR_IO;
        goto out_close;
    }
    sqlite3_extended_result_codes(s->h, 1);
    sqlite3_busy_timeout(s->h, BUSY_TIMEOUT_MS);
    char mode[16] = "";
    rc = enable_wal(s->h, mode);
    if (rc != SQLITE_OK) {
        DP_LOG(LOG_ERROR, "[db] cannot enable WAL on %s: %s", s->path, sqlite3_errmsg(s->h));
        err = map_rc(s, rc);
        goto out_close;
    }
    if (!s->memory && strcasecmp(mode, "wal") != 0)
        DP_LOG(LOG_WARN, "[db] sqlite journal mode is %s, not wal", mode);
    /* journal_size_limit: the WAL is truncated back after a checkpoint (it otherwise keeps the
     * size of its busiest moment: 300 MB after 100k inserts into a 67 MB database); mmap_size
     * (--sqlite-mmap): pages read through the OS page cache, shared by every connection, instead
     * of copied into each connection's 2 MB cache — full-text scans over 100k memories 2.7x
     * faster, but every other write path pays the remapping (see mmap_bytes). */
    char pragmas[192];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864; "
             "PRAGMA mmap_size=%ld",
             mmap_bytes);
    rc = sqlite3_exec(s->h, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err = map_rc(s, rc);
        DP_LOG(LOG_ERROR, "[db] cannot configure %s: %s", s->path, s->base.errmsg);
        goto out_close;
    }
    if (!s->memory)
        sqlite_checkpoints_attach(s->h, s->path);
    *out = &s->base;
    return DP_OK;

out_close:
    sqlite3_close_v2(s->h);
out_free:
    free(s->path);
    free(s);
    return err;
}

const struct db_ops db_sqlite_ops = {
    .name = "sqlite",
    .dialect = DB_SQLITE,
    .open = sqlite_open,
    .close = sqlite_close,
    .query = sqlite_query,
    .exec_script = sqlite_exec_script,
    .ping = sqlite_ping,
    .migration_lock = sqlite_migration_lock,
    .migration_unlock = sqlite_migration_unlock,
};
