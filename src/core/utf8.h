/* UTF-8 validation for text from outside (WebSocket text frames, JSON strings, names). */
#ifndef DP_UTF8_H
#define DP_UTF8_H

#include <stddef.h>

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int utf8_valid(const char *p, size_t n);

#endif
