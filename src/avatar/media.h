/* Media of an avatar: type sniffing (never the client's word), kinds, rows. */
#ifndef DP_MEDIA_H
#define DP_MEDIA_H

#include <jansson.h>
#include <stddef.h>

struct db;
struct db_rows;
struct blob_store;

#define MEDIA_SNIFF_BYTES 8192 /* what libmagic looks at */

#define MEDIA_COLUMNS                                                                                               \
    "id, avatar_id, owner_id, blob_key, size, mime, kind, filename, status, status_detail, meta, job_id, "         \
    "created_at, updated_at"

/* The MIME type of the first bytes of a file (libmagic, one handle per thread). */
int media_sniff(const void *p, size_t n, char mime[128]);
/* The kind (text | document | audio | video | image) of an accepted type, else NULL (415).
 * filename refines plain text (".md" → Markdown). */
const char *media_kind_for(const char *mime, const char *filename, const char **refined_mime);
/* A safe display name: the last path component, control characters removed, ≤ 255 bytes. */
void media_clean_filename(const char *in, char out[256]);
json_t *media_from_row(const struct db_rows *r, int i);
/* Removes blob key unless a media row still refers to it (blobs are shared by content). */
void media_release_blob(struct db *db, struct blob_store *bs, const char *key);

#endif
