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

/* {"items":items,"next_cursor":last id when full, else null}; takes items. */
json_t *api_page_json(json_t *items, long limit, const char *id_field);

/* The file part of a multipart/form-data body (api_form.c) into *out (caller cleans up), at most max
 * bytes; what names it in errors ("card", "recording"). On error the response is written. */
int api_form_file(struct request *req, struct response *res, size_t max, const char *what, struct buf *out);
/* The uploaded bytes of a buffered route: the file part of a form (kept in *form, which the caller
 * always cleans up) or else the raw body. DP_ERR_INVALID (written) when empty or malformed. */
int api_upload_bytes(struct request *req, struct response *res, size_t max, const char *what, struct buf *form,
                     const char **body, size_t *len);

#endif
