/* One page of a keyset-paginated list: what every list route of the API answers with
 * {items, next_cursor}, read by the domain modules that own the rows. */
#ifndef DP_DB_PAGE_H
#define DP_DB_PAGE_H

#include <jansson.h>

struct db;
struct db_rows;
struct db_val;

/* Runs `select` (SELECT … FROM … WHERE <conditions>; no ORDER BY or LIMIT) with params[0..np),
 * plus "AND <key> > after" (< when desc) when after is set, ordered by key, at most limit rows;
 * *items is row_json of each row (the caller's). */
int db_page(struct db *db, const char *select, const char *key, int desc, const struct db_val *params, int np,
            const char *after, long limit, json_t *(*row_json)(const struct db_rows *r, int i), json_t **items);

#endif
