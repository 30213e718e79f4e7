/* Avatars: the one access check (owner, share, org, visibility) and row ↔ JSON. */
#ifndef DP_AVATAR_H
#define DP_AVATAR_H

#include <jansson.h>

#include "auth/caller.h"
#include "core/id.h"

struct db;
struct db_rows;

enum avatar_access { AVATAR_NONE = 0, AVATAR_VIEW = 1, AVATAR_EDIT = 2, AVATAR_OWN = 3 };

#define AVATAR_NAME_MAX 100
#define AVATAR_TEXT_MAX 20000 /* description, personality, scenario, greeting */

/* The columns avatar_from_row reads, in order. */
#define AVATAR_COLUMNS                                                                                              \
    "id, owner_id, org_id, name, kind, description, personality, scenario, greeting, visibility, brain, slug, "    \
    "publish, extensions, created_at, updated_at, visitor_talk, portrait_media_id"

/* What the access check learns about an avatar. */
struct avatar_ref {
    char id[ID_LEN];
    char owner_id[ID_LEN];
    char org_id[ID_LEN];
    char visibility[16];
    enum avatar_access level; /* the caller's */
};

/* The access check every avatar-scoped route goes through. c may be NULL (a visitor).
 * Owner → own; editor share → edit; viewer share, or any visibility but "private" to a user of
 * the avatar's organisation → view. "link" and "public" grant nothing more here: users of other
 * organisations and visitors reach such an avatar only through its legacy page (api/legacy.c),
 * which shows what the owner published and nothing else.
 * DP_ERR_NOT_FOUND when the caller may not see it (or it is deleted), DP_ERR_FORBIDDEN when it
 * may see it but needs more than it has. */
int avatar_access(struct db *db, const struct caller *c, const char *avatar_id, enum avatar_access need,
                  struct avatar_ref *out);
const char *avatar_access_name(enum avatar_access a);

struct cache;

/* The cache key of an avatar's working set (its JSON with stats), 64 bytes. */
void avatar_cache_key(const char *avatar_id, char out[64]);
/* Forgets the cached working set after anything it shows changed (fields, media, memories). */
void avatar_cache_forget(struct cache *c, const char *avatar_id);

/* The JSON of row i of a SELECT AVATAR_COLUMNS. */
json_t *avatar_from_row(const struct db_rows *r, int i);

/* Field validators for create/update; NULL when fine, else what is wrong. */
const char *avatar_check_kind(const char *s);
const char *avatar_check_visibility(const char *s);
const char *avatar_check_brain(const char *s);

#endif
