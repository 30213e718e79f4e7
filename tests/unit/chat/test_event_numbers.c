/* Tests of src/chat/event_numbers.c on SQLite, where each user's event numbers are counted in
 * memory: consecutive within a transaction of several events, and none lost or skipped when a
 * transaction that took some is rolled back. */
#include <stdio.h>
#include <string.h>

#include "chat/events.h"
#include "core/err.h"
#include "core/log.h"
#include "store/db.h"
#include "../support.h"
#include "../test.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

/* Appends one event for user u1 in the open transaction; its number. */
static int64_t append(struct db *db)
{
    struct chat_recipient r = {.user_id = "u1"};
    OK(chat_events_append(db, "c1", &r, 1, "message.new", "{\"chat_id\":\"c1\"}"));
    return r.seq;
}

TEST(chat_event_numbers_survive_a_rolled_back_batch)
{
    char url[4096];
    snprintf(url, sizeof url, "%s/chat-numbers.db", test_tmpdir());
    struct db *db = NULL;
    log_min_level = LOG_WARN;
    OK(db_open(&db, url));
    OK(db_migrate(db, NULL));
    OK(db_exec_script(db, "INSERT INTO users (id, org_id, email, display_name, password_hash, role, created_at, "
                          "updated_at) VALUES ('u1', 'default', 'u1@example.test', 'U', 'x', 'member', "
                          "'2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"
                          "INSERT INTO chats (id, kind, created_by, created_at, updated_at) VALUES ('c1', 'group', "
                          "'u1', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');"
                          "INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES ('c1', 'u1', "
                          "'2020-01-01T00:00:00Z');"));
    /* A batch: several events in one transaction, numbered one after another. */
    OK(db_begin(db));
    CHECK(db_xact_id(db) != 0);
    CHECK_EQ_INT(append(db), 1);
    CHECK_EQ_INT(append(db), 2);
    CHECK_EQ_INT(append(db), 3);
    OK(db_commit(db));
    CHECK_EQ_INT(db_xact_id(db), 0);
    /* A batch that is rolled back after taking numbers: they are taken again. */
    OK(db_begin(db));
    CHECK_EQ_INT(append(db), 4);
    CHECK_EQ_INT(append(db), 5);
    OK(db_rollback(db));
    OK(db_begin(db));
    CHECK_EQ_INT(append(db), 4);
    CHECK_EQ_INT(append(db), 5);
    OK(db_commit(db));
    /* The log has every number once, in order. */
    struct chat_frames f = {0};
    OK(chat_events_since(db, "u1", 0, &f));
    CHECK_EQ_INT(f.n, 5);
    CHECK_EQ_INT(f.last_seq, 5);
    chat_frames_free(&f);
    db_close(db);
}
