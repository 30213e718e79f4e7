/* The PostgreSQL backend of struct db_ops (libpq): text parameters, typed results, reconnects. */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "store/db_impl.h"

#define PG_MIGRATION_LOCK_KEY "110429790561644" /* the bytes of "doppel" as a bigint */
#define PG_MAX_PARAMS 65535                     /* the protocol's limit */
#define RECONNECT_BUDGET_S 3.0                  /* a call never waits longer for a reconnect */
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 2.0

/* Type OIDs from pg_type.h (stable across server versions). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct db_pg {
    struct db base;
    PGconn *conn;
    double backoff;  /* seconds to wait after the next failed reconnect; 0 after a success */
    double next_try; /* monotonic time before which no reconnect is attempted */
    int in_txn;      /* the last statement left a transaction open */
    int txn_lost;    /* the connection died inside a transaction: only ROLLBACK clears this */
};

static struct db_pg *to_pg(struct db *db)
{
    return (struct db_pg *)(void *)db;
}

static void set_errmsg_trim(struct db_pg *p, const char *prefix, const char *msg)
{
    db_set_errmsg(&p->base, "%s%s", prefix, msg ? msg : "");
    size_t n = strlen(p->base.errmsg);
    while (n && (p->base.errmsg[n - 1] == '\n' || p->base.errmsg[n - 1] == ' '))
        p->base.errmsg[--n] = 0;
}

static void notice_cb(void *arg, const char *msg)
{
    (void)arg;
    DP_LOG(LOG_DEBUG, "[db] postgres notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Connects; the URL may override every default given before it (libpq expand_dbname). */
static PGconn *pg_connect(const char *url)
{
    const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
    const char *vals[] = {"3", "doppel", "UTF8", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, notice_cb, NULL);
    return c;
}

/* Maps a failed result (res may be NULL) to a dp_err and records the error text. */
static int map_error(struct db_pg *p, const PGresult *res)
{
    set_errmsg_trim(p, "", res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn));
    if (!p->base.errmsg[0])
        set_errmsg_trim(p, "", PQerrorMessage(p->conn));
    if (PQstatus(p->conn) != CONNECTION_OK)
        return DP_ERR_UNAVAILABLE;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return DP_ERR_DB;
    if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0)
        return DP_ERR_CONFLICT;
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
        strcmp(state, "57P03") == 0 || strcmp(state, "53300") == 0)
        return DP_ERR_UNAVAILABLE;
    return DP_ERR_DB;
}

/* Reads whatever the server sent while the connection was idle: a server that restarted or
 * terminated this session has sent a FATAL message and closed, which turns the status BAD
 * here, before a statement is sent that could then not be retried safely. */
static void check_idle(struct db_pg *p)
{
    for (int i = 0; i < 4 && PQstatus(p->conn) == CONNECTION_OK; i++) {
        struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
            return;
        if (!PQconsumeInput(p->conn))
            return;
        PQisBusy(p->conn); /* parses the input; async errors go to the notice processor */
        PGnotify *n;
        while ((n = PQnotifies(p->conn)) != NULL)
            PQfreemem(n);
    }
}

/* Re-establishes a lost connection: PQreset with exponential backoff between attempts
 * (BACKOFF_MIN_S doubling to BACKOFF_MAX_S, kept across calls), sleeping at most
 * RECONNECT_BUDGET_S in one call. DP_ERR_UNAVAILABLE when the server stays unreachable. */
static int pg_reconnect(struct db_pg *p)
{
    double deadline = db_monotonic() + RECONNECT_BUDGET_S;
    for (;;) {
        if (db_monotonic() >= p->next_try) {
            PQreset(p->conn);
            if (PQstatus(p->conn) == CONNECTION_OK) {
                DP_LOG(LOG_INFO, "[db] reconnected to postgres");
                p->backoff = 0;
                p->next_try = 0;
                p->in_txn = 0;
                return DP_OK;
            }
            /* Warn on the first failure of an outage only; the rest is noise. */
            DP_LOG(p->backoff ? LOG_DEBUG : LOG_WARN, "[db] postgres reconnect failed: %.*s",
                   (int)strcspn(PQerrorMessage(p->conn), "\n"), PQerrorMessage(p->conn));
            p->backoff = p->backoff ? p->backoff * 2 : BACKOFF_MIN_S;
            if (p->backoff > BACKOFF_MAX_S)
                p->backoff = BACKOFF_MAX_S;
            p->next_try = db_monotonic() + p->backoff;
        }
        double wait = p->next_try - db_monotonic();
        if (p->next_try > deadline) {
            set_errmsg_trim(p, "postgres unreachable: ", PQerrorMessage(p->conn));
            return DP_ERR_UNAVAILABLE;
        }
        if (wait > 0) {
            struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}

/* The connection lost inside a transaction poisons it until the caller rolls back. */
static void note_lost(struct db_pg *p)
{
    if (PQstatus(p->conn) != CONNECTION_OK && p->in_txn) {
        p->txn_lost = 1;
        p->in_txn = 0;
    }
}

static int is_word(const char *sql, const char *word)
{
    while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
        sql++;
    size_t n = strlen(word);
    if (strncasecmp(sql, word, n) != 0)
        return 0;
    for (sql += n; *sql; sql++)
        if (*sql != ' ' && *sql != '\t' && *sql != '\n' && *sql != '\r' && *sql != ';')
            return 0;
    return 1;
}

/* Makes the connection usable for sql. Returns DP_OK, an error, or -1 when sql (a ROLLBACK
 * after a lost transaction) needs no server round trip. */
static int pg_ready(struct db_pg *p, const char *sql)
{
    check_idle(p);
    note_lost(p);
    if (p->txn_lost) {
        if (is_word(sql, "ROLLBACK") || is_word(sql, "ABORT")) {
            p->txn_lost = 0;
            return -1;
        }
        db_set_errmsg(&p->base, "the postgres connection was lost inside a transaction; "
                                "roll back and retry");
        return DP_ERR_UNAVAILABLE;
    }
    if (PQstatus(p->conn) != CONNECTION_OK)
        return pg_reconnect(p);
    return DP_OK;
}

static void after_exec(struct db_pg *p)
{
    note_lost(p);
    PGTransactionStatusType ts = PQtransactionStatus(p->conn);
    p->in_txn = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

static int convert_cell(struct db_rows *r, struct db_val *v, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return DP_OK;
    const char *s = PQgetvalue(res, row, col);
    size_t n = (size_t)PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return db_rows_set_int(r, v, strtoll(s, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return db_rows_set_real(r, v, strtod(s, NULL));
    case OID_BOOL:
        return db_rows_set_int(r, v, s[0] == 't');
    case OID_BYTEA: {
        size_t len = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)s, &len);
        if (!b)
            return DP_ERR_NOMEM;
        int err = db_rows_set_bytes(r, v, DB_T_BLOB, b, len);
        PQfreemem(b);
        return err;
    }
    default:
        return db_rows_set_bytes(r, v, DB_T_TEXT, s, n);
    }
}

static int convert_result(const PGresult *res, struct db_rows **out)
{
    int nr = PQntuples(res), nc = PQnfields(res);
    struct db_rows *r = db_rows_new(nc);
    if (!r)
        return DP_ERR_NOMEM;
    int err = DP_OK;
    for (int c = 0; c < nc && !err; c++)
        err = db_rows_set_name(r, c, PQfname(res, c));
    for (int i = 0; i < nr && !err; i++) {
        struct db_val *row;
        err = db_rows_add_row(r, &row);
        for (int c = 0; c < nc && !err; c++)
            err = convert_cell(r, &row[c], res, i, c);
    }
    const char *cmd = PQcmdStatus((PGresult *)res);
    if (!strncmp(cmd, "INSERT", 6) || !strncmp(cmd, "UPDATE", 6) || !strncmp(cmd, "DELETE", 6) ||
        !strncmp(cmd, "MERGE", 5))
        r->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
    if (err) {
        db_rows_free(r);
        return err;
    }
    *out = r;
    return DP_OK;
}

/* Handles a result of PQexec/PQexecParams (takes ownership of res). */
static int finish_result(struct db_pg *p, PGresult *res, const char *sql, struct db_rows **out)
{
    int err = DP_OK;
    after_exec(p);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        err = map_error(p, res);
        goto out_clear;
    }
    /* COMMIT of a transaction that already failed "succeeds" as a ROLLBACK. */
    if ((is_word(sql, "COMMIT") || is_word(sql, "END")) && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        db_set_errmsg(&p->base, "the transaction had failed and was rolled back");
        err = DP_ERR_DB;
        goto out_clear;
    }
    if (out) {
        err = convert_result(res, out);
        if (err)
            db_set_errmsg(&p->base, "result set: %s", dp_strerror(err));
    }
out_clear:
    PQclear(res);
    return err;
}

static int pg_query(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out)
{
    struct db_pg *p = to_pg(db);
    const char **values = NULL;
    int *lengths = NULL, *formats = NULL;
    Oid *types = NULL;
    char *text = NULL, *q = NULL;
    int err;

    if (nparams > PG_MAX_PARAMS) {
        db_set_errmsg(db, "too many parameters (%d)", nparams);
        return DP_ERR_INVALID;
    }
    err = pg_ready(p, sql);
    if (err == -1) {
        if (out && !(*out = db_rows_new(0)))
            return DP_ERR_NOMEM;
        return DP_OK;
    }
    if (err)
        return err;
    q = db_sql_to_dollar(sql);
    if (!q)
        return DP_ERR_NOMEM;

    /* Numbers are formatted and text copied (NUL-terminated) into one scratch block. */
    size_t need = 0;
    for (int i = 0; i < nparams; i++) {
        const struct db_val *v = &params[i];
        if ((v->type == DB_T_TEXT || v->type == DB_T_BLOB) && !v->p && v->n) {
            db_set_errmsg(db, "parameter %d has no data", i + 1);
            err = DP_ERR_INVALID;
            goto out_free;
        }
        if (v->type == DB_T_TEXT) {
            if (v->n && memchr(v->p, 0, v->n)) {
                db_set_errmsg(db, "parameter %d: text contains a NUL byte", i + 1);
                err = DP_ERR_INVALID;
                goto out_free;
            }
            if (v->n > (size_t)INT_MAX) {
                db_set_errmsg(db, "parameter %d: text too large", i + 1);
                err = DP_ERR_TOO_LARGE;
                goto out_free;
            }
            need += v->n + 1;
        } else if (v->type == DB_T_INT || v->type == DB_T_REAL) {
            need += 40;
        } else if (v->type == DB_T_BLOB && v->n > INT_MAX) {
            db_set_errmsg(db, "parameter %d: blob too large", i + 1);
            err = DP_ERR_TOO_LARGE;
            goto out_free;
        } else if (v->type != DB_T_NULL && v->type != DB_T_BLOB) {
            db_set_errmsg(db, "parameter %d has an unknown type", i + 1);
            err = DP_ERR_INVALID;
            goto out_free;
        }
    }
    if (nparams) {
        values = calloc((size_t)nparams, sizeof(*values));
        lengths = calloc((size_t)nparams, sizeof(*lengths));
        formats = calloc((size_t)nparams, sizeof(*formats));
        types = calloc((size_t)nparams, sizeof(*types));
        text = malloc(need ? need : 1);
        if (!values || !lengths || !formats || !types || !text) {
            err = DP_ERR_NOMEM;
            goto out_free;
        }
    }
    char *t = text;
    for (int i = 0; i < nparams; i++) {
        const struct db_val *v = &params[i];
        switch (v->type) {
        case DB_T_INT:
            values[i] = t;
            t += snprintf(t, 40, "%lld", (long long)v->i) + 1;
            break;
        case DB_T_REAL:
            values[i] = t;
            if (v->d != v->d)
                t += snprintf(t, 40, "NaN") + 1;
            else if (v->d > 1.7976931348623157e308 || v->d < -1.7976931348623157e308)
                t += snprintf(t, 40, "%sInfinity", v->d < 0 ? "-" : "") + 1;
            else
                t += snprintf(t, 40, "%.17g", v->d) + 1;
            break;
        case DB_T_TEXT:
            values[i] = t;
            if (v->n)
                memcpy(t, v->p, v->n);
            t[v->n] = 0;
            t += v->n + 1;
            break;
        case DB_T_BLOB:
            values[i] = v->n ? v->p : "";
            lengths[i] = (int)v->n;
            formats[i] = 1;
            types[i] = OID_BYTEA;
            break;
        default:
            break; /* NULL */
        }
    }
    PGresult *res = PQexecParams(p->conn, q, nparams, types, values, lengths, formats, 0);
    err = finish_result(p, res, sql, out);

out_free:
    free(values);
    free(lengths);
    free(formats);
    free(types);
    free(text);
    free(q);
    return err;
}

static int pg_exec_script(struct db *db, const char *sql)
{
    struct db_pg *p = to_pg(db);
    int err = pg_ready(p, sql);
    if (err == -1)
        return DP_OK;
    if (err)
        return err;
    return finish_result(p, PQexec(p->conn, sql), sql, NULL);
}

static int pg_ping(struct db *db)
{
    struct db_pg *p = to_pg(db);
    if (p->txn_lost) /* a lost transaction awaits its rollback, yet the server may be fine */
        return PQstatus(p->conn) == CONNECTION_OK ? DP_OK : pg_reconnect(p);
    return pg_query(db, "SELECT 1", NULL, 0, NULL);
}

/* A session-level advisory lock, polled so that a stuck peer turns into DP_ERR_TIMEOUT. */
static int pg_migration_lock(struct db *db)
{
    double deadline = db_monotonic() + DB_MIGRATION_LOCK_WAIT_S;
    int logged = 0;
    for (;;) {
        struct db_rows *r = NULL;
        int err = pg_query(db, "SELECT pg_try_advisory_lock(" PG_MIGRATION_LOCK_KEY ")", NULL, 0, &r);
        if (err)
            return err;
        int got = db_rows_int(r, 0, 0) == 1;
        db_rows_free(r);
        if (got)
            return DP_OK;
        if (db_monotonic() > deadline) {
            db_set_errmsg(db, "timed out waiting for another process's migrations");
            return DP_ERR_TIMEOUT;
        }
        if (!logged++)
            DP_LOG(LOG_INFO, "[db] waiting for another process to finish migrating");
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
    }
}

static int pg_migration_unlock(struct db *db)
{
    return pg_query(db, "SELECT pg_advisory_unlock(" PG_MIGRATION_LOCK_KEY ")", NULL, 0, NULL);
}

static void pg_close(struct db *db)
{
    struct db_pg *p = to_pg(db);
    PQfinish(p->conn);
    free(p);
}

static int pg_open(struct db **out, const char *url)
{
    struct db_pg *p = calloc(1, sizeof(*p));
    if (!p)
        return DP_ERR_NOMEM;
    p->base.ops = &db_postgres_ops;
    p->conn = pg_connect(url);
    if (!p->conn) {
        free(p);
        return DP_ERR_NOMEM;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        /* libpq's message names host and user, never the password. */
        DP_LOG(LOG_ERROR, "[db] cannot connect to postgres: %.*s", (int)strcspn(PQerrorMessage(p->conn), "\n"),
               PQerrorMessage(p->conn));
        PQfinish(p->conn);
        free(p);
        return DP_ERR_UNAVAILABLE;
    }
    *out = &p->base;
    return DP_OK;
}

const struct db_ops db_postgres_ops = {
    .name = "postgres",
    .dialect = DB_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .query = pg_query,
    .exec_script = pg_exec_script,
    .ping = pg_ping,
    .migration_lock = pg_migration_lock,
    .migration_unlock = pg_migration_unlock,
};
