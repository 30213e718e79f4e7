/* The local file system blob backend: <dir>/<aa>/<bb>/<sha256hex>, written via <dir>/tmp.
 *
 * A writer holds an exclusive flock on its temp file from creation until the file is renamed into
 * place or removed, so a sweep (in this or any other process on the data directory: a server and
 * `doppel ingest`) can tell a live upload's file from a dead one's: it removes only files whose
 * lock it can take. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "store/blob_impl.h"

#define TMP_NAME_LEN 32 /* hex digits of a temporary file name */

struct blob_fs {
    struct blob_store base;
    char *dir;    /* root directory, no trailing slash */
    char *tmpdir; /* <dir>/tmp */
};

struct blob_fs_writer {
    struct blob_writer base;
    int fd;                       /* the open temp file, -1 once closed */
    int failed;                   /* a write failed: commit refuses */
    uint64_t size;                /* bytes written so far */
    crypto_hash_sha256_state sha; /* over the bytes written */
    char tmp_path[PATH_MAX];
};

static struct blob_fs *to_fs(struct blob_store *bs)
{
    return (struct blob_fs *)(void *)bs;
}

static struct blob_fs_writer *to_writer(struct blob_writer *w)
{
    return (struct blob_fs_writer *)(void *)w;
}

/* A directory path from url: a plain path, or file:///path (file://localhost/path), with
 * %XX escapes decoded. *dir is malloc'd. */
static int parse_url(const char *url, char **dir)
{
    const char *p = url;
    int is_url = 0;
    if (strncmp(p, "file://", 7) == 0) {
        p += 7;
        if (strncmp(p, "localhost/", 10) == 0)
            p += 9;
        if (*p != '/')
            return DP_ERR_INVALID;
        is_url = 1;
    }
    size_t n = strlen(p);
    if (n == 0 || n >= PATH_MAX - 80) /* room for /aa/bb/<key> */
        return DP_ERR_INVALID;
    char *d = malloc(n + 1), *o = d;
    if (!d)
        return DP_ERR_NOMEM;
    for (; *p; p++) {
        if (is_url && *p == '%') {
            int hi = text_hexval(p[1]), lo = hi < 0 ? -1 : text_hexval(p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                return DP_ERR_INVALID;
            }
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    while (o > d + 1 && o[-1] == '/')
        o--;
    *o = 0;
    *dir = d;
    return DP_OK;
}

/* mkdir -p path with mode 0700 for the directories it creates. */
static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            DP_LOG(LOG_ERROR, "[blob] cannot create %s: %s", tmp, strerror(errno));
            return DP_ERR_IO;
        }
        *p = c;
        if (!c)
            return DP_OK;
    }
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return DP_ERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? DP_OK : DP_ERR_IO;
}

/* Creates dir (whose parent is parent) if missing; a new entry makes the parent fsync'd. */
static int ensure_dir(const char *dir, const char *parent)
{
    if (mkdir(dir, 0700) == 0)
        return fsync_dir(parent);
    return errno == EEXIST ? DP_OK : DP_ERR_IO;
}

/* Removes the temp files no live writer holds (their lock is free) and, when older_than_s > 0,
 * that were last written more than older_than_s seconds ago. Files of writers that died with
 * their process (a crash, a kill) are free: flocks end with the process. */
static int sweep_tmp(struct blob_fs *fs, long older_than_s, int *removed)
{
    *removed = 0;
    DIR *d = opendir(fs->tmpdir);
    if (!d)
        return DP_ERR_IO;
    time_t cutoff = time(NULL) - older_than_s;
    uint64_t bytes = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st, now;
        /* Still the file we locked under that name (a writer may have renamed it meanwhile). */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (older_than_s <= 0 || st.st_mtime < cutoff) &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 && fstatat(dirfd(d), e->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            now.st_ino == st.st_ino && now.st_dev == st.st_dev && unlinkat(dirfd(d), e->d_name, 0) == 0) {
            ++*removed;
            bytes += (uint64_t)st.st_size;
        }
        close(fd);
    }
    closedir(d);
    if (*removed)
        DP_LOG(LOG_INFO, "[blob] removed %d abandoned temp file(s), %llu bytes", *removed, (unsigned long long)bytes);
    return DP_OK;
}

static int fs_sweep(struct blob_store *bs, long older_than_s, int *removed)
{
    return sweep_tmp(to_fs(bs), older_than_s, removed);
}

static int fs_open(struct blob_store **out, const char *url)
{
    if (sodium_init() < 0)
        return DP_ERR_INTERNAL;
    struct blob_fs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return DP_ERR_NOMEM;
    fs->base.ops = &blob_fs_ops;
    int err = parse_url(url, &fs->dir);
    if (err)
        goto out_free;
    size_t n = strlen(fs->dir) + 5;
    fs->tmpdir = malloc(n);
    if (!fs->tmpdir) {
        err = DP_ERR_NOMEM;
        goto out_free;
    }
    snprintf(fs->tmpdir, n, "%s/tmp", fs->dir);
    err = mkdir_p(fs->tmpdir);
    if (err)
        goto out_free;
    /* Nothing of this process is live yet: every temp file whose lock is free is a leftover. */
    int removed;
    sweep_tmp(fs, 0, &removed);
    *out = &fs->base;
    return DP_OK;

out_free:
    free(fs->tmpdir);
    free(fs->dir);
    free(fs);
    return err;
}

static void fs_close(struct blob_store *bs)
{
    struct blob_fs *fs = to_fs(bs);
    free(fs->tmpdir);
    free(fs->dir);
    free(fs);
}

static int fs_writer_new(struct blob_store *bs, struct blob_writer **out)
{
    struct blob_fs *fs = to_fs(bs);
    struct blob_fs_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return DP_ERR_NOMEM;
    w->base.bs = bs;
    w->fd = -1;
    for (int tries = 0; w->fd < 0 && tries < 8; tries++) {
        unsigned char rnd[TMP_NAME_LEN / 2];
        char name[TMP_NAME_LEN + 1];
        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(name, sizeof(name), rnd, sizeof(rnd));
        snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/%s", fs->tmpdir, name);
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd < 0 && errno != EEXIST)
            break;
        if (w->fd < 0)
            continue;
        /* The lock marks the file live for sweeps. A sweep of another process may have taken the
         * brand-new file between open and lock (it locks it first, then unlinks it): then the
         * file has no name any more, and a fresh one is made. */
        struct stat st;
        int rc;
        while ((rc = flock(w->fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
        /* A file system without flock (some FUSE mounts) fails both here and in the sweep, which
         * then removes nothing: the upload goes on unlocked. */
        if (rc != 0)
            DP_LOG(LOG_DEBUG, "[blob] cannot lock %s: %s", w->tmp_path, strerror(errno));
        if (fstat(w->fd, &st) != 0 || st.st_nlink == 0) {
            close(w->fd);
            w->fd = -1;
            errno = EEXIST;
        }
    }
    if (w->fd < 0) {
        DP_LOG(LOG_ERROR, "[blob] cannot create a temp file in %s: %s", fs->tmpdir, strerror(errno));
        free(w);
        return DP_ERR_IO;
    }
    crypto_hash_sha256_init(&w->sha);
    *out = &w->base;
    return DP_OK;
}

static int fs_writer_write(struct blob_writer *bw, const void *p, size_t n)
{
    struct blob_fs_writer *w = to_writer(bw);
    if (w->failed)
        return DP_ERR_IO;
    const char *c = p;
    size_t left = n;
    while (left) {
        ssize_t k = write(w->fd, c, left);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            DP_LOG(LOG_ERROR, "[blob] write failed: %s", strerror(errno));
            w->failed = 1;
            return DP_ERR_IO;
        }
        c += k;
        left -= (size_t)k;
    }
    crypto_hash_sha256_update(&w->sha, p, n);
    w->size += n;
    return DP_OK;
}

static void writer_free(struct blob_fs_writer *w)
{
    unlink(w->tmp_path); /* a no-op after the rename; before the close, while still locked */
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

static void fs_writer_abort(struct blob_writer *bw)
{
    writer_free(to_writer(bw));
}

static void key_path(struct blob_fs *fs, const char *key, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%.2s/%.2s/%s", fs->dir, key, key + 2, key);
}

/* fsync the temp file, then rename it to its content address (or drop it when that blob
 * exists already) and fsync the directory: the blob is visible only once complete. */
static int fs_writer_commit(struct blob_writer *bw, char key[BLOB_KEY_LEN + 1], uint64_t *size)
{
    struct blob_fs_writer *w = to_writer(bw);
    struct blob_fs *fs = to_fs(w->base.bs);
    char d1[PATH_MAX], d2[PATH_MAX], target[PATH_MAX];
    unsigned char digest[crypto_hash_sha256_BYTES];
    int err = DP_ERR_IO;

    if (w->failed)
        goto out_free;
    /* The file stays open (and locked) until it has its final name: a sweep must not take it
     * between the fsync and the rename. After a successful fsync, close reports nothing new. */
    if (fsync(w->fd) != 0) {
        DP_LOG(LOG_ERROR, "[blob] fsync failed: %s", strerror(errno));
        goto out_free;
    }
    crypto_hash_sha256_final(&w->sha, digest);
    sodium_bin2hex(key, BLOB_KEY_LEN + 1, digest, sizeof(digest));
    snprintf(d1, sizeof(d1), "%s/%.2s", fs->dir, key);
    snprintf(d2, sizeof(d2), "%s/%.2s/%.2s", fs->dir, key, key + 2);
    key_path(fs, key, target);
    if ((err = ensure_dir(d1, fs->dir)) != DP_OK || (err = ensure_dir(d2, d1)) != DP_OK) {
        DP_LOG(LOG_ERROR, "[blob] cannot create %s: %s", d2, strerror(errno));
        goto out_free;
    }
    struct stat st;
    if (stat(target, &st) != 0) { /* when it exists: dedup, writer_free drops the temp */
        if (rename(w->tmp_path, target) != 0) {
            DP_LOG(LOG_ERROR, "[blob] rename failed: %s", strerror(errno));
            err = DP_ERR_IO;
            goto out_free;
        }
        err = fsync_dir(d2);
        if (err)
            goto out_free;
    }
    *size = w->size;
    err = DP_OK;
out_free:
    if (err)
        key[0] = 0;
    writer_free(w);
    return err;
}

struct fs_reader {
    struct blob_reader base;
    int fd;
};

static int fs_reader_open(struct blob_store *bs, const char *key, struct blob_reader **out, uint64_t *size)
{
    char path[PATH_MAX];
    key_path(to_fs(bs), key, path);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return errno == ENOENT ? DP_ERR_NOT_FOUND : DP_ERR_IO;
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return DP_ERR_IO;
    }
    struct fs_reader *r = malloc(sizeof *r);
    if (!r) {
        close(f);
        return DP_ERR_NOMEM;
    }
    r->base.bs = bs;
    r->fd = f;
    *out = &r->base;
    *size = (uint64_t)st.st_size;
    return DP_OK;
}

static long fs_read_at(struct blob_reader *br, uint64_t off, void *buf, size_t n)
{
    int fd = ((struct fs_reader *)br)->fd;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long)got;
}

static int fs_reader_fd(struct blob_reader *br)
{
    return ((struct fs_reader *)br)->fd;
}

static void fs_reader_close(struct blob_reader *br)
{
    struct fs_reader *r = (struct fs_reader *)br;
    close(r->fd);
    free(r);
}

/* DP_ERR_NOT_FOUND when absent. Directories stay: removing them would race with a writer. */
static int fs_remove(struct blob_store *bs, const char *key)
{
    char path[PATH_MAX];
    key_path(to_fs(bs), key, path);
    if (unlink(path) != 0)
        return errno == ENOENT ? DP_ERR_NOT_FOUND : DP_ERR_IO;
    return DP_OK;
}

static int fs_local_path(struct blob_store *bs, const char *key, char *out, size_t cap)
{
    char path[PATH_MAX];
    key_path(to_fs(bs), key, path);
    if (access(path, R_OK))
        return DP_ERR_NOT_FOUND;
    if (strlen(path) >= cap)
        return DP_ERR_TOO_LARGE;
    memcpy(out, path, strlen(path) + 1);
    return DP_OK;
}

static int fs_ping(struct blob_store *bs)
{
    return access(to_fs(bs)->tmpdir, W_OK | X_OK) == 0 ? DP_OK : DP_ERR_UNAVAILABLE;
}

const struct blob_ops blob_fs_ops = {
    .name = "fs",
    .open = fs_open,
    .close = fs_close,
    .writer_new = fs_writer_new,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_abort = fs_writer_abort,
    .reader_open = fs_reader_open,
    .read_at = fs_read_at,
    .reader_fd = fs_reader_fd,
    .reader_close = fs_reader_close,
    .remove = fs_remove,
    .ping = fs_ping,
    .local_path = fs_local_path,
    .sweep = fs_sweep,
};
