/* The authentication hook of every non-public route: bearer JWT (or, for WebSocket upgrades,
 * ?ticket= / ?token=) or, on /v1/ routes, an API key (auth/api_keys.h); live-session check, per-user API rate limit. Runs on a worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "auth/accounts.h"
#include "auth/api_keys.h"
#include "auth/jwt.h"
#include "auth/settings.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "avatar/avatar.h"
#include "store/cache.h"
#include "store/cache_gen.h"

static int unauthorized(struct request *req, struct response *res, const char *why)
{
    res_error(res, req, DP_ERR_UNAUTHORIZED, "%s", why);
    res_header(res, "WWW-Authenticate", "Bearer realm=\"doppel\"");
    return DP_ERR_UNAUTHORIZED;
}

void authn_release(struct caller *c)
{
    free(c);
}

/* Lets go of a caller the hook refused before handing it to the request. */
static void discard(const struct request *req, struct caller *c)
{
    if (!req_auth_in_arena(req))
        free(c);
}

/* Redeems a WebSocket ticket (once) into c. */
static int redeem_ticket(struct cache *cache, const char *ticket, struct caller *c)
{
    if (strlen(ticket) > 64)
        return DP_ERR_UNAUTHORIZED;
    char key[80], used[96], *v = NULL;
    size_t len;
    snprintf(key, sizeof key, "wsticket:%s", ticket);
    if (cache_get(cache, key, &v, &len))
        return DP_ERR_UNAUTHORIZED;
    /* The first to count the ticket wins; a replay within its 30 s counts 2. */
    int64_t n = 0;
    snprintf(used, sizeof used, "wsticket-used:%s", ticket);
    int err = cache_incr(cache, used, 1, 60000, &n);
    cache_del(cache, key);
    char role[16] = "";
    int ok = !err && n == 1 && sscanf(v, "%36s %36s %15s %36s", c->user_id, c->org_id, role, c->session_id) == 4 &&
             role_parse(role) >= 0;
    free(v);
    if (!ok)
        return DP_ERR_UNAUTHORIZED;
    c->role = (enum role)role_parse(role);
    return DP_OK;
}

/* Verified tokens, remembered per thread: a token byte-identical to one whose signature was
 * checked needs no second HMAC, base64 and JSON pass (exp is still checked every time). */
#define TOKEN_MEMO_SLOTS 256
#define TOKEN_MEMO_MAX 640
struct token_memo {
    size_t len;
    char token[TOKEN_MEMO_MAX];
    struct jwt_claims claims;
};
static _Thread_local struct token_memo *token_memo;

void authn_thread_cleanup(void)
{
    free(token_memo);
    token_memo = NULL;
}

static int verify_token(const char *token, struct jwt_claims *cl, const char **why)
{
    size_t len = strlen(token);
    int64_t now = time_now_ms() / 1000;
    struct token_memo *slot = NULL;
    if (len <= TOKEN_MEMO_MAX) {
        if (!token_memo)
            token_memo = calloc(TOKEN_MEMO_SLOTS, sizeof *token_memo); /* authn_thread_cleanup frees */
        if (token_memo) {
            /* FNV-1a picks the slot; the full compare decides */
            slot = &token_memo[hash_fnv1a64(token, len) % TOKEN_MEMO_SLOTS];
            if (slot->len == len && !memcmp(slot->token, token, len) && slot->claims.exp > now) {
                *cl = slot->claims;
                return DP_OK;
            }
        }
    }
    int err = jwt_verify(auth_cfg.jwt_key, token, len, now, cl, why);
    if (!err && slot) {
        memcpy(slot->token, token, len);
        slot->len = len;
        slot->claims = *cl;
    }
    return err;
}

int authn_hook(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    struct caller *c = req_auth_in_arena(req) ? arena_alloc(req->arena, sizeof *c) : malloc(sizeof *c);
    if (!c)
        return DP_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    const char *token = NULL;
    int is_key = 0;
    if (req->authorization && !strncasecmp(req->authorization, "Bearer ", 7))
        token = req->authorization + 7;
    else if (req->route->flags & ROUTE_WEBSOCKET) {
        const char *ticket = req_query(req, "ticket");
        if (ticket) {
            if (redeem_ticket(e.security, ticket, c)) {
                discard(req, c);
                return unauthorized(req, res, "the WebSocket ticket is not valid (tickets are single-use, 30 s)");
            }
            goto session;
        }
        token = req_query(req, "token");
    }
    if (!token) {
        discard(req, c);
        return unauthorized(req, res, "authentication required: Authorization: Bearer <access token>");
    }
    if (api_key_like(token)) {
        /* A long-lived key opens the OpenAI-compatible facade only, never the account itself. */
        if (strncmp(req->route->path, "/v1/", 4)) {
            discard(req, c);
            return unauthorized(req, res, "API keys are accepted on the OpenAI-compatible /v1/ routes only");
        }
        err = api_keys_authenticate(&e, token, c);
        if (err) {
            discard(req, c);
            return err == DP_ERR_UNAUTHORIZED ? unauthorized(req, res, "invalid API key") : err;
        }
        is_key = 1;
        goto session;
    }
    struct jwt_claims cl;
    const char *why = NULL;
    if (verify_token(token, &cl, &why) || role_parse(cl.role) < 0) {
        discard(req, c);
        char msg[96];
        snprintf(msg, sizeof msg, "invalid access token: %s", why ? why : "unknown role");
        return unauthorized(req, res, msg);
    }
    memcpy(c->user_id, cl.sub, sizeof c->user_id);
    memcpy(c->org_id, cl.org, sizeof c->org_id);
    memcpy(c->session_id, cl.sid, sizeof c->session_id);
    c->role = (enum role)role_parse(cl.role);
session:;
    /* The rate limit, the session's state and, where the spaces are one server's (Redis), the
     * generations the caller's cached reads are stamped with (user, org's avatars): one round trip. */
    char rkey[96], skey[64], scopes[CACHE_GEN_KNOWN][CACHE_GEN_SCOPE_MAX], gkeys[CACHE_GEN_KNOWN][CACHE_GEN_KEY_MAX];
    const char *keys[1 + CACHE_GEN_KNOWN] = {skey, gkeys[0], gkeys[1]};
    char *vals[1 + CACHE_GEN_KNOWN];
    size_t lens[1 + CACHE_GEN_KNOWN];
    int64_t retry = 0;
    double rate = (double)auth_cfg.api_rate;
    snprintf(rkey, sizeof rkey, "rl:api:user:%s", c->user_id);
    accounts_session_key(c->session_id, skey);
    int ngens = e.cache && cache_spaces_shared(e.security) ? CACHE_GEN_KNOWN : 0;
    accounts_user_scope(c->user_id, scopes[0]);
    avatar_org_scope(c->org_id, scopes[1]);
    for (int i = 0; i < ngens; i++)
        cache_gen_key(scopes[i], gkeys[i]);
    int limited = cache_bucket_take_get_many(e.security, rkey, rate, rate * 5, &retry, keys, 1 + ngens, vals, lens);
    if (limited == DP_ERR_WOULDBLOCK) { /* on the loop, without a near copy or token: a worker asks */
        discard(req, c);
        return limited;
    }
    err = accounts_check_session_cached(&e, c->session_id, vals[0]);
    for (int i = 0; i < ngens; i++)
        cache_gen_note(&c->gens, scopes[i], vals[1 + i]);
    for (int i = 0; i < 1 + ngens; i++)
        free(vals[i]);
    if (err) {
        discard(req, c);
        return err == DP_ERR_UNAUTHORIZED
                   ? unauthorized(req, res,
                                  is_key ? "this API key has been revoked" : "the session has ended; log in again")
                   : err;
    }
    req->auth = c;
    if (limited == DP_ERR_RATE_LIMITED)
        return api_rate_refuse(req, res, "api", retry);
    if (limited) /* the limiter is a guard, not a gate: its outage lets requests through */
        DP_LOG(LOG_WARN, "[ratelimit] cache error (%s): letting the request through", dp_strerror(limited));
    return DP_OK;
}
