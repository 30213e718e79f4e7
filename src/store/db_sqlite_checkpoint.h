/* SQLite WAL checkpoints on a thread of their own, not inside the commit that crosses the WAL's
 * size threshold (that commit paid for copying the WAL into the database and its fsync: a stall
 * of several ms every ~1000 pages, the tail of every write latency). */
#ifndef DP_DB_SQLITE_CHECKPOINT_H
#define DP_DB_SQLITE_CHECKPOINT_H
#include <sqlite3.h>

/* Hands h's checkpoints to the checkpoint thread of the database file at path (started by the
 * file's first connection). */
void sqlite_checkpoints_attach(sqlite3 *h, const char *path);

#endif
