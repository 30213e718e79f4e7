/* Avatar access and representation. */
#include "avatar/avatar.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/accounts.h"
#include "brain/brain.h"
#include "core/err.h"
#include "core/json_writer.h"
#include "store/cache.h"
#include "store/cache_gen.h"
#include "store/db.h"

static const char *const access_names[] = {"none", "viewer", "editor", "owner"};

const char *avatar_access_name(enum avatar_access a)
{
    return access_names[a <= AVATAR_OWN ? a : 0];
}

int avatar_access(struct db *db, const struct caller *c, const char *avatar_id, enum avatar_access need,
                  struct avatar_ref *out)
{
    if (!avatar_id || !id_valid(avatar_id))
        return DP_ERR_NOT_FOUND;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(c ? c->user_id : ""), DB_TEXT(avatar_id)};
    /* One query: the avatar and the caller's share, if any. */
    int err = db_query(db,
                       "SELECT a.owner_id, a.org_id, a.visibility, s.role FROM avatars a "
                       "LEFT JOIN avatar_shares s ON s.avatar_id = a.id AND s.user_id = ? "
                       "WHERE a.id = ? AND a.deleted_at IS NULL",
                       p, 2, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    const char *owner = db_rows_text(r, 0, 0), *org = db_rows_text(r, 0, 1), *vis = db_rows_text(r, 0, 2),
               *share = db_rows_text(r, 0, 3);
    enum avatar_access level = AVATAR_NONE;
    /* A share holds only while its user is in the avatar's organisation. */
    if (share && (!c || strcmp(org, c->org_id)))
        share = NULL;
    if (c && !strcmp(owner, c->user_id))
        level = AVATAR_OWN;
    else if (c && share && !strcmp(share, "editor"))
        level = AVATAR_EDIT;
    else if (c && (share || (strcmp(vis, "private") && !strcmp(org, c->org_id))))
        level = AVATAR_VIEW;
    if (out) {
        snprintf(out->id, sizeof out->id, "%s", avatar_id);
        snprintf(out->owner_id, sizeof out->owner_id, "%s", owner);
        snprintf(out->org_id, sizeof out->org_id, "%s", org);
        snprintf(out->visibility, sizeof out->visibility, "%s", vis);
        out->level = level;
    }
    db_rows_free(r);
    if (level == AVATAR_NONE)
        return DP_ERR_NOT_FOUND;
    return level >= need ? DP_OK : DP_ERR_FORBIDDEN;
}

void avatar_scope(const char *avatar_id, char *out)
{
    cache_gen_scope(out, "avatar", avatar_id);
}

void avatar_org_scope(const char *org_id, char *out)
{
    cache_gen_scope(out, "org-avatars", org_id);
}

void avatar_cache_forget(struct cache *c, const char *avatar_id)
{
    char scope[CACHE_GEN_SCOPE_MAX];
    avatar_scope(avatar_id, scope);
    cache_gen_bump(c, scope);
}

void avatar_lists_forget(struct cache *c, const char *org_id, const char *owner_id)
{
    char scope[CACHE_GEN_SCOPE_MAX];
    avatar_org_scope(org_id, scope);
    cache_gen_bump(c, scope);
    accounts_user_scope(owner_id, scope);
    cache_gen_bump(c, scope);
}

void avatar_changed(struct cache *c, const struct avatar_ref *ref)
{
    avatar_cache_forget(c, ref->id);
    avatar_lists_forget(c, ref->org_id, ref->owner_id);
}

void avatar_changed_by_id(struct cache *c, struct db *db, const char *avatar_id)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    avatar_cache_forget(c, avatar_id);
    if (db_query(db, "SELECT owner_id, org_id FROM avatars WHERE id = ?", p, 1, &r))
        return;
    if (r->nrows == 1)
        avatar_lists_forget(c, db_rows_text(r, 0, 1), db_rows_text(r, 0, 0));
    db_rows_free(r);
}

/* A stored JSON document (publish, extensions: this server wrote them from validated input), or
 * the empty one when the column is empty. */
static void write_stored(struct jw *w, const char *key, const char *stored, const char *empty)
{
    const char *v = stored && *stored ? stored : empty;
    jw_key(w, key);
    jw_raw(w, v, strlen(v));
}

void avatar_write_fields(struct jw *w, const struct db_rows *r, int i, int with_extensions)
{
    static const char *const text_cols[] = {"id",          "owner_id", "org_id",   "name",       "kind",  "description",
                                            "personality", "scenario", "greeting", "visibility", "brain", "slug"};
    for (int c = 0; c < 12; c++)
        jw_kstr(w, text_cols[c], db_rows_text(r, i, c));
    write_stored(w, "publish", db_rows_text(r, i, 12), "[]");
    if (with_extensions)
        write_stored(w, "extensions", db_rows_text(r, i, 13), "{}");
    jw_kstr(w, "created_at", db_rows_text(r, i, 14));
    jw_kstr(w, "updated_at", db_rows_text(r, i, 15));
    jw_kbool(w, "visitor_talk", db_rows_int(r, i, 16) != 0);
    jw_kstr(w, "portrait_media_id", db_rows_text(r, i, 17));
    jw_kstr(w, "language", db_rows_text(r, i, 18));
}

json_t *avatar_from_row(const struct db_rows *r, int i)
{
    struct buf b;
    struct jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_obj(&w);
    avatar_write_fields(&w, r, i, 1);
    jw_obj_end(&w);
    json_t *j = jw_finish(&w) ? NULL : json_loadb(b.data, b.len, 0, NULL);
    buf_cleanup(&b);
    return j ? j : json_object();
}

static const char *one_of(const char *s, const char *const *allowed, const char *what)
{
    for (; *allowed; allowed++)
        if (s && !strcmp(s, *allowed))
            return NULL;
    return what;
}

const char *avatar_check_kind(const char *s)
{
    static const char *const k[] = {"self", "legacy", "character", "trainer", NULL};
    return one_of(s, k, "kind must be self, legacy, character or trainer");
}

const char *avatar_check_language(const char *s)
{
    static const char *const l[] = {"auto", "en", "de", "es", "fr", "it", "pt", "nl", NULL};
    return one_of(s, l, "language must be auto, en, de, es, fr, it, pt or nl");
}

const char *avatar_check_visibility(const char *s)
{
    static const char *const v[] = {"private", "org", "link", "public", NULL};
    return one_of(s, v, "visibility must be private, org, link or public");
}

const char *avatar_check_brain(const char *s)
{
    static const char *const b[] = {"recall", "generative", NULL};
    const char *why = one_of(s, b, "brain must be recall or generative");
    /* A brain that cannot answer here (the generative one without a language model) is refused
     * with what to set, rather than accepted to answer 501 ever after. */
    return why ? why : !brain_for(s) ? brain_unavailable_why(s) : NULL;
}
