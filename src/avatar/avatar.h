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
#define AVATAR_COLUMNS                                                                                                 \
    "id, owner_id, org_id, name, kind, description, personality, scenario, greeting, visibility, brain, slug, "        \
    "publish, extensions, created_at, updated_at, visitor_talk, portrait_media_id, language"
#define AVATAR_NCOLS 19

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

/* Cache scopes (store/cache_gen.h) of answers that show avatars, CACHE_GEN_SCOPE_MAX bytes:
 * one avatar (its fields, stats, shares: GET /avatars/{id}, its media and memory lists), and
 * the avatar lists of an organisation's members and of an owner. */
void avatar_scope(const char *avatar_id, char *out);
void avatar_org_scope(const char *org_id, char *out);
/* Cached answers that show the avatar are out of date (fields, shares, media, memories): moves
 * its scope on. Call after the write is durable, before it is acknowledged. */
void avatar_cache_forget(struct cache *c, const char *avatar_id);
/* The avatar lists that may show an avatar of org_id owned by owner_id are out of date
 * (created, changed, deleted, shared, unshared): moves org_id's and the owner's scopes on. */
void avatar_lists_forget(struct cache *c, const char *org_id, const char *owner_id);
/* Both of the above for ref. */
void avatar_changed(struct cache *c, const struct avatar_ref *ref);
/* Both of the above for the avatar avatar_id (its owner and organisation read from db), for a
 * change that shows in lists without a ref at hand (its portrait set, or its image deleted). */
void avatar_changed_by_id(struct cache *c, struct db *db, const char *avatar_id);

/* The JSON of row i of a SELECT AVATAR_COLUMNS. */
json_t *avatar_from_row(const struct db_rows *r, int i);

struct jw;
/* The members of that JSON (inside an object the caller opened), written straight out; lists
 * leave out the card extensions (with_extensions 0). The one place the avatar's shape is said. */
void avatar_write_fields(struct jw *w, const struct db_rows *r, int i, int with_extensions);

/* Field validators for create/update; NULL when fine, else what is wrong. */
const char *avatar_check_kind(const char *s);
const char *avatar_check_visibility(const char *s);
const char *avatar_check_brain(const char *s);
/* NULL when s is an avatar language (auto, en, de, es, fr, it, pt, nl), else why not. */
const char *avatar_check_language(const char *s);

#endif
