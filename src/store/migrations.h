/* The SQL migrations compiled into the binary (generated from migrations/ at build time). */
#ifndef DP_MIGRATIONS_H
#define DP_MIGRATIONS_H

#include "core/embedded.h"

/* migrations/<dialect>/NNNN_name.sql, named "<dialect>/NNNN_name.sql", ordered by dialect then
 * version; terminated by {0}. */
extern const struct embedded_file migration_files[];

struct migration {
    char dialect[16]; /* "sqlite" | "postgres" */
    int version;      /* NNNN from the file name */
    char name[96];    /* file name without .sql */
    const char *sql;
};

/* Reads a migration's dialect, version and name from its file's name. DP_ERR_INVALID when the
 * name is not <dialect>/NNNN_name.sql. */
int migration_parse(const struct embedded_file *f, struct migration *m);

#endif
