/* Chat export timestamps ("12/03/2021, 14:22", "[3/12/21, 2:22:05 PM]", "2021-03-12 14:22",
 * "12.03.21, 14:22") as times. Whether 03/04 is the 3rd of April or March the 4th is not in one
 * stamp: it is guessed from the file as a whole (chat_stamp_order), since an export is written in
 * one locale. Times are the chat's local wall clock, kept as if UTC (exports carry no zone). */
#ifndef DP_CHAT_TIME_H
#define DP_CHAT_TIME_H

#include <stddef.h>
#include <stdint.h>

enum chat_date_order { CHAT_DMY, CHAT_MDY, CHAT_YMD };

/* One stamp's fields as written: the two date fields before the year (a, b: day and month in an
 * order not known yet) or year-month-day (ymd 1), the time of day on 24 hours. */
struct chat_stamp {
    int ok;
    int ymd;
    int a, b, year;
    int hour, minute, second;
};

/* Reads the stamp in s[0..n) (the prefix of a chat line, "[" and "] " or " - " around it allowed).
 * out->ok 0 when it is not a date and a time. */
void chat_stamp_read(const char *s, size_t n, struct chat_stamp *out);

/* The date order of stamps[0..n): the one under which every day and month is possible (a field
 * over 12 is a day), else the one under which the stamps go forward in time most often (a chat
 * is in order), day first when nothing tells. */
enum chat_date_order chat_stamp_order(const struct chat_stamp *stamps, int n);

/* The stamp as milliseconds since the epoch under order; 0 when it is no valid time then (0 is
 * never a chat's time). */
int64_t chat_stamp_ms(const struct chat_stamp *st, enum chat_date_order order);

#endif
