/* Organisations: namespaces whose data never crosses. Admins see and manage all; others see
 * their own (managers rename it). The rules live here; api/orgs.c only speaks HTTP. */
#ifndef DP_ORGS_H
#define DP_ORGS_H

#include <jansson.h>

#include "auth/caller.h"

struct db;

#define ORG_NAME_MAX 100

/* 1 when name may name an organisation (1–ORG_NAME_MAX bytes, a valid display name). */
int orgs_name_valid(const char *name);

/* One page of the organisations c may see, by id after `after`. */
int orgs_list(struct db *db, const struct caller *c, const char *after, long limit, json_t **items);

/* Organisation id, when c may see it; else DP_ERR_NOT_FOUND. out may be NULL (a check). */
int orgs_get(struct db *db, const struct caller *c, const char *id, json_t **out);

/* Creates an organisation named name; its JSON into *out. */
int orgs_create(struct db *db, const char *name, json_t **out);

/* Renames organisation id. */
int orgs_rename(struct db *db, const char *id, const char *name);

/* Deletes organisation id. DP_ERR_CONFLICT when it is "default" (*users 0) or still has users
 * (*users their number): an organisation is emptied before it goes. */
int orgs_delete(struct db *db, const char *id, long long *users);

#endif
