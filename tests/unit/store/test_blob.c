/* Tests of src/store/blob*: the local file system backend. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support.h"
#include "../test.h"
#include "core/err.h"
#include "core/registry.h"
#include "store/blob.h"
#include "store/blob_impl.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static const char hello_key[] = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
static const char empty_key[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static struct blob_store *open_store(char *dir, size_t n)
{
    snprintf(dir, n, "%s/blobs", test_tmpdir());
    struct blob_store *bs = NULL;
    OK(blob_store_open(&bs, dir));
    CHECK_EQ_STR(blob_store_backend(bs), "fs");
    return bs;
}

static int nfiles;
static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)ftw;
    nfiles += flag == FTW_F;
    return 0;
}

/* Regular files under dir (recursively). */
static int count_files(const char *dir)
{
    nfiles = 0;
    CHECK(nftw(dir, count_one, 16, FTW_PHYS) == 0);
    return nfiles;
}

static int count_tmp(const char *dir)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    return count_files(tmp);
}

/* Reads the whole blob key into a malloc'd buffer. */
static char *read_blob(struct blob_store *bs, const char *key, uint64_t *size)
{
    char *buf;
    size_t len;
    OK(blob_read_all(bs, key, SIZE_MAX, &buf, &len));
    *size = len;
    return buf;
}

/* Whether key can be opened: DP_OK, DP_ERR_NOT_FOUND, DP_ERR_INVALID … */
static int try_open(struct blob_store *bs, const char *key)
{
    struct blob_reader *r = (struct blob_reader *)1;
    int err = blob_reader_open(bs, key, &r, NULL);
    if (!err)
        blob_reader_close(r);
    else
        CHECK(r == NULL);
    return err;
}

TEST(blob_put_and_read)
{
    char dir[512], key[BLOB_KEY_LEN + 1];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    OK(blob_put(bs, "hello", 5, key));
    CHECK_EQ_STR(key, hello_key);
    uint64_t size = 0;
    char *data = read_blob(bs, key, &size);
    CHECK_EQ_INT(size, 5);
    CHECK(memcmp(data, "hello", 5) == 0);
    free(data);
    char path[1024];
    snprintf(path, sizeof(path), "%s/2c/f2/%s", dir, hello_key);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK_EQ_INT(count_tmp(dir), 0);
    OK(blob_ping(bs));
    blob_store_close(bs);
}

TEST(blob_empty_blob)
{
    char dir[512], key[BLOB_KEY_LEN + 1];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    OK(blob_put(bs, NULL, 0, key));
    CHECK_EQ_STR(key, empty_key);
    struct blob_reader *r;
    uint64_t size = 99;
    char c;
    OK(blob_reader_open(bs, key, &r, &size));
    CHECK_EQ_INT(size, 0);
    CHECK_EQ_INT(blob_read_at(r, 0, &c, 1), 0);
    blob_reader_close(r);
    blob_store_close(bs);
}

TEST(blob_streaming_writer)
{
    char dir[512], key[BLOB_KEY_LEN + 1];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    size_t total = 3 * 1024 * 1024 + 17;
    unsigned char *all = malloc(total);
    CHECK(all != NULL);
    for (size_t i = 0; i < total; i++)
        all[i] = (unsigned char)(i * 31 + (i >> 11));
    struct blob_writer *w = NULL;
    OK(blob_writer_new(bs, &w));
    for (size_t off = 0; off < total;) {
        size_t n = total - off < 65521 ? total - off : 65521;
        OK(blob_write(w, all + off, n));
        off += n;
    }
    CHECK_EQ_INT(count_tmp(dir), 1); /* in progress: only the temp file exists */
    uint64_t size = 0;
    OK(blob_commit(w, key, &size));
    CHECK_EQ_INT(size, total);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char want[BLOB_KEY_LEN + 1];
    crypto_hash_sha256(digest, all, total);
    sodium_bin2hex(want, sizeof(want), digest, sizeof(digest));
    CHECK_EQ_STR(key, want);
    uint64_t rsize = 0;
    char *back = read_blob(bs, key, &rsize);
    CHECK_EQ_INT(rsize, total);
    CHECK(memcmp(back, all, total) == 0);
    free(back);
    free(all);
    CHECK_EQ_INT(count_tmp(dir), 0);
    blob_store_close(bs);
}

TEST(blob_dedup)
{
    char dir[512], k1[BLOB_KEY_LEN + 1], k2[BLOB_KEY_LEN + 1];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    OK(blob_put(bs, "same bytes", 10, k1));
    OK(blob_put(bs, "same bytes", 10, k2));
    CHECK_EQ_STR(k1, k2);
    OK(blob_put(bs, "other", 5, k2));
    CHECK(strcmp(k1, k2) != 0);
    CHECK_EQ_INT(count_files(dir), 2);
    CHECK_EQ_INT(count_tmp(dir), 0);
    blob_store_close(bs);
}

TEST(blob_abort_leaves_nothing)
{
    char dir[512];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    struct blob_writer *w = NULL;
    OK(blob_writer_new(bs, &w));
    OK(blob_write(w, "partial", 7));
    CHECK_EQ_INT(count_tmp(dir), 1);
    blob_abort(w);
    CHECK_EQ_INT(count_files(dir), 0);
    blob_abort(NULL);
    /* a half-written blob is never visible under its key */
    OK(blob_writer_new(bs, &w));
    OK(blob_write(w, "hel", 3));
    CHECK_EQ_INT(try_open(bs, hello_key), DP_ERR_NOT_FOUND);
    OK(blob_write(w, "lo", 2));
    CHECK_EQ_INT(try_open(bs, hello_key), DP_ERR_NOT_FOUND);
    char key[BLOB_KEY_LEN + 1];
    OK(blob_commit(w, key, NULL));
    CHECK_EQ_STR(key, hello_key);
    OK(try_open(bs, hello_key));
    blob_store_close(bs);
}

TEST(blob_invalid_keys)
{
    char dir[512];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    static const char *bad[] = {
        "",
        "../../../../etc/passwd",
        "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98244",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982/",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",
        "2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(try_open(bs, bad[i]), DP_ERR_INVALID);
        CHECK_EQ_INT(blob_remove(bs, bad[i]), DP_ERR_INVALID);
    }
    CHECK_EQ_INT(try_open(bs, NULL), DP_ERR_INVALID);
    blob_store_close(bs);
}

TEST(blob_remove_and_not_found)
{
    char dir[512], key[BLOB_KEY_LEN + 1];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    CHECK_EQ_INT(try_open(bs, hello_key), DP_ERR_NOT_FOUND);
    CHECK_EQ_INT(blob_remove(bs, hello_key), DP_ERR_NOT_FOUND);
    OK(blob_put(bs, "hello", 5, key));
    OK(blob_remove(bs, key));
    CHECK_EQ_INT(try_open(bs, key), DP_ERR_NOT_FOUND);
    OK(blob_put(bs, "hello", 5, key)); /* and back again */
    OK(try_open(bs, key));
    blob_store_close(bs);
}

TEST(blob_url_forms)
{
    const char *root = test_tmpdir();
    char url[1024], key[BLOB_KEY_LEN + 1];
    struct blob_store *bs = NULL;
    snprintf(url, sizeof(url), "file://%s/a%%20b/", root);
    OK(blob_store_open(&bs, url));
    OK(blob_put(bs, "hello", 5, key));
    blob_store_close(bs);
    snprintf(url, sizeof(url), "%s/a b/2c/f2/%s", root, hello_key);
    struct stat st;
    CHECK(stat(url, &st) == 0);
    snprintf(url, sizeof(url), "%s/a b//", root); /* trailing slashes, same store */
    OK(blob_store_open(&bs, url));
    OK(try_open(bs, hello_key));
    blob_store_close(bs);
    CHECK_EQ_INT(blob_store_open(&bs, ""), DP_ERR_INVALID);
    CHECK_EQ_INT(blob_store_open(&bs, "s3://bucket/x"), DP_ERR_INVALID);
    CHECK_EQ_INT(blob_store_open(&bs, "file://relative/x"), DP_ERR_INVALID);
    CHECK_EQ_INT(blob_store_open(&bs, "file:///bad%zzescape"), DP_ERR_INVALID);
    CHECK(bs == NULL);
}

/* Creates dir/tmp/name with its modification time age_s seconds ago. */
static void plant_tmp(const char *dir, const char *name, long age_s)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tmp/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "left over", 9) == 9);
    close(fd);
    struct timespec t[2] = {{.tv_sec = time(NULL) - age_s}, {.tv_sec = time(NULL) - age_s}};
    CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

static int tmp_exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tmp/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The temp file of a live writer (its only one in dir/tmp, the others named in skip). */
static void live_tmp_name(const char *dir, const char *skip1, const char *skip2, char out[256])
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    DIR *d = opendir(tmp);
    CHECK(d != NULL);
    struct dirent *e;
    out[0] = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strcmp(e->d_name, skip1) && strcmp(e->d_name, skip2))
            snprintf(out, 256, "%s", e->d_name);
    closedir(d);
    CHECK(out[0] != 0);
}

TEST(blob_open_sweeps_every_abandoned_temp_file_but_live_ones)
{
    /* An upload killed mid-stream (its process gone) leaves a temp file of any age; opening the
     * store removes them all, except those a live writer holds, in this process or another. */
    char dir[512], live[256];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    struct blob_writer *w = NULL;
    OK(blob_writer_new(bs, &w));
    OK(blob_write(w, "still uploading", 15));
    plant_tmp(dir, "0123456789abcdef0123456789abcdef", 3 * 86400);
    plant_tmp(dir, "fedcba9876543210fedcba9876543210", 0); /* fresh, but nobody's */
    live_tmp_name(dir, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", live);
    plant_tmp(dir, "not-hex-at-all", 60);
    CHECK_EQ_INT(count_tmp(dir), 4);
    struct blob_store *other = NULL; /* another process opening the same data directory */
    pid_t kid = fork();
    CHECK(kid >= 0);
    if (kid == 0) {
        if (blob_store_open(&other, dir) != DP_OK)
            _exit(1);
        blob_store_close(other);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ_INT(count_tmp(dir), 1);
    CHECK(tmp_exists(dir, live));
    /* The same from this process (a second store on the directory, e.g. doppel ingest's). */
    plant_tmp(dir, "abandoned", 0);
    OK(blob_store_open(&other, dir));
    CHECK_EQ_INT(count_tmp(dir), 1);
    blob_store_close(other);
    char key[BLOB_KEY_LEN + 1];
    OK(blob_commit(w, key, NULL)); /* the live upload was not disturbed */
    CHECK_EQ_INT(count_tmp(dir), 0);
    blob_store_close(bs);
}

TEST(blob_sweep_removes_idle_unowned_temp_files)
{
    char dir[512], live[256];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    struct blob_writer *w = NULL;
    OK(blob_writer_new(bs, &w));
    OK(blob_write(w, "slow upload", 11));
    plant_tmp(dir, "old", 600);
    plant_tmp(dir, "young", 5);
    live_tmp_name(dir, "old", "young", live);
    /* The live writer's file looks idle too: its lock keeps it. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/tmp/%s", dir, live);
    struct timespec t[2] = {{.tv_sec = time(NULL) - 600}, {.tv_sec = time(NULL) - 600}};
    CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
    int removed = -1;
    OK(blob_sweep(bs, 60, &removed));
    CHECK_EQ_INT(removed, 1);
    CHECK(!tmp_exists(dir, "old"));
    CHECK(tmp_exists(dir, "young"));
    CHECK(tmp_exists(dir, live));
    OK(blob_sweep(bs, 0, &removed)); /* any age */
    CHECK_EQ_INT(removed, 1);
    CHECK(!tmp_exists(dir, "young"));
    OK(blob_write(w, "!", 1));
    char key[BLOB_KEY_LEN + 1];
    OK(blob_commit(w, key, NULL));
    CHECK_EQ_INT(count_tmp(dir), 0);
    OK(blob_sweep(bs, 0, NULL));
    blob_store_close(bs);
}

TEST(blob_concurrent_same_content)
{
    char dir[512];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        CHECK(kids[k] >= 0);
        if (kids[k] == 0) {
            char key[BLOB_KEY_LEN + 1];
            for (int i = 0; i < 50; i++)
                if (blob_put(bs, "shared content", 14, key) != DP_OK)
                    _exit(1);
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st = 0;
        CHECK(waitpid(kids[k], &st, 0) == kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_EQ_INT(count_files(dir), 1);
    CHECK_EQ_INT(count_tmp(dir), 0);
    blob_store_close(bs);
}

TEST(blob_reader_ranges_and_files)
{
    char dir[512], key[BLOB_KEY_LEN + 1], buf[16];
    struct blob_store *bs = open_store(dir, sizeof(dir));
    OK(blob_put(bs, "0123456789", 10, key));
    struct blob_reader *r;
    uint64_t size;
    OK(blob_reader_open(bs, key, &r, &size));
    CHECK_EQ_INT(size, 10);
    CHECK_EQ_INT(blob_read_at(r, 3, buf, 4), 4);
    CHECK(memcmp(buf, "3456", 4) == 0);
    CHECK_EQ_INT(blob_read_at(r, 8, buf, 16), 2); /* short only at the end */
    CHECK_EQ_INT(blob_read_at(r, 10, buf, 16), 0);
    CHECK(blob_reader_fd(r) >= 0); /* the file system backend offers zero-copy sending */
    blob_reader_close(r);
    char *all;
    size_t len;
    CHECK_EQ_INT(blob_read_all(bs, key, 9, &all, &len), DP_ERR_TOO_LARGE);
    /* A file backend hands out the blob's own file: nothing copied, nothing to remove. */
    struct blob_file f;
    OK(blob_file_get(bs, key, &f));
    CHECK_EQ_INT(f.temporary, 0);
    CHECK(strstr(f.path, dir) == f.path);
    blob_file_release(&f);
    CHECK_EQ_INT(try_open(bs, key), DP_OK); /* releasing the blob's own file keeps it */
    CHECK_EQ_INT(blob_file_get(bs, hello_key, &f), DP_ERR_NOT_FOUND);
    blob_store_close(bs);
}

/* ---- a backend that keeps blobs in memory, as an object store would keep them elsewhere: no
 * file descriptors, no local paths. Readers and subprocess files must still work. ---- */
struct mem_store {
    struct blob_store base;
    char key[BLOB_KEY_LEN + 1];
    char data[64];
    size_t len;
};
struct mem_reader {
    struct blob_reader base;
};

static struct mem_store mem_one;

static int mem_open(struct blob_store **out, const char *url)
{
    (void)url;
    extern const struct blob_ops mem_blob_ops;
    memset(&mem_one, 0, sizeof mem_one);
    mem_one.base.ops = &mem_blob_ops;
    *out = &mem_one.base;
    return DP_OK;
}

static void mem_close(struct blob_store *bs)
{
    (void)bs;
}

static int mem_reader_open(struct blob_store *bs, const char *key, struct blob_reader **out, uint64_t *size)
{
    struct mem_store *m = (struct mem_store *)bs;
    if (strcmp(key, m->key))
        return DP_ERR_NOT_FOUND;
    struct mem_reader *r = malloc(sizeof *r);
    r->base.bs = bs;
    *out = &r->base;
    *size = m->len;
    return DP_OK;
}

static long mem_read_at(struct blob_reader *r, uint64_t off, void *buf, size_t n)
{
    struct mem_store *m = (struct mem_store *)r->bs;
    if (off >= m->len)
        return 0;
    if (n > m->len - off)
        n = m->len - (size_t)off;
    memcpy(buf, m->data + off, n);
    return (long)n;
}

static void mem_reader_close(struct blob_reader *r)
{
    free(r);
}

const struct blob_ops mem_blob_ops = {
    .name = "mem",
    .open = mem_open,
    .close = mem_close,
    .reader_open = mem_reader_open,
    .read_at = mem_read_at,
    .reader_close = mem_reader_close,
};

TEST(blob_backend_without_local_files)
{
    static const char *const schemes[] = {"mem://", NULL};
    static const struct backend row = {"mem", schemes, 0, &mem_blob_ops};
    OK(registry_add(blob_registry(), &row));
    struct blob_store *bs;
    OK(blob_store_open(&bs, "mem://x"));
    CHECK_EQ_STR(blob_store_backend(bs), "mem");
    snprintf(mem_one.key, sizeof mem_one.key, "%s", hello_key);
    memcpy(mem_one.data, "hello", 5);
    mem_one.len = 5;
    struct blob_reader *r;
    OK(blob_reader_open(bs, hello_key, &r, NULL));
    CHECK_EQ_INT(blob_reader_fd(r), -1);
    blob_reader_close(r);
    /* A subprocess still gets a file: a temporary copy, removed on release. */
    struct blob_file f;
    OK(blob_file_get(bs, hello_key, &f));
    CHECK_EQ_INT(f.temporary, 1);
    char back[8] = {0};
    int fd = open(f.path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ_INT(read(fd, back, sizeof back), 5);
    close(fd);
    CHECK(memcmp(back, "hello", 5) == 0);
    char path[sizeof f.path];
    snprintf(path, sizeof path, "%s", f.path);
    blob_file_release(&f);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_INT(blob_file_get(bs, empty_key, &f), DP_ERR_NOT_FOUND);
    blob_store_close(bs);
}
