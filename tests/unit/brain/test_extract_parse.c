/* A model's answer to the extraction prompt: strict JSON, JSON with a fence and trailing commas
 * (repaired), a list of lines, nothing usable. */
#include <jansson.h>
#include <string.h>

#include "brain/extract.h"
#include "core/err.h"
#include "../test.h"

static const char *text_at(json_t *facts, size_t i)
{
    return json_string_value(json_object_get(json_array_get(facts, i), "text"));
}

TEST(extract_parse_strict_repaired_lines)
{
    json_t *f;
    int how;
    const char *strict = "{\"facts\":[{\"text\":\" I was born in Leeds. \",\"importance\":0.9},\"I sang.\"]}";
    CHECK_EQ_INT(extract_parse(strict, strlen(strict), &f, &how), DP_OK);
    CHECK_EQ_INT(how, 0);
    CHECK_EQ_INT((int)json_array_size(f), 2);
    CHECK_EQ_STR(text_at(f, 0), "I was born in Leeds.");
    CHECK(json_number_value(json_object_get(json_array_get(f, 1), "importance")) == 0.5);
    json_decref(f);
    const char *fenced = "Here:\n```json\n{\"facts\": [{\"text\": \"a, b]\",}, \"c\",]}\n```";
    CHECK_EQ_INT(extract_parse(fenced, strlen(fenced), &f, &how), DP_OK);
    CHECK_EQ_INT(how, 1);
    CHECK_EQ_STR(text_at(f, 0), "a, b]");
    CHECK_EQ_STR(text_at(f, 1), "c");
    json_decref(f);
    const char *lines = "Facts:\n1. I was a nurse.\n- We rowed.\n";
    CHECK_EQ_INT(extract_parse(lines, strlen(lines), &f, &how), DP_OK);
    CHECK_EQ_INT(how, 2);
    CHECK_EQ_STR(text_at(f, 1), "We rowed.");
    json_decref(f);
    CHECK_EQ_INT(extract_parse("no facts here", 13, &f, &how), DP_ERR_INVALID);
    CHECK(f == NULL);
}

/* Trait evidence beside the facts: known traits with a score in [0, 1] and words that show it,
 * repaired like the facts; an unknown trait, a score out of range, no evidence: dropped. */
TEST(extract_parse_traits_kept_and_dropped)
{
    const char *a =
        "```json\n{\"facts\": [], \"traits\": [{\"trait\": \"humour\", \"score\": 0.8, \"evidence\": \" "
        "haha, you again! \"}, {\"trait\": \"malice\", \"score\": 0.9, \"evidence\": \"x\"}, {\"trait\": "
        "\"warmth\", \"score\": 1.5, \"evidence\": \"x\"}, {\"trait\": \"curiosity\", \"score\": 0.4},]}\n```";
    json_t *t = extract_parse_traits(a, strlen(a));
    CHECK_EQ_INT((int)json_array_size(t), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(t, 0), "trait")), "humour");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(t, 0), "evidence")), "haha, you again!");
    CHECK(json_number_value(json_object_get(json_array_get(t, 0), "score")) == 0.8);
    json_decref(t);
    t = extract_parse_traits("- a fact line", 13);
    CHECK(t && json_array_size(t) == 0);
    json_decref(t);
}

/* The lines a fact came from: those sharing the most content words with it (word keys: "lives"
 * meets "live"), and any sharing at least half as many; none when no line shares a word. */
TEST(extract_fact_lines_by_shared_words)
{
    const char *lines[] = {"my sister lives in lisbon", "the weather was cold", "we will visit lisbon in may",
                           "she plans to visit in june"};
    int picked[4];
    CHECK_EQ_INT(extract_fact_lines("My sister Ana live in Lisbon.", lines, 4, picked), 2);
    CHECK(picked[0] && !picked[1] && picked[2] && !picked[3]); /* the first shares most, the third half as many */
    CHECK_EQ_INT(extract_fact_lines("I plan to visit Lisbon.", lines, 4, picked), 3);
    CHECK(picked[0] && !picked[1] && picked[2] && picked[3]);
    CHECK_EQ_INT(extract_fact_lines("The dog barked.", lines, 4, picked), 0);
    CHECK(!picked[0] && !picked[1] && !picked[2] && !picked[3]);
}
