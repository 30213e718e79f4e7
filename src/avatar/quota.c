/* Per-user quotas: usage is summed from the rows themselves (no counter to drift), per owner. */
#include "avatar/quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
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

int quota_check(struct db *db, const char *avatar_id, int64_t add_bytes, int64_t add_memories, char *msg,
                size_t msglen)
{
    int check_bytes = add_bytes > 0 && quota_cfg.storage_bytes > 0;
    int check_mem = add_memories > 0 && quota_cfg.memories > 0;
    if (!check_bytes && !check_mem)
        return DP_OK;
    int64_t s, m;
    int err = usage_where(db, "(SELECT owner_id FROM avatars WHERE id = ?)", avatar_id, &s, &m);
    if (err)
        return err;
    if (check_bytes && s + add_bytes > quota_cfg.storage_bytes) {
        snprintf(msg, msglen,
                 "the avatar's owner has %lld of %lld bytes of media; %lld more would exceed the storage quota",
                 (long long)s, (long long)quota_cfg.storage_bytes, (long long)add_bytes);
        return DP_ERR_QUOTA;
    }
    if (check_mem && m + add_memories > quota_cfg.memories) {
        snprintf(msg, msglen, "the avatar's owner has %lld of %lld memories; %lld more would exceed the memory quota",
                 (long long)m, (long long)quota_cfg.memories, (long long)add_memories);
        return DP_ERR_QUOTA;
    }
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
