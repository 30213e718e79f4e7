/* Unit tests of Character Cards (avatar/card.c): detection, PNG and zip containers and their
 * damage, V1/V2/V3 normalisation, caps, the import → build → import round trip, keywords. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../test.h"
#include "avatar/avatar.h"
#include "avatar/card.h"
#include "core/buf.h"
#include "core/err.h"

#include <sodium.h>

/* ---- helpers ---- */

static const char v2_card[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"name\":\"Stale\",\"talkativeness\":\"0.5\","
    "\"data\":{\"name\":\"Seraphina\",\"description\":\"A guardian.\",\"personality\":\"kind\",\"scenario\":\"glade\","
    "\"first_mes\":\"Hello.\",\"mes_example\":\"<START>\",\"tags\":[\"fantasy\"],\"creator\":\"me\","
    "\"weird_field\":{\"n\":42},\"extensions\":{\"custom\":{\"x\":1}},"
    "\"assets\":[{\"type\":\"icon\",\"uri\":\"embeded://assets/icon/images/main.png\",\"name\":\"main\",\"ext\":\"png\"},"
    "{\"type\":\"background\",\"uri\":\"https://example.test/bg.png\",\"name\":\"bg\",\"ext\":\"png\"}],"
    "\"character_book\":{\"name\":\"Lore\",\"scan_depth\":5,\"extensions\":{},\"entries\":["
    "{\"keys\":[\"glade\"],\"content\":\"The glade is old.\",\"enabled\":true,\"insertion_order\":0,"
    "\"extensions\":{\"depth\":4}},"
    "{\"keys\":[\"q\"],\"content\":\"Q: Who guards it?\\nA: Seraphina.\",\"enabled\":true,\"insertion_order\":1},"
    "{\"keys\":[\"off\"],\"content\":\"switched off\",\"enabled\":false,\"insertion_order\":2},"
    "{\"keys\":[\"blank\"],\"content\":\"  \",\"insertion_order\":3}]}}}";

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* Appends a PNG chunk with a correct CRC. */
static void chunk(struct buf *b, const char *type, const void *data, size_t n)
{
    unsigned char h[8], c[4];
    wr32(h, (uint32_t)n);
    memcpy(h + 4, type, 4);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n) /* crc32(crc, NULL, 0) would restart the CRC */
        crc = crc32(crc, data, (uInt)n);
    wr32(c, (uint32_t)crc);
    CHECK(!buf_append(b, h, 8));
    if (n)
        CHECK(!buf_append(b, data, n));
    CHECK(!buf_append(b, c, 4));
}

/* A tEXt chunk keyword=base64(json). */
static void text_chunk(struct buf *b, const char *keyword, const char *json)
{
    size_t cap = sodium_base64_ENCODED_LEN(strlen(json), sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    sodium_bin2base64(b64, cap, (const unsigned char *)json, strlen(json), sodium_base64_VARIANT_ORIGINAL);
    struct buf d;
    buf_init(&d, 0);
    CHECK(!buf_append(&d, keyword, strlen(keyword) + 1));
    CHECK(!buf_append(&d, b64, strlen(b64)));
    chunk(b, "tEXt", d.data, d.len);
    buf_cleanup(&d);
    free(b64);
}

/* A 1×1 PNG with card text chunks (either may be NULL). */
static void png_with(struct buf *b, const char *chara, const char *ccv3)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    unsigned char row[2] = {0, 0x80}, z[64];
    uLongf zlen = sizeof z;
    CHECK(compress(z, &zlen, row, 2) == Z_OK);
    buf_init(b, 0);
    CHECK(!buf_append(b, sig, 8));
    chunk(b, "IHDR", ihdr, 13);
    if (chara)
        text_chunk(b, "chara", chara);
    if (ccv3)
        text_chunk(b, "ccv3", ccv3);
    chunk(b, "IDAT", z, zlen);
    chunk(b, "IEND", NULL, 0);
}

static int parse(const void *p, size_t n, struct card_import *imp)
{
    char msg[256] = "";
    int err = card_import_parse(p, n, imp, msg, sizeof msg);
    if (err && getenv("CARD_TEST_VERBOSE"))
        fprintf(stderr, "    refused (%d): %s\n", err, msg);
    if (err)
        CHECK(msg[0]); /* every refusal says why */
    return err;
}

static int parse_str(const char *s, struct card_import *imp)
{
    return parse(s, strlen(s), imp);
}

/* A zip of named texts; f[i].deflate as given. */
static void zip_of(const struct card_zip_file *f, size_t n, char **out, size_t *len)
{
    CHECK(!card_zip_write(f, n, out, len));
}

/* Offset of the central directory entry k of a zip we wrote (no comment). */
static size_t central_entry(const char *z, size_t len, size_t k)
{
    const unsigned char *e = (const unsigned char *)z + len - 22;
    size_t off = (size_t)e[16] | (size_t)e[17] << 8 | (size_t)e[18] << 16 | (size_t)e[19] << 24;
    for (size_t i = 0; i < k; i++) {
        const unsigned char *c = (const unsigned char *)z + off;
        off += 46 + (size_t)(c[28] | c[29] << 8) + (size_t)(c[30] | c[31] << 8) + (size_t)(c[32] | c[33] << 8);
    }
    return off;
}

static void le32(char *p, uint32_t v)
{
    p[0] = (char)v, p[1] = (char)(v >> 8), p[2] = (char)(v >> 16), p[3] = (char)(v >> 24);
}

/* The avatar JSON an export starts from, as avatar_from_row would give it after imp. */
static json_t *avatar_of(const struct card_import *imp)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "name", imp->name, "kind", imp->kind, "brain", imp->brain,
                     "description", imp->description, "personality", imp->personality, "scenario", imp->scenario,
                     "greeting", imp->greeting, "visibility", "private", "extensions", imp->extensions);
}

static json_t *memories_of(const struct card_import *imp)
{
    json_t *a = json_array();
    for (size_t i = 0; i < imp->nmemories; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", imp->memories[i].id, "kind", imp->memories[i].kind,
                                           "text", imp->memories[i].text));
    return a;
}

/* ---- detection ---- */

TEST(card_detect_formats)
{
    CHECK(card_detect("\x89PNG\r\n\x1a\n....", 12) == CARD_FMT_PNG);
    CHECK(card_detect("PK\x03\x04rest", 8) == CARD_FMT_CHARX);
    CHECK(card_detect("\xef\xbb\xbf \n {\"a\":1}", 15) == CARD_FMT_JSON);
    CHECK(card_detect("{", 1) == CARD_FMT_JSON);
    CHECK(card_detect("GIF89a", 6) == CARD_FMT_NONE);
    CHECK(card_detect("[1]", 3) == CARD_FMT_NONE);
    CHECK(card_detect("", 0) == CARD_FMT_NONE);
    CHECK(card_detect("\x89PNG", 4) == CARD_FMT_NONE);
}

TEST(card_refuses_other_formats)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str("GIF89a not a card", &imp), DP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(parse("", 0, &imp), DP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(parse_str("[{\"name\":\"x\"}]", &imp), DP_ERR_UNSUPPORTED);
    CHECK(imp.card == NULL && imp.extensions == NULL);
}

/* ---- JSON cards ---- */

TEST(card_v2_json_fields_memories_and_store)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str(v2_card, &imp), DP_OK);
    CHECK(imp.format == CARD_FMT_JSON);
    CHECK_EQ_INT(imp.spec, 2);
    CHECK_EQ_STR(imp.name, "Seraphina");
    CHECK_EQ_STR(imp.description, "A guardian.");
    CHECK_EQ_STR(imp.personality, "kind");
    CHECK_EQ_STR(imp.scenario, "glade");
    CHECK_EQ_STR(imp.greeting, "Hello.");
    CHECK_EQ_STR(imp.kind, "character");
    CHECK_EQ_STR(imp.brain, "recall");
    /* Two entries become memories; the disabled and the blank one are kept aside. */
    CHECK_EQ_INT(imp.nmemories, 2);
    CHECK_EQ_INT(imp.kept_aside, 2);
    CHECK_EQ_STR(imp.memories[0].text, "The glade is old.");
    CHECK_EQ_STR(imp.memories[0].kind, "fact");
    CHECK_EQ_STR(imp.memories[1].kind, "qa");
    CHECK_EQ_INT(imp.memories[1].seq, 1);
    CHECK(strcmp(imp.memories[0].id, imp.memories[1].id) < 0);
    json_t *store = json_object_get(imp.extensions, "card");
    json_t *kept = json_object_get(store, "data");
    /* Mapped fields live in columns, not in the store; unknown ones are kept as they came. */
    CHECK(!json_object_get(kept, "name") && !json_object_get(kept, "first_mes") &&
          !json_object_get(kept, "character_book"));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(kept, "weird_field"), "n")), 42);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(kept, "tags"), 0)), "fantasy");
    /* The embedded asset's file was not imported: only the external one is kept. */
    CHECK_EQ_INT(json_array_size(json_object_get(kept, "assets")), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(kept, "assets"), 0), "name")), "bg");
    /* Top-level: the V1 mirror "name" goes, other unknown fields stay. */
    json_t *top = json_object_get(store, "top");
    CHECK(!json_object_get(top, "name"));
    CHECK_EQ_STR(json_string_value(json_object_get(top, "talkativeness")), "0.5");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(store, "book"), "name")), "Lore");
    CHECK(!json_object_get(json_object_get(store, "book"), "entries"));
    json_t *meta = json_object_get(json_object_get(store, "entries"), imp.memories[0].id);
    CHECK(meta && !json_object_get(meta, "content"));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(meta, "extensions"), "depth")), 4);
    CHECK_EQ_INT(json_array_size(json_object_get(store, "kept_entries")), 2);
    card_import_cleanup(&imp);
}

TEST(card_v1_flat_json)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str("{\"name\":\"Old\",\"description\":\"d\",\"first_mes\":\"hi\",\"mes_example\":\"ex\","
                           "\"chat\":\"x\"}",
                           &imp),
                 DP_OK);
    CHECK_EQ_INT(imp.spec, 1);
    CHECK_EQ_STR(imp.name, "Old");
    CHECK_EQ_STR(imp.greeting, "hi");
    CHECK_EQ_STR(imp.personality, "");
    json_t *kept = json_object_get(json_object_get(imp.extensions, "card"), "data");
    CHECK_EQ_STR(json_string_value(json_object_get(kept, "mes_example")), "ex");
    CHECK_EQ_STR(json_string_value(json_object_get(kept, "chat")), "x");
    CHECK_EQ_INT(imp.nmemories, 0);
    card_import_cleanup(&imp);
}

TEST(card_v3_doppel_kind_and_brain)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"Gran\","
                           "\"extensions\":{\"doppel\":{\"kind\":\"legacy\",\"brain\":\"generative\"}}}}",
                           &imp),
                 DP_OK);
    CHECK_EQ_STR(imp.kind, "legacy");
    CHECK_EQ_STR(imp.brain, "generative");
    card_import_cleanup(&imp);
    /* A self avatar is the server's to make: an import of one is a character. */
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v3\",\"data\":{\"name\":\"Me\",\"extensions\":{\"doppel\":"
                           "{\"kind\":\"self\",\"brain\":\"nonsense\"}}}}",
                           &imp),
                 DP_OK);
    CHECK_EQ_STR(imp.kind, "character");
    CHECK_EQ_STR(imp.brain, "recall");
    card_import_cleanup(&imp);
    /* A later spec version is read as V3. */
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v4\",\"spec_version\":\"4.0\",\"data\":{\"name\":\"Next\"}}", &imp),
                 DP_OK);
    CHECK_EQ_INT(imp.spec, 3);
    card_import_cleanup(&imp);
}

TEST(card_refusals_with_codes)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":", &imp), DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"a\",\"name\":\"b\"}}", &imp),
                 DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse_str("{\"spec\":\"something_else\"}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":[]}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{}}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"\"}}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"a\\tb\"}}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":7}}", &imp), DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"a\",\"character_book\":[]}}", &imp),
                 DP_ERR_UNPROCESSABLE);
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"a\",\"character_book\":{\"entries\":"
                           "[1]}}}",
                           &imp),
                 DP_ERR_UNPROCESSABLE);
    CHECK(imp.card == NULL && imp.memories == NULL);
}

TEST(card_caps)
{
    struct card_import imp;
    struct buf b;
    /* A name over AVATAR_NAME_MAX bytes, a description over AVATAR_TEXT_MAX. */
    buf_init(&b, 0);
    buf_printf(&b, "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"");
    for (int i = 0; i <= AVATAR_NAME_MAX; i++)
        buf_append(&b, "n", 1);
    buf_printf(&b, "\"}}");
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_UNPROCESSABLE);
    buf_cleanup(&b);
    buf_init(&b, 0);
    buf_printf(&b, "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"n\",\"description\":\"");
    for (int i = 0; i <= AVATAR_TEXT_MAX; i++)
        buf_append(&b, "d", 1);
    buf_printf(&b, "\"}}");
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_UNPROCESSABLE);
    buf_cleanup(&b);
    /* More lorebook entries than CARD_BOOK_MAX. */
    buf_init(&b, 0);
    buf_printf(&b, "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"n\",\"character_book\":{\"entries\":[");
    for (int i = 0; i <= CARD_BOOK_MAX; i++)
        buf_printf(&b, "%s{\"content\":\"e%d\"}", i ? "," : "", i);
    buf_printf(&b, "]}}}");
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_UNPROCESSABLE);
    buf_cleanup(&b);
    /* Exactly CARD_BOOK_MAX is fine. */
    buf_init(&b, 0);
    buf_printf(&b, "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"n\",\"character_book\":{\"entries\":[");
    for (int i = 0; i < CARD_BOOK_MAX; i++)
        buf_printf(&b, "%s{\"content\":\"e%d\"}", i ? "," : "", i);
    buf_printf(&b, "]}}}");
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_OK);
    CHECK_EQ_INT(imp.nmemories, CARD_BOOK_MAX);
    card_import_cleanup(&imp);
    buf_cleanup(&b);
    /* JSON over CARD_JSON_MAX. */
    buf_init(&b, 0);
    buf_printf(&b, "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"n\",\"pad\":\"");
    while (b.len <= CARD_JSON_MAX)
        buf_append(&b, "xxxxxxxxxxxxxxxx", 16);
    buf_printf(&b, "\"}}");
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
    /* Past the input cap, whatever it is. */
    char *big = calloc(1, (size_t)CARD_INPUT_MAX + 1);
    big[0] = '{';
    CHECK_EQ_INT(parse(big, (size_t)CARD_INPUT_MAX + 1, &imp), DP_ERR_TOO_LARGE);
    free(big);
}

TEST(card_qa_detection)
{
    struct card_import imp;
    CHECK_EQ_INT(parse_str("{\"spec\":\"chara_card_v3\",\"data\":{\"name\":\"n\",\"character_book\":{\"entries\":["
                           "{\"content\":\"Question: why?\\n  Answer: because.\"},"
                           "{\"content\":\"q. when\\na. now\"},"
                           "{\"content\":\"Q: no answer line\"},"
                           "{\"content\":\"Plain fact. A: not at a line start\"},"
                           "{\"content\":\"x\",\"extensions\":{\"doppel\":{\"kind\":\"passage\",\"source\":null}}}]}}}",
                           &imp),
                 DP_OK);
    CHECK_EQ_INT(imp.nmemories, 5);
    CHECK_EQ_STR(imp.memories[0].kind, "qa");
    CHECK_EQ_STR(imp.memories[1].kind, "qa");
    CHECK_EQ_STR(imp.memories[2].kind, "fact");
    CHECK_EQ_STR(imp.memories[3].kind, "fact");
    CHECK_EQ_STR(imp.memories[4].kind, "passage");
    /* Doppel's own entry extension is not kept (an export writes it afresh), nor are fields an
     * export writes anyway: nothing is left of this entry but what the memory holds. */
    json_t *meta =
        json_object_get(json_object_get(json_object_get(imp.extensions, "card"), "entries"), imp.memories[4].id);
    CHECK(json_is_object(meta));
    CHECK_EQ_INT(json_object_size(meta), 0);
    card_import_cleanup(&imp);
}

/* ---- PNG ---- */

TEST(card_png_chara_ccv3_and_both)
{
    const char *a = "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"From chara\"}}";
    const char *c = "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"From ccv3\"}}";
    struct buf b;
    struct card_import imp;
    png_with(&b, a, NULL);
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_OK);
    CHECK(imp.format == CARD_FMT_PNG);
    CHECK_EQ_STR(imp.name, "From chara");
    CHECK_EQ_INT(imp.spec, 2);
    card_import_cleanup(&imp);
    buf_cleanup(&b);
    png_with(&b, NULL, c);
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_OK);
    CHECK_EQ_STR(imp.name, "From ccv3");
    card_import_cleanup(&imp);
    buf_cleanup(&b);
    png_with(&b, a, c);
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_OK);
    CHECK_EQ_STR(imp.name, "From ccv3"); /* ccv3 wins */
    CHECK_EQ_INT(imp.spec, 3);
    card_import_cleanup(&imp);
    buf_cleanup(&b);
    png_with(&b, NULL, NULL);
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_UNPROCESSABLE);
    buf_cleanup(&b);
}

TEST(card_png_damage)
{
    const char *c = "{\"spec\":\"chara_card_v3\",\"data\":{\"name\":\"Damaged\"}}";
    struct buf b;
    struct card_import imp;
    png_with(&b, NULL, c);
    /* Every truncation is refused as damage, never read past the end (ASan watches). */
    for (size_t n = 8; n < b.len; n++) {
        char *cut = malloc(n);
        memcpy(cut, b.data, n);
        int err = parse(cut, n, &imp);
        CHECK(err == DP_ERR_INVALID);
        free(cut);
    }
    /* A flipped bit in the card text fails its CRC. */
    char *bad = malloc(b.len);
    memcpy(bad, b.data, b.len);
    bad[8 + 25 + 20] ^= 1;
    CHECK_EQ_INT(parse(bad, b.len, &imp), DP_ERR_INVALID);
    /* A chunk length pointing past the end. */
    memcpy(bad, b.data, b.len);
    wr32((unsigned char *)bad + 8 + 25, 0x7ffffff0u);
    CHECK_EQ_INT(parse(bad, b.len, &imp), DP_ERR_INVALID);
    /* Not starting with IHDR. */
    memcpy(bad, b.data, b.len);
    memcpy(bad + 12, "IHDX", 4);
    CHECK_EQ_INT(parse(bad, b.len, &imp), DP_ERR_INVALID);
    free(bad);
    buf_cleanup(&b);
    /* Text that is not base64. */
    buf_init(&b, 0);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    buf_append(&b, sig, 8);
    chunk(&b, "IHDR", ihdr, 13);
    chunk(&b, "tEXt", "ccv3\0!!!not base64!!!", 21);
    chunk(&b, "IEND", NULL, 0);
    CHECK_EQ_INT(parse(b.data, b.len, &imp), DP_ERR_INVALID);
    buf_cleanup(&b);
}

TEST(card_png_embed_roundtrip)
{
    char *png, *out;
    size_t n, outlen;
    CHECK(!card_png_placeholder(&png, &n));
    struct card_png_text t;
    char msg[128];
    CHECK_EQ_INT(card_png_scan(png, n, &t, msg, sizeof msg), DP_OK);
    CHECK(!t.chara && !t.ccv3);
    json_t *card =
        json_pack("{s:s,s:s,s:{s:s}}", "spec", "chara_card_v3", "spec_version", "3.0", "data", "name", "Émilie ✓");
    CHECK_EQ_INT(card_png_embed(png, n, card, &out, &outlen), DP_OK);
    CHECK_EQ_INT(card_png_scan(out, outlen, &t, msg, sizeof msg), DP_OK);
    CHECK(t.chara && t.ccv3);
    /* Embedding again replaces the chunks instead of adding more. */
    char *again;
    size_t againlen;
    CHECK_EQ_INT(card_png_embed(out, outlen, card, &again, &againlen), DP_OK);
    CHECK_EQ_INT(againlen, outlen);
    struct card_import imp;
    CHECK_EQ_INT(parse(again, againlen, &imp), DP_OK);
    CHECK_EQ_STR(imp.name, "Émilie ✓");
    CHECK_EQ_INT(imp.spec, 3);
    card_import_cleanup(&imp);
    json_decref(card);
    free(png);
    free(out);
    free(again);
}

/* ---- zip / charx ---- */

TEST(card_zip_write_read)
{
    static char big[100000];
    memset(big, 'z', sizeof big);
    struct card_zip_file f[] = {{"card.json", v2_card, strlen(v2_card), 1},
                                {"assets/icon/images/main.png", "PNGDATA", 7, 0},
                                {"big.txt", big, sizeof big, 1},
                                {"empty", "", 0, 1}};
    char *z;
    size_t n;
    zip_of(f, 4, &z, &n);
    struct card_zip zip;
    char msg[256];
    CHECK_EQ_INT(card_zip_open(&zip, z, n, msg, sizeof msg), DP_OK);
    CHECK_EQ_INT(zip.count, 4);
    CHECK_EQ_INT(card_zip_find(&zip, "nope"), -1);
    char *out;
    size_t len;
    long i = card_zip_find(&zip, "big.txt");
    CHECK(i >= 0);
    CHECK_EQ_INT(zip.entries[i].method, 8);
    CHECK_EQ_INT(card_zip_read(&zip, (size_t)i, sizeof big, &out, &len, msg, sizeof msg), DP_OK);
    CHECK(len == sizeof big && !memcmp(out, big, len));
    free(out);
    CHECK_EQ_INT(card_zip_read(&zip, (size_t)i, sizeof big - 1, &out, &len, msg, sizeof msg), DP_ERR_TOO_LARGE);
    i = card_zip_find(&zip, "assets/icon/images/main.png");
    CHECK_EQ_INT(card_zip_read(&zip, (size_t)i, 100, &out, &len, msg, sizeof msg), DP_OK);
    CHECK(len == 7 && !memcmp(out, "PNGDATA", 7));
    free(out);
    i = card_zip_find(&zip, "empty");
    CHECK_EQ_INT(card_zip_read(&zip, (size_t)i, 100, &out, &len, msg, sizeof msg), DP_OK);
    CHECK_EQ_INT(len, 0);
    free(out);
    card_zip_close(&zip);
    struct card_import imp;
    CHECK_EQ_INT(parse(z, n, &imp), DP_OK);
    CHECK(imp.format == CARD_FMT_CHARX);
    CHECK_EQ_STR(imp.name, "Seraphina");
    CHECK_EQ_INT(imp.nmemories, 2);
    card_import_cleanup(&imp);
    free(z);
}

TEST(card_zip_unsafe_names)
{
    static const char *const bad[] = {
        "../evil", "a/../../etc/passwd", "/abs", "a\\b", "C:x", "a//b", "./card.json", "a/./b", "..", "x\x01y", NULL};
    for (const char *const *b = bad; *b; b++) {
        struct card_zip_file f[] = {{"card.json", v2_card, strlen(v2_card), 1}, {*b, "x", 1, 0}};
        char *z;
        size_t n;
        zip_of(f, 2, &z, &n);
        struct card_import imp;
        int err = parse(z, n, &imp);
        if (err != DP_ERR_UNPROCESSABLE)
            fprintf(stderr, "    name %s: %d\n", *b, err);
        CHECK_EQ_INT(err, DP_ERR_UNPROCESSABLE);
        free(z);
    }
    /* Directories (a trailing '/') and nested names are fine. */
    struct card_zip_file ok[] = {
        {"card.json", v2_card, strlen(v2_card), 1}, {"assets/", "", 0, 0}, {"assets/x/y.png", "x", 1, 0}};
    char *z;
    size_t n;
    zip_of(ok, 3, &z, &n);
    struct card_import imp;
    CHECK_EQ_INT(parse(z, n, &imp), DP_OK);
    card_import_cleanup(&imp);
    free(z);
}

TEST(card_zip_bombs_and_damage)
{
    static char zeros[1 << 20];
    struct card_zip_file f[] = {{"card.json", v2_card, strlen(v2_card), 1}, {"zeros", zeros, sizeof zeros, 1}};
    char *z;
    size_t n;
    zip_of(f, 2, &z, &n);
    struct card_import imp;
    char msg[256];
    CHECK_EQ_INT(parse(z, n, &imp), DP_OK);
    card_import_cleanup(&imp);
    /* The card declares fewer bytes than it inflates to (directory and local header agree). */
    char *bad = malloc(n);
    memcpy(bad, z, n);
    size_t c0 = central_entry(z, n, 0);
    le32(bad + c0 + 24, 10);
    le32(bad + 22, 10); /* the local header too */
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_INVALID);
    /* ... or more than it inflates to. */
    memcpy(bad, z, n);
    le32(bad + c0 + 24, (uint32_t)strlen(v2_card) + 5);
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_INVALID);
    /* Declared sizes summing past CARD_ZIP_TOTAL_MAX, before anything is inflated. */
    memcpy(bad, z, n);
    size_t c1 = central_entry(z, n, 1);
    le32(bad + c1 + 24, CARD_ZIP_TOTAL_MAX);
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_TOO_LARGE);
    /* A CRC that does not match. */
    memcpy(bad, z, n);
    bad[c0 + 16] ^= 1;
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_INVALID);
    /* Encrypted entries. */
    memcpy(bad, z, n);
    bad[c0 + 8] |= 1;
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_UNPROCESSABLE);
    /* A local header offset pointing elsewhere. */
    memcpy(bad, z, n);
    le32(bad + c0 + 42, 5);
    CHECK_EQ_INT(parse(bad, n, &imp), DP_ERR_INVALID);
    /* An unknown compression method. */
    memcpy(bad, z, n);
    bad[c0 + 10] = 14;
    CHECK(parse(bad, n, &imp) == DP_ERR_UNPROCESSABLE);
    free(bad);
    /* Every truncation is refused. */
    for (size_t k = 0; k < n; k += (k < 64 || n - k < 200) ? 1 : 997) {
        int err = parse(z, k, &imp);
        CHECK(err == DP_ERR_INVALID || err == DP_ERR_UNSUPPORTED || err == DP_ERR_UNPROCESSABLE);
    }
    free(z);
    /* Without card.json; with two of them. */
    struct card_zip_file nocard[] = {{"other.json", "{}", 2, 1}};
    zip_of(nocard, 1, &z, &n);
    CHECK_EQ_INT(parse(z, n, &imp), DP_ERR_UNPROCESSABLE);
    free(z);
    struct card_zip_file two[] = {{"card.json", v2_card, strlen(v2_card), 1}, {"card.json", "{}", 2, 1}};
    zip_of(two, 2, &z, &n);
    CHECK_EQ_INT(parse(z, n, &imp), DP_ERR_UNPROCESSABLE);
    free(z);
    /* A card.json over CARD_JSON_MAX inside the zip. */
    char *huge = malloc((size_t)CARD_JSON_MAX + 10);
    memset(huge, ' ', (size_t)CARD_JSON_MAX + 10);
    huge[0] = '{', huge[CARD_JSON_MAX + 9] = '}';
    struct card_zip_file hf[] = {{"card.json", huge, (size_t)CARD_JSON_MAX + 10, 1}};
    zip_of(hf, 1, &z, &n);
    CHECK_EQ_INT(parse(z, n, &imp), DP_ERR_TOO_LARGE);
    free(z);
    free(huge);
    /* Too many entries. */
    struct card_zip_file *many = calloc(CARD_ZIP_ENTRIES_MAX + 1, sizeof *many);
    char(*names)[16] = calloc(CARD_ZIP_ENTRIES_MAX + 1, 16);
    for (int i = 0; i <= CARD_ZIP_ENTRIES_MAX; i++) {
        snprintf(names[i], 16, "f%d", i);
        many[i] = (struct card_zip_file){names[i], "x", 1, 0};
    }
    many[0].name = "card.json", many[0].data = v2_card, many[0].len = strlen(v2_card);
    zip_of(many, CARD_ZIP_ENTRIES_MAX + 1, &z, &n);
    CHECK_EQ_INT(parse(z, n, &imp), DP_ERR_TOO_LARGE);
    free(z);
    free(many);
    free(names);
    (void)msg;
}

/* ---- export ---- */

TEST(card_build_roundtrip_preserves_unknowns)
{
    struct card_import a, b;
    CHECK_EQ_INT(parse_str(v2_card, &a), DP_OK);
    json_t *avatar = avatar_of(&a), *mems = memories_of(&a);
    size_t omitted = 9;
    json_t *card = card_build(avatar, mems, NULL, &omitted);
    CHECK(card);
    CHECK_EQ_INT(omitted, 0);
    json_t *d = json_object_get(card, "data");
    CHECK_EQ_STR(json_string_value(json_object_get(card, "spec")), "chara_card_v3");
    CHECK_EQ_STR(json_string_value(json_object_get(card, "spec_version")), "3.0");
    CHECK_EQ_STR(json_string_value(json_object_get(d, "first_mes")), "Hello.");
    CHECK(!json_object_get(d, "visibility") && !json_object_get(d, "greeting"));
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(json_object_get(d, "extensions"), "doppel"), "kind")),
        "character");
    CHECK(json_is_array(json_object_get(d, "group_only_greetings")));
    CHECK_EQ_STR(json_string_value(json_object_get(d, "system_prompt")), "");
    CHECK_EQ_STR(json_string_value(json_object_get(card, "talkativeness")), "0.5");
    json_t *entries = json_object_get(json_object_get(d, "character_book"), "entries");
    CHECK_EQ_INT(json_array_size(entries), 4); /* 2 memories + 2 kept aside */
    json_t *e0 = json_array_get(entries, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(e0, "content")), "The glade is old.");
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(e0, "keys"), 0)), "glade");
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(json_object_get(e0, "extensions"), "doppel"), "kind")),
        "fact");
    CHECK(json_is_null(json_object_get(json_object_get(json_object_get(e0, "extensions"), "doppel"), "source")));

    /* And back: the second import equals the first. */
    size_t len;
    char *text = card_dump(card, &len);
    CHECK_EQ_INT(parse(text, len, &b), DP_OK);
    CHECK_EQ_STR(b.name, a.name);
    CHECK_EQ_STR(b.description, a.description);
    CHECK_EQ_STR(b.personality, a.personality);
    CHECK_EQ_STR(b.scenario, a.scenario);
    CHECK_EQ_STR(b.greeting, a.greeting);
    CHECK_EQ_INT(b.nmemories, a.nmemories);
    CHECK_EQ_INT(b.kept_aside, a.kept_aside);
    for (size_t i = 0; i < a.nmemories; i++) {
        CHECK_EQ_STR(b.memories[i].text, a.memories[i].text);
        CHECK_EQ_STR(b.memories[i].kind, a.memories[i].kind);
    }
    json_t *sa = json_object_get(a.extensions, "card"), *sb = json_object_get(b.extensions, "card");
    json_t *da = json_object_get(sa, "data"), *db = json_object_get(sb, "data");
    /* Everything unknown is back unchanged (Doppel's own extension and V3 defaults aside). */
    const char *k;
    json_t *v;
    json_object_foreach (da, k, v) {
        if (strcmp(k, "extensions"))
            CHECK(json_equal(v, json_object_get(db, k)));
    }
    CHECK(json_equal(json_object_get(json_object_get(da, "extensions"), "custom"),
                     json_object_get(json_object_get(db, "extensions"), "custom")));
    CHECK(json_equal(json_object_get(sa, "book"), json_object_get(sb, "book")));
    CHECK(json_equal(json_object_get(sa, "top"), json_object_get(sb, "top")));
    CHECK(json_equal(json_object_get(sa, "kept_entries"), json_object_get(sb, "kept_entries")));
    json_t *ma = json_object_get(json_object_get(sa, "entries"), a.memories[0].id);
    json_t *mb = json_object_get(json_object_get(sb, "entries"), b.memories[0].id);
    CHECK(json_equal(json_object_get(ma, "extensions"), json_object_get(mb, "extensions")));
    CHECK(json_equal(json_object_get(ma, "keys"), json_object_get(mb, "keys")));
    free(text);
    json_decref(card);
    json_decref(avatar);
    json_decref(mems);
    card_import_cleanup(&a);
    card_import_cleanup(&b);
}

TEST(card_build_plain_avatar_and_sources)
{
    json_t *avatar =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{}}", "name", "Nan", "kind", "legacy", "brain", "generative",
                  "description", "d", "personality", "", "scenario", "", "greeting", "Hi", "extensions");
    json_t *mems = json_pack("[{s:s,s:s,s:s,s:s,s:i,s:i},{s:s,s:s,s:s}]", "id", "m1", "kind", "utterance", "text",
                             "We moved to Lisbon in 1972 with Grandpa Joe.", "media_id", "med1", "start_ms", 1000,
                             "end_ms", 2500, "id", "m2", "kind", "fact", "text", "the");
    json_t *assets = json_pack("[{s:s,s:s,s:s,s:s}]", "type", "icon", "uri", "embeded://assets/icon/images/main.png",
                               "name", "main", "ext", "png");
    json_t *card = card_build(avatar, mems, assets, NULL);
    json_t *d = json_object_get(card, "data");
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(json_object_get(d, "extensions"), "doppel"), "kind")),
        "legacy");
    CHECK_EQ_INT(json_array_size(json_object_get(d, "assets")), 1);
    json_t *entries = json_object_get(json_object_get(d, "character_book"), "entries");
    CHECK_EQ_INT(json_array_size(entries), 2);
    json_t *src =
        json_object_get(json_object_get(json_object_get(json_array_get(entries, 0), "extensions"), "doppel"), "source");
    CHECK_EQ_STR(json_string_value(json_object_get(src, "media_id")), "med1");
    CHECK_EQ_INT(json_integer_value(json_object_get(src, "end_ms")), 2500);
    json_t *keys = json_object_get(json_array_get(entries, 0), "keys");
    CHECK(json_array_size(keys) >= 1 && json_array_size(keys) <= CARD_KEYS_MAX);
    /* A memory of stop words only still gets an entry (with no keys). */
    CHECK(json_is_array(json_object_get(json_array_get(entries, 1), "keys")));
    json_decref(card);
    /* No memories and nothing kept: no lorebook at all. */
    card = card_build(avatar, NULL, NULL, NULL);
    CHECK(!json_object_get(json_object_get(card, "data"), "character_book"));
    json_decref(card);
    json_decref(assets);
    json_decref(mems);
    json_decref(avatar);
}

TEST(card_build_budget_keeps_it_importable)
{
    json_t *avatar = json_pack("{s:s,s:s,s:s}", "name", "Many", "kind", "character", "brain", "recall");
    json_t *mems = json_array();
    for (int i = 0; i < CARD_BOOK_MAX + 300; i++) {
        char id[16], text[64];
        snprintf(id, sizeof id, "m%05d", i);
        snprintf(text, sizeof text, "Memory number %d about Something", i);
        json_array_append_new(mems, json_pack("{s:s,s:s,s:s}", "id", id, "kind", "fact", "text", text));
    }
    size_t omitted;
    json_t *card = card_build(avatar, mems, NULL, &omitted);
    CHECK_EQ_INT(omitted, 300);
    CHECK_EQ_INT(
        json_array_size(json_object_get(json_object_get(json_object_get(card, "data"), "character_book"), "entries")),
        CARD_BOOK_MAX);
    json_decref(card);
    json_decref(mems);
    /* Large memories: the card stops short of CARD_JSON_MAX. */
    mems = json_array();
    char *big = malloc(60001);
    memset(big, 'w', 60000);
    big[60000] = 0;
    for (int i = 0; i < 50; i++)
        json_array_append_new(mems, json_pack("{s:s,s:s,s:s}", "id", "x", "kind", "passage", "text", big));
    card = card_build(avatar, mems, NULL, &omitted);
    size_t len;
    char *text = card_dump(card, &len);
    CHECK(len <= CARD_JSON_MAX);
    CHECK(omitted > 0 && omitted < 50);
    struct card_import imp;
    CHECK_EQ_INT(parse(text, len, &imp), DP_OK);
    CHECK_EQ_INT(imp.nmemories, 50 - omitted);
    card_import_cleanup(&imp);
    free(text);
    free(big);
    json_decref(card);
    json_decref(mems);
    json_decref(avatar);
}

/* ---- keywords ---- */

TEST(card_keywords_salient_words)
{
    json_t *k = card_keywords("Alice went to Wonderland. There Alice met the White Rabbit, who was late for Wonderland "
                              "tea.",
                              3);
    CHECK_EQ_INT(json_array_size(k), 3);
    int alice = 0, wonder = 0;
    size_t i;
    json_t *w;
    json_array_foreach (k, i, w) {
        const char *s = json_string_value(w);
        alice |= !strcasecmp(s, "alice");
        wonder |= !strcasecmp(s, "wonderland");
        CHECK(strcasecmp(s, "there") && strcasecmp(s, "went"));
    }
    CHECK(alice && wonder);
    json_decref(k);
    k = card_keywords("", 3);
    CHECK_EQ_INT(json_array_size(k), 0);
    json_decref(k);
    k = card_keywords("a an the of 1234 5678", 3);
    CHECK_EQ_INT(json_array_size(k), 0);
    json_decref(k);
    /* Non-ASCII words come out whole (valid UTF-8). */
    k = card_keywords("Größe über Straße, Straße!", 2);
    CHECK(json_array_size(k) >= 1);
    CHECK_EQ_STR(json_string_value(json_array_get(k, 0)), "Straße"); /* frequent, and a capital mid-sentence */
    json_decref(k);
    /* A long text is scanned within a window, cut on a character boundary. */
    char *t = malloc(21001);
    for (int j = 0; j < 21000; j += 7)
        memcpy(t + j, "\xc3\xa9\xc3\xa9\xc3\xa9 ", 7);
    t[21000] = 0;
    k = card_keywords(t, 3);
    CHECK(json_array_size(k) >= 1);
    CHECK_EQ_STR(json_string_value(json_array_get(k, 0)), "\xc3\xa9\xc3\xa9\xc3\xa9");
    json_decref(k);
    free(t);
}

/* 1 when the array of strings keys holds w (exactly). */
static int has_key(json_t *keys, const char *w)
{
    size_t i;
    json_t *k;
    json_array_foreach (keys, i, k)
        if (!strcmp(json_string_value(k), w))
            return 1;
    return 0;
}

TEST(card_keywords_never_booleans_numbers_apps_or_address_words)
{
    /* What keys once came out as: ["true"] and ["WhatsApp", "grandpa", "figured"]. */
    json_t *k = card_keywords("true", CARD_KEYS_MAX);
    CHECK_EQ_INT(json_array_size(k), 0);
    json_decref(k);
    k = card_keywords("Grandpa I figured out WhatsApp, true story! 1961 12:30", CARD_KEYS_MAX);
    CHECK_EQ_INT(json_array_size(k), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(k, 0)), "story");
    json_decref(k);
    /* At most CARD_KEYS_MAX (5); names keep their case and come first; inflections are one word
     * shown in its shortest form. */
    k = card_keywords("She planted roses, planting tulips and plants with Margaret near Lisbon, by Porto, in Braga, "
                      "Faro and Sintra.",
                      CARD_KEYS_MAX);
    CHECK_EQ_INT(json_array_size(k), CARD_KEYS_MAX);
    CHECK(has_key(k, "Margaret") && has_key(k, "Lisbon"));
    CHECK(!has_key(k, "planting") && !has_key(k, "planted"));
    json_decref(k);
}

TEST(card_keywords_prefer_rare_words_and_leave_out_the_avatars_name)
{
    struct card_key_ctx ctx;
    CHECK_EQ_INT(card_key_ctx_init(&ctx, "Grandpa Joe"), DP_OK);
    const char *texts[] = {"The garden had roses and a shed.", "The garden was big.", "We sat in the garden.",
                           "Joe fixed the garden gate with wire."};
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_INT(card_key_ctx_add(&ctx, texts[i]), DP_OK);
    json_t *k = card_keywords_in(texts[3], 3, &ctx);
    /* "garden" is in every entry: "fixed", "gate" and "wire" tell this one apart; "Joe" is the
     * avatar. */
    CHECK_EQ_INT(json_array_size(k), 3);
    CHECK(has_key(k, "gate") && has_key(k, "wire") && has_key(k, "fixed"));
    json_decref(k);
    k = card_keywords_in(texts[3], CARD_KEYS_MAX, &ctx);
    CHECK(has_key(k, "garden") && !has_key(k, "Joe") && !has_key(k, "joe"));
    CHECK_EQ_STR(json_string_value(json_array_get(k, 3)), "garden"); /* last: the least telling */
    json_decref(k);
    card_key_ctx_cleanup(&ctx);
}

/* A chat of two dialogues, as card_store's load_memories gives them. */
static json_t *chat_memories(void)
{
    return json_pack("[{s:s,s:s,s:s,s:s,s:i,s:s,s:s},{s:s,s:s,s:s,s:s,s:i,s:s,s:s},"
                     "{s:s,s:s,s:s,s:s,s:i,s:s},{s:s,s:s,s:s,s:s,s:i,s:s},{s:s,s:s,s:s}]",
                     "id", "m1", "kind", "utterance", "text", "Who's Eddie?", "speaker", "Emma", "seq", 4, "dialogue",
                     "med1", "media_id", "med1", /* */
                     "id", "m2", "kind", "utterance", "text", "Eddie Salazar, my best buddy in the Navy.", "speaker",
                     "Grandpa Joe", "seq", 5, "dialogue", "med1", "media_id", "med1", /* */
                     "id", "m3", "kind", "utterance", "text", "Where were you born?", "speaker", "Lily", "seq", 0,
                     "dialogue", "d-imported", /* */
                     "id", "m4", "kind", "utterance", "text", "In Tucson, in a blizzard.", "speaker", "Joe", "seq", 1,
                     "dialogue", "d-imported", /* */
                     "id", "m5", "kind", "fact", "text", "Joe liked trout.");
}

TEST(card_build_utterances_keep_speaker_order_dialogue_and_make_examples)
{
    json_t *avatar = json_pack("{s:s,s:s,s:s}", "name", "Grandpa Joe", "kind", "legacy", "brain", "recall");
    json_t *mems = chat_memories();
    json_t *card = card_build(avatar, mems, NULL, NULL);
    json_t *d = json_object_get(card, "data");
    json_t *entries = json_object_get(json_object_get(d, "character_book"), "entries");
    CHECK_EQ_INT(json_array_size(entries), 5);
    json_t *x = json_object_get(json_object_get(json_array_get(entries, 0), "extensions"), "doppel");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "kind")), "utterance");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "speaker")), "Emma");
    CHECK_EQ_INT(json_integer_value(json_object_get(x, "seq")), 4);
    CHECK_EQ_STR(json_string_value(json_object_get(x, "dialogue")), "med1");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(x, "source"), "media_id")), "med1");
    /* A fact says nothing of speakers or dialogues; keys Doppel made say so. */
    x = json_object_get(json_object_get(json_array_get(entries, 4), "extensions"), "doppel");
    CHECK_EQ_INT(json_object_size(x), 3);
    CHECK_EQ_STR(json_string_value(json_object_get(x, "keys")), "made");
    /* The exchanges where someone spoke to the avatar and it answered. */
    CHECK_EQ_STR(json_string_value(json_object_get(d, "mes_example")),
                 "<START>\n{{user}}: Who's Eddie?\n{{char}}: Eddie Salazar, my best buddy in the Navy.\n"
                 "<START>\n{{user}}: Where were you born?\n{{char}}: In Tucson, in a blizzard.");
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(json_object_get(d, "extensions"), "doppel"), "examples")),
        "memories");

    /* Imported again: kinds, speakers and order come back; each dialogue gets one new id. */
    size_t len;
    char *text = card_dump(card, &len);
    struct card_import imp;
    CHECK_EQ_INT(parse(text, len, &imp), DP_OK);
    CHECK_EQ_INT(imp.nmemories, 5);
    CHECK_EQ_STR(imp.memories[0].kind, "utterance");
    CHECK_EQ_STR(imp.memories[0].speaker, "Emma");
    CHECK_EQ_INT(imp.memories[0].seq, 4);
    CHECK_EQ_STR(imp.memories[1].speaker, "Grandpa Joe");
    CHECK_EQ_INT(imp.memories[1].seq, 5);
    CHECK(imp.memories[0].dialogue[0] && !strcmp(imp.memories[0].dialogue, imp.memories[1].dialogue));
    CHECK(strcmp(imp.memories[0].dialogue, "med1") != 0);
    CHECK(imp.memories[2].dialogue[0] && !strcmp(imp.memories[2].dialogue, imp.memories[3].dialogue));
    CHECK(strcmp(imp.memories[0].dialogue, imp.memories[2].dialogue) != 0);
    CHECK_EQ_STR(imp.memories[4].kind, "fact");
    CHECK(!imp.memories[4].speaker && !imp.memories[4].dialogue[0]);
    /* Made keys are not kept (the next export makes them again); an author's keys would be. */
    json_t *kept =
        json_object_get(json_object_get(json_object_get(imp.extensions, "card"), "entries"), imp.memories[4].id);
    CHECK(!json_object_get(kept, "keys"));
    card_import_cleanup(&imp);
    free(text);
    json_decref(card);

    /* A card's own example dialogue is kept as it came. */
    json_object_set_new(avatar, "extensions",
                        json_pack("{s:{s:{s:s}}}", "card", "data", "mes_example", "<START>\n{{char}}: Mine."));
    card = card_build(avatar, mems, NULL, NULL);
    d = json_object_get(card, "data");
    CHECK_EQ_STR(json_string_value(json_object_get(d, "mes_example")), "<START>\n{{char}}: Mine.");
    CHECK(!json_object_get(json_object_get(json_object_get(d, "extensions"), "doppel"), "examples"));
    json_decref(card);
    json_decref(mems);
    json_decref(avatar);
}

TEST(card_import_speaker_from_elsewhere_is_checked)
{
    /* A speaker label over CARD_SPEAKER_MAX is left out; utterances without a dialogue share one. */
    char *big = malloc(CARD_SPEAKER_MAX + 2);
    memset(big, 'x', CARD_SPEAKER_MAX + 1);
    big[CARD_SPEAKER_MAX + 1] = 0;
    json_t *c = json_pack("{s:s,s:{s:s,s:{s:[{s:s,s:{s:{s:s,s:s}}},{s:s,s:{s:{s:s,s:s,s:i}}}]}}}", "spec",
                          "chara_card_v3", "data", "name", "N", "character_book", "entries", "content", "one",
                          "extensions", "doppel", "kind", "utterance", "speaker", big, "content", "two", "extensions",
                          "doppel", "kind", "utterance", "speaker", "Ann", "seq", -3);
    size_t len;
    char *text = card_dump(c, &len);
    struct card_import imp;
    CHECK_EQ_INT(parse(text, len, &imp), DP_OK);
    CHECK(!imp.memories[0].speaker);
    CHECK_EQ_STR(imp.memories[1].speaker, "Ann");
    CHECK_EQ_INT(imp.memories[1].seq, 1); /* a negative seq is not taken: the entry's place */
    CHECK(imp.memories[0].dialogue[0] && !strcmp(imp.memories[0].dialogue, imp.memories[1].dialogue));
    card_import_cleanup(&imp);
    free(text);
    free(big);
    json_decref(c);
}

/* ---- the fuzz corpus ---- */

TEST(card_fuzz_corpus_replays)
{
    DIR *d = opendir("fuzz/corpus/fuzz_card");
    if (!d)
        SKIP("fuzz/corpus/fuzz_card not found (run from the repository root)");
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "fuzz/corpus/fuzz_card/%s", e->d_name);
        FILE *f = fopen(path, "rb");
        CHECK(f);
        char *buf = malloc(CARD_INPUT_MAX);
        size_t len = fread(buf, 1, CARD_INPUT_MAX, f);
        fclose(f);
        struct card_import imp;
        char msg[256];
        if (!card_import_parse(buf, len, &imp, msg, sizeof msg))
            card_import_cleanup(&imp);
        free(buf);
        n++;
    }
    closedir(d);
    CHECK(n > 0);
}
