/* The blob store registry and the backend-independent wrappers. */
#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fault.h"
#include "core/registry.h"
#include "core/log.h"
#include "store/blob_impl.h"

int blob_key_valid(const char *key)
{
    if (!key)
        return 0;
    for (int i = 0; i < BLOB_KEY_LEN; i++)
        if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
            return 0;
    return key[BLOB_KEY_LEN] == 0;
}

static const char *const fs_schemes[] = {"file://", NULL};
static const struct backend blob_fs_row = {"fs", fs_schemes, BLOB_CAP_LOCAL_FILES, &blob_fs_ops};

/* The blob backends; a plain path is the local file system. */
static struct registry blob_backends = {"blob", {&blob_fs_row}, 1, 0};

struct registry *blob_registry(void)
{
    return &blob_backends;
}

static const struct blob_ops *blob_ops_for_url(const char *url)
{
    const struct backend *b = registry_for_url(&blob_backends, url);
    return b ? b->ops : NULL;
}

int blob_store_open(struct blob_store **out, const char *url)
{
    *out = NULL;
    if (!url || !*url)
        return DP_ERR_INVALID;
    const struct blob_ops *ops = blob_ops_for_url(url);
    if (!ops) {
        DP_LOG(LOG_ERROR, "[blob] unsupported blob store url scheme: %.*s", (int)(strstr(url, "://") - url), url);
        return DP_ERR_INVALID;
    }
    return ops->open(out, url);
}

void blob_store_close(struct blob_store *bs)
{
    if (bs)
        bs->ops->close(bs);
}

const char *blob_store_backend(const struct blob_store *bs)
{
    return bs->ops->name;
}

int blob_writer_new(struct blob_store *bs, struct blob_writer **out)
{
    *out = NULL;
    return bs->ops->writer_new(bs, out);
}

int blob_write(struct blob_writer *w, const void *p, size_t n)
{
    if (!p && n)
        return DP_ERR_INVALID;
    if (fault_hit(FAULT_BLOB_WRITE))
        return DP_ERR_IO;
    return w->bs->ops->writer_write(w, p, n);
}

int blob_commit(struct blob_writer *w, char key[BLOB_KEY_LEN + 1], uint64_t *size)
{
    uint64_t ignored;
    if (fault_hit(FAULT_BLOB_WRITE)) {
        /* A commit that fails discards the write, as the backends' own failures do. */
        blob_abort(w);
        return DP_ERR_IO;
    }
    return w->bs->ops->writer_commit(w, key, size ? size : &ignored);
}

void blob_abort(struct blob_writer *w)
{
    if (w)
        w->bs->ops->writer_abort(w);
}

int blob_put(struct blob_store *bs, const void *p, size_t n, char key[BLOB_KEY_LEN + 1])
{
    struct blob_writer *w;
    int err = blob_writer_new(bs, &w);
    if (err)
        return err;
    err = blob_write(w, p, n);
    if (err) {
        blob_abort(w);
        return err;
    }
    return blob_commit(w, key, NULL);
}

int blob_reader_open(struct blob_store *bs, const char *key, struct blob_reader **out, uint64_t *size)
{
    *out = NULL;
    if (!blob_key_valid(key))
        return DP_ERR_INVALID;
    uint64_t ignored;
    return bs->ops->reader_open(bs, key, out, size ? size : &ignored);
}

long blob_read_at(struct blob_reader *r, uint64_t off, void *buf, size_t n)
{
    return r->bs->ops->read_at(r, off, buf, n);
}

int blob_reader_fd(struct blob_reader *r)
{
    return r->bs->ops->reader_fd ? r->bs->ops->reader_fd(r) : -1;
}

void blob_reader_close(struct blob_reader *r)
{
    if (r)
        r->bs->ops->reader_close(r);
}

int blob_read_all(struct blob_store *bs, const char *key, size_t max, char **out, size_t *len)
{
    struct blob_reader *r;
    uint64_t size;
    *out = NULL;
    *len = 0;
    int err = blob_reader_open(bs, key, &r, &size);
    if (err)
        return err;
    if (size > max) {
        blob_reader_close(r);
        return DP_ERR_TOO_LARGE;
    }
    char *b = malloc(size ? (size_t)size : 1);
    long got = b ? blob_read_at(r, 0, b, (size_t)size) : 0;
    blob_reader_close(r);
    if (!b)
        return DP_ERR_NOMEM;
    if (got < 0 || (uint64_t)got != size) {
        free(b);
        return DP_ERR_IO;
    }
    *out = b;
    *len = (size_t)got;
    return DP_OK;
}

/* Copies the blob into a new temporary file named in f->path. */
static int copy_to_temp(struct blob_store *bs, const char *key, struct blob_file *f)
{
    struct blob_reader *r;
    uint64_t size;
    int err = blob_reader_open(bs, key, &r, &size);
    if (err)
        return err;
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/doppel-blob-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(f->path, O_CLOEXEC);
    if (fd < 0) {
        blob_reader_close(r);
        return DP_ERR_IO;
    }
    char buf[65536];
    uint64_t off = 0;
    while (!err && off < size) {
        long n = blob_read_at(r, off, buf, sizeof buf);
        if (n <= 0) {
            err = DP_ERR_IO;
            break;
        }
        for (long w = 0; !err && w < n;) {
            ssize_t k = write(fd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                err = DP_ERR_IO;
            else
                w += k;
        }
        off += (uint64_t)n;
    }
    blob_reader_close(r);
    if (close(fd) != 0 && !err)
        err = DP_ERR_IO;
    if (err)
        unlink(f->path);
    return err;
}

int blob_file_get(struct blob_store *bs, const char *key, struct blob_file *f)
{
    f->path[0] = 0;
    f->temporary = 0;
    if (!blob_key_valid(key))
        return DP_ERR_INVALID;
    if (bs->ops->local_path)
        return bs->ops->local_path(bs, key, f->path, sizeof f->path);
    int err = copy_to_temp(bs, key, f);
    if (err)
        f->path[0] = 0;
    else
        f->temporary = 1;
    return err;
}

void blob_file_release(struct blob_file *f)
{
    if (f->temporary && f->path[0])
        unlink(f->path);
    f->path[0] = 0;
    f->temporary = 0;
}

int blob_remove(struct blob_store *bs, const char *key)
{
    if (!blob_key_valid(key))
        return DP_ERR_INVALID;
    return bs->ops->remove(bs, key);
}

int blob_ping(struct blob_store *bs)
{
    return bs->ops->ping(bs);
}

int blob_sweep(struct blob_store *bs, long older_than_s, int *removed)
{
    int ignored;
    if (!removed)
        removed = &ignored;
    *removed = 0;
    return bs->ops->sweep ? bs->ops->sweep(bs, older_than_s, removed) : DP_OK;
}
