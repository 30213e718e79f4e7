/* The per-avatar object cache (see avatar_slots.h). */
#include "brain/avatar_slots.h"

#include <string.h>

/* any_rev: match whatever revision. */
static struct slot_entry *find(struct avatar_slots *c, const char *avatar, int64_t rev, int any_rev,
                               const char *variant)
{
    struct slot_entry *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < AVATAR_SLOTS && !found; i++) {
        struct slot_entry *e = c->slot[i];
        if (e && (any_rev || e->rev == rev) && !strcmp(e->avatar, avatar) && !strcmp(e->variant, variant)) {
            e->refs++;
            e->used = ++c->tick;
            found = e;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

struct slot_entry *avatar_slots_find(struct avatar_slots *c, const char *avatar, int64_t rev, const char *variant)
{
    return find(c, avatar, rev, 0, variant);
}

struct slot_entry *avatar_slots_find_any(struct avatar_slots *c, const char *avatar, const char *variant)
{
    return find(c, avatar, 0, 1, variant);
}

static void unref_locked(struct slot_entry *e, struct slot_entry **gone)
{
    *gone = e && --e->refs == 0 ? e : NULL;
}

void avatar_slots_budget(struct avatar_slots *c, size_t max_bytes)
{
    pthread_mutex_lock(&c->lock);
    c->max_bytes = max_bytes;
    pthread_mutex_unlock(&c->lock);
}

/* Lets the least recently used entry other than keep go; 0 when there is none. */
static int evict_one_locked(struct avatar_slots *c, const struct slot_entry *keep, struct slot_entry **gone)
{
    int at = -1;
    for (int i = 0; i < AVATAR_SLOTS; i++)
        if (c->slot[i] && c->slot[i] != keep && (at < 0 || c->slot[i]->used < c->slot[at]->used))
            at = i;
    if (at < 0)
        return 0;
    c->bytes -= c->slot[at]->bytes;
    unref_locked(c->slot[at], gone);
    c->slot[at] = NULL;
    return 1;
}

void avatar_slots_keep(struct avatar_slots *c, struct slot_entry *e)
{
    struct slot_entry *gone, *over[AVATAR_SLOTS] = {0};
    pthread_mutex_lock(&c->lock);
    int at = 0;
    for (int i = 0; i < AVATAR_SLOTS; i++) {
        struct slot_entry *s = c->slot[i];
        if (s && !strcmp(s->avatar, e->avatar) && !strcmp(s->variant, e->variant)) {
            at = i; /* the avatar's older entry makes room */
            break;
        }
        if (!s || (c->slot[at] && s->used < c->slot[at]->used))
            at = i;
    }
    if (c->slot[at])
        c->bytes -= c->slot[at]->bytes;
    unref_locked(c->slot[at], &gone);
    e->refs++;
    e->used = ++c->tick;
    c->slot[at] = e;
    c->bytes += e->bytes;
    for (int i = 0; c->max_bytes && c->bytes > c->max_bytes && i < AVATAR_SLOTS && evict_one_locked(c, e, &over[i]);
         i++)
        ;
    pthread_mutex_unlock(&c->lock);
    if (gone)
        gone->destroy(gone);
    for (int i = 0; i < AVATAR_SLOTS; i++)
        if (over[i])
            over[i]->destroy(over[i]);
}

void avatar_slots_ref(struct avatar_slots *c, struct slot_entry *e)
{
    pthread_mutex_lock(&c->lock);
    e->refs++;
    pthread_mutex_unlock(&c->lock);
}

void avatar_slots_release(struct avatar_slots *c, struct slot_entry *e)
{
    struct slot_entry *gone;
    pthread_mutex_lock(&c->lock);
    unref_locked(e, &gone);
    pthread_mutex_unlock(&c->lock);
    if (gone)
        gone->destroy(gone);
}

void avatar_slots_reset(struct avatar_slots *c)
{
    struct slot_entry *gone[AVATAR_SLOTS];
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < AVATAR_SLOTS; i++) {
        unref_locked(c->slot[i], &gone[i]);
        c->slot[i] = NULL;
    }
    c->bytes = 0;
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < AVATAR_SLOTS; i++)
        if (gone[i])
            gone[i]->destroy(gone[i]);
}
