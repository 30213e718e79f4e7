/* Avatars as stored (see avatar_store.h). */
#include "avatar/avatar_store.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/avatar_voice.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json_writer.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "store/cache.h"
#include "store/db.h"
#include "store/db_read.h"

/* The text fields a client may set, with their caps. */
static const struct {
    const char *name;
    size_t max;
} text_fields[] = {
    {"name", AVATAR_NAME_MAX * 4}, {"description", AVATAR_TEXT_MAX}, {"personality", AVATAR_TEXT_MAX},
    {"scenario", AVATAR_TEXT_MAX}, {"greeting", AVATAR_TEXT_MAX},
};
#define NTEXT (sizeof text_fields / sizeof text_fields[0])

static const char *const publishable[] = {"name",     "kind",     "description", "personality",
                                          "scenario", "greeting", "portrait",    NULL};

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
    json_array_foreach (v, i, f) {
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

/* Why text field i of body is refused, or NULL. */
static const char *text_field_problem(json_t *body, size_t i, int creating)
{
    json_t *v = json_object_get(body, text_fields[i].name);
    if (!v || json_is_null(v))
        return i == 0 && creating ? "name must be 1 to 100 characters" : NULL;
    if (!json_is_string(v) || json_string_length(v) > text_fields[i].max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return i == 0 ? "name must be 1 to 100 characters"
                      : "description, personality, scenario and greeting must be "
                        "text of at most 20000 bytes";
    if (i == 0 && !name_valid(json_string_value(v)))
        return "name must be 1 to 100 characters";
    return NULL;
}

const char *avatar_check_body(json_t *body, int creating)
{
    const char *why = NULL;
    for (size_t i = 0; i < NTEXT && !why; i++)
        why = text_field_problem(body, i, creating);
    if (why)
        return why;
    json_t *k = json_object_get(body, "kind"), *v = json_object_get(body, "visibility"),
           *b = json_object_get(body, "brain"), *pub = json_object_get(body, "publish"),
           *talk = json_object_get(body, "visitor_talk"), *slug = json_object_get(body, "slug");
    if (k && (why = avatar_check_kind(json_string_value(k))))
        return why;
    if ((why = avatar_tts_voice_problem(json_object_get(body, "tts_voice"))))
        return why;
    if (v && (why = avatar_check_visibility(json_string_value(v))))
        return why;
    if (b && (why = avatar_check_brain(json_string_value(b))))
        return why;
    json_t *lang = json_object_get(body, "language");
    if (lang && (why = avatar_check_language(json_string_value(lang))))
        return why;
    if (pub && !check_publish(pub))
        return "publish must be a list of: name, kind, description, personality, scenario, greeting, portrait";
    if (talk && !json_is_boolean(talk))
        return "visitor_talk must be true or false";
    if (slug && (!json_is_string(slug) || !slug_valid(json_string_value(slug))))
        return "slug must be 3 to 60 of a-z, 0-9 and inner hyphens";
    return NULL;
}

int avatar_get(struct db *db, const char *id, json_t **out)
{
    struct db_val p[] = {DB_TEXT(id)};
    return db_one(db, "SELECT " AVATAR_COLUMNS " FROM avatars WHERE id = ? AND deleted_at IS NULL", p, 1,
                  avatar_from_row, out);
}

int avatar_published(struct db *db, const char *slug, json_t **out)
{
    if (!slug || strlen(slug) > 64)
        return DP_ERR_NOT_FOUND;
    struct db_val p[] = {DB_TEXT(slug)};
    return db_one(db,
                  "SELECT " AVATAR_COLUMNS " FROM avatars WHERE slug = ? AND deleted_at IS NULL AND visibility "
                  "IN ('link', 'public')",
                  p, 1, avatar_from_row, out);
}

int avatar_resolve(struct db *db, const struct caller *c, const char *id_or_slug, struct avatar_ref *ref)
{
    if (!id_or_slug || strlen(id_or_slug) > 64)
        return DP_ERR_NOT_FOUND;
    if (id_valid(id_or_slug))
        return avatar_access(db, c, id_or_slug, AVATAR_VIEW, ref);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(id_or_slug)};
    int err = db_query(db, "SELECT id FROM avatars WHERE slug = ? AND deleted_at IS NULL", p, 1, &r);
    if (err)
        return err;
    char id[ID_LEN] = "";
    if (r->nrows == 1)
        snprintf(id, sizeof id, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    return *id ? avatar_access(db, c, id, AVATAR_VIEW, ref) : DP_ERR_NOT_FOUND;
}

int avatar_create(struct db *db, const struct caller *c, json_t *body, json_t **out)
{
    const char *name = json_get_str(body, "name");
    const char *kind = json_get_str(body, "kind"), *vis = json_get_str(body, "visibility"),
               *brain = json_get_str(body, "brain");
    kind = kind ? kind : "character";
    vis = vis ? vis : "private";
    brain = brain ? brain : "recall";
    char id[ID_LEN], now[RFC3339_LEN], slug[64];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    const char *chosen = json_get_str(body, "slug");
    int listed = !strcmp(vis, "link") || !strcmp(vis, "public");
    if (chosen)
        snprintf(slug, sizeof slug, "%s", chosen);
    else if (listed)
        make_slug(name, slug);
    json_t *pub = json_object_get(body, "publish");
    char *pub_s = pub ? json_dumps(pub, JSON_COMPACT) : NULL;
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(c->user_id),
                         DB_TEXT(c->org_id),
                         DB_TEXT(name),
                         DB_TEXT(kind),
                         DB_TEXT(str_or_empty(json_get_str(body, "description"))),
                         DB_TEXT(str_or_empty(json_get_str(body, "personality"))),
                         DB_TEXT(str_or_empty(json_get_str(body, "scenario"))),
                         DB_TEXT(str_or_empty(json_get_str(body, "greeting"))),
                         DB_TEXT(vis),
                         DB_TEXT(brain),
                         listed || chosen ? DB_TEXT(slug) : DB_NULL,
                         DB_TEXT(pub_s ? pub_s : "[\"name\",\"description\",\"greeting\"]"),
                         DB_TEXT(now),
                         DB_TEXT(now),
                         DB_INT(!json_is_false(json_object_get(body, "visitor_talk"))),
                         DB_TEXT(json_get_str(body, "language") ? json_get_str(body, "language") : "auto")};
    int err = db_query(db,
                       "INSERT INTO avatars (id, owner_id, org_id, name, kind, description, personality, scenario, "
                       "greeting, visibility, brain, slug, publish, created_at, updated_at, visitor_talk, language) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 17, NULL);
    free(pub_s);
    const char *voice = json_get_str(body, "tts_voice");
    if (!err && voice)
        err = avatar_tts_voice_set(db, id, voice);
    return err ? err : avatar_get(db, id, out);
}

/* The avatars c may see, after the id `after`, up to limit, with c's share role in the last column. */
static int list_rows(struct db *db, const struct caller *c, const char *after, long limit, struct db_rows **r)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " AVATAR_COLUMNS ", (SELECT role FROM avatar_shares s WHERE s.avatar_id = avatars.id AND "
             "s.user_id = ?) FROM avatars WHERE deleted_at IS NULL AND (owner_id = ? OR ((id IN (SELECT avatar_id FROM "
             "avatar_shares WHERE user_id = ?) OR visibility <> 'private') AND org_id = ?))%s ORDER BY id LIMIT ?",
             after ? " AND id > ?" : "");
    struct db_val p[6] = {DB_TEXT(c->user_id), DB_TEXT(c->user_id), DB_TEXT(c->user_id), DB_TEXT(c->org_id)};
    int np = 4;
    if (after)
        p[np++] = DB_TEXT(after);
    p[np++] = DB_INT(limit);
    return db_query(db, sql, p, np, r);
}

/* c's access to the avatar of row i of list_rows. */
static const char *access_in_row(const struct db_rows *r, int i, const struct caller *c)
{
    const char *share = db_rows_text(r, i, AVATAR_NCOLS);
    return !strcmp(db_rows_text(r, i, 1), c->user_id) ? "owner" : share ? share : "viewer";
}

int avatar_list(struct db *db, const struct caller *c, const char *after, long limit, json_t **items)
{
    struct db_rows *r;
    int err = list_rows(db, c, after, limit, &r);
    if (err)
        return err;
    *items = json_array();
    for (int i = 0; i < r->nrows; i++) {
        json_t *a = avatar_from_row(r, i);
        /* Card extensions can be large (a lorebook's leftovers): lists leave them to GET /avatars/{id}. */
        json_object_del(a, "extensions");
        json_object_set_new(a, "access", json_string(access_in_row(r, i, c)));
        json_array_append_new(*items, a);
    }
    db_rows_free(r);
    return DP_OK;
}

int avatar_list_page(struct db *db, const struct caller *c, const char *after, long limit, struct buf *out)
{
    struct db_rows *r;
    int err = list_rows(db, c, after, limit, &r);
    if (err)
        return err;
    struct jw w;
    jw_init(&w, out);
    jw_obj(&w);
    jw_key(&w, "items");
    jw_arr(&w);
    for (int i = 0; i < r->nrows; i++) {
        jw_obj(&w);
        avatar_write_fields(&w, r, i, 0); /* without the card extensions, as avatar_list */
        jw_kstr(&w, "access", access_in_row(r, i, c));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    /* A full page goes on after its last id (api_page_json's rule). */
    jw_kstr(&w, "next_cursor", r->nrows == limit && limit > 0 ? db_rows_text(r, r->nrows - 1, 0) : NULL);
    jw_obj_end(&w);
    db_rows_free(r);
    return jw_finish(&w);
}

/* A count of the avatar's rows (0 when the database cannot say: stats are a display). */
static int64_t count_of(struct db *db, const char *sql, const char *id)
{
    struct db_val p[] = {DB_TEXT(id)};
    int64_t n = 0;
    return db_int(db, sql, p, 1, &n) ? 0 : n;
}

int avatar_with_stats(struct context *e, const char *id, json_t **out)
{
    /* Not cached here: GET /avatars/{id} caches its whole answer (api_cached_read). */
    json_t *a;
    int err = avatar_get(e->db, id, &a);
    if (err)
        return err;
    json_object_set_new(
        a, "stats",
        json_pack("{s:I,s:I}", "media",
                  (json_int_t)count_of(e->db, "SELECT COUNT(*) FROM media WHERE avatar_id = ?", id), "memories",
                  (json_int_t)count_of(e->db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", id)));
    char voice[AVATAR_TTS_VOICE_MAX + 1];
    if (!avatar_tts_voice_get(e->db, id, voice))
        json_object_set_new(a, "tts_voice", voice[0] ? json_string(voice) : json_null());
    /* Profiles and conversations arrive with their capabilities; the fields exist already. */
    json_object_set_new(a, "profile", json_null());
    json_object_set_new(a, "recent_conversation", json_null());
    *out = a;
    return DP_OK;
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

int avatar_update(struct context *e, const struct avatar_ref *ref, json_t *body)
{
    static const char *const owners[] = {"visibility", "slug", "publish", "visitor_talk"};
    for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++)
        if (json_object_get(body, owners[i]) && ref->level != AVATAR_OWN)
            return DP_ERR_FORBIDDEN;
    const char *id = ref->id;
    char now[RFC3339_LEN], slug[64];
    time_rfc3339(time_now_ms(), now);
    struct buf sql;
    buf_init(&sql, 0);
    struct db_val p[16];
    int np = 0, err;
    buf_printf(&sql, "UPDATE avatars SET updated_at = ?");
    p[np++] = DB_TEXT(now);
    for (size_t i = 0; i < NTEXT; i++) {
        const char *v = json_get_str(body, text_fields[i].name);
        if (v) {
            buf_printf(&sql, ", %s = ?", text_fields[i].name);
            p[np++] = DB_TEXT(v);
        }
    }
    static const char *const enums[] = {"kind", "visibility", "brain", "language"};
    for (int i = 0; i < 4; i++) {
        const char *v = json_get_str(body, enums[i]);
        if (v) {
            buf_printf(&sql, ", %s = ?", enums[i]);
            p[np++] = DB_TEXT(v);
        }
    }
    /* Another language keys the memories' words another way: their search index is rebuilt. */
    if (json_object_get(body, "language"))
        buf_printf(&sql, ", memory_rev = memory_rev + 1");
    json_t *talk = json_object_get(body, "visitor_talk"), *pub = json_object_get(body, "publish");
    if (talk) {
        buf_printf(&sql, ", visitor_talk = ?");
        p[np++] = DB_INT(json_is_true(talk));
    }
    char *pub_s = pub ? json_dumps(pub, JSON_COMPACT) : NULL;
    if (pub_s) {
        buf_printf(&sql, ", publish = ?");
        p[np++] = DB_TEXT(pub_s);
    }
    const char *v = json_get_str(body, "visibility"), *chosen = json_get_str(body, "slug");
    if (chosen) {
        buf_printf(&sql, ", slug = ?");
        p[np++] = DB_TEXT(chosen);
    } else if (v && (!strcmp(v, "link") || !strcmp(v, "public"))) {
        /* The first time it is published it gets an address, made from its name; it then stays. */
        const char *name = json_get_str(body, "name");
        char stored[64];
        if (!name && (err = stored_name(e->db, id, stored))) {
            buf_cleanup(&sql);
            free(pub_s);
            return err;
        }
        make_slug(name ? name : stored, slug);
        buf_printf(&sql, ", slug = COALESCE(slug, ?)");
        p[np++] = DB_TEXT(slug);
    }
    buf_printf(&sql, " WHERE id = ? AND deleted_at IS NULL");
    p[np++] = DB_TEXT(id);
    err = sql.data ? db_query(e->db, sql.data, p, np, NULL) : DP_ERR_NOMEM;
    buf_cleanup(&sql);
    free(pub_s);
    json_t *voice = json_object_get(body, "tts_voice");
    if (!err && voice)
        err = avatar_tts_voice_set(e->db, id, json_string_value(voice));
    if (!err)
        avatar_changed(e->cache, ref);
    return err;
}

int avatar_delete(struct context *e, const struct avatar_ref *ref, const struct caller *c, char job[ID_LEN])
{
    char now[RFC3339_LEN];
    time_rfc3339(time_now_ms(), now);
    /* Gone at once for every reader; media, memories and blobs follow in the job. */
    int err = db_begin(e->db);
    if (err)
        return err;
    struct db_val p[] = {DB_TEXT(now), DB_TEXT(ref->id)};
    err = db_query(e->db, "UPDATE avatars SET deleted_at = ?, slug = NULL WHERE id = ? AND deleted_at IS NULL", p, 2,
                   NULL);
    json_t *payload = json_pack("{s:s}", "avatar_id", ref->id);
    if (!err)
        err = job_enqueue(e->db, "avatar.delete", payload, c->user_id, c->org_id, job);
    json_decref(payload);
    if (!err)
        err = db_commit(e->db);
    if (err) {
        db_rollback(e->db);
        return err;
    }
    avatar_changed(e->cache, ref);
    return DP_OK;
}
