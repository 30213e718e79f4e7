/* The database of the brain tests (brain_db.c). */
#ifndef DP_TEST_BRAIN_DB_H
#define DP_TEST_BRAIN_DB_H

struct db;

/* A migrated SQLite database with user u1 and avatar a1 ("Grandpa Joe"); removed at exit. */
struct db *brain_test_db(void);

/* The URL of that database (for a second connection). */
const char *brain_test_db_url(void);

#endif
