/* A small shared cache of per-avatar objects built from its memories (vector indexes, text
 * indexes): a few slots, least recently used out first, each entry valid for one memory
 * revision. Entries are reference counted, so a reader keeps using an entry that was replaced
 * meanwhile; a changed avatar gets a new entry, never a patched one. Thread-safe. */
#ifndef DP_AVATAR_SLOTS_H
#define DP_AVATAR_SLOTS_H

#include <pthread.h>
#include <stdint.h>

#include "core/id.h"

#define AVATAR_SLOTS 32

/* The head of a cached object (its first member). */
struct slot_entry {
    char avatar[ID_LEN];
    char variant[144]; /* what else the object depends on (e.g. the embedding model) */
    int64_t rev;       /* the avatar's memory revision it was built from */
    int refs;
    uint64_t used;
    size_t bytes; /* what it holds, against the cache's budget */
    void (*destroy)(struct slot_entry *e);
};

struct avatar_slots {
    pthread_mutex_t lock;
    struct slot_entry *slot[AVATAR_SLOTS];
    uint64_t tick;
    size_t max_bytes; /* 0: no budget, only the number of slots */
    size_t bytes;     /* of the entries held */
};

#define AVATAR_SLOTS_INIT                                                                                              \
    {                                                                                                                  \
        PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0, 0                                                                        \
    }

/* The entry for (avatar, rev, variant) with a reference taken, or NULL. */
struct slot_entry *avatar_slots_find(struct avatar_slots *c, const char *avatar, int64_t rev, const char *variant);
/* The entry of avatar (and variant) of any revision, with a reference taken, or NULL. */
struct slot_entry *avatar_slots_find_any(struct avatar_slots *c, const char *avatar, const char *variant);
/* Stores e (refs 1: the caller's) in its avatar's slot or the least recently used one; the
 * cache takes its own reference. Beyond the budget (avatar_slots_budget) the least recently used
 * other entries are let go (a reader still holding one keeps it until it releases it). */
void avatar_slots_keep(struct avatar_slots *c, struct slot_entry *e);
/* Takes one more reference to e (which the caller holds): an object built on top of another keeps
 * it alive. */
void avatar_slots_ref(struct avatar_slots *c, struct slot_entry *e);
/* Sets the bytes the entries may hold together (0: no budget). */
void avatar_slots_budget(struct avatar_slots *c, size_t max_bytes);
/* Drops the caller's reference. */
void avatar_slots_release(struct avatar_slots *c, struct slot_entry *e);
/* Empties the cache (entries in use live on until released). */
void avatar_slots_reset(struct avatar_slots *c);

#endif
