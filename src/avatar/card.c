/* Character Cards: detection, V1/V2→V3 normalisation, card ↔ avatar (the containers: card_png.c,
 * card_zip.c; lorebook keys: card_keys.c).
 *
 * What an import keeps for the round-trip, in the avatar's extensions column:
 *   {"card": {"spec", "spec_version"   the version it came in (informational),
 *             "data": {…}               every data field Doppel has no column for (tags, creator,
 *                                       mes_example, extensions, alternate_greetings, … and fields
 *                                       of later versions), unchanged,
 *             "top": {…}                unknown top-level fields (not V1 mirrors of data fields),
 *             "book": {…}               the lorebook's own fields (name, scan_depth, …), no entries,
 *             "entries": {mid: {…}}     each entry made a memory, keyed by the memory's id, less its
 *                                       content (the memory's text is the content),
 *             "kept_entries": […]}}     entries not made memories (disabled or empty), unchanged.
 * Each exported entry says in extensions.doppel what the memory was: {kind, source} and, for a line
 * of dialogue, {speaker, seq, dialogue} — so that an import keeps who said what to whom (a line
 * said to the avatar stays that speaker's, answered by the avatar's next turn) instead of making
 * every line a fact about the avatar. data.mes_example gets the transcripts' exchanges, in the
 * format's own "<START>\n{{user}}: …\n{{char}}: …" shape, unless the card brought its own.
 * An export writes all of it back, with the avatar's current fields and memories on top. An entry's
 * fields that an export writes anyway (enabled: true, use_regex/constant: false, empty extensions,
 * insertion_order equal to its place among the memories) are not kept. */
#include "avatar/card.h"

#include <ctype.h>
#include <string.h>
#include <zlib.h>

#include "avatar/avatar.h"
#include "avatar/card_impl.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "ingest/dialogue.h"

int card_fail(char *msg, size_t msglen, int err, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return err;
}

uint32_t card_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *q = p;
    while (n) {
        uInt take = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32(crc, q, take);
        q += take;
        n -= take;
    }
    return crc;
}

const unsigned char card_png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

enum card_format card_detect(const void *p, size_t n)
{
    const unsigned char *q = p;
    if (n >= 8 && !memcmp(q, card_png_sig, 8))
        return CARD_FMT_PNG;
    if (n >= 4 && q[0] == 'P' && q[1] == 'K' && ((q[2] == 3 && q[3] == 4) || (q[2] == 5 && q[3] == 6)))
        return CARD_FMT_CHARX;
    size_t i = 0;
    if (n >= 3 && q[0] == 0xef && q[1] == 0xbb && q[2] == 0xbf)
        i = 3;
    while (i < n && (q[i] == ' ' || q[i] == '\t' || q[i] == '\r' || q[i] == '\n'))
        i++;
    return i < n && q[i] == '{' ? CARD_FMT_JSON : CARD_FMT_NONE;
}

const char *card_format_name(enum card_format f)
{
    switch (f) {
    case CARD_FMT_JSON:
        return "json";
    case CARD_FMT_PNG:
        return "png";
    case CARD_FMT_CHARX:
        return "charx";
    default:
        return "unknown";
    }
}

/* ---- normalisation and import ---- */

json_t *card_normalize(const json_t *in, int *spec, char *msg, size_t msglen)
{
    if (!json_is_object(in)) {
        card_fail(msg, msglen, 0, "the card must be a JSON object");
        return NULL;
    }
    const char *s = json_get_str(in, "spec");
    json_t *data = json_object_get(in, "data");
    int v;
    if (s && !strcmp(s, "chara_card_v3"))
        v = 3;
    else if (s && !strcmp(s, "chara_card_v2"))
        v = 2;
    else if (!json_object_get(in, "spec") && json_is_string(json_object_get(in, "name")))
        v = 1, data = (json_t *)in; /* V1: the fields at the top */
    else if (s && !strncmp(s, "chara_card_v", 12) && json_is_object(data))
        v = 3; /* a later version: read what V3 knows (the spec asks us to import it) */
    else {
        card_fail(msg, msglen, 0,
                  "not a character card (spec is not chara_card_v2/v3, and there is no top-level name)");
        return NULL;
    }
    if (!json_is_object(data)) {
        card_fail(msg, msglen, 0, "the card's data must be an object");
        return NULL;
    }
    /* V1 had no spec and no data wrapper; nothing else differs. V2 → V3 adds fields only, which
     * card_build fills with their defaults on the way out. */
    json_t *card = json_pack("{s:s,s:s,s:o}", "spec", "chara_card_v3", "spec_version", "3.0", "data",
                             v == 1 ? json_copy(data) : json_incref(data));
    *spec = v;
    return card;
}

/* The data fields that are avatar columns (never kept in extensions.card.data). */
static const char *const mapped_fields[] = {"name", "description", "personality", "scenario", "first_mes", NULL};

static int is_mapped(const char *k)
{
    for (const char *const *f = mapped_fields; *f; f++)
        if (!strcmp(*f, k))
            return 1;
    return 0;
}

static const char *const memory_kinds[] = {"fact", "qa", "passage", "utterance", NULL};

static const char *known_kind(const char *s)
{
    for (const char *const *k = memory_kinds; s && *k; k++)
        if (!strcmp(*k, s))
            return *k;
    return NULL;
}

/* 1 when s starts with a line "Q: …"/"Question: …" and a later line starts "A: …"/"Answer: …". */
static int looks_like_qa(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t q = !strncasecmp(s, "question:", 9) ? 9 : (!strncasecmp(s, "q:", 2) || !strncasecmp(s, "q.", 2)) ? 2 : 0;
    if (!q)
        return 0;
    for (const char *nl = strchr(s, '\n'); nl; nl = strchr(nl + 1, '\n')) {
        const char *l = nl + 1;
        while (*l == ' ' || *l == '\t')
            l++;
        if (!strncasecmp(l, "a:", 2) || !strncasecmp(l, "a.", 2) || !strncasecmp(l, "answer:", 7))
            return 1;
    }
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* A text field of data: absent or null → "", a string, or an error. */
static int text_field(json_t *data, const char *key, size_t max, const char **out, char *msg, size_t msglen)
{
    json_t *v = json_object_get(data, key);
    if (!v || json_is_null(v)) {
        *out = "";
        return DP_OK;
    }
    if (!json_is_string(v))
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.%s must be a string", key);
    if (json_string_length(v) > max)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.%s is %zu bytes; an avatar keeps at most %zu", key,
                         json_string_length(v), max);
    *out = json_string_value(v);
    return DP_OK;
}

/* The card's JSON text, however it was wrapped; *text is the caller's (free). */
static int card_text(const unsigned char *p, size_t n, enum card_format f, char **text, size_t *len, char *msg,
                     size_t msglen)
{
    int err;
    if (f == CARD_FMT_JSON) {
        if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
            p += 3, n -= 3;
        if (n > CARD_JSON_MAX)
            return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "the card is %zu bytes of JSON; at most %u", n,
                             CARD_JSON_MAX);
        if (!(*text = malloc(n + 1)))
            return DP_ERR_NOMEM;
        memcpy(*text, p, n);
        (*text)[n] = 0;
        *len = n;
        return DP_OK;
    }
    if (f == CARD_FMT_PNG) {
        struct card_png_text t;
        if ((err = card_png_scan(p, n, &t, msg, msglen)))
            return err;
        if (!t.ccv3 && !t.chara)
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                             "the PNG holds no character card (no chara or ccv3 tEXt chunk)");
        /* The spec: ccv3 wins when both are there. */
        return t.ccv3 ? card_png_text_decode(t.ccv3, t.ccv3_len, "ccv3", text, len, msg, msglen)
                      : card_png_text_decode(t.chara, t.chara_len, "chara", text, len, msg, msglen);
    }
    struct card_zip z;
    if (!(err = card_zip_open(&z, p, n, msg, msglen))) {
        long i = card_zip_find(&z, "card.json");
        if (i < 0)
            err = card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the .charx has no card.json at its root");
        else
            err = card_zip_read(&z, (size_t)i, CARD_JSON_MAX, text, len, msg, msglen);
    }
    card_zip_close(&z);
    return err;
}

void card_import_cleanup(struct card_import *imp)
{
    json_decref(imp->card);
    json_decref(imp->extensions);
    free(imp->memories);
    memset(imp, 0, sizeof *imp);
}

/* The lorebook: entries become memories (their other fields kept by memory id), disabled and
 * empty ones are kept aside; the book's own fields are kept. */
static int import_book(struct card_import *imp, json_t *book, json_t *store, char *msg, size_t msglen)
{
    if (!book || json_is_null(book))
        return DP_OK;
    if (!json_is_object(book))
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.character_book must be an object");
    json_t *entries = json_object_get(book, "entries");
    if (entries && !json_is_null(entries) && !json_is_array(entries))
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.character_book.entries must be an array");
    size_t n = json_array_size(entries);
    if (n > CARD_BOOK_MAX)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the lorebook has %zu entries; at most %d", n,
                         CARD_BOOK_MAX);
    json_t *own = json_copy(book), *by_id = json_object(), *kept = json_array();
    if (!own || !by_id || !kept) {
        json_decref(own), json_decref(by_id), json_decref(kept);
        return DP_ERR_NOMEM;
    }
    json_object_del(own, "entries");
    json_object_set_new(store, "book", own);
    json_object_set_new(store, "entries", by_id);
    if (n && !(imp->memories = calloc(n, sizeof *imp->memories))) {
        json_decref(kept);
        return DP_ERR_NOMEM;
    }
    json_t *dialogues = json_object(); /* {dialogue in the card: its new id} */
    if (!dialogues) {
        json_decref(kept);
        return DP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(entries, i), *content;
        if (!json_is_object(e)) {
            json_decref(kept), json_decref(dialogues);
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "character_book.entries[%zu] must be an object", i);
        }
        content = json_object_get(e, "content");
        if (content && !json_is_null(content) && !json_is_string(content)) {
            json_decref(kept), json_decref(dialogues);
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "character_book.entries[%zu].content must be a string",
                             i);
        }
        const char *text = json_is_string(content) ? json_string_value(content) : "";
        if (json_string_length(content) > CARD_ENTRY_MAX) {
            json_decref(kept), json_decref(dialogues);
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                             "character_book.entries[%zu].content is %zu bytes; at most %d", i,
                             json_string_length(content), CARD_ENTRY_MAX);
        }
        if (json_is_false(json_object_get(e, "enabled")) || is_blank(text)) {
            json_array_append(kept, e);
            continue;
        }
        struct card_memory *m = &imp->memories[imp->nmemories++];
        id_new(m->id);
        m->text = text;
        m->seq = (long)i;
        json_t *ext = json_object_get(e, "extensions"), *doppel = json_object_get(ext, "doppel");
        m->kind = known_kind(json_get_str(doppel, "kind"));
        if (!m->kind)
            m->kind = looks_like_qa(text) ? "qa" : "fact";
        /* Who said it, and where in which dialogue: a line said to the avatar stays that speaker's
         * line (recall answers it with the avatar's next turn), never a fact about the avatar. */
        const char *speaker = json_get_str(doppel, "speaker");
        if (speaker && *speaker && strlen(speaker) <= CARD_SPEAKER_MAX)
            m->speaker = speaker;
        if (!strcmp(m->kind, "utterance")) {
            json_t *seq = json_object_get(doppel, "seq");
            if (json_is_integer(seq) && json_integer_value(seq) >= 0 && json_integer_value(seq) < (1LL << 40))
                m->seq = (long)json_integer_value(seq);
            /* Each dialogue of the card gets a new id of its own; lines without one share one. */
            const char *was = json_get_str(doppel, "dialogue");
            json_t *known = json_object_get(dialogues, was ? was : "");
            if (known) {
                snprintf(m->dialogue, sizeof m->dialogue, "%s", json_string_value(known));
            } else {
                id_new(m->dialogue);
                json_object_set_new(dialogues, was ? was : "", json_string(m->dialogue));
            }
        }
        /* What the entry says besides its text; Doppel's own extension is rewritten on export. */
        json_t *meta = json_copy(e);
        if (!meta) {
            json_decref(kept), json_decref(dialogues);
            return DP_ERR_NOMEM;
        }
        json_object_del(meta, "content");
        const char *keys_by = json_get_str(doppel, "keys");
        if (keys_by && !strcmp(keys_by, "made"))
            json_object_del(meta, "keys");
        if (doppel) {
            json_t *ext2 = json_copy(ext);
            json_object_del(ext2, "doppel");
            json_object_set_new(meta, "extensions", ext2);
        }
        /* What an export writes anyway need not be kept (the avatar's JSON carries this store). */
        if (json_is_true(json_object_get(meta, "enabled")))
            json_object_del(meta, "enabled");
        if (json_is_false(json_object_get(meta, "use_regex")))
            json_object_del(meta, "use_regex");
        if (json_is_false(json_object_get(meta, "constant")))
            json_object_del(meta, "constant");
        json_t *e2 = json_object_get(meta, "extensions");
        if (json_is_object(e2) && !json_object_size(e2))
            json_object_del(meta, "extensions");
        json_t *order = json_object_get(meta, "insertion_order");
        if (json_is_integer(order) && json_integer_value(order) == (json_int_t)(imp->nmemories - 1))
            json_object_del(meta, "insertion_order");
        json_object_set_new(by_id, m->id, meta);
    }
    json_decref(dialogues);
    imp->kept_aside = json_array_size(kept);
    if (imp->kept_aside)
        json_object_set_new(store, "kept_entries", kept);
    else
        json_decref(kept);
    return DP_OK;
}

/* An asset whose file came inside the card (embeded://, __asset:) is not imported, so its
 * reference would dangle: external ones (https:, ccdefault:, data:) are kept. */
static int asset_is_embedded(json_t *a)
{
    const char *uri = json_get_str(a, "uri");
    return uri && (!strncmp(uri, "embeded://", 10) || !strncmp(uri, "embedded://", 11) || !strncmp(uri, "__asset:", 8));
}

int card_import_parse(const void *p, size_t n, struct card_import *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    if (n > CARD_INPUT_MAX)
        return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "the card is %zu bytes; at most %u", n, CARD_INPUT_MAX);
    enum card_format f = card_detect(p, n);
    if (f == CARD_FMT_NONE)
        return card_fail(msg, msglen, DP_ERR_UNSUPPORTED,
                         "not a character card: expected Character Card JSON, a PNG with a card, or a .charx (zip)");
    char *text = NULL;
    size_t len = 0;
    int err = card_text(p, n, f, &text, &len, msg, msglen);
    if (err)
        return err;
    json_t *root = NULL;
    err = json_parse_body(text, len, CARD_JSON_MAX, &root, msg, msglen);
    free(text);
    if (err)
        return err;
    out->format = f;
    out->card = card_normalize(root, &out->spec, msg, msglen);
    if (!out->card) {
        json_decref(root);
        return DP_ERR_UNPROCESSABLE;
    }
    json_t *data = json_object_get(out->card, "data");
    const char *name;
    if ((err = text_field(data, "name", AVATAR_NAME_MAX, &name, msg, msglen)) ||
        (err = text_field(data, "description", AVATAR_TEXT_MAX, &out->description, msg, msglen)) ||
        (err = text_field(data, "personality", AVATAR_TEXT_MAX, &out->personality, msg, msglen)) ||
        (err = text_field(data, "scenario", AVATAR_TEXT_MAX, &out->scenario, msg, msglen)) ||
        (err = text_field(data, "first_mes", AVATAR_TEXT_MAX, &out->greeting, msg, msglen)))
        goto out_fail;
    int name_ok = *name != 0;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            name_ok = 0;
    if (!name_ok) {
        err = card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.name must be 1 to %d bytes without control characters",
                        AVATAR_NAME_MAX);
        goto out_fail;
    }
    out->name = name;
    /* What a Doppel export recorded about the avatar itself. */
    json_t *doppel = json_object_get(json_object_get(data, "extensions"), "doppel");
    const char *kind = json_get_str(doppel, "kind"), *brain = json_get_str(doppel, "brain");
    /* An account's self avatar is made by the server, never by an import. */
    out->kind = kind && !avatar_check_kind(kind) && strcmp(kind, "self") ? (!strcmp(kind, "legacy")    ? "legacy"
                                                                            : !strcmp(kind, "trainer") ? "trainer"
                                                                                                       : "character")
                                                                         : "character";
    out->brain = brain && !strcmp(brain, "generative") ? "generative" : "recall";

    json_t *store = json_object(), *kept_data = json_object();
    out->extensions = json_pack("{s:o}", "card", store);
    if (!store || !kept_data || !out->extensions) {
        json_decref(kept_data);
        err = DP_ERR_NOMEM;
        goto out_fail;
    }
    json_t *spec = json_object_get(root, "spec"), *version = json_object_get(root, "spec_version");
    if (json_is_string(spec))
        json_object_set(store, "spec", spec);
    if (json_is_string(version))
        json_object_set(store, "spec_version", version);
    const char *k;
    json_t *v;
    json_object_foreach (data, k, v) {
        if (is_mapped(k) || !strcmp(k, "character_book"))
            continue;
        if (!strcmp(k, "assets") && json_is_array(v)) {
            json_t *keep = json_array();
            size_t i;
            json_t *a;
            json_array_foreach (v, i, a)
                if (!asset_is_embedded(a))
                    json_array_append(keep, a);
            json_object_set_new(kept_data, k, keep);
            continue;
        }
        json_object_set(kept_data, k, v);
    }
    json_object_set_new(store, "data", kept_data);
    if (out->spec >= 2) {
        /* Top-level fields besides spec/data, less the V1 copies of data fields that V2 writers
         * put there for V1 readers (they would go stale). */
        json_t *top = json_object();
        json_object_foreach (root, k, v) {
            if (!strcmp(k, "spec") || !strcmp(k, "spec_version") || !strcmp(k, "data") || is_mapped(k) ||
                !strcmp(k, "mes_example"))
                continue;
            json_object_set(top, k, v);
        }
        if (json_object_size(top))
            json_object_set_new(store, "top", top);
        else
            json_decref(top);
    }
    if ((err = import_book(out, json_object_get(data, "character_book"), store, msg, msglen)))
        goto out_fail;
    json_decref(root);
    return DP_OK;
out_fail:
    json_decref(root);
    card_import_cleanup(out);
    return err;
}

/* ---- export ---- */

char *card_dump(const json_t *card, size_t *len)
{
    return json_dump_compact(card, len);
}

static size_t dumped_size(const json_t *v)
{
    size_t n = 0;
    char *s = json_dump_compact(v, &n);
    free(s);
    return s ? n : (size_t)-1 / 2;
}

static json_t *str_or_empty(const json_t *obj, const char *key)
{
    const char *s = json_get_str(obj, key);
    return json_string(s ? s : "");
}

/* v, or JSON null (a singleton in jansson) when v is NULL. */
static json_t *or_null(json_t *v)
{
    return v ? v : json_null();
}

/* One lorebook entry of a memory: what the import kept of the entry (if it came from a card),
 * its text, keys (the original ones, else card_keywords_in), and extensions.doppel {kind, source},
 * plus for a line of dialogue who said it, its place and its dialogue: {speaker, seq, dialogue}
 * (a dialogue is the media it was transcribed from, or the one an earlier import recorded), so that
 * an import knows who said what to whom. */
static json_t *memory_entry(const json_t *mem, const json_t *kept_meta, size_t order, const struct card_key_ctx *ctx)
{
    const char *text = json_get_str(mem, "text");
    json_t *e = json_is_object(kept_meta) ? json_copy((json_t *)kept_meta) : json_object();
    if (!e)
        return NULL;
    int made_keys = !json_is_array(json_object_get(e, "keys"));
    if (made_keys) {
        json_t *keys = card_keywords_in(text ? text : "", CARD_KEYS_MAX, ctx);
        json_object_set_new(e, "keys", keys ? keys : json_array());
    }
    json_object_set_new(e, "content", json_string(text ? text : ""));
    json_t *ext = json_object_get(e, "extensions");
    ext = json_is_object(ext) ? json_copy(ext) : json_object();
    json_t *media = json_object_get(mem, "media_id");
    json_t *source = json_is_string(media) ? json_pack("{s:O,s:O,s:O}", "media_id", media, "start_ms",
                                                       or_null(json_object_get(mem, "start_ms")), "end_ms",
                                                       or_null(json_object_get(mem, "end_ms")))
                                           : NULL;
    const char *kind = json_get_str(mem, "kind");
    json_t *doppel = json_pack("{s:s,s:o}", "kind", kind ? kind : "fact", "source", source ? source : json_null());
    const char *speaker = json_get_str(mem, "speaker"), *dialogue = json_get_str(mem, "dialogue");
    json_t *seq = json_object_get(mem, "seq");
    /* Keys Doppel made are made again on the next export (from the text as it is then); an
     * import drops them. Keys a card's author wrote are kept. */
    if (doppel && made_keys)
        json_object_set_new(doppel, "keys", json_string("made"));
    if (doppel && speaker)
        json_object_set_new(doppel, "speaker", json_string(speaker));
    if (doppel && kind && !strcmp(kind, "utterance")) {
        if (json_is_integer(seq))
            json_object_set(doppel, "seq", seq);
        if (dialogue)
            json_object_set_new(doppel, "dialogue", json_string(dialogue));
    }
    json_object_set_new(ext, "doppel", doppel);
    json_object_set_new(e, "extensions", ext);
    /* V3 asks for these; a kept entry already has its own. */
    if (!json_object_get(e, "enabled"))
        json_object_set_new(e, "enabled", json_true());
    if (!json_object_get(e, "insertion_order"))
        json_object_set_new(e, "insertion_order", json_integer((json_int_t)order));
    if (!json_object_get(e, "use_regex"))
        json_object_set_new(e, "use_regex", json_false());
    if (!json_object_get(e, "constant"))
        json_object_set_new(e, "constant", json_false());
    return e;
}

/* 1 when memory b is the next line of a and answers it: both utterances of one dialogue, b right
 * after a, by another speaker. */
static int answers(const json_t *a, const json_t *b)
{
    const char *ka = json_get_str(a, "kind"), *kb = json_get_str(b, "kind");
    const char *da = json_get_str(a, "dialogue"), *db = json_get_str(b, "dialogue");
    const char *sa = json_get_str(a, "speaker"), *sb = json_get_str(b, "speaker");
    json_t *qa = json_object_get(a, "seq"), *qb = json_object_get(b, "seq");
    return ka && kb && !strcmp(ka, "utterance") && !strcmp(kb, "utterance") && da && db && !strcmp(da, db) && sa &&
           sb && strcmp(sa, sb) && json_is_integer(qa) && json_is_integer(qb) &&
           json_integer_value(qb) == json_integer_value(qa) + 1;
}

/* Example dialogue in the card format's own shape ("<START>\n{{user}}: …\n{{char}}: …"): the
 * exchanges of the avatar's transcripts where someone spoke to the avatar and it answered, in
 * order, up to CARD_EXAMPLES_MAX bytes. NULL when there are none (or out of memory). */
#define CARD_EXAMPLES_MAX 8192
static char *dialogue_examples(const char *name, const json_t *memories)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 1; i < json_array_size(memories); i++) {
        json_t *q = json_array_get(memories, i - 1), *a = json_array_get(memories, i);
        if (!answers(q, a) || dialogue_speaker_is_self(json_get_str(q, "speaker"), name) ||
            !dialogue_speaker_is_self(json_get_str(a, "speaker"), name))
            continue;
        const char *qt = json_get_str(q, "text"), *at = json_get_str(a, "text");
        if (!qt || !at || b.len + strlen(qt) + strlen(at) + 32 > CARD_EXAMPLES_MAX)
            continue;
        if (buf_printf(&b, "%s<START>\n{{user}}: %s\n{{char}}: %s", b.len ? "\n" : "", qt, at)) {
            buf_cleanup(&b);
            return NULL;
        }
    }
    return b.len ? buf_steal(&b, NULL) : (buf_cleanup(&b), NULL);
}

json_t *card_build(const json_t *avatar, const json_t *memories, const json_t *assets, size_t *omitted)
{
    if (omitted)
        *omitted = 0;
    json_t *store = json_object_get(json_object_get(avatar, "extensions"), "card");
    json_t *kept = json_object_get(store, "data");
    json_t *card = json_object(), *data = json_object();
    if (!card || !data) {
        json_decref(card);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(card, "spec", json_string("chara_card_v3"));
    json_object_set_new(card, "spec_version", json_string("3.0"));
    json_object_set_new(card, "data", data);
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(store, "top"), k, v) {
        if (strcmp(k, "spec") && strcmp(k, "spec_version") && strcmp(k, "data"))
            json_object_set(card, k, v);
    }
    /* Doppel's fields first, then what the import kept, then V3's defaults for what is missing. */
    json_object_set_new(data, "name", str_or_empty(avatar, "name"));
    json_object_set_new(data, "description", str_or_empty(avatar, "description"));
    json_object_set_new(data, "personality", str_or_empty(avatar, "personality"));
    json_object_set_new(data, "scenario", str_or_empty(avatar, "scenario"));
    json_object_set_new(data, "first_mes", str_or_empty(avatar, "greeting"));
    json_object_foreach (kept, k, v) {
        if (!is_mapped(k) && strcmp(k, "character_book") && !json_object_get(data, k))
            json_object_set(data, k, v);
    }
    static const char *const empty_strings[] = {
        "mes_example", "creator_notes", "system_prompt", "post_history_instructions", "creator", "character_version",
        NULL};
    static const char *const empty_arrays[] = {"alternate_greetings", "tags", "group_only_greetings", NULL};
    /* Example dialogue from the transcripts, unless the card brought its own (an earlier export's,
     * marked in extensions.doppel, is made again from the memories as they are now). */
    json_t *kept_doppel = json_object_get(json_object_get(kept, "extensions"), "doppel");
    const char *examples = json_get_str(data, "mes_example"), *made_by = json_get_str(kept_doppel, "examples");
    int made_examples = 0;
    if (!examples || !*examples || (made_by && !strcmp(made_by, "memories"))) {
        char *ex = dialogue_examples(json_get_str(avatar, "name"), memories);
        if (ex) {
            json_object_set_new(data, "mes_example", json_string(ex));
            made_examples = 1;
        } else if (examples && *examples) {
            json_object_set_new(data, "mes_example", json_string(""));
        }
        free(ex);
    }
    for (const char *const *f = empty_strings; *f; f++)
        if (!json_object_get(data, *f))
            json_object_set_new(data, *f, json_string(""));
    for (const char *const *f = empty_arrays; *f; f++)
        if (!json_object_get(data, *f))
            json_object_set_new(data, *f, json_array());
    json_t *ext = json_object_get(data, "extensions");
    ext = json_is_object(ext) ? json_copy(ext) : json_object();
    json_t *doppel = json_object_get(ext, "doppel");
    doppel = json_is_object(doppel) ? json_copy(doppel) : json_object();
    json_object_set_new(doppel, "kind", str_or_empty(avatar, "kind"));
    json_object_set_new(doppel, "brain", str_or_empty(avatar, "brain"));
    if (made_examples)
        json_object_set_new(doppel, "examples", json_string("memories"));
    else
        json_object_del(doppel, "examples");
    json_object_set_new(ext, "doppel", doppel);
    json_object_set_new(data, "extensions", ext);
    if (assets && json_array_size(assets)) {
        json_t *all = json_array();
        json_t *old = json_object_get(data, "assets");
        size_t i;
        json_t *a;
        json_array_foreach (old, i, a)
            if (!asset_is_embedded(a))
                json_array_append(all, a);
        json_array_extend(all, (json_t *)assets);
        json_object_set_new(data, "assets", all);
    }

    json_t *book_kept = json_object_get(store, "book"), *by_id = json_object_get(store, "entries"),
           *aside = json_object_get(store, "kept_entries");
    size_t nmem = json_array_size(memories);
    if (!json_is_object(book_kept) && !nmem && !json_array_size(aside))
        return card;
    json_t *book = json_is_object(book_kept) ? json_copy(book_kept) : json_object();
    json_t *entries = json_array();
    if (!json_object_get(book, "extensions"))
        json_object_set_new(book, "extensions", json_object());
    json_object_set_new(book, "entries", entries);
    json_object_set_new(data, "character_book", book);
    /* Keys are chosen against the whole lorebook: a word few entries hold tells them apart. */
    struct card_key_ctx ctx;
    int have_ctx = !card_key_ctx_init(&ctx, json_get_str(avatar, "name"));
    for (size_t i = 0; have_ctx && i < nmem; i++) {
        const char *t = json_get_str(json_array_get(memories, i), "text");
        if (t && card_key_ctx_add(&ctx, t)) {
            card_key_ctx_cleanup(&ctx);
            have_ctx = 0;
        }
    }
    /* The budget: what is left of CARD_JSON_MAX once the rest of the card is written. */
    size_t used = dumped_size(card) + 64, count = 0;
    for (size_t i = 0; i < nmem + json_array_size(aside); i++) {
        json_t *e;
        if (i < nmem) {
            json_t *m = json_array_get(memories, i);
            const char *mid = json_get_str(m, "id");
            e = memory_entry(m, mid ? json_object_get(by_id, mid) : NULL, i, have_ctx ? &ctx : NULL);
        } else {
            e = json_incref(json_array_get(aside, i - nmem));
        }
        size_t sz = e ? dumped_size(e) + 1 : 0;
        if (!e || count >= CARD_BOOK_MAX || used + sz > CARD_JSON_MAX) {
            json_decref(e);
            if (omitted && i < nmem)
                ++*omitted;
            continue;
        }
        used += sz;
        count++;
        json_array_append_new(entries, e);
    }
    if (have_ctx)
        card_key_ctx_cleanup(&ctx);
    return card;
}
