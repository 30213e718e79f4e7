/* Character Card routes: import a card (JSON, PNG, .charx) as a new avatar; export an avatar as a
 * Character Card V3 (JSON, .charx with memories and images, or PNG). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "auth/audit.h"
#include "avatar/avatar.h"
#include "avatar/avatar_store.h"
#include "avatar/card.h"
#include "avatar/card_store.h"
#include "avatar/portrait.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "store/blob.h"

/* The new avatar as GET /avatars/{id} shows it, plus what the import did. */
static int imported_json(struct db *db, const char *id, const struct card_import *imp, json_t **out)
{
    json_t *a;
    int err = avatar_get(db, id, &a);
    if (err)
        return err == DP_ERR_NOT_FOUND ? DP_ERR_INTERNAL : err; /* it was just made */
    json_object_set_new(a, "access", json_string("owner"));
    json_object_set_new(a, "stats", json_pack("{s:i,s:I}", "media", 0, "memories", (json_int_t)imp->nmemories));
    json_object_set_new(a, "import",
                        json_pack("{s:s,s:i,s:I,s:I}", "format", card_format_name(imp->format), "spec", imp->spec,
                                  "memories", (json_int_t)imp->nmemories, "kept_aside", (json_int_t)imp->kept_aside));
    *out = a;
    return DP_OK;
}

static int import_card(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    /* A form upload carries the card as its file part; anything else is the card itself. */
    const char *body;
    size_t len;
    struct buf form;
    if ((err = api_upload_bytes(req, res, CARD_INPUT_MAX, "card (JSON, PNG or .charx)", &form, &body, &len)))
        return err;
    struct card_import imp;
    char msg[256];
    err = card_import_parse(body, len, &imp, msg, sizeof msg);
    if (err) {
        buf_cleanup(&form);
        res_error(res, req, err, "%s", msg);
        return err;
    }
    char id[ID_LEN];
    json_t *a = NULL;
    if ((err = card_store_import(e.db, &imp, c->user_id, c->org_id, id)))
        goto out;
    /* A PNG card is a picture of the character: it becomes the avatar's portrait. The avatar
     * stands without it (over quota, say), so a failure here does not fail the import. */
    if (imp.format == CARD_FMT_PNG)
        portrait_store(&e, id, c->user_id, c->org_id, body, len, "card.png");
    avatar_lists_forget(e.cache, c->org_id, c->user_id);
    DP_LOG(LOG_INFO, "[cards] imported avatar=%s format=%s spec=%d memories=%zu", id, card_format_name(imp.format),
           imp.spec, imp.nmemories);
    audit_write(e.db, "avatar.import", c->user_id, id, c->org_id, e.ip,
                json_pack("{s:s,s:i,s:I}", "format", card_format_name(imp.format), "spec", imp.spec, "memories",
                          (json_int_t)imp.nmemories));
    if ((err = imported_json(e.db, id, &imp, &a)))
        goto out;
    res_json(res, 201, a);
out:
    buf_cleanup(&form);
    card_import_cleanup(&imp);
    return err;
}

static int export_card(struct request *req, struct response *res)
{
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (err || (err = avatar_access(e.db, api_caller(req), req_param(req, "id"), AVATAR_VIEW, &ref)))
        return err;
    int f = card_export_format_parse(req_query(req, "format"));
    if (f < 0) {
        res_error(res, req, DP_ERR_INVALID, "format must be json, charx or png");
        return DP_ERR_INVALID;
    }
    struct card_export x;
    if ((err = card_store_export(e.db, e.blobs, ref.id, (enum card_export_format)f, &x)))
        return err;
    /* An ASCII name for old clients, the exact one as RFC 5987 UTF-8 for the rest. */
    char disp[sizeof x.filename + 3 * sizeof x.name_utf8 + 64], n[32];
    size_t at = (size_t)snprintf(disp, sizeof disp, "attachment; filename=\"%s\"; filename*=UTF-8''", x.filename);
    for (const unsigned char *p = (const unsigned char *)x.name_utf8; *p && at + 4 < sizeof disp; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
            *p == '-' || *p == '_')
            disp[at++] = (char)*p;
        else
            at += (size_t)snprintf(disp + at, sizeof disp - at, "%%%02X", *p);
    }
    disp[at] = 0;
    res_body(res, 200, x.content_type, x.data, x.len);
    x.data = NULL;
    res_header(res, "Content-Disposition", disp);
    res_header(res, "Cache-Control", "private, no-store");
    if (x.omitted_memories) {
        snprintf(n, sizeof n, "%zu", x.omitted_memories);
        res_header(res, "X-Doppel-Omitted-Memories", n);
    }
    if (x.omitted_assets) {
        snprintf(n, sizeof n, "%zu", x.omitted_assets);
        res_header(res, "X-Doppel-Omitted-Assets", n);
    }
    card_export_cleanup(&x);
    return DP_OK;
}

static const char import_doc[] =
    "{\"description\":\"The body is a Character Card: V1/V2/V3 JSON, a PNG with a `chara` (V2) and/or `ccv3` (V3) "
    "tEXt chunk (ccv3 wins), or a .charx zip with card.json; the format is detected from the bytes, not the "
    "Content-Type. The body is the card itself, or multipart/form-data whose file part is the card (curl -F "
    "file=@card.png, browser forms). Creates a private avatar owned by the caller: name, description, "
    "personality, scenario and first_mes become its fields, lorebook entries become memories (kind fact, or qa for "
    "Q:/A: entries; a Doppel export's extensions.doppel gives back kind, speaker and the order and dialogue of "
    "utterances), everything else is kept in extensions.card and written back on export. 201 with the avatar (and "
    "`import`: format, spec, memories, kept_aside). 400 damaged file (truncated, bad CRC, bad zip) or a form "
    "without a file part, 413 over 20 MiB (a card over 2 MiB, a zip over 64 MiB uncompressed), 415 not a card "
    "format, 422 no card inside, unsafe zip entries, or fields that do not fit an avatar (more than 5000 lorebook "
    "entries, too long). Nothing is created on error.\","
    "\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":\"CardIn\"},"
    "\"image/png\":{\"schema\":{\"type\":\"string\",\"format\":\"binary\"}},\"application/zip\":{\"schema\":{"
    "\"type\":\"string\",\"format\":\"binary\"}},\"application/octet-stream\":{\"schema\":{\"type\":\"string\","
    "\"format\":\"binary\"}},\"multipart/form-data\":{\"schema\":{\"type\":\"object\",\"properties\":{"
    "\"file\":{\"type\":\"string\",\"format\":\"binary\"}}}}}},"
    "\"responses\":{\"201\":\"Avatar\"},\"errors\":[413,415,422]}";

static const char export_doc[] =
    "{\"description\":\"A Character Card V3 as an attachment (viewers and up). format=json (default): the card; "
    "format=charx: a zip of card.json and the avatar's images under assets/; format=png: the card in the tEXt "
    "chunks ccv3 (V3) and chara (V2) of the avatar's first PNG image (or a 1x1 placeholder). The lorebook "
    "(data.character_book) holds the avatar's memories, one entry each with extensions.doppel {kind, source} and, "
    "for a line of dialogue, {speaker, seq, dialogue}; keys are the card's own, else the names and rare words the "
    "entry is about (marked keys: \\\"made\\\", and made again on every export). "
    "data.mes_example holds the transcripts' exchanges (someone's line, then the avatar's answer) unless the card "
    "brought its own. X-Doppel-Omitted-Memories counts the memories left out to keep the card importable (5000 "
    "entries, 2 MiB).\","
    "\"parameters\":[{\"name\":\"format\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\","
    "\"enum\":[\"json\",\"charx\",\"png\"]}}],"
    "\"responses\":{\"200\":{\"description\":\"the card\",\"content\":{\"application/json\":{\"schema\":\"Card\"},"
    "\"application/zip\":{\"schema\":{\"type\":\"string\",\"contentMediaType\":\"application/zip\"}},"
    "\"image/png\":{\"schema\":{\"type\":\"string\",\"contentMediaType\":\"image/png\"}}}}}}";

const struct route cards_routes[] = {
    {"POST", "/api/v1/avatars/import", 0, CARD_INPUT_MAX, import_card, "avatars",
     "Import a Character Card V1/V2/V3 (JSON, PNG, .charx) as a new avatar", import_doc, NULL, NULL},
    {"GET", "/api/v1/avatars/{id}/export", 0, 0, export_card, "avatars",
     "Export as Character Card V3 (JSON, .charx or PNG)", export_doc, NULL, NULL},
    {0},
};
