/* Per-user quotas: bytes of media and number of memories across the avatars a user owns. */
#ifndef DP_QUOTA_H
#define DP_QUOTA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* The limits, set once at start (serve, ingest) before any worker runs; 0 = unlimited. */
struct quota_limits {
    int64_t storage_bytes; /* bytes of media (originals; shared blobs counted per media) */
    int64_t memories;      /* memories of every kind */
};
extern struct quota_limits quota_cfg;

/* What the user's avatars (not deleted ones) hold: bytes of media, number of memories. */
int quota_usage(struct db *db, const char *user_id, int64_t *storage, int64_t *memories);

/* {storage_bytes, storage_used, memories, memories_used} of user_id (limits 0 = unlimited);
 * *out is the caller's. */
int quota_json(struct db *db, const char *user_id, json_t **out);

struct cache;

/* quota_json() as compact text (*out malloc'd, the caller frees), from the cache when there (at
 * most QUOTA_CACHE_MS old), else computed and cached. With db NULL (a handler answering on the
 * event loop) a miss is DP_ERR_WOULDBLOCK. */
#define QUOTA_CACHE_MS 5000
int quota_json_cached(struct db *db, struct cache *c, const char *user_id, char **out, size_t *len);
/* Adds "quota": quota_json_cached() to the JSON object text *obj (*len bytes, malloc'd): on DP_OK
 * *obj and *len are the new text; on error *obj is freed and NULL (DP_ERR_WOULDBLOCK as above). */
int quota_attach(struct db *db, struct cache *c, const char *user_id, char **obj, size_t *len);
/* Forgets what quota_check remembered of every owner (tests; a change of the limits). */
void quota_memo_reset(void);
/* Drops the cached usage of user_id after their avatars gained or lost media or memories. */
void quota_forget(struct cache *c, const char *user_id);

/* DP_ERR_QUOTA (with a message in msg) when adding add_bytes of media, or add_memories memories,
 * to avatar_id would take its owner over a limit; DP_OK otherwise (also when the limit is 0).
 * Counted as the caller's transaction sees it; concurrent additions may overshoot a limit by
 * what they add together (a quota is a fair-use bound, not an exact ledger). Far below the limits
 * (under 90 %) the answer comes from what this process counted in the last minute plus what it
 * let in since, so that an insert does not cost a count of the owner's rows. */
int quota_check(struct db *db, const char *avatar_id, int64_t add_bytes, int64_t add_memories, char *msg,
                size_t msglen);

#endif
