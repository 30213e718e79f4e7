/* Each user's event log — every event they must not miss, numbered per user — and the wire
 * format events travel in between instances (one publish reaches every recipient). */
#ifndef DP_CHAT_EVENTS_H
#define DP_CHAT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

struct db;
struct cache;

/* The pub/sub channel every instance subscribes to for chat events. */
#define CHAT_EVENTS_CHANNEL "events:chat"
/* Most recipients one event may have (a group's members). */
#define CHAT_FANOUT_MAX 1000
/* Most events one catch-up read returns. */
#define CHAT_EVENTS_PAGE 500

struct chat_recipient {
    char user_id[ID_LEN];
    int64_t seq; /* the event's number in this user's log; 0: live only (typing, presence) */
};

/* Inside the caller's transaction: numbers the event for each recipient (locking their
 * counters in user id order, so concurrent appends cannot deadlock) and stores it once, under
 * chat_id (every recipient is a member of it, or was when it happened). r is sorted by user id;
 * r[i].seq gets the number. data is the event's JSON object, as text. */
int chat_events_append(struct db *db, const char *chat_id, struct chat_recipient *r, int n, const char *type,
                       const char *data);
/* Publishes an event to its recipients on every instance (after the commit). */
int chat_events_publish(struct cache *c, const struct chat_recipient *r, int n, const char *type, const char *data);
/* Sorts recipients by user id and drops duplicates; returns the new count. */
int chat_recipients_sort(struct chat_recipient *r, int n);

/* A user's events with seq > since, oldest first, at most CHAT_EVENTS_PAGE: each a ready text
 * frame {"type","seq","data"} (malloc'd; chat_frames_free). */
struct chat_frames {
    int n;
    char **frame;
    size_t *len;
    int64_t last_seq; /* the last frame's seq (since when none) */
};
int chat_events_since(struct db *db, const char *user_id, int64_t since, struct chat_frames *out);
void chat_frames_free(struct chat_frames *f);
/* The user's latest event number (0 when none). */
int chat_events_last(struct db *db, const char *user_id, int64_t *seq);

/* The frame a client receives: {"type":type,"seq":seq,"data":data} (no seq when 0). Caller frees. */
char *chat_frame_build(const char *type, int64_t seq, const char *data, size_t data_len, size_t *len);

/* The published form: "n\nuser seq\n…type\ndata". encode: caller frees. */
char *chat_fanout_encode(const struct chat_recipient *r, int n, const char *type, const char *data, size_t *len);
/* A decoded message: its recipients are read one by one with chat_fanout_next. Points into the
 * message (which must stay alive). DP_ERR_INVALID for anything malformed. */
struct chat_fanout {
    int n;
    const char *next; /* the next recipient line */
    const char *type; /* NUL-terminated copy in type_buf */
    char type_buf[32];
    const char *data; /* the event's JSON text */
    size_t data_len;
};
int chat_fanout_parse(const char *msg, size_t len, struct chat_fanout *out);
/* The next recipient: 1 with user_id and seq, 0 at the end. */
int chat_fanout_next(struct chat_fanout *f, char user_id[ID_LEN], int64_t *seq);

#endif
