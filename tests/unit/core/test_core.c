/* Unit tests of core/: errors, buffers, ids, times, UTF-8, SHA-1, config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/fmt.h"
#include "core/id.h"
#include "core/sha1.h"
#include "core/timeutil.h"
#include "core/utf8.h"

TEST(err_codes_are_stable_and_total)
{
    CHECK_EQ_STR(dp_errcode(DP_ERR_NOT_IMPLEMENTED), "not_implemented");
    CHECK_EQ_STR(dp_errcode(DP_ERR_BAD_JSON), "invalid_json");
    CHECK_EQ_STR(dp_errcode(9999), "internal_error");
    for (int e = 0; e < DP_ERR__COUNT; e++) {
        CHECK(strcmp(dp_strerror(e), "unknown error") != 0);
        CHECK(strcmp(dp_errcode(e), "internal_error") != 0 || e == DP_ERR_INTERNAL || e == DP_ERR_WOULDBLOCK);
    }
}

TEST(buf_caps_and_leaves_content_unchanged)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_EQ_INT(buf_append(&b, "abcd", 4), DP_OK);
    CHECK_EQ_INT(buf_append(&b, "efghi", 5), DP_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.len, 4);
    CHECK_EQ_STR(b.data, "abcd");
    CHECK_EQ_INT(buf_printf(&b, "%d", 1234), DP_OK);
    CHECK_EQ_STR(b.data, "abcd1234");
    CHECK_EQ_INT(buf_printf(&b, "x"), DP_ERR_TOO_LARGE);
    size_t len;
    char *p = buf_steal(&b, &len);
    CHECK_EQ_INT(len, 8);
    CHECK(b.data == NULL && b.len == 0);
    free(p);
}

TEST(fmt_i64_matches_printf)
{
    const int64_t v[] = {0, 7, -7, 10, 99, 100, -100, 1234567890123LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char a[FMT_I64_MAX], b[32];
        size_t n = fmt_i64(a, v[i]);
        int m = snprintf(b, sizeof b, "%lld", (long long)v[i]);
        CHECK_EQ_STR(a, b);
        CHECK_EQ_INT((int)n, m);
    }
}

TEST(id_is_uuidv7_and_sorted)
{
    char prev[ID_LEN] = "", cur[ID_LEN];
    for (int i = 0; i < 10000; i++) {
        id_new(cur);
        CHECK(id_valid(cur));
        CHECK_EQ_INT(cur[14], '7');
        CHECK(strchr("89ab", cur[19]) != NULL);
        CHECK(strcmp(prev, cur) < 0);
        memcpy(prev, cur, ID_LEN);
    }
    CHECK(!id_valid("not-an-id"));
    CHECK(!id_valid("0189ABCD-0000-7000-8000-000000000000"));
    CHECK(!id_valid(NULL));
}

TEST(time_rfc3339_round_trip)
{
    char s[RFC3339_LEN];
    time_rfc3339(1795410198123LL, s);
    CHECK_EQ_STR(s, "2026-11-23T05:03:18.123Z");
    time_rfc3339(1795410198007LL, s); /* the same second again (formatted from the thread's copy) */
    CHECK_EQ_STR(s, "2026-11-23T05:03:18.007Z");
    time_rfc3339(1795410199990LL, s);
    CHECK_EQ_STR(s, "2026-11-23T05:03:19.990Z");
    time_rfc3339(-1, s);
    CHECK_EQ_STR(s, "1969-12-31T23:59:59.999Z");
    time_rfc3339(1795410198123LL, s);
    int64_t ms;
    CHECK_EQ_INT(time_parse_rfc3339(s, &ms), DP_OK);
    CHECK_EQ_INT(ms, 1795410198123LL);
    CHECK_EQ_INT(time_parse_rfc3339("2026-11-23T06:03:18.123+01:00", &ms), DP_OK);
    CHECK_EQ_INT(ms, 1795410198123LL);
    CHECK_EQ_INT(time_parse_rfc3339("2026-11-23T05:03:18Z", &ms), DP_OK);
    CHECK_EQ_INT(time_parse_rfc3339("2026-13-23T05:03:18Z", &ms), DP_ERR_INVALID);
    CHECK_EQ_INT(time_parse_rfc3339("2026-11-23 05:03", &ms), DP_ERR_INVALID);
    CHECK_EQ_INT(time_parse_rfc3339("2026-11-23T05:03:18.Z", &ms), DP_ERR_INVALID);
    CHECK_EQ_INT(time_parse_rfc3339("2026-11-23T05:03:18Zjunk", &ms), DP_ERR_INVALID);
}

TEST(utf8_validation)
{
    CHECK(utf8_valid("hello", 5));
    CHECK(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!utf8_valid("\xe2\x82", 2));         /* truncated */
    CHECK(!utf8_valid("\xff", 1));
}

TEST(utf8_get_stops_at_a_missing_continuation_byte)
{
    size_t len;
    CHECK(utf8_get((const unsigned char *)"\xc3\xa9", &len) == 0xe9 && len == 2);
    CHECK(utf8_get((const unsigned char *)"\xe2\x82\xac", &len) == 0x20ac && len == 3);
    CHECK(utf8_get((const unsigned char *)"\xf0\x9f\x98\x80", &len) == 0x1f600 && len == 4);
    /* Truncated before the terminating NUL: never read past it. */
    CHECK(utf8_get((const unsigned char *)"\xe2\x82", &len) == UTF8_REPLACEMENT && len == 1);
    CHECK(utf8_get((const unsigned char *)"\xf0\x9f", &len) == UTF8_REPLACEMENT && len == 1);
    CHECK(utf8_get((const unsigned char *)"\x80x", &len) == UTF8_REPLACEMENT && len == 1);
}

TEST(sha1_known_vectors)
{
    uint8_t d[20];
    sha1("abc", 3, d);
    CHECK(!memcmp(d, "\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9d", 20));
    sha1("", 0, d);
    CHECK(!memcmp(d, "\xda\x39\xa3\xee\x5e\x6b\x4b\x0d\x32\x55\xbf\xef\x95\x60\x18\x90\xaf\xd8\x07\x09", 20));
    const char *s56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1(s56, strlen(s56), d);
    CHECK(!memcmp(d, "\x84\x98\x3e\x44\x1c\x3b\xd2\x6e\xba\xae\x4a\xa1\xf9\x51\x29\xe5\xe5\x46\x70\xf1", 20));
}

TEST(config_defaults_env_flags_precedence)
{
    struct config c;
    char err[256];
    setenv("DOPPEL_LISTEN", "127.0.0.1:9000", 1);
    setenv("DOPPEL_WORKERS", "3", 1);
    char *argv[] = {"serve", "--workers", "5", "--log-format=json", "--test-routes", NULL};
    CHECK_EQ_INT(config_load(&c, 5, argv, err, sizeof err), DP_OK);
    CHECK_EQ_STR(c.listen, "127.0.0.1:9000");
    CHECK_EQ_INT(c.workers, 5);
    CHECK_EQ_STR(c.log_format, "json");
    CHECK_EQ_INT(c.test_routes, 1);
    CHECK_EQ_INT(c.json_body_max, 1048576);
    config_cleanup(&c);
}

TEST(config_rejects_bad_values_clearly)
{
    struct config c;
    char err[256];
    char *a1[] = {"serve", "--workers", "many", NULL};
    CHECK_EQ_INT(config_load(&c, 3, a1, err, sizeof err), DP_ERR_INVALID);
    CHECK(strstr(err, "--workers") != NULL);
    config_cleanup(&c);
    char *a2[] = {"serve", "--no-such-flag", NULL};
    CHECK_EQ_INT(config_load(&c, 2, a2, err, sizeof err), DP_ERR_INVALID);
    CHECK(strstr(err, "unknown flag") != NULL);
    config_cleanup(&c);
    char *a3[] = {"serve", "--log-format", "xml", NULL};
    CHECK_EQ_INT(config_load(&c, 3, a3, err, sizeof err), DP_ERR_INVALID);
    config_cleanup(&c);
    char *a4[] = {"serve", "--http-timeout", "0", NULL};
    CHECK_EQ_INT(config_load(&c, 3, a4, err, sizeof err), DP_ERR_INVALID);
    config_cleanup(&c);
}

TEST(config_file_is_read_and_overridden_by_flags)
{
    char path[] = "/tmp/doppel-cfg-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nlisten = 0.0.0.0:7000\nworkers = 2\ncors-origins = https://a.example\n");
    fclose(f);
    struct config c;
    char err[256];
    char *argv[] = {"serve", "--config", path, "--workers", "4", NULL};
    unsetenv("DOPPEL_LISTEN");
    unsetenv("DOPPEL_WORKERS");
    CHECK_EQ_INT(config_load(&c, 5, argv, err, sizeof err), DP_OK);
    CHECK_EQ_STR(c.listen, "0.0.0.0:7000");
    CHECK_EQ_INT(c.workers, 4);
    CHECK_EQ_STR(c.cors_origins, "https://a.example");
    config_cleanup(&c);
    f = fopen(path, "w");
    fprintf(f, "bogus = 1\n");
    fclose(f);
    char *argv2[] = {"serve", "--config", path, NULL};
    CHECK_EQ_INT(config_load(&c, 3, argv2, err, sizeof err), DP_ERR_INVALID);
    CHECK(strstr(err, ":1") != NULL);
    config_cleanup(&c);
    unlink(path);
}

TEST(id_random_bits_differ_across_refills)
{
    /* 100 ids span several refills of the per-thread pool of random bytes: no tail repeats. */
    static char tails[100][13];
    char id[ID_LEN];
    for (int i = 0; i < 100; i++) {
        id_new(id);
        memcpy(tails[i], id + 24, 12);
        tails[i][12] = 0;
        for (int j = 0; j < i; j++)
            CHECK(strcmp(tails[i], tails[j]) != 0);
    }
}

TEST(id_label_is_a_valid_uuidv7_and_varies)
{
    char a[ID_LEN], b[ID_LEN];
    id_new_label(a);
    id_new_label(b);
    CHECK(id_valid(a) && id_valid(b));
    CHECK_EQ_INT(a[14], '7');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) != 0);
}
