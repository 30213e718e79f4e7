/* Backend registries: each family (db, cache, blob, embed, brain) lists its backends in one table —
 * a name, the addresses that choose it, capability bits and the family's ops table (which holds the
 * constructor and the lifecycle) — so that a new backend is one file plus one row (the way curl
 * lists its TLS backends and Redis its connection types). Tests add a backend at run time. */
#ifndef DP_REGISTRY_H
#define DP_REGISTRY_H

#define REGISTRY_MAX 16 /* backends per family */

struct backend {
    const char *name;           /* "sqlite", "postgres", "redis", "fs", "openai", "recall" … */
    const char *const *schemes; /* address prefixes that choose it ("redis://"); NULL: by name only */
    unsigned caps;              /* the family's capability bits */
    const void *ops;            /* the family's ops table */
};

struct registry {
    const char *family;
    const struct backend *rows[REGISTRY_MAX];
    int n;
    int fallback; /* the row that serves an address no scheme matches (a plain path); -1: none */
};

/* Adds backend b (its storage stays the caller's). DP_ERR_CONFLICT for a name the family has,
 * DP_ERR_TOO_LARGE when the table is full. Call before threads use the registry. */
int registry_add(struct registry *r, const struct backend *b);

/* The backend named name; NULL when the family has none. */
const struct backend *registry_find(const struct registry *r, const char *name);

/* The backend an address chooses: the first whose scheme prefixes it (any case), else the one
 * whose name it is ("memory"), else the fallback for an address without "://"; NULL when none does. */
const struct backend *registry_for_url(const struct registry *r, const char *url);

#endif
