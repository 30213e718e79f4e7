/* The database of the brain tests (brain_db.c). */
#ifndef DP_TEST_BRAIN_DB_H
#define DP_TEST_BRAIN_DB_H

#include <stdint.h>

struct db;

/* A migrated SQLite database with user u1 and avatar a1 ("Grandpa Joe"); removed at exit. */
struct db *brain_test_db(void);

/* Avatar a1's memory revision. */
int64_t brain_test_rev(struct db *db);

/* The URL of that database (for a second connection). */
const char *brain_test_db_url(void);

#endif
