/* Cards and the database: import into an avatar and its memories, export of an avatar. */
#include "avatar/card_store.h"
#include "avatar/portrait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avatar/avatar.h"
#include "avatar/quota.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "store/blob.h"
#include "store/db.h"

#define MEMORY_BATCH 64 /* rows per INSERT: 9 parameters each, well under SQLite's limit */
#define MEMORY_PARAMS 9

int card_store_import(struct db *db, const struct card_import *imp, const char *owner_id, const char *org_id,
                      char id_out[ID_LEN])
{
    char id[ID_LEN], now[RFC3339_LEN];
    id_new(id);
    time_rfc3339(time_now_ms(), now);
    char *ext = json_dumps(imp->extensions, JSON_COMPACT);
    if (!ext)
        return DP_ERR_NOMEM;
    int err = db_begin(db);
    if (err)
        goto out_free;
    struct db_val p[] = {DB_TEXT(id),
                         DB_TEXT(owner_id),
                         DB_TEXT(org_id),
                         DB_TEXT(imp->name),
                         DB_TEXT(imp->kind),
                         DB_TEXT(imp->description),
                         DB_TEXT(imp->personality),
                         DB_TEXT(imp->scenario),
                         DB_TEXT(imp->greeting),
                         DB_TEXT(imp->brain),
                         DB_TEXT(ext),
                         DB_TEXT(now),
                         DB_TEXT(now)};
    err =
        db_query(db,
                 "INSERT INTO avatars (id, owner_id, org_id, name, kind, description, personality, scenario, greeting, "
                 "visibility, brain, extensions, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "'private', ?, ?, ?, ?)",
                 p, 13, NULL);
    char qmsg[200];
    if (!err && imp->nmemories) /* the lorebook's entries become the new avatar's memories */
        err = quota_check(db, id, 0, (int64_t)imp->nmemories, qmsg, sizeof qmsg);
    struct db_val mp[MEMORY_BATCH * MEMORY_PARAMS];
    struct buf sql;
    buf_init(&sql, 0);
    for (size_t at = 0; !err && at < imp->nmemories; at += MEMORY_BATCH) {
        size_t k = imp->nmemories - at < MEMORY_BATCH ? imp->nmemories - at : MEMORY_BATCH;
        sql.len = 0;
        err = buf_printf(&sql, "INSERT INTO memories (id, avatar_id, kind, text, seq, speaker, dialogue, created_at, "
                               "updated_at) VALUES ");
        int np = 0;
        for (size_t i = 0; !err && i < k; i++) {
            const struct card_memory *m = &imp->memories[at + i];
            err = buf_printf(&sql, "%s(?, ?, ?, ?, ?, ?, ?, ?, ?)", i ? ", " : "");
            mp[np++] = DB_TEXT(m->id);
            mp[np++] = DB_TEXT(id);
            mp[np++] = DB_TEXT(m->kind);
            mp[np++] = DB_TEXT(m->text);
            mp[np++] = DB_INT(m->seq);
            mp[np++] = DB_TEXT(m->speaker);
            mp[np++] = DB_TEXT(m->dialogue[0] ? m->dialogue : NULL);
            mp[np++] = DB_TEXT(now);
            mp[np++] = DB_TEXT(now);
        }
        if (!err)
            err = db_query(db, sql.data, mp, np, NULL);
    }
    buf_cleanup(&sql);
    if (!err)
        err = db_commit(db);
    if (err)
        db_rollback(db);
    else
        memcpy(id_out, id, ID_LEN);
out_free:
    free(ext);
    return err;
}

int card_export_format_parse(const char *s)
{
    if (!s || !strcmp(s, "json") || !strcmp(s, "card"))
        return CARD_EXPORT_JSON;
    if (!strcmp(s, "charx"))
        return CARD_EXPORT_CHARX;
    if (!strcmp(s, "png"))
        return CARD_EXPORT_PNG;
    return -1;
}

void card_export_cleanup(struct card_export *x)
{
    free(x->data);
    memset(x, 0, sizeof *x);
}

/* The memories of an avatar as card_build wants them ({id, kind, text, media_id, start_ms, end_ms,
 * speaker, seq, dialogue}: an utterance's dialogue is its media, or the one an import gave it), at
 * most CARD_BOOK_MAX; *more counts the rest. */
static int load_memories(struct db *db, const char *avatar_id, json_t **out, size_t *more)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id), DB_INT(CARD_BOOK_MAX + 1)};
    int err = db_query(db,
                       "SELECT id, kind, text, media_id, start_ms, end_ms, speaker, seq, COALESCE(media_id, dialogue) "
                       "FROM memories WHERE avatar_id = ? ORDER BY id LIMIT ?",
                       p, 2, &r);
    if (err)
        return err;
    json_t *a = json_array();
    for (int i = 0; i < r->nrows && i < CARD_BOOK_MAX; i++) {
        json_t *m = json_pack("{s:s,s:s,s:s}", "id", db_rows_text(r, i, 0), "kind", db_rows_text(r, i, 1), "text",
                              db_rows_text(r, i, 2));
        if (!m)
            continue;
        if (!db_rows_is_null(r, i, 3)) {
            json_object_set_new(m, "media_id", json_string(db_rows_text(r, i, 3)));
            json_object_set_new(m, "start_ms",
                                db_rows_is_null(r, i, 4) ? json_null() : json_integer(db_rows_int(r, i, 4)));
            json_object_set_new(m, "end_ms",
                                db_rows_is_null(r, i, 5) ? json_null() : json_integer(db_rows_int(r, i, 5)));
        }
        if (!db_rows_is_null(r, i, 6))
            json_object_set_new(m, "speaker", json_string(db_rows_text(r, i, 6)));
        if (!db_rows_is_null(r, i, 7))
            json_object_set_new(m, "seq", json_integer(db_rows_int(r, i, 7)));
        if (!db_rows_is_null(r, i, 8))
            json_object_set_new(m, "dialogue", json_string(db_rows_text(r, i, 8)));
        json_array_append_new(a, m);
    }
    int over = r->nrows > CARD_BOOK_MAX;
    db_rows_free(r);
    *more = 0;
    if (over) {
        struct db_val q[] = {DB_TEXT(avatar_id)};
        if (!db_query(db, "SELECT COUNT(*) FROM memories WHERE avatar_id = ?", q, 1, &r)) {
            int64_t n = db_rows_int(r, 0, 0);
            *more = n > CARD_BOOK_MAX ? (size_t)(n - CARD_BOOK_MAX) : 0;
            db_rows_free(r);
        }
    }
    *out = a;
    return DP_OK;
}

static const char *image_ext(const char *mime)
{
    static const struct {
        const char *mime, *ext;
    } t[] = {{"image/png", "png"},
             {"image/jpeg", "jpg"},
             {"image/webp", "webp"},
             {"image/gif", "gif"},
             {"image/avif", "avif"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (mime && !strcmp(mime, t[i].mime))
            return t[i].ext;
    return NULL;
}

/* An image shipped with a card. */
struct asset {
    char path[96];
    char *data;
    size_t len;
    int is_png;
};

/* The avatar's images, in upload order, within CARD_EXPORT_ASSETS_MAX and
 * CARD_EXPORT_ASSET_BYTES_MAX (together); want_png_only keeps only the first PNG. */
static int load_images(struct db *db, struct blob_store *bs, const char *avatar_id, int want_png_only,
                       struct asset **out, size_t *n, json_t *assets_json, size_t *omitted)
{
    *out = NULL;
    *n = 0;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id), DB_INT(CARD_EXPORT_ASSETS_MAX * 4)};
    int err = db_query(db,
                       "SELECT blob_key, mime, size FROM media WHERE avatar_id = ? AND kind = 'image' AND status <> "
                       "'failed' ORDER BY id LIMIT ?",
                       p, 2, &r);
    if (err)
        return err;
    struct asset *a = calloc(CARD_EXPORT_ASSETS_MAX, sizeof *a);
    if (!a) {
        db_rows_free(r);
        return DP_ERR_NOMEM;
    }
    size_t total = 0;
    for (int i = 0; i < r->nrows; i++) {
        const char *ext = image_ext(db_rows_text(r, i, 1));
        int64_t size = db_rows_int(r, i, 2);
        if (want_png_only && (*n || !ext || strcmp(ext, "png")))
            continue;
        if (!ext || *n >= CARD_EXPORT_ASSETS_MAX || size < 0 || (uint64_t)size > CARD_EXPORT_ASSET_BYTES_MAX - total) {
            ++*omitted;
            continue;
        }
        struct asset *s = &a[*n];
        if (blob_read_all(bs, db_rows_text(r, i, 0), CARD_EXPORT_ASSET_BYTES_MAX - total, &s->data, &s->len)) {
            ++*omitted;
            continue;
        }
        total += s->len;
        s->is_png = !strcmp(ext, "png");
        /* The first image is the character's icon; the others go along as "other". */
        const char *type = *n ? "other" : "icon";
        char name[32];
        if (*n)
            snprintf(name, sizeof name, "image-%zu", *n);
        else
            snprintf(name, sizeof name, "main");
        snprintf(s->path, sizeof s->path, "assets/%s/images/%s.%s", type, name, ext);
        if (assets_json) {
            char uri[128];
            snprintf(uri, sizeof uri, "embeded://%s", s->path);
            json_array_append_new(assets_json,
                                  json_pack("{s:s,s:s,s:s,s:s}", "type", type, "uri", uri, "name", name, "ext", ext));
        }
        ++*n;
    }
    db_rows_free(r);
    *out = a;
    return DP_OK;
}

static void free_images(struct asset *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        free(a[i].data);
    free(a);
}

/* name.ext with only [A-Za-z0-9._-] (others become '_'), "avatar" when nothing is left; and the
 * exact name.ext (cut on a character boundary if it must be). */
static void download_name(const char *name, const char *ext, struct card_export *x)
{
    char *out = x->filename;
    size_t cap = sizeof x->name_utf8 - strlen(ext) - 2, n = strlen(name ? name : "");
    if (n > cap) {
        n = utf8_cut(name, cap);
    }
    snprintf(x->name_utf8, sizeof x->name_utf8, "%.*s.%s", (int)n, n ? name : "avatar", ext);
    char base[64];
    size_t k = 0;
    for (const char *c = name ? name : ""; *c && k < sizeof base - 1; c++) {
        unsigned char ch = (unsigned char)*c;
        int ok =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
        if (ok)
            base[k++] = (char)ch;
        else if (k && base[k - 1] != '_')
            base[k++] = '_';
    }
    while (k && (base[k - 1] == '_' || base[k - 1] == '.'))
        k--;
    base[k] = 0;
    snprintf(out, sizeof x->filename, "%s.%s", k && base[0] != '.' ? base : "avatar", ext);
}

/* The avatar's portrait as a PNG: the image itself when it is one, else its PNG thumbnail.
 * DP_ERR_NOT_FOUND when it has none (or neither is a PNG). */
static int portrait_png(struct db *db, struct blob_store *bs, const char *avatar_id, char **out, size_t *len)
{
    char key[BLOB_KEY_LEN + 1], mime[128];
    for (int original = 1; original >= 0; original--) {
        int err = portrait_picture(db, avatar_id, original, key, mime);
        if (err)
            return err;
        if (!strcmp(mime, "image/png"))
            return blob_read_all(bs, key, CARD_EXPORT_ASSET_BYTES_MAX, out, len) ? DP_ERR_NOT_FOUND : DP_OK;
    }
    return DP_ERR_NOT_FOUND;
}

int card_store_export(struct db *db, struct blob_store *blobs, const char *avatar_id, enum card_export_format f,
                      struct card_export *out)
{
    memset(out, 0, sizeof *out);
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT " AVATAR_COLUMNS " FROM avatars WHERE id = ? AND deleted_at IS NULL", p, 1, &r);
    if (err)
        return err;
    if (r->nrows != 1) {
        db_rows_free(r);
        return DP_ERR_NOT_FOUND;
    }
    json_t *avatar = avatar_from_row(r, 0);
    db_rows_free(r);
    if (!avatar)
        return DP_ERR_NOMEM;
    json_t *mems = NULL, *assets = NULL, *card = NULL;
    struct asset *imgs = NULL;
    size_t nimgs = 0, more = 0;
    if ((err = load_memories(db, avatar_id, &mems, &more)))
        goto out;
    if (blobs && f != CARD_EXPORT_JSON) {
        assets = f == CARD_EXPORT_CHARX ? json_array() : NULL;
        if ((err =
                 load_images(db, blobs, avatar_id, f == CARD_EXPORT_PNG, &imgs, &nimgs, assets, &out->omitted_assets)))
            goto out;
    }
    card = card_build(avatar, mems, assets, &out->omitted_memories);
    if (!card) {
        err = DP_ERR_NOMEM;
        goto out;
    }
    out->omitted_memories += more;
    out->assets = nimgs;
    size_t len = 0;
    char *text = card_dump(card, &len);
    if (!text) {
        err = DP_ERR_NOMEM;
        goto out;
    }
    const char *name = json_get_str(avatar, "name");
    if (f == CARD_EXPORT_JSON) {
        out->data = text;
        out->len = len;
        out->content_type = "application/json; charset=utf-8";
        download_name(name, "json", out);
    } else if (f == CARD_EXPORT_CHARX) {
        struct card_zip_file *files = calloc(nimgs + 1, sizeof *files);
        if (!files) {
            free(text);
            err = DP_ERR_NOMEM;
            goto out;
        }
        files[0] = (struct card_zip_file){"card.json", text, len, 1};
        for (size_t i = 0; i < nimgs; i++)
            files[i + 1] = (struct card_zip_file){imgs[i].path, imgs[i].data, imgs[i].len, 0};
        err = card_zip_write(files, nimgs + 1, &out->data, &out->len);
        free(files);
        free(text);
        out->content_type = "application/zip";
        download_name(name, "charx", out);
    } else {
        free(text);
        char *pic = NULL;
        size_t piclen;
        /* The portrait is the card's picture; without one (or one that is no sound PNG), the first
         * PNG image; else a placeholder. */
        err = blobs ? portrait_png(db, blobs, avatar_id, &pic, &piclen) : DP_ERR_NOT_FOUND;
        if (!err)
            err = card_png_embed(pic, piclen, card, &out->data, &out->len);
        free(pic);
        if (!err)
            out->assets = 1;
        else if (nimgs)
            err = card_png_embed(imgs[0].data, imgs[0].len, card, &out->data, &out->len);
        if (err == DP_ERR_NOT_FOUND || err == DP_ERR_INVALID) {
            /* No picture, or one that is not a sound PNG: a placeholder carries the card. */
            char *ph;
            size_t phlen;
            if (nimgs)
                out->omitted_assets++, out->assets = 0;
            if (!(err = card_png_placeholder(&ph, &phlen))) {
                err = card_png_embed(ph, phlen, card, &out->data, &out->len);
                free(ph);
            }
        }
        out->content_type = "image/png";
        download_name(name, "png", out);
    }
out:
    if (err) {
        free(out->data);
        out->data = NULL;
    }
    free_images(imgs, nimgs);
    json_decref(card);
    json_decref(assets);
    json_decref(mems);
    json_decref(avatar);
    return err;
}
