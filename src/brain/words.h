/* Words as the memory search and the recall brain see them: Unicode-aware word characters and
 * the English function words that say nothing about a topic. */
#ifndef DP_WORDS_H
#define DP_WORDS_H

#include <stddef.h>

/* The code point at p (valid UTF-8 assumed; callers check), its byte length in *len. */
unsigned words_decode(const unsigned char *p, size_t *len);
/* Letters and digits of any script are word characters; punctuation and spaces are not. */
int words_is_word_char(unsigned cp);
/* The next word at or after *p (valid UTF-8): its start in *start, and *p moved past it.
 * Returns its length in bytes, 0 at the end of the text. */
size_t words_next(const unsigned char **p, const unsigned char **start);

/* cp lower-cased and without diacritics, for Latin, Greek and Cyrillic letters ("É" → "e",
 * "Ü" → "u", "Ά" → "α"); other code points as they are. */
unsigned words_fold(unsigned cp);
#define WORDS_KEY_MAX 64 /* bytes of a word key (longer words are cut at a character) */

/* The key a word is indexed and matched by: folded (words_fold) and with one inflection taken
 * off ("planted", "planting", "plants" → "plant"; "named", "name" → "nam"), so that words
 * meet when their keys are equal. Writes up to WORDS_KEY_MAX bytes to out (not NUL-terminated)
 * and returns how many. w[0..len) is one word of valid UTF-8. */
size_t words_key(const unsigned char *w, size_t len, char out[WORDS_KEY_MAX]);

/* 1 when w[0..len) is an English stop word ("the", "did", "you" …), compared case-insensitively. */
int words_is_stop(const char *w, size_t len);

#endif
