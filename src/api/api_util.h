/* Helpers shared by the resource files of api/: the caller, the environment, body fields. */
#ifndef DP_API_UTIL_H
#define DP_API_UTIL_H

#include "api/app.h"
#include "auth/accounts.h"
#include "auth/caller.h"

/* The authenticated caller (set by the auth hook; non-public routes only). */
static inline const struct caller *api_caller(const struct request *req)
{
    return req->auth;
}

/* Fills e with the worker's database, its handles of both cache spaces and the client's address.
 * DP_ERR_UNAVAILABLE. */
int api_env(struct request *req, struct context *e);

/* A string field of the JSON body: NULL when absent; DP_ERR_INVALID (response set) when of
 * another type or longer than max bytes. */
int api_body_str(struct request *req, struct response *res, const char *key, size_t max, const char **out);

/* Refuses with 429 + Retry-After when bucket key is empty. scope names the metric label. c is
 * the security space (e.security): a bucket kept among cached copies could be flushed. */
int api_rate_limit(struct request *req, struct response *res, struct cache *c, const char *scope, const char *key,
                   double per_second, double burst);

struct blob_reader;
/* Sends len bytes from off of the blob r as the body (r is owned from here on, even on failure):
 * its file descriptor when the backend has one (zero copy), else read piece by piece. */
int res_blob(struct response *res, struct blob_reader *r, uint64_t off, uint64_t len);

/* The 429 answer of a refused rate limit: Retry-After from retry_ms, the refusal counted under
 * scope. Returns DP_ERR_RATE_LIMITED. */
int api_rate_refuse(struct request *req, struct response *res, const char *scope, int64_t retry_ms);

/* A page of a list: ?limit= (1–200, default 50) and ?cursor= (opaque; here the last id). */
int api_page(struct request *req, struct response *res, long *limit, const char **cursor);
struct db;
struct db_rows;
struct db_val;

/* Answers one page of a list: reads ?limit= and ?cursor=, asks list(db, arg, cursor, limit, &items)
 * (a domain module's lister; arg is its subject) and writes {items, next_cursor}. */
int api_list_page(struct request *req, struct response *res, struct db *db,
                  int (*list)(struct db *db, const void *arg, const char *after, long limit, json_t **items),
                  const void *arg);

/* A hot read answered from cached response bytes: no database call and no JSON tree when warm.
 * key names the answer (with the caller wherever it depends on who asks: another caller's key
 * must never be this one's); scopes are what it is built from (store/cache_gen.h): their
 * generations are read first and stamped into the stored key, so a write that moves one on
 * makes every instance miss. Cold, fill answers as usual and a 200 answer is stored. On the loop
 * (no worker) a miss returns DP_ERR_WOULDBLOCK: the request moves to a worker. key NULL: not
 * cacheable (e.g. a later page), fill answers on a worker. */
int api_cached_read(struct request *req, struct response *res, const char *key, const char *const *scopes, int nscopes,
                    http_handler fill);

/* Whether a request is for a first page that may be cached: no ?cursor, and ?limit absent or
 * 1 to 3 digits (anything else is answered, or refused, without the cache). */
int api_first_page(const struct request *req);

/* api_cached_read for a read of one avatar ({id} in the path): GET /avatars/{id} and the first
 * pages of its lists (no ?cursor, no ?q). Keyed by what, the avatar, the caller (user and
 * organisation: access differs by caller) and ?limit; built from the avatar's scope (fields,
 * shares, media, memories) and the caller's. */
int api_cached_avatar_read(struct request *req, struct response *res, const char *what, http_handler fill);

/* {"items":items,"next_cursor":last id when full, else null}; takes items. */
json_t *api_page_json(json_t *items, long limit, const char *id_field);

/* The file part of a multipart/form-data body (api_form.c) into *out (caller cleans up), at most max
 * bytes; what names it in errors ("card", "recording"). On error the response is written. */
int api_form_file(struct request *req, struct response *res, size_t max, const char *what, struct buf *out);
/* api_form_file that also sets the form's text fields in fields (an object: name → value; up to 32
 * fields of 1 KiB, a repeated name's values joined by commas). */
int api_form_file_fields(struct request *req, struct response *res, size_t max, const char *what, struct buf *out,
                         json_t *fields);
/* The uploaded bytes of a buffered route: the file part of a form (kept in *form, which the caller
 * always cleans up) or else the raw body. DP_ERR_INVALID (written) when empty or malformed. */
int api_upload_bytes(struct request *req, struct response *res, size_t max, const char *what, struct buf *form,
                     const char **body, size_t *len);

/* Answers with the bytes of the blob br (size bytes; br is owned from here on): all of them (200),
 * or the one range the Range header asks for (206 + Content-Range), through res_blob. Returns 1
 * when it answered 416 instead (JSON error written: leave the content type alone), -1 when the
 * body could not be set, else 0 — the caller then sets the content type. */
int api_send_range(struct request *req, struct response *res, struct blob_reader *br, uint64_t size);

/* A blob answer's validator check (media_send.c): 304 written when If-None-Match names key
 * (DP_OK, *br NULL); else the blob opened (*br, *size). An error when it cannot be. */
int api_blob_unless_cached(struct request *req, struct response *res, struct blob_store *blobs, const char *key,
                           struct blob_reader **br, uint64_t *size);
/* Answers with a stored media's bytes (media_send.c): ETag (the blob key) and 304, Range,
 * Content-Disposition naming filename (inline for kind image, audio and video; documents are
 * always downloads, served as application/octet-stream). DP_OK when answered. */
int api_send_media(struct request *req, struct response *res, struct blob_store *blobs, const char *key,
                   const char *mime, const char *kind, const char *filename);
/* The OpenAPI of a route answering with api_send_media (?variant=thumbnail, 200/206/304/416). */
extern const char api_media_bytes_doc[];

#endif
