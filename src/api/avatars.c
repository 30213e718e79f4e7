/* Avatars routes: CRUD and shares. Every object goes through avatar_access. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "auth/audit.h"
#include "auth/settings.h"
#include "avatar/avatar.h"
#include "avatar/sharing.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "store/cache.h"
#include "store/db.h"

#define AVATAR_CACHE_TTL_MS (5 * 60 * 1000)

/* The text fields a client may set, with their caps. */
static const struct {
    const char *name;
    size_t max;
} text_fields[] = {
    {"name", AVATAR_NAME_MAX * 4},     {"description", AVATAR_TEXT_MAX}, {"personality", AVATAR_TEXT_MAX},
    {"scenario", AVATAR_TEXT_MAX},     {"greeting", AVATAR_TEXT_MAX},
};
#define NTEXT (sizeof text_fields / sizeof text_fields[0])

static const char *const publishable[] = {"name", "kind", "description", "personality", "scenario", "greeting", NULL};

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* A slug for the legacy page: the name's letters and digits, then 6 random characters. */
static void make_slug(const char *name, char out[64])
{
    size_t at = 0;
    for (const char *p = name; *p && at < 40; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) && ch < 0x80)
            out[at++] = (char)tolower(ch);
        else if (at && out[at - 1] != '-')
            out[at++] = '-';
    }
    while (at && out[at - 1] == '-')
        at--;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    if (at)
        out[at++] = '-';
    for (int i = 0; i < 6; i++)
        out[at++] = alphabet[randombytes_uniform(32)];
    out[at] = 0;
}

/* Validates the publish list: an array of publishable field names. */
static int check_publish(json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) > 6)
        return 0;
    size_t i;
    json_t *f;
    json_array_foreach(v, i, f)
    {
        int ok = 0;
        for (const char *const *p = publishable; *p && !ok; p++)
            ok = json_is_string(f) && !strcmp(json_string_value(f), *p);
        if (!ok)
            return 0;
    }
    return 1;
}

/* A name: 1–AVATAR_NAME_MAX characters (not bytes), no control characters. */
static int name_valid(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        chars += (*p & 0xc0) != 0x80;
    }
    return chars >= 1 && chars <= AVATAR_NAME_MAX;
}

/* A legacy page address an owner chose: 3–60 of a–z, 0–9 and inner hyphens. */
static int slug_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 60 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Validates every field present in the body; returns DP_OK or sets a 400 response. */
static int validate_fields(struct request *req, struct response *res, int creating)
{
    for (size_t i = 0; i < NTEXT; i++) {
        const char *v;
        int err = api_body_str(req, res, text_fields[i].name, text_fields[i].max, &v);
        if (err)
            return err;
        if (i == 0 && ((creating && !v) || (v && !name_valid(v)))) {
            res_error(res, req, DP_ERR_INVALID, "name must be 1 to %d characters", AVATAR_NAME_MAX);
            return DP_ERR_INVALID;
        }
    }
    const char *kind = json_get_str(req->json, "kind"), *vis = json_get_str(req->json, "visibility"),
               *brain = json_get_str(req->json, "brain"), *why = NULL;
    json_t *k = json_object_get(req->json, "kind"), *v = json_object_get(req->json, "visibility"),
           *b = json_object_get(req->json, "brain"), *pub = json_object_get(req->json, "publish");
    if (k && (why = avatar_check_kind(kind)))
        ;
    else if (v && (why = avatar_check_visibility(vis)))
        ;
    else if (b && (why = avatar_check_brain(brain)))
        ;
    else if (pub && !check_publish(pub))
        why = "publish must be a list of: name, kind, description, personality, scenario, greeting";
    else if (json_object_get(req->json, "visitor_talk") && !json_is_boolean(json_object_get(req->json, "visitor_talk")))
        why = "visitor_talk must be true or false";
    else if (json_object_get(req->json, "slug") &&
             (!json_get_str(req->json, "slug") || !slug_valid(json_get_str(req->json, "slug"))))
        why = "slug must be 3 to 60 of a-z, 0-9 and inner hyphens";
    if (why) {
        res_error(res, req, DP_ERR_INVALID, "%s", why);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

static int load_avatar_json(struct db *db, const char *id, json_t **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT " AVATAR_COLUMNS " FROM avatars WHERE id = ? AND deleted_at IS NULL", p, 1, &r);
    if (err)
        return err;
    err = r->nrows == 1 ? DP_OK : DP_ERR_NOT_FOUND;
    if (!err)
        *out = avatar_from_row(r, 0);
    db_rows_free(r);
    return err;
}

static int create_avatar(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    int err = api_env(req, &e);
    if (err || (err = validate_fields(req, res, 1)))
        return err;
    const char *name = json_get_str(req->json, "name");
    const char *kind = json_get_str(req->json, "kind"), *vis = json_get_str(req->json, "visibility"),
               *brain = json_get_str(req->json, "brain");
    kind = kind ? kind : "character";
    vis = vis ? vis : "private";
    brain = brain ? brain : "recall";
    char id[ID_LEN], now[RFC3339_LEN], slug[64];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    const char *chosen = json_get_str(req->json, "slug");
    int listed = !strcmp(vis, "link") || !strcmp(vis, "public");
    if (chosen)
        snprintf(slug, sizeof slug, "%s", chosen);
    else if (listed)
        make_slug(name, slug);
    json_t *pub = json_object_get(req->json, "publish");
    char *pub_s = pub ? json_dumps(pub, JSON_COMPACT) : NULL;
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(c->user_id),
                         DB_TEXT(c->org_id),
                         DB_TEXT(name),
                         DB_TEXT(kind),
                         DB_TEXT(str_or_empty(json_get_str(req->json, "description"))),
                         DB_TEXT(str_or_empty(json_get_str(req->json, "personality"))),
                         DB_TEXT(str_or_empty(json_get_str(req->json, "scenario"))),
                         DB_TEXT(str_or_empty(json_get_str(req->json, "greeting"))),
                         DB_TEXT(vis),
                         DB_TEXT(brain),
                         listed || chosen ? DB_TEXT(slug) : DB_NULL,
                         DB_TEXT(pub_s ? pub_s : "[\"name\",\"description\",\"greeting\"]"),
                         DB_TEXT(now),
                         DB_TEXT(now),
                         DB_INT(!json_is_false(json_object_get(req->json, "visitor_talk")))};
    err = db_query(e.db,
                   "INSERT INTO avatars (id, owner_id, org_id, name, kind, description, personality, scenario, greeting, "
                   "visibility, brain, slug, publish, created_at, updated_at, visitor_talk) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 16, NULL);
    free(pub_s);
    if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "that page address is taken");
    if (err)
        return err;
    json_t *a;
    if ((err = load_avatar_json(e.db, id, &a)))
        return err;
    json_object_set_new(a, "access", json_string("owner"));
    res_json(res, 201, a);
    return DP_OK;
}

static int list_avatars(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = api_page(req, res, &limit, &cursor)))
        return err;
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT " AVATAR_COLUMNS ", (SELECT role FROM avatar_shares s WHERE s.avatar_id = avatars.id AND "
             "s.user_id = ?) FROM avatars WHERE deleted_at IS NULL AND (owner_id = ? OR ((id IN (SELECT avatar_id FROM "
             "avatar_shares WHERE user_id = ?) OR visibility <> 'private') AND org_id = ?))%s ORDER BY id LIMIT ?",
             cursor ? " AND id > ?" : "");
    struct db_val p[6] = {DB_TEXT(c->user_id), DB_TEXT(c->user_id), DB_TEXT(c->user_id), DB_TEXT(c->org_id)};
    int np = 4;
    if (cursor)
        p[np++] = DB_TEXT(cursor);
    p[np++] = DB_INT(limit);
    struct db_rows *r;
    if ((err = db_query(e.db, sql, p, np, &r)))
        return err;
    json_t *items = json_array();
    for (int i = 0; i < r->nrows; i++) {
        json_t *a = avatar_from_row(r, i);
        /* Card extensions can be large (a lorebook's leftovers): lists leave them to GET /avatars/{id}. */
        json_object_del(a, "extensions");
        const char *share = db_rows_text(r, i, 17);
        const char *access = !strcmp(db_rows_text(r, i, 1), c->user_id) ? "owner" : share ? share : "viewer";
        json_object_set_new(a, "access", json_string(access));
        json_array_append_new(items, a);
    }
    db_rows_free(r);
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

static int64_t count_of(struct db *db, const char *sql, const char *id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    if (db_query(db, sql, p, 1, &r))
        return 0;
    int64_t n = db_rows_int(r, 0, 0);
    db_rows_free(r);
    return n;
}

/* The avatar with stats, from the cache when warm; filling the cache when cold. */
static int avatar_with_stats(struct auth_env *e, const char *id, json_t **out)
{
    char key[64], *cached = NULL;
    size_t len;
    avatar_cache_key(id, key);
    if (!cache_get(e->cache, key, &cached, &len)) {
        *out = json_loadb(cached, len, 0, NULL);
        free(cached);
        if (*out)
            return DP_OK;
    }
    json_t *a;
    int err = load_avatar_json(e->db, id, &a);
    if (err)
        return err;
    json_object_set_new(a, "stats",
                        json_pack("{s:I,s:I}", "media",
                                  (json_int_t)count_of(e->db, "SELECT COUNT(*) FROM media WHERE avatar_id = ?", id),
                                  "memories",
                                  (json_int_t)count_of(e->db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", id)));
    /* Profiles and conversations arrive with their capabilities; the fields exist already. */
    json_object_set_new(a, "profile", json_null());
    json_object_set_new(a, "recent_conversation", json_null());
    char *s = json_dumps(a, JSON_COMPACT);
    if (s) {
        cache_set(e->cache, key, s, strlen(s), AVATAR_CACHE_TTL_MS);
        free(s);
    }
    *out = a;
    return DP_OK;
}

/* Answers with the avatar, its stats and the caller's access to it. */
static int respond_avatar(struct auth_env *e, const struct avatar_ref *ref, struct response *res)
{
    json_t *a;
    int err = avatar_with_stats(e, ref->id, &a);
    if (err)
        return err;
    json_object_set_new(a, "access", json_string(avatar_access_name(ref->level)));
    res_json(res, 200, a);
    return DP_OK;
}

static int get_avatar(struct request *req, struct response *res)
{
    struct auth_env e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    return respond_avatar(&e, &ref, res);
}

/* The avatar's name as stored, cut to what a slug uses (its first 63 bytes). */
static int stored_name(struct db *db, const char *id, char out[64])
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id)};
    int err = db_query(db, "SELECT name FROM avatars WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    snprintf(out, 64, "%s", r->nrows == 1 ? db_rows_text(r, 0, 0) : "avatar");
    db_rows_free(r);
    return DP_OK;
}

static int patch_avatar(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_EDIT, &ref)))
        return err;
    if ((err = validate_fields(req, res, 0)))
        return err;
    json_t *vis = json_object_get(req->json, "visibility"), *pub = json_object_get(req->json, "publish"),
           *talk = json_object_get(req->json, "visitor_talk"), *chosen = json_object_get(req->json, "slug");
    if ((vis || pub || talk || chosen) && ref.level != AVATAR_OWN) {
        res_error(res, req, DP_ERR_FORBIDDEN,
                  "only the owner changes visibility, the page address, what is published and visitor_talk");
        return DP_ERR_FORBIDDEN;
    }
    char now[RFC3339_LEN], slug[64];
    time_rfc3339(time_now_ms(), now);
    struct buf sql;
    buf_init(&sql, 0);
    struct db_val p[16];
    int np = 0;
    buf_printf(&sql, "UPDATE avatars SET updated_at = ?");
    p[np++] = DB_TEXT(now);
    for (size_t i = 0; i < NTEXT; i++) {
        const char *v = json_get_str(req->json, text_fields[i].name);
        if (v) {
            buf_printf(&sql, ", %s = ?", text_fields[i].name);
            p[np++] = DB_TEXT(v);
        }
    }
    static const char *const enums[] = {"kind", "visibility", "brain"};
    for (int i = 0; i < 3; i++) {
        const char *v = json_get_str(req->json, enums[i]);
        if (v) {
            buf_printf(&sql, ", %s = ?", enums[i]);
            p[np++] = DB_TEXT(v);
        }
    }
    if (talk) {
        buf_printf(&sql, ", visitor_talk = ?");
        p[np++] = DB_INT(json_is_true(talk));
    }
    char *pub_s = pub ? json_dumps(pub, JSON_COMPACT) : NULL;
    if (pub_s) {
        buf_printf(&sql, ", publish = ?");
        p[np++] = DB_TEXT(pub_s);
    }
    const char *v = json_get_str(req->json, "visibility");
    if (chosen) {
        buf_printf(&sql, ", slug = ?");
        p[np++] = DB_TEXT(json_string_value(chosen));
    } else if (v && (!strcmp(v, "link") || !strcmp(v, "public"))) {
        /* The first time it is published it gets an address, made from its name; it then stays. */
        const char *name = json_get_str(req->json, "name");
        char stored[64];
        if (!name && (err = stored_name(e.db, ref.id, stored)))
            return err;
        make_slug(name ? name : stored, slug);
        buf_printf(&sql, ", slug = COALESCE(slug, ?)");
        p[np++] = DB_TEXT(slug);
    }
    buf_printf(&sql, " WHERE id = ? AND deleted_at IS NULL");
    p[np++] = DB_TEXT(ref.id);
    err = db_query(e.db, sql.data, p, np, NULL);
    buf_cleanup(&sql);
    free(pub_s);
    if (err == DP_ERR_CONFLICT)
        res_error(res, req, err, "that page address is taken");
    if (err)
        return err;
    avatar_cache_forget(e.cache, ref.id);
    return respond_avatar(&e, &ref, res);
}

static int delete_avatar(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)))
        return err;
    char now[RFC3339_LEN], job[ID_LEN];
    time_rfc3339(time_now_ms(), now);
    /* Gone at once for every reader; media, memories and blobs follow in the job. */
    if ((err = db_begin(e.db)))
        return err;
    struct db_val p[] = {DB_TEXT(now), DB_TEXT(ref.id)};
    err = db_query(e.db, "UPDATE avatars SET deleted_at = ?, slug = NULL WHERE id = ? AND deleted_at IS NULL", p, 2,
                   NULL);
    json_t *payload = json_pack("{s:s}", "avatar_id", ref.id);
    if (!err)
        err = job_enqueue(e.db, "avatar.delete", payload, c->user_id, c->org_id, job);
    json_decref(payload);
    if (!err)
        err = db_commit(e.db);
    if (err) {
        db_rollback(e.db);
        return err;
    }
    avatar_cache_forget(e.cache, ref.id);
    audit_write(e.db, "avatar.delete", c->user_id, ref.id, c->org_id, e.ip, NULL);
    json_t *j = NULL;
    job_get_json(e.db, job, &j, NULL, NULL);
    res_json(res, 202, json_pack("{s:s,s:o}", "deleted", ref.id, "job", j ? j : json_null()));
    return DP_OK;
}

static int list_shares(struct request *req, struct response *res)
{
    struct auth_env e;
    struct avatar_ref ref;
    json_t *items;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &ref)) ||
        (err = sharing_list(e.db, ref.id, &items)))
        return err;
    res_json(res, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
    return DP_OK;
}

static int add_share(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)))
        return err;
    const char *user, *email, *role;
    if ((err = api_body_str(req, res, "user_id", 64, &user)) ||
        (err = api_body_str(req, res, "email", SHARING_EMAIL_MAX, &email)) ||
        (err = api_body_str(req, res, "role", 16, &role)))
        return err;
    role = role ? role : "viewer";
    if (!user == !email || (strcmp(role, "viewer") && strcmp(role, "editor"))) {
        res_error(res, req, DP_ERR_INVALID, "one of user_id or email is required, and role must be viewer or editor");
        return DP_ERR_INVALID;
    }
    struct share_outcome out;
    err = sharing_add(e.db, &ref, user, email, role, c->user_id, &out);
    if (err == DP_ERR_INVALID)
        res_error(res, req, err, "email is not an e-mail address");
    else if (err == DP_ERR_UNPROCESSABLE)
        res_error(res, req, err, "no such user in this avatar's organisation (other than its owner)");
    if (err)
        return err;
    if (out.invited) {
        audit_write(e.db, "avatar.invite", c->user_id, ref.id, ref.org_id, e.ip,
                    json_pack("{s:s,s:s}", "email", out.email, "role", role));
        res_json(res, 202, json_pack("{s:s,s:s,s:s,s:s,s:s}", "avatar_id", ref.id, "email", out.email, "role", role,
                                     "status", "invited", "invitation_token", out.token));
        return DP_OK;
    }
    audit_write(e.db, "avatar.share", c->user_id, ref.id, ref.org_id, e.ip,
                json_pack("{s:s,s:s}", "user_id", out.user_id, "role", role));
    res_json(res, 201, json_pack("{s:s,s:s,s:s}", "avatar_id", ref.id, "user_id", out.user_id, "role", role));
    return DP_OK;
}

static int remove_share(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct auth_env e;
    struct avatar_ref ref;
    const char *who = req_param(req, "user_id");
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, c, req_param(req, "id"), AVATAR_OWN, &ref)) ||
        (err = sharing_remove(e.db, ref.id, who)))
        return err;
    audit_write(e.db, "avatar.unshare", c->user_id, ref.id, ref.org_id, e.ip,
                json_pack("{s:s}", strchr(who, '@') ? "email" : "user_id", who));
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

const struct route avatars_routes[] = {
    {"GET", "/api/v1/avatars", 0, 0, list_avatars, "avatars", "Avatars the caller may see (own, shared, org)", NULL,
     NULL, NULL},
    {"POST", "/api/v1/avatars", ROUTE_JSON, 0, create_avatar, "avatars",
     "Create {name, kind, description, personality, scenario, greeting, visibility, brain, publish?}", NULL, NULL,
     NULL},
    {"GET", "/api/v1/avatars/{id}", 0, 0, get_avatar, "avatars",
     "An avatar with stats, profile and recent conversation (warms its cache)", NULL, NULL, NULL},
    {"PATCH", "/api/v1/avatars/{id}", ROUTE_JSON, 0, patch_avatar, "avatars",
     "Update fields (editors: content; owner: also visibility and publish)", NULL, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}", 0, 0, delete_avatar, "avatars",
     "Delete: gone at once; media, memories and blobs are removed by a job (202)", NULL, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/shares", 0, 0, list_shares, "avatars",
     "Shares and open invitations (owner and editors)", NULL, NULL, NULL},
    {"POST", "/api/v1/avatars/{id}/shares", ROUTE_JSON, 0, add_share, "avatars",
     "Share {user_id | email, role: viewer|editor} with a user of the same organisation (201), or invite an "
     "address without an account there (202 with an invitation_token to pass on: a sign-up with the address and "
     "{invitation: token} joins the organisation and gets the share) (owner)",
     NULL, NULL, NULL},
    {"DELETE", "/api/v1/avatars/{id}/shares/{user_id}", 0, 0, remove_share, "avatars",
     "Remove a share, or an invitation when {user_id} is its e-mail address (owner)", NULL, NULL, NULL},
    {0},
};
