/* Cards and the database: an import becomes an avatar with memories, an avatar becomes a card
 * file (JSON, .charx, PNG). Shared by the API (api/cards.c) and the command line (cli/avatar_cmd.c);
 * the parsing and building itself is avatar/card.c. */
#ifndef DP_CARD_STORE_H
#define DP_CARD_STORE_H

#include <stddef.h>

#include "avatar/card.h"

struct db;
struct blob_store;

/* What .charx and PNG exports ship of an avatar's images (kind image media), so that the file
 * stays importable under CARD_INPUT_MAX. Images past these are left out and counted. */
#define CARD_EXPORT_ASSETS_MAX 64
#define CARD_EXPORT_ASSET_BYTES_MAX (16u << 20)

/* Creates a private avatar owned by owner_id (in org_id) from imp, and one memory per entry of
 * imp->memories, in one transaction: either all of it exists afterwards or none of it.
 * id_out gets the avatar's id. Database errors as db_query. */
int card_store_import(struct db *db, const struct card_import *imp, const char *owner_id, const char *org_id,
                      char id_out[ID_LEN]);

enum card_export_format { CARD_EXPORT_JSON = 0, CARD_EXPORT_CHARX, CARD_EXPORT_PNG };

/* The format named by s ("json" or NULL, "charx", "png"); -1 for anything else. */
int card_export_format_parse(const char *s);

/* An exported file. */
struct card_export {
    char *data; /* the file's bytes (owned) */
    size_t len;
    const char *content_type;    /* static */
    char filename[96];           /* a safe ASCII download name: the avatar's name and the extension */
    char name_utf8[4 * 100 + 8]; /* the exact name (UTF-8) and the extension, for filename* */
    size_t omitted_memories;     /* memories left out of the lorebook (over CARD_BOOK_MAX / CARD_JSON_MAX) */
    size_t assets;               /* image files shipped (.charx: under assets/; PNG: the picture) */
    size_t omitted_assets;       /* images left out (over the caps, or unreadable) */
};

/* Exports avatar_id (which must exist and not be deleted; the caller checked access) as a card
 * file. blobs may be NULL: no images then. The lorebook is the avatar's memories in creation
 * order. Release with card_export_cleanup. DP_ERR_NOT_FOUND, database errors, DP_ERR_NOMEM. */
int card_store_export(struct db *db, struct blob_store *blobs, const char *avatar_id, enum card_export_format f,
                      struct card_export *out);
void card_export_cleanup(struct card_export *x);

#endif
