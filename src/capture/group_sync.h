/* Group commit of device audio: sessions write their chunks without syncing, take a ticket, and
 * one thread makes everything written durable with one syncfs() of the capture directory's file
 * system per round — so a thousand streams cost a few syncs per second, not thousands. */
#ifndef DP_GROUP_SYNC_H
#define DP_GROUP_SYNC_H

#include <stdint.h>

/* Starts the sync thread for the file system holding dir. DP_ERR_IO. */
int group_sync_start(const char *dir);
/* After writing: the round that will make those writes durable (any thread). */
uint64_t group_sync_ticket(void);
/* 1 once the round of ticket is durable, -1 when a sync failed (what it covered may be lost:
 * the writer must not acknowledge it), 0 while waiting. Any thread; a lock-free read. */
int group_sync_done(uint64_t ticket);

#endif
