/* The audit log: who did what to whom, from where, when. Never secrets. */
#ifndef DP_AUDIT_H
#define DP_AUDIT_H

#include <jansson.h>

struct db;

/* Appends an entry; detail (may be NULL) is stolen. actor/target/org/ip may be NULL.
 * A failure is logged, never returned: auditing must not turn a done action into an error. */
void audit_write(struct db *db, const char *action, const char *actor, const char *target, const char *org,
                 const char *ip, json_t *detail);

/* One page of the log, newest first (ids are UUIDv7: id order is time order), ids before
 * `before`; only entries of action when it is set. */
int audit_list(struct db *db, const char *action, const char *before, long limit, json_t **items);

#endif
