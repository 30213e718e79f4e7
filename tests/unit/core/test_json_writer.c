/* Unit tests of the direct JSON writer (core/json_writer.c): escaping, UTF-8, numbers, nesting,
 * misuse; every document it makes is read back by jansson. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../test.h"
#include "core/err.h"
#include "core/json_writer.h"

/* The document w wrote into b, parsed (NULL when it is not JSON). */
static json_t *parsed(struct buf *b)
{
    return json_loadb(b->data ? b->data : "", b->len, JSON_DECODE_ANY, NULL);
}

TEST(json_writer_escapes_what_json_requires_and_reads_back_as_written)
{
    struct buf b;
    buf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    const char nasty[] = "quote \" backslash \\ slash / nl \n cr \r tab \t bell \a nul-less \x01\x1f del \x7f";
    jw_obj(&w);
    jw_kstr(&w, "name", "Grandpa \"Walt\"");
    jw_kstr(&w, "nasty", nasty);
    jw_kstr(&w, "key \"quoted\"\n", "v");
    jw_key(&w, "none");
    jw_str(&w, NULL);
    jw_obj_end(&w);
    CHECK_EQ_INT(jw_finish(&w), DP_OK);
    CHECK(strstr(b.data, "\\u0001\\u001f") != NULL); /* control characters as \u00XX */
    CHECK(strstr(b.data, "\\n cr \\r tab \\t bell \\u0007") != NULL);
    json_t *j = parsed(&b);
    CHECK(j != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "name")), "Grandpa \"Walt\"");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "nasty")), nasty);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "key \"quoted\"\n")), "v");
    CHECK(json_is_null(json_object_get(j, "none")));
    json_decref(j);
    buf_cleanup(&b);
}

TEST(json_writer_keeps_utf8_and_replaces_broken_sequences)
{
    struct buf b;
    buf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    jw_arr(&w);
    jw_str(&w, "Müller — 東京 🎉");                  /* 2, 3 and 4-byte sequences pass as they are */
    jw_str(&w, "bad \xff lead, \xc0\xaf overlong"); /* each broken byte → U+FFFD */
    jw_strn(&w, "cut \xe6\x9d", 6);                 /* a sequence cut at the end */
    jw_str(&w, "surrogate \xed\xa0\x80.");
    jw_strn(&w, "a\0b", 3); /* a NUL inside a counted string is a character like another */
    jw_arr_end(&w);
    CHECK_EQ_INT(jw_finish(&w), DP_OK);
    CHECK(strstr(b.data, "Müller — 東京 🎉") != NULL);
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    CHECK(j != NULL);
    CHECK_EQ_STR(json_string_value(json_array_get(j, 1)), "bad \xef\xbf\xbd lead, \xef\xbf\xbd\xef\xbf\xbd overlong");
    CHECK_EQ_STR(json_string_value(json_array_get(j, 2)), "cut \xef\xbf\xbd\xef\xbf\xbd");
    CHECK_EQ_STR(json_string_value(json_array_get(j, 3)), "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd.");
    CHECK_EQ_INT((int)json_string_length(json_array_get(j, 4)), 3);
    json_decref(j);
    buf_cleanup(&b);
}

TEST(json_writer_numbers_match_jansson_and_non_finite_is_null)
{
    struct buf b;
    buf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    jw_arr(&w);
    jw_int(&w, 0);
    jw_int(&w, INT64_MAX);
    jw_int(&w, INT64_MIN);
    jw_real(&w, 1.0);
    jw_real(&w, 0.1);
    jw_real(&w, -2.5e-300);
    jw_real(&w, 1e300);
    jw_real(&w, 2.5e-7);
    jw_real(&w, NAN);
    jw_real(&w, INFINITY);
    jw_bool(&w, 1);
    jw_bool(&w, 0);
    jw_null(&w);
    jw_arr_end(&w);
    CHECK_EQ_INT(jw_finish(&w), DP_OK);
    /* jansson's own serialisation of the same values, byte for byte (non-finite aside). */
    json_t *same = json_pack("[I,I,I,f,f,f,f,f,n,n,b,b,n]", (json_int_t)0, (json_int_t)INT64_MAX, (json_int_t)INT64_MIN,
                             1.0, 0.1, -2.5e-300, 1e300, 2.5e-7, 1, 0);
    char *expect = json_dumps(same, JSON_COMPACT);
    CHECK_EQ_STR(b.data, expect);
    free(expect);
    json_decref(same);
    buf_cleanup(&b);
}

TEST(json_writer_nests_and_refuses_misuse)
{
    struct buf b;
    buf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    jw_obj(&w);
    jw_key(&w, "items");
    jw_arr(&w);
    for (int i = 0; i < 3; i++) {
        jw_obj(&w);
        jw_kint(&w, "n", i);
        jw_key(&w, "tags");
        jw_arr(&w);
        jw_arr_end(&w);
        jw_key(&w, "meta");
        jw_raw(&w, "{\"a\":[1,2]}", 11);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "next_cursor");
    jw_null(&w);
    jw_obj_end(&w);
    CHECK_EQ_INT(jw_finish(&w), DP_OK);
    CHECK_EQ_STR(
        b.data, "{\"items\":[{\"n\":0,\"tags\":[],\"meta\":{\"a\":[1,2]}},{\"n\":1,\"tags\":[],\"meta\":{\"a\":[1,2]}},"
                "{\"n\":2,\"tags\":[],\"meta\":{\"a\":[1,2]}}],\"next_cursor\":null}");
    buf_cleanup(&b);

    /* A value where a key is due, a key in an array, a wrong or missing close: errors that stick. */
    const int cases = 5;
    for (int c = 0; c < cases; c++) {
        buf_init(&b, 0);
        jw_init(&w, &b);
        if (c == 0) {
            jw_obj(&w);
            jw_int(&w, 1);
            jw_obj_end(&w);
        } else if (c == 1) {
            jw_arr(&w);
            jw_key(&w, "k");
            jw_arr_end(&w);
        } else if (c == 2) {
            jw_arr(&w);
            jw_obj_end(&w);
        } else if (c == 3) {
            jw_obj(&w);
            jw_key(&w, "dangling");
            jw_obj_end(&w);
        } else {
            jw_arr(&w);
        }
        CHECK_EQ_INT(jw_finish(&w), DP_ERR_INVALID);
        buf_cleanup(&b);
    }
    /* Deeper than JW_MAX_DEPTH, and past the buffer's cap. */
    buf_init(&b, 0);
    jw_init(&w, &b);
    for (int i = 0; i <= JW_MAX_DEPTH; i++)
        jw_arr(&w);
    CHECK_EQ_INT(jw_finish(&w), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
    buf_init(&b, 16);
    jw_init(&w, &b);
    jw_str(&w, "a string longer than sixteen bytes");
    CHECK_EQ_INT(jw_finish(&w), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
}
