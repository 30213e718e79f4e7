/* Accounts routes: signup, login, refresh, logout, me, TOTP, WebSocket tickets. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "auth/ratelimit.h"
#include "auth/settings.h"
#include "avatar/quota.h"
#include "avatar/sharing.h"
#include "core/log.h"
#include "core/err.h"
#include "core/json.h"
#include "core/metrics.h"
#include "store/cache.h"

#define REFRESH_COOKIE "doppel_refresh"

static struct metric *m_logins, *m_sessions;

void auth_metrics_register(void)
{
    const char *l[] = {"result"};
    m_logins = metric_new(METRIC_COUNTER, "doppel_logins_total", "login attempts by result", 1, l, NULL, 0);
    m_sessions = metric_new(METRIC_GAUGE, "doppel_sessions_active", "sessions not revoked (as of the last change)", 0,
                            NULL, NULL, 0);
}

static void update_sessions_gauge(struct db *db)
{
    int64_t n;
    if (!accounts_count_sessions(db, &n))
        metric_set(m_sessions, NULL, (double)n);
}

/* Browser clients ask for the refresh token as an httpOnly cookie with ?cookie=1. */
static int wants_cookie(const struct request *req)
{
    const char *v = req_query(req, "cookie");
    return v && !strcmp(v, "1");
}

static void set_refresh_cookie(struct response *res, const char *token, long max_age)
{
    char c[256];
    snprintf(c, sizeof c, REFRESH_COOKIE "=%s; Path=/api/v1/auth; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict",
             token, max_age);
    res_header(res, "Set-Cookie", c);
}

/* The token pair response: {user, access_token, refresh_token, token_type, expires_in}. */
static void respond_tokens(struct request *req, struct response *res, int status, json_t *user, struct token_pair *tp)
{
    json_t *body = json_pack("{s:o,s:s,s:s,s:I}", "user", user, "access_token", tp->access, "token_type", "Bearer",
                             "expires_in", (json_int_t)tp->expires_in);
    if (wants_cookie(req))
        set_refresh_cookie(res, tp->refresh, auth_cfg.refresh_ttl);
    else
        json_object_set_new(body, "refresh_token", json_string(tp->refresh));
    res_header(res, "Cache-Control", "no-store");
    res_json(res, status, body);
    token_pair_cleanup(tp);
}

/* Per-IP limit on an auth route: auth_rate per minute, bursting to the same. */
static int limit_ip(struct request *req, struct response *res, struct cache *c, const char *scope)
{
    char key[128];
    snprintf(key, sizeof key, "rl:%s:ip:%s", scope, req->client_ip);
    return api_rate_limit(req, res, c, scope, key, (double)auth_cfg.auth_rate / 60.0, (double)auth_cfg.auth_rate);
}

/* The refresh token from the body, or from the cookie for browser clients. */
static const char *refresh_token_of(struct request *req, char *buf, size_t cap)
{
    const char *t = json_get_str(req->json, "refresh_token");
    if (t)
        return t;
    const char *c = req->cookie ? strstr(req->cookie, REFRESH_COOKIE "=") : NULL;
    if (!c)
        return NULL;
    c += strlen(REFRESH_COOKIE "=");
    size_t n = strcspn(c, "; ");
    if (n >= cap)
        return NULL;
    memcpy(buf, c, n);
    buf[n] = 0;
    return buf;
}

static int signup(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    if ((err = limit_ip(req, res, e.security, "signup")))
        return err;
    const char *email, *password, *name, *invitation;
    if ((err = api_body_str(req, res, "email", EMAIL_MAX + 64, &email)) ||
        (err = api_body_str(req, res, "password", 4096, &password)) ||
        (err = api_body_str(req, res, "display_name", 1024, &name)) ||
        (err = api_body_str(req, res, "invitation", 128, &invitation)))
        return err;
    if (!email || !password) {
        res_error(res, req, DP_ERR_INVALID, "email and password are required");
        return DP_ERR_INVALID;
    }
    if (!auth_cfg.signup_open) {
        int64_t n;
        if ((err = accounts_count_users(e.db, &n)))
            return err;
        if (n > 0) {
            res_error(res, req, DP_ERR_FORBIDDEN, "sign-up is closed on this instance; ask an administrator");
            return DP_ERR_FORBIDDEN;
        }
    }
    /* An address someone shared an avatar with, presenting that invitation's token, joins the
     * avatar's organisation, and its invitations there become shares; anyone else gets an
     * organisation of their own (the address alone proves nothing: nobody reads its mail here). */
    char norm[EMAIL_MAX + 1], invited[ID_LEN];
    int has_invite = 0;
    if (email_normalize(email, norm, sizeof norm) == DP_OK) {
        err = sharing_invited_org(e.db, norm, invitation, invited);
        if (err && err != DP_ERR_NOT_FOUND)
            return err;
        has_invite = !err;
    }
    json_t *user = NULL;
    char msg[160] = "";
    err = accounts_signup(&e, email, password, name, has_invite ? invited : NULL, &user, msg, sizeof msg);
    if (err == DP_ERR_CONFLICT) {
        /* The address has an account. Saying so (409) would let anyone test addresses: answer
         * what reveals nothing and changes nothing, after the same work as a new account. */
        audit_write(e.db, "signup.existing", NULL, NULL, NULL, e.ip, NULL);
        res_header(res, "Cache-Control", "no-store");
        res_json(res, 202,
                 json_pack("{s:s,s:s}", "status", "pending", "message",
                           "if this address can be registered, log in with it and your password"));
        return DP_OK;
    }
    if (err) {
        res_error(res, req, err, "%s", *msg ? msg : dp_strerror(err));
        return err;
    }
    const char *uid = json_string_value(json_object_get(user, "id"));
    if (has_invite && !strcmp(json_string_value(json_object_get(user, "org_id")), invited) &&
        (err = sharing_accept_invitations(e.db, norm, uid, invited)))
        DP_LOG(LOG_WARN, "[auth] sign-up: invitations not turned into shares (%s)", dp_strerror(err));
    struct token_pair tp = {0};
    if ((err = accounts_start_session(&e, uid, &tp))) {
        json_decref(user);
        return err;
    }
    audit_write(e.db, "signup", json_string_value(json_object_get(user, "id")),
                json_string_value(json_object_get(user, "id")), json_string_value(json_object_get(user, "org_id")),
                e.ip, NULL);
    update_sessions_gauge(e.db);
    respond_tokens(req, res, 201, user, &tp);
    return DP_OK;
}

static int login(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    if ((err = limit_ip(req, res, e.security, "login")))
        return err;
    const char *email, *password, *totp;
    if ((err = api_body_str(req, res, "email", EMAIL_MAX + 64, &email)) ||
        (err = api_body_str(req, res, "password", 4096, &password)) ||
        (err = api_body_str(req, res, "totp", 64, &totp)))
        return err;
    if (!email || !password) {
        res_error(res, req, DP_ERR_INVALID, "email and password are required");
        return DP_ERR_INVALID;
    }
    /* No bucket per account: anyone could drain it and keep the owner out. Guessing one account
     * from many addresses is bounded by the failure ceiling of accounts_login instead. The
     * refresh token the client holds (cookie or body) marks a device that logged in before. */
    char buf[REFRESH_TOKEN_LEN + 8];
    const char *device = refresh_token_of(req, buf, sizeof buf);
    json_t *user = NULL;
    struct token_pair tp = {0};
    int64_t retry_ms = 0;
    const char *code = "invalid_credentials";
    err = accounts_login(&e, email, password, totp, device, &user, &tp, &retry_ms, &code);
    metric_add(m_logins, (const char *[]){err ? code : "success"}, 1);
    if (err == DP_ERR_RATE_LIMITED) {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)(retry_ms + 999) / 1000);
        ratelimit_count_refusal("login_backoff");
        res_error(res, req, err, "too many failed logins; retry in %s s", secs);
        res_header(res, "Retry-After", secs);
        return err;
    }
    if (err == DP_ERR_UNAUTHORIZED) {
        res_error_status(res, req, 401, code,
                         !strcmp(code, "totp_required")  ? "this account needs a TOTP code (field totp)"
                         : !strcmp(code, "invalid_totp") ? "the TOTP or recovery code is not valid"
                                                         : "e-mail or password is wrong");
        return err;
    }
    if (err)
        return err;
    update_sessions_gauge(e.db);
    respond_tokens(req, res, 200, user, &tp);
    return DP_OK;
}

static int refresh(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    if ((err = limit_ip(req, res, e.security, "refresh")))
        return err;
    /* Browsers refreshing with the cookie send no body; others send {refresh_token}. */
    if (req->body.len) {
        char msg[256];
        if ((err = json_parse_body(req->body.data, req->body.len, req->body.max, &req->json, msg, sizeof msg)) ||
            !json_is_object(req->json)) {
            res_error(res, req, DP_ERR_BAD_JSON, "%s", err ? msg : "the body must be a JSON object");
            return DP_ERR_BAD_JSON;
        }
    }
    char buf[REFRESH_TOKEN_LEN + 8];
    const char *token = refresh_token_of(req, buf, sizeof buf);
    if (!token) {
        res_error(res, req, DP_ERR_INVALID, "refresh_token is required (body or cookie)");
        return DP_ERR_INVALID;
    }
    json_t *user = NULL;
    struct token_pair tp = {0};
    err = accounts_refresh(&e, token, &user, &tp);
    if (err == DP_ERR_UNAUTHORIZED) {
        res_error_status(res, req, 401, "invalid_refresh_token", "the refresh token is not valid");
        return err;
    }
    if (err)
        return err;
    respond_tokens(req, res, 200, user, &tp);
    return DP_OK;
}

static int logout(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    const struct caller *c = api_caller(req);
    if ((err = accounts_revoke_session(&e, c->session_id, "logout")))
        return err;
    audit_write(e.db, "logout", c->user_id, c->user_id, c->org_id, e.ip, NULL);
    update_sessions_gauge(e.db);
    if (wants_cookie(req) || req->cookie)
        set_refresh_cookie(res, "", 0);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static int me(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    char *user;
    size_t len;
    if ((err = accounts_user_json_cached(&e, api_caller(req)->user_id, &user, &len)))
        return err == DP_ERR_NOT_FOUND ? DP_ERR_UNAUTHORIZED : err;
    /* The caller's quotas and usage (--quota-storage, --quota-memories) as "quota": {…}. */
    if ((err = quota_attach(e.db, e.cache, api_caller(req)->user_id, &user, &len)))
        return err;
    res_body(res, 200, "application/json; charset=utf-8", user, len);
    return DP_OK;
}

static int limit_user(struct request *req, struct response *res, struct cache *c, const char *scope)
{
    char key[128];
    snprintf(key, sizeof key, "rl:%s:user:%s", scope, api_caller(req)->user_id);
    return api_rate_limit(req, res, c, scope, key, (double)auth_cfg.auth_rate / 60.0, (double)auth_cfg.auth_rate);
}

/* The end of every TOTP route: the account layer's refusals in words, or out (never cached:
 * it may hold a secret or recovery codes). */
static int totp_answer(struct request *req, struct response *res, int err, json_t *out, const char *conflict,
                       const char *unprocessable)
{
    if (err == DP_ERR_CONFLICT || err == DP_ERR_UNPROCESSABLE)
        res_error(res, req, err, "%s", err == DP_ERR_CONFLICT ? conflict : unprocessable);
    if (err)
        return err;
    res_header(res, "Cache-Control", "no-store");
    res_json(res, 200, out);
    return DP_OK;
}

static int totp_setup(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = limit_user(req, res, e.security, "totp")))
        return err;
    json_t *out = NULL;
    err = accounts_totp_setup(&e, api_caller(req), &out);
    return totp_answer(req, res, err, out, "TOTP is already enabled; disable it first", "");
}

static int totp_enable(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = limit_user(req, res, e.security, "totp")))
        return err;
    const char *code;
    if ((err = api_body_str(req, res, "code", 64, &code)))
        return err;
    if (!code) {
        res_error(res, req, DP_ERR_INVALID, "code is required");
        return DP_ERR_INVALID;
    }
    json_t *out = NULL;
    err = accounts_totp_enable(&e, api_caller(req), code, &out);
    return totp_answer(req, res, err, out, "TOTP is already enabled, or setup was not called first",
                       "the code does not match the secret");
}

static int totp_disable(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err || (err = limit_user(req, res, e.security, "totp")))
        return err;
    const char *password, *code;
    if ((err = api_body_str(req, res, "password", 4096, &password)) ||
        (err = api_body_str(req, res, "code", 64, &code)))
        return err;
    if (!password || !code) {
        res_error(res, req, DP_ERR_INVALID, "password and code are required");
        return DP_ERR_INVALID;
    }
    err = accounts_totp_disable(&e, api_caller(req), password, code);
    return totp_answer(req, res, err, err ? NULL : json_pack("{s:b}", "totp_enabled", 0), "TOTP is not enabled",
                       "password or code is wrong");
}

/* A one-time ticket (30 s) for browsers, which cannot send headers on a WebSocket upgrade. */
static int ws_ticket(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    /* Tickets live in the security space: the per-user limit bounds how many one account can
     * keep alive there (auth-rate a minute, 30 s each), so tickets cannot crowd out lock-outs. */
    if (err || (err = limit_user(req, res, e.security, "ws_ticket")))
        return err;
    const struct caller *c = api_caller(req);
    uint8_t raw[24];
    char ticket[40], key[80], val[160];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(ticket, sizeof ticket, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(key, sizeof key, "wsticket:%s", ticket);
    snprintf(val, sizeof val, "%s %s %s %s", c->user_id, c->org_id, role_name(c->role), c->session_id);
    if ((err = cache_set(e.security, key, val, strlen(val), 30000)))
        return err;
    res_json(res, 201, json_pack("{s:s,s:i}", "ticket", ticket, "expires_in", 30));
    return DP_OK;
}

static const char tokens_doc[] = J({
    "requestBody" : {"required" : false, "content" : {"application/json" : {"schema" : "Login"}}},
    "query" : {
        "cookie" : {
            "type" : "string",
            "enum" : ["1"],
            "description" :
                "1: the refresh token comes as an httpOnly, Secure, SameSite=Strict cookie (doppel_refresh) instead of the body"
        }
    },
    "responses" : {"200" : "Tokens"},
    "errors" : [ 401, 422 ]
});

/* Sign-up: 201 with a pair for a new account; a taken address gets 202 and nothing else, so the
 * answer does not say which addresses have accounts beyond what creating one tells. */
static const char signup_doc[] = J({
    "requestBody" : "Signup",
    "query" : {
        "cookie" :
            {"type" : "string", "enum" : ["1"], "description" : "1: the refresh token as the doppel_refresh cookie"}
    },
    "responses" : {
        "201" : {
            "description" : "The new account and a token pair",
            "content" : {"application/json" : {"schema" : "Tokens"}}
        },
        "202" : {
            "description" : "The address has an account: nothing was created or changed",
            "content" : {"application/json" : {"schema" : "Pending"}}
        }
    },
    "errors" : [ 403, 409, 422 ]
});

#define PUB_JSON (ROUTE_PUBLIC | ROUTE_JSON)

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char logout_doc[] = J({"responses" : {"204" : "-"}});
static const char me_doc[] = J({"responses" : {"200" : "Me"}});
static const char totp_setup_doc[] = J({"responses" : {"200" : "TotpSetup"}, "errors" : [409]});
static const char totp_enable_doc[] = J({
    "requestBody" : {
        "required" : true,
        "content" : {
            "application/json" :
                {"schema" : {"type" : "object", "required" : ["code"], "properties" : {"code" : {"type" : "string"}}}}
        }
    },
    "responses" : {"200" : "TotpState"},
    "errors" : [ 409, 422 ]
});
static const char totp_disable_doc[] = J({
    "requestBody" : {
        "required" : true,
        "content" : {
            "application/json" : {
                "schema" : {
                    "type" : "object",
                    "required" : [ "password", "code" ],
                    "properties" : {
                        "password" : {"type" : "string"},
                        "code" : {"type" : "string", "description" : "a TOTP or recovery code"}
                    }
                }
            }
        }
    },
    "responses" : {"200" : "TotpState"},
    "errors" : [ 409, 422 ]
});
static const char ticket_doc[] = J({"responses" : {"201" : "Ticket"}});

const struct route auth_routes[] = {
    {"POST", "/api/v1/auth/signup", PUB_JSON, 0, signup, "auth",
     "Create an account {email,password,display_name?,invitation?} → 201 {user,access_token,refresh_token,expires_in} "
     "(an invitation token of an avatar shared with this address joins its organisation); "
     "an address that has an account → 202 {status:pending} (nothing changes)",
     signup_doc, NULL, NULL},
    {"POST", "/api/v1/auth/login", PUB_JSON, 0, login, "auth",
     "Log in {email,password,totp?,refresh_token?} (a refresh token, or the cookie, marks a known device)", tokens_doc,
     NULL, NULL},
    {"POST", "/api/v1/auth/refresh", ROUTE_PUBLIC, 0, refresh, "auth",
     "Spend a refresh token for a new pair; reuse of a spent one revokes the session", tokens_doc, NULL, NULL},
    {"POST", "/api/v1/auth/logout", 0, 0, logout, "auth", "Revoke the session now, on every instance", logout_doc, NULL,
     NULL},
    {"GET", "/api/v1/auth/me", ROUTE_TRY_INLINE, 0, me, "auth", "The caller", me_doc, NULL, NULL},
    {"POST", "/api/v1/auth/totp/setup", 0, 0, totp_setup, "auth", "Start TOTP set-up: secret and otpauth:// URI",
     totp_setup_doc, NULL, NULL},
    {"POST", "/api/v1/auth/totp/enable", ROUTE_JSON, 0, totp_enable, "auth",
     "Enable TOTP {code}; returns one-time recovery codes", totp_enable_doc, NULL, NULL},
    {"POST", "/api/v1/auth/totp/disable", ROUTE_JSON, 0, totp_disable, "auth",
     "Disable TOTP {password, code (TOTP or recovery)}", totp_disable_doc, NULL, NULL},
    {"POST", "/api/v1/auth/ws-ticket", 0, 0, ws_ticket, "auth", "One-time WebSocket ticket, valid 30 s", ticket_doc,
     NULL, NULL},
    {0},
};
