/* The database layer above the backends: registry, timed wrappers, result sets, placeholders
 * (migrations: db_migrate.c). */
#include "store/db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fmt.h"
#include "core/fault.h"
#include "core/registry.h"
#include "core/log.h"
#include "store/db_impl.h"

void (*db_observe_hook)(const char *backend, const char *op, double seconds, int err);

/* ---- time ---------------------------------------------------------------------------- */

double db_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void db_now_rfc3339(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* ---- result sets ------------------------------------------------------------------------ */

#define ROWS_CHUNK 65536 /* arena chunk for cell text; larger values get a chunk of their own */

struct rows_chunk {
    struct rows_chunk *next;
    size_t used, cap;
    char data[];
};

/* The public struct plus the builder's bookkeeping; rows handed out point at .pub. */
struct db_rows_impl {
    struct db_rows pub;
    int cap_rows;              /* rows allocated in pub.cells */
    size_t bytes;              /* bytes accounted against DB_ROWS_MAX_BYTES */
    struct rows_chunk *chunks; /* arena holding names and cell text; newest first */
};

static struct db_rows_impl *rows_impl(struct db_rows *r)
{
    return (struct db_rows_impl *)(void *)r; /* pub is the first member */
}

/* Returns n bytes from the arena of ri, or NULL (DP_ERR_NOMEM / DP_ERR_TOO_LARGE in *err). */
static char *rows_alloc(struct db_rows_impl *ri, size_t n, int *err)
{
    if (n > DB_ROWS_MAX_BYTES || ri->bytes > DB_ROWS_MAX_BYTES - n) {
        *err = DP_ERR_TOO_LARGE;
        return NULL;
    }
    struct rows_chunk *c = ri->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ROWS_CHUNK / 4 ? n : ROWS_CHUNK;
        struct rows_chunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc) {
            *err = DP_ERR_NOMEM;
            return NULL;
        }
        nc->used = 0;
        nc->cap = cap;
        if (cap == n && c) { /* a big value: keep the current chunk open for small ones */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            ri->chunks = nc;
        }
        c = nc;
    }
    char *p = c->data + c->used;
    c->used += n;
    ri->bytes += n;
    return p;
}

struct db_rows *db_rows_new(int ncols)
{
    if (ncols < 0 || ncols > 32767)
        return NULL;
    struct db_rows_impl *ri = calloc(1, sizeof(*ri));
    if (!ri)
        return NULL;
    ri->pub.ncols = ncols;
    if (ncols) {
        ri->pub.names = calloc((size_t)ncols, sizeof(char *));
        if (!ri->pub.names) {
            free(ri);
            return NULL;
        }
    }
    return &ri->pub;
}

int db_rows_set_name(struct db_rows *r, int col, const char *name)
{
    DP_ASSERT(col >= 0 && col < r->ncols);
    if (!name)
        name = "";
    size_t n = strlen(name);
    int err = DP_OK;
    char *p = rows_alloc(rows_impl(r), n + 1, &err);
    if (!p)
        return err;
    memcpy(p, name, n + 1);
    r->names[col] = p;
    return DP_OK;
}

int db_rows_add_row(struct db_rows *r, struct db_val **row)
{
    struct db_rows_impl *ri = rows_impl(r);
    size_t rowbytes = (size_t)(r->ncols ? r->ncols : 1) * sizeof(struct db_val);
    if (r->nrows == INT_MAX || ri->bytes > DB_ROWS_MAX_BYTES - rowbytes)
        return DP_ERR_TOO_LARGE;
    if (r->nrows == ri->cap_rows) {
        int ncap = ri->cap_rows ? (ri->cap_rows > INT_MAX / 2 ? INT_MAX : ri->cap_rows * 2) : 16;
        struct db_val *nc = realloc(r->cells, (size_t)ncap * rowbytes);
        if (!nc)
            return DP_ERR_NOMEM;
        r->cells = nc;
        ri->cap_rows = ncap;
    }
    struct db_val *v = r->cells + (size_t)r->nrows * (size_t)r->ncols;
    for (int i = 0; i < r->ncols; i++)
        v[i] = DB_NULL;
    r->nrows++;
    ri->bytes += rowbytes;
    *row = v;
    return DP_OK;
}

int db_rows_set_bytes(struct db_rows *r, struct db_val *v, enum db_type type, const void *p, size_t n)
{
    DP_ASSERT(type == DB_T_TEXT || type == DB_T_BLOB);
    int err = DP_OK;
    if (n == SIZE_MAX)
        return DP_ERR_TOO_LARGE;
    char *d = rows_alloc(rows_impl(r), n + 1, &err);
    if (!d)
        return err;
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    v->type = type;
    v->p = d;
    v->n = n;
    return DP_OK;
}

/* Numbers also carry their decimal text so that db_rows_text works on every cell. */
int db_rows_set_int(struct db_rows *r, struct db_val *v, int64_t i)
{
    char tmp[FMT_I64_MAX];
    size_t n = fmt_i64(tmp, i);
    int err = db_rows_set_bytes(r, v, DB_T_TEXT, tmp, n);
    if (err)
        return err;
    v->type = DB_T_INT;
    v->i = i;
    return DP_OK;
}

int db_rows_set_real(struct db_rows *r, struct db_val *v, double d)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.17g", d);
    int err = db_rows_set_bytes(r, v, DB_T_TEXT, tmp, (size_t)n);
    if (err)
        return err;
    v->type = DB_T_REAL;
    v->d = d;
    return DP_OK;
}

void db_rows_free(struct db_rows *r)
{
    if (!r)
        return;
    struct db_rows_impl *ri = rows_impl(r);
    for (struct rows_chunk *c = ri->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(r->names);
    free(r->cells);
    free(ri);
}

static const struct db_val *rows_cell(const struct db_rows *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= r->nrows || col >= r->ncols)
        return NULL;
    return &r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

const char *db_rows_text(const struct db_rows *r, int row, int col)
{
    const struct db_val *v = rows_cell(r, row, col);
    return v && v->type != DB_T_NULL ? v->p : NULL;
}

int64_t db_rows_int(const struct db_rows *r, int row, int col)
{
    const struct db_val *v = rows_cell(r, row, col);
    if (!v)
        return 0;
    switch (v->type) {
    case DB_T_INT:
        return v->i;
    case DB_T_REAL:
        if (isnan(v->d))
            return 0;
        if (v->d >= 9223372036854775807.0)
            return INT64_MAX;
        if (v->d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)v->d;
    case DB_T_TEXT: {
        char *end;
        errno = 0;
        long long x = strtoll(v->p, &end, 10);
        return end != v->p && *end == 0 && errno == 0 ? (int64_t)x : 0;
    }
    default:
        return 0;
    }
}

double db_rows_real(const struct db_rows *r, int row, int col)
{
    const struct db_val *v = rows_cell(r, row, col);
    if (!v)
        return 0;
    switch (v->type) {
    case DB_T_REAL:
        return v->d;
    case DB_T_INT:
        return (double)v->i;
    case DB_T_TEXT: {
        char *end;
        double d = strtod(v->p, &end);
        return end != v->p && *end == 0 ? d : 0;
    }
    default:
        return 0;
    }
}

int db_rows_is_null(const struct db_rows *r, int row, int col)
{
    const struct db_val *v = rows_cell(r, row, col);
    return !v || v->type == DB_T_NULL;
}

/* ---- registry and wrappers ------------------------------------------------------------- */

static const char *const postgres_schemes[] = {"postgres://", "postgresql://", NULL};
static const char *const sqlite_schemes[] = {"sqlite://", "file:", NULL};
static const struct backend db_sqlite_row = {"sqlite", sqlite_schemes, 0, &db_sqlite_ops};
static const struct backend db_postgres_row = {"postgres", postgres_schemes, DB_CAP_SHARED, &db_postgres_ops};

/* The database backends; a plain path is SQLite. */
static struct registry db_backends = {"db", {&db_sqlite_row, &db_postgres_row}, 2, 0};

struct registry *db_registry(void)
{
    return &db_backends;
}

const struct db_ops *db_ops_for_url(const char *url)
{
    const struct backend *b = registry_for_url(&db_backends, url);
    return b ? b->ops : NULL;
}

const char *db_backend_for_url(const char *url)
{
    const struct backend *b = registry_for_url(&db_backends, url);
    return b ? b->name : "unknown";
}

void db_set_errmsg(struct db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
    va_end(ap);
}

static void observe(const char *backend, const char *op, double t0, int err)
{
    void (*hook)(const char *, const char *, double, int) = db_observe_hook;
    if (hook)
        hook(backend, op, db_monotonic() - t0, err);
}

int db_open(struct db **out, const char *url)
{
    *out = NULL;
    if (!url || !*url)
        return DP_ERR_INVALID;
    const struct db_ops *ops = db_ops_for_url(url);
    if (!ops) {
        DP_LOG(LOG_ERROR, "[db] no database backend serves %.*s:// addresses", (int)(strstr(url, "://") - url), url);
        return DP_ERR_INVALID;
    }
    double t0 = db_monotonic();
    int err = ops->open(out, url);
    observe(ops->name, "open", t0, err);
    if (!err)
        DP_ASSERT(*out && (*out)->ops == ops);
    return err;
}

void db_close(struct db *db)
{
    if (db)
        db->ops->close(db);
}

enum db_dialect db_dialect(const struct db *db)
{
    return db->ops->dialect;
}

const char *db_backend_name(const struct db *db)
{
    return db->ops->name;
}

const char *db_errmsg(const struct db *db)
{
    return db ? db->errmsg : "";
}

/* db_query with the operation name reported to the observe hook. */
/* 1 for a statement that changes rows (what fault injection counts as a database write). */
static int is_write(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t')
        sql++;
    return !strncasecmp(sql, "INSERT", 6) || !strncasecmp(sql, "UPDATE", 6) || !strncasecmp(sql, "DELETE", 6) ||
           !strncasecmp(sql, "COMMIT", 6);
}

static int query_op(struct db *db, const char *op, const char *sql, const struct db_val *params, int nparams,
                    struct db_rows **out)
{
    if (out)
        *out = NULL;
    if (!sql || nparams < 0 || (nparams > 0 && !params)) {
        db_set_errmsg(db, "invalid query arguments");
        return DP_ERR_INVALID;
    }
    if (is_write(sql) && fault_hit(FAULT_DB_WRITE)) {
        /* A commit that fails leaves nothing behind, as a real one does. */
        if (!strncasecmp(sql, "COMMIT", 6))
            db->ops->query(db, "ROLLBACK", NULL, 0, NULL);
        db_set_errmsg(db, "injected fault");
        return DP_ERR_DB;
    }
    double t0 = db_monotonic();
    db->errmsg[0] = 0;
    int err = db->ops->query(db, sql, params, nparams, out);
    observe(db->ops->name, op, t0, err);
    return err;
}

int db_query(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out)
{
    return query_op(db, "query", sql, params, nparams, out);
}

int db_exec_script(struct db *db, const char *sql)
{
    if (!sql)
        return DP_ERR_INVALID;
    double t0 = db_monotonic();
    db->errmsg[0] = 0;
    int err = db->ops->exec_script(db, sql);
    observe(db->ops->name, "exec_script", t0, err);
    return err;
}

int db_ping(struct db *db)
{
    double t0 = db_monotonic();
    int err = db->ops->ping(db);
    observe(db->ops->name, "ping", t0, err);
    return err;
}

int db_begin(struct db *db)
{
    /* IMMEDIATE takes SQLite's write lock now, so the busy timeout applies here rather than
     * failing a later write of the transaction with SQLITE_BUSY. */
    static _Atomic uint64_t xacts;
    const char *sql = db->ops->dialect == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN";
    int err = query_op(db, "begin", sql, NULL, 0, NULL);
    db->xact = err ? 0 : ++xacts;
    return err;
}

uint64_t db_xact_id(const struct db *db)
{
    return db->xact;
}

int db_xact_lock(struct db *db, int64_t key)
{
    /* SQLite transactions from db_begin already hold the database's single write lock. */
    if (db->ops->dialect == DB_SQLITE)
        return DP_OK;
    struct db_val p[] = {DB_INT(key)};
    return query_op(db, "lock", "SELECT pg_advisory_xact_lock(?)", p, 1, NULL);
}

int db_commit(struct db *db)
{
    db->xact = 0;
    return query_op(db, "commit", "COMMIT", NULL, 0, NULL);
}

int db_rollback(struct db *db)
{
    db->xact = 0;
    return query_op(db, "rollback", "ROLLBACK", NULL, 0, NULL);
}

/* ---- placeholder rewriting ------------------------------------------------------------- */

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
           (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote delimiter ($$ or $tag$) at s, 0 when s does not start one. */
static size_t dollar_tag_len(const char *s)
{
    if (s[0] != '$')
        return 0;
    size_t i = 1;
    if (s[i] == '$')
        return 2;
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || (unsigned char)s[i] >= 0x80))
        return 0;
    while (is_ident_char(s[i]) && s[i] != '$')
        i++;
    return s[i] == '$' ? i + 1 : 0;
}

/* Skips a quoted section starting at s (at the opening quote q); returns the position after
 * the closing quote, or the end of the string when unterminated. A doubled quote is part of
 * the section; backslash escapes apply when bs is set (PostgreSQL E'...' strings). */
static const char *skip_quoted(const char *s, char q, int bs)
{
    for (s++; *s; s++) {
        if (bs && *s == '\\' && s[1]) {
            s++;
            continue;
        }
        if (*s == q) {
            if (s[1] == q) {
                s++;
                continue;
            }
            return s + 1;
        }
    }
    return s;
}

char *db_sql_to_dollar(const char *sql)
{
    struct buf b;
    buf_init(&b, 0);
    int n = 0;
    const char *s = sql;
    if (buf_append(&b, "", 0))
        return NULL;
    while (*s) {
        const char *start = s;
        char c = *s;
        if (c == '\'') {
            int bs = s > sql && (s[-1] == 'E' || s[-1] == 'e') && (s - 1 == sql || !is_ident_char(s[-2]));
            s = skip_quoted(s, '\'', bs);
        } else if (c == '"') {
            s = skip_quoted(s, '"', 0);
        } else if (c == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (c == '/' && s[1] == '*') {
            int depth = 1; /* PostgreSQL block comments nest */
            for (s += 2; *s && depth; s++) {
                if (s[0] == '/' && s[1] == '*') {
                    depth++;
                    s++;
                } else if (s[0] == '*' && s[1] == '/') {
                    depth--;
                    s++;
                }
            }
        } else if (c == '$' && (s == sql || !is_ident_char(s[-1])) && dollar_tag_len(s)) {
            size_t tl = dollar_tag_len(s);
            const char *end = NULL;
            for (const char *p = s + tl; (p = strchr(p, '$')) != NULL; p++) {
                if (strncmp(p, s, tl) == 0) {
                    end = p + tl;
                    break;
                }
            }
            s = end ? end : s + strlen(s);
        } else if (c == '?') {
            if (n == INT_MAX || buf_printf(&b, "$%d", ++n))
                goto out_fail;
            s++;
            continue;
        } else {
            s++;
            while (*s && !strchr("'\"-/$?", *s))
                s++;
        }
        if (buf_append(&b, start, (size_t)(s - start)))
            goto out_fail;
    }
    return buf_steal(&b, NULL);
out_fail:
    buf_cleanup(&b);
    return NULL;
}
