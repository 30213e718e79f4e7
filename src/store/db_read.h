/* Reads the domain modules share: one page of a keyset-paginated list (what every list route of
 * the API answers with {items, next_cursor}) and one number. */
#ifndef DP_DB_READ_H
#define DP_DB_READ_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct db_rows;
struct db_val;

/* Runs `select` (SELECT … FROM … WHERE <conditions>; no ORDER BY or LIMIT) with params[0..np),
 * plus "AND <key> > after" (< when desc) when after is set, ordered by key, at most limit rows;
 * *items is row_json of each row (the caller's). */
int db_page(struct db *db, const char *select, const char *key, int desc, const struct db_val *params, int np,
            const char *after, long limit, json_t *(*row_json)(const struct db_rows *r, int i), json_t **items);

/* The one row of sql as row_json makes it, into *out (the caller's); DP_ERR_NOT_FOUND when sql
 * returns no row. */
int db_one(struct db *db, const char *sql, const struct db_val *params, int np,
           json_t *(*row_json)(const struct db_rows *r, int i), json_t **out);

/* The integer in the first column of the first row of sql (a COUNT(*) …) into *out; 0 when it
 * returns no row. */
int db_int(struct db *db, const char *sql, const struct db_val *params, int np, int64_t *out);

#endif
