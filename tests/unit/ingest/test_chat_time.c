/* Unit tests of ingest/chat_time.c and the times dialogue_parse() gives chat lines. */
#include <string.h>

#include "../test.h"
#include "core/timeutil.h"
#include "ingest/chat_time.h"
#include "ingest/dialogue.h"

static const char *when(int64_t ms)
{
    static char out[RFC3339_LEN];
    if (!ms)
        return "none";
    time_rfc3339(ms, out);
    return out;
}

static struct chat_stamp stamp(const char *s)
{
    struct chat_stamp st;
    chat_stamp_read(s, strlen(s), &st);
    return st;
}

TEST(chat_time_reads_android_ios_iso_and_12_hour_stamps)
{
    struct chat_stamp st = stamp("12/03/2021, 14:22 - ");
    CHECK(st.ok);
    CHECK_EQ_STR(when(chat_stamp_ms(&st, CHAT_DMY)), "2021-03-12T14:22:00.000Z");
    CHECK_EQ_STR(when(chat_stamp_ms(&st, CHAT_MDY)), "2021-12-03T14:22:00.000Z");
    st = stamp("[3/12/21, 2:22:05\xE2\x80\xAFPM]");
    CHECK_EQ_STR(when(chat_stamp_ms(&st, CHAT_MDY)), "2021-03-12T14:22:05.000Z");
    st = stamp("[12.03.21, 12:05:00 AM] ");
    CHECK_EQ_STR(when(chat_stamp_ms(&st, CHAT_DMY)), "2021-03-12T00:05:00.000Z");
    st = stamp("2021-03-12 14:25");
    CHECK_EQ_STR(when(chat_stamp_ms(&st, CHAT_MDY)), "2021-03-12T14:25:00.000Z"); /* order is the stamp's own */
    st = stamp("31/02/2021, 10:00");                                              /* no 31 February */
    CHECK_EQ_INT(chat_stamp_ms(&st, CHAT_DMY), 0);
    CHECK(!stamp("12/03/2021").ok);   /* no time */
    CHECK(!stamp("1/2/3, 25:00").ok); /* no such hour */
    CHECK(!stamp("1/2/2021, 13:00 PM").ok);
    CHECK(!stamp("").ok);
}

TEST(chat_time_day_month_order_is_guessed_from_the_whole_file)
{
    /* a day over 12 anywhere says day first; a second field over 12 says month first */
    struct chat_stamp dmy[] = {stamp("01/02/2021, 10:00"), stamp("25/02/2021, 10:00")};
    CHECK_EQ_INT(chat_stamp_order(dmy, 2), CHAT_DMY);
    struct chat_stamp mdy[] = {stamp("01/02/2021, 10:00"), stamp("02/25/2021, 10:00")};
    CHECK_EQ_INT(chat_stamp_order(mdy, 2), CHAT_MDY);
    /* nothing over 12: the order in which the chat goes forward (month first: 2, 3, 4 January, 1
     * February; day first it would go February, March, April and back to January) */
    struct chat_stamp fwd[] = {stamp("01/02/2021, 10:00"), stamp("01/03/2021, 10:00"), stamp("01/04/2021, 10:00"),
                               stamp("02/01/2021, 10:00")};
    CHECK_EQ_INT(chat_stamp_order(fwd, 4), CHAT_MDY);
    struct chat_stamp back[] = {stamp("02/01/2021, 10:00"), stamp("03/01/2021, 10:00"), stamp("01/02/2021, 10:00")};
    CHECK_EQ_INT(chat_stamp_order(back, 3), CHAT_DMY);
    struct chat_stamp none[] = {stamp("01/01/2021, 10:00")};
    CHECK_EQ_INT(chat_stamp_order(none, 1), CHAT_DMY);
}

TEST(chat_time_whatsapp_lines_get_their_time_plain_lines_none)
{
    const char *s = "[05/04/2021, 09:15:02] Anna: Did you see the harbour?\n"
                    "[05/04/2021, 09:16:40] Ben: Yes, this morning\n"
                    "a second line of Ben's message\n"
                    "[14/04/2021, 21:03:00] Anna: Back home now\n"
                    "[15/04/2021, 8:01:00 AM] Ben: Good morning\n";
    struct dialogue d;
    CHECK_EQ_INT(dialogue_parse(s, strlen(s), &d), 0);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_STR(when(d.u[0].occurred_ms), "2021-04-05T09:15:02.000Z"); /* 14/04 elsewhere: day first */
    CHECK_EQ_STR(when(d.u[1].occurred_ms), "2021-04-05T09:16:40.000Z");
    CHECK_EQ_STR(when(d.u[2].occurred_ms), "2021-04-14T21:03:00.000Z");
    CHECK_EQ_STR(when(d.u[3].occurred_ms), "2021-04-15T08:01:00.000Z");
    dialogue_cleanup(&d);
    const char *us = "4/5/21, 9:15 PM - Anna: Did you see the harbour?\n"
                     "4/5/21, 9:16 PM - Ben: Yes\n"
                     "4/14/21, 9:03 AM - Anna: Back home now\n"
                     "4/15/21, 8:01 AM - Ben: Good morning\n";
    CHECK_EQ_INT(dialogue_parse(us, strlen(us), &d), 0);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_STR(when(d.u[0].occurred_ms), "2021-04-05T21:15:00.000Z");
    CHECK_EQ_STR(when(d.u[2].occurred_ms), "2021-04-14T09:03:00.000Z");
    dialogue_cleanup(&d);
    const char *plain = "Anna: Hello\nBen: Hi\nAnna: How are you\nBen: Fine\n";
    CHECK_EQ_INT(dialogue_parse(plain, strlen(plain), &d), 0);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(d.u[0].occurred_ms, 0);
    dialogue_cleanup(&d);
}
