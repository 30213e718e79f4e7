/* The authenticated caller of a request, and roles. */
#ifndef DP_CALLER_H
#define DP_CALLER_H

#include "core/id.h"
#include "store/cache_gen.h"

enum role { ROLE_MEMBER = 0, ROLE_MANAGER = 1, ROLE_ADMIN = 2 };

struct caller {
    char user_id[ID_LEN];
    char org_id[ID_LEN];
    enum role role;
    char session_id[ID_LEN];
    char key_id[ID_LEN];         /* the API key (auth/api_keys.h) the request came with; "" for a token */
    struct cache_gen_known gens; /* the caller's user and org generations, read with the session */
};

/* "admin" | "manager" | "member" → role; -1 when unknown. */
int role_parse(const char *s);
const char *role_name(enum role r);

/* 1 when c may manage (read, update, delete) a user of org target_org with role target_role:
 * admins everyone; managers the members and managers of their own org; nobody else. */
int caller_can_manage(const struct caller *c, const char *target_org, enum role target_role);

#endif
