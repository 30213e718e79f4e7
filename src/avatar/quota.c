/* Per-user quotas: usage is summed from the rows themselves (no counter to drift), per owner. */
#include "avatar/quota.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "store/cache.h"
#include "store/db.h"

struct quota_limits quota_cfg = {(int64_t)10 << 30, 1000000};

/* usage of the owner of the avatars matched by `owner_expr = ?` */
static int usage_where(struct db *db, const char *match, const char *arg, int64_t *storage, int64_t *memories)
{
    char sql[512];
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(arg), DB_TEXT(arg)};
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COALESCE(SUM(m.size), 0) FROM media m JOIN avatars a ON a.id = m.avatar_id "
             "WHERE a.deleted_at IS NULL AND a.owner_id = %s), "
             "(SELECT COUNT(*) FROM memories mm JOIN avatars a ON a.id = mm.avatar_id "
             "WHERE a.deleted_at IS NULL AND a.owner_id = %s)",
             match, match);
    int err = db_query(db, sql, p, 2, &r);
    if (err)
        return err;
    *storage = r->nrows ? db_rows_int(r, 0, 0) : 0;
    *memories = r->nrows ? db_rows_int(r, 0, 1) : 0;
    db_rows_free(r);
    return DP_OK;
}

int quota_usage(struct db *db, const char *user_id, int64_t *storage, int64_t *memories)
{
    return usage_where(db, "?", user_id, storage, memories);
}

int quota_json(struct db *db, const char *user_id, json_t **out)
{
    int64_t s, m;
    int err = quota_usage(db, user_id, &s, &m);
    if (err)
        return err;
    *out = json_pack("{s:I,s:I,s:I,s:I}", "storage_bytes", (json_int_t)quota_cfg.storage_bytes, "storage_used",
                     (json_int_t)s, "memories", (json_int_t)quota_cfg.memories, "memories_used", (json_int_t)m);
    return *out ? DP_OK : DP_ERR_NOMEM;
}

/* What this process last counted per owner, plus what it let in since: far below the limits, a
 * check is answered from it without counting every row of the owner (an insert must not cost
 * O(memories)); near a limit, or after QUOTA_MEMO_MS, the rows are counted again. Deletions leave
 * the memo high, which only makes a recount come sooner. Other processes' additions are seen at
 * the next recount: what they add meanwhile is within the fair-use slack. */
#define QUOTA_MEMO_SLOTS 256
#define QUOTA_MEMO_MS 60000
#define QUOTA_MEMO_SHARE 0.9 /* the memo answers while usage stays under 90 % of a limit */
static struct quota_memo {
    char owner[ID_LEN];
    int64_t storage, memories, at_ms;
} memo[QUOTA_MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static struct quota_memo *memo_slot(const char *owner)
{
    return &memo[hash_fnv1a(owner, strlen(owner)) % QUOTA_MEMO_SLOTS];
}

static int under(int64_t used, int64_t add, int64_t limit, double share)
{
    return limit <= 0 || add <= 0 || (double)(used + add) <= (double)limit * share;
}

/* 1 (and the memo grown by the addition) when the memo of owner answers "within the limits". */
static int memo_allows(const char *owner, int64_t add_bytes, int64_t add_memories)
{
    int ok = 0;
    int64_t now = (int64_t)(time_mono() * 1000.0);
    pthread_mutex_lock(&memo_lock);
    struct quota_memo *m = memo_slot(owner);
    if (!strcmp(m->owner, owner) && now - m->at_ms < QUOTA_MEMO_MS &&
        under(m->storage, add_bytes, quota_cfg.storage_bytes, QUOTA_MEMO_SHARE) &&
        under(m->memories, add_memories, quota_cfg.memories, QUOTA_MEMO_SHARE)) {
        m->storage += add_bytes;
        m->memories += add_memories;
        ok = 1;
    }
    pthread_mutex_unlock(&memo_lock);
    return ok;
}

static void memo_store(const char *owner, int64_t storage, int64_t memories)
{
    pthread_mutex_lock(&memo_lock);
    struct quota_memo *m = memo_slot(owner);
    snprintf(m->owner, sizeof m->owner, "%s", owner);
    m->storage = storage;
    m->memories = memories;
    m->at_ms = (int64_t)(time_mono() * 1000.0);
    pthread_mutex_unlock(&memo_lock);
}

void quota_memo_reset(void)
{
    pthread_mutex_lock(&memo_lock);
    memset(memo, 0, sizeof memo);
    pthread_mutex_unlock(&memo_lock);
}

int quota_check(struct db *db, const char *avatar_id, int64_t add_bytes, int64_t add_memories, char *msg, size_t msglen)
{
    int check_bytes = add_bytes > 0 && quota_cfg.storage_bytes > 0;
    int check_mem = add_memories > 0 && quota_cfg.memories > 0;
    if (!check_bytes && !check_mem)
        return DP_OK;
    char owner[ID_LEN];
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    int err = db_query(db, "SELECT owner_id FROM avatars WHERE id = ?", p, 1, &r);
    if (err)
        return err;
    snprintf(owner, sizeof owner, "%s", r->nrows ? db_rows_text(r, 0, 0) : "");
    db_rows_free(r);
    if (!owner[0])
        return DP_ERR_NOT_FOUND;
    if (memo_allows(owner, check_bytes ? add_bytes : 0, check_mem ? add_memories : 0))
        return DP_OK;
    int64_t s, m;
    if ((err = quota_usage(db, owner, &s, &m)))
        return err;
    if (check_bytes && s + add_bytes > quota_cfg.storage_bytes) {
        memo_store(owner, s, m);
        snprintf(msg, msglen,
                 "the avatar's owner has %lld of %lld bytes of media; %lld more would exceed the storage quota",
                 (long long)s, (long long)quota_cfg.storage_bytes, (long long)add_bytes);
        return DP_ERR_QUOTA;
    }
    if (check_mem && m + add_memories > quota_cfg.memories) {
        memo_store(owner, s, m);
        snprintf(msg, msglen, "the avatar's owner has %lld of %lld memories; %lld more would exceed the memory quota",
                 (long long)m, (long long)quota_cfg.memories, (long long)add_memories);
        return DP_ERR_QUOTA;
    }
    memo_store(owner, s + (check_bytes ? add_bytes : 0), m + (check_mem ? add_memories : 0));
    return DP_OK;
}

static void cache_key(const char *user_id, char out[64])
{
    snprintf(out, 64, "quota:%s", user_id);
}

int quota_json_cached(struct db *db, struct cache *c, const char *user_id, char **out, size_t *len)
{
    char key[64];
    cache_key(user_id, key);
    if (c && !cache_get(c, key, out, len))
        return DP_OK;
    if (!db)
        return DP_ERR_WOULDBLOCK;
    json_t *q;
    int err = quota_json(db, user_id, &q);
    if (err)
        return err;
    *out = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    if (!*out)
        return DP_ERR_NOMEM;
    *len = strlen(*out);
    if (c)
        cache_set(c, key, *out, *len, QUOTA_CACHE_MS);
    return DP_OK;
}

void quota_forget(struct cache *c, const char *user_id)
{
    char key[64];
    cache_key(user_id, key);
    if (c)
        cache_del(c, key);
}

int quota_attach(struct db *db, struct cache *c, const char *user_id, char **obj, size_t *len)
{
    char *q = NULL, *out = NULL;
    size_t qlen = 0;
    int err = *len >= 2 && (*obj)[*len - 1] == '}' ? quota_json_cached(db, c, user_id, &q, &qlen) : DP_ERR_INTERNAL;
    if (!err && !(out = malloc(*len + qlen + 12)))
        err = DP_ERR_NOMEM;
    if (!err) /* "{…}" → "{…,"quota":{…}}" ("{}" gets no comma) */
        *len = (size_t)snprintf(out, *len + qlen + 12, "%.*s%s\"quota\":%s}", (int)(*len - 1), *obj,
                                *len > 2 ? "," : "", q);
    free(q);
    free(*obj);
    *obj = out;
    return err;
}
