/* API keys: bearer secrets a user makes for OpenAI clients (SDKs, Open WebUI, SillyTavern) to use
 * on the OpenAI-compatible facade (/v1/…) instead of an access token that expires in minutes.
 * "sk-dp-" + 43 URL-safe characters, shown once when made; only its SHA-256 is stored. Each key
 * has a session of its own: revoking the key revokes that session, so the session check every
 * request makes ends it at once on every instance (the revocation mark lives in the shared
 * security cache), and ending all of a user's sessions ends their keys too. */
#ifndef DP_API_KEYS_H
#define DP_API_KEYS_H

#include <jansson.h>

#include "auth/caller.h"

struct context;

#define API_KEY_PREFIX "sk-dp-"
#define API_KEY_NAME_MAX 100    /* bytes of a key's name */
#define API_KEYS_PER_USER 50    /* live keys one user may hold */
#define API_KEY_AVATARS_MAX 100 /* avatars one key may be limited to */

/* 1 when a bearer token has the form of an API key (it is then never taken for a JWT). */
int api_key_like(const char *token);

/* Makes a key named name for c, reaching every avatar c may talk to, or with avatars (a JSON
 * array of avatar ids, NULL for all) only those; *out {id, name, prefix, avatars, created_at,
 * last_used_at, key} (the only time the key is shown). The ids are not checked here (the caller
 * checks c may talk to each). DP_ERR_INVALID (msg) for a bad name or list, DP_ERR_CONFLICT when c
 * already holds API_KEYS_PER_USER live keys. */
int api_keys_create(struct context *e, const struct caller *c, const char *name, json_t *avatars, json_t **out,
                    char *msg, size_t msglen);

/* 1 when the request of c may reach avatar_id: always with an access token, and with a key
 * limited to some avatars only for those (a database error says no). */
int api_keys_allows(struct context *e, const struct caller *c, const char *avatar_id);

/* c's live keys, newest first, without the secret: [{id, name, prefix, avatars, created_at,
 * last_used_at}]. */
int api_keys_list(struct context *e, const struct caller *c, json_t **items);

/* Revokes c's key id; DP_ERR_NOT_FOUND when c holds no live key id. */
int api_keys_revoke(struct context *e, const struct caller *c, const char *id);

/* The caller a key stands for (user, org, role, the key's session and id; the session's state is for
 * the caller to check, as for any token). DP_ERR_UNAUTHORIZED for an unknown key. The lookup is
 * remembered in the security cache for a minute; a cache miss also notes when the key was used. */
int api_keys_authenticate(struct context *e, const char *key, struct caller *out);

#endif
