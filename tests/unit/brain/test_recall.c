/* Tests of the recall brain (src/brain/recall.c) straight through brain_ops: dialogue answers by
 * the avatar's own speaker, passage excerpts, "don't remember", and cancellation. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "brain/memory.h"
#include "brain/recall_person.h"
#include "core/err.h"
#include "core/id.h"
#include "store/db.h"
#include "../test.h"
#include "brain_db.h"
#include "talk/talk.h" /* the persona and voice a conversation hands the brain */

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* A dialogue in media m1 (seq order) and one long passage, for avatar a1 ("Grandpa Joe"). */
static void seed(struct db *db)
{
    OK(db_exec_script(db, "INSERT INTO media (id, avatar_id, owner_id, blob_key, size, mime, kind, filename, status, "
                          "created_at, updated_at) VALUES ('m1', 'a1', 'u1', 'k', 1, 'text/plain', 'text', 'chat.txt', "
                          "'ready', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"));
    static const char *const turns[][2] = {
        {"Lily", "Grandpa, who taught you to play cribbage?"},
        {"Lily", "I mean the card game, the one with the wooden board."},
        {"Grandpa Joe", "My uncle Walt taught me on the porch when I was nine."},
        {"Lily", "Do you still play?"},
        {"Joe", "Every Thursday with the fellows from the museum."},
    };
    for (int i = 0; i < 5; i++) {
        char id[ID_LEN];
        snprintf(id, sizeof id, "00000000-0000-7000-8000-00000000000%d", i); /* ids are UUIDs */
        struct db_val p[] = {DB_TEXT(id), DB_TEXT(turns[i][1]), DB_TEXT(turns[i][0]), DB_INT(i)};
        OK(db_query(db,
                    "INSERT INTO memories (id, avatar_id, kind, text, media_id, speaker, seq, created_at, updated_at) "
                    "VALUES (?, 'a1', 'utterance', ?, 'm1', ?, ?, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                    p, 4, NULL));
    }
    json_t *m = NULL;
    OK(memory_create(db, "a1",
                     "The Workshop. So I became a woodworker after the Navy, because I could not sit still. I turned "
                     "the garage on Woodland Avenue into a shop with a table saw and a lathe. For each new "
                     "grandbaby I built a cradle of cherry wood, rubbed with linseed oil until it glowed. The "
                     "neighbours brought me broken chairs and I mended them for a dollar, which was mostly an "
                     "excuse to talk. Rosa said the sawdust followed me into every room of the house.",
                     "passage", 0.5, NULL, &m));
    json_decref(m);
}

static int ask(struct db *db, const char *message, struct brain_reply *out, int (*cancelled)(void *))
{
    json_t *history = json_array();
    struct brain_input in = {db,        "a1", "Grandpa Joe",      "Well hello!",    message, history,
                             cancelled, NULL, talk_brain_persona, talk_brain_voice, NULL,    0};
    int err = brain_for("recall")->reply(&in, out);
    json_decref(history);
    return err;
}

static const char *cited(const struct brain_reply *r)
{
    return json_string_value(json_object_get(json_array_get(r->citations, 0), "memory_id"));
}

TEST(recall_dialogue_answers_with_the_avatars_next_turn_or_its_own_line)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r;
    /* Lily's question matches; the answer is Grandpa Joe's next turn, not Lily's follow-up. */
    OK(ask(db, "Who taught you cribbage?", &r, NULL));
    CHECK_EQ_STR(cited(&r), "00000000-0000-7000-8000-000000000002");
    CHECK(strstr(r.text, "uncle Walt") != NULL);
    brain_reply_cleanup(&r);
    /* The avatar's own line ("Joe" is a word of its name) is quoted as it is. */
    OK(ask(db, "Which fellows from the museum?", &r, NULL));
    CHECK_EQ_STR(cited(&r), "00000000-0000-7000-8000-000000000004");
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(recall_long_passage_answers_with_the_matching_sentence_and_cites_the_passage)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r;
    OK(ask(db, "What did you build for each new grandbaby?", &r, NULL));
    CHECK_EQ_STR(r.text, "For each new grandbaby I built a cradle of cherry wood, rubbed with linseed oil until it "
                         "glowed. The neighbours brought me broken chairs and I mended them for a dollar, which was "
                         "mostly an excuse to talk.");
    CHECK(json_array_size(r.citations) == 1);
    CHECK(strstr(json_string_value(json_object_get(json_array_get(r.citations, 0), "text")), "The Workshop") != NULL);
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(recall_two_word_question_needs_both_words)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r;
    OK(ask(db, "Do you play golf?", &r, NULL)); /* "play" alone is in memory; "golf" is not */
    CHECK(strstr(r.text, "don't remember") != NULL);
    CHECK(json_array_size(r.citations) == 0);
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(recall_a_question_holding_a_hello_word_is_no_greeting)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r;
    OK(ask(db, "Who played every evening?", &r, NULL)); /* four words, one of them a hello word */
    CHECK(strcmp(r.text, "Well hello!") != 0);
    brain_reply_cleanup(&r);
    OK(ask(db, "Good evening, Grandpa", &r, NULL));
    CHECK_EQ_STR(r.text, "Well hello!");
    brain_reply_cleanup(&r);
    db_close(db);
}

static int always(void *ctx)
{
    (void)ctx;
    return 1;
}

TEST(recall_gives_up_when_the_caller_has_gone)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r = {0};
    CHECK_EQ_INT(ask(db, "Who taught you cribbage?", &r, always), DP_ERR_CANCELLED);
    CHECK(r.text == NULL);
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(recall_longer_question_needs_its_most_specific_word)
{
    struct db *db = brain_test_db();
    seed(db);
    struct brain_reply r;
    /* "uncle" and "Walt" are in one memory, "museum" in another: no memory answers all of it,
     * and the one with two of the words lacks the rarest of them. */
    OK(ask(db, "Which museum did uncle Walt run?", &r, NULL));
    CHECK(strstr(r.text, "don't remember") != NULL);
    brain_reply_cleanup(&r);
    OK(ask(db, "Where did uncle Walt teach you?", &r, NULL));
    CHECK_EQ_STR(cited(&r), "00000000-0000-7000-8000-000000000002");
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(search_finds_a_dialogue_turn_by_the_turn_it_answers)
{
    struct db *db = brain_test_db();
    seed(db);
    json_t *items = NULL;
    char *next = NULL, msg[128];
    /* "wooden board" is only in Lily's turn; Grandpa Joe's reply right after it is found too,
     * next: a neighbour's words count less than a memory's own. The turn before Lily's (its
     * neighbour too), the passage with "wood" (a related word) and Lily's later question (two
     * turns after hers, a question: it weighs least) may follow. */
    OK(memory_list(db, "a1", "wooden board", NULL, 10, &items, &next, msg, sizeof msg));
    free(next);
    CHECK(json_array_size(items) >= 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                 "00000000-0000-7000-8000-000000000001");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 1), "id")),
                 "00000000-0000-7000-8000-000000000002");
    json_decref(items);
    db_close(db);
}

/* ---- the persona card, imported dialogues, the person's own way of speaking ---- */

static void seed_card(struct db *db)
{
    OK(db_exec_script(db,
                      "UPDATE avatars SET description = '{{char}} mended chairs in the old garage. He likes trout. "
                      "He never learned to swim.', personality = 'Dry humour. Patient with children.', scenario = "
                      "'{{user}} visits on a Sunday afternoon.', extensions = '{\"card\":{\"data\":{\"mes_example\":"
                      "\"<START>\\n{{user}}: Who are you?\\n{{char}}: Just an old man with a lathe.\\n<START>\\n"
                      "{{user}}: Do you like jazz?\\n{{char}}: Only Ella, and only on Sundays.\\nThe rest is noise."
                      "\"}}}' WHERE id = 'a1';"));
}

static const char *cited_field(const struct brain_reply *r)
{
    return json_string_value(json_object_get(json_array_get(r->citations, 0), "field"));
}

TEST(recall_identity_questions_answer_from_the_card_fields_verbatim)
{
    struct db *db = brain_test_db();
    seed(db);
    seed_card(db);
    struct brain_reply r;
    /* The example dialogue asks exactly this: its line. */
    OK(ask(db, "Who are you?", &r, NULL));
    CHECK_EQ_STR(r.text, "Just an old man with a lathe.");
    CHECK_EQ_STR(cited_field(&r), "mes_example");
    CHECK(json_is_null(json_object_get(json_array_get(r.citations, 0), "memory_id")));
    CHECK(json_is_null(json_object_get(json_array_get(r.citations, 0), "source")));
    brain_reply_cleanup(&r);
    /* Otherwise the description's first two sentences, {{char}} read as the name. */
    OK(ask(db, "Tell me about yourself", &r, NULL));
    CHECK_EQ_STR(r.text, "Grandpa Joe mended chairs in the old garage. He likes trout.");
    CHECK_EQ_STR(cited_field(&r), "description");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(r.citations, 0), "text")), r.text);
    brain_reply_cleanup(&r);
    OK(ask(db, "So what are you like?", &r, NULL));
    CHECK_EQ_STR(r.text, "Dry humour. Patient with children.");
    CHECK_EQ_STR(cited_field(&r), "personality");
    brain_reply_cleanup(&r);
    OK(ask(db, "Where are we?", &r, NULL));
    CHECK_EQ_STR(r.text, "You visits on a Sunday afternoon."); /* {{user}} is the listener */
    CHECK_EQ_STR(cited_field(&r), "scenario");
    brain_reply_cleanup(&r);
    OK(ask(db, "What's your name?", &r, NULL));
    CHECK_EQ_STR(r.text, "Grandpa Joe"); /* the description does not say "Grandpa" */
    CHECK_EQ_STR(cited_field(&r), "name");
    brain_reply_cleanup(&r);
    /* "who are your friends" is not "who are you"; a long message is not an identity question;
     * a typographic apostrophe is one. */
    OK(ask(db, "Who are your friends?", &r, NULL));
    CHECK(strstr(r.text, "don't remember") != NULL);
    brain_reply_cleanup(&r);
    OK(ask(db, "I was wondering, after all these long years, who are you really now", &r, NULL));
    CHECK(!cited_field(&r));
    brain_reply_cleanup(&r);
    OK(ask(db, "what\xe2\x80\x99s your name", &r, NULL));
    CHECK_EQ_STR(r.text, "Grandpa Joe");
    brain_reply_cleanup(&r);
    /* A question only an example exchange answers: the avatar's line, continuation included. */
    OK(ask(db, "Do you like jazz music?", &r, NULL));
    CHECK_EQ_STR(r.text, "Only Ella, and only on Sundays.\nThe rest is noise.");
    CHECK_EQ_STR(cited_field(&r), "mes_example");
    brain_reply_cleanup(&r);
    /* Memories still answer what they hold. */
    OK(ask(db, "Who taught you cribbage?", &r, NULL));
    CHECK_EQ_STR(cited(&r), "00000000-0000-7000-8000-000000000002");
    brain_reply_cleanup(&r);
    db_close(db);
}

TEST(recall_imported_dialogue_without_media_answers_with_the_avatars_turn)
{
    struct db *db = brain_test_db();
    static const char *const turns[][2] = {
        {"Emma", "Who's Eddie?"},
        {"Grandpa Joe", "Eddie Salazar, my best buddy in the Navy."},
        {"Emma", "Where did you get your tattoo done?"},
        {"Grandpa Joe", "In Naples in 1961, on a dare from Eddie."},
    };
    for (int i = 0; i < 4; i++) {
        char id[ID_LEN];
        snprintf(id, sizeof id, "00000000-0000-7000-8000-00000000010%d", i);
        struct db_val p[] = {DB_TEXT(id), DB_TEXT(turns[i][1]), DB_TEXT(turns[i][0]), DB_INT(i)};
        OK(db_query(db,
                    "INSERT INTO memories (id, avatar_id, kind, text, speaker, seq, dialogue, created_at, updated_at) "
                    "VALUES (?, 'a1', 'utterance', ?, ?, ?, 'dlg1', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                    p, 4, NULL));
    }
    struct brain_reply r;
    OK(ask(db, "Who's Eddie?", &r, NULL));
    CHECK_EQ_STR(r.text, "Eddie Salazar, my best buddy in the Navy.");
    CHECK_EQ_STR(cited(&r), "00000000-0000-7000-8000-000000000101");
    brain_reply_cleanup(&r);
    /* The avatar's own line is found by the question it answers too (text_index.c). */
    json_t *items = NULL;
    char *next = NULL, msg[128];
    OK(memory_list(db, "a1", "tattoo", NULL, 10, &items, &next, msg, sizeof msg));
    free(next);
    CHECK_EQ_INT((int)json_array_size(items), 3); /* the question, its answer, the line before it */
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(items, 1), "id")),
                 "00000000-0000-7000-8000-000000000103");
    json_decref(items);
    db_close(db);
}

TEST(recall_speaks_in_the_persons_own_way)
{
    struct db *db = brain_test_db();
    struct brain_reply r;
    /* No own words yet: neutral. */
    json_t *history = json_array();
    struct brain_input in = {
        db, "a1", "Grandpa Joe", "", "Hi there", history, NULL, NULL, talk_brain_persona, talk_brain_voice, NULL, 0};
    OK(brain_for("recall")->reply(&in, &r));
    CHECK_EQ_STR(r.text, "Hello!");
    brain_reply_cleanup(&r);
    OK(db_exec_script(db, "INSERT INTO personality_samples (id, avatar_id, text, created_at) VALUES ('s1', 'a1', "
                          "'Morning! gonna fish, yeah. Morning again lol, it''s cool.', '2020-01-01T00:00:00Z');"));
    OK(brain_for("recall")->reply(&in, &r));
    CHECK_EQ_STR(r.text, "Morning!");
    brain_reply_cleanup(&r);
    in.message = "What did you think of the moon landing?";
    OK(brain_for("recall")->reply(&in, &r));
    CHECK_EQ_STR(r.text, "Sorry, I don't remember that one.");
    brain_reply_cleanup(&r);
    json_decref(history);
    db_close(db);
}

static void first_person_is(const char *text, const char *name, const char *want)
{
    char *got = recall_first_person(text, name);
    CHECK(got != NULL);
    if (got)
        CHECK_EQ_STR(got, want);
    free(got);
}

TEST(recall_first_person_turns_a_biography_about_the_avatar_into_its_own_words)
{
    first_person_is("Henry Walsh was born in Scranton in 1944. He kept the medal in a cigar box, and his wife "
                    "Margaret teased him about it.",
                    "Henry Walsh",
                    "I was born in Scranton in 1944. I kept the medal in a cigar box, and my wife Margaret teased "
                    "me about it.");
    first_person_is("Joe drinks his coffee black. Joe's birthday is in March. Rosa and Joe married in 1966.",
                    "Grandpa Joe", "I drink my coffee black. My birthday is in March. Rosa and I married in 1966.");
    first_person_is("Joe is a Vikings fan and has watched every game.", "Grandpa Joe",
                    "I am a Vikings fan and has watched every game.");
    first_person_is("Tommy phoned Joe every Sunday.", "Grandpa Joe", "Tommy phoned me every Sunday.");
    /* the avatar's name said as a name stays; another person's pronouns before the avatar is named stay */
    first_person_is("She said: my name is Joe, and Joe always watches.", "Grandpa Joe",
                    "She said: my name is Joe, and I always watches.");
    CHECK(recall_first_person("I was born in Scranton.", "Henry Walsh") == NULL);
    CHECK(recall_first_person("Katie Walsh was born in 2001.", "Henry Walsh") == NULL);
}
