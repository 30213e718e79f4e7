/* The SQL migrations compiled into the binary (generated from migrations/ at build time). */
#ifndef DP_MIGRATIONS_H
#define DP_MIGRATIONS_H

struct migration {
    const char *dialect; /* "sqlite" | "postgres" */
    int version;         /* NNNN from the file name */
    const char *name;    /* file name without .sql */
    const char *sql;
};

/* Terminated by an entry with dialect == NULL; ordered by dialect then version. */
extern const struct migration migrations_embedded[];

#endif
