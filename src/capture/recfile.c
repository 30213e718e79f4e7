/* A recording's durable file pair: append, group sync, recovery after a crash. */
#include "capture/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fd_io.h"

#define IDX_MAGIC UINT64_C(0x9e3779b97f4a7c15)

/* One index record: the audio is durable up to end, its last chunk numbered seq + 1 (0: none).
 * check guards against a torn record (a crash mid-write). */
struct idx_rec {
    uint64_t seq1, end, check;
};

static uint64_t rec_check(uint64_t seq1, uint64_t end)
{
    return (seq1 * 31 + end) ^ IDX_MAGIC;
}

static void path_of(char *out, size_t n, const char *dir, const char *id, const char *ext)
{
    snprintf(out, n, "%s/%s.%s", dir, id, ext);
}

/* Cuts both files back to the last index record whose audio is all there. */
static int recover(struct recfile *rf)
{
    struct stat ds, is;
    if (fstat(rf->data_fd, &ds) || fstat(rf->idx_fd, &is))
        return DP_ERR_IO;
    uint64_t nrec = (uint64_t)is.st_size / sizeof(struct idx_rec);
    rf->bytes = 0;
    rf->seq = -1;
    while (nrec > 0) {
        struct idx_rec r;
        off_t at = (off_t)((nrec - 1) * sizeof r);
        if (pread(rf->idx_fd, &r, sizeof r, at) != (ssize_t)sizeof r)
            return DP_ERR_IO;
        if (r.check == rec_check(r.seq1, r.end) && r.end <= (uint64_t)ds.st_size) {
            rf->bytes = r.end;
            rf->seq = (int64_t)r.seq1 - 1;
            break;
        }
        nrec--;
    }
    /* Nothing past the last good record was acknowledged: it goes. */
    if ((uint64_t)ds.st_size != rf->bytes && ftruncate(rf->data_fd, (off_t)rf->bytes))
        return DP_ERR_IO;
    if ((uint64_t)is.st_size != nrec * sizeof(struct idx_rec) &&
        ftruncate(rf->idx_fd, (off_t)(nrec * sizeof(struct idx_rec))))
        return DP_ERR_IO;
    if (lseek(rf->data_fd, 0, SEEK_END) < 0 || lseek(rf->idx_fd, 0, SEEK_END) < 0)
        return DP_ERR_IO;
    return DP_OK;
}

int recfile_open(const char *dir, const char *id, int create, struct recfile *rf)
{
    char p[PATH_MAX];
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    rf->data_fd = rf->idx_fd = -1;
    path_of(p, sizeof p, dir, id, "pcm");
    if ((rf->data_fd = open(p, flags, 0600)) < 0)
        return errno == ENOENT ? DP_ERR_NOT_FOUND : DP_ERR_IO;
    path_of(p, sizeof p, dir, id, "idx");
    if ((rf->idx_fd = open(p, flags | O_CREAT, 0600)) < 0) {
        recfile_close(rf);
        return DP_ERR_IO;
    }
    int err = recover(rf);
    if (!err && (fdatasync(rf->data_fd) || fdatasync(rf->idx_fd)))
        err = DP_ERR_IO;
    if (err) {
        recfile_close(rf);
        return err;
    }
    if (create) { /* the new names themselves must survive a crash */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return DP_OK;
}

int recfile_append(struct recfile *rf, const void *p, size_t n, int64_t seq, int sync)
{
    int64_t next_seq = seq >= 0 ? seq : rf->seq;
    struct idx_rec r = {(uint64_t)(next_seq + 1), rf->bytes + n, 0};
    r.check = rec_check(r.seq1, r.end);
    /* Audio first, then the record that vouches for it: a crash between the two leaves audio no
     * record covers, which recovery cuts. */
    if ((n && (fd_write_all(rf->data_fd, p, n) || (sync && fdatasync(rf->data_fd)))) ||
        fd_write_all(rf->idx_fd, &r, sizeof r) || (sync && fdatasync(rf->idx_fd))) {
        /* Undo what may be half there so that the next append starts from the durable end. */
        if (ftruncate(rf->data_fd, (off_t)rf->bytes) == 0)
            lseek(rf->data_fd, 0, SEEK_END);
        recover(rf);
        return DP_ERR_IO;
    }
    rf->bytes = r.end;
    rf->seq = next_seq;
    return DP_OK;
}

long recfile_read(const struct recfile *rf, uint64_t off, void *buf, size_t n)
{
    if (off >= rf->bytes)
        return 0;
    if (n > rf->bytes - off)
        n = (size_t)(rf->bytes - off);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(rf->data_fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (long)got;
        got += (size_t)r;
    }
    return (long)got;
}

void recfile_close(struct recfile *rf)
{
    if (rf->data_fd >= 0)
        close(rf->data_fd);
    if (rf->idx_fd >= 0)
        close(rf->idx_fd);
    rf->data_fd = rf->idx_fd = -1;
}

void recfile_remove(const char *dir, const char *id)
{
    char p[PATH_MAX];
    path_of(p, sizeof p, dir, id, "pcm");
    unlink(p);
    path_of(p, sizeof p, dir, id, "idx");
    unlink(p);
}

int recfile_exists(const char *dir, const char *id)
{
    char p[PATH_MAX];
    path_of(p, sizeof p, dir, id, "pcm");
    return access(p, F_OK) == 0;
}
