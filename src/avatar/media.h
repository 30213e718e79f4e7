/* Media of an avatar: type sniffing (never the client's word), kinds, rows. */
#ifndef DP_MEDIA_H
#define DP_MEDIA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "avatar/avatar.h"
#include "store/blob.h"

struct db;
struct db_rows;
struct blob_store;

#define MEDIA_SNIFF_BYTES 8192 /* what libmagic looks at */

#define MEDIA_COLUMNS                                                                                                  \
    "id, avatar_id, owner_id, blob_key, size, mime, kind, filename, status, status_detail, meta, job_id, "             \
    "created_at, updated_at, own_words"

/* The MIME type of the first bytes of a file (libmagic, one handle per thread). */
int media_sniff(const void *p, size_t n, char mime[128]);
/* Closes the calling thread's libmagic handle (threads that exit close theirs themselves). */
void media_thread_cleanup(void);
/* The kind (text | document | audio | video | image) of an accepted type, else NULL (415).
 * filename refines plain text (".md" → Markdown). */
const char *media_kind_for(const char *mime, const char *filename, const char **refined_mime);
/* A safe display name: the last path component without control characters, bidirectional
 * controls or bytes that are not UTF-8, cut to whole characters within 255 bytes. */
void media_clean_filename(const char *in, char out[256]);
json_t *media_from_row(const struct db_rows *r, int i);

/* The row (SELECT MEDIA_COLUMNS) of media id when c has `need` on its avatar; *row is the
 * caller's. DP_ERR_NOT_FOUND when there is none or c may not see it; DP_ERR_FORBIDDEN. */
int media_find(struct db *db, const struct caller *c, const char *id, enum avatar_access need, struct db_rows **row);

/* The blob and type of a derived file of media_id (variant "thumbnail"); DP_ERR_NOT_FOUND. */
int media_variant(struct db *db, const char *media_id, const char *variant, char key[BLOB_KEY_LEN + 1], char mime[128]);

/* Stores p[0..n) as the derived file `variant` of media_id (replacing the one it had, whose blob is
 * released unless shared). Runs its own transaction: call outside any. */
int media_derived_put(struct db *db, struct blob_store *bs, const char *media_id, const char *variant, const void *p,
                      size_t n, const char *mime);

/* Queues media_id's processing again (a new media.ingest job, the row back to queued): a new
 * transcript version for audio and video, fresh passages for documents. */
int media_reprocess(struct db *db, const char *media_id, const char *avatar_id, const char *owner_id,
                    const char *org_id, char job_id[ID_LEN]);

/* One page of avatar_id's media, by id after `after`. */
int media_list(struct db *db, const char *avatar_id, const char *after, long limit, json_t **items);

/* Marks media_id as the avatar's own words (its text then feeds the personality profile) or not.
 * DP_ERR_NOT_FOUND, database errors. */
int media_set_own_words(struct db *db, const char *media_id, int own);
/* Serialises "does any row use this blob?" with "make a blob durable and add its row": both run
 * under this lock, so a blob can never be removed between its commit and its row's insert. */
#define MEDIA_LOCK_BLOBS 0x646f7070656c0002LL

/* Removes blob key unless a media row still refers to it (blobs are shared by content). Runs its
 * own transaction under MEDIA_LOCK_BLOBS; call outside any transaction. */
void media_release_blob(struct db *db, struct blob_store *bs, const char *key);

struct context;
/* Deletes user_id (auth/users.c: users_delete, with its last-admin rule) and then the files of
 * the avatars they owned, which went with them by cascade. */
int media_delete_user(struct context *e, const char *user_id, int removes_admin);

/* Deletes a media row (its memories and derived rows cascade) and releases its blobs. */
int media_delete(struct db *db, struct blob_store *bs, const char *media_id);

struct blob_writer;
struct caller;

#define MEDIA_ALLOW_DUPLICATE 1 /* media_create: store a copy even when the avatar has these bytes */

/* Turns a finished upload into a media row and its media.ingest job. w (bytes written, size
 * bytes) is always consumed: committed on success, aborted otherwise, so a refused file leaves
 * nothing behind. sniff/sniff_len are the first bytes (type detection); filename may be "".
 * DP_ERR_UNPROCESSABLE (empty) and DP_ERR_UNSUPPORTED (type) come with a message in msg.
 * On DP_OK *media (caller decrefs) and job_id are set.
 *
 * When the avatar already has a media of the same bytes (same SHA-256; a deleted one does not
 * count) and flags lacks MEDIA_ALLOW_DUPLICATE, nothing is stored: DP_OK with *media the existing
 * media plus "duplicate_of": its id, and job_id "" (no new job, so no new memories).
 * origin (NULL for an upload): when its audio was recorded and what of the recording it keeps. */
struct media_origin;
int media_create(struct db *db, struct blob_store *bs, struct blob_writer *w, uint64_t size, const char *sniff,
                 size_t sniff_len, const char *avatar_id, const char *owner_id, const char *org_id,
                 const char *filename, int flags, const struct media_origin *origin, json_t **media, char job_id[37],
                 char *msg, size_t msglen);

#endif
