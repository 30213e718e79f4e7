/* A recording's durable file pair in the data directory: the PCM16 samples (<id>.pcm) and an
 * index of synced offsets (<id>.idx), so that after a crash the audio is kept up to its last
 * sync and a torn tail is cut at a chunk boundary, never played as noise. Blocking: workers only. */
#ifndef DP_RECFILE_H
#define DP_RECFILE_H

#include <stddef.h>
#include <stdint.h>

struct recfile {
    int data_fd, idx_fd;
    uint64_t bytes; /* durable bytes of audio (the end of the last synced index record) */
    int64_t seq;    /* highest chunk sequence number durable, -1 when none */
};

/* Opens (creating with create) <dir>/<id>.pcm and .idx and recovers them: both are cut back to
 * the last complete index record whose audio is all on disk, and synced, so that what it says
 * is durable is. DP_ERR_NOT_FOUND (no file and
 * !create), DP_ERR_IO. rf is closed with recfile_close. */
int recfile_open(const char *dir, const char *id, int create, struct recfile *rf);

/* Appends n bytes of audio whose last chunk is seq (-1: unnumbered, the previous seq stays),
 * then the index record that vouches for it; with sync, syncs both: when it returns DP_OK the
 * bytes survive a crash. Without, they do once the file system is synced (capture/group_sync.h).
 * DP_ERR_IO (the offset is unchanged; the next open trims). */
int recfile_append(struct recfile *rf, const void *p, size_t n, int64_t seq, int sync);

/* Reads up to n bytes of audio at off: bytes read, -1 on error. */
long recfile_read(const struct recfile *rf, uint64_t off, void *buf, size_t n);

void recfile_close(struct recfile *rf);
/* Removes both files (after the audio went to the blob store). */
void recfile_remove(const char *dir, const char *id);
/* 1 when <dir>/<id>.pcm exists. */
int recfile_exists(const char *dir, const char *id);

#endif
