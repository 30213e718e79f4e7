/* Shared reads (see db_read.h). */
#include "store/db_read.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/db.h"

int db_page(struct db *db, const char *select, const char *key, int desc, const struct db_val *params, int np,
            const char *after, long limit, json_t *(*row_json)(const struct db_rows *r, int i), json_t **items)
{
    struct buf sql;
    buf_init(&sql, 0);
    struct db_val *p = calloc((size_t)np + 2, sizeof *p);
    if (!p)
        return DP_ERR_NOMEM;
    if (np)
        memcpy(p, params, sizeof *p * (size_t)np);
    int n = np;
    buf_printf(&sql, "%s", select);
    if (after) {
        buf_printf(&sql, " AND %s %s ?", key, desc ? "<" : ">");
        p[n++] = DB_TEXT(after);
    }
    buf_printf(&sql, " ORDER BY %s%s LIMIT ?", key, desc ? " DESC" : "");
    p[n++] = DB_INT(limit);
    struct db_rows *r = NULL;
    int err = sql.data ? db_query(db, sql.data, p, n, &r) : DP_ERR_NOMEM;
    buf_cleanup(&sql);
    free(p);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++)
        json_array_append_new(*items, row_json(r, i));
    db_rows_free(r);
    return DP_OK;
}

int db_int(struct db *db, const char *sql, const struct db_val *params, int np, int64_t *out)
{
    struct db_rows *r;
    int err = db_query(db, sql, params, np, &r);
    if (err)
        return err;
    *out = r->nrows ? db_rows_int(r, 0, 0) : 0;
    db_rows_free(r);
    return DP_OK;
}

int db_one(struct db *db, const char *sql, const struct db_val *params, int np,
           json_t *(*row_json)(const struct db_rows *r, int i), json_t **out)
{
    struct db_rows *r;
    int err = db_query(db, sql, params, np, &r);
    if (err)
        return err;
    err = r->nrows >= 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        *out = row_json(r, 0);
    db_rows_free(r);
    return err;
}
