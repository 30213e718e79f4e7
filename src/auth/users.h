/* Users as administered: who may see and change whom (admins everyone, managers the members and
 * managers of their organisation, everyone themselves), the last admin kept, and who may find
 * whom. api/users.c only speaks HTTP; deleting a user with their avatars' files is avatar/'s
 * (media_delete_user), which calls users_delete. */
#ifndef DP_USERS_H
#define DP_USERS_H

#include <jansson.h>

#include "auth/accounts.h"
#include "auth/caller.h"

/* One page of the users of org (NULL: all), by id after `after`. */
int users_list(struct db *db, const char *org, const char *after, long limit, json_t **items);

/* User id's org and role, when c may see that user (themselves, or one c may manage); else
 * DP_ERR_NOT_FOUND. */
int users_target(struct db *db, const struct caller *c, const char *id, char org[ID_LEN], enum role *role);

/* 1 when password is user id's current password. */
int users_password_matches(struct db *db, const char *id, const char *password);

/* A change of a user; NULL fields stay. */
struct users_change {
    const char *display_name;
    const char *password_hash;
    const char *role; /* "admin" | "manager" | "member" */
    const char *org_id;
};

/* Applies ch to user id. removes_admin: the change takes an admin's role away, refused with
 * DP_ERR_CONFLICT when no other admin would remain (checked under the users lock, so two admins
 * demoting each other at once cannot both succeed). DP_ERR_CONFLICT also for an unknown org. */
int users_update(struct db *db, const char *id, const struct users_change *ch, int removes_admin);

/* Deletes user id (their rows go by cascade), with the last-admin rule of users_update, and
 * revokes their sessions on every instance. */
int users_delete(struct context *e, const char *id, int removes_admin);

/* People c may find by q (2–100 bytes): by name in c's organisation (unless it is the open
 * default every stranger signs up into) or an avatar shared between them; by a whole address
 * (any case), never a part of one. At most 20, [{id, display_name}]. */
int users_search(struct db *db, const struct caller *c, const char *q, json_t **items);

#endif
