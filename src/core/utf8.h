/* UTF-8: decoding, encoding and validation (RFC 3629), the one copy every module uses. */
#ifndef DP_UTF8_H
#define DP_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xfffdu /* U+FFFD, what a broken sequence reads as */

/* Length (1..4) of the well-formed UTF-8 sequence at p[0..n), 0 when there is none there: a
 * stray continuation byte, a bad lead byte (C0, C1, F5..FF), a truncated sequence, an overlong
 * form, a surrogate (U+D800..DFFF) or a code point over U+10FFFF. Its code point goes to *cp
 * (may be NULL). n == 0 returns 0. */
size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* The character at p[0..n) (n > 0) of text that may be broken: its code point and its length in
 * *len, or U+FFFD of length 1 where no well-formed sequence starts (utf8_decode). */
uint32_t utf8_next(const unsigned char *p, size_t n, size_t *len);

/* The code point at p of text already known to be valid UTF-8 (utf8_valid), its byte length in
 * *len; the fast path of word iteration. A NUL byte is U+0000 of length 1. Text that is not valid
 * after all reads as U+FFFD of length 1 where a continuation byte is missing, so a NUL-terminated
 * string is never read past its end. */
static inline uint32_t utf8_get(const unsigned char *p, size_t *len)
{
    if (p[0] < 0x80)
        return *len = 1, p[0];
    if (p[0] >= 0xc0 && (p[1] & 0xc0) == 0x80) {
        if (p[0] < 0xe0)
            return *len = 2, (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
        if ((p[2] & 0xc0) == 0x80) {
            if (p[0] < 0xf0)
                return *len = 3, (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            if ((p[3] & 0xc0) == 0x80)
                return *len = 4, (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                                     (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        }
    }
    return *len = 1, UTF8_REPLACEMENT;
}

/* cp as UTF-8 into out (1..4 bytes, not NUL-terminated); returns the length. A surrogate or a
 * value over U+10FFFF is written as U+FFFD. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int utf8_valid(const char *p, size_t n);

/* The largest length ≤ n at which p (valid UTF-8, p[n] readable: the text is longer than n or
 * ends there with a NUL) can be cut without splitting a character. */
size_t utf8_cut(const char *p, size_t n);

/* Copies src (NUL-terminated valid UTF-8) into dst of cap bytes (cap > 0), NUL-terminated and cut
 * at a character boundary when it does not fit. Returns the bytes copied. */
size_t utf8_copy(char *dst, size_t cap, const char *src);

#endif
