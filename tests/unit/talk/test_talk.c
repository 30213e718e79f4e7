/* talk/: a turn's pieces reach the sink — a brain that streams sends its own, one that answers
 * whole is streamed word by word — and the reply stored is the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/registry.h"
#include "store/db.h"
#include "talk/talk.h"
#include "../brain/brain_db.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

struct heard {
    struct buf text;
    int deltas, citations;
};

static void on_delta(void *ctx, const char *text, size_t len)
{
    struct heard *h = ctx;
    buf_append(&h->text, text, len);
    h->deltas++;
}

static void on_citation(void *ctx, json_t *c)
{
    (void)c;
    ((struct heard *)ctx)->citations++;
}

/* A brain that makes its reply in three pieces, as a language model would. */
static int pieces_reply(const struct brain_input *in, struct brain_reply *out)
{
    static const char *const pieces[] = {"Sailing ", "on the ", "lake."};
    for (int i = 0; i < 3; i++)
        if (in->sink && in->sink->delta)
            in->sink->delta(in->sink->ctx, pieces[i], strlen(pieces[i]));
    out->text = strdup("Sailing on the lake.");
    out->citations = json_array();
    out->streamed = 1;
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

static const struct brain_ops pieces_brain = {"generative", pieces_reply, NULL, NULL};
/* The schema allows recall and generative only: the test brain takes the generative row's place
 * (each test runs in a process of its own). */
static const struct backend pieces_row = {"generative", NULL, 0, &pieces_brain};

static void replace_generative(void)
{
    struct registry *r = brain_registry();
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i]->name, "generative"))
            r->rows[i] = &pieces_row;
}

/* Asks avatar a1 `question` with its brain set to `brain`; *reply is the stored message. */
static void ask(struct db *db, const char *brain, const char *question, struct heard *h, json_t **reply)
{
    char sql[128], conv[ID_LEN], mid[ID_LEN];
    snprintf(sql, sizeof sql, "UPDATE avatars SET brain = '%s' WHERE id = 'a1'", brain);
    OK(db_exec_script(db, sql));
    json_t *greeting;
    struct talk_holder holder = {"u1", NULL};
    OK(talk_start(db, "a1", &holder, conv, &greeting));
    json_decref(greeting);
    OK(talk_add_user_message(db, conv, question, mid));
    const struct brain_sink sink = {on_delta, on_citation, h, NULL};
    OK(talk_answer(db, conv, "a1", mid, question, NULL, NULL, &sink, reply));
}

TEST(talk_a_streaming_brain_sends_its_own_pieces)
{
    struct db *db = brain_test_db();
    replace_generative();
    struct heard h = {0};
    buf_init(&h.text, 0);
    json_t *reply;
    ask(db, "generative", "Where did you sail?", &h, &reply);
    CHECK_EQ_INT(h.deltas, 3);
    CHECK_EQ_STR(h.text.data, "Sailing on the lake.");
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "text")), "Sailing on the lake.");
    json_decref(reply);
    buf_cleanup(&h.text);
    db_close(db);
}

TEST(talk_a_whole_reply_is_streamed_word_by_word)
{
    struct db *db = brain_test_db();
    struct heard h = {0};
    buf_init(&h.text, 0);
    json_t *reply;
    ask(db, "recall", "Hello!", &h, &reply);
    const char *text = json_string_value(json_object_get(reply, "text"));
    CHECK(text && *text);
    CHECK_EQ_STR(h.text.data, text); /* the pieces are the stored reply, spaces and all */
    int words = 1;
    for (const char *p = text; *p; p++)
        words += *p == ' ' && p[1] && p[1] != ' ';
    CHECK_EQ_INT(h.deltas, words);
    json_decref(reply);
    buf_cleanup(&h.text);
    db_close(db);
}

/* A spoken reply cut short keeps what was heard; one not heard at all goes; only avatar replies
 * of that conversation are touched. */
TEST(talk_cut_reply_keeps_what_was_heard)
{
    struct db *db = brain_test_db();
    struct heard h = {0};
    buf_init(&h.text, 0);
    json_t *reply;
    ask(db, "recall", "Hello!", &h, &reply);
    const char *mid = json_string_value(json_object_get(reply, "id"));
    struct db_val p[] = {DB_TEXT(mid)};
    struct db_rows *r;
    OK(db_query(db, "SELECT conversation_id FROM messages WHERE id = ?", p, 1, &r));
    char conv[ID_LEN];
    snprintf(conv, sizeof conv, "%s", db_rows_text(r, 0, 0));
    db_rows_free(r);
    CHECK_EQ_INT(talk_cut_reply(db, "00000000-0000-7000-8000-000000000000", mid, "Sailing"), DP_ERR_NOT_FOUND);
    OK(talk_cut_reply(db, conv, mid, "Sailing\xe2\x80\xa6"));
    OK(db_query(db, "SELECT text FROM messages WHERE id = ?", p, 1, &r));
    CHECK_EQ_STR(db_rows_text(r, 0, 0), "Sailing\xe2\x80\xa6");
    db_rows_free(r);
    OK(talk_cut_reply(db, conv, mid, ""));
    OK(db_query(db, "SELECT id FROM messages WHERE id = ?", p, 1, &r));
    CHECK_EQ_INT(r->nrows, 0); /* gone */
    db_rows_free(r);
    CHECK_EQ_INT(talk_cut_reply(db, conv, mid, ""), DP_ERR_NOT_FOUND);
    /* The question is the user's: never cut. */
    OK(db_query(db, "SELECT id FROM messages WHERE conversation_id = ? AND role = 'user'",
                (struct db_val[]){DB_TEXT(conv)}, 1, &r));
    CHECK_EQ_INT(talk_cut_reply(db, conv, db_rows_text(r, 0, 0), ""), DP_ERR_NOT_FOUND);
    db_rows_free(r);
    json_decref(reply);
    buf_cleanup(&h.text);
    db_close(db);
}

TEST(talk_a_conversation_is_full_at_its_max)
{
    struct db *db = brain_test_db();
    OK(db_exec_script(db, "INSERT INTO conversations (id, avatar_id, user_id, created_at, updated_at) "
                          "VALUES ('c1', 'a1', NULL, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"));
    int full = -1;
    OK(talk_conversation_full(db, "c1", 3, &full));
    CHECK_EQ_INT(full, 0);
    for (int i = 0; i < 3; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "INSERT INTO messages (id, conversation_id, role, text, created_at) "
                 "VALUES ('m%d', 'c1', 'user', 'hi', '2020-01-01T00:00:00Z');",
                 i);
        OK(db_exec_script(db, sql));
        OK(talk_conversation_full(db, "c1", 3, &full));
        CHECK_EQ_INT(full, i == 2);
    }
    OK(talk_conversation_full(db, "c2", 1, &full)); /* another conversation's messages do not count */
    CHECK_EQ_INT(full, 0);
    db_close(db);
}
