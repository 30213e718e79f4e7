/* Decimal integers without printf: snprintf("%lld") costs ~1,500 instructions (glibc's positional
 * path), which was a fifth of a chat fan-out delivery's (the frame, the pub/sub message and every
 * integer cell a query returns). */
#ifndef DP_FMT_H
#define DP_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest output of fmt_i64, its NUL included ("-9223372036854775808"). */
#define FMT_I64_MAX 21

/* Writes v in decimal and a NUL at out; returns the digits' length (sign included). */
static inline size_t fmt_i64(char out[FMT_I64_MAX], int64_t v)
{
    char t[FMT_I64_MAX];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    size_t n = 0, o = 0;
    do
        t[n++] = (char)('0' + u % 10);
    while ((u /= 10));
    if (v < 0)
        out[o++] = '-';
    while (n)
        out[o++] = t[--n];
    out[o] = 0;
    return o;
}

#endif
