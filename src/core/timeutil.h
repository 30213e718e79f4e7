/* Clocks and RFC 3339 times. */
#ifndef DP_TIMEUTIL_H
#define DP_TIMEUTIL_H

#include <stdint.h>

#define RFC3339_LEN 25 /* "2026-11-23T05:03:18.123Z" + NUL */

int64_t time_now_ms(void);    /* wall clock, ms since the epoch */
double time_mono(void);       /* monotonic seconds, for durations */
double time_thread_cpu(void); /* CPU seconds the calling thread has used (what it ran, not what it waited) */
/* Moves both clocks forward by ms for everything that reads them (expiries, back-offs, breakers,
 * due jobs): tests wait for time without sleeping. Process-wide; tests only. */
void time_advance_ms(int64_t ms);
/* Formats ms since the epoch as UTC "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void time_rfc3339(int64_t ms, char out[RFC3339_LEN]);
/* Parses RFC 3339 (Z or ±hh:mm offset, optional fraction); DP_ERR_INVALID on bad input. */
int time_parse_rfc3339(const char *s, int64_t *ms);

#endif
