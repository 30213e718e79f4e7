/* The database of the brain tests: a migrated SQLite file in the test's directory (removed at
 * exit), with user u1 and avatar a1 ("Grandpa Joe", recall brain). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "brain_db.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

int64_t brain_test_rev(struct db *db)
{
    struct db_rows *r;
    OK(db_query(db, "SELECT memory_rev FROM avatars WHERE id = 'a1'", NULL, 0, &r));
    int64_t v = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return v;
}

const char *brain_test_db_url(void)
{
    static char url[4096];
    snprintf(url, sizeof url, "%s/doppel.db", test_tmpdir());
    return url;
}

/* A migrated SQLite database with user u1 and avatar a1. */
struct db *brain_test_db(void)
{
    const char *url = brain_test_db_url();
    struct db *db = NULL;
    log_min_level = LOG_WARN;
    OK(db_open(&db, url));
    OK(db_migrate(db, NULL));
    OK(db_exec_script(
        db, "INSERT INTO users (id, org_id, email, display_name, password_hash, role, created_at, updated_at) "
            "VALUES ('u1', 'default', 'u1@example.test', 'U', 'x', 'member', '2020-01-01T00:00:00Z', "
            "'2020-01-01T00:00:00Z');"
            "INSERT INTO avatars (id, owner_id, org_id, name, kind, visibility, brain, created_at, updated_at) "
            "VALUES ('a1', 'u1', 'default', 'Grandpa Joe', 'self', 'private', 'recall', '2020-01-01T00:00:00Z', "
            "'2020-01-01T00:00:00Z');"));
    return db;
}
