/* The blob store: large immutable objects, content-addressed by SHA-256. */
#ifndef DP_BLOB_H
#define DP_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_KEY_LEN 64 /* hex SHA-256 */

struct blob_store;  /* thread-safe; shared by all threads */
struct blob_writer; /* one streaming upload; used by one thread at a time */

struct blob_ops {
    const char *name;
    int (*open)(struct blob_store **out, const char *url);
    void (*close)(struct blob_store *bs);
    int (*writer_new)(struct blob_store *bs, struct blob_writer **out);
    int (*writer_write)(struct blob_writer *w, const void *p, size_t n);
    /* Makes the blob durable and visible under its SHA-256 (hex in key, NUL-terminated). */
    int (*writer_commit)(struct blob_writer *w, char key[BLOB_KEY_LEN + 1], uint64_t *size);
    void (*writer_abort)(struct blob_writer *w); /* discards; nothing is left behind */
    /* Opens the blob for reading: a file descriptor the caller closes. */
    int (*open_read)(struct blob_store *bs, const char *key, int *fd, uint64_t *size);
    int (*remove)(struct blob_store *bs, const char *key);
    int (*ping)(struct blob_store *bs);
    /* A file system path of the blob, for tools that read files (NULL when not file-backed). */
    int (*local_path)(struct blob_store *bs, const char *key, char *out, size_t cap);
    /* Removes unfinished writes no live writer owns, last written more than older_than_s
     * seconds ago (0: any age); *removed gets how many. NULL when the backend keeps none. */
    int (*sweep)(struct blob_store *bs, long older_than_s, int *removed);
};

/* Capability bits of blob backends (struct backend.caps). */
#define BLOB_CAP_LOCAL_FILES 1u /* blobs are files of this machine (blob_local_path works) */
struct registry;
/* The blob backends (core/registry.h): fs (plain paths, file://). */
struct registry *blob_registry(void);

/* url: a directory path or file:///path (the local file system backend). */
int blob_store_open(struct blob_store **out, const char *url);
void blob_store_close(struct blob_store *bs);
const char *blob_store_backend(const struct blob_store *bs);
/* A streaming writer: write any number of chunks, then commit or abort (which free it). */
int blob_writer_new(struct blob_store *bs, struct blob_writer **out);
int blob_write(struct blob_writer *w, const void *p, size_t n);
int blob_commit(struct blob_writer *w, char key[BLOB_KEY_LEN + 1], uint64_t *size);
void blob_abort(struct blob_writer *w);
/* Convenience: stores a whole buffer. */
int blob_put(struct blob_store *bs, const void *p, size_t n, char key[BLOB_KEY_LEN + 1]);
/* DP_ERR_NOT_FOUND when absent; DP_ERR_INVALID when key is not 64 lower-case hex digits. */
int blob_open_read(struct blob_store *bs, const char *key, int *fd, uint64_t *size);
int blob_remove(struct blob_store *bs, const char *key);
/* The path of an existing blob on the local file system, for subprocess decoders.
 * DP_ERR_UNSUPPORTED when the backend is not file-backed; DP_ERR_NOT_FOUND when absent. */
int blob_local_path(struct blob_store *bs, const char *key, char *out, size_t cap);
int blob_ping(struct blob_store *bs);
/* Removes the temp files of uploads that are not live (their writer, in any process, is gone:
 * killed mid-stream, crashed) and were last written more than older_than_s seconds ago (0: any
 * age). Opening a store does this with 0; a server repeats it periodically. *removed (may be
 * NULL) gets the count. DP_OK for backends without temp files. */
int blob_sweep(struct blob_store *bs, long older_than_s, int *removed);

#endif
