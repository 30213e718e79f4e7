/* Conversations found again by the hash of their turns (see history_hash.h). */
#include "talk/history_hash.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/db.h"

void talk_history_step(const char *prev, const char *role, const char *text, char out[HISTORY_HASH_LEN])
{
    crypto_hash_sha256_state st;
    unsigned char d[crypto_hash_sha256_BYTES];
    char len[24];
    /* Lengths first: no two different turn lists read as the same bytes. */
    int n = snprintf(len, sizeof len, "%zu:", strlen(text));
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)prev, strlen(prev) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)role, strlen(role) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)len, (unsigned long long)n);
    crypto_hash_sha256_update(&st, (const unsigned char *)text, strlen(text));
    crypto_hash_sha256_final(&st, d);
    sodium_bin2hex(out, HISTORY_HASH_LEN, d, sizeof d);
}

int talk_find_by_history(struct db *db, const char *avatar_id, const char *user_id, const char *hash, char conv[ID_LEN])
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(hash), DB_TEXT(avatar_id), DB_TEXT(user_id)};
    int err = db_query(db,
                       "SELECT id FROM conversations WHERE history_hash = ? AND avatar_id = ? AND user_id = ? "
                       "ORDER BY updated_at DESC, id DESC LIMIT 1",
                       p, 3, &r);
    if (err)
        return err;
    if (r->nrows == 1)
        snprintf(conv, ID_LEN, "%s", db_rows_text(r, 0, 0));
    else
        err = DP_ERR_NOT_FOUND;
    db_rows_free(r);
    return err;
}

int talk_set_history(struct db *db, const char *conv, const char *hash)
{
    struct db_val p[] = {DB_TEXT(hash), DB_TEXT(conv)};
    return db_query(db, "UPDATE conversations SET history_hash = ? WHERE id = ?", p, 2, NULL);
}
