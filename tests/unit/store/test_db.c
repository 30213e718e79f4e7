/* Tests of src/store/db*: SQLite always, PostgreSQL when DOPPEL_TEST_PG_URL is set. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "store/db.h"
#include "store/db_impl.h"
#include "store/migrations.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* ---- helpers ---------------------------------------------------------------------------- */

static struct db *open_sqlite(void)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/data/doppel.db", test_tmpdir());
    struct db *db = NULL;
    OK(db_open(&db, url));
    CHECK_EQ_STR(db_backend_name(db), "sqlite");
    CHECK_EQ_INT(db_dialect(db), DB_SQLITE);
    return db;
}

static int count_migrations(const char *dialect)
{
    int n = 0;
    struct migration m;
    for (const struct embedded_file *f = migration_files; f->name; f++)
        n += migration_parse(f, &m) == DP_OK && strcmp(m.dialect, dialect) == 0;
    return n;
}

static int max_migration(const char *dialect)
{
    int v = 0;
    struct migration m;
    for (const struct embedded_file *f = migration_files; f->name; f++)
        if (migration_parse(f, &m) == DP_OK && strcmp(m.dialect, dialect) == 0 && m.version > v)
            v = m.version;
    return v;
}

TEST(db_migration_names_parse)
{
    struct migration m;
    for (const struct embedded_file *f = migration_files; f->name; f++)
        OK(migration_parse(f, &m));
    struct embedded_file good = {"postgres/0012_job_refs.sql", (const unsigned char *)"SELECT 1;", 9};
    OK(migration_parse(&good, &m));
    CHECK_EQ_STR(m.dialect, "postgres");
    CHECK_EQ_INT(m.version, 12);
    CHECK_EQ_STR(m.name, "0012_job_refs");
    static const char *const bad[] = {"0001_init.sql", "sqlite/init.sql", "sqlite/0001init.sql", "sqlite/0001_init.txt",
                                      "sqlite/0000_zero.sql"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct embedded_file f = {bad[i], (const unsigned char *)"", 0};
        CHECK_EQ_INT(migration_parse(&f, &m), DP_ERR_INVALID);
    }
}

static int64_t scalar_int(struct db *db, const char *sql)
{
    struct db_rows *r = NULL;
    OK(db_query(db, sql, NULL, 0, &r));
    CHECK_EQ_INT(r->nrows, 1);
    int64_t v = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return v;
}

/* ---- shared checks (run on both backends) ---------------------------------------------- */

static void check_types(struct db *db, const char *create)
{
    static const unsigned char bin[] = {0, 1, 2, 0xff, 0, '\\', '\'', 'x'};
    OK(db_exec_script(db, create));
    struct db_val p[6] = {DB_INT(INT64_MAX),         DB_REAL(1.5), DB_TEXT("h\xc3\xa9llo 'q' ?"),
                          DB_BLOB(bin, sizeof(bin)), DB_NULL,      DB_INT(-7)};
    struct db_rows *r = NULL;
    OK(db_query(db, "INSERT INTO t_types (i, r, s, b, n, j) VALUES (?, ?, ?, ?, ?, ?)", p, 6, &r));
    CHECK_EQ_INT(r->changes, 1);
    db_rows_free(r);
    struct db_val empty = DB_BLOB("", 0);
    OK(db_query(db, "INSERT INTO t_types (i, b) VALUES (2, ?)", &empty, 1, NULL));

    OK(db_query(db, "SELECT i, r, s, b, n, j FROM t_types ORDER BY i DESC", NULL, 0, &r));
    CHECK_EQ_INT(r->nrows, 2);
    CHECK_EQ_INT(r->ncols, 6);
    CHECK_EQ_STR(r->names[0], "i");
    CHECK_EQ_STR(r->names[5], "j");
    CHECK_EQ_INT(r->changes, 0);
    CHECK_EQ_INT(r->cells[0].type, DB_T_INT);
    CHECK(db_rows_int(r, 0, 0) == INT64_MAX);
    CHECK_EQ_STR(db_rows_text(r, 0, 0), "9223372036854775807");
    CHECK_EQ_INT(r->cells[1].type, DB_T_REAL);
    CHECK(db_rows_real(r, 0, 1) == 1.5);
    CHECK_EQ_INT(r->cells[2].type, DB_T_TEXT);
    CHECK_EQ_STR(db_rows_text(r, 0, 2), "h\xc3\xa9llo 'q' ?");
    CHECK_EQ_INT(r->cells[3].type, DB_T_BLOB);
    CHECK_EQ_INT(r->cells[3].n, sizeof(bin));
    CHECK(memcmp(r->cells[3].p, bin, sizeof(bin)) == 0);
    CHECK(db_rows_is_null(r, 0, 4));
    CHECK(db_rows_text(r, 0, 4) == NULL);
    CHECK_EQ_INT(db_rows_int(r, 0, 4), 0);
    CHECK_EQ_INT(db_rows_int(r, 0, 5), -7);
    /* the empty blob is a blob, not NULL */
    CHECK_EQ_INT(r->cells[6 + 3].type, DB_T_BLOB);
    CHECK_EQ_INT(r->cells[6 + 3].n, 0);
    CHECK(db_rows_is_null(r, 1, 1));
    /* out of range */
    CHECK(db_rows_text(r, 2, 0) == NULL);
    CHECK(db_rows_text(r, 0, 6) == NULL);
    CHECK(db_rows_text(r, -1, 0) == NULL);
    CHECK_EQ_INT(db_rows_int(r, 0, -1), 0);
    CHECK(db_rows_is_null(r, 5, 5));
    db_rows_free(r);

    struct db_val key = DB_TEXT("h\xc3\xa9llo 'q' ?");
    OK(db_query(db, "SELECT count(*) FROM t_types WHERE s = ? AND '?' = '?'", &key, 1, &r));
    CHECK_EQ_INT(db_rows_int(r, 0, 0), 1);
    db_rows_free(r);
    OK(db_query(db, "UPDATE t_types SET n = 'x'", NULL, 0, &r));
    CHECK_EQ_INT(r->changes, 2);
    db_rows_free(r);
    OK(db_query(db, "SELECT * FROM t_types WHERE i = 42", NULL, 0, &r));
    CHECK_EQ_INT(r->nrows, 0);
    CHECK_EQ_INT(r->ncols, 6);
    db_rows_free(r);
}

static void check_conflicts(struct db *db)
{
    OK(db_exec_script(db, "CREATE TABLE t_parent (id INTEGER PRIMARY KEY, u TEXT UNIQUE);"
                          "CREATE TABLE t_child (id INTEGER PRIMARY KEY, "
                          "  parent INTEGER NOT NULL REFERENCES t_parent(id));"));
    struct db_val p[2] = {DB_INT(1), DB_TEXT("a")};
    OK(db_query(db, "INSERT INTO t_parent (id, u) VALUES (?, ?)", p, 2, NULL));
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_parent (id, u) VALUES (?, ?)", p, 2, NULL), DP_ERR_CONFLICT);
    CHECK(strlen(db_errmsg(db)) > 0);
    p[0] = DB_INT(2);
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_parent (id, u) VALUES (?, ?)", p, 2, NULL),
                 DP_ERR_CONFLICT); /* unique column */
    struct db_val c[2] = {DB_INT(1), DB_INT(99)};
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_child (id, parent) VALUES (?, ?)", c, 2, NULL),
                 DP_ERR_CONFLICT); /* foreign key */
    c[1] = DB_NULL;
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_child (id, parent) VALUES (?, ?)", c, 2, NULL),
                 DP_ERR_DB); /* NOT NULL is not a conflict */
    CHECK_EQ_INT(db_query(db, "SELEC nonsense", NULL, 0, NULL), DP_ERR_DB);
    /* the connection still works after errors */
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_parent"), 1);
}

static void check_transactions(struct db *db)
{
    OK(db_exec_script(db, "CREATE TABLE t_tx (id INTEGER PRIMARY KEY)"));
    OK(db_begin(db));
    OK(db_query(db, "INSERT INTO t_tx (id) VALUES (1)", NULL, 0, NULL));
    OK(db_query(db, "INSERT INTO t_tx (id) VALUES (2)", NULL, 0, NULL));
    OK(db_rollback(db));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_tx"), 0);
    OK(db_begin(db));
    OK(db_query(db, "INSERT INTO t_tx (id) VALUES (1)", NULL, 0, NULL));
    OK(db_commit(db));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_tx"), 1);
    /* a failed statement inside a transaction, then rollback */
    OK(db_begin(db));
    OK(db_query(db, "INSERT INTO t_tx (id) VALUES (5)", NULL, 0, NULL));
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_tx (id) VALUES (1)", NULL, 0, NULL), DP_ERR_CONFLICT);
    OK(db_rollback(db));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_tx"), 1);
}

static void check_migrate(struct db *db, const char *dialect)
{
    int v = -1, applied = -1;
    OK(db_schema_version(db, &v));
    CHECK_EQ_INT(v, 0);
    OK(db_migrate(db, &applied));
    CHECK_EQ_INT(applied, count_migrations(dialect));
    CHECK(applied >= 1);
    OK(db_schema_version(db, &v));
    CHECK_EQ_INT(v, max_migration(dialect));
    OK(db_migrate(db, &applied));
    CHECK_EQ_INT(applied, 0);
    OK(db_migrate(db, NULL));

    struct db_rows *r = NULL;
    OK(db_query(db, "SELECT id, name, created_at FROM instance", NULL, 0, &r));
    CHECK_EQ_INT(r->nrows, 1);
    CHECK_EQ_STR(db_rows_text(r, 0, 0), "instance");
    CHECK_EQ_STR(db_rows_text(r, 0, 1), "doppel");
    const char *ts = db_rows_text(r, 0, 2); /* 2024-01-02T03:04:05.678Z */
    CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
    db_rows_free(r);
    OK(db_query(db, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version", NULL, 0, &r));
    CHECK_EQ_INT(r->nrows, count_migrations(dialect));
    CHECK_EQ_INT(db_rows_int(r, 0, 0), 1);
    CHECK_EQ_STR(db_rows_text(r, 0, 1), "0001_init");
    ts = db_rows_text(r, 0, 2);
    CHECK(ts && strlen(ts) == 24 && ts[23] == 'Z');
    db_rows_free(r);
}

/* Forks two processes that open url and migrate at the same moment; both must succeed and
 * apply every migration exactly once between them. */
static void check_concurrent_migrate(const char *url, const char *dialect)
{
    int go[2], res[2];
    CHECK(pipe(go) == 0 && pipe(res) == 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        CHECK(kids[k] >= 0);
        if (kids[k] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 1)
                _exit(2);
            struct db *db = NULL;
            int applied = -1;
            if (db_open(&db, url) != DP_OK)
                _exit(3);
            int err = db_migrate(db, &applied);
            db_close(db);
            if (err)
                _exit(4);
            if (write(res[1], &applied, sizeof(applied)) != sizeof(applied))
                _exit(5);
            _exit(0);
        }
    }
    close(go[0]);
    CHECK(write(go[1], "xx", 2) == 2);
    close(go[1]);
    close(res[1]);
    int total = 0;
    for (int k = 0; k < 2; k++) {
        int st = 0;
        CHECK(waitpid(kids[k], &st, 0) == kids[k]);
        CHECK(WIFEXITED(st));
        CHECK_EQ_INT(WEXITSTATUS(st), 0);
    }
    int applied;
    while (read(res[0], &applied, sizeof(applied)) == sizeof(applied))
        total += applied;
    close(res[0]);
    CHECK_EQ_INT(total, count_migrations(dialect));
    struct db *db = NULL;
    OK(db_open(&db, url));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM schema_migrations"), count_migrations(dialect));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM instance"), 1);
    db_close(db);
}

/* ---- SQLite ------------------------------------------------------------------------------ */

static const char *types_ddl = "CREATE TABLE t_types (i INTEGER, r REAL, s TEXT, b BLOB, "
                               "n TEXT, j INTEGER)";

TEST(db_sqlite_types_and_nulls)
{
    struct db *db = open_sqlite();
    check_types(db, types_ddl);
    db_close(db);
}

TEST(db_sqlite_conflicts)
{
    struct db *db = open_sqlite();
    check_conflicts(db);
    db_close(db);
}

TEST(db_sqlite_transactions)
{
    struct db *db = open_sqlite();
    check_transactions(db);
    db_close(db);
}

/* The WAL is copied into the database file by the file's checkpoint thread, not left to grow:
 * ~5 MB written in 300 commits reach the database file within seconds. */
TEST(db_sqlite_checkpoints_in_background)
{
    char url[600], path[512];
    snprintf(path, sizeof path, "%s/checkpoints/doppel.db", test_tmpdir());
    snprintf(url, sizeof url, "sqlite:%s", path);
    struct db *db = NULL;
    OK(db_open(&db, url));
    OK(db_query(db, "CREATE TABLE big (b BLOB)", NULL, 0, NULL));
    for (int i = 0; i < 300; i++)
        OK(db_query(db, "INSERT INTO big (b) VALUES (randomblob(16000))", NULL, 0, NULL));
    struct stat st = {0};
    for (int waited = 0; waited < 100 && (stat(path, &st) || st.st_size < 4000000); waited++)
        usleep(50 * 1000);
    CHECK(st.st_size >= 4000000);
    db_close(db);
}

TEST(db_sqlite_settings)
{
    struct db *db = open_sqlite();
    struct db_rows *r = NULL;
    OK(db_query(db, "PRAGMA journal_mode", NULL, 0, &r));
    CHECK_EQ_STR(db_rows_text(r, 0, 0), "wal");
    db_rows_free(r);
    CHECK_EQ_INT(scalar_int(db, "PRAGMA foreign_keys"), 1);
    CHECK_EQ_INT(scalar_int(db, "PRAGMA busy_timeout"), 5000);
    CHECK_EQ_INT(scalar_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
    OK(db_ping(db));
    db_close(db);
}

TEST(db_sqlite_url_forms)
{
    const char *dir = test_tmpdir();
    char url[512];
    struct db *db = NULL;
    snprintf(url, sizeof(url), "sqlite:%s/a/b/one.db", dir);
    OK(db_open(&db, url));
    db_close(db);
    snprintf(url, sizeof(url), "%s/a/b/one.db", dir);
    struct stat st;
    CHECK(stat(url, &st) == 0);
    snprintf(url, sizeof(url), "sqlite://%s/c/two.db", dir); /* sqlite:///abs/path */
    OK(db_open(&db, url));
    db_close(db);
    snprintf(url, sizeof(url), "%s/c/two.db", dir);
    CHECK(stat(url, &st) == 0);
    OK(db_open(&db, "sqlite::memory:"));
    OK(db_migrate(db, NULL));
    db_close(db);
    CHECK_EQ_INT(db_open(&db, ""), DP_ERR_INVALID);
    CHECK(db == NULL);
    CHECK_EQ_INT(db_open(&db, "sqlite:"), DP_ERR_INVALID);
    CHECK(db_ops_for_url("postgres://x/y") != db_ops_for_url("/tmp/x.db"));
    CHECK(db_ops_for_url("postgresql://x/y") == db_ops_for_url("postgres://x/y"));
    CHECK_EQ_STR(db_ops_for_url("sqlite:x.db")->name, "sqlite");
}

TEST(db_sqlite_bad_calls)
{
    struct db *db = open_sqlite();
    struct db_val p = DB_INT(1);
    CHECK_EQ_INT(db_query(db, "SELECT ?, ?", &p, 1, NULL), DP_ERR_INVALID);
    CHECK_EQ_INT(db_query(db, "SELECT 1", &p, 1, NULL), DP_ERR_INVALID);
    CHECK_EQ_INT(db_query(db, "SELECT 1; DROP TABLE x", NULL, 0, NULL), DP_ERR_INVALID);
    OK(db_query(db, "SELECT 1;  -- trailing comment", NULL, 0, NULL));
    struct db_rows *r = NULL;
    OK(db_query(db, "-- nothing", NULL, 0, &r));
    CHECK(r && r->nrows == 0 && r->ncols == 0);
    db_rows_free(r);
    db_rows_free(NULL);
    db_close(NULL);
    db_close(db);
}

TEST(db_sqlite_statement_cache)
{
    struct db *db = open_sqlite();
    OK(db_exec_script(db, "CREATE TABLE t_c (a INTEGER)"));
    /* more distinct statements than cache slots, twice over */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 80; i++) {
            char sql[64];
            snprintf(sql, sizeof(sql), "INSERT INTO t_c (a) VALUES (%d + ?)", i);
            struct db_val p = DB_INT(round * 1000);
            OK(db_query(db, sql, &p, 1, NULL));
        }
    }
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_c"), 160);
    /* a cached statement sees a schema change */
    struct db_rows *r = NULL;
    OK(db_query(db, "SELECT * FROM t_c LIMIT 1", NULL, 0, &r));
    CHECK_EQ_INT(r->ncols, 1);
    db_rows_free(r);
    OK(db_exec_script(db, "ALTER TABLE t_c ADD COLUMN b TEXT"));
    OK(db_query(db, "SELECT * FROM t_c LIMIT 1", NULL, 0, &r));
    CHECK_EQ_INT(r->ncols, 2);
    db_rows_free(r);
    db_close(db);
}

TEST(db_sqlite_migrate_idempotent)
{
    struct db *db = open_sqlite();
    check_migrate(db, "sqlite");
    db_close(db);
}

TEST(db_sqlite_migrate_two_processes)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/race/doppel.db", test_tmpdir());
    check_concurrent_migrate(url, "sqlite");
}

/* Fault injection: a copy of the SQLite ops whose query fails when it records a migration,
 * i.e. after the migration's own script ran inside the transaction. */
static struct db_ops faulty_ops;
static int faults;

static int faulty_query(struct db *db, const char *sql, const struct db_val *params, int nparams, struct db_rows **out)
{
    if (strncmp(sql, "INSERT INTO schema_migrations", 29) == 0) {
        faults++;
        db_set_errmsg(db, "injected fault");
        return DP_ERR_IO;
    }
    return db_sqlite_ops.query(db, sql, params, nparams, out);
}

TEST(db_migrate_failure_leaves_no_trace)
{
    struct db *db = open_sqlite();
    faulty_ops = db_sqlite_ops;
    faulty_ops.query = faulty_query;
    db->ops = &faulty_ops;
    int applied = -1;
    CHECK_EQ_INT(db_migrate(db, &applied), DP_ERR_IO);
    CHECK_EQ_INT(applied, 0);
    CHECK_EQ_INT(faults, 1);
    CHECK_EQ_STR(db_errmsg(db), "injected fault");
    db->ops = &db_sqlite_ops;
    int v = -1;
    OK(db_schema_version(db, &v));
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'instance'"), 0);
    /* the lock was released and the transaction rolled back: a clean retry works */
    OK(db_migrate(db, &applied));
    CHECK_EQ_INT(applied, count_migrations("sqlite"));
    db_close(db);
}

static int hook_calls, hook_errs;
static char hook_last_op[32];

static void test_hook(const char *backend, const char *op, double seconds, int err)
{
    (void)backend;
    hook_calls++;
    hook_errs += err != 0;
    snprintf(hook_last_op, sizeof(hook_last_op), "%s", op);
    CHECK(seconds >= 0 && seconds < 60);
}

TEST(db_observe_hook_times_calls)
{
    struct db *db = open_sqlite();
    db_observe_hook = test_hook;
    OK(db_query(db, "SELECT 1", NULL, 0, NULL));
    CHECK_EQ_INT(hook_calls, 1);
    CHECK_EQ_STR(hook_last_op, "query");
    CHECK(db_query(db, "SELECT nope", NULL, 0, NULL) != DP_OK);
    CHECK_EQ_INT(hook_calls, 2);
    CHECK_EQ_INT(hook_errs, 1);
    OK(db_begin(db));
    CHECK_EQ_STR(hook_last_op, "begin");
    OK(db_commit(db));
    CHECK_EQ_STR(hook_last_op, "commit");
    OK(db_ping(db));
    CHECK_EQ_STR(hook_last_op, "ping");
    db_observe_hook = NULL;
    db_close(db);
}

static void check_dollar(const char *in, const char *want)
{
    char *out = db_sql_to_dollar(in);
    CHECK(out != NULL);
    if (strcmp(out, want) != 0)
        fprintf(stderr, "    db_sql_to_dollar(%s) = %s, want %s\n", in, out, want);
    CHECK_EQ_STR(out, want);
    free(out);
}

TEST(db_sql_to_dollar_edge_cases)
{
    check_dollar("", "");
    check_dollar("SELECT 1", "SELECT 1");
    check_dollar("SELECT ?, ?", "SELECT $1, $2");
    check_dollar("?", "$1");
    check_dollar("a=?AND b=?", "a=$1AND b=$2");
    check_dollar("SELECT '?', ?", "SELECT '?', $1");
    check_dollar("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1");
    check_dollar("SELECT '', ?", "SELECT '', $1");
    check_dollar("SELECT \"we?rd\"\"?\" FROM t WHERE x = ?", "SELECT \"we?rd\"\"?\" FROM t WHERE x = $1");
    check_dollar("SELECT 1 -- what?\n, ?", "SELECT 1 -- what?\n, $1");
    check_dollar("SELECT ? -- trailing ?", "SELECT $1 -- trailing ?");
    check_dollar("SELECT 1 - ?, 2-?", "SELECT 1 - $1, 2-$2");
    check_dollar("/* ? /* nested ? */ still ? */ ?", "/* ? /* nested ? */ still ? */ $1");
    check_dollar("SELECT 4/?", "SELECT 4/$1");
    check_dollar("SELECT E'\\'?', ?", "SELECT E'\\'?', $1");
    check_dollar("SELECT e'a\\\\', ?", "SELECT e'a\\\\', $1");
    check_dollar("SELECT '\\', ?", "SELECT '\\', $1"); /* no backslash escapes in '' */
    check_dollar("SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1");
    check_dollar("SELECT $fn$ ? $x$ ? $fn$, ?", "SELECT $fn$ ? $x$ ? $fn$, $1");
    check_dollar("SELECT a$b, ?", "SELECT a$b, $1");
    check_dollar("SELECT $1, ?", "SELECT $1, $1");
    check_dollar("SELECT 'unterminated ?", "SELECT 'unterminated ?");
    check_dollar("SELECT \"unterminated ?", "SELECT \"unterminated ?");
    check_dollar("/* unterminated ?", "/* unterminated ?");
    check_dollar("SELECT $$ unterminated ?", "SELECT $$ unterminated ?");
    check_dollar("??", "$1$2");
    char big[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "?,");
    char *out = db_sql_to_dollar(big);
    CHECK(out && strstr(out, "$1000,") && !strchr(out, '?'));
    free(out);
}

/* ---- PostgreSQL --------------------------------------------------------------------------- */

static struct db *open_pg(void)
{
    struct db *db = NULL;
    OK(db_open(&db, test_pg_url()));
    CHECK_EQ_STR(db_backend_name(db), "postgres");
    CHECK_EQ_INT(db_dialect(db), DB_POSTGRES);
    return db;
}

/* Ends the server session of db from another connection, as a server restart would. */
static void pg_kill_session(struct db *db)
{
    int64_t pid = scalar_int(db, "SELECT pg_backend_pid()");
    struct db *admin = NULL;
    OK(db_open(&admin, test_pg_admin_url()));
    struct db_val p = DB_INT(pid);
    struct db_rows *r = NULL;
    OK(db_query(admin, "SELECT pg_terminate_backend(?::int)", &p, 1, &r));
    CHECK_EQ_INT(db_rows_int(r, 0, 0), 1);
    db_rows_free(r);
    db_close(admin);
    usleep(200 * 1000);
}

TEST(db_pg_types_and_nulls)
{
    struct db *db = open_pg();
    check_types(db, "CREATE TABLE t_types (i BIGINT, r DOUBLE PRECISION, s TEXT, b BYTEA, "
                    "n TEXT, j INTEGER)");
    struct db_rows *r = NULL;
    OK(db_query(db, "SELECT true, false, 2.5::numeric, 3::smallint, 'x'::varchar, NULL::int", NULL, 0, &r));
    CHECK_EQ_INT(r->cells[0].type, DB_T_INT);
    CHECK_EQ_INT(db_rows_int(r, 0, 0), 1);
    CHECK_EQ_INT(db_rows_int(r, 0, 1), 0);
    CHECK_EQ_INT(r->cells[2].type, DB_T_REAL);
    CHECK(db_rows_real(r, 0, 2) == 2.5);
    CHECK_EQ_INT(r->cells[3].type, DB_T_INT);
    CHECK_EQ_INT(r->cells[4].type, DB_T_TEXT);
    CHECK(db_rows_is_null(r, 0, 5));
    db_rows_free(r);
    struct db_val nul = DB_BLOB("a\0b", 3);
    struct db_val bad = {.type = DB_T_TEXT, .p = "a\0b", .n = 3};
    OK(db_query(db, "SELECT ?::bytea", &nul, 1, &r));
    CHECK_EQ_INT(r->cells[0].n, 3);
    CHECK(memcmp(r->cells[0].p, "a\0b", 3) == 0);
    db_rows_free(r);
    CHECK_EQ_INT(db_query(db, "SELECT ?", &bad, 1, NULL), DP_ERR_INVALID);
    db_close(db);
}

TEST(db_pg_conflicts)
{
    struct db *db = open_pg();
    check_conflicts(db);
    db_close(db);
}

TEST(db_pg_transactions)
{
    struct db *db = open_pg();
    check_transactions(db);
    /* COMMIT of a failed transaction is an error, not a silent rollback */
    OK(db_begin(db));
    OK(db_query(db, "INSERT INTO t_tx (id) VALUES (7)", NULL, 0, NULL));
    CHECK(db_query(db, "SELECT nope", NULL, 0, NULL) == DP_ERR_DB);
    CHECK_EQ_INT(db_commit(db), DP_ERR_DB);
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_tx WHERE id = 7"), 0);
    db_close(db);
}

TEST(db_pg_migrate_idempotent)
{
    struct db *db = open_pg();
    check_migrate(db, "postgres");
    db_close(db);
}

TEST(db_pg_migrate_two_processes)
{
    check_concurrent_migrate(test_pg_url(), "postgres");
}

TEST(db_pg_reconnects_after_session_loss)
{
    struct db *db = open_pg();
    OK(db_exec_script(db, "CREATE TABLE t_rc (id INTEGER)"));
    pg_kill_session(db);
    /* the search_path (from the URL) survives the reconnect */
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_rc"), 0);
    pg_kill_session(db);
    OK(db_ping(db));
    db_close(db);
}

TEST(db_pg_lost_transaction_needs_rollback)
{
    struct db *db = open_pg();
    OK(db_exec_script(db, "CREATE TABLE t_lost (id INTEGER)"));
    OK(db_begin(db));
    OK(db_query(db, "INSERT INTO t_lost (id) VALUES (1)", NULL, 0, NULL));
    pg_kill_session(db);
    CHECK_EQ_INT(db_query(db, "INSERT INTO t_lost (id) VALUES (2)", NULL, 0, NULL), DP_ERR_UNAVAILABLE);
    CHECK_EQ_INT(db_commit(db), DP_ERR_UNAVAILABLE);
    OK(db_rollback(db));
    CHECK_EQ_INT(scalar_int(db, "SELECT count(*) FROM t_lost"), 0);
    db_close(db);
}

TEST(db_pg_unreachable)
{
    if (!getenv("DOPPEL_TEST_PG_URL"))
        SKIP("DOPPEL_TEST_PG_URL not set");
    struct db *db = NULL;
    CHECK_EQ_INT(db_open(&db, "postgres://postgres@127.0.0.1:1/postgres"), DP_ERR_UNAVAILABLE);
    CHECK(db == NULL);
}
