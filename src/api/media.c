/* Media routes: streamed uploads (multipart or raw), listing, metadata, content with Range and
 * ETag, deletion. Every object is reached through its avatar's access check. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "avatar/avatar.h"
#include "avatar/media.h"
#include "avatar/media_ingest.h"
#include "avatar/quota.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "net/multipart.h"
#include "store/blob.h"
#include "store/cache.h"
#include "store/db.h"

/* One upload in progress. */
struct upload {
    struct avatar_ref ref;
    struct caller who;
    struct blob_writer *w;
    struct multipart *mp;
    int in_file, file_seen;
    int flags; /* MEDIA_ALLOW_DUPLICATE with ?duplicate=copy */
    char filename[256];
    char sniff[MEDIA_SNIFF_BYTES];
    size_t sniff_len;
    uint64_t bytes;
    int in_own_words;  /* reading the own_words form field */
    char own_words[8]; /* its value ("true", "1" …), or ?own_words= of a raw upload */
    size_t own_words_len;
};

/* A form or query flag: 1 true/1/yes/on, 0 false/0/no/off/empty, -1 anything else. */
static int flag_value(const char *v)
{
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", "", NULL};
    for (const char *const *y = yes; *y; y++)
        if (!strcasecmp(v, *y))
            return 1;
    for (const char *const *n = no; *n; n++)
        if (!strcasecmp(v, *n))
            return 0;
    return -1;
}

static void upload_free(struct upload *u)
{
    if (u->w)
        blob_abort(u->w);
    multipart_free(u->mp);
    free(u);
}

static int upload_bytes(struct upload *u, const char *p, size_t n)
{
    if (u->sniff_len < sizeof u->sniff) {
        size_t take = n < sizeof u->sniff - u->sniff_len ? n : sizeof u->sniff - u->sniff_len;
        memcpy(u->sniff + u->sniff_len, p, take);
        u->sniff_len += take;
    }
    u->bytes += n;
    return blob_write(u->w, p, n);
}

static int mp_begin(void *arg, const struct multipart_part *part)
{
    struct upload *u = arg;
    /* The first part with a file name is the upload; of the other fields only own_words counts. */
    u->in_file = part->filename[0] && !u->file_seen;
    u->in_own_words = !part->filename[0] && !strcmp(part->name, "own_words");
    if (u->in_own_words)
        u->own_words_len = 0;
    if (u->in_file) {
        u->file_seen = 1;
        media_clean_filename(part->filename, u->filename);
    }
    return DP_OK;
}

static int mp_data(void *arg, const char *p, size_t n)
{
    struct upload *u = arg;
    if (u->in_own_words) {
        size_t take = n < sizeof u->own_words - 1 - u->own_words_len ? n : sizeof u->own_words - 1 - u->own_words_len;
        memcpy(u->own_words + u->own_words_len, p, take);
        u->own_words_len += take;
        u->own_words[u->own_words_len] = 0;
        return DP_OK;
    }
    return u->in_file ? upload_bytes(u, p, n) : DP_OK;
}

static int mp_end(void *arg)
{
    ((struct upload *)arg)->in_file = 0;
    ((struct upload *)arg)->in_own_words = 0;
    return DP_OK;
}

static const struct multipart_cb upload_cbs = {mp_begin, mp_data, mp_end};

static int upload_begin(struct request *req, struct response *res, void **state)
{
    struct context e;
    int err = api_env(req, &e);
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return DP_ERR_NOMEM;
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &u->ref)))
        goto out_free;
    u->who = *api_caller(req);
    /* Asked before the bytes arrive, so a bad value costs no upload. */
    const char *dup = req_query(req, "duplicate");
    if (dup && strcmp(dup, "copy") && strcmp(dup, "reuse")) {
        err = DP_ERR_INVALID;
        res_error(res, req, err, "duplicate must be reuse (the default) or copy");
        goto out_free;
    }
    u->flags = dup && !strcmp(dup, "copy") ? MEDIA_ALLOW_DUPLICATE : 0;
    /* An owner over the storage quota is told before the bytes arrive (the exact check, with the
     * size known, comes at the end). */
    char qmsg[200];
    if ((err = quota_check(e.db, u->ref.id, req->content_length ? (int64_t)req->content_length : 1, 0, qmsg,
                           sizeof qmsg))) {
        if (err == DP_ERR_QUOTA)
            res_error(res, req, err, "%s", qmsg);
        goto out_free;
    }
    if (req->content_type && !strncasecmp(req->content_type, "multipart/", 10)) {
        if ((err = multipart_new(&u->mp, req->content_type, &upload_cbs, u))) {
            res_error(res, req, err, "multipart/form-data needs a boundary of 1 to 70 characters");
            goto out_free;
        }
    } else {
        media_clean_filename(req_query(req, "filename"), u->filename);
    }
    const char *own = req_query(req, "own_words");
    if (own)
        snprintf(u->own_words, sizeof u->own_words, "%s", strlen(own) < sizeof u->own_words ? own : "bad");
    if ((err = blob_writer_new(e.blobs, &u->w)))
        goto out_free;
    *state = u;
    return DP_OK;
out_free:
    upload_free(u);
    return err;
}

static int upload_chunk(struct request *req, void *state, const char *p, size_t n)
{
    (void)req;
    struct upload *u = state;
    return u->mp ? multipart_feed(u->mp, p, n) : upload_bytes(u, p, n);
}

static int upload_end(struct request *req, struct response *res, void *state)
{
    struct upload *u = state;
    struct context e;
    char job[ID_LEN], msg[200] = "";
    int err = api_env(req, &e);
    if (err)
        goto out;
    if (u->mp && (multipart_finish(u->mp) || !u->file_seen)) {
        err = DP_ERR_INVALID;
        res_error(res, req, err,
                  u->file_seen ? "the multipart body ended early" : "the multipart body has no file part");
        goto out;
    }
    int own = flag_value(u->own_words);
    if (own < 0) {
        err = DP_ERR_INVALID;
        res_error(res, req, err, "own_words must be true or false");
        goto out;
    }
    json_t *media = NULL;
    err = media_create(e.db, e.blobs, u->w, u->bytes, u->sniff, u->sniff_len, u->ref.id, u->who.user_id, u->who.org_id,
                       u->filename, u->flags, NULL, &media, job, msg, sizeof msg);
    u->w = NULL; /* consumed either way */
    if (err) {
        if (*msg)
            res_error(res, req, err, "%s", msg);
        goto out;
    }
    /* The avatar's own words feed its personality profile (avatar/personality_store.c). For a
     * duplicate this marks the existing media: the caller said so of these very bytes. */
    if (own && (err = media_set_own_words(e.db, json_string_value(json_object_get(media, "id")), 1))) {
        json_decref(media);
        goto out;
    }
    if (own)
        json_object_set_new(media, "own_words", json_true());
    if (!*job) { /* the avatar has these bytes already: nothing was stored */
        res_json(res, 200, media);
        goto out;
    }
    avatar_cache_forget(e.cache, u->ref.id); /* its stats changed */
    quota_forget(e.cache, u->ref.owner_id);  /* and its owner's storage */
    json_t *jobj = NULL;
    job_get_json(e.db, job, &jobj, NULL, NULL);
    res_json(res, 202, json_pack("{s:o,s:o}", "media", media, "job", jobj ? jobj : json_null()));
out:
    upload_free(u);
    return err;
}

static void upload_abort(void *state)
{
    if (state)
        upload_free(state);
}

static const struct stream_handler upload_stream = {upload_begin, upload_chunk, upload_end, upload_abort};

static int list_of_avatar(struct db *db, const void *avatar_id, const char *after, long limit, json_t **items)
{
    return media_list(db, avatar_id, after, limit, items);
}

static int list_media_fill(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    return api_list_page(req, res, e.db, list_of_avatar, ref.id);
}

/* The first page from the cache (the avatar's scope moves on with every media change). */
static int list_media(struct request *req, struct response *res)
{
    return api_cached_avatar_read(req, res, "media", list_media_fill);
}

static int get_media(struct request *req, struct response *res)
{
    struct context e;
    struct db_rows *r;
    int err = api_env(req, &e);
    if (err || (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &r)))
        return err;
    json_t *m = media_from_row(r, 0), *t = NULL;
    db_rows_free(r);
    if ((err = media_transcript(e.db, e.blobs, req_param(req, "id"), &t))) {
        json_decref(m);
        return err;
    }
    json_object_set_new(m, "transcript", t ? t : json_null());
    res_json(res, 200, m);
    return DP_OK;
}

static int media_content(struct request *req, struct response *res)
{
    struct context e;
    struct db_rows *r;
    int err = api_env(req, &e);
    if (err || (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &r)))
        return err;
    char key[BLOB_KEY_LEN + 1], mime[128], kind[16], fname[256];
    snprintf(key, sizeof key, "%s", db_rows_text(r, 0, 3));
    snprintf(mime, sizeof mime, "%s", db_rows_text(r, 0, 5));
    snprintf(kind, sizeof kind, "%s", db_rows_text(r, 0, 6));
    snprintf(fname, sizeof fname, "%s", db_rows_text(r, 0, 7) ? db_rows_text(r, 0, 7) : "media");
    db_rows_free(r);
    const char *variant = req_query(req, "variant");
    if (variant) {
        /* A derived file (the thumbnail of an image) instead of the original. */
        if (strcmp(variant, "thumbnail")) {
            res_error(res, req, DP_ERR_INVALID, "variant must be thumbnail");
            return DP_ERR_INVALID;
        }
        if ((err = media_variant(e.db, req_param(req, "id"), variant, key, mime))) {
            if (err == DP_ERR_NOT_FOUND)
                res_error(res, req, err, "this media has no %s (yet)", variant);
            return err;
        }
        snprintf(kind, sizeof kind, "image");
    }
    return api_send_media(req, res, e.blobs, key, mime, kind, fname);
}

/* PATCH {own_words}: whether the media's text is the avatar's own words (editors and up). */
static int patch_media(struct request *req, struct response *res)
{
    struct context e;
    struct db_rows *r;
    int err = api_env(req, &e);
    if (err)
        return err;
    const char *k;
    json_t *v, *own = NULL;
    json_object_foreach (req->json, k, v) {
        if (strcmp(k, "own_words")) {
            res_error(res, req, DP_ERR_INVALID, "only own_words can be changed (not %.64s)", k);
            return DP_ERR_INVALID;
        }
        own = v;
    }
    if (!json_is_boolean(own)) {
        res_error(res, req, DP_ERR_INVALID, "own_words (true or false) is required");
        return DP_ERR_INVALID;
    }
    if ((err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &r)))
        return err;
    char avatar[ID_LEN];
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    if ((err = media_set_own_words(e.db, req_param(req, "id"), json_is_true(own))) ||
        (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &r)))
        return err;
    avatar_cache_forget(e.cache, avatar);
    res_json(res, 200, media_from_row(r, 0));
    db_rows_free(r);
    return DP_OK;
}

static int reprocess_media(struct request *req, struct response *res)
{
    struct context e;
    struct db_rows *r;
    int err = api_env(req, &e);
    if (err || (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &r)))
        return err;
    char avatar[ID_LEN], job_id[ID_LEN];
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    json_t *job;
    if ((err = media_reprocess(e.db, req_param(req, "id"), avatar, api_caller(req)->user_id, api_caller(req)->org_id,
                               job_id)) ||
        (err = job_get_json(e.db, job_id, &job, NULL, NULL)) ||
        (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &r)))
        return err;
    res_json(res, 202, json_pack("{s:o,s:o}", "media", media_from_row(r, 0), "job", job));
    db_rows_free(r);
    return DP_OK;
}

static int delete_media(struct request *req, struct response *res)
{
    struct context e;
    struct db_rows *r;
    int err = api_env(req, &e);
    if (err || (err = media_find(e.db, api_caller(req), req_param(req, "id"), AVATAR_EDIT, &r)))
        return err;
    char key[BLOB_KEY_LEN + 1], avatar[ID_LEN];
    snprintf(key, sizeof key, "%s", db_rows_text(r, 0, 3));
    snprintf(avatar, sizeof avatar, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    if ((err = media_delete(e.db, e.blobs, req_param(req, "id"))))
        return err;
    avatar_changed_by_id(e.cache, e.db, avatar); /* a deleted portrait leaves its lists too */
    audit_write(e.db, "media.delete", api_caller(req)->user_id, req_param(req, "id"), api_caller(req)->org_id, e.ip,
                NULL);
    res_body(res, 204, "", NULL, 0);
    res->content_type[0] = 0;
    return DP_OK;
}

static const char upload_doc[] =
    "{\"description\":\"multipart/form-data (the first part with a filename) or a raw body (?filename= names "
    "it; control and bidirectional control characters are removed from the name). The type is sniffed from the "
    "bytes. own_words=true (a form field, or the query of a raw upload) marks the file as the avatar's own words: "
    "its text feeds the personality profile. 202 {media, job}; 200 with the avatar's existing media plus "
    "duplicate_of (its id) when the avatar already has these exact bytes — nothing new is stored, no job, no "
    "memories — unless ?duplicate=copy; 413 over --upload-max; 413 quota_exceeded past the owner's "
    "--quota-storage; 415 for other types; 422 for an empty file.\","
    "\"parameters\":[{\"name\":\"filename\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":"
    "\"string\"}},{\"name\":\"own_words\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":"
    "\"boolean\"}},{\"name\":\"duplicate\",\"in\":\"query\",\"required\":false,\"description\":\"reuse "
    "(default): the same bytes again answer with the existing media; copy: store them as a second media\","
    "\"schema\":{\"type\":\"string\",\"enum\":[\"reuse\",\"copy\"]}}],"
    "\"requestBody\":{\"required\":true,\"content\":{\"application/octet-stream\":{\"schema\":{\"type\":\"string\"}},"
    "\"multipart/form-data\":{\"schema\":{\"type\":\"object\",\"properties\":{\"file\":{\"type\":\"string\"},"
    "\"own_words\":{\"type\":\"string\",\"enum\":[\"true\",\"false\"]}}}}}},"
    "\"responses\":{\"202\":\"Upload\",\"200\":{\"description\":\"the avatar already has these bytes: its media, with duplicate_of\","
    "\"content\":{\"application/json\":{\"schema\":\"Media\"}}}},\"errors\":[403,413,415,422]}";

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char list_doc[] = J({"paged" : true, "responses" : {"200" : "Page<Media>"}});
static const char get_doc[] = J({"responses" : {"200" : "Media"}});
static const char patch_doc[] =
    J({"requestBody" : "MediaPatch", "responses" : {"200" : "Media"}, "errors" : [ 403, 422 ]});
static const char reprocess_doc[] = J({"responses" : {"202" : "Upload"}, "errors" : [403]});
static const char delete_doc[] = J({"responses" : {"204" : "-"}, "errors" : [403]});

const struct route media_routes[] = {
    {"POST", "/api/v1/avatars/{id}/media", ROUTE_STREAM, 0, NULL, "media", "Upload media (streamed)", upload_doc, NULL,
     &upload_stream},
    {"GET", "/api/v1/avatars/{id}/media", ROUTE_TRY_INLINE, 0, list_media, "media", "List an avatar's media", list_doc,
     NULL, NULL},
    {"GET", "/api/v1/media/{id}", 0, 0, get_media, "media", "Media metadata, processing status, transcript", get_doc,
     NULL, NULL},
    {"GET", "/api/v1/media/{id}/content", 0, 0, media_content, "media",
     "Media bytes (Range, ETag); ?variant=thumbnail for an image's 256-pixel PNG thumbnail", api_media_bytes_doc, NULL,
     NULL},
    {"PATCH", "/api/v1/media/{id}", ROUTE_JSON, 0, patch_media, "media",
     "Change media metadata: {own_words: true|false} — whether its text is the avatar's own words (they feed "
     "the personality profile)",
     patch_doc, NULL, NULL},
    {"POST", "/api/v1/media/{id}/reprocess", 0, 0, reprocess_media, "media",
     "Process the file again (editors): audio and video get a new transcript version and fresh utterances, "
     "documents fresh passages; 202 {media, job}",
     reprocess_doc, NULL, NULL},
    {"DELETE", "/api/v1/media/{id}", 0, 0, delete_media, "media", "Delete media and everything derived from it",
     delete_doc, NULL, NULL},
    {0},
};
