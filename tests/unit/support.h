/* What the C unit tests share: a temporary directory and a fresh PostgreSQL schema per test
 * process, each removed at exit, and migrated databases in them. */
#ifndef DP_TEST_SUPPORT_H
#define DP_TEST_SUPPORT_H

struct db;

/* A directory of this test's own (made on first call, removed with its files at exit). */
const char *test_tmpdir(void);

/* The URL of a fresh PostgreSQL schema on DOPPEL_TEST_PG_URL (dropped at exit); skips the test
 * when that variable is not set. */
const char *test_pg_url(void);
/* The server's own URL (for a connection outside the schema, e.g. to end a session). */
const char *test_pg_admin_url(void);

/* A migrated database: "sqlite" (a file in test_tmpdir) or "pg" (test_pg_url); its URL. Log
 * lines below warnings are silenced (one per migration drowns the output). */
const char *test_db_url(const char *backend);

#endif
