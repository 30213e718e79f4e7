/* Unit tests of the text toolkit: core/utf8.c (decode, encode, validate), core/text.c (words,
 * folding, keys, stop words, hexval) and core/hash.h (FNV-1a). */
#include <string.h>

#include "../test.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/utf8.h"

static size_t dec(const char *s, size_t n, uint32_t *cp)
{
    return utf8_decode((const unsigned char *)s, n, cp);
}

TEST(utf8_decode_accepts_each_length_and_refuses_what_rfc3629_refuses)
{
    uint32_t cp = 0;
    CHECK_EQ_INT(dec("A", 1, &cp), 1);
    CHECK_EQ_INT(cp, 'A');
    CHECK_EQ_INT(dec("\xc3\xbc", 2, &cp), 2); /* ü */
    CHECK_EQ_INT(cp, 0xfc);
    CHECK_EQ_INT(dec("\xe2\x82\xac", 3, &cp), 3); /* € */
    CHECK_EQ_INT(cp, 0x20ac);
    CHECK_EQ_INT(dec("\xf0\x9f\x98\x80", 4, &cp), 4); /* U+1F600 */
    CHECK_EQ_INT(cp, 0x1f600);
    CHECK_EQ_INT(dec("\xf4\x8f\xbf\xbf", 4, &cp), 4); /* U+10FFFF, the last one */
    CHECK_EQ_INT(dec("", 0, &cp), 0);
    /* overlong forms */
    CHECK_EQ_INT(dec("\xc0\x80", 2, &cp), 0);
    CHECK_EQ_INT(dec("\xc1\xbf", 2, &cp), 0);
    CHECK_EQ_INT(dec("\xe0\x80\x80", 3, &cp), 0);
    CHECK_EQ_INT(dec("\xe0\x9f\xbf", 3, &cp), 0);
    CHECK_EQ_INT(dec("\xf0\x80\x80\x80", 4, &cp), 0);
    CHECK_EQ_INT(dec("\xf0\x8f\xbf\xbf", 4, &cp), 0);
    /* surrogates, and beyond U+10FFFF */
    CHECK_EQ_INT(dec("\xed\xa0\x80", 3, &cp), 0);
    CHECK_EQ_INT(dec("\xed\xbf\xbf", 3, &cp), 0);
    CHECK_EQ_INT(dec("\xed\x9f\xbf", 3, &cp), 3); /* U+D7FF is fine */
    CHECK_EQ_INT(dec("\xf4\x90\x80\x80", 4, &cp), 0);
    CHECK_EQ_INT(dec("\xf5\x80\x80\x80", 4, &cp), 0);
    CHECK_EQ_INT(dec("\xff", 1, &cp), 0);
    /* truncated: by the length, or by a byte that is not a continuation */
    CHECK_EQ_INT(dec("\xe2\x82\xac", 2, &cp), 0);
    CHECK_EQ_INT(dec("\xf0\x9f\x98", 3, &cp), 0);
    CHECK_EQ_INT(dec("\xe2\x82"
                     "A",
                     3, &cp),
                 0);
    CHECK_EQ_INT(dec("\x80", 1, &cp), 0); /* a stray continuation byte */
    CHECK_EQ_INT(dec("\xc3\xbc", 2, NULL), 2);
}

TEST(utf8_next_reads_a_broken_byte_as_one_replacement_character)
{
    size_t len;
    CHECK_EQ_INT(utf8_next((const unsigned char *)"\xff"
                                                  "a",
                           2, &len),
                 UTF8_REPLACEMENT);
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(utf8_next((const unsigned char *)"\xe2\x82", 2, &len), UTF8_REPLACEMENT);
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(utf8_next((const unsigned char *)"\xce\xb1", 2, &len), 0x3b1);
    CHECK_EQ_INT(len, 2);
}

TEST(utf8_encode_round_trips_and_replaces_what_cannot_be_encoded)
{
    static const uint32_t cps[] = {0, 'z', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        char b[4];
        uint32_t back = 1;
        size_t n = utf8_encode(cps[i], b);
        CHECK_EQ_INT(dec(b, n, &back), n);
        CHECK_EQ_INT(back, cps[i]);
    }
    char b[4];
    CHECK_EQ_INT(utf8_encode(0xd800, b), 3);
    CHECK(!memcmp(b, "\xef\xbf\xbd", 3));
    CHECK_EQ_INT(utf8_encode(0x110000, b), 3);
    CHECK(!memcmp(b, "\xef\xbf\xbd", 3));
}

TEST(utf8_valid_and_cut)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("Zo\xc3\xab \xe6\x9d\xb1", 8));
    CHECK(!utf8_valid("Zo\xc3", 3));
    CHECK(!utf8_valid("\xed\xa0\x80", 3));
    const char *s = "a\xe6\x9d\xb1"
                    "b"; /* a 東 b */
    CHECK_EQ_INT(utf8_cut(s, 1), 1);
    CHECK_EQ_INT(utf8_cut(s, 2), 1);
    CHECK_EQ_INT(utf8_cut(s, 3), 1);
    CHECK_EQ_INT(utf8_cut(s, 4), 4);
}

/* The words of s, each between [ ], into out. */
static void words_of(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s, *st;
    *out = 0;
    for (size_t n; (n = text_next_word(&p, &st));)
        sprintf(out + strlen(out), "[%.*s]", (int)n, (const char *)st);
}

TEST(text_words_split_at_apostrophes_hyphens_and_punctuation_and_keep_digits_and_cjk_runs)
{
    char w[256];
    words_of("Don't stop: well-known mp3s, 1984!", w);
    CHECK_EQ_STR(w, "[Don][t][stop][well][known][mp3s][1984]");
    words_of("l\xe2\x80\x99\xc3\xa9"
             "cole \xe2\x80\x94 caf\xc3\xa9\xc2\xa0noir",
             w); /* l’école — café noir */
    CHECK_EQ_STR(w, "[l][\xc3\xa9"
                    "cole][caf\xc3\xa9][noir]");
    words_of("\xe6\x9d\xb1\xe4\xba\xac\xe3\x80\x80\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc\xe3\x80\x82",
             w); /* 東京　タワー。 */
    CHECK_EQ_STR(w, "[\xe6\x9d\xb1\xe4\xba\xac][\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc]");
    words_of("  ...  ", w);
    CHECK_EQ_STR(w, "");
    CHECK_EQ_INT(text_count_words("Don't stop, well-known", 22), 5);
    CHECK_EQ_INT(text_count_words("Don't stop", 3), 1);
}

TEST(text_fold_latin_greek_cyrillic_and_turkish)
{
    CHECK_EQ_INT(text_fold('A'), 'a');
    CHECK_EQ_INT(text_fold(0xc9), 'e');    /* É */
    CHECK_EQ_INT(text_fold(0xdc), 'u');    /* Ü */
    CHECK_EQ_INT(text_fold(0xe7), 'c');    /* ç */
    CHECK_EQ_INT(text_fold(0x141), 0x142); /* Ł → ł (no decomposition: kept, lower-cased) */
    CHECK_EQ_INT(text_fold(0xc6), 0xe6);   /* Æ → æ */
    CHECK_EQ_INT(text_fold(0x15e), 's');   /* Ş */
    CHECK_EQ_INT(text_fold(0x130), 'i');   /* İ */
    CHECK_EQ_INT(text_fold(0x131), 'i');   /* ı */
    CHECK_EQ_INT(text_fold(0x393), 0x3b3); /* Γ → γ */
    CHECK_EQ_INT(text_fold(0x386), 0x3b1); /* Ά → α */
    CHECK_EQ_INT(text_fold(0x3ca), 0x3b9); /* ϊ → ι */
    CHECK_EQ_INT(text_fold(0x390), 0x3b9); /* ΐ → ι */
    CHECK_EQ_INT(text_fold(0x3c2), 0x3c3); /* ς → σ */
    CHECK_EQ_INT(text_fold(0x416), 0x436); /* Ж → ж */
    CHECK_EQ_INT(text_fold(0x401), 0x435); /* Ё → е */
    CHECK_EQ_INT(text_fold(0x451), 0x435); /* ё → е */
    CHECK_EQ_INT(text_fold(0x419), 0x439); /* Й → й (a letter of its own) */
    CHECK_EQ_INT(text_fold(0x490), 0x491); /* Ґ → ґ */
    CHECK_EQ_INT(text_fold(0x7956), 0x7956);
    CHECK_EQ_INT(text_fold(0xd7), 0xd7); /* × */
    /* text_lower keeps the accents */
    CHECK_EQ_INT(text_lower(0xdc), 0xfc);
    CHECK_EQ_INT(text_lower(0x386), 0x3ac);
    CHECK_EQ_INT(text_lower(0x401), 0x451);
    CHECK_EQ_INT(text_lower(0x1ea0), 0x1ea1);               /* Ạ → ạ */
    CHECK_EQ_INT(text_lower(0x178), 0xff);                  /* Ÿ → ÿ */
    CHECK(text_lower_eq("ZO\xc3\x8b", 4, "zo\xc3\xab", 4)); /* ZOË, zoë */
    CHECK(!text_lower_eq("Zoe", 3, "Zo\xc3\xab", 4));       /* accents count */
    CHECK(!text_lower_eq("Ann", 3, "Anna", 4));
    CHECK(text_is_upper('Q') && !text_is_upper('q') && text_is_upper(0x416) && !text_is_upper(0x7956));
    CHECK(text_is_letter(0xe9) && text_is_letter(0x3b1) && text_is_letter(0x7956) && !text_is_letter('7') &&
          !text_is_letter(0xd7) && !text_is_letter(0x1f600));
}

static const char *folded(const char *w)
{
    static char out[TEXT_KEY_MAX + 1];
    out[text_fold_word((const unsigned char *)w, strlen(w), out, TEXT_KEY_MAX)] = 0;
    return out;
}

static const char *key(const char *w)
{
    static char out[TEXT_KEY_MAX + 1];
    out[text_word_key((const unsigned char *)w, strlen(w), out)] = 0;
    return out;
}

TEST(text_fold_word_sharp_s_combining_marks_and_the_cut)
{
    CHECK_EQ_STR(folded("Stra\xc3\x9f"
                        "e"),
                 "strasse"); /* Straße */
    CHECK_EQ_STR(folded("STRASSE"), "strasse");
    CHECK_EQ_STR(folded("\xe1\xba\x9e"), "ss");          /* ẞ */
    CHECK_EQ_STR(folded("Mu\xcc\x88ller"), "muller");    /* decomposed ü */
    CHECK_EQ_STR(folded("M\xc3\x9cLLER"), "muller");     /* MÜLLER */
    CHECK_EQ_STR(folded("\xcc\x88"), "\xcc\x88");        /* a lone mark stays */
    CHECK_EQ_STR(folded("\xc4\xb0stanbul"), "istanbul"); /* İstanbul */
    CHECK_EQ_STR(folded("\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\x91\xce\xa3"),
                 "\xce\xbf\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xce\xb1\xcf\x83"); /* ΟΔΥΣΣΕΑΣ → οδυσσεας */
    char out[8];
    /* A cut never splits a character: 東 is three bytes, so seven bytes hold two. */
    CHECK_EQ_INT(text_fold_word((const unsigned char *)"\xe6\x9d\xb1\xe6\x9d\xb1\xe6\x9d\xb1", 9, out, 7), 6);
    char low[16];
    size_t n = text_lower_word((const unsigned char *)"Z\xc3\x96\xc3\x9f", 5, low, sizeof low); /* ZÖß */
    CHECK_EQ_INT(n, 5);
    CHECK(!memcmp(low, "z\xc3\xb6\xc3\x9f", 5));
}

TEST(text_word_key_takes_one_inflection_off)
{
    CHECK_EQ_STR(key("planted"), "plant");
    CHECK_EQ_STR(key("Planting"), "plant");
    CHECK_EQ_STR(key("plants"), "plant");
    CHECK_EQ_STR(key("stories"), "story");
    CHECK_EQ_STR(key("named"), key("name"));
    CHECK_EQ_STR(key("bed"), "bed");
    CHECK_EQ_STR(key("M\xc3\xbcller"), key("MULLERS"));
    char out[TEXT_KEY_MAX];
    char longw[200];
    memset(longw, 'x', sizeof longw);
    CHECK_EQ_INT(text_word_key((const unsigned char *)longw, sizeof longw, out), TEXT_KEY_MAX);
}

TEST(text_stop_words_are_ascii_any_case_and_lone_letters)
{
    CHECK(text_is_stop((const unsigned char *)"the", 3));
    CHECK(text_is_stop((const unsigned char *)"YOUR", 4));
    CHECK(text_is_stop((const unsigned char *)"s", 1)); /* what's */
    CHECK(!text_is_stop((const unsigned char *)"7", 1));
    CHECK(!text_is_stop((const unsigned char *)"theme", 5));
    CHECK(!text_is_stop((const unsigned char *)"th\xc3\xa9", 4)); /* thé */
    CHECK(!text_is_stop((const unsigned char *)"", 0));
    CHECK(text_is_stop((const unsigned char *)"ve", 2));   /* you've */
    CHECK(text_is_stop((const unsigned char *)"Didn", 4)); /* didn't */
    CHECK(!text_is_stop((const unsigned char *)"don", 3)); /* don't, but also Don */
}

TEST(text_stop_words_are_sorted_for_bsearch)
{
    /* Every stop word is found, which bsearch does only when the list is sorted. */
    static const char *const some[] = {"a",      "about",   "aren", "by",   "couldn", "hasn",   "just", "ll",
                                       "really", "shouldn", "ve",   "wasn", "which",  "wouldn", "you",  "your"};
    for (size_t i = 0; i < sizeof some / sizeof *some; i++)
        CHECK(text_is_stop((const unsigned char *)some[i], strlen(some[i])));
}

TEST(text_hexval)
{
    CHECK_EQ_INT(text_hexval('0'), 0);
    CHECK_EQ_INT(text_hexval('9'), 9);
    CHECK_EQ_INT(text_hexval('a'), 10);
    CHECK_EQ_INT(text_hexval('F'), 15);
    CHECK_EQ_INT(text_hexval('g'), -1);
    CHECK_EQ_INT(text_hexval((char)0xc3), -1);
}

TEST(hash_fnv1a_known_values)
{
    /* The published test vectors (draft-eastlake-fnv): the 64-bit offset basis is
     * 14695981039346656037, which two copies once mistyped. */
    CHECK_EQ_INT(hash_fnv1a("", 0), 0x811c9dc5);
    CHECK_EQ_INT(hash_fnv1a("a", 1), 0xe40c292c);
    CHECK_EQ_INT(hash_fnv1a("foobar", 6), 0xbf9cf968);
    CHECK(hash_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    CHECK(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}

TEST(text_sentence_end_passes_titles_and_initials_before_a_name)
{
    const char *t = "I met her at a St. Patrick's Day dance. Dr. Patel said so. J. R. Smith came. Then Plan B. ended.";
    const char *e = text_sentence_end(t);
    CHECK_EQ_INT((int)(e - t), (int)strlen("I met her at a St. Patrick's Day dance."));
    const char *e2 = text_sentence_end(e + 1);
    CHECK_EQ_INT((int)(e2 - (e + 1)), (int)strlen("Dr. Patel said so."));
    const char *e3 = text_sentence_end(e2 + 1);
    CHECK_EQ_INT((int)(e3 - (e2 + 1)), (int)strlen("J. R. Smith came."));
    /* a word ending in "st" is no title: "the first. Then" ends a sentence */
    const char *u = "He came first. Then she did.";
    CHECK_EQ_INT((int)(text_sentence_end(u) - u), (int)strlen("He came first."));
}

TEST(text_question_frame_words_any_case_whole_words_only)
{
    const char *yes[] = {"kind", "Kind", "TYPES", "mentioned", "say", "shared", "usually", "something"};
    const char *no[] = {"kindness",
                        "music",
                        "shar",
                        "",
                        "wayward",
                        "sayings",
                        ("m\xc3\xbc"
                         "ch")};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        CHECK(text_is_question_frame((const unsigned char *)yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK(!text_is_question_frame((const unsigned char *)no[i], strlen(no[i])));
}

TEST(text_says_you_in_any_case_as_a_whole_word)
{
    CHECK(text_says_you("What did you teach Lily?"));
    CHECK(text_says_you("Where is YOUR medal?"));
    CHECK(text_says_you("Did you'd… tell it yourself"));
    CHECK(!text_says_you("Where is the youth club?"));
    CHECK(!text_says_you("Tell me about Lily"));
}
