/* The blob store: large immutable objects, content-addressed by SHA-256. */
#ifndef DP_BLOB_H
#define DP_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_KEY_LEN 64 /* hex SHA-256 */

struct blob_store;  /* thread-safe; shared by all threads */
struct blob_writer; /* one streaming upload; used by one thread at a time */
struct blob_reader; /* one open blob; used by one thread at a time */

struct blob_ops {
    const char *name;
    int (*open)(struct blob_store **out, const char *url);
    void (*close)(struct blob_store *bs);
    int (*writer_new)(struct blob_store *bs, struct blob_writer **out);
    int (*writer_write)(struct blob_writer *w, const void *p, size_t n);
    /* Makes the blob durable and visible under its SHA-256 (hex in key, NUL-terminated). */
    int (*writer_commit)(struct blob_writer *w, char key[BLOB_KEY_LEN + 1], uint64_t *size);
    void (*writer_abort)(struct blob_writer *w); /* discards; nothing is left behind */
    /* Opens the blob for reading (DP_ERR_NOT_FOUND when absent). */
    int (*reader_open)(struct blob_store *bs, const char *key, struct blob_reader **out, uint64_t *size);
    /* Up to n bytes from off; fewer only at the end; -1 on error. */
    long (*read_at)(struct blob_reader *r, uint64_t off, void *buf, size_t n);
    /* The reader's file descriptor for zero-copy sending (borrowed), or NULL: none. */
    int (*reader_fd)(struct blob_reader *r);
    void (*reader_close)(struct blob_reader *r);
    int (*remove)(struct blob_store *bs, const char *key);
    int (*ping)(struct blob_store *bs);
    /* The blob's own file on this machine, for tools that read files; NULL when the backend
     * keeps none (blob_file_get then hands out a temporary copy). */
    int (*local_path)(struct blob_store *bs, const char *key, char *out, size_t cap);
    /* Removes unfinished writes no live writer owns, last written more than older_than_s
     * seconds ago (0: any age); *removed gets how many. NULL when the backend keeps none. */
    int (*sweep)(struct blob_store *bs, long older_than_s, int *removed);
};

/* Capability bits of blob backends (struct backend.caps). */
#define BLOB_CAP_LOCAL_FILES 1u /* blobs are files of this machine (blob_file_get copies nothing) */
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
/* Reading goes through a reader, so that callers never depend on blobs being local files (an
 * object-store backend is one more file behind struct blob_ops).
 * DP_ERR_NOT_FOUND when absent; DP_ERR_INVALID when key is not 64 lower-case hex digits. */
int blob_reader_open(struct blob_store *bs, const char *key, struct blob_reader **out, uint64_t *size);
/* Up to n bytes from off (fewer only at the end of the blob); -1 on error. */
long blob_read_at(struct blob_reader *r, uint64_t off, void *buf, size_t n);
/* A file descriptor on the blob that the reader keeps owning (for sendfile), or -1. */
int blob_reader_fd(struct blob_reader *r);
void blob_reader_close(struct blob_reader *r);
/* The whole blob, of at most max bytes (DP_ERR_TOO_LARGE beyond), in a new buffer (*out, free). */
int blob_read_all(struct blob_store *bs, const char *key, size_t max, char **out, size_t *len);

/* A file of this machine holding the blob, for subprocess decoders that read files: the blob's
 * own file when the backend keeps local files, else a temporary copy (in $TMPDIR) that
 * blob_file_release removes. */
struct blob_file {
    char path[4096];
    int temporary; /* 1: path is a copy of ours */
};
int blob_file_get(struct blob_store *bs, const char *key, struct blob_file *f);
void blob_file_release(struct blob_file *f);
int blob_remove(struct blob_store *bs, const char *key);
int blob_ping(struct blob_store *bs);
/* Removes the temp files of uploads that are not live (their writer, in any process, is gone:
 * killed mid-stream, crashed) and were last written more than older_than_s seconds ago (0: any
 * age). Opening a store does this with 0; a server repeats it periodically. *removed (may be
 * NULL) gets the count. DP_OK for backends without temp files. */
int blob_sweep(struct blob_store *bs, long older_than_s, int *removed);

#endif
