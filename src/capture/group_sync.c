/* Group commit of device audio: one thread, one syncfs() per round for every writer. */
#include "capture/group_sync.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t started;         /* rounds begun (under mu) */
static int dirty;                /* writes wait for a round not begun yet (under mu) */
static _Atomic uint64_t durable; /* the last round that completed */
static _Atomic uint64_t failed;  /* the last round whose sync failed */
static int dir_fd = -1;

static void *run(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!dirty)
            pthread_cond_wait(&cv, &mu);
        /* Everything written before this point is covered by this round. */
        uint64_t round = ++started;
        dirty = 0;
        pthread_mutex_unlock(&mu);
        if (syncfs(dir_fd)) {
            DP_LOG(LOG_ERROR, "[capture] syncfs failed: audio written since the last sync is not acknowledged");
            atomic_store(&failed, round);
        }
        atomic_store(&durable, round);
    }
    return NULL;
}

int group_sync_start(const char *dir)
{
    if (dir_fd >= 0)
        return DP_OK;
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return DP_ERR_IO;
    pthread_t t;
    if (pthread_create(&t, NULL, run, NULL)) {
        close(dir_fd);
        dir_fd = -1;
        return DP_ERR_IO;
    }
    pthread_detach(t);
    return DP_OK;
}

uint64_t group_sync_ticket(void)
{
    pthread_mutex_lock(&mu);
    uint64_t ticket = started + 1; /* a round that begins after this call */
    dirty = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return ticket;
}

int group_sync_done(uint64_t ticket)
{
    /* A failed round at or after the ticket may have lost its writes. */
    if (atomic_load(&failed) >= ticket)
        return -1;
    return atomic_load(&durable) >= ticket ? 1 : 0;
}
