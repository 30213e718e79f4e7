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
#define API_KEY_NAME_MAX 100 /* bytes of a key's name */
#define API_KEYS_PER_USER 50 /* live keys one user may hold */

/* 1 when a bearer token has the form of an API key (it is then never taken for a JWT). */
int api_key_like(const char *token);

/* Makes a key named name for c; *out {id, name, prefix, created_at, last_used_at, key} (the only
 * time the key is shown). DP_ERR_INVALID (msg) for a bad name, DP_ERR_CONFLICT when c already
 * holds API_KEYS_PER_USER live keys. */
int api_keys_create(struct context *e, const struct caller *c, const char *name, json_t **out, char *msg,
                    size_t msglen);

/* c's live keys, newest first, without the secret: [{id, name, prefix, created_at, last_used_at}]. */
int api_keys_list(struct context *e, const struct caller *c, json_t **items);

/* Revokes c's key id; DP_ERR_NOT_FOUND when c holds no live key id. */
int api_keys_revoke(struct context *e, const struct caller *c, const char *id);

/* The caller a key stands for (user, org, role, the key's session; the session's state is for
 * the caller to check, as for any token). DP_ERR_UNAUTHORIZED for an unknown key. The lookup is
 * remembered in the security cache for a minute; a cache miss also notes when the key was used. */
int api_keys_authenticate(struct context *e, const char *key, struct caller *out);

#endif
