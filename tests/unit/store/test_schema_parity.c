/* Schema parity: the SQLite and the PostgreSQL migrations make the same tables, with the same
 * columns and the same named indexes, so that no query works on one engine and fails on the
 * other. The engines' own search structures are the one allowed difference (listed below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/db.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* Full-text search is each engine's own: SQLite's FTS5 table (and the shadow tables it makes)
 * against PostgreSQL's generated tsvector column (memories.tsv) and its GIN index. */
static int engine_specific(const char *name)
{
    return !strncmp(name, "memories_fts", 12) || !strcmp(name, "memories_tsv") || !strcmp(name, "memories.tsv");
}

/* "table.column" lines, then "index:table.name" lines, sorted, one per line. */
static char *describe(struct db *db, const char *tables_sql, const char *columns_sql, const char *indexes_sql)
{
    struct buf out;
    buf_init(&out, 0);
    struct db_rows *t, *r;
    OK(db_query(db, tables_sql, NULL, 0, &t));
    for (int i = 0; i < t->nrows; i++) {
        const char *table = db_rows_text(t, i, 0);
        if (engine_specific(table))
            continue;
        struct db_val p[] = {DB_TEXT(table)};
        OK(db_query(db, columns_sql, p, 1, &r));
        for (int j = 0; j < r->nrows; j++) {
            char col[256];
            snprintf(col, sizeof col, "%s.%s", table, db_rows_text(r, j, 0));
            if (!engine_specific(col))
                buf_printf(&out, "%s\n", col);
        }
        db_rows_free(r);
        OK(db_query(db, indexes_sql, p, 1, &r));
        for (int j = 0; j < r->nrows; j++)
            if (!engine_specific(db_rows_text(r, j, 0)))
                buf_printf(&out, "index:%s.%s\n", table, db_rows_text(r, j, 0));
        db_rows_free(r);
    }
    db_rows_free(t);
    return buf_steal(&out, NULL);
}

/* The lines of a that b lacks, as one string for the failure message. */
static void missing(const char *a, const char *b, struct buf *out, const char *label)
{
    for (const char *l = a; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = (size_t)(e - l) + 1;
        int found = 0;
        for (const char *m = b; *m && !found;) {
            const char *f = strchr(m, '\n');
            found = (size_t)(f - m) + 1 == n && !strncmp(m, l, n);
            m = f + 1;
        }
        if (!found)
            buf_printf(out, "only in %s: %.*s", label, (int)n, l);
        l = e + 1;
    }
}

TEST(db_schema_parity_sqlite_postgres)
{
    const char *pg_url = test_pg_url(); /* skips without PostgreSQL */
    struct db *lite = NULL, *pg = NULL;
    OK(db_open(&lite, test_db_url("sqlite")));
    OK(db_open(&pg, test_db_url("pg")));
    (void)pg_url;
    char *a =
        describe(lite, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                 "SELECT name FROM pragma_table_info(?) ORDER BY name",
                 "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
                 "ORDER BY name");
    char *b = describe(pg,
                       "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND "
                       "table_type = 'BASE TABLE' ORDER BY table_name",
                       "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND "
                       "table_name = ? ORDER BY column_name",
                       "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = ? "
                       "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) "
                       "ORDER BY i.indexname");
    CHECK(a && b && strlen(a) > 100);
    struct buf diff;
    buf_init(&diff, 0);
    missing(a, b, &diff, "sqlite");
    missing(b, a, &diff, "postgres");
    if (diff.len)
        fprintf(stderr, "%s", diff.data);
    CHECK_EQ_INT((int)diff.len, 0);
    buf_cleanup(&diff);
    free(a);
    free(b);
    db_close(lite);
    db_close(pg);
}
