/* SQLite WAL checkpoints on a thread of their own, one per database file. A commit that leaves
 * CHECKPOINT_PAGES or more in the WAL wakes the file's thread, which copies the WAL into the
 * database with a PASSIVE checkpoint (it waits for no reader or writer) on its own connection;
 * writers go on meanwhile. When the thread falls far behind (CHECKPOINT_FORCE_PAGES), the
 * committing connection checkpoints itself, as SQLite would, so that the WAL cannot grow without
 * bound. Past CHECKPOINT_FILES files in one process, SQLite's own automatic checkpoints stay. */
#include "store/db_sqlite_checkpoint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CHECKPOINT_PAGES 1000        /* SQLite's own automatic checkpoint threshold */
#define CHECKPOINT_STEP 256          /* new pages in the WAL before the next checkpoint */
#define CHECKPOINT_FORCE_PAGES 50000 /* ~200 MB of WAL with 4 KiB pages */
#define CHECKPOINT_BUSY_MS 5000
#define CHECKPOINT_FILES 16

struct checkpointer {
    char *path; /* the database file */
    sqlite3 *h; /* the thread's own connection, opened on the first checkpoint */
    int wanted; /* a commit asked for a checkpoint since the last one began */
    int asked;  /* the WAL's page count when one was last asked for */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* Kept for the process's life (the threads never end: a checkpoint is safe to cut at exit). */
static struct checkpointer files[CHECKPOINT_FILES];
static int nfiles;

static void checkpoint(struct checkpointer *c)
{
    if (!c->h) {
        if (sqlite3_open_v2(c->path, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
            DP_LOG(LOG_WARN, "[db] the checkpoint thread cannot open %s: %s", c->path,
                   c->h ? sqlite3_errmsg(c->h) : "out of memory");
            sqlite3_close(c->h);
            c->h = NULL;
            return;
        }
        sqlite3_busy_timeout(c->h, CHECKPOINT_BUSY_MS);
        /* A connection that has read nothing has not opened the WAL yet: its checkpoint would
         * find none to copy. */
        sqlite3_exec(c->h, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    int rc = sqlite3_wal_checkpoint_v2(c->h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        DP_LOG(LOG_WARN, "[db] checkpoint of %s failed: %s", c->path, sqlite3_errmsg(c->h));
}

static void *checkpoint_main(void *arg)
{
    struct checkpointer *c = arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!c->wanted)
            pthread_cond_wait(&cond, &lock);
        c->wanted = 0;
        pthread_mutex_unlock(&lock);
        checkpoint(c);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

/* After every commit of an attached connection (SQLite's WAL hook), with the WAL's page count. */
static int on_commit(void *arg, sqlite3 *h, const char *db, int pages)
{
    struct checkpointer *c = arg;
    if (pages >= CHECKPOINT_FORCE_PAGES) {
        sqlite3_wal_checkpoint_v2(h, db, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    /* The WAL restarts from its start only once a checkpoint has copied all of it and no reader
     * still uses it: until then every commit finds it past the threshold. Asked at each of them,
     * the thread checkpointed (and fsynced) after nearly every commit (222 fdatasync for 500
     * messages, 24 inline); once every CHECKPOINT_STEP new pages, as often as SQLite did inline. */
    pthread_mutex_lock(&lock);
    if (pages < c->asked)
        c->asked = 0; /* restarted */
    if (pages >= CHECKPOINT_PAGES && (!c->asked || pages >= c->asked + CHECKPOINT_STEP)) {
        c->asked = pages;
        c->wanted = 1;
        pthread_cond_broadcast(&cond); /* one condition for every file's thread */
    }
    pthread_mutex_unlock(&lock);
    return SQLITE_OK;
}

void sqlite_checkpoints_attach(sqlite3 *h, const char *path)
{
    struct checkpointer *c = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfiles && !c; i++)
        if (!strcmp(files[i].path, path))
            c = &files[i];
    if (!c && nfiles < CHECKPOINT_FILES && (files[nfiles].path = strdup(path))) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, checkpoint_main, &files[nfiles]) == 0)
            c = &files[nfiles++];
        else
            free(files[nfiles].path);
        pthread_attr_destroy(&a);
    }
    pthread_mutex_unlock(&lock);
    if (c)
        sqlite3_wal_hook(h, on_commit, c); /* replaces SQLite's automatic checkpoint */
}
