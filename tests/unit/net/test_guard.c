/* Unit tests of the slow-client body meter. */
#include "../test.h"
#include "net/guard.h"

TEST(body_meter_passes_fast_bodies_and_starts_new_windows)
{
    struct body_meter m;
    body_meter_start(&m, 100.0);
    CHECK_EQ_INT(body_meter_add(&m, 10, 100.5, 1000, 2.0), 0);   /* within the grace window */
    CHECK_EQ_INT(body_meter_add(&m, 5000, 102.0, 1000, 2.0), 0); /* 5010 bytes in 2 s: fine */
    CHECK(m.mark == 102.0 && m.bytes == 0);                      /* the next window starts */
    CHECK_EQ_INT(body_meter_add(&m, 10, 104.5, 1000, 2.0), 1);   /* 10 bytes in 2.5 s: too slow */
}

TEST(body_meter_does_not_count_time_the_server_was_not_reading)
{
    struct body_meter m;
    body_meter_start(&m, 0.0);
    body_meter_pause(&m, 9.0);                                  /* a worker wrote a chunk for 9 s */
    CHECK_EQ_INT(body_meter_add(&m, 1500, 10.0, 1000, 2.0), 0); /* 1 s of reading so far */
    CHECK_EQ_INT(body_meter_add(&m, 1000, 11.5, 1000, 2.0), 0); /* 2500 bytes in 2.5 s */
    CHECK_EQ_INT(body_meter_add(&m, 1, 20.0, 0, 2.0), 0);       /* a rate of 0 is no minimum */
}
