/* Shared test support (see support.h). */
#include "support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "test.h"

static char tmp_root[256], pg_admin_url[1024], pg_schema[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (tmp_root[0])
        nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(void)
{
    if (!tmp_root[0]) {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/doppel-unit-XXXXXX");
        CHECK(mkdtemp(tmp_root) != NULL);
        atexit(remove_tmpdir);
    }
    return tmp_root;
}

static void drop_pg_schema(void)
{
    struct db *db = NULL;
    if (pg_schema[0] && db_open(&db, pg_admin_url) == DP_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", pg_schema);
        db_exec_script(db, sql);
        db_close(db);
    }
}

const char *test_pg_url(void)
{
    static char url[1400];
    if (pg_schema[0])
        return url;
    const char *base = getenv("DOPPEL_TEST_PG_URL");
    if (!base || !*base)
        SKIP("DOPPEL_TEST_PG_URL not set");
    snprintf(pg_admin_url, sizeof pg_admin_url, "%s", base);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(pg_schema, sizeof pg_schema, "tu_%d_%ld", (int)getpid(), (long)random() % 100000);
    struct db *db = NULL;
    CHECK_EQ_INT(db_open(&db, base), DP_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", pg_schema);
    CHECK_EQ_INT(db_exec_script(db, sql), DP_OK);
    db_close(db);
    atexit(drop_pg_schema);
    snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?", pg_schema);
    return url;
}

const char *test_pg_admin_url(void)
{
    test_pg_url();
    return pg_admin_url;
}

const char *test_db_url(const char *backend)
{
    static char url[1400];
    log_min_level = LOG_WARN;
    if (!strcmp(backend, "sqlite"))
        snprintf(url, sizeof url, "%s/doppel.db", test_tmpdir());
    else
        snprintf(url, sizeof url, "%s", test_pg_url());
    struct db *db = NULL;
    CHECK_EQ_INT(db_open(&db, url), DP_OK);
    CHECK_EQ_INT(db_migrate(db, NULL), DP_OK);
    db_close(db);
    return url;
}
