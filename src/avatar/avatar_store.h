/* Avatars as stored: their fields checked, created, listed, read with stats (through the cache),
 * changed and deleted. The access check is avatar.h's; api/avatars.c only speaks HTTP. */
#ifndef DP_AVATAR_STORE_H
#define DP_AVATAR_STORE_H

#include <jansson.h>

#include "auth/accounts.h"
#include "avatar/avatar.h"

/* What is wrong with body (a create when creating, else a change), or NULL: types, caps, names,
 * kind, visibility, brain, publish, visitor_talk, slug. */
const char *avatar_check_body(json_t *body, int creating);

/* Creates an avatar of c from body (checked); its JSON into *out. DP_ERR_CONFLICT when the slug
 * it asks for is taken. */
int avatar_create(struct db *db, const struct caller *c, json_t *body, json_t **out);

/* The avatar's JSON (not deleted); DP_ERR_NOT_FOUND. No access check: the caller made it. */
int avatar_get(struct db *db, const char *id, json_t **out);

/* The avatar whose legacy page is slug (link or public, not deleted); DP_ERR_NOT_FOUND for any
 * other. Its JSON is for the page to pick the published fields from: never hand it out whole. */
int avatar_published(struct db *db, const char *slug, json_t **out);

/* The avatar c names by its id or its slug (the OpenAI-compatible facade's "model"), through the
 * access check every route uses (AVATAR_VIEW): DP_ERR_NOT_FOUND when c may not see it. */
int avatar_resolve(struct db *db, const struct caller *c, const char *id_or_slug, struct avatar_ref *ref);

/* One page of the avatars c may see (own, shared, and those of c's organisation that are not
 * private), each with c's access and without its (possibly large) extensions. */
struct buf;
int avatar_list(struct db *db, const struct caller *c, const char *after, long limit, json_t **items);
/* The same page as the API answers it ({"items": [...], "next_cursor": ...}), written straight
 * into out with no JSON tree (the cold fill of the cached list). */
int avatar_list_page(struct db *db, const struct caller *c, const char *after, long limit, struct buf *out);

/* The avatar's JSON with stats (media and memory counts), from the database. */
int avatar_with_stats(struct context *e, const char *id, json_t **out);

/* Applies body (checked) to avatar ref: the fields it holds; a link/public visibility gives the
 * avatar its page address the first time (from its name). DP_ERR_FORBIDDEN when body changes
 * what only the owner may (visibility, slug, publish, visitor_talk) and ref's caller is not it;
 * DP_ERR_CONFLICT when the slug it asks for is taken. */
int avatar_update(struct context *e, const struct avatar_ref *ref, json_t *body);

/* Deletes avatar ref at once for every reader; its media, memories and blobs go in the
 * avatar.delete job, whose id is put into job. */
int avatar_delete(struct context *e, const struct avatar_ref *ref, const struct caller *c, char job[ID_LEN]);

#endif
