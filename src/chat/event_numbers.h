/* Each user's event numbers (the per-user seq of the events WebSocket): the next ones, handed out
 * inside the write transaction that stores the event, and the last one committed. */
#ifndef DP_CHAT_EVENT_NUMBERS_H
#define DP_CHAT_EVENT_NUMBERS_H
#include <stdint.h>

#include "chat/events.h"

struct db;

/* Recipients numbered (PostgreSQL) or marks stored with one statement each of up to this many. */
#define CHAT_NUMBERS_BATCH 100

/* Inside the transaction that stores the event: r[i].seq = the next number of r[i].user_id (r
 * sorted by user id, no duplicates). *event_id: the id the event gets when the store hands them
 * out one writer at a time (SQLite), else 0 (the insert picks it). Then chat_numbers_stored with
 * the event's id. */
int chat_numbers_take(struct db *db, struct chat_recipient *r, int n, int64_t *event_id);
void chat_numbers_stored(struct db *db, int64_t event_id);
/* The user's last committed number (0 when none). */
int chat_numbers_last(struct db *db, const char *user_id, int64_t *seq);

/* (events.c) The largest number user_id has among the stored events: from their last mark on. */
int chat_events_last_stored(struct db *db, const char *user_id, int64_t *seq);

#endif
